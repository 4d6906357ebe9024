"""Stand-ins for the collector, analyzer, renderer and delivery, to test the run cycle's own logic.

The "controller" is a list of events with ids and times; the stub collector writes those inside the
window, the stub analyzer turns every event into one low finding and lists every id it saw, and the
stub delivery records each report and succeeds or fails as told. End-to-end tests use the real stages.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from unifi_scanner.collector import CollectStats
from unifi_scanner.errors import ScannerError
from unifi_scanner.models import (
    ChannelResult,
    ControllerInfo,
    DeliveryOutcome,
    Finding,
    Footer,
    Header,
    Record,
    RecordKind,
    RenderedReport,
    Report,
    SeverityCounts,
    SourceOutcome,
    SourceStatus,
)

CONTROLLER = ControllerInfo(url="https://127.0.0.1", type="unifi_os", auth="password")


@dataclass
class Stages:
    """The stubs' shared world: controller events, and what was analyzed and delivered."""

    events: list[tuple[str, datetime]] = field(default_factory=list)
    deliver_ok: bool = True
    collect_error: ScannerError | None = None
    analyzed: list[dict] = field(default_factory=list)
    delivered: list[tuple[Report, bool]] = field(default_factory=list)

    def collect(self, settings, window, writer, *, progress=None):
        header = Header(generator="stub", collected_at=window.until, controller=CONTROLLER,
                        site=settings.site, window=window)
        writer.write(header)
        if self.collect_error is not None:
            raise self.collect_error
        inside = [(i, t) for i, t in self.events if window.since <= t < window.until]
        for event_id, time in inside:
            writer.write(Record(kind=RecordKind.EVENT, source="legacy_events", id=event_id, time=time,
                                raw={"key": "EVT_TEST"}))
        outcome = SourceOutcome(name="legacy_events", status=SourceStatus.OK, count=len(inside))
        footer = Footer(sources=[outcome])
        writer.write(footer)
        return CollectStats(header=header, footer=footer, requests=1, pages=1)

    def analyze(self, items, settings, *, generated_at=None, first_run=False, lookback_hours=None, notes=(),
                known_admin_ips=None):
        items = list(items)
        header = items[0]
        ids = [item.id for item in items if isinstance(item, Record)]
        self.analyzed.append({"ids": ids, "notes": list(notes), "first_run": first_run,
                              "lookback_hours": lookback_hours, "window": header.window,
                              "known_admin_ips": known_admin_ips})
        findings = [Finding(id="f", rule_id="test", severity="low", category="clients", title="t",
                            explanation="e", remediation=[], first_seen=header.window.since,
                            last_seen=header.window.until, count=len(ids), event_ids=ids)] if ids else []
        return Report(site=header.site, controller=CONTROLLER, window=header.window,
                      generated_at=generated_at, first_run=first_run, notes=list(notes),
                      total_events=len(ids), findings=findings,
                      counts=SeverityCounts(low=len(findings)))

    def render_all(self, report, settings):
        return RenderedReport(subject="s", text="report text", html="<p>", json_text="{}")

    def deliver(self, report, rendered, settings, *, channels=None, dry_run=False):
        self.delivered.append((report, dry_run))
        if dry_run:
            return DeliveryOutcome(results=[ChannelResult(channel="file", ok=True, detail="dry run")])
        if self.deliver_ok:
            return DeliveryOutcome(results=[ChannelResult(channel="file", ok=True, paths=["/r.html"])])
        return DeliveryOutcome(results=[ChannelResult(channel="email", ok=False, detail="refused")],
                               fallback_paths=["/kept.html"])


@contextmanager
def stubbed(world: Stages, now: list[datetime] | None = None) -> Iterator[Stages]:
    """The four stages the run cycle calls replaced by `world`'s stubs for the block, and the run's
    clock read from `now[0]` when given (a block, not the monkeypatch fixture: Hypothesis runs many
    examples in one test)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("unifi_scanner.collector.collect", world.collect)
        patch.setattr("unifi_scanner.analyzer.analyze", world.analyze, raising=False)
        patch.setattr("unifi_scanner.renderer.render_all", world.render_all)
        patch.setattr("unifi_scanner.delivery.deliver", world.deliver)
        if now is not None:
            patch.setattr("unifi_scanner.pipeline.utcnow", lambda: now[0])
        yield world


@pytest.fixture
def stages() -> Iterator[Stages]:
    """Replace the four stages the run cycle calls with the stubs."""
    with stubbed(Stages()) as world:
        yield world
