"""A report that covers several sites: the overview of the sites (failed first, then the busiest), the
findings under their site's heading, every line naming its site, the `{controller}` subject variable,
hostile site labels, and the email budget however many sites."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from tests.renderer.factories import SITE_ERROR, make_merged_report
from tests.renderer.test_glance import anchors, attention_block
from tests.renderer.test_memory import outputs, section
from unifi_scanner.models import Report
from unifi_scanner.renderer import HTML_BUDGET, print_terminal, render, render_all, render_subject
from unifi_scanner.renderer.view import LIMITS, NAME_MAX, NOTE_MAX, SITES_MAX, build_view, clean
from unifi_scanner.settings import Settings

SETTINGS = Settings(timezone="Europe/Berlin")
FULL = Settings(timezone="Europe/Berlin", ongoing="full")
# make_merged_report(5, failed=2): the failed sites first, then the most severe, then medium findings.
ORDER = ["shop/branch-1", "hq/branch-2", "hq/branch-1", "shop/default", "hq/default"]
HOSTILE_LABEL = "<script>alert('x')</script>\r\nBcc: victim@example.com " + "é" * 500


def five_sites() -> Report:
    """Five sites on two controllers, two of them failed, four findings each on the other three."""
    return make_merged_report(5, failed=2)


def visible(html: str) -> str:
    """The text of an HTML fragment, tags dropped and white space folded."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def overview_rows(html: str) -> list[str]:
    """The visible text of each row of the sites overview."""
    rows = re.findall(r'<tr class="site-row"[^>]*>(.*?)</tr>', section(html, "Sites"), re.S)
    return [visible(row) for row in rows]


def placement(document: str, finding: str, heading: str) -> list[tuple[str, str]]:
    """Each finding shown in detail (`finding` matches its title, one group) with the label of the last
    site heading before it (`heading` matches the label)."""
    return [(match[1], re.findall(heading, document[:match.start()])[-1])
            for match in re.finditer(finding, document, re.M)]


# ----------------------------------------------------------------------------- overview


def test_overview_rows_match_the_sites_failed_first_then_the_most_severe() -> None:
    report = five_sites()
    view = build_view(report, SETTINGS)
    assert [row.label for row in view.overview.rows] == ORDER
    by_label = {site.label: site for site in report.sites}
    for row in view.overview.rows:
        site = by_label[row.label]
        assert (row.severe, row.medium, row.low, row.new) == (site.counts.severe, site.counts.medium,
                                                              site.counts.low, site.new)
        assert row.error == (site.error or "") and row.worst == (site.worst or "")
    assert view.overview.line == (f"5 sites, 2 failed: shop/branch-1 ({SITE_ERROR}), "
                                  f"hq/branch-2 ({SITE_ERROR})")
    html = render(report, "html", SETTINGS)
    assert overview_rows(html) == [
        f"shop/branch-1 FAILED {SITE_ERROR}",
        f"hq/branch-2 FAILED {SITE_ERROR}",
        "hq/branch-1 SEVERE Severe finding number 200 2 1 1 4",
        "shop/default SEVERE Severe finding number 101 1 2 1 4",
        "hq/default SEVERE Severe finding number 2 1 1 2 4",
    ]
    # The worst finding carries its severity as a coloured label; a failed site a red FAILED.
    assert re.search(r'background-color: #c5221f"?[^>]*>SEVERE</span> Severe finding number 200', html)
    assert html.count(">FAILED</span>") == 2


