"""The incident memory over random sequences of runs, with incidents opening and closing, deliveries
failing and runs killed before their commit: every incident is reported NEW exactly once in the
delivered reports, ONGOING only in between, and RESOLVED at most once, after it was NEW.

The run cycle is the real one (`pipeline.run_once`, the real checkpoint and memory) over the stub
stages of tests/pipeline/stubs.py; the stub analyzer reports the world's incidents as a correlation
step would: one finding per incident that was down at some time in the window, still open when it is
down at the window's end. A killed run is one whose delivery raises (as SIGTERM's KeyboardInterrupt
does): nothing after it runs, like a SIGKILL before the commit. The real SIGKILL is
tests/pipeline/test_crash.py's.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.pipeline.stubs import CONTROLLER, Stages, stubbed
from unifi_scanner.models import Affected, Category, Finding, Report, Severity, SeverityCounts
from unifi_scanner.pipeline import run_once
from unifi_scanner.settings import Settings

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


@dataclass
class Incident:
    """One outage of the world: down from `start`, back at `end` (None: still down)."""

    ident: str
    start: datetime
    end: datetime | None = None

    def finding(self, since: datetime, until: datetime) -> Finding | None:
        """The finding a report of [since, until) makes of it, if it was down at some time in the window."""
        if self.start >= until or (self.end is not None and self.end < since):
            return None
        still = self.end is None or self.end >= until
        return Finding(id=self.ident, rule_id="device_outage", incident="device_outage", ends="recovery",
                       open=still, severity=Severity.SEVERE if still else Severity.MEDIUM,
                       category=Category.CONNECTIVITY, title=f"{self.ident} is offline", explanation="e",
                       remediation=["r"], affected=[Affected(kind="device", id=self.ident)],
                       first_seen=max(self.start, since), last_seen=min(self.end or until, until))


@dataclass
class World(Stages):
    """The stubs' world with incidents; `fate` is what the next delivery does: ok, fail or kill."""

    incidents: list[Incident] = field(default_factory=list)
    fate: str = "ok"
    statuses: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    pending: Report | None = None

    def analyze(self, items, settings, *, generated_at=None, **_):
        header = next(iter(items))
        window = header.window
        findings = [found for incident in self.incidents
                    if (found := incident.finding(window.since, window.until)) is not None]
        return Report(site=header.site, controller=CONTROLLER, window=window, generated_at=generated_at,
                      findings=findings, counts=SeverityCounts.of(findings), total_events=len(findings))

    def deliver(self, report, rendered, settings, *, channels=None, dry_run=False):
        if self.fate == "kill":
            raise KeyboardInterrupt  # killed before the commit: the report may or may not have gone out
        self.pending = report
        self.deliver_ok = self.fate == "ok"
        return super().deliver(report, rendered, settings, channels=channels, dry_run=dry_run)

    def committed(self, report: Report) -> None:
        """Record the statuses of a report whose run committed."""
        for found in report.findings:
            self.statuses[found.id].append(found.status.kind)
        for resolved in report.resolved:
            self.statuses[resolved.id].append("resolved")


# One step: hours that pass, how many incidents open, which open ones close (by position), the fate.
steps = st.lists(
    st.tuples(st.integers(1, 30), st.integers(0, 2), st.lists(st.integers(0, 5), max_size=2),
              st.sampled_from(["ok", "ok", "fail", "kill"])),
    min_size=1, max_size=10,
)


@given(steps=steps)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_incident_is_new_once_ongoing_between_and_resolved_at_most_once(steps):
    world = World()
    now = [T0]
    with tempfile.TemporaryDirectory() as state, stubbed(world, now):
        config = Settings(reports_dir=Path(state), state_dir=Path(state), overlap_minutes=5,
                          lookback_hours=24,
                          send_empty=True)

        def run(fate: str) -> None:
            world.fate, world.pending = fate, None
            try:
                result = run_once(config)
            except KeyboardInterrupt:
                assert fate == "kill"
                return
            if result.checkpoint_advanced:
                world.committed(world.pending)

        for hours, opening, closing, fate in steps:
            for position in closing:
                still = [incident for incident in world.incidents if incident.end is None]
                if position < len(still):
                    still[position].end = now[0] + timedelta(minutes=30)
            for _ in range(opening):
                world.incidents.append(Incident(f"i{len(world.incidents)}", now[0] + timedelta(minutes=10)))
            now[0] += timedelta(hours=hours)
            run(fate)
        for incident in world.incidents:  # everything recovers, and two good runs tell it
            incident.end = incident.end or now[0]
        for _ in range(2):
            now[0] += timedelta(hours=1)
            run("ok")

    for incident in world.incidents:
        seen = world.statuses[incident.ident]
        assert seen and seen[0] == "new", f"{incident.ident}: {seen}"
        assert seen.count("new") == 1 and seen.count("resolved") <= 1, f"{incident.ident}: {seen}"
        assert set(seen[1:-1]) <= {"ongoing"}, f"{incident.ident}: {seen}"
        # An incident still down in a delivered report is resolved exactly once when it recovers.
        if len(seen) > 1:
            assert seen[-1] == "resolved", f"{incident.ident}: {seen}"
