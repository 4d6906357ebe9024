"""The chat summary of a report from a run with an incident memory: it leads with what changed and
marks new findings; without a memory it reads as before. A report that covers several sites says how
many failed and names each finding's site. Its link is the local report, or a URL into the archive
served at UNIFI_REPORT_BASE_URL."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from unittest.mock import patch

import pytest
import responses

from tests.delivery.factories import GENERATED, finding, make_rendered, make_report, make_settings
from unifi_scanner.delivery import deliver
from unifi_scanner.delivery import summary as summary_module
from unifi_scanner.delivery.files import write_reports
from unifi_scanner.delivery.summary import build_summary, report_link
from unifi_scanner.models import Affected, Changes, FindingStatus, Severity, SeverityCounts, SiteOverview
from unifi_scanner.renderer.view import SITES_MAX

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


# ----------------------------------------------------------------------------- several sites


def merged(error: str = "login refused", branch: str = "hq/branch"):
    """Three sites on two controllers in one report: two reported, and shop's controller refused the
    login; the findings name their site."""
    findings = [finding(1, Severity.MEDIUM, title="Port 7 flapping"),
                finding(2, Severity.SEVERE, title="Switch X is offline"),
                finding(3, Severity.LOW, title="Firmware update available")]
    for item, label in zip(findings, ("hq/default", branch, "hq/default"), strict=True):
        item.site = label
    sites = [
        SiteOverview(controller="hq", site="default", label="hq/default",
                     counts=SeverityCounts(medium=1, low=1), new=2, worst="Port 7 flapping",
                     worst_severity=Severity.MEDIUM),
        SiteOverview(controller="hq", site="branch", label=branch, counts=SeverityCounts(severe=1), new=1,
                     worst="Switch X is offline", worst_severity=Severity.SEVERE),
        SiteOverview(controller="shop", site="default", label="shop", error=error),
    ]
    return make_report(site="3 sites on 2 controllers", findings=findings, sites=sites, controller_name="hq")


def test_a_report_of_several_sites_names_the_failed_ones_and_each_findings_site(tmp_path):
    report = merged()
    summary = build_summary(report, make_rendered(report), make_settings(tmp_path), [])
    assert summary.headline == ("1 severe, 1 medium, 1 low (3 findings from 42 events) "
                                "on 3 sites on 2 controllers")
    assert summary.lines() == [
        "3 sites, 1 failed: shop (login refused)",
        "[SEVERE] hq/branch: Switch X is offline",
        "[MEDIUM] hq/default: Port 7 flapping",
        "[LOW] hq/default: Firmware update available",
    ]
    assert summary.as_text().splitlines()[1] == "- 3 sites, 1 failed: shop (login refused)"
    payload = summary.as_dict()
    assert (payload["controller"], payload["site"]) == ("hq", "3 sites on 2 controllers")
    # The failed site first, then the most severe, as in the report's overview.
    assert payload["sites"] == [
        {"label": "shop", "counts": {"severe": 0, "medium": 0, "low": 0, "total": 0}, "new": 0,
         "error": "login refused"},
        {"label": "hq/branch", "counts": {"severe": 1, "medium": 0, "low": 0, "total": 1}, "new": 1,
         "error": None},
        {"label": "hq/default", "counts": {"severe": 0, "medium": 1, "low": 1, "total": 2}, "new": 2,
         "error": None},
    ]
    assert payload["more_sites"] == 0
    assert [item["site"] for item in payload["top_findings"]] == ["hq/branch", "hq/default", "hq/default"]


def test_a_single_site_summary_has_its_controller_and_no_sites(tmp_path):
    report = make_report(site="HQ", controller_name="main")
    payload = build_summary(report, make_rendered(report), make_settings(tmp_path), []).as_dict()
    assert (payload["controller"], payload["site"]) == ("main", "HQ")
    assert "sites" not in payload
    assert [item["site"] for item in payload["top_findings"]] == [None, None]


def test_redaction_masks_addresses_in_site_labels_errors_and_the_controller(tmp_path):
    report = merged(error="unreachable: 192.168.1.1:8443 timed out\r\nagain", branch="10.0.0.5/branch")
    report.controller_name = "udm-192.168.7.1"
    summary = build_summary(report, make_rendered(report), make_settings(tmp_path, webhook_redact=True), [])
    assert summary.lines()[:2] == ["3 sites, 1 failed: shop (unreachable: [IP]:8443 timed out again)",
                                   "[SEVERE] [IP]/branch: Switch X is offline"]
    payload = json.dumps(summary.as_dict())
    for address in ("192.168.1.1", "10.0.0.5", "192.168.7.1"):
        assert address not in payload and address not in summary.as_text()
    assert summary.as_dict()["sites"][0]["error"] == "unreachable: [IP]:8443 timed out again"


def test_the_sites_of_the_payload_are_bounded_failed_first(tmp_path):
    sites = [SiteOverview(controller=f"c{n}", site="default", label=f"c{n}/default",
                          error="login refused" if n % 50 == 49 else None) for n in range(250)]
    report = make_report(site="250 sites on 250 controllers", findings=[], sites=sites)
    summary = build_summary(report, make_rendered(report), make_settings(tmp_path), [])
    payload = summary.as_dict()
    assert len(payload["sites"]) == SITES_MAX and payload["more_sites"] == 250 - SITES_MAX
    failed = [f"c{n}/default" for n in (49, 99, 149, 199, 249)]
    assert [site["label"] for site in payload["sites"][:5]] == failed
    assert summary.lines() == ["250 sites, 5 failed: c49/default (login refused), "
                               "c99/default (login refused), c149/default (login refused) and 2 more"]


@responses.activate
def test_slack_gets_the_sites_line_and_the_site_of_each_finding(tmp_path):
    responses.post(SLACK, body="ok")
    report = merged()
    settings = make_settings(tmp_path, file_enabled=False, slack_webhook_url=SLACK)
    assert deliver(report, make_rendered(report), settings).ok
    section = json.loads(responses.calls[0].request.body)["blocks"][1]["text"]["text"]
    assert "• 3 sites, 1 failed: shop (login refused)\n• [SEVERE] hq/branch: Switch X is offline" in section


def test_the_link_is_the_local_path_without_a_base_url(tmp_path):
    report = make_report(site="HQ")
    rendered = make_rendered(report)
    written = write_reports(report, rendered, tmp_path, ("text", "json"))
    assert build_summary(report, rendered, make_settings(tmp_path), written).link == str(written[0])
    assert build_summary(report, rendered, make_settings(tmp_path / "empty"), []).link is None


@pytest.mark.parametrize("base", ["https://reports.example/unifi", "https://reports.example/unifi/"])
def test_with_a_base_url_the_link_points_into_the_served_archive(tmp_path, base):
    report = make_report(site="Büro HQ")
    rendered = make_rendered(report)
    written = write_reports(report, rendered, tmp_path, ("html", "json"))
    settings = make_settings(tmp_path, report_base_url=base)
    url = "https://reports.example/unifi/unifi-report-Buro_HQ-20261122T060000Z.html"
    summary = build_summary(report, rendered, settings, written)
    assert summary.link == url and summary.as_text().endswith(f"Full report: {url}")
    # Without a local copy (the file channel off, the report uploaded) the link still names its HTML.
    elsewhere = make_settings(tmp_path / "empty", report_base_url=base)
    assert build_summary(report, rendered, elsewhere, []).link == url


def test_the_link_under_a_base_url_is_quoted():
    report = make_report()
    with patch.object(summary_module, "report_filename", return_value="a b#c?.html"):
        settings = make_settings(Path("/nonexistent"), report_base_url="https://x.example/r")
        link = report_link(report, settings, [])
    assert link == "https://x.example/r/a%20b%23c%3F.html"


def test_with_uploads_the_base_url_link_points_into_the_upload_layout(tmp_path):
    report = make_report(site="HQ")
    settings = make_settings(tmp_path, report_base_url="https://reports.example.net/unifi/",
                             upload_urls="s3://bucket/unifi/")
    link = report_link(report, settings, [])
    assert link == ("https://reports.example.net/unifi/HQ/2026/11/"
                    "unifi-report-HQ-20261122T060000Z.html")