def test_the_overview_opens_the_report_and_the_header_counts_the_failed_sites() -> None:
    report = five_sites()
    out = outputs(report, SETTINGS)
    html = out["html"]
    head = html[html.index('class="head'):html.index("Sites</h2>")]
    assert f"5 sites, 2 failed: shop/branch-1 ({SITE_ERROR})" in visible(head)
    assert "UDM-Pro" not in head  # the first controller does not stand for all of them
    assert html.index("Sites</h2>") < html.index("Needs attention</h2>")
    assert "its checkpoint stays, so the next run covers its window" in section(html, "Sites")
    assert render_all(report, SETTINGS).preheader.startswith(
        "2 of 5 sites failed. 4 severe, 4 medium, 4 low findings on 5 sites on 2 controllers. "
        "Top: hq/branch-1: Severe finding number 200")
    text = out["text"]
    assert "\nSites: 5 sites, 2 failed" in text and "Controller:" not in text
    assert (f"  [FAILED] shop/branch-1: {SITE_ERROR}\n"
            f"  [FAILED] hq/branch-2: {SITE_ERROR}\n"
            "  hq/branch-1: 2 severe · 1 medium · 1 low · 4 new · worst: [SEVERE] Severe finding number 200\n"
            ) in text
    assert text.index("Sites (failed and busiest first):") < text.index("Needs attention:")
    markdown = out["md"]
    assert "**Sites:** 5 sites, 2 failed" in markdown and "**Controller:**" not in markdown
    assert "| Site | Severe | Medium | Low | New | Worst finding |" in markdown
    assert f"| shop/branch-1 | – | – | – | – | **FAILED:** {SITE_ERROR} |" in markdown
    assert "| hq/default | 1 | 1 | 2 | 4 | **SEVERE** Severe finding number 2 |" in markdown


def test_a_quiet_site_and_no_failure() -> None:
    report = make_merged_report(3, failed=0)
    report.sites[0].counts.low = report.sites[0].counts.medium = report.sites[0].counts.severe = 0
    report.sites[0].worst = report.sites[0].worst_severity = None
    view = build_view(report, SETTINGS)
    assert view.overview.line == "3 sites, all reported" and not view.overview.failed
    html = render(report, "html", SETTINGS)
    assert overview_rows(html)[-1] == "hq/default No findings 0 0 0 4"
    assert "checkpoint stays" not in html
    assert not render_all(report, SETTINGS).preheader.startswith("0 of")


def test_overview_links_to_each_sites_heading_among_the_findings() -> None:
    html = render(five_sites(), "html", SETTINGS)
    found = anchors(html)
    links = anchors(section(html, "Sites")).links
    assert links == {"#s-2": "hq/branch-1", "#s-3": "shop/default", "#s-4": "hq/default"}
    for href, label in links.items():
        assert found.targets[href[1:]] == label


# ----------------------------------------------------------------------------- findings per site


@pytest.mark.parametrize("settings", [SETTINGS, FULL], ids=["brief", "full"])
def test_findings_appear_under_their_sites_heading_in_the_overviews_order(settings: Settings) -> None:
    report = make_merged_report(5, failed=2, memory=True)
    site_of = {finding.title: finding.site for finding in report.findings}
    out = outputs(report, settings)
    html_heading = r'class="site-head"[^>]*>([^<]+)</div>'
    found = placement(out["html"], r'<h3 id="f-[^"]+"[^>]*>([^<]+)</h3>', html_heading)
    assert len(found) >= 8
    assert found == [(title, site_of[title]) for title, _ in found]
    # One heading per site with findings in detail, in the overview's order, the findings numbered
    # in the order they are shown.
    headings = re.findall(html_heading, out["html"])
    assert headings == [label for label in ORDER if label in headings] and len(set(headings)) == 3
    assert placement(out["text"], r"^#\d+ \[\w+\] (.+)$", r"\n## (\S+) #+\n") == found
    assert [int(n) for n in re.findall(r"^#(\d+) \[", out["text"], re.M)] == list(range(1, len(found) + 1))
    assert placement(out["md"], r"^#### #\d+ \w+: (.+)$", r"\n### (\S+)\n") == found
    assert re.findall(r"\n## (\S+) #+\n", out["text"]) == re.findall(r"\n### (\S+)\n", out["md"]) == headings


