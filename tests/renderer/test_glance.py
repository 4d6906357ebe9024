"""The report reads at a glance: what needs attention first, at most DETAIL_MAX findings in detail, the
rest counted per rule, and each incident's timeline in the display timezone."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from rich.console import Console

from tests.renderer.factories import BIG_MESSAGE, HOSTILE, make_finding, make_report
from unifi_scanner.models import Finding, Report, Severity, TimelineEntry
from unifi_scanner.renderer import print_terminal, render, render_all
from unifi_scanner.renderer.view import DETAIL_MAX, LIMITS, build_view
from unifi_scanner.settings import Settings


class Anchors(HTMLParser):
    """Collects the needs-attention links (href → link text) and the text of every element with an id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: dict[str, str] = {}
        self.targets: dict[str, str] = {}
        self._open: list[tuple[str, str, dict[str, str]]] = []  # (tag, text so far, attributes)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "a" or "id" in attributes:
            self._open.append((tag, "", attributes))

    def handle_data(self, data):
        self._open = [(tag, text + data, attributes) for tag, text, attributes in self._open]

    def handle_endtag(self, tag):
        if self._open and self._open[-1][0] == tag:
            _, text, attributes = self._open.pop()
            if tag == "a":
                self.links[attributes["href"]] = text
            if "id" in attributes:
                self.targets[attributes["id"]] = text


def anchors(html: str) -> Anchors:
    """Parse `html` for links and link targets."""
    parser = Anchors()
    parser.feed(html)
    parser.close()
    return parser


def attention_block(html: str) -> str:
    """The HTML of the needs-attention card (it ends where the next card starts)."""
    start = html.index("Needs attention</h2>")
    return html[start:html.index('class="card', start)]


def mixed_findings() -> list[Finding]:
    """Low, medium and severe findings, interleaved so that the report's order is not the display order."""
    severities = [Severity.LOW, Severity.MEDIUM, Severity.SEVERE, Severity.LOW, Severity.MEDIUM,
                  Severity.LOW, Severity.SEVERE]
    return [make_finding(index, severity) for index, severity in enumerate(severities)]


def forty_findings() -> list[Finding]:
    """5 severe, 10 medium and 25 low findings, the severe ones last in the report's order.

    The low ones: 10 of assorted rules, then 8 of `firmware_upgradable` whose titles name their device,
    and 7 of `wifi_interference` that all share one title.
    """
    low = [make_finding(index, Severity.LOW, timeline=0) for index in range(10)]
    low += [make_finding(10 + n, Severity.LOW, rule_id="firmware_upgradable", timeline=0,
                         title=f"Firmware update available for Switch {n}") for n in range(8)]
    low += [make_finding(20 + n, Severity.LOW, rule_id="wifi_interference", timeline=0,
                         title="Channel interference on 5 GHz") for n in range(7)]
    medium = [make_finding(30 + n, Severity.MEDIUM) for n in range(10)]
    severe = [make_finding(40 + n, Severity.SEVERE) for n in range(5)]
    return medium[:5] + low + medium[5:] + severe


# ----------------------------------------------------------------------------- needs attention


def test_needs_attention_lists_exactly_severe_and_medium_with_working_anchors(settings: Settings) -> None:
    report = make_report(mixed_findings())
    html = render(report, "html", settings)
    block = attention_block(html)
    serious = [finding for finding in report.findings if finding.severity is not Severity.LOW]
    found = anchors(html)
    links = anchors(block).links
    assert links == {f"#f-{finding.id}": finding.title for finding in serious}
    for href, title in links.items():
        assert found.targets[href[1:]] == title  # the target exists and is that finding's heading
    # Most serious first, and each line says when in the display timezone (00:37 UTC+1 is 01:37).
    titles = [title for title in re.findall(r'<a href="#f-[^"]+"[^>]*>([^<]+)</a>', block)]
    assert titles == ["Severe finding number 2", "Severe finding number 6",
                      "Medium finding number 1", "Medium finding number 4"]
    assert "Jan 24 02:37–04:37" in block
    assert html.index("Needs attention</h2>") < html.index("Findings</h2>")


