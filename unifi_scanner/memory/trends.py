"""Trends: this window against the reports before it, per hour, so "IPS blocks 4× the usual" stands out.

Each delivered report leaves a `ReportSummary` in the memory (the last `MAX_SUMMARIES`). A new report
is compared per hour of window with the previous report and with the median of the last
`TREND_REPORTS` ("the usual"), for its events in all, per category and per busy rule. Only the
measures that moved a lot are listed, so the section stays a few lines.
"""

from __future__ import annotations

from statistics import median

from unifi_scanner.memory.model import MAX_RULE_VOLUMES, TREND_REPORTS, ReportSummary
from unifi_scanner.models import Category, Report, TrendLine, TrendPoint, Trends

USUAL_AFTER = 3
"""Earlier reports needed before a median counts as "the usual" (before that: the previous report only)."""
NOTABLE = 2.0
"""How far from the usual (or the previous report) a measure must move to be listed: 2× up or down."""
NOTABLE_EVENTS = 20
"""Events below which a change is noise (in this window, or at the usual rate over its length)."""
MAX_LINES = 6
"""Trend lines in a report: the total, then the measures that moved most."""

RULE_LABELS = {
    "ips_threat_blocked": "IPS blocks",
    "ips_threat_detected": "IPS detections not blocked",
    "firewall_block": "Firewall blocks",
    "admin_login_failed": "Failed admin logins",
    "device_lost_contact": "Devices losing contact",
    "device_reconnected": "Devices reconnecting",
    "client_churn": "Client connects and roams",
    "wan_down": "WAN drops",
    "channel_changed": "Channel changes",
    "wifi_interference": "Wi-Fi interference events",
}
"""Plain names of the measures an admin most often asks about; other rules are named from their id."""


def summarize(report: Report) -> ReportSummary:
    """The numbers of one report that later reports compare with."""
    hours = max((report.window.until - report.window.since).total_seconds() / 3600, 1 / 60)
    categories: dict[str, int] = {}
    for finding in report.findings:
        categories[finding.category.value] = categories.get(finding.category.value, 0) + 1
    busiest = sorted(report.events_per_rule.items(), key=lambda item: (-item[1], item[0]))[:MAX_RULE_VOLUMES]
    return ReportSummary(
        until=report.window.until, hours=round(hours, 3), events=report.total_events,
        counts=report.counts, categories=categories, event_categories=dict(report.events_per_category),
        rules={rule: count for rule, count in busiest if count},
    )


def compare(current: ReportSummary, earlier: list[ReportSummary]) -> Trends:
    """This report's trends against the earlier delivered ones (oldest first).

    The total is always listed once there is a report to compare with; the other measures only when
    they moved by `NOTABLE` or more with at least `NOTABLE_EVENTS` events behind the change.
    """
    recent = earlier[-TREND_REPORTS:]
    history = [TrendPoint(until=s.until, hours=s.hours, events=s.events, counts=s.counts)
               for s in [*recent[-(TREND_REPORTS - 1):], current]]
    if not recent:
        return Trends(compared=0, lines=[], history=history)
    total = _line("events", "Events", current, recent)
    others = [_line(measure, label, current, recent) for measure, label in _measures(current, recent)]
    notable = sorted((line for line in others if _notable(line, current.hours)),
                     key=lambda line: -_swing(line))[: MAX_LINES - 1]
    return Trends(compared=len(recent) if len(recent) >= USUAL_AFTER else 0, lines=[total, *notable],
                  history=history)


def _measures(current: ReportSummary, earlier: list[ReportSummary]) -> list[tuple[str, str]]:
    """Every category and rule that this report or an earlier one counted events for."""
    categories = {name for s in (current, *earlier) for name in s.event_categories if name != "other"}
    rules = {name for s in (current, *earlier) for name in s.rules}
    return ([(f"category:{name}", f"{_category_label(name)} events") for name in sorted(categories)]
            + [(f"rule:{name}", RULE_LABELS.get(name, name.replace("_", " ").capitalize()))
               for name in sorted(rules)])


def _category_label(name: str) -> str:
    """`Security` for a known category, else the name as it is."""
    return name.capitalize() if name in {c.value for c in Category} else name


def _count(summary: ReportSummary, measure: str) -> int:
    """The events one summary counted for a measure (`events`, `category:<name>`, `rule:<id>`)."""
    if measure == "events":
        return summary.events
    family, _, name = measure.partition(":")
    return (summary.event_categories if family == "category" else summary.rules).get(name, 0)


def _line(measure: str, label: str, current: ReportSummary, earlier: list[ReportSummary]) -> TrendLine:
    """One measure per hour now, in the previous report, and usually (median of the earlier ones)."""
    rate = _count(current, measure) / current.hours
    previous = _count(earlier[-1], measure) / earlier[-1].hours
    usual = median(_count(s, measure) / s.hours for s in earlier) if len(earlier) >= USUAL_AFTER else None
    ratio = rate / usual if usual else None
    words = [f"{label}: {_rate(rate)}/h"]
    if usual is not None:
        words.append(f", {_ratio(rate, usual)} ({_rate(usual)}/h over the last {len(earlier)} reports)")
    words.append(f"; previous report {_rate(previous)}/h")
    return TrendLine(measure=measure, label=label, per_hour=round(rate, 3),
                     previous_per_hour=round(previous, 3),
                     usual_per_hour=None if usual is None else round(usual, 3),
                     ratio=None if ratio is None else round(ratio, 2), text="".join(words))


def _baseline(line: TrendLine) -> float:
    """What a line is compared with: the usual once there is one, else the previous report."""
    return line.usual_per_hour if line.usual_per_hour is not None else line.previous_per_hour or 0.0


def _notable(line: TrendLine, hours: float) -> bool:
    """True when the measure moved `NOTABLE`-fold with enough events behind it to mean something."""
    base = _baseline(line)
    if max(line.per_hour, base) * hours < NOTABLE_EVENTS:
        return False
    if base == 0 or line.per_hour == 0:
        return True
    return line.per_hour / base >= NOTABLE or base / line.per_hour >= NOTABLE


def _swing(line: TrendLine) -> float:
    """How far a line moved, up or down, as a factor (for ordering the notable ones)."""
    base = _baseline(line)
    if base == 0 or line.per_hour == 0:
        return float("inf")
    return max(line.per_hour / base, base / line.per_hour)


def _rate(value: float) -> str:
    """`412`, `8.5`, `0.25`: a rate per hour with the precision it deserves."""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.2f}".rstrip("0").rstrip(".") or "0"


def _ratio(rate: float, usual: float) -> str:
    """`4.1× the usual`, `a third of the usual`, `about the usual`."""
    if usual == 0:
        return "none usually"
    factor = rate / usual
    if 0.8 <= factor <= 1.25:
        return "about the usual"
    if factor > 1:
        return f"{factor:.1f}× the usual"
    return f"{factor:.0%} of the usual"
