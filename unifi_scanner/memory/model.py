"""What a site's runs remember between reports, and the bounds that keep it small.

The memory travels inside the checkpoint file (`state.store`), so it is written in the same atomic
replace as the window's end, only after delivery: a run that fails or is killed remembers nothing it
did not report, and the memory is never ahead of (or behind) the checkpoint.

Worst case, at the bounds below, the memory is about 1 MB of JSON: 2,500 incidents of about 350
bytes (a title of up to 200 characters), 90 report summaries of about 900 bytes and 200 addresses. A
noisy site stays far below that, because resolved incidents are forgotten oldest first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from unifi_scanner.models import Category, Severity, SeverityCounts, UtcDatetime
from unifi_scanner.timeutil import iso_z

MAX_OPEN = 2_000
"""Open incidents remembered, the most recently seen kept: a site with more has bigger problems than
remembering them, and each is about 350 bytes."""
MAX_RESOLVED = 500
"""Resolved incidents remembered (the most recently resolved), so a recurrence says when it last ended."""
MAX_SUMMARIES = 90
"""Delivered reports whose summary the trends keep: three months of daily reports."""
TREND_REPORTS = 30
"""Reports the trends compare with (their median is "the usual") and the chart draws."""
MAX_RULE_VOLUMES = 20
"""Rules whose event counts one summary keeps, the busiest first (about 30 bytes each)."""


class _Stored(BaseModel):
    # A newer minor release may add fields: an older one keeps reading what it knows.
    model_config = ConfigDict(extra="ignore")


class IncidentRecord(_Stored):
    """One incident or finding as the delivered reports knew it, keyed by its stable finding id."""

    rule_id: str
    incident: str | None = None
    title: str = Field(description="The title of its latest report.")
    category: Category
    severity: Severity = Field(description="Its severity in its latest report.")
    subjects: list[str] = Field(
        default_factory=list, description="`device:<mac>`-style ids of what it is about (at most 5).")
    ends: Literal["recovery", "quiet", "routine"] = "quiet"
    open: bool = Field(True, description="Still going on in its latest report.")
    first_seen: UtcDatetime = Field(description="When it began, as first reported.")
    last_seen: UtcDatetime = Field(description="Its latest event or state in a delivered report.")
    reports: int = Field(1, description="Delivered reports that listed it.")
    resolved_at: UtcDatetime | None = Field(None, description="When it was over, once it is.")

    @field_serializer("first_seen", "last_seen", "resolved_at")
    def _iso(self, moment: datetime | None) -> str | None:
        return None if moment is None else iso_z(moment)


class ReportSummary(_Stored):
    """One delivered report in numbers, for the trends."""

    until: UtcDatetime = Field(description="The end of its window.")
    hours: float = Field(description="Its window's length in hours.")
    events: int
    counts: SeverityCounts = Field(default_factory=SeverityCounts)
    categories: dict[str, int] = Field(default_factory=dict, description="Findings per category.")
    event_categories: dict[str, int] = Field(default_factory=dict, description="Events per category.")
    rules: dict[str, int] = Field(default_factory=dict, description="Events per rule, the busiest.")

    @field_serializer("until")
    def _iso(self, moment: datetime) -> str:
        return iso_z(moment)


class Memory(_Stored):
    """Everything a site remembers across runs (the checkpoint's `memory`)."""

    incidents: dict[str, IncidentRecord] = Field(
        default_factory=dict, description=f"Open (≤ {MAX_OPEN}) and resolved (≤ {MAX_RESOLVED}) incidents.")
    reports: list[ReportSummary] = Field(
        default_factory=list, description=f"Summaries of the last {MAX_SUMMARIES} delivered reports.")
    admin_addresses: dict[str, UtcDatetime] = Field(
        default_factory=dict,
        description="Addresses admins logged in from in delivered reports, with their latest login "
                    "(`memory.logins`): a login from any other address is reported as new.")

    @field_serializer("admin_addresses")
    def _iso_each(self, addresses: dict[str, datetime]) -> dict[str, str]:
        return {address: iso_z(moment) for address, moment in addresses.items()}

    @property
    def open_incidents(self) -> list[tuple[str, IncidentRecord]]:
        """The open incidents, most severe then most recently seen first."""
        return sorted(((ident, record) for ident, record in self.incidents.items() if record.open),
                      key=lambda item: (-item[1].severity.rank, -item[1].last_seen.timestamp()))
