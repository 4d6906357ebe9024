"""The report as the templates and the terminal see it: cleaned, bounded, and in the display timezone.

Every string in a `Report` may come from the controller (site, device and client names, SSIDs, event
messages), so all of them pass through `clean()` here, once, before any template sees them: control
characters, CR/LF and bidi overrides become spaces, whitespace collapses, and length is bounded (a 1 MB
event message becomes a few hundred characters). HTML autoescaping and Markdown escaping then only
have to deal with markup characters. Lists are bounded too, each with the count left out, so a
busy site still yields an email under Gmail's ~100 KB clipping limit.

A report must read at a glance, so findings are shown in three tiers: a "Needs attention" line for
every severe and medium finding, pointing at its detail; the most serious `DETAIL_MAX` findings in
detail; and the rest folded into one count per rule. report.json keeps every finding.

With incident memory (`run`), each finding also carries its status: NEW, or ONGOING since when and
in how many reports. With UNIFI_ONGOING=brief the ongoing ones among those `DETAIL_MAX` get one line
each in a "Still going on" list instead of their detail, so a long outage does not repeat its whole
explanation every day, and the report is never bigger than with `full`. Incidents that ended since
the last report get a short section of their own, and the report is compared with earlier ones
("Compared with earlier reports", with a chart of the findings per report).

A report may cover several sites (`Report.sites`, UNIFI_REPORT_PER=run or controller). It then opens
with an overview of the sites, failed ones first, then the most serious; every line about a finding
names its site, and the findings shown in detail are grouped under a heading per site, in the
overview's order. The same limits hold whatever the number of sites: the overview shrinks with the
other lists when the email outgrows its budget.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo

from unifi_scanner.models import (
    Changes,
    DeviceHealth,
    Finding,
    Report,
    ResolvedIncident,
    Severity,
    SiteOverview,
    Trends,
    source_gaps,
)
from unifi_scanner.settings import Settings
from unifi_scanner.text import single_line

# Length bounds, in characters, per kind of string.
NAME_MAX = 120
TITLE_MAX = 200
TEXT_MAX = 1200
STEP_MAX = 400
MESSAGE_MAX = 300
NOTE_MAX = 400

# Caps on short lists, the same whatever the size limits below.
STEPS_MAX = 8
DETAILS_MAX = 10
NOTES_MAX = 10
SOURCES_MAX = 20
RULE_IDS_MAX = 8
FOLDED_RULES_MAX = 15
FOLDED_LABEL_MAX = 80
TREND_LINES_MAX = 10
# The model keeps at most 30 reports of history; more would not fit a phone screen's width either.
TREND_COLUMNS = 30
# Failed sites named in one line (the header, the chat summary), each with its error cut shorter than
# in the overview, which lists them all with theirs.
FAILED_NAMED = 3
ERROR_SHORT_MAX = 80

SITES_MAX = 100
"""Most rows of the overview of a report that covers several sites: failed and busiest sites first,
the quietest counted in "… and N more sites". The first `Limits` level, lowered with the others."""

DETAIL_MAX = 25
"""Most findings a report shows in detail. A reader scans a couple of dozen findings; past that the
least serious ones fold into one count per rule ("Also seen, not shown in detail"), and the reader
who wants them all has report.json. It is the first `Limits` level, so the email budget may lower it."""


@dataclass(frozen=True)
class Limits:
    """How many entries of each long list a rendered report shows before "… and N more".

    `findings` counts findings shown in detail, `attention` the lines of the "Needs attention" block,
    `timeline` the entries of one finding's incident timeline, `resolved` the lines of "Resolved since
    the last report", `sites` the rows of the overview of a report that covers several sites.
    Ongoing findings shown in one line (UNIFI_ONGOING=brief) count as shown in detail, so `findings`
    bounds them too.
    """

    findings: int = DETAIL_MAX
    attention: int = 40
    timeline: int = 12
    samples: int = 10
    affected: int = 8
    devices: int = 40
    unknown: int = 25
    resolved: int = 25
    sites: int = SITES_MAX


LIMITS = (
    Limits(),
    Limits(findings=20, attention=30, timeline=8, samples=5, affected=6, devices=30, unknown=15, resolved=20,
           sites=75),
    Limits(findings=15, attention=25, timeline=6, samples=3, affected=5, devices=25, unknown=12, resolved=15,
           sites=50),
    Limits(findings=10, attention=20, timeline=4, samples=2, affected=4, devices=15, unknown=8, resolved=10,
           sites=35),
    Limits(findings=6, attention=15, timeline=3, samples=0, affected=3, devices=10, unknown=5, resolved=8,
           sites=25),
)
"""Ever smaller limits, tried in turn until the HTML fits the email size budget."""

# 25, not 24: a 24-hour window that does not start on the hour touches 25 clock hours.
TIMELINE_COLUMNS = 25
TIMELINE_HEIGHT_PX = 60
# The chart covers at most a year of hours; only a nonsensical window reaches this.
_TIMELINE_MAX_HOURS = 24 * 366

SEVERITY_COLOURS = {"severe": "#c5221f", "medium": "#b35900", "low": "#1a5fb4", "other": "#6b7280"}
"""Mid-tone colours with white text: readable on light and dark backgrounds and after inversion."""
STATUS_COLOURS = {"new": "#1f3a5f", "ongoing": "#6b7280"}
"""NEW in the header's navy, so it stands out; ONGOING in grey, as old news (white text on both)."""

