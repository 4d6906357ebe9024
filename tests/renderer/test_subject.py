"""The subject with an incident memory: `{new_tag}` leads with what is new, resolved or still severe,
and `{new}`, `{new_severe}` and `{resolved}` count it; without a memory it falls back to today's."""

from __future__ import annotations

import pytest

from tests.renderer.factories import make_finding, make_report, with_memory
from unifi_scanner.models import Changes, Report, Severity
from unifi_scanner.renderer import render_subject
from unifi_scanner.settings import Settings

DEFAULT = Settings(timezone="Europe/Berlin")


def changed(**counts: int) -> Report:
    """The realistic report (2 severe, 3 medium, 3 low) with these changes since the last report."""
    report = make_report()
    report.changes = Changes(**counts)
    return report


@pytest.mark.parametrize(("counts", "subject"), [
    ({"new": 4, "new_severe": 1, "resolved": 1, "ongoing": 4},
     "[1 NEW SEVERE, 3 new, 1 resolved] UniFi Report - Jan 25, 2026"),
    ({"new": 2, "new_severe": 2}, "[2 NEW SEVERE] UniFi Report - Jan 25, 2026"),
    ({"new": 3, "ongoing": 5, "ongoing_severe": 2}, "[3 new, 2 severe ongoing] UniFi Report - Jan 25, 2026"),
    ({"resolved": 2, "ongoing": 8}, "[2 resolved] UniFi Report - Jan 25, 2026"),
    ({"ongoing": 8, "ongoing_severe": 2, "severity_changed": 1},
     "[2 severe ongoing] UniFi Report - Jan 25, 2026"),
    ({"ongoing": 8}, "UniFi Report - Jan 25, 2026"),
    ({}, "UniFi Report - Jan 25, 2026"),
], ids=["new-severe-new-resolved", "new-severe", "new-not-severe-ongoing", "resolved", "severe-ongoing",
        "ongoing", "quiet"])
def test_new_tag_leads_with_what_changed(counts: dict[str, int], subject: str) -> None:
    assert render_subject(changed(**counts), DEFAULT) == subject


def test_without_memory_new_tag_is_the_severe_tag() -> None:
    report = make_report()
    assert report.changes is None
    assert render_subject(report, DEFAULT) == "[2 SEVERE] UniFi Report - Jan 25, 2026"
    low = make_report([make_finding(1, Severity.LOW)])
    assert render_subject(low, DEFAULT) == "UniFi Report - Jan 25, 2026"


def test_count_variables_with_and_without_memory() -> None:
    settings = Settings(subject_template="{new} new ({new_severe} severe), {resolved} resolved, {total} open")
    report = with_memory(make_report(), ongoing=[0, 2])
    assert render_subject(report, settings) == "6 new (1 severe), 2 resolved, 8 open"
    # Without a memory every finding counts as new and nothing as resolved.
    assert render_subject(make_report(), settings) == "8 new (2 severe), 0 resolved, 8 open"


def test_the_subject_stays_one_line_with_changes_and_a_hostile_site() -> None:
    report = changed(new=1, new_severe=1, resolved=1)
    report.site = "HQ\r\nBcc: victim@example.com\x1b[31m"
    subject = render_subject(report, Settings(subject_template="{new_tag}{site}: {new}/{resolved}"))
    assert subject == "[1 NEW SEVERE, 1 resolved] HQ Bcc: victim@example.com [31m: 1/1"
