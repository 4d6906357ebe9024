"""Hand-built `Report` objects for the renderer tests: a realistic busy day, hostile strings, a quiet day,
(`with_memory`) the same reports as a run with an incident memory delivers them, and
(`make_merged_report`) one report that covers several sites."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from unifi_scanner.models import (
    Affected,
    Category,
    Changes,
    ControllerInfo,
    DeviceHealth,
    EventSample,
    Finding,
    FindingStatus,
    HourBucket,
    Report,
    ResolvedIncident,
    Severity,
    SeverityCounts,
    SiteOverview,
    SourceOutcome,
    SourceStatus,
    TimelineEntry,
    TrendLine,
    TrendPoint,
    Trends,
    UnknownEvent,
    Window,
)

UNTIL = datetime(2026, 1, 24, 23, 30, tzinfo=UTC)
SINCE = UNTIL - timedelta(hours=24)
HOSTILE = "<script>alert('x')</script>\"quoted\"\r\nBcc: victim@example.com"
BIG_MESSAGE = "A" * 1_000_000


def make_finding(index: int, severity: Severity, *, title: str | None = None, samples: int = 3,
                 category: Category = Category.CONNECTIVITY, affected_name: str = "Office AP",
                 rule_id: str | None = None, timeline: int = 3) -> Finding:
    """One finding with remediation, affected devices, details, event samples and, like a correlated
    incident, the rules it was built from and a timeline of `timeline` entries 20 minutes apart."""
    first = SINCE + timedelta(hours=index % 20, minutes=7)
    return Finding(
        id=f"{severity.value}-{index:04d}",
        rule_id=rule_id or f"rule_{severity.value}_{index}",
        severity=severity,
        category=category,
        title=title or f"{severity.value.capitalize()} finding number {index}",
        explanation=(
            f"The access point {affected_name} stopped answering the controller {index + 2} times. "
            "Clients connected to it lost Wi-Fi each time until it came back."
        ),
        remediation=[
            "Check the PoE switch port and the cable to the access point.",
            "Look at the device's uplink in the UniFi app (Devices > Uplink).",
            "If it keeps happening, replace the cable or move the AP to another port.",
        ],
        affected=[
            Affected(kind="device", id=f"f0:9f:c2:00:00:{index % 256:02x}", name=affected_name),
            Affected(kind="ip", id=f"192.168.1.{index % 250 + 2}"),
        ],
        first_seen=first,
        last_seen=first + timedelta(hours=2),
        count=index + 2,
        event_ids=[f"evt-{index}-{n}" for n in range(samples)],
        samples=[
            EventSample(
                id=f"evt-{index}-{n}", time=first + timedelta(minutes=10 * n), key="EVT_AP_Lost_Contact",
                message=f"AP[{affected_name}] was disconnected (sample {n})",
            )
            for n in range(samples)
        ],
        details={"threshold": 3, "window_minutes": 60, "uplink": "USW-24-PoE port 7"},
        incident="device_outage" if timeline else None,
        rule_ids=["device_lost_contact", "device_restarted"] if timeline else [],
        timeline=[
            TimelineEntry(time=first + timedelta(minutes=20 * n),
                          text=f"{affected_name} {'came back' if n % 2 else 'lost contact'} (step {n})")
            for n in range(timeline)
        ],
    )


def make_report(findings: list[Finding] | None = None, *, devices: int = 6, unknown: int = 4,
                site: str = "default", first_run: bool = True, total_events: int = 2_345) -> Report:
    """A realistic report: findings of every severity, device health, hour buckets, unknown events,
    notes and unsupported sources."""
    if findings is None:
        severities = [Severity.SEVERE] * 2 + [Severity.MEDIUM] * 3 + [Severity.LOW] * 3
        findings = [make_finding(index, severity) for index, severity in enumerate(severities)]
    counts = SeverityCounts(
        severe=sum(f.severity is Severity.SEVERE for f in findings),
        medium=sum(f.severity is Severity.MEDIUM for f in findings),
        low=sum(f.severity is Severity.LOW for f in findings),
    )
    health = [
        DeviceHealth(
            mac=f"78:45:58:00:00:{n:02x}", name=f"Switch {n}", model="USW-24-PoE", device_type="usw",
            state="connected", uptime_seconds=86400 * 3 + 3600 * n, version="7.1.26", cpu_percent=12.0 + n,
            mem_percent=40.0, temperature_c=48.0,
        )
        for n in range(devices)
    ]
    if devices:
        health.append(DeviceHealth(
            mac="f0:9f:c2:00:00:01", name="Office AP", model="U6-Lite", device_type="uap",
            state="disconnected", version="6.5.28", upgradable=True, upgrade_to="6.6.77",
            problems=["Disconnected since 14:02", "Firmware 6.5.28 is outdated"],
        ))
    buckets = [
        HourBucket(hour=SINCE.replace(minute=0) + timedelta(hours=h), severe=h % 3, medium=(h * 7) % 5,
                   low=h % 4, other=10 + (h * 13) % 40)
        for h in range(24)
    ]
    return Report(
        site=site,
        controller=ControllerInfo(url="https://192.168.1.1", type="unifi_os", auth="api_key",
                                  version="9.0.114", name="UDM-Pro"),
        window=Window(since=SINCE, until=UNTIL),
        generated_at=UNTIL + timedelta(seconds=42),
        first_run=first_run,
        lookback_hours=24.0 if first_run else None,
        notes=["IPS signatures are not available from this controller: threats are grouped by key."],
        sources=[
            SourceOutcome(name="system_log", status=SourceStatus.OK, count=2000),
            SourceOutcome(name="legacy_events", status=SourceStatus.UNSUPPORTED, detail="v2 log available"),
            SourceOutcome(name="legacy_ips", status=SourceStatus.UNSUPPORTED, detail="404 on Network 9"),
            SourceOutcome(name="alarms", status=SourceStatus.FAILED, detail="HTTP 500"),
            SourceOutcome(name="rogue_aps", status=SourceStatus.EMPTY),
        ],
        total_events=total_events,
        findings=findings,
        counts=counts,
        muted_findings=1,
        device_health=health,
        events_per_hour=buckets,
        events_per_category={"connectivity": 120, "wireless": 1900, "security": 25},
        unknown_events=[
            UnknownEvent(key=f"EVT_SW_Unknown_{n}", count=10 - n, sample_message=f"Something odd {n}")
            for n in range(unknown)
        ],
    )


ONGOING_SINCE = SINCE - timedelta(days=2, hours=3)
"""When the ongoing findings of `with_memory` began: 20:30 UTC on Jan 21, 21:30 in Berlin."""
TREND_TEXTS = ("Events: 98/h, 1.2× the usual (84/h); previous report 80/h",
               "IPS blocks: 412/h, 4.1× the usual (84/h); previous report 95/h")


def make_resolved(index: int, severity: Severity = Severity.SEVERE, *, title: str | None = None,
                  how: str = "back online", reports: int = 3) -> ResolvedIncident:
    """An incident the last report listed open, over two hours before this window ended."""
    return ResolvedIncident(
        id=f"resolved-{index:04d}", rule_id="device_lost_contact", incident="device_outage",
        title=title or f"Resolved incident number {index}", severity=severity, category=Category.CONNECTIVITY,
        since=ONGOING_SINCE, resolved_at=UNTIL - timedelta(hours=2), reports=reports, how=how,
    )


def make_trends(points: int = 8) -> Trends:
    """Two trend lines and `points` reports of history, a day apart, the last one ending with this window."""
    history = [
        TrendPoint(until=UNTIL - timedelta(days=points - 1 - n), hours=24, events=2000 + 50 * n,
                   counts=SeverityCounts(severe=n % 3, medium=(n * 2) % 5, low=3 + n % 4))
        for n in range(points)
    ]
    lines = [
        TrendLine(measure="events", label="Events", per_hour=97.7, previous_per_hour=80.0,
                  usual_per_hour=84.0, ratio=1.16, text=TREND_TEXTS[0]),
        TrendLine(measure="ips_threat_blocked", label="IPS blocks", per_hour=412.0, previous_per_hour=95.0,
                  usual_per_hour=84.0, ratio=4.9, text=TREND_TEXTS[1]),
    ]
    return Trends(compared=max(0, points - 1), lines=lines, history=history)


def with_memory(report: Report, *, ongoing: Iterable[int] = (), previous: dict[int, Severity] | None = None,
                recurred: Iterable[int] = (), resolved: list[ResolvedIncident] | None = None,
                history: int = 8) -> Report:
    """`report` as a run with an incident memory delivers it.

    The findings at the positions in `ongoing` are ONGOING since ONGOING_SINCE in their 4th report
    (`previous` maps positions to their severity in the last report), the rest NEW (those in `recurred`
    after an earlier occurrence resolved a week before); `resolved` lists the incidents over since the
    last report (two by default); the trends compare it with `history` reports.
    """
    ongoing, recurred, previous = set(ongoing), set(recurred), previous or {}
    for index, finding in enumerate(report.findings):
        if index in ongoing:
            finding.status = FindingStatus(kind="ongoing", since=ONGOING_SINCE, report=4,
                                           previous_severity=previous.get(index))
        else:
            earlier = SINCE - timedelta(days=7) if index in recurred else None
            finding.status = FindingStatus(kind="new", since=finding.first_seen, recurred_after=earlier)
    if resolved is None:
        resolved = [make_resolved(1), make_resolved(2, Severity.MEDIUM)]
    report.resolved = resolved
    new = [finding for index, finding in enumerate(report.findings) if index not in ongoing]
    old = [finding for index, finding in enumerate(report.findings) if index in ongoing]
    report.changes = Changes(
        new=len(new), new_severe=sum(finding.severity is Severity.SEVERE for finding in new),
        ongoing=len(old), ongoing_severe=sum(finding.severity is Severity.SEVERE for finding in old),
        resolved=len(report.resolved), severity_changed=len(previous),
    )
    report.trends = make_trends(history)
    return report


CONTROLLERS = ("hq", "shop", "lab", "depot")
SITE_ERROR = "login refused: HTTP 401 Unauthorized"
_CYCLE = (Severity.LOW, Severity.MEDIUM, Severity.SEVERE)


def site_label(position: int, controllers: int) -> str:
    """The label of the site at `position`: its controller, taken in turn, and its site name."""
    controller = CONTROLLERS[position % controllers]
    return f"{controller}/{'default' if position < controllers else f'branch-{position // controllers}'}"


def make_merged_report(sites: int = 3, failed: int = 1, *, findings: int = 4, controllers: int = 2,
                       memory: bool = False) -> Report:
    """One report that covers `sites` sites on `controllers` controllers, as the orchestration merges
    the reports of its sites.

    The last `failed` sites could not be reported (SITE_ERROR). Each other site has `findings`
    findings whose severities cycle from a different start per site, so the overview's order (failed
    first, then most severe) is not the report's; the findings are interleaved across sites, as a
    merge by severity would leave them. Each reported site has two devices, a note and, with `memory`,
    a resolved incident (and its first finding ongoing), all named by its label.
    """
    healthy = sites - failed
    per_site: list[list[Finding]] = []
    overviews = []
    for position in range(sites):
        label = site_label(position, controllers)
        controller, name = label.split("/")
        if position >= healthy:
            overviews.append(SiteOverview(controller=controller, site=name, label=label, error=SITE_ERROR))
            continue
        own = [make_finding(position * 100 + k, _CYCLE[(position + k) % 3], timeline=1, samples=1)
               for k in range(findings)]
        for finding in own:
            finding.site = label
        per_site.append(own)
        worst = min(own, key=lambda finding: -finding.severity.rank) if own else None
        overviews.append(SiteOverview(
            controller=controller, site=name, label=label, counts=SeverityCounts.of(own), new=len(own),
            resolved=int(memory), events=100 + position, worst=worst.title if worst else None,
            worst_severity=worst.severity if worst else None))
    merged = [finding for k in range(findings) for own in per_site for finding in own[k:k + 1]]
    report = make_report(merged, site=f"{sites} sites on {controllers} controllers")
    labels = [overview.label for overview in overviews[:healthy]]
    report.controller_name = CONTROLLERS[0]
    report.sites = overviews
    report.sources = []
    report.notes = [f"{label}: IPS signatures are not available from this controller." for label in labels]
    report.device_health = [
        DeviceHealth(mac=f"78:45:58:00:{position:02x}:{n:02x}", name=f"{label} · {name}", state=state,
                     problems=["Disconnected since 14:02"] if state != "connected" else [])
        for position, label in enumerate(labels)
        for n, (name, state) in enumerate((("Core Switch", "connected"), ("Office AP", "disconnected")))
    ]
    if memory:
        resolved = [make_resolved(index) for index in range(len(labels))]
        for incident, label in zip(resolved, labels, strict=True):
            incident.site = label
        # Interleaved, the report starts with each site's first finding.
        with_memory(report, ongoing=range(len(per_site) if findings else 0), resolved=resolved)
        report.trends = None
    return report
