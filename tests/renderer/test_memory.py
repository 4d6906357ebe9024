"""The report of a run with an incident memory: NEW and ONGOING on findings, brief and full ongoing,
what was resolved, the comparison with earlier reports; and a report without memory unchanged."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from rich.console import Console

from tests.renderer.factories import (
    BIG_MESSAGE,
    HOSTILE,
    TREND_TEXTS,
    make_finding,
    make_report,
    make_resolved,
    make_trends,
    with_memory,
)
from tests.renderer.test_glance import anchors, attention_block
from unifi_scanner.models import Report, Severity
from unifi_scanner.renderer import HTML_BUDGET, print_terminal, render, render_all
from unifi_scanner.renderer.view import build_view, format_since, ordinal
from unifi_scanner.settings import Settings

BRIEF = Settings(timezone="Europe/Berlin")
FULL = Settings(timezone="Europe/Berlin", ongoing="full")
ONGOING_RAISED = "ONGOING since Jan 21 21:30 (4th report), severity raised from low"
RECURRED = "NEW — happened before, resolved Jan 17 00:30"


def memory_report() -> Report:
    """The realistic report as a run with memory delivers it: finding 0 (severe) and 2 (medium, low in
    the last report) and 5 (low) are ongoing, finding 1 is new again after an earlier occurrence."""
    return with_memory(make_report(), ongoing=[0, 2, 5], previous={2: Severity.LOW}, recurred=[1])


def outputs(report: Report, settings: Settings) -> dict[str, str]:
    """HTML, text and Markdown of `report`; Markdown with its escapes undone, to compare words."""
    rendered = render_all(report, settings)
    markdown = re.sub(r"\\(.)", r"\1", render(report, "md", settings))
    return {"html": rendered.html, "text": rendered.text, "md": markdown}


def section(html: str, heading: str) -> str:
    """The HTML of the card whose <h2> is `heading` (it ends where the next card starts)."""
    start = html.index(f"{heading}</h2>")
    return html[start:html.index('class="card', start)]


def detailed_titles(html: str) -> list[str]:
    """The titles of the findings shown in detail."""
    return re.findall(r'<h3 id="f-[^"]+"[^>]*>([^<]+)</h3>', html)


# ----------------------------------------------------------------------------- statuses


def test_a_new_finding_shows_new_and_when_it_happened_before() -> None:
    report = memory_report()
    out = outputs(report, BRIEF)
    heading = out["html"].index(">Severe finding number 1</h3>")
    card = out["html"][out["html"].rindex('class="finding"', 0, heading):heading]
    assert re.search(r'background-color: #1f3a5f[^>]*>NEW</span>', card)
    assert "Seen Jan 24, 2026 01:37 → Jan 24, 2026 03:37 · happened before, resolved Jan 17 00:30" in out[
        "html"]
    assert "#1 [SEVERE] Severe finding number 1\nConnectivity · 3 events · seen" in out["text"]
    assert f"Status: {RECURRED}\n" in out["text"]
    assert f"**Status:** {RECURRED}\n" in out["md"]
    # A plain new finding says just that.
    assert "#2 [MEDIUM] Medium finding number 3" in out["text"] and "Status: NEW\n" in out["text"]


def test_an_ongoing_finding_says_since_when_and_how_its_severity_changed() -> None:
    report = with_memory(make_report(), ongoing=[2, 5], previous={2: Severity.LOW, 5: Severity.SEVERE})
    out = outputs(report, FULL)
    assert f"Status: {ONGOING_RAISED}\n" in out["text"]
    assert "Status: ONGOING since Jan 21 21:30 (4th report), severity lowered from severe\n" in out["text"]
    assert f"**Status:** {ONGOING_RAISED}" in out["md"]
    html = out["html"]
    assert re.search(r'background-color: #6b7280[^>]*>ONGOING</span>', html)
    assert "· since Jan 21 21:30 (4th report), severity raised from low</p>" in html


def test_needs_attention_gives_every_line_its_status_word() -> None:
    report = memory_report()
    out = outputs(report, BRIEF)
    head = out["text"][out["text"].index("Needs attention:"):out["text"].index("=" * 72)]
    lines = [line.strip() for line in head.splitlines()[1:6]]
    # Most serious first, and within a severity what is new before what goes on.
    assert lines == [
        "[SEVERE] NEW: Severe finding number 1 · Jan 24 01:37–03:37 → #1",
        "[SEVERE] ONGOING: Severe finding number 0 · Jan 24 00:37–02:37 → still going on",
        "[MEDIUM] NEW: Medium finding number 3 · Jan 24 03:37–05:37 → #2",
        "[MEDIUM] NEW: Medium finding number 4 · Jan 24 04:37–06:37 → #3",
        "[MEDIUM] ONGOING: Medium finding number 2 · Jan 24 02:37–04:37 → still going on",
    ]
    block = attention_block(out["html"])
    assert re.findall(r">(NEW|ONGOING)</span>", block) == ["NEW", "ONGOING", "NEW", "NEW", "ONGOING"]
    # Lines without a detail point at the one-line list, which exists.
    links = anchors(block).links
    assert links["#still-going-on"] in ("Severe finding number 0", "Medium finding number 2")
    assert anchors(out["html"]).targets["still-going-on"] == "Still going on"
    assert "- **SEVERE** *NEW* Severe finding number 1 · Jan 24 01:37–03:37 → #1" in out["md"]


def test_status_words_helpers() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"]
    new_year = datetime(2027, 1, 1, 9, tzinfo=UTC)
    assert format_since(datetime(2026, 12, 30, 8, tzinfo=UTC), new_year) == "Dec 30, 2026 08:00"
    assert format_since(datetime(2027, 1, 1, 8, tzinfo=UTC), new_year) == "Jan 1 08:00"


# ----------------------------------------------------------------------------- brief and full


def test_brief_lists_ongoing_findings_in_one_line_each_instead_of_their_detail() -> None:
    report = memory_report()
    out = outputs(report, BRIEF)
    ongoing = ["Severe finding number 0", "Medium finding number 2", "Low finding number 5"]
    assert not set(ongoing) & set(detailed_titles(out["html"]))
    assert len(detailed_titles(out["html"])) == 5
    brief = section(out["html"], "Still going on")
    assert re.findall(r'<td valign="top"[^>]*>([^<]+) <span', brief) == ongoing
    assert "since Jan 21 21:30 (4th report), severity raised from low" in brief
    # Before the findings in detail, and linking nowhere.
    assert out["html"].index("Still going on</h2>") < out["html"].index("Findings</h2>")
    assert "href" not in brief
    assert ("Still going on (explained in earlier reports; UNIFI_ONGOING=full shows them in detail):\n"
            "  [SEVERE] Severe finding number 0 · since Jan 21 21:30 (4th report)\n"
            "  [MEDIUM] Medium finding number 2 · since Jan 21 21:30 (4th report), severity raised from low\n"
            "  [LOW] Low finding number 5 · since Jan 21 21:30 (4th report)\n") in out["text"]
    assert "## Still going on" in out["md"]
    assert f"- **MEDIUM** Medium finding number 2 · {ONGOING_RAISED[8:]}" in out["md"]
    for title in ongoing:
        assert f"] {title}\n" not in out["text"] and f": {title}\n" not in out["md"]


def test_full_shows_ongoing_findings_in_detail_with_their_badge() -> None:
    out = outputs(memory_report(), FULL)
    titles = detailed_titles(out["html"])
    assert titles == ["Severe finding number 1", "Severe finding number 0", "Medium finding number 3",
                      "Medium finding number 4", "Medium finding number 2", "Low finding number 6",
                      "Low finding number 7", "Low finding number 5"]
    assert "Still going on" not in out["html"] + out["text"] + out["md"]
    assert f"Status: {ONGOING_RAISED}\n" in out["text"]
    assert "→ still going on" not in out["text"]


def test_every_finding_ongoing_says_nothing_new_in_the_findings_card() -> None:
    report = with_memory(make_report(), ongoing=range(8))
    out = outputs(report, BRIEF)
    assert "No new finding to show in detail: those still going on are listed above." in out["html"]
    assert "No new finding to show in detail: those still going on are listed above." in out["md"]
    assert detailed_titles(out["html"]) == []


@pytest.mark.parametrize(("ongoing", "brief_lines"), [(range(300), 25), (range(30, 300), 15), (range(0), 0)],
                         ids=["all-ongoing", "most-ongoing", "none-ongoing"])
def test_brief_never_makes_a_report_bigger_and_both_keep_the_email_budget(ongoing: range,
                                                                         brief_lines: int) -> None:
    findings = [make_finding(n, [Severity.SEVERE, Severity.MEDIUM, Severity.LOW][n % 3], samples=30)
                for n in range(300)]
    for finding in findings:
        finding.affected *= 10
    report = with_memory(make_report(findings, devices=200, unknown=100), ongoing=ongoing)
    high = {"detail": "high"}
    brief_settings, full_settings = BRIEF.model_copy(update=high), FULL.model_copy(update=high)
    brief, full = render_all(report, brief_settings), render_all(report, full_settings)
    brief_md, full_md = render(report, "md", brief_settings), render(report, "md", full_settings)
    assert len(brief.html.encode()) <= len(full.html.encode()) <= HTML_BUDGET
    # Brief shows the findings full shows in detail, the ongoing ones among them in one line.
    view = build_view(report, BRIEF)
    assert len(view.ongoing) == brief_lines
    if brief_lines:
        assert len(brief.text) < len(full.text) and len(brief_md) < len(full_md)
    else:
        assert brief.text == full.text and brief_md == full_md
    for settings in (BRIEF, FULL):
        view = build_view(report, settings)
        assert len(view.findings) + len(view.ongoing) == 25
        assert view.folded_more + sum(group.count for group in view.folded) == 275


# ----------------------------------------------------------------------------- resolved


def test_resolved_section_right_after_needs_attention() -> None:
    out = outputs(memory_report(), BRIEF)
    html = out["html"]
    resolved_at = html.index("Resolved since the last report</h2>")
    assert html.index("Needs attention</h2>") < resolved_at < html.index("tile-num")
    resolved = section(html, "Resolved since the last report")
    assert "<strong>Resolved incident number 1</strong> — back online<br>" in resolved
    facts = "severe · open since Jan 21 21:30, in 3 reports · resolved Jan 24 22:30"
    assert facts in resolved
    line = f"- Resolved incident number 1 — back online · {facts}"
    assert f"\n  {line}\n" in out["text"] and f"\n{line}\n" in out["md"]
    text = out["text"]
    assert text.index("Needs attention:") < text.index("Resolved since the last report:") < text.index(
        "Compared with earlier reports")


def test_no_resolved_section_when_nothing_was_resolved() -> None:
    for output in outputs(with_memory(make_report(), resolved=[]), BRIEF).values():
        assert "Resolved since" not in output


def test_resolved_incidents_are_bounded() -> None:
    report = with_memory(make_report(), resolved=[make_resolved(n) for n in range(40)])
    out = outputs(report, BRIEF)
    assert "Resolved incident number 24 " in out["text"] and "Resolved incident number 25 " not in out["text"]
    assert "… and 15 more resolved (the JSON report lists all of them)" in out["html"]
    assert "  - … and 15 more resolved" in out["text"]


def test_a_quiet_day_still_lists_what_was_resolved() -> None:
    resolved = [make_resolved(1, how="no events for 26 hours")]
    report = with_memory(make_report([], first_run=False), resolved=resolved)
    rendered = render_all(report, BRIEF)
    assert rendered.preheader == ("All quiet on default: no findings, 2345 events reviewed. "
                                  "1 resolved since the last report.")
    assert "Resolved incident number 1</strong> — no events for 26 hours" in rendered.html
    assert "All quiet" in rendered.html


# ----------------------------------------------------------------------------- trends


def test_trend_lines_and_a_chart_of_the_last_reports() -> None:
    report = with_memory(make_report(), history=12)
    out = outputs(report, BRIEF)
    trends = section(out["html"], "Compared with earlier reports")
    for line in TREND_TEXTS:
        assert f"<li>{line}</li>" in trends
        assert f"  - {line}\n" in out["text"] and f"- {line}\n" in out["md"]
    assert "the usual is the median of the last 11 reports" in trends
    # One column per report, drawn like the events chart, stacking findings per severity.
    assert len(re.findall(r'<td valign="bottom" height="60"', trends)) == 12
    assert 'bgcolor="#6b7280"' not in trends  # findings have no "other"
    chart = build_view(report, BRIEF).trends.chart
    assert [column.total for column in chart.columns] == [point.counts.total for point in
                                                          report.trends.history]
    tallest = max(chart.columns, key=lambda column: column.total)
    assert sum(segment.height for segment in tallest.segments) == 60
    assert [segment.severity for segment in tallest.segments] == ["severe", "medium", "low"]
    assert "Jan 14, 2026 00:30" in trends and "Jan 25, 2026 00:30" in trends  # axis: first and last report
    assert f"Most findings: {chart.peak}, in the report of {chart.peak_label}." in trends
    spark = re.search(r"Findings per report \(oldest first, this one last\): \|([^|]+)\|", out["text"])[1]
    assert len(spark) == 12
    assert f"`{spark}`" in out["md"]
    assert out["html"].index("Events over time") < out["html"].index("Compared with earlier reports")


def test_trends_without_enough_history_have_no_chart() -> None:
    report = with_memory(make_report(), history=1)
    out = outputs(report, BRIEF)
    trends = section(out["html"], "Compared with earlier reports")
    assert TREND_TEXTS[1] in trends and 'valign="bottom"' not in trends
    assert "Findings per report" not in out["text"] + out["md"]
    report.trends.lines = []
    assert "Compared with earlier reports" not in render(report, "html", BRIEF)


def test_trend_lines_are_bounded() -> None:
    report = with_memory(make_report())
    report.trends = make_trends()
    report.trends.lines *= 8
    view = build_view(report, BRIEF)
    assert len(view.trends.lines) == 10 and view.trends.lines_more == 6


# ----------------------------------------------------------------------------- the same facts everywhere


def test_text_and_markdown_state_the_same_facts_as_the_html() -> None:
    report = memory_report()
    out = outputs(report, BRIEF)
    view = build_view(report, BRIEF)
    facts = [line.title + " · " + line.status.detail for line in view.ongoing]
    facts += [f"{item.title} — {item.how} · {item.facts}" for item in view.resolved]
    facts += [finding.status.text for finding in view.findings]
    facts += view.trends.lines
    for fact in facts:
        assert fact in out["text"], fact
        assert fact in out["md"], fact
    for finding in view.findings:
        assert f"{finding.status.word}</span>" in out["html"]
        assert finding.status.detail in out["html"]


# ----------------------------------------------------------------------------- hostile strings


def hostile_memory_report() -> Report:
    """An ongoing finding and a resolved incident whose controller strings are attacks."""
    ongoing = make_finding(1, Severity.SEVERE, title=HOSTILE)
    report = make_report([ongoing, make_finding(2, Severity.MEDIUM)], site="Site\r\nBcc: x@example.com")
    resolved = [make_resolved(1, title=HOSTILE, how=HOSTILE + " " + BIG_MESSAGE)]
    report = with_memory(report, ongoing=[0], resolved=resolved)
    report.trends.lines[0].text = HOSTILE
    return report


@pytest.mark.parametrize("settings", [BRIEF, FULL], ids=["brief", "full"])
def test_hostile_strings_in_resolved_ongoing_and_trends_are_escaped(settings: Settings) -> None:
    report = hostile_memory_report()
    rendered = render_all(report, settings)
    html = rendered.html
    assert "<script" not in html.lower()
    escaped = "&lt;script&gt;alert('x')&lt;/script&gt;\"quoted\" Bcc: victim@example.com"
    assert html.count(escaped) >= 4  # attention, resolved title and how, ongoing line or detail, trend
    assert "A" * 300 not in html + rendered.text  # `how` is bounded like a title
    assert "\r" not in html + rendered.text
    assert not any(line.lstrip().startswith("Bcc:") for line in rendered.text.splitlines())
    markdown = render(report, "md", settings)
    assert r"\<script\>alert('x')\</script\>" in markdown
    assert not re.search(r"(?<!\\)<", re.sub(r"</?sub>|<br>", "", markdown))
    assert rendered.subject == "[1 new, 1 resolved, 1 severe ongoing] UniFi Report - Jan 25, 2026"
    subject = render_all(report, settings.model_copy(update={"subject_template": "{new_tag}{site}"})).subject
    assert subject == "[1 new, 1 resolved, 1 severe ongoing] Site Bcc: x@example.com"
    assert "\n" not in rendered.preheader and "\r" not in rendered.preheader


# ----------------------------------------------------------------------------- summary line


def test_the_summary_leads_with_what_changed() -> None:
    rendered = render_all(memory_report(), BRIEF)
    assert rendered.preheader == (
        "5 new (1 severe), 3 ongoing (1 changed severity), 2 resolved on default: "
        "2 severe, 3 medium, 3 low findings. Top: Severe finding number 1")
    assert rendered.html.count(rendered.preheader) == 2  # the hidden preheader and the summary card


# ----------------------------------------------------------------------------- without memory


def test_a_report_without_memory_shows_none_of_it() -> None:
    report = make_report()
    assert all(finding.status is None for finding in report.findings)
    assert report.changes is None and report.trends is None and not report.resolved
    for settings in (BRIEF, FULL):
        for output in outputs(report, settings).values():
            for word in ("NEW", "ONGOING", "Still going on", "Resolved since", "Compared with earlier",
                         "Status:", "still-going-on"):
                assert word not in output
    assert render_all(report, BRIEF).preheader.startswith("2 severe, 3 medium, 3 low findings on default.")


# ----------------------------------------------------------------------------- terminal


def test_terminal_shows_statuses_resolved_trends_and_what_goes_on() -> None:
    console = Console(record=True, width=180, file=io.StringIO())
    print_terminal(memory_report(), BRIEF, console)
    out = console.export_text()
    assert re.search(r"SEVERE\s+NEW Severe finding number 1\s+Jan 24 01:37–03:37\s+→ #1", out)
    assert re.search(r"SEVERE\s+ONGOING Severe finding number 0\s+.*→ still going on", out)
    assert "Resolved incident number 1 — back online" in out
    assert "severe · open since Jan 21 21:30, in 3 reports · resolved Jan 24 22:30" in out
    assert TREND_TEXTS[1] in out
    assert "Medium finding number 2 · since Jan 21 21:30 (4th report), severity raised from low" in out
    assert RECURRED in out
    findings = re.search(r"^ +Findings +$", out, re.M).start()
    assert out.index("Resolved since the last report") < out.index("Still going on") < findings
