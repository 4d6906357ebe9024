"""Whether this report goes out: the minimum severity, `UNIFI_SEND_EMPTY` and `UNIFI_NOTIFY`.

Delivery never decides what is new: the run asks here which of the selected channels to use, after
the memory gave the report its statuses. Held back, a report still goes to the file channel (the
archive stays complete) and the checkpoint still moves; the reason goes to the run history.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from unifi_scanner.models import Report, severity_at_least
from unifi_scanner.settings import Settings

ARCHIVE_CHANNELS = frozenset({"file"})
"""Channels that keep a held-back report: they archive, they do not notify anyone."""


class NotifyDecision(BaseModel):
    """The channels to run for this report, and why the others stay silent."""

    channels: set[str] = Field(description="Channels to deliver through (may be empty).")
    held_back: str | None = Field(None, description="Why email and webhooks were not sent, if not.")


def decide(report: Report, settings: Settings, selected: set[str]) -> NotifyDecision:
    """Pick the channels of `selected` this report goes to.

    Nothing at all when no finding (or resolved incident) reaches `UNIFI_MIN_SEVERITY` and empty
    reports are not wanted; only the archive when `UNIFI_NOTIFY` asks for changes or severe findings
    and there are none; every selected channel otherwise. A report without memory (`changes` None)
    is always sent.
    """
    minimum = settings.min_severity
    relevant = any(severity_at_least(item.severity, minimum) for item in [*report.findings, *report.resolved])
    if not relevant and not settings.send_empty:
        return NotifyDecision(channels=set(), held_back=f"no findings at or above {minimum.value}")
    changes = report.changes
    if changes is None or settings.notify == "always":
        return NotifyDecision(channels=set(selected))
    if settings.notify == "changes" and not changes.any:
        reason = "UNIFI_NOTIFY=changes and nothing is new, resolved or of changed severity"
    elif settings.notify == "severe" and not (changes.new_severe or changes.ongoing_severe):
        reason = "UNIFI_NOTIFY=severe and no severe finding is new or still open"
    else:
        return NotifyDecision(channels=set(selected))
    return NotifyDecision(channels=set(selected) & ARCHIVE_CHANNELS, held_back=reason)
