"""Statuses from memory: what is new, what goes on, what is over, and what to remember if delivered.

`recall` is the memory's reading half. It takes the analyzer's report and the memory of the last
delivered report, and returns the report an admin reads (each finding NEW or ONGOING, the incidents
that ended in a section of their own, the changes and the trends) together with the memory the
commit step will write, if and only if this report is delivered. It writes nothing itself, so a run
that fails or dies after it changes nothing.

How an incident open in the last report ends depends on what it is (`Finding.ends`):

* **recovery** (a device offline, the WAN down, a state check such as overheating): over when this
  window's incident says so (the outage "came back"), when a reconnect or WAN recovery about its subject
  arrives, or when it is absent and the device list shows the device back (or the check no longer
  fires).
* **quiet** (a threat source, failed logins, flapping): over when a whole window and at least
  `UNIFI_QUIET_HOURS` passed without its events.
* **routine** (digests of background volume): forgotten quietly after the same quiet time.

Absence proves nothing when a collection source failed: then open incidents stay open, unreported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from unifi_scanner.analyzer.wording import duration
from unifi_scanner.memory.logins import remember_logins
from unifi_scanner.memory.model import (
    MAX_OPEN,
    MAX_RESOLVED,
    MAX_SUMMARIES,
    IncidentRecord,
    Memory,
)
from unifi_scanner.memory.trends import compare, summarize
from unifi_scanner.models import (
    Changes,
    Finding,
    FindingStatus,
    Report,
    ResolvedIncident,
    Severity,
    SeverityCounts,
    SourceStatus,
)
from unifi_scanner.settings import Settings

ENDED_BY = {"device_reconnected": "device_outage", "wan_recovered": "wan_incident"}
"""Rule findings that end an open incident about their subject: a switch that was offline in the last
report and reconnected in this window is that outage's end, not news of its own."""
MAX_SUBJECTS = 5
"""Subjects remembered per incident (the first of its affected devices, clients and addresses)."""


@dataclass
class Recalled:
    """The report with statuses, and the memory to commit with the checkpoint once it is delivered."""

    report: Report
    memory: Memory


@dataclass
class _Recollection:
    """The working state of one `recall`: the incidents as they will be remembered, and what ended."""

    incidents: dict[str, IncidentRecord]
    now: datetime
    findings: list[Finding] = field(default_factory=list)
    resolved: list[ResolvedIncident] = field(default_factory=list)

    def resolve(self, ident: str, at: datetime, how: str) -> None:
        """List the open incident `ident` as resolved and remember it closed."""
        record = self.incidents[ident]
        self.resolved.append(ResolvedIncident(
            id=ident, rule_id=record.rule_id, incident=record.incident, title=record.title,
            severity=record.severity, category=record.category, since=record.first_seen, resolved_at=at,
            reports=record.reports, how=how,
        ))
        self.incidents[ident] = record.model_copy(update={"open": False, "resolved_at": at})


def recall(report: Report, memory: Memory, settings: Settings) -> Recalled:
    """Mark each finding NEW or ONGOING, list what ended, and work out the memory to commit.

    The memory returned counts this report as delivered; the caller commits it with the checkpoint
    only after delivery succeeded.
    """
    now = report.generated_at
    work = _Recollection(incidents=dict(memory.incidents), now=now)
    current = {finding.id for finding in report.findings}
    for finding in report.findings:
        _status(work, finding)
    _absorb_endings(work, current)
    failed = [s.name for s in report.sources if s.status in (SourceStatus.FAILED, SourceStatus.TRUNCATED)]
    notes = list(report.notes)
    unchecked = 0
    for ident, record in list(work.incidents.items()):
        if not record.open or ident in current:
            continue
        if failed:
            unchecked += 1
            continue
        _close_if_over(work, ident, record, report, settings)
    if unchecked:
        notes.append(f"{unchecked} incident(s) open in the last report could not be re-checked because "
                     f"{', '.join(failed)} failed; they stay open until a report can tell.")
    findings = work.findings
    new = [f for f in findings if f.status is not None and f.status.kind == "new"]
    ongoing = [f for f in findings if f.status is not None and f.status.kind == "ongoing"]
    changes = Changes(
        new=len(new), new_severe=sum(f.severity is Severity.SEVERE for f in new),
        ongoing=len(ongoing), ongoing_severe=sum(f.severity is Severity.SEVERE for f in ongoing),
        resolved=len(work.resolved),
        severity_changed=sum(f.status is not None and f.status.previous_severity is not None
                             for f in ongoing),
        first_report=not memory.reports and not memory.incidents,
    )
    recalled = report.model_copy(update={
        "findings": findings, "counts": SeverityCounts.of(findings), "resolved": work.resolved,
        "changes": changes, "notes": notes,
    })
    summary = summarize(recalled)
    recalled.trends = compare(summary, memory.reports)
    remembered = Memory(
        incidents=_bounded(work.incidents),
        reports=[*memory.reports, summary][-MAX_SUMMARIES:],
        admin_addresses=remember_logins(memory.admin_addresses, report.admin_logins, report.window.until),
    )
    return Recalled(report=recalled, memory=remembered)