_NOT_ANCHOR = re.compile(r"[^A-Za-z0-9_-]")
# Words of rule ids that read as acronyms, so `ips_threat_blocked` labels as "IPS threat blocked".
_ACRONYMS = frozenset(
    {"ap", "dhcp", "dns", "ids", "ip", "ips", "lan", "lte", "poe", "ssh", "ssid", "stp", "vpn", "wan", "wlan"}
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def clean(value: object, limit: int = NAME_MAX) -> str:
    """Return `value` as one safe line of at most `limit` characters (an ellipsis marks a cut)."""
    # Cut before the regex work so a 1 MB message costs no more than a short one.
    text = single_line(str(value)[: limit * 4 + 16])
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def format_day(moment: datetime) -> str:
    """`Jan 24, 2026` in English whatever the process locale (cron often runs with LANG=C or none)."""
    return f"{_MONTHS[moment.month - 1]} {moment.day}, {moment.year}"


def format_time(moment: datetime) -> str:
    """`Jan 24, 2026 14:05` (the moment must already be in the display timezone)."""
    return f"{format_day(moment)} {moment:%H:%M}"


def format_uptime(seconds: int | None) -> str:
    """A short uptime such as `3d 4h`, `5h 12m` or `45m`; empty when unknown."""
    if seconds is None:
        return ""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def bounded(items: list, limit: int) -> tuple[list, int]:
    """The first `limit` items and how many were left out."""
    return items[:limit], max(0, len(items) - limit)


@dataclass(frozen=True)
class SampleView:
    """One underlying event of a finding (detail level high)."""

    time: str
    key: str
    message: str


@dataclass(frozen=True)
class TimelineEntryView:
    """One step of a finding's incident timeline, in the display timezone."""

    time: str
    text: str


@dataclass(frozen=True)
class StatusView:
    """What earlier reports knew of a finding, in words: `word` goes on a badge, `note` and `change`
    follow it (`ONGOING since Jan 22 08:00 (3rd report), severity raised from medium`, `NEW — happened
    before, resolved Jan 20 14:05`)."""

    kind: str
    word: str
    colour: str
    note: str
    change: str

    @property
    def detail(self) -> str:
        """Everything after the word: `since Jan 22 08:00 (3rd report), severity raised from medium`."""
        return ", ".join(part for part in (self.note, self.change) if part)

    @property
    def text(self) -> str:
        """The whole status on one line, word first."""
        if not self.detail:
            return self.word
        return f"{self.word} {'— ' if self.kind == 'new' else ''}{self.detail}"


@dataclass(frozen=True)
class FindingView:
    """One finding, ready to print. `number` (1-based) and `anchor` let other parts point at it."""

    number: int
    anchor: str
    id: str
    rule_id: str
    rule_ids: list[str]
    severity: str
    severity_label: str
    colour: str
    category: str
    title: str
    explanation: str
    remediation: list[str]
    remediation_more: int
    affected: list[str]
    affected_more: int
    first_seen: str
    last_seen: str
    count: int
    details: list[tuple[str, str]]
    details_more: int
    samples: list[SampleView]
    samples_more: int
    timeline: list[TimelineEntryView]
    timeline_more: int
    status: StatusView | None
    site: str

    @property
    def seen(self) -> str:
        """`at T` for a single moment, else `T1 → T2`."""
        if self.first_seen == self.last_seen:
            return f"at {self.first_seen}"
        return f"{self.first_seen} → {self.last_seen}"


@dataclass(frozen=True)
class AttentionView:
    """One line of the "Needs attention" block, or of the "Still going on" list.

    `number` and `anchor` are None when the finding is not shown in detail (the size limits left it
    out, or it is ongoing and UNIFI_ONGOING=brief); `brief` says it has a line under "Still going on".
    `site` leads the line in a report that covers several sites (empty otherwise).
    """

    number: int | None
    anchor: str | None
    severity: str
    severity_label: str
    colour: str
    title: str
    when: str
    status: StatusView | None
    brief: bool
    site: str


@dataclass(frozen=True)
class FoldedView:
    """Findings of one rule and severity that are counted, not shown in detail."""

    label: str
    rule_id: str
    severity: str
    count: int

    @property
    def line(self) -> str:
        """`8 × Firmware upgradable (firmware_upgradable, low)`."""
        return f"{self.count} × {self.label} ({self.rule_id}, {self.severity})"


@dataclass(frozen=True)
class DeviceView:
    """One row of the device health table."""

    name: str
    mac: str
    model: str
    state: str
    healthy: bool
    uptime: str
    version: str
    upgrade: str
    load: str
    problems: list[str]


@dataclass(frozen=True)
class ResolvedView:
    """One line of "Resolved since the last report"; `site` leads it in a report that covers several
    sites."""

    severity: str
    title: str
    how: str
    since: str
    reports: int
    resolved_at: str
    site: str

    @property
    def facts(self) -> str:
        """`severe · open since Jan 22 08:00, in 3 reports · resolved Jan 24 14:05`."""
        noun = "report" if self.reports == 1 else "reports"
        opened = f"open since {self.since}, in {self.reports} {noun}"
        return f"{self.severity} · {opened} · resolved {self.resolved_at}"


@dataclass(frozen=True)
class SiteRowView:
    """One row of the overview of a report that covers several sites. `anchor` is the id of the site's
    heading among the findings, when any of its findings is shown in detail; `error` is set, and the
    counts mean nothing, when the site could not be reported."""

    label: str
    anchor: str | None
    severe: int
    medium: int
    low: int
    new: int
    worst: str
    worst_severity: str
    worst_label: str
    colour: str
    error: str


@dataclass(frozen=True)
class OverviewView:
    """The overview of a report that covers several sites: `line` says how many and which failed
    (`3 sites, 1 failed: shop/default (login refused)`), then one row per site, bounded."""

    line: str
    sites: int
    failed: int
    rows: list[SiteRowView]
    more: int


@dataclass(frozen=True)
class FindingGroup:
    """The findings of one site shown in detail, under its heading (no heading without a label, as in a
    single-site report); `anchor` is the heading's id the overview links to."""

    label: str
    anchor: str | None
    findings: list[FindingView]


@dataclass(frozen=True)
class Segment:
    """One coloured part of a chart column."""

    severity: str
    colour: str
    count: int
    height: int


@dataclass(frozen=True)
class Column:
    """One chart column: a period (hours of events, or one report) and its counts per severity (top
    first)."""

    label: str
    total: int
    segments: list[Segment]


@dataclass(frozen=True)
class Chart:
    """A stacked bar chart drawn with email-safe tables: `start` and `end` label its x axis, `spark`
    draws it in one line of text for the text and Markdown reports."""

    columns: list[Column]
    height: int
    start: str
    end: str
    peak: int
    peak_label: str
    totals: dict[str, int]
    spark: str


@dataclass(frozen=True)
class Timeline(Chart):
    """The events-per-hour chart, merged into at most TIMELINE_COLUMNS columns."""

    hours_per_column: int


@dataclass(frozen=True)
class TrendsView:
    """"Compared with earlier reports": the trend lines, and the findings of the last reports as a
    chart (None below two reports)."""

    lines: list[str]
    lines_more: int
    compared: int
    chart: Chart | None


@dataclass(frozen=True)
class ReportView:
    """Everything a template needs, with every controller string cleaned and every list bounded."""

    site: str
    controller: str
    timezone: str
    window: str
    generated: str
    first_run: bool
    lookback: str
    notes: list[str]
    notes_more: int
    missing_sources: list[str]
    severe: int
    medium: int
    low: int
    total: int
    summary: str
    quiet: bool
    detail: str
    attention: list[AttentionView]
    attention_more: int
    resolved: list[ResolvedView]
    resolved_more: int
    ongoing: list[AttentionView]
    findings: list[FindingView]
    folded: list[FoldedView]
    folded_more: int
    hidden_by_detail: int
    muted: int
    total_events: int
    categories: list[tuple[str, int]]
    devices: list[DeviceView]
    devices_more: int
    device_problems: int
    timeline: Timeline | None
    trends: TrendsView | None
    unknown: list[tuple[str, int, str]]
    unknown_more: int
    unknown_events: int
    overview: OverviewView | None
    colours: dict[str, str] = field(default_factory=lambda: dict(SEVERITY_COLOURS))

    @property
    def groups(self) -> list[FindingGroup]:
        """The findings shown in detail, one group per site in the overview's order (they are sorted
        so); a single-site report has one group without a label."""
        anchors = {row.label: row.anchor for row in self.overview.rows} if self.overview else {}
        return [FindingGroup(label, anchors.get(label), list(members))
                for label, members in groupby(self.findings, key=lambda finding: finding.site)]

    @property
    def folded_line(self) -> str:
        """Every folded group on one line, for the formats without a list of their own."""
        groups = [group.line for group in self.folded]
        if self.folded_more:
            groups.append(f"… and {self.folded_more} more findings")
        return ", ".join(groups)


def build_view(report: Report, settings: Settings, limits: Limits = LIMITS[0]) -> ReportView:
    """Turn a `Report` into the cleaned, bounded `ReportView` every output format renders."""
    zone = ZoneInfo(settings.timezone)
    since = report.window.since.astimezone(zone)
    until = report.window.until.astimezone(zone)
    shown, hidden = _select_findings(report.findings, settings.detail)
    top, rest = shown[: limits.findings], shown[limits.findings :]
    # Brief: what the last report explained already gets one line, not its whole explanation again.
    # Only the findings `full` would show in detail do, so brief is never the bigger report.
    brief = settings.ongoing == "brief"
    ongoing = [finding for finding in top if brief and is_ongoing(finding)]
    # The most serious findings are chosen across all sites, then shown under their site's heading;
    # the sort is stable, so a single-site report keeps its order.
    sites = sorted(report.sites, key=site_order)
    rank: dict[str, int] = {}
    for position, site in enumerate(sites):
        rank.setdefault(site.label, position)
    findings = sorted((finding for finding in top if not (brief and is_ongoing(finding))),
                      key=lambda finding: rank.get(finding.site or "", len(rank)))
    # Keyed by identity: findings are not hashable, and nothing stops two of them sharing an id.
    in_detail = {id(finding): number for number, finding in enumerate(findings, start=1)}
    in_brief = {id(finding) for finding in ongoing}
    attention, attention_more = bounded(
        [finding for finding in shown if finding.severity.rank >= Severity.MEDIUM.rank], limits.attention)
    resolved, resolved_more = bounded(sorted(report.resolved, key=lambda item: -item.severity.rank),
                                      limits.resolved)
    groups = _fold(rest)
    devices = sorted(report.device_health, key=_device_order)
    device_rows, devices_more = bounded(devices, limits.devices)
    notes, notes_more = bounded(report.notes, NOTES_MAX)
    unknown = sorted(report.unknown_events, key=lambda event: -event.count)
    unknown_rows, unknown_more = bounded(unknown, limits.unknown)
    # Event tables belong to detail level high only.
    per_finding = limits if settings.detail == "high" else replace(limits, samples=0)
    counts = report.counts
    return ReportView(
        site=clean(report.site),
        controller=_controller_label(report),
        timezone=settings.timezone,
        window=f"{format_time(since)} – {format_time(until)} {until:%Z}".strip(),
        generated=format_time(report.generated_at.astimezone(zone)),
        first_run=report.first_run,
        lookback=_hours(report.lookback_hours) if report.lookback_hours is not None else "",
        notes=[clean(note, NOTE_MAX) for note in notes],
        notes_more=notes_more,
        missing_sources=_missing_sources(report),
        severe=counts.severe,
        medium=counts.medium,
        low=counts.low,
        total=counts.total,
        summary=summary_line(report),
        quiet=not report.findings,
        detail=settings.detail,
        attention=[
            _attention_view(finding, in_detail.get(id(finding)), zone, brief=id(finding) in in_brief)
            for finding in attention
        ],
        attention_more=attention_more,
        resolved=[_resolved_view(incident, zone, until) for incident in resolved],
        resolved_more=resolved_more,
        ongoing=[_attention_view(finding, None, zone, brief=True) for finding in ongoing],
        findings=[
            _finding_view(finding, number, zone, per_finding) for number, finding in enumerate(findings, 1)
        ],
        folded=groups[:FOLDED_RULES_MAX],
        folded_more=sum(group.count for group in groups[FOLDED_RULES_MAX:]),
        hidden_by_detail=hidden,
        muted=report.muted_findings,
        total_events=report.total_events,
        categories=[
            (clean(name).capitalize(), count)
            for name, count in sorted(report.events_per_category.items(), key=lambda item: -item[1])
        ][:12],
        devices=[_device_view(device) for device in device_rows],
        devices_more=devices_more,
        device_problems=sum(1 for device in devices if not _is_healthy(device)),
        timeline=build_timeline(report, zone),
        trends=_trends_view(report.trends, zone) if report.trends else None,
        unknown=[
            (clean(event.key), event.count, clean(event.sample_message or "", MESSAGE_MAX))
            for event in unknown_rows
        ],
        unknown_more=unknown_more,
        unknown_events=sum(event.count for event in report.unknown_events),
        overview=_overview_view(sites, limits, {finding.site for finding in findings}) if sites else None,
    )


def summary_line(report: Report) -> str:
    """One line saying what the report holds: what changed since the last report when the run has a
    memory, then the counts per severity and the most serious finding; or that all was quiet. A report
    that covers several sites leads with how many of them failed, and names the top finding's site."""
    counts = report.counts
    site = clean(report.site, 60)
    changed = changes_line(report.changes) if report.changes else ""
    failed = sum(1 for overview in report.sites if overview.error)
    lead = f"{failed} of {len(report.sites)} sites failed. " if failed else ""
    if not report.findings:
        quiet = f"{lead}All quiet on {site}: no findings, {report.total_events} events reviewed."
        return f"{quiet} {changed.capitalize()} since the last report." if changed else quiet
    parts = [f"{counts.severe} severe", f"{counts.medium} medium", f"{counts.low} low"]
    noun = "finding" if counts.total == 1 else "findings"
    line = f"{', '.join(parts)} {noun} on {site}"
    if changed:
        line = f"{changed} on {site}: {', '.join(parts)} {noun}"
    top = min(report.findings, key=finding_order)
    return f"{lead}{line}. Top: {site_prefix(top.site)}{clean(top.title, 100)}"


def site_prefix(label: str | None) -> str:
    """`hq/branch: ` before a line about a finding of a report that covers several sites; empty in a
    single-site report, whose findings name no site."""
    return f"{clean(label)}: " if label else ""


def site_order(site: SiteOverview) -> tuple[bool, int, int, int]:
    """The order of the sites in an overview (sort key): failed first, then the most severe, medium and
    low findings; ties keep the report's order."""
    counts = site.counts
    return site.error is None, -counts.severe, -counts.medium, -counts.low


def sites_line(sites: list[SiteOverview]) -> str:
    """How many sites a report covers and which failed, naming the first FAILED_NAMED of them in the
    overview's order: `3 sites, 1 failed: shop/default (login refused)`, `3 sites, all reported`."""
    noun = "site" if len(sites) == 1 else "sites"
    failed = [site for site in sorted(sites, key=site_order) if site.error]
    if not failed:
        return f"{len(sites)} {noun}, all reported"
    named, more = bounded(failed, FAILED_NAMED)
    names = ", ".join(f"{clean(site.label)} ({clean(site.error, ERROR_SHORT_MAX)})" for site in named)
    return f"{len(sites)} {noun}, {len(failed)} failed: {names}" + (f" and {more} more" if more else "")


def changes_line(changes: Changes) -> str:
    """What changed since the last report, in words: `2 new (1 severe), 3 ongoing, 1 resolved`; empty
    when nothing is new, ongoing or resolved."""
    parts = []
    if changes.new:
        parts.append(f"{changes.new} new" + (f" ({changes.new_severe} severe)" if changes.new_severe else ""))
    if changes.ongoing:
        changed = f" ({changes.severity_changed} changed severity)" if changes.severity_changed else ""
        parts.append(f"{changes.ongoing} ongoing{changed}")
    if changes.resolved:
        parts.append(f"{changes.resolved} resolved")
    return ", ".join(parts)


def is_ongoing(finding: Finding) -> bool:
    """True for a finding the last delivered report listed already (never without a memory)."""
    return finding.status is not None and finding.status.kind == "ongoing"


def finding_order(finding: Finding) -> tuple[int, bool]:
    """The order findings are shown in (sort key): most serious first, and within a severity what is
    new before what goes on."""
    return -finding.severity.rank, is_ongoing(finding)


def _select_findings(findings: list[Finding], detail: str) -> tuple[list[Finding], int]:
    """Findings shown at this detail level (most serious first) and how many the level hides."""
    ordered = sorted(findings, key=finding_order)
    if detail != "low":
        return ordered, 0
    shown = [finding for finding in ordered if finding.severity.rank >= Severity.MEDIUM.rank]
    return shown, len(ordered) - len(shown)


def detail_anchor(finding: Finding) -> str:
    """The HTML id of a finding's detail heading: `f-` and its id, with anything outside the few
    characters that need no escaping in an id or a URL fragment replaced (analyzer ids are hex)."""
    return "f-" + _NOT_ANCHOR.sub("-", clean(finding.id))


def format_short(moment: datetime) -> str:
    """`Jan 24 14:05`: the year is left out where the report header already gives it (the moment must
    already be in the display timezone)."""
    return f"{_MONTHS[moment.month - 1]} {moment.day} {moment:%H:%M}"


def format_since(moment: datetime, later: datetime) -> str:
    """`Jan 22 08:00`, or `Dec 30, 2025 08:00` when `moment` is in an earlier year than `later` (the
    moment it is read against); both already in the display timezone."""
    return format_short(moment) if moment.year == later.year else format_time(moment)


def ordinal(number: int) -> str:
    """`1st`, `2nd`, `3rd`, `4th`, `11th`, `22nd`."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def format_when(first: datetime, last: datetime) -> str:
    """A short span for one line: `Jan 24 14:05`, `Jan 24 14:05–16:30`, or `Jan 24 23:10 – Jan 25
    02:37` (both moments already in the display timezone)."""
    if first.date() != last.date():
        return f"{format_short(first)} – {format_short(last)}"
    start = format_short(first)
    return start if f"{first:%H:%M}" == f"{last:%H:%M}" else f"{start}–{last:%H:%M}"


def _attention_view(finding: Finding, number: int | None, zone: ZoneInfo, *, brief: bool) -> AttentionView:
    """One "Needs attention" or "Still going on" line; it links to the detail only when the detail is
    shown."""
    return AttentionView(
        number=number,
        anchor=detail_anchor(finding) if number else None,
        severity=finding.severity.value,
        severity_label=finding.severity.value.upper(),
        colour=SEVERITY_COLOURS[finding.severity.value],
        title=clean(finding.title, TITLE_MAX),
        when=format_when(finding.first_seen.astimezone(zone), finding.last_seen.astimezone(zone)),
        status=_status_view(finding, zone),
        brief=brief,
        site=clean(finding.site or ""),
    )


def _status_view(finding: Finding, zone: ZoneInfo) -> StatusView | None:
    """A finding's status in words, its times in the display timezone; None without a memory."""
    status = finding.status
    if status is None:
        return None
    previous = status.previous_severity
    change = ""
    if previous is not None and previous is not finding.severity:
        verb = "raised" if finding.severity.rank > previous.rank else "lowered"
        change = f"severity {verb} from {previous.value}"
    note = ""
    if status.kind == "ongoing":
        since = format_since(status.since.astimezone(zone), finding.last_seen.astimezone(zone))
        note = f"since {since} ({ordinal(status.report)} report)"
    elif status.recurred_after is not None:
        resolved = format_since(status.recurred_after.astimezone(zone), finding.first_seen.astimezone(zone))
        note = f"happened before, resolved {resolved}"
    return StatusView(kind=status.kind, word=status.kind.upper(), colour=STATUS_COLOURS[status.kind],
                      note=note, change=change)


def _resolved_view(incident: ResolvedIncident, zone: ZoneInfo, until: datetime) -> ResolvedView:
    """One line of "Resolved since the last report"; `how` may quote a controller string, so it is
    cleaned like a title."""
    resolved_at = incident.resolved_at.astimezone(zone)
    return ResolvedView(
        severity=incident.severity.value,
        title=clean(incident.title, TITLE_MAX),
        how=clean(incident.how, TITLE_MAX),
        since=format_since(incident.since.astimezone(zone), resolved_at),
        reports=incident.reports,
        resolved_at=format_since(resolved_at, until),
        site=clean(incident.site or ""),
    )


def _trends_view(trends: Trends, zone: ZoneInfo) -> TrendsView | None:
    """The trend lines, and the last reports' findings per severity as a chart, one column per report
    labelled with its end in the display timezone; None when there is nothing to compare."""
    history = trends.history[-TREND_COLUMNS:]
    if not trends.lines and len(history) < 2:
        return None
    lines, lines_more = bounded(trends.lines, TREND_LINES_MAX)
    chart = None
    if len(history) >= 2:
        labels = [format_time(point.until.astimezone(zone)) for point in history]
        sums = [{name: getattr(point.counts, name) for name in ("severe", "medium", "low")}
                for point in history]
        chart = stacked_chart(labels, sums, labels[0], labels[-1])
    return TrendsView(lines=[clean(line.text, NOTE_MAX) for line in lines], lines_more=lines_more,
                      compared=trends.compared, chart=chart)


def _fold(findings: list[Finding]) -> list[FoldedView]:
    """Count findings per rule and severity: most serious first, then most frequent, then in the
    order the findings came.

    A title names its subject ("Office AP lost contact"), so it labels the group only when every
    finding of the group has the same one; otherwise the rule id, made readable, does.
    """
    groups: dict[tuple[Severity, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.severity, finding.rule_id), []).append(finding)
    folded = []
    for (severity, rule_id), members in groups.items():
        titles = {member.title for member in members}
        label = titles.pop() if len(titles) == 1 else _readable(rule_id)
        folded.append(FoldedView(label=clean(label, FOLDED_LABEL_MAX), rule_id=clean(rule_id),
                                 severity=severity.value, count=len(members)))
    return sorted(folded, key=lambda group: (-Severity(group.severity).rank, -group.count))


def _readable(rule_id: str) -> str:
    """A rule id as words: `ips_threat_blocked` → `IPS threat blocked`."""
    text = " ".join(word.upper() if word in _ACRONYMS else word for word in rule_id.split("_") if word)
    return text[:1].upper() + text[1:]


def _finding_view(finding: Finding, number: int, zone: ZoneInfo, limits: Limits) -> FindingView:
    """Clean and bound one finding (`limits.samples` is 0 below detail level high)."""
    steps, steps_more = bounded(finding.remediation, STEPS_MAX)
    affected, affected_more = bounded(finding.affected, limits.affected)
    details, details_more = bounded(list(finding.details.items()), DETAILS_MAX)
    samples, samples_more = bounded(finding.samples, limits.samples) if limits.samples else ([], 0)
    timeline, timeline_more = bounded(finding.timeline, limits.timeline)
    # The rules it was built from, when correlation built it from others than its own.
    sources = [rule_id for rule_id in finding.rule_ids if rule_id != finding.rule_id][:RULE_IDS_MAX]
    return FindingView(
        number=number,
        anchor=detail_anchor(finding),
        id=clean(finding.id),
        rule_id=clean(finding.rule_id),
        rule_ids=[clean(rule_id) for rule_id in sources],
        severity=finding.severity.value,
        severity_label=finding.severity.value.upper(),
        colour=SEVERITY_COLOURS[finding.severity.value],
        category=finding.category.value.capitalize(),
        title=clean(finding.title, TITLE_MAX),
        explanation=clean(finding.explanation, TEXT_MAX),
        remediation=[clean(step, STEP_MAX) for step in steps],
        remediation_more=steps_more,
        affected=[f"{clean(item.label, NAME_MAX)} · {item.kind}" for item in affected],
        affected_more=affected_more,
        first_seen=format_time(finding.first_seen.astimezone(zone)),
        last_seen=format_time(finding.last_seen.astimezone(zone)),
        count=finding.count,
        details=[(clean(key, 60), clean("" if value is None else value, 200)) for key, value in details],
        details_more=details_more,
        samples=[
            SampleView(
                time=format_time(sample.time.astimezone(zone)),
                key=clean(sample.key),
                message=clean(sample.message, MESSAGE_MAX),
            )
            for sample in samples
        ],
        samples_more=samples_more,
        timeline=[
            TimelineEntryView(format_short(entry.time.astimezone(zone)), clean(entry.text, MESSAGE_MAX))
            for entry in timeline
        ],
        timeline_more=timeline_more,
        status=_status_view(finding, zone),
        site=clean(finding.site or ""),
    )


def _is_healthy(device: DeviceHealth) -> bool:
    return device.state == "connected" and not device.problems


def _device_order(device: DeviceHealth) -> tuple[bool, str]:
    """Devices with problems first, then by name."""
    return _is_healthy(device), device.name.lower()


def _device_view(device: DeviceHealth) -> DeviceView:
    """Clean one device health row and compose its load column."""
    load = []
    if device.cpu_percent is not None:
        load.append(f"CPU {device.cpu_percent:.0f}%")
    if device.mem_percent is not None:
        load.append(f"mem {device.mem_percent:.0f}%")
    if device.temperature_c is not None:
        load.append(f"{device.temperature_c:.0f} °C")
    upgrade = ""
    if device.upgradable:
        upgrade = f"upgrade to {clean(device.upgrade_to, 40)}" if device.upgrade_to else "upgrade available"
    return DeviceView(
        name=clean(device.name),
        mac=clean(device.mac, 40),
        model=clean(device.model or device.device_type or "", 60),
        state=clean(device.state, 40),
        healthy=_is_healthy(device),
        uptime=format_uptime(device.uptime_seconds),
        version=clean(device.version or "", 40),
        upgrade=upgrade,
        load=", ".join(load),
        problems=[clean(problem, NOTE_MAX) for problem in device.problems[:STEPS_MAX]],
    )


def _controller_label(report: Report) -> str:
    """`name (Network 9.0.114)`, or the controller URL when it has no name."""
    controller = report.controller
    label = clean(controller.name or controller.url)
    if controller.version:
        label += f" (Network {clean(controller.version, 40)})"
    return label


def _missing_sources(report: Report) -> list[str]:
    """What the controller could not provide, in plain words (`models.source_gaps`), bounded."""
    shown, more = bounded([clean(gap, 400) for gap in source_gaps(report.sources)], SOURCES_MAX)
    return shown + ([f"… and {more} more"] if more else [])


def _overview_view(sites: list[SiteOverview], limits: Limits, detailed: set[str | None]) -> OverviewView:
    """The overview of `sites` (already in overview order), its rows bounded by `limits.sites`; the
    sites in `detailed` (labels of findings shown in detail) link to their heading among the findings.
    Sites that share a label share one heading, so an anchor is the label's first position."""
    anchors: dict[str, str] = {}
    for position, site in enumerate(sites):
        anchors.setdefault(site.label, f"s-{position}")
    rows, more = bounded(sites, limits.sites)
    return OverviewView(
        line=sites_line(sites),
        sites=len(sites),
        failed=sum(1 for site in sites if site.error),
        rows=[_site_row(site, anchors[site.label] if site.label in detailed else None) for site in rows],
        more=more,
    )


def _site_row(site: SiteOverview, anchor: str | None) -> SiteRowView:
    """One overview row; a site without a worst finding is quiet."""
    severity = site.worst_severity.value if site.worst and site.worst_severity else ""
    return SiteRowView(
        label=clean(site.label),
        anchor=anchor,
        severe=site.counts.severe,
        medium=site.counts.medium,
        low=site.counts.low,
        new=site.new,
        worst=clean(site.worst, TITLE_MAX) if site.worst else "",
        worst_severity=severity,
        worst_label=severity.upper(),
        colour=SEVERITY_COLOURS.get(severity, SEVERITY_COLOURS["other"]),
        error=clean(site.error, NOTE_MAX) if site.error else "",
    )


def _hours(hours: float) -> str:
    """`24 hours`, `1.5 hours`, `7 days`."""
    if hours >= 48 and hours % 24 == 0:
        return f"{hours / 24:g} days"
    return f"{hours:g} hour" + ("" if hours == 1 else "s")


def build_timeline(report: Report, zone: ZoneInfo) -> Timeline | None:
    """Merge the hourly buckets into at most TIMELINE_COLUMNS columns with pixel heights per severity.

    Hours without events are filled in so the chart's x axis is even; None when there were no events.
    """
    buckets = [bucket for bucket in report.events_per_hour if bucket.total]
    if not buckets:
        return None
    start = min(report.window.since, min(bucket.hour for bucket in buckets))
    start = start.replace(minute=0, second=0, microsecond=0)
    end = max(report.window.until, max(bucket.hour for bucket in buckets) + timedelta(hours=1))
    hours = min(_TIMELINE_MAX_HOURS, max(1, math.ceil((end - start).total_seconds() / 3600)))
    step = math.ceil(hours / TIMELINE_COLUMNS)
    sums = [dict.fromkeys(SEVERITY_COLOURS, 0) for _ in range(math.ceil(hours / step))]
    for bucket in buckets:
        index = int((bucket.hour - start).total_seconds() // 3600) // step
        if 0 <= index < len(sums):
            for severity in SEVERITY_COLOURS:
                sums[index][severity] += getattr(bucket, severity)
    labels = [format_time((start + timedelta(hours=index * step)).astimezone(zone)) for index in
              range(len(sums))]
    chart = stacked_chart(labels, sums, format_time(start.astimezone(zone)),
                          format_time(end.astimezone(zone)))
    return Timeline(**vars(chart), hours_per_column=step)


def stacked_chart(labels: list[str], sums: list[dict[str, int]], start: str, end: str) -> Chart:
    """A bar chart with one column per label, stacking its counts per severity (`sums`, keyed by names
    of SEVERITY_COLOURS, most serious first); the tallest column is TIMELINE_HEIGHT_PX high."""
    peak = max(sum(column.values()) for column in sums)
    columns = [_column(label, column, peak) for label, column in zip(labels, sums, strict=True)]
    return Chart(
        columns=columns,
        height=TIMELINE_HEIGHT_PX,
        start=start,
        end=end,
        peak=peak,
        peak_label=max(columns, key=lambda column: column.total).label,
        totals={severity: sum(column[severity] for column in sums) for severity in sums[0]},
        spark=_sparkline([column.total for column in columns], peak),
    )


def _column(label: str, sums: dict[str, int], peak: int) -> Column:
    """One chart column; segments are stacked most serious on top, each at least 2 px when present.

    Rounding up small segments can make a full column a few pixels taller than the chart; the cell
    grows with it, which is harmless.
    """
    segments = []
    for severity, count in sums.items():
        if count:
            height = max(2, round(count / peak * TIMELINE_HEIGHT_PX))
            segments.append(Segment(severity, SEVERITY_COLOURS[severity], count, height))
    return Column(label=label, total=sum(sums.values()), segments=segments)


def _sparkline(values: list[int], peak: int) -> str:
    """Unicode block characters for the text and Markdown reports (a space for an empty period)."""
    blocks = "▁▂▃▄▅▆▇█"
    return "".join(
        " " if not value else blocks[round(value / peak * (len(blocks) - 1))] for value in values
    )