def test_needs_attention_in_text_points_at_the_detail_number(settings: Settings) -> None:
    text = render(make_report(mixed_findings()), "text", settings)
    head = text[:text.index("=" * 72)]
    lines = [line.strip() for line in head[head.index("Needs attention:"):].splitlines()[1:5]]
    assert lines == [
        "[SEVERE] Severe finding number 2 · Jan 24 02:37–04:37 → #1",
        "[SEVERE] Severe finding number 6 · Jan 24 06:37–08:37 → #2",
        "[MEDIUM] Medium finding number 1 · Jan 24 01:37–03:37 → #3",
        "[MEDIUM] Medium finding number 4 · Jan 24 04:37–06:37 → #4",
    ]
    assert "Low finding" not in head
    assert "\n#3 [MEDIUM] Medium finding number 1\n" in text


def test_nothing_needs_attention_without_severe_or_medium_findings(settings: Settings) -> None:
    report = make_report([make_finding(1, Severity.LOW), make_finding(2, Severity.LOW)])
    rendered = render_all(report, settings)
    for output in (rendered.html, rendered.text, render(report, "md", settings)):
        assert output.count("Nothing needs attention") == 1
        assert "Needs attention" not in output
    assert 'href="#' not in rendered.html


def test_terminal_shows_what_needs_attention(settings: Settings) -> None:
    console = Console(record=True, width=160, file=io.StringIO())
    print_terminal(make_report(mixed_findings()), settings, console)
    out = console.export_text()
    attention = out[out.index("Needs attention"):out.index("Findings")]
    assert re.search(r"SEVERE\s+Severe finding number 2\s+Jan 24 02:37–04:37\s+→ #1", attention)
    assert re.search(r"MEDIUM\s+Medium finding number 4\s+Jan 24 04:37–06:37\s+→ #4", attention)
    assert "Low finding" not in attention


# ----------------------------------------------------------------------------- at most DETAIL_MAX in detail


def test_forty_findings_show_twenty_five_in_detail_and_fold_the_rest(settings: Settings) -> None:
    assert DETAIL_MAX == 25 and LIMITS[0].findings == DETAIL_MAX
    report = make_report(forty_findings())
    rendered = render_all(report, settings)
    html, text = rendered.html, rendered.text
    detailed = re.findall(r'<h3 id="f-([^"]+)"', html)
    assert len(detailed) == 25
    assert len(re.findall(r"^#\d+ \[", text, re.M)) == 25
    # All 15 severe and medium findings, then the first 10 low ones in the report's order.
    lows = [finding for finding in report.findings if finding.severity is Severity.LOW]
    expected = [finding.id for finding in report.findings if finding.severity is Severity.SEVERE]
    expected += [finding.id for finding in report.findings if finding.severity is Severity.MEDIUM]
    assert detailed == expected + [finding.id for finding in lows[:10]]
    # The other 15 are one count per rule, labelled by a title they share or else by the rule id.
    folded = ["8 × Firmware upgradable (firmware_upgradable, low)",
              "7 × Channel interference on 5 GHz (wifi_interference, low)"]
    assert f"Also seen, not shown in detail: {', '.join(folded)}." in " ".join(text.split())
    section = html[html.index("Also seen, not shown in detail"):]
    assert re.findall(r"<li[^>]*>([^<]+)</li>", section)[:3] == folded
    assert "Firmware update available for Switch" not in html + text
    # The JSON keeps every finding, unchanged.
    assert Report.model_validate_json(rendered.json_text) == report
    assert len(json.loads(rendered.json_text)["findings"]) == 40


def test_severe_and_medium_are_never_folded_before_low(settings: Settings) -> None:
    medium = [make_finding(n, Severity.MEDIUM, rule_id="device_lost_contact") for n in range(20)]
    low = [make_finding(20 + n, Severity.LOW) for n in range(10)]
    severe = [make_finding(30 + n, Severity.SEVERE) for n in range(8)]
    report = make_report(low + medium + severe)
    view = build_view(report, settings)
    assert [finding.severity for finding in view.findings] == ["severe"] * 8 + ["medium"] * 17
    assert [(group.severity, group.count) for group in view.folded] == [("medium", 3)] + [("low", 1)] * 10
    # Every serious finding is still listed; those folded have no detail to point at.
    text = render(report, "text", settings)
    assert len(re.findall(r"^  \[(SEVERE|MEDIUM)\]", text, re.M)) == 28
    assert text.count("(not shown in detail)") == 3
    # The email may show fewer in detail to fit its size budget: then more lines lose their link.
    html = render(report, "html", settings)
    block = attention_block(html)
    assert len(re.findall(r'<span class="badge"', block)) == 28
    assert set(anchors(block).links) == {f"#f-{target}" for target in re.findall(r'<h3 id="f-([^"]+)"', html)}
    assert "Low finding" not in "".join(re.findall(r"<h3[^>]*>[^<]*", html))


