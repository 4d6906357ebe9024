"""The chat summary of a report from a run with an incident memory: it leads with what changed and
marks new findings; without a memory it reads as before."""

from __future__ import annotations

import json
from datetime import timedelta

import responses

from tests.delivery.factories import GENERATED, finding, make_rendered, make_report, make_settings
from unifi_scanner.delivery import deliver
from unifi_scanner.delivery.summary import build_summary
from unifi_scanner.models import Affected, Changes, FindingStatus, Severity

SLACK = "https://hooks.slack.example/services/T000/B000/SLACKSECRETPATH"


def remembered():
    """A severe ongoing finding, a new severe one about an address, a new medium and a new low one."""
    findings = [
        finding(1, Severity.SEVERE, title="Gateway overheating"),
        finding(2, Severity.SEVERE, title="Intrusion from 203.0.113.9",
                affected=[Affected(kind="client", id="aa:bb:cc:dd:ee:ff", name="laptop")]),
        finding(3, Severity.MEDIUM),
        finding(4, Severity.LOW),
    ]
    findings[0].status = FindingStatus(kind="ongoing", since=GENERATED - timedelta(days=2), report=3)
    for item in findings[1:]:
        item.status = FindingStatus(kind="new", since=item.first_seen)
    changes = Changes(new=3, new_severe=1, ongoing=1, ongoing_severe=1, resolved=2)
    return make_report(site="HQ", findings=findings, changes=changes)


def test_the_headline_leads_with_what_changed_and_new_findings_are_marked(tmp_path):
    report = remembered()
    summary = build_summary(report, make_rendered(report), make_settings(tmp_path), [])
    assert summary.headline == ("3 new (1 severe), 1 ongoing, 2 resolved · 2 severe, 1 medium, 1 low "
                                "(4 findings from 42 events) on HQ")
    # The new severe finding first, as in the report; only new findings are marked.
    assert summary.lines() == [
        "[SEVERE] NEW: Intrusion from 203.0.113.9 (laptop (aa:bb:cc:dd:ee:ff))",
        "[SEVERE] Gateway overheating",
        "[MEDIUM] NEW: Finding 3",
        "[LOW] NEW: Finding 4",
    ]
    payload = summary.as_dict()
    assert payload["changes"] == {"new": 3, "new_severe": 1, "ongoing": 1, "ongoing_severe": 1, "resolved": 2,
                                  "severity_changed": 0, "first_report": False}
    assert [item["status"] for item in payload["top_findings"]] == ["new", "ongoing", "new", "new"]


def test_redaction_still_masks_addresses_in_marked_lines(tmp_path):
    report = remembered()
    summary = build_summary(report, make_rendered(report), make_settings(tmp_path, webhook_redact=True), [])
    assert summary.lines()[0] == "[SEVERE] NEW: Intrusion from [IP] (laptop ([MAC]))"
    assert "203.0.113.9" not in json.dumps(summary.as_dict())


def test_a_quiet_report_says_what_was_resolved(tmp_path):
    report = make_report(site="HQ", findings=[], changes=Changes(resolved=1))
    summary = build_summary(report, make_rendered(report), make_settings(tmp_path), [])
    assert summary.headline == "All quiet on HQ: no findings from 42 events; 1 resolved since the last report"


def test_without_memory_the_summary_reads_as_before(tmp_path):
    report = make_report(site="HQ")
    summary = build_summary(report, make_rendered(report), make_settings(tmp_path), [])
    assert summary.headline == "1 severe, 1 medium, 0 low (2 findings from 42 events) on HQ"
    assert summary.lines() == ["[SEVERE] Finding 1", "[MEDIUM] Finding 2"]
    assert summary.as_dict()["changes"] is None


@responses.activate
def test_slack_gets_the_changes_and_the_marks(tmp_path):
    responses.post(SLACK, body="ok")
    report = remembered()
    settings = make_settings(tmp_path, file_enabled=False, slack_webhook_url=SLACK)
    assert deliver(report, make_rendered(report), settings).ok
    body = json.loads(responses.calls[0].request.body)
    section = body["blocks"][1]["text"]["text"]
    assert section.startswith("*3 new (1 severe), 1 ongoing, 2 resolved · 2 severe")
    assert "• [SEVERE] NEW: Intrusion from 203.0.113.9" in section
