"""The HTML report and the archive page in a real browser: headless Chromium at phone and desktop widths,
no horizontal scroll.

A copy of the page gets a tiny measuring script (never the product HTML, which has no JavaScript) that
writes the document's scroll width and the viewport width into the DOM; `--dump-dom` returns them.
Screenshots are saved under tmp_path for a human to look at.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html import escape
from pathlib import Path

import pytest

from tests.delivery.archive_factories import many_entries
from tests.renderer.factories import (
    BIG_MESSAGE,
    HOSTILE,
    make_finding,
    make_merged_report,
    make_report,
    make_resolved,
    with_memory,
)
from unifi_scanner.delivery.archive import render_index
from unifi_scanner.models import Affected, Severity, TimelineEntry
from unifi_scanner.renderer import render
from unifi_scanner.settings import Settings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
]
# Headless Chromium will not make its window narrower than 500 px, so pages are shown in an iframe of
# the exact width. The iframe's srcdoc shares the wrapper's origin, so the measuring script inside the
# test copy can write its result where --dump-dom sees it.
MEASURE = (
    "<script>parent.document.body.setAttribute('data-measure', "
    "document.documentElement.scrollWidth + 'x' + document.documentElement.clientWidth);</script>"
)
HEIGHT = 3000


pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"),
]


def chromium(tmp_path: Path, html: str, width: int, *args: str) -> str:
    """Show `html` in an iframe `width` px wide in headless Chromium; return Chromium's stdout."""
    page = tmp_path / f"frame-{width}-{len(args)}.html"
    page.write_text(
        '<!DOCTYPE html><html><body style="margin:0">'
        f'<iframe srcdoc="{escape(html, quote=True)}" width="{width}" height="{HEIGHT}" '
        f'style="border:0;display:block"></iframe></body></html>',
        encoding="utf-8",
    )
    profile = tmp_path / f"profile-{width}-{len(args)}"
    window = f"--window-size={max(width, 500)},{HEIGHT}"
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", window, *args, page.as_uri()],
        capture_output=True, text=True, timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def wide_report():
    """A report with everything that could push a phone screen sideways."""
    long_name = "Ubiquiti-" + "X" * 200
    hostile = make_finding(90, Severity.SEVERE, title=HOSTILE + " " + "W" * 300, affected_name=long_name)
    hostile.affected.append(Affected(kind="client", id="aa:bb:cc:dd:ee:ff" * 10, name="é" * 150))
    hostile.samples[0].message = BIG_MESSAGE
    hostile.remediation.append("See https://help.ui.com/" + "very-long-path/" * 30)
    hostile.timeline += [TimelineEntry(time=hostile.last_seen, text=long_name),
                         TimelineEntry(time=hostile.last_seen, text=BIG_MESSAGE)]
    hostile.rule_ids.append("rule_" + "y" * 150)
    report = make_report([hostile, *(make_finding(n, Severity.MEDIUM) for n in range(3))],
                         site="site-" + "Z" * 120)
    report.device_health[0].name = long_name
    report.unknown_events[0].sample_message = BIG_MESSAGE
    return report


def wide_memory_report():
    """The wide report from a run with memory: the wide finding and another ongoing (one with a changed
    severity), resolved incidents and trend lines as long as the rest, and a chart of 30 reports."""
    long_name = "Ubiquiti-" + "X" * 200
    resolved = [make_resolved(1, title=HOSTILE + " " + long_name, how=BIG_MESSAGE),
                make_resolved(2, Severity.LOW, how="no events for 26 hours")]
    report = with_memory(wide_report(), ongoing=[0, 2], previous={2: Severity.SEVERE}, recurred=[1],
                         resolved=resolved, history=30)
    report.trends.lines[0].text = "Events: " + "Y" * 300
    return report


def wide_merged_report():
    """Eight sites from a run with memory, two failed: a site label, its worst finding and a failed
    site's error as long as the rest, and a hostile label."""
    long_name = "Ubiquiti-" + "X" * 200
    report = make_merged_report(8, failed=2, memory=True, controllers=3)
    old = report.sites[0].label
    report.sites[0].label = long_name
    report.sites[0].worst = HOSTILE + " " + "W" * 300
    report.sites[1].label = HOSTILE
    report.sites[-1].error = BIG_MESSAGE
    for item in [*report.findings, *report.resolved]:
        item.site = long_name if item.site == old else item.site
    report.findings[0].title = HOSTILE + " " + "W" * 300
    return report


MEMORY = ("Resolved since the last report", "Compared with earlier reports")
REPORTS = {
    "plain": (wide_report, "brief", ()),
    "memory-brief": (wide_memory_report, "brief", MEMORY),
    "memory-full": (wide_memory_report, "full", MEMORY),
    "sites": (wide_merged_report, "brief", ("Sites", "Resolved since the last report")),
}


@pytest.mark.parametrize("kind", REPORTS)
@pytest.mark.parametrize("width", [375, 1024])
def test_no_horizontal_scrolling(tmp_path: Path, width: int, kind: str) -> None:
    build, ongoing, headings = REPORTS[kind]
    html = render(build(), "html", Settings(timezone="Europe/Berlin", detail="high", ongoing=ongoing))
    for heading in headings:
        assert f"{heading}</h2>" in html
    if kind != "plain":
        assert ("Still going on" in html) is (ongoing == "brief")
    assert "<script" not in html
    dom = chromium(tmp_path, html.replace("</body>", MEASURE + "</body>"), width, "--dump-dom")
    match = re.search(r'data-measure="(\d+)x(\d+)"', dom)
    assert match, dom[:500]
    scroll_width, client_width = int(match[1]), int(match[2])
    assert client_width == width
    assert scroll_width <= client_width, f"page is {scroll_width}px wide in a {client_width}px viewport"

    shot = tmp_path / f"report-{kind}-{width}.png"
    chromium(tmp_path, html, width, f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


# The archive page forbids scripts (Content-Security-Policy), so its measured copy goes without that line;
# its measuring script also counts the scripts and report rows the browser built from the page.
_CSP = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>\n?')
ARCHIVE_MEASURE = (
    "<script>parent.document.body.setAttribute('data-measure', [document.documentElement.scrollWidth, "
    "document.documentElement.clientWidth, document.scripts.length, "
    "document.querySelectorAll('table.reports > tbody > tr[id]').length].join('x'));</script>"
)


@pytest.mark.parametrize("width", [375, 1024])
def test_the_archive_page_has_no_horizontal_scrolling(tmp_path: Path, width: int) -> None:
    entries = many_entries(40)
    assert any("alert(1)" in entry.site for entry in entries)
    html = render_index(entries, title="UniFi reports", timezone="Europe/Berlin")
    assert "<script" not in html and _CSP.search(html)
    measured = _CSP.sub("", html).replace("</body>", ARCHIVE_MEASURE + "</body>")
    dom = chromium(tmp_path, measured, width, "--dump-dom")
    match = re.search(r'data-measure="(\d+)x(\d+)x(\d+)x(\d+)"', dom)
    assert match, dom[:500]
    scroll_width, client_width, scripts, rows = map(int, match.groups())
    assert client_width == width
    assert scroll_width <= client_width, f"page is {scroll_width}px wide in a {client_width}px viewport"
    # The hostile site name made no script of its own and closed no table early: every row is a row.
    assert (scripts, rows) == (1, 40)

    shot = tmp_path / f"archive-{width}.png"
    chromium(tmp_path, html, width, f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