def _status(work: _Recollection, finding: Finding) -> None:
    """Give one current finding its status and remember it; an incident it shows over is resolved."""
    record = work.incidents.get(finding.id)
    subjects = _subjects(finding)
    if record is not None and record.open:
        if not finding.open:
            # Open in the last report, over in this one: the outage came back, the WAN was restored.
            work.resolve(finding.id, finding.last_seen, finding.title)
            return
        previous = record.severity if record.severity is not finding.severity else None
        finding.status = FindingStatus(kind="ongoing", since=record.first_seen, report=record.reports + 1,
                                       previous_severity=previous)
        work.incidents[finding.id] = record.model_copy(update={
            "title": finding.title, "severity": finding.severity, "category": finding.category,
            "subjects": subjects, "ends": finding.ends, "open": True,
            "last_seen": max(record.last_seen, finding.last_seen), "reports": record.reports + 1,
        })
    else:
        finding.status = FindingStatus(kind="new", since=finding.first_seen,
                                       recurred_after=record.resolved_at if record is not None else None)
        work.incidents[finding.id] = IncidentRecord(
            rule_id=finding.rule_id, incident=finding.incident, title=finding.title,
            category=finding.category, severity=finding.severity, subjects=subjects, ends=finding.ends,
            open=finding.open,
            first_seen=finding.first_seen, last_seen=finding.last_seen, reports=1,
            resolved_at=None if finding.open else finding.last_seen,
        )
    work.findings.append(finding)


def _absorb_endings(work: _Recollection, current: set[str]) -> None:
    """Turn a reconnect (or WAN recovery) about the subject of an open incident into that incident's end.

    The switch offline in the last report came back in this window: the reader wants "resolved", not a
    new low finding "reconnected" beside a silently vanished outage.
    """
    open_by_subject = {
        (record.incident or record.rule_id, subject): ident
        for ident, record in work.incidents.items()
        if record.open and ident not in current for subject in record.subjects
    }
    kept = []
    for finding in work.findings:
        kind = ENDED_BY.get(finding.rule_id)
        target = next((open_by_subject[(kind, subject)] for subject in _subjects(finding)
                       if (kind, subject) in open_by_subject), None) if kind else None
        if target is None or not work.incidents[target].open:
            kept.append(finding)
            continue
        work.resolve(target, finding.last_seen, finding.title)
        # The reconnect was news only as this end: it is not remembered as an incident of its own.
        del work.incidents[finding.id]
    work.findings = kept


def _close_if_over(work: _Recollection, ident: str, record: IncidentRecord, report: Report,
                   settings: Settings) -> None:
    """Resolve (or quietly forget) an open incident this report does not list, when it is really over."""
    if record.ends == "recovery":
        work.resolve(ident, work.now, _recovery_words(record, report))
        return
    quiet = work.now - record.last_seen
    if quiet < timedelta(hours=settings.quiet_hours):
        return  # a pause, not an end: it stays open, and is not reported while it is silent
    if record.ends == "routine":
        work.incidents[ident] = record.model_copy(update={"open": False, "resolved_at": record.last_seen})
        return
    work.resolve(ident, record.last_seen, f"no events for {duration(quiet)}")


def _recovery_words(record: IncidentRecord, report: Report) -> str:
    """How a state-borne incident this report no longer shows ended, from the device list where it can."""
    devices = {device.mac: device for device in report.device_health}
    outage = record.incident == "device_outage" or record.rule_id == "device_offline"
    for subject in record.subjects:
        kind, _, mac = subject.partition(":")
        if kind != "device" or not outage:
            continue
        device = devices.get(mac)
        if device is None:
            return "the device is no longer on the controller"
        if device.state != "connected":
            return f"no longer reported as offline (its state: {device.state})"
        up = timedelta(seconds=device.uptime_seconds) if device.uptime_seconds else None
        return f"back online (up for {duration(up)})" if up else "back online"
    return "cleared: the controller no longer reports it"


def _subjects(finding: Finding) -> list[str]:
    """What a finding is about, as `kind:id` strings (devices first), at most `MAX_SUBJECTS`."""
    ordered = sorted(finding.affected, key=lambda item: item.kind != "device")
    return [f"{item.kind}:{item.id}" for item in ordered][:MAX_SUBJECTS]


def _bounded(incidents: dict[str, IncidentRecord]) -> dict[str, IncidentRecord]:
    """At most `MAX_OPEN` open incidents (the most recently seen) and `MAX_RESOLVED` resolved ones (the
    most recently resolved); the rest are forgotten."""
    open_ = sorted(((i, r) for i, r in incidents.items() if r.open), key=lambda item: item[1].last_seen,
                   reverse=True)[:MAX_OPEN]
    closed = sorted(((i, r) for i, r in incidents.items() if not r.open),
                    key=lambda item: item[1].resolved_at or item[1].last_seen, reverse=True)[:MAX_RESOLVED]
    return dict(open_ + closed)

