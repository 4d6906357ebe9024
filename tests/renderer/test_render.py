"""The renderer's outputs: email-safe HTML, text, Markdown, JSON, subject, detail levels, hostile input."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from rich.console import Console

from tests.renderer.factories import BIG_MESSAGE, HOSTILE, SINCE, UNTIL, make_finding, make_report
from unifi_scanner.errors import ConfigError
from unifi_scanner.models import (
    Affected,
    HourBucket,
    Report,
    Severity,
    SourceOutcome,
    SourceStatus,
    UnknownEvent,
    Window,
)
from unifi_scanner.renderer import print_terminal, render, render_all, render_subject
from unifi_scanner.renderer.templating import ResourceLoader, escape_markdown, template_dir
from unifi_scanner.renderer.view import build_timeline, clean
from unifi_scanner.settings import Settings

NON_ASCII = "Büro-AP ☕ 東京 Ωmega"


def hostile_report() -> Report:
    """Every controller-provided string is an attack: markup, quotes, header injection, 1 MB, non-ASCII."""
    finding = make_finding(1, Severity.SEVERE, title=HOSTILE, affected_name=NON_ASCII)
    finding.explanation = HOSTILE + " " + BIG_MESSAGE
    finding.remediation.append("Click [here](javascript:alert(1)) | ![x](http://evil/x.png) *bold*")
    finding.affected.append(Affected(kind="client", id="de:ad:be:ef:00:01", name=HOSTILE))
    finding.samples[0].message = BIG_MESSAGE
    finding.samples[1].message = HOSTILE
    finding.details["ssid"] = HOSTILE
    report = make_report([finding, make_finding(2, Severity.LOW, affected_name=NON_ASCII)],
                         site="Site\r\nX-Injected: 1 <b>")
    report.device_health[0].name = HOSTILE
    report.device_health[1].name = "[bold red]rich markup[/]"
    report.unknown_events.append(UnknownEvent(key="<img src=x onerror=alert(1)>", count=3,
                                              sample_message=BIG_MESSAGE))
    report.notes.append(HOSTILE)
    report.sources.append(SourceOutcome(name="threats", status=SourceStatus.TRUNCATED, detail=HOSTILE))
    report.controller.name = HOSTILE
    return report


# ----------------------------------------------------------------------------- HTML for email clients


def test_html_is_email_safe(report: Report, settings: Settings) -> None:
    html = render(report, "html", settings)
    lowered = html.lower()
    assert "<script" not in lowered and "<svg" not in lowered
    assert "data:" not in lowered and "<img" not in lowered and "<link" not in lowered
    assert "@import" not in lowered and "url(" not in lowered
    assert len(html.encode()) < 100_000
    # The template's one <style> block was inlined; only the media queries stay in <head>.
    assert lowered.count("<style") == 1
    style_block = re.search(r"<style>(.*?)</style>", html, re.S)[1]
    assert "@media (prefers-color-scheme: dark)" in style_block
    assert ".card {" not in style_block.split("@media")[0]
    assert 'class="card wrap" bgcolor="#ffffff" style="background-color: #ffffff;' in html
    assert "overflow-wrap: anywhere" in html
    # Hidden preheader first in the body, carrying the summary, padded against preview leaks.
    body = html[html.index("<body"):]
    preheader = re.search(r'<div class="preheader" style="([^"]*)">([^<]*)</div>', body)
    assert preheader and body.index('class="preheader"') < body.index("<table")
    for rule in ("display: none", "max-height: 0", "overflow: hidden", "mso-hide: all"):
        assert rule in preheader[1]
    assert preheader[2].startswith("2 severe, 3 medium, 3 low findings on default.")
    assert "&nbsp;\u200c&nbsp;" in preheader[2] or "&nbsp;&zwnj;" in preheader[2]


def test_html_header_states_window_first_run_notes_and_missing_sources(report: Report,
                                                                        settings: Settings) -> None:
    html = render(report, "html", settings)
    assert "Jan 24, 2026 00:30 – Jan 25, 2026 00:30 CET (Europe/Berlin)" in html
    assert "this report looks back 24 hours" in html
    assert "IPS signatures are not available from this controller" in html
    assert "does not provide the legacy IPS/threat list (404 on Network 9)" in html
    assert "Reading the alarm list failed (HTTP 500)" in html
    assert "legacy event list" not in html  # unsupported, but its stand-in (the v2 log) worked
    assert "rogue_aps" not in html  # empty is a normal outcome, not a gap
    assert "system_log: ok" not in html


def test_html_findings_carry_label_colour_and_facts(report: Report, settings: Settings) -> None:
    html = render(report, "html", settings)
    for finding in report.findings:
        assert finding.title in html
    # Severity is a coloured cell and a text label, never colour alone.
    assert re.search(r'style="[^"]*background-color: #c5221f"[^>]*>SEVERE</span>', html)
    assert re.search(r'style="[^"]*background-color: #1a5fb4"[^>]*>LOW</span>', html)
    assert "Office AP (f0:9f:c2:00:00:00) · device" in html
    assert "Check the PoE switch port and the cable to the access point." in html
    assert "Seen Jan 24, 2026 00:37 → Jan 24, 2026 02:37" in html
    assert "Connectivity · 2 events" in html


def test_html_timeline_and_device_health(report: Report, settings: Settings) -> None:
    html = render(report, "html", settings)
    chart = html[html.index("Events over time"):html.index("Findings</h2>")]
    assert len(re.findall(r'<td valign="bottom" height="60"', chart)) == 25
    for colour in ("#c5221f", "#b35900", "#1a5fb4", "#6b7280"):
        assert f'bgcolor="{colour}"' in chart
    assert "Severe 24" in chart and "Other 748" in chart
    health = html[html.index("Device health"):]
    assert "1 of 7 devices need attention" in health
    # The problem device comes first, with its problems and the firmware upgrade.
    assert health.index("Office AP") < health.index("Switch 0")
    assert "Disconnected since 14:02" in health and "upgrade to 6.6.77" in health
    assert "CPU 12%, mem 40%, 48 °C" in health
    other = html[html.index("Other events"):]
    assert "EVT_SW_Unknown_0" in other and "Something odd 0" in other


def test_big_report_stays_under_gmail_clipping(settings: Settings) -> None:
    severities = [Severity.SEVERE, Severity.MEDIUM, Severity.LOW]
    findings = [make_finding(n, severities[n % 3], samples=30) for n in range(400)]
    for finding in findings:
        finding.affected *= 20
    report = make_report(findings, devices=800, unknown=300)
    rendered = render_all(report, settings.model_copy(update={"detail": "high"}))
    assert len(rendered.html.encode()) < 100_000
    # Findings past the budget fold into counts per rule, themselves bounded.
    assert "Also seen, not shown in detail" in rendered.html
    assert re.search(r"… and \d+ more findings</li>", rendered.html)
    assert re.search(r"… and \d+ more</td>", rendered.html)  # devices / unknown events
    assert re.search(r"… and \d+ more findings", " ".join(rendered.text.split()))


# ----------------------------------------------------------------------------- hostile strings


def test_hostile_strings_are_escaped_in_html(settings: Settings) -> None:
    html = render(hostile_report(), "html", settings.model_copy(update={"detail": "high"}))
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    # Quotes need no escaping in text nodes; the inliner's serialiser leaves them plain there.
    assert "&lt;script&gt;alert('x')&lt;/script&gt;\"quoted\" Bcc: victim@example.com" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "Site X-Injected: 1 &lt;b&gt;" in html
    assert "\r" not in html
    # CR/LF inside a controller string became a space: the injected line never starts a line.
    assert "\nBcc:" not in html
    assert NON_ASCII in html
    assert len(html.encode()) < 100_000
    assert "A" * 1300 not in html  # 1 MB messages are cut server-side


def test_hostile_strings_are_harmless_in_text(settings: Settings) -> None:
    text = render(hostile_report(), "text", settings.model_copy(update={"detail": "high"}))
    assert "\r" not in text and "\x1b" not in text
    assert not any(line.startswith("Bcc:") or line.startswith("X-Injected") for line in text.splitlines())
    assert f"[SEVERE] {clean(HOSTILE)}" in text
    assert NON_ASCII in text
    assert "A" * 1300 not in text and len(text) < 100_000


def test_hostile_strings_are_literal_in_markdown(settings: Settings) -> None:
    markdown = render(hostile_report(), "md", settings.model_copy(update={"detail": "high"}))
    template_markup = re.compile(r"</?sub>|<br>")
    assert not re.search(r"(?<!\\)<", template_markup.sub("", markdown))
    assert r"\<script\>alert('x')\</script\>" in markdown
    assert r"Click \[here\](javascript:alert(1)) \| \!\[x\](http://evil/x.png) \*bold\*" in markdown
    assert r"\[bold red\]rich markup\[/\]" in markdown
    # Table rows keep their column count: a | in a controller string is escaped.
    for line in markdown.splitlines():
        if line.startswith("| ") and "Unknown" in line:
            assert len(re.findall(r"(?<!\\)\|", line)) == 4
    assert "\r" not in markdown and NON_ASCII in markdown


def test_escape_markdown_and_clean() -> None:
    assert escape_markdown("a_b*c`d[e]|<f>#!~&\\") == r"a\_b\*c\`d\[e\]\|\<f\>\#\!\~\&\\"
    assert clean("a\r\nb\tc\x1b[31m\u202edef\x00") == "a b c [31m def"
    assert clean("x" * 50, 10) == "x" * 9 + "…"
    assert clean("  spaced   out  ") == "spaced out"


# ----------------------------------------------------------------------------- subject


def test_subject_default_with_severe_in_display_timezone(report: Report, settings: Settings) -> None:
    # The window ends 23:30 UTC on Jan 24: already Jan 25 in Berlin.
    assert render_subject(report, settings) == "[2 SEVERE] UniFi Report - Jan 25, 2026"
    assert render_subject(report, Settings(timezone="UTC")) == "[2 SEVERE] UniFi Report - Jan 24, 2026"
    assert render_subject(report, Settings(timezone="America/New_York")).endswith("Jan 24, 2026")


def test_subject_without_severe_findings(settings: Settings) -> None:
    report = make_report([make_finding(1, Severity.MEDIUM)])
    assert render_subject(report, Settings()) == "UniFi Report - Jan 24, 2026"
    assert render_subject(make_report([]), Settings()) == "UniFi Report - Jan 24, 2026"


def test_subject_template_variables(report: Report) -> None:
    settings = Settings(subject_template="{severe_tag}{site}: {severe}/{medium}/{low} of {total} on {date}")
    assert render_subject(report, settings) == "[2 SEVERE] default: 2/3/3 of 8 on Jan 24, 2026"


def test_subject_is_one_bounded_line_whatever_the_site_name() -> None:
    report = make_report(site="evil\r\nBcc: victim@example.com\x00\x1b" + "é" * 500)
    subject = render_subject(report, Settings(subject_template="{site} {severe_tag}{date}"))
    assert "\r" not in subject and "\n" not in subject and "\x00" not in subject and "\x1b" not in subject
    assert subject.startswith("evil Bcc: victim@example.com é")
    assert len(subject) <= 200


@pytest.mark.parametrize("template", ["{nope} report", "{site.__class__}", "{site[0]}", "{}", "{site"])
def test_subject_template_errors_name_the_setting(report: Report, template: str) -> None:
    with pytest.raises(ConfigError, match="UNIFI_SUBJECT_TEMPLATE"):
        render_subject(report, Settings(subject_template=template))


# ----------------------------------------------------------------------------- detail levels


def test_detail_low_shows_severe_and_medium_only(report: Report) -> None:
    rendered = render_all(report, Settings(detail="low"))
    markdown = render(report, "md", Settings(detail="low"))
    for finding in report.findings:
        shown = finding.severity is not Severity.LOW
        assert (finding.title in rendered.text) is shown
        assert (finding.title in rendered.html) is shown
        assert (finding.title in markdown) is shown
    assert "Low-severity findings not shown at detail level low: 3." in rendered.text


def test_detail_medium_shows_all_findings_without_event_tables(report: Report) -> None:
    rendered = render_all(report, Settings(detail="medium"))
    for finding in report.findings:
        assert finding.title in rendered.text and finding.title in rendered.html
    markdown = render(report, "md", Settings(detail="medium"))
    assert "was disconnected (sample 0)" not in rendered.html + rendered.text + markdown


def test_detail_high_adds_bounded_event_tables() -> None:
    report = make_report([make_finding(1, Severity.LOW, samples=25)])
    rendered = render_all(report, Settings(detail="high"))
    markdown = render(report, "md", Settings(detail="high"))
    for output in (rendered.html, rendered.text, markdown.replace("\\[", "[").replace("\\]", "]")):
        assert "AP[Office AP] was disconnected (sample 9)" in output
        assert "(sample 10)" not in output
        assert "… and 15 more" in output
    assert "| Time | Event | Message |" in markdown


# ----------------------------------------------------------------------------- quiet, JSON, Markdown


def test_empty_report_says_all_quiet() -> None:
    report = make_report([], first_run=False)
    report.events_per_hour = []
    rendered = render_all(report, Settings())
    assert "All quiet" in rendered.text and "All quiet" in rendered.html
    assert "All quiet" in render(report, "md", Settings())
    assert rendered.preheader.startswith("All quiet on default: no findings")
    assert "Events over time" not in rendered.html
    assert "First run" not in rendered.text


def test_json_round_trips_into_the_report(report: Report, settings: Settings) -> None:
    rendered = render_all(report, settings)
    assert Report.model_validate_json(rendered.json_text) == report
    assert render(report, "json", settings) == rendered.json_text


def test_markdown_structure(report: Report, settings: Settings) -> None:
    markdown = render(report, "md", settings)
    assert markdown.startswith("# UniFi Report · default\n")
    assert "### #1 SEVERE: Severe finding number 0" in markdown
    assert "1. Check the PoE switch port and the cable to the access point." in markdown
    assert "| Device | State | Firmware | Load | Problems |" in markdown
    assert "| EVT\\_SW\\_Unknown\\_0 | 10 | Something odd 0 |" in markdown


def test_text_part_holds_every_finding_title(report: Report, settings: Settings) -> None:
    text = render(report, "text", settings)
    for finding in report.findings:
        assert f"[{finding.severity.value.upper()}] {finding.title}" in text
    assert "Missing from this report:\n  - This controller does not provide the legacy IPS/thr" in text


def test_unknown_format_is_refused(report: Report, settings: Settings) -> None:
    with pytest.raises(ValueError, match="unknown report format"):
        render(report, "pdf", settings)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- timeline


def test_timeline_merges_long_windows_into_few_columns() -> None:
    report = make_report()
    report.window = Window(since=UNTIL - timedelta(days=7), until=UNTIL)
    report.events_per_hour = [HourBucket(hour=SINCE - timedelta(days=3), severe=5),
                              HourBucket(hour=UNTIL - timedelta(hours=1), low=2, other=8)]
    from zoneinfo import ZoneInfo

    timeline = build_timeline(report, ZoneInfo("UTC"))
    assert len(timeline.columns) <= 25 and timeline.hours_per_column == 7
    assert sum(column.total for column in timeline.columns) == 15
    assert timeline.totals == {"severe": 5, "medium": 0, "low": 2, "other": 8}
    tallest = max(timeline.columns, key=lambda column: column.total)
    assert sum(segment.height for segment in tallest.segments) == 60


# ----------------------------------------------------------------------------- terminal


def test_terminal_view(report: Report, settings: Settings) -> None:
    report.device_health[0].name = "[bold red]rich markup[/]"
    console = Console(record=True, width=140, file=io.StringIO())
    print_terminal(report, settings, console)
    out = console.export_text()
    assert "UniFi Report · default" in out
    assert "2 SEVERE" in out and "3 MEDIUM" in out and "3 LOW" in out
    assert "Findings" in out and "Device health" in out
    assert "Severe finding number 0" in out
    assert "[bold red]rich markup[/]" in out  # printed literally, never as markup
    assert "does not provide the legacy IPS/threat list" in out


def test_terminal_view_honours_no_color(report: Report, settings: Settings,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    plain = io.StringIO()
    print_terminal(report, settings, Console(file=plain, force_terminal=True, width=120))
    assert "Severe finding number 0" in plain.getvalue()
    assert not re.search(r"\x1b\[[0-9;]*(3|4)[0-7]m", plain.getvalue())
    monkeypatch.delenv("NO_COLOR")
    coloured = io.StringIO()
    print_terminal(report, settings, Console(file=coloured, force_terminal=True, width=120))
    assert re.search(r"\x1b\[[0-9;]*(3|4)[0-7]", coloured.getvalue())


def test_terminal_view_quiet() -> None:
    console = Console(record=True, width=100, file=io.StringIO())
    print_terminal(make_report([], devices=0, unknown=0), Settings(), console)
    assert "All quiet: no findings in this window." in console.export_text()


# ----------------------------------------------------------------------------- templates


def test_templates_found_in_a_source_checkout() -> None:
    root = template_dir()
    for name in ("report.html", "report.txt", "report.md"):
        assert (root / name).is_file()


def test_resource_loader_reads_a_packaged_directory(tmp_path) -> None:
    import jinja2

    (tmp_path / "t.txt").write_text("hello {{ name }}", encoding="utf-8")
    env = jinja2.Environment(loader=ResourceLoader(tmp_path), autoescape=False)
    assert env.get_template("t.txt").render(name="you") == "hello you"
    with pytest.raises(jinja2.TemplateNotFound):
        env.get_template("missing.txt")
