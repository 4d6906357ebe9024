"""Small reports and findings for the memory's tests: one window, findings by id, nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from unifi_scanner.models import (
    Affected,
    Category,
    ControllerInfo,
    DeviceHealth,
    Finding,
    Report,
    Severity,
    SeverityCounts,
    SourceOutcome,
    SourceStatus,
    Window,
)

T0 = datetime(2026, 12, 1, 6, tzinfo=UTC)
CONTROLLER = ControllerInfo(url="https://127.0.0.1", type="unifi_os", auth="password")


def finding(ident: str, *, severity: Severity = Severity.MEDIUM, rule_id: str = "test",
            incident: str | None = None, ends: str = "quiet", open_: bool = True, at: datetime = T0,
            device: str | None = None, title: str | None = None) -> Finding:
    """One finding seen at `at`, about `device` when given."""
    affected = [Affected(kind="device", id=device)] if device else []
    return Finding(id=ident, rule_id=rule_id, incident=incident, severity=severity,
                   category=Category.CONNECTIVITY, title=title or f"finding {ident}", explanation="e",
                   remediation=["r"], affected=affected, first_seen=at, last_seen=at, ends=ends, open=open_)


def report(findings: list[Finding], *, day: int = 0, hours: float = 24, events: int = 100,
           per_rule: dict[str, int] | None = None, devices: Sequence[DeviceHealth] = (),
           failed: str | None = None, until: datetime | None = None) -> Report:
    """A report of `hours` ending at `until` (default: `day` days after T0), holding these findings."""
    until = until or T0 + timedelta(days=day)
    sources = [SourceOutcome(name=failed, status=SourceStatus.FAILED, detail="timed out")] if failed else []
    return Report(site="default", controller=CONTROLLER,
                  window=Window(since=until - timedelta(hours=hours), until=until), generated_at=until,
                  findings=findings, counts=SeverityCounts.of(findings), total_events=events,
                  events_per_rule=per_rule or {}, device_health=list(devices), sources=sources)
