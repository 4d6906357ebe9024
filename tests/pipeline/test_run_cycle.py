"""The run cycle's own logic (windows, de-duplication, commit rules, history, ping) with stub stages."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.pipeline.stubs import stages  # noqa: F401 - fixture
from tests.state.pingserver import ping_server
from unifi_scanner import pipeline
from unifi_scanner.errors import ControllerAuthError, ExitCode
from unifi_scanner.models import Footer, Record, RecordKind, SourceOutcome, SourceStatus
from unifi_scanner.pipeline import Deduplicator, run_once
from unifi_scanner.settings import Settings
from unifi_scanner.state import RunHistory, StateStore, bounded_ids
from unifi_scanner.state.store import STATE_FILE

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    """A settable "now" for the run cycle."""
    now = [T0]
    monkeypatch.setattr(pipeline, "utcnow", lambda: now[0])
    return now


def _settings(tmp_path: Path, **extra) -> Settings:
    return Settings(reports_dir=tmp_path, overlap_minutes=5, lookback_hours=24, **extra)


def test_deduplicator_drops_reported_and_remembers_the_overlap() -> None:
    def record(event_id: str, minutes: int, kind=RecordKind.EVENT) -> Record:
        return Record(kind=kind, source="s", id=event_id, time=T0 + timedelta(minutes=minutes), raw={})

    dedup = Deduplicator(["event:old", "traffic_flow:flow", "rogue_ap:rogue", "event:flow2"],
                         remember_from=T0 + timedelta(minutes=10))
    items = [record("old", 11), record("a", 1), record("b", 12), record("b", 12),
             record("flow", 12, RecordKind.TRAFFIC_FLOW), record("alarm", 13, RecordKind.ALARM),
             record("rogue", 13, RecordKind.ROGUE_AP), record("flow2", 14, RecordKind.TRAFFIC_FLOW),
             Footer(sources=[SourceOutcome(name="s", status=SourceStatus.OK, count=8)])]
    *kept, footer = dedup.filter(items)
    # Rogue APs are state: kept. A traffic flow sharing a reported event's id is another copy: kept.
    assert [item.id for item in kept] == ["a", "b", "alarm", "rogue", "flow2"]
    assert (dedup.events, dedup.dropped) == (2, 3)
    # Dropped ones too: the next window reads them again.
    assert set(dedup.seen) == {"event:old", "event:b", "traffic_flow:flow", "alarm:alarm",
                               "traffic_flow:flow2"}
    assert footer.sources[0].count == 5 and footer.sources[0].detail == "3 already reported, left out"


def test_first_run_then_overlap_without_repeats(tmp_path, stages, clock) -> None:  # noqa: F811
    settings = _settings(tmp_path)
    stages.events = [("e1", T0 - timedelta(hours=2)), ("e2", T0 - timedelta(minutes=2))]
    first = run_once(settings)
    assert first.first_run and first.exit_code == 0 and first.checkpoint_advanced
    assert first.window.since == T0 - timedelta(hours=24) and first.window.until == T0
    assert stages.analyzed[0]["lookback_hours"] == 24 and stages.analyzed[0]["first_run"]
    state = StateStore(tmp_path).load().checkpoint
    assert state.last_successful_run == T0 and state.reported_ids == ["event:e2"]

    clock[0] = T0 + timedelta(minutes=30)
    stages.events.append(("e3", T0 + timedelta(minutes=10)))
    second = run_once(settings)
    assert second.window.since == T0 - timedelta(minutes=5)
    assert stages.analyzed[1]["ids"] == ["e3"]  # e2 was in the overlap and already reported
    assert (second.events, second.duplicates_dropped) == (1, 1)
    history = RunHistory(tmp_path).last(10)
    assert [run.exit_code for run in history] == [0, 0] and history[1].events == 1
    # Nothing but the state files: no scratch (the collection streams from the collector process).
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        ".last_run.json", ".last_run.json.bak", ".lock", "runs.jsonl"]


def test_failed_delivery_keeps_the_checkpoint_and_the_next_run_covers_both_windows(
        tmp_path, stages, clock) -> None:  # noqa: F811
    settings = _settings(tmp_path)
    stages.events = [("e1", T0 - timedelta(hours=1))]
    run_once(settings)
    clock[0] = T0 + timedelta(hours=1)
    stages.events.append(("e2", T0 + timedelta(minutes=20)))
    stages.deliver_ok = False
    failed = run_once(settings)
    assert failed.exit_code == ExitCode.DELIVERY_FAILED and not failed.checkpoint_advanced
    assert failed.fallback_paths == ["/kept.html"] and "email: refused" in failed.error
    assert StateStore(tmp_path).load().checkpoint.last_successful_run == T0
    clock[0] = T0 + timedelta(hours=2)
    stages.events.append(("e3", T0 + timedelta(minutes=80)))
    stages.deliver_ok = True
    retried = run_once(settings)
    assert retried.window.since == T0 - timedelta(minutes=5)
    assert stages.analyzed[-1]["ids"] == ["e2", "e3"]
    last = RunHistory(tmp_path).last(2)
    assert (last[0].exit_code, last[0].checkpoint_advanced, last[1].checkpoint_advanced) == (1, False, True)


def test_nothing_to_send_sends_nothing_and_still_advances(tmp_path, stages, clock) -> None:  # noqa: F811
    result = run_once(_settings(tmp_path))
    assert not result.sent and stages.delivered == [] and result.checkpoint_advanced
    clock[0] = T0 + timedelta(hours=1)
    heartbeat = run_once(_settings(tmp_path, send_empty=True))
    assert heartbeat.sent and len(stages.delivered) == 1


def test_dry_run_touches_no_state(tmp_path, stages, clock) -> None:  # noqa: F811
    stages.events = [("e1", T0 - timedelta(hours=1))]
    result = run_once(_settings(tmp_path), dry_run=True)
    assert result.rendered.text == "report text" and stages.delivered[0][1] is True
    assert result.channels[0].detail == "dry run" and not result.checkpoint_advanced
    assert sorted(path.name for path in tmp_path.iterdir()) == []


def test_since_overrides_the_checkpoint(tmp_path, stages, clock) -> None:  # noqa: F811
    result = run_once(_settings(tmp_path), since=T0 - timedelta(hours=3))
    assert result.window.since == T0 - timedelta(hours=3) and not result.first_run


def test_corrupt_state_is_a_note_in_the_report(tmp_path, stages, clock) -> None:  # noqa: F811
    (tmp_path / STATE_FILE).write_text("{broken")
    result = run_once(_settings(tmp_path))
    assert result.first_run
    assert "unreadable or corrupt" in stages.analyzed[0]["notes"][0]


def test_controller_failure_is_recorded_and_pinged_then_raised(tmp_path, stages, clock) -> None:  # noqa: F811
    stages.collect_error = ControllerAuthError("login refused")
    with ping_server() as server:
        with pytest.raises(ControllerAuthError):
            run_once(_settings(tmp_path, ping_url=server.url))
    (run,) = RunHistory(tmp_path).last(5)
    assert (run.exit_code, run.error) == (3, "login refused")
    assert [path for _, path, _, _ in server.requests] == ["/ping/abc-uuid/start", "/ping/abc-uuid/3"]
    pending = StateStore(tmp_path).load().checkpoint
    assert pending.last_successful_run is None and pending.pending_since == T0 - timedelta(hours=24)


def test_an_undelivered_first_window_is_retried_from_the_same_start(tmp_path, stages, clock) -> None:  # noqa: F811
    stages.events = [("early", T0 - timedelta(hours=23, minutes=59))]
    stages.deliver_ok = False
    assert run_once(_settings(tmp_path)).exit_code == 1
    clock[0] = T0 + timedelta(hours=2)
    stages.deliver_ok = True
    retry = run_once(_settings(tmp_path))
    assert retry.first_run and retry.window.since == T0 - timedelta(hours=24)
    assert stages.analyzed[-1]["ids"] == ["early"]


def test_ping_start_and_end_share_the_run_id_and_send_the_log_only_when_asked(
        tmp_path, stages, clock, caplog) -> None:  # noqa: F811
    caplog.set_level(logging.INFO, logger="unifi_scanner")
    with ping_server() as server:
        result = run_once(_settings(tmp_path, ping_url=server.url))
        run_once(_settings(tmp_path, ping_url=server.url, ping_send_log=True),
                 since=T0 - timedelta(hours=1))
    (m1, start, rid1, _), (m2, end, rid2, body) = server.requests[:2]
    assert (m1, start, m2, end) == ("GET", "/ping/abc-uuid/start", "GET", "/ping/abc-uuid/0")
    assert rid1 == rid2 == result.run_id
    method, _, _, log_body = server.requests[3]
    assert method == "POST" and "nothing sent" in log_body and body == ""


def test_a_dead_ping_url_never_fails_the_run(
        tmp_path, stages, clock, monkeypatch, free_port) -> None:  # noqa: F811
    monkeypatch.setattr("unifi_scanner.state.ping.PING_RETRY_DELAY", 0)
    result = run_once(_settings(tmp_path, ping_url=f"http://127.0.0.1:{free_port}/dead"))
    assert result.exit_code == 0 and result.checkpoint_advanced


def test_reported_ids_are_bounded(tmp_path, stages, clock, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setattr(pipeline, "bounded_ids", lambda seen: bounded_ids(seen, 3))
    stages.events = [(f"e{i}", T0 - timedelta(minutes=4, seconds=-i)) for i in range(10)]
    run_once(_settings(tmp_path))
    data = json.loads((tmp_path / STATE_FILE).read_text())
    assert data["reported_ids"] == ["event:e9", "event:e8", "event:e7"]