def test_the_email_budget_lowers_the_detail_count_but_keeps_the_attention_list(settings: Settings) -> None:
    findings = [make_finding(n, Severity.MEDIUM if n < 12 else Severity.LOW, samples=30) for n in range(60)]
    for finding in findings:
        finding.affected *= 30
        finding.explanation *= 8
    report = make_report(findings)
    html = render(report, "html", settings.model_copy(update={"detail": "high"}))
    assert len(html.encode()) < 100_000
    shown = len(re.findall(r'<h3 id="f-', html))
    assert shown < DETAIL_MAX and shown in {limits.findings for limits in LIMITS}
    assert len(re.findall(r'<span class="badge"', attention_block(html))) == 12


# ----------------------------------------------------------------------------- timelines


def winter_incident(text: str = "Gateway lost its WAN link", entries: int = 3) -> Finding:
    """A severe finding whose timeline starts at 09:00 UTC on a January day, one entry a minute."""
    finding = make_finding(1, Severity.SEVERE, title="Internet connection (WAN) went down")
    start = datetime(2026, 1, 24, 9, 0, tzinfo=UTC)
    finding.timeline = [TimelineEntry(time=start + timedelta(minutes=n), text=f"{text} {n}")
                        for n in range(entries)]
    return finding


def test_timeline_entries_are_in_the_display_timezone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNIFI_TIMEZONE", "Europe/Berlin")
    settings = Settings()
    report = make_report([winter_incident()])
    rendered = render_all(report, settings)
    assert re.search(r'<li><span class="when"[^>]*>Jan 24 10:00</span> Gateway lost its WAN link 0</li>',
                     rendered.html)
    explanation = rendered.html.index(report.findings[0].explanation)
    assert explanation < rendered.html.index("Jan 24 10:01") < rendered.html.index("What to do")
    assert "Timeline:\n  Jan 24 10:00  Gateway lost its WAN link 0\n  Jan 24 10:01" in rendered.text
    assert "09:00" not in rendered.text
    assert "- Jan 24 10:02: Gateway lost its WAN link 2" in render(report, "md", settings)
    console = Console(record=True, width=160, file=io.StringIO())
    print_terminal(report, settings, console)
    assert "Jan 24 10:00  Gateway lost its WAN link 0" in console.export_text()


def test_timelines_are_bounded_by_the_limits_level(settings: Settings) -> None:
    report = make_report([winter_incident(entries=20)])
    text = render(report, "text", settings)
    assert "Gateway lost its WAN link 11" in text and "Gateway lost its WAN link 12" not in text
    assert "  … and 8 more\n" in text
    smallest = build_view(report, settings, LIMITS[-1]).findings[0]
    assert len(smallest.timeline) == LIMITS[-1].timeline < LIMITS[0].timeline
    assert smallest.timeline_more == 20 - LIMITS[-1].timeline


def test_hostile_timeline_text_is_escaped(settings: Settings) -> None:
    finding = winter_incident(text=HOSTILE)
    finding.timeline.append(TimelineEntry(time=finding.first_seen, text=BIG_MESSAGE))
    finding.rule_ids = ["<b>rule</b>"]
    report = make_report([finding])
    rendered = render_all(report, settings)
    assert "<script" not in rendered.html.lower() and "<b>rule" not in rendered.html
    assert "&lt;script&gt;alert('x')&lt;/script&gt;\"quoted\" Bcc: victim@example.com 0" in rendered.html
    assert "from &lt;b&gt;rule&lt;/b&gt;" in rendered.html
    assert "A" * 400 not in rendered.html + rendered.text
    assert not any(line.startswith("Bcc:") for line in rendered.text.splitlines())
    assert r"\<script\>alert('x')\</script\>" in render(report, "md", settings)