def test_attention_still_going_on_and_resolved_lines_name_their_site() -> None:
    report = make_merged_report(3, failed=1, memory=True)
    out = outputs(report, SETTINGS)
    block = visible(attention_block(out["html"]))
    assert "NEW hq/default: Severe finding number 2 Jan 24" in block
    assert "ONGOING shop/default: Medium finding number 100" in block
    assert "hq/default: Resolved incident number 0 — back online" in visible(
        section(out["html"], "Resolved since the last report"))
    assert "shop/default: Medium finding number 100 since Jan 21" in visible(
        section(out["html"], "Still going on"))
    text = out["text"]
    assert "  [SEVERE] NEW: hq/default: Severe finding number 2 · Jan 24 02:37–04:37 → #" in text
    assert "  - shop/default: Resolved incident number 1 — back online · severe" in text
    assert "  [MEDIUM] shop/default: Medium finding number 100 · since Jan 21 21:30 (4th report)" in text
    markdown = out["md"]
    assert "- **SEVERE** *NEW* hq/default: Severe finding number 2 · Jan 24" in markdown
    assert "- hq/default: Resolved incident number 0 — back online" in markdown
    assert "- **MEDIUM** shop/default: Medium finding number 100 · since" in markdown


def test_a_single_site_report_has_no_overview_and_no_site_headings(report: Report) -> None:
    view = build_view(report, SETTINGS)
    assert view.overview is None
    assert [(group.label, group.anchor) for group in view.groups] == [("", None)]
    rendered = render_all(report, SETTINGS)
    assert "Sites</h2>" not in rendered.html and 'class="site-head' not in rendered.html
    assert "Controller: UDM-Pro (Network 9.0.114)" in rendered.text
    assert "\n## " not in rendered.text and "Sites:" not in rendered.text


# ----------------------------------------------------------------------------- bounds


def test_the_overview_is_bounded_and_shrinks_with_the_other_lists() -> None:
    assert LIMITS[0].sites == SITES_MAX == 100
    assert [limits.sites for limits in LIMITS] == sorted((limits.sites for limits in LIMITS), reverse=True)
    report = make_merged_report(150, failed=3, findings=1, controllers=3)
    view = build_view(report, SETTINGS)
    assert len(view.overview.rows) == 100 and view.overview.more == 50
    assert [row.error for row in view.overview.rows[:3]] == [SITE_ERROR] * 3
    text = render(report, "text", SETTINGS)
    more = "… and 50 more sites, none busier than those above"
    assert f"  {more} (the JSON report lists all of them).\n" in text
    assert f"| {more} | | | | | |" in render(report, "md", SETTINGS)
    for limits in LIMITS:
        assert len(build_view(report, SETTINGS, limits).overview.rows) == limits.sites
    # Three failed sites are named in the header, the rest counted.
    many = make_merged_report(10, failed=5)
    assert build_view(many, SETTINGS).overview.line.endswith(f"({SITE_ERROR}) and 2 more")


@pytest.mark.parametrize("detail", ["medium", "high"])
def test_sixty_sites_of_twenty_findings_stay_under_the_email_budget(detail: str) -> None:
    report = make_merged_report(60, failed=6, findings=20, controllers=4)
    assert len(report.findings) == 54 * 20
    html = render(report, "html", SETTINGS.model_copy(update={"detail": detail}))
    assert len(html.encode()) <= HTML_BUDGET
    rows = overview_rows(html)
    more = 60 - (len(rows) - 1)
    assert rows[-1] == (f"… and {more} more sites, none busier than those above "
                        "(the JSON report lists all of them).")
    assert len(rows) - 1 in {limits.sites for limits in LIMITS}
    assert [row.endswith(SITE_ERROR) for row in rows[:7]] == [True] * 6 + [False]
    # Some findings are still shown in detail, under their site's heading.
    assert re.search(r'class="site-head"[^>]*>[^<]+</div>\s*<table[^>]* class="finding"', html)


# ----------------------------------------------------------------------------- hostile labels


