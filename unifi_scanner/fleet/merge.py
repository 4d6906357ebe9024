"""Several sites' reports as one (`UNIFI_REPORT_PER=run` or `controller`).

The merged report is an ordinary `Report`, so rendering and delivery need nothing new: an overview
line per site (`Report.sites`, failed sites included), every finding and resolved incident named by
its site (`controller/site`, which also prefixes its id, since ids are unique only within a site), the
counts, charts and tables summed or concatenated, and each site's notes and missing sources as notes
naming the site. Trends stay with each site's own report.
"""

from __future__ import annotations

from dataclasses import dataclass

from unifi_scanner.models import (
    Changes,
    Finding,
    HourBucket,
    Report,
    SeverityCounts,
    SiteOverview,
    UnknownEvent,
    Window,
    source_gaps,
)

ALL_SITES = "*"
"""The site of a failure that took every site of a controller (it could not log in or list them)."""


@dataclass
class SitePart:
    """One site of a merged report: its report, or why it has none."""

    controller: str
    site: str
    report: Report | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        """`controller/site`, how the merged report names the site."""
        return site_label(self.controller, self.site)


def site_label(controller: str, site: str) -> str:
    """`controller/site`; the controller's name alone for a failure of all its sites (`*`)."""
    return controller if site == ALL_SITES else f"{controller}/{site}"


def overview(part: SitePart) -> SiteOverview:
    """The site's line in the merged report's overview."""
    report = part.report
    if report is None:
        return SiteOverview(controller=part.controller, site=part.site, label=part.label, error=part.error)
    worst = report.findings[0] if report.findings else None
    changes = report.changes or Changes()
    return SiteOverview(
        controller=part.controller, site=part.site, label=part.label, counts=report.counts,
        new=changes.new, resolved=changes.resolved, events=report.total_events,
        worst=worst.title if worst else None, worst_severity=worst.severity if worst else None,
    )


def merge(parts: list[SitePart]) -> Report:
    """One report of every site that has one, with an overview line for every site (failed ones too).

    Needs at least one part with a report.
    """
    reports = [(part, part.report) for part in parts if part.report is not None]
    if not reports:
        raise ValueError("nothing to merge: no site has a report")
    first = reports[0][1]
    findings = sorted(
        (finding.model_copy(update={"site": part.label, "id": f"{part.label}/{finding.id}"})
         for part, report in reports for finding in report.findings),
        key=_finding_order)
    resolved = [item.model_copy(update={"site": part.label, "id": f"{part.label}/{item.id}"})
                for part, report in reports for item in report.resolved]
    controllers = list(dict.fromkeys(part.controller for part in parts))
    notes = [f"{part.label}: {note}" for part, report in reports
             for note in [*report.notes, *source_gaps(report.sources)]]
    changes = [report.changes for _, report in reports if report.changes is not None]
    return Report(
        site=f"{len(parts)} sites" + (f" on {len(controllers)} controllers" if len(controllers) > 1 else ""),
        controller=first.controller,
        controller_name=controllers[0] if len(controllers) == 1 else f"{len(controllers)} controllers",
        window=Window(since=min(report.window.since for _, report in reports),
                      until=max(report.window.until for _, report in reports)),
        generated_at=max(report.generated_at for _, report in reports),
        first_run=all(report.first_run for _, report in reports),
        lookback_hours=max((report.lookback_hours or 0 for _, report in reports), default=0) or None,
        notes=notes,
        total_events=sum(report.total_events for _, report in reports),
        # Each site's own counts: a site waiting for this report may keep only its most serious findings.
        findings=findings, counts=SeverityCounts.added(report.counts for _, report in reports),
        muted_findings=sum(report.muted_findings for _, report in reports),
        device_health=[device.model_copy(update={"name": f"{part.label} · {device.name}"})
                       for part, report in reports for device in report.device_health],
        events_per_hour=_hours(report.events_per_hour for _, report in reports),
        events_per_category=_sum(report.events_per_category for _, report in reports),
        events_per_rule=_sum(report.events_per_rule for _, report in reports),
        unknown_events=_unknown(report.unknown_events for _, report in reports),
        resolved=resolved,
        changes=Changes(**_sum(item.model_dump(exclude={"first_report"}) for item in changes),
                        first_report=all(item.first_report for item in changes)) if changes else None,
        sites=sorted((overview(part) for part in parts), key=_overview_order),
    )


def _finding_order(finding: Finding) -> tuple:
    """Most serious first, as each site's report orders its own."""
    return (-finding.severity.rank, -finding.count, -finding.last_seen.timestamp(), finding.title)


def _overview_order(line: SiteOverview) -> tuple:
    """Failed sites first, then the sites with the most serious findings."""
    counts = line.counts
    return (line.error is None, -counts.severe, -counts.medium, -counts.low, line.label)


def _sum(mappings) -> dict[str, int]:
    """Counts per key over several mappings, largest first."""
    total: dict[str, int] = {}
    for mapping in mappings:
        for key, value in mapping.items():
            total[key] = total.get(key, 0) + value
    return dict(sorted(total.items(), key=lambda item: (-item[1], item[0])))


def _hours(bucket_lists) -> list[HourBucket]:
    """The sites' events per hour, added up hour by hour."""
    hours: dict = {}
    for buckets in bucket_lists:
        for bucket in buckets:
            into = hours.setdefault(bucket.hour, HourBucket(hour=bucket.hour))
            for name in ("severe", "medium", "low", "other"):
                setattr(into, name, getattr(into, name) + getattr(bucket, name))
    return [hours[hour] for hour in sorted(hours)]


def _unknown(event_lists) -> list[UnknownEvent]:
    """The sites' unknown event keys, counts added up, most frequent first."""
    merged: dict[str, UnknownEvent] = {}
    for events in event_lists:
        for event in events:
            known = merged.get(event.key)
            merged[event.key] = event if known is None else known.model_copy(
                update={"count": known.count + event.count})
    return sorted(merged.values(), key=lambda event: (-event.count, event.key))