def hostile_merged_report() -> Report:
    """Three sites whose first site label, its worst finding, the failed site's error, the report's
    label and its controller name are all hostile."""
    report = make_merged_report(3, failed=1, memory=True)
    old = report.sites[0].label
    report.sites[0].label = HOSTILE_LABEL
    report.sites[0].worst = HOSTILE_LABEL
    report.sites[-1].error = HOSTILE_LABEL
    for item in [*report.findings, *report.resolved]:
        if item.site == old:
            item.site = HOSTILE_LABEL
    report.site = HOSTILE_LABEL
    report.controller_name = HOSTILE_LABEL
    return report


def test_a_hostile_site_label_is_escaped_and_bounded_everywhere() -> None:
    report = hostile_merged_report()
    out = outputs(report, SETTINGS)
    html, text = out["html"], out["text"]
    assert "<script" not in html.lower() and "\r" not in html
    assert "&lt;script&gt;alert('x')&lt;/script&gt; Bcc: victim@example.com é" in html
    # Bounded as a name where it labels a site, as a title where it is the worst finding, as a note
    # where it is the error of the failed site.
    label = clean(HOSTILE_LABEL)
    assert len(label) == NAME_MAX
    assert f"<b>{label.replace('<', '&lt;').replace('>', '&gt;')}</b>" in html
    assert "é" * NOTE_MAX not in html + text  # the failed site's error is a note
    for heading in ("Sites", "Needs attention", "Resolved since the last report", "Still going on"):
        assert "&lt;script&gt;" in section(html, heading), heading
    assert re.search(r'class="site-head"[^>]*>&lt;script&gt;', html)
    assert "\r" not in text and not any(line.startswith("Bcc:") for line in text.splitlines())
    assert f"  [FAILED] hq/branch-1: {clean(HOSTILE_LABEL, NOTE_MAX)}\n" in text
    assert f"\n  {label}: 1 severe · 1 medium · 2 low · 4 new · worst: [SEVERE] <script>" in text
    markdown = render(report, "md", SETTINGS)
    assert r"\<script\>alert('x')\</script\>" in markdown
    assert not re.search(r"(?<!\\)<script", markdown)
    assert "é" * NOTE_MAX not in markdown
    subject = render_subject(report, Settings(subject_template="{controller} / {site} {new_tag}{date}"))
    assert "\r" not in subject and "\n" not in subject and len(subject) <= 200
    assert subject.startswith("<script>alert('x')</script> Bcc: victim@example.com é")
    console = Console(record=True, width=120, file=io.StringIO())
    print_terminal(report, SETTINGS, console)
    assert "\r" not in console.export_text()


# ----------------------------------------------------------------------------- subject and terminal


def test_subject_names_the_controller_and_the_merged_site_label() -> None:
    report = five_sites()
    settings = Settings(subject_template="{controller}: {site} - {severe} severe")
    assert render_subject(report, settings) == "hq: 5 sites on 2 controllers - 4 severe"
    assert render_subject(report, SETTINGS) == "[4 SEVERE] UniFi Report - Jan 25, 2026"
    single = make_merged_report(1, failed=0)
    single.sites, single.site = [], "branch"
    single.controller_name = "shop\r\nBcc: x"
    assert render_subject(single, settings) == "shop Bcc: x: branch - 1 severe"


def test_terminal_shows_the_sites_overview() -> None:
    console = Console(record=True, width=140, file=io.StringIO())
    print_terminal(make_merged_report(5, failed=2, memory=True), SETTINGS, console)
    out = console.export_text()
    sites = out[out.index("Sites"):out.index("Needs attention")]
    assert [line.split()[0] for line in sites.splitlines()[4:9]] == ORDER
    assert re.search(r"shop/branch-1\s+FAILED\s+login refused", sites)
    assert re.search(r"hq/branch-1\s+2\s+1\s+1\s+4\s+SEVERE\s+Severe finding number 200", sites)
    assert "5 sites, 2 failed" in out
    assert "ONGOING hq/branch-1: Severe finding number 200" in out
    assert "NEW shop/default: Severe finding number 101" in out
