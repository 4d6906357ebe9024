"""Properties of the run cycle: window arithmetic and de-duplication lose and repeat nothing.

The cycle runs with the stub stages of tests/pipeline/stubs.py against a "controller" whose events
appear over time, some stored late (up to the overlap after their own time), while deliveries fail
at random. Whatever the sequence, every event is delivered exactly once by the successful runs.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.pipeline.stubs import Stages, stubbed
from unifi_scanner.errors import ConfigError
from unifi_scanner.models import Record, RecordKind
from unifi_scanner.pipeline import STATE_KINDS, Deduplicator, _window_start, run_once
from unifi_scanner.settings import Settings
from unifi_scanner.state import Checkpoint

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
OVERLAP_MINUTES = 5

moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))


@given(
    until=moments,
    since=st.none() | moments,
    last=st.none() | moments,
    pending=st.none() | moments,
    overlap=st.floats(min_value=0, max_value=24 * 60),
    lookback=st.floats(min_value=0.01, max_value=24 * 30),
)
@settings(max_examples=300, deadline=None)
def test_window_start_follows_its_precedence_and_is_always_before_until(
        until, since, last, pending, overlap, lookback):
    config = Settings(overlap_minutes=overlap, lookback_hours=lookback)
    checkpoint = None if last is None and pending is None else Checkpoint(
        last_successful_run=last, pending_since=pending)
    if since is not None:
        expected = since
    elif last is not None:
        expected = last - timedelta(minutes=overlap)
    elif pending is not None:
        expected = pending
    else:
        expected = until - timedelta(hours=lookback)
    if expected >= until:
        with pytest.raises(ConfigError, match="not before now"):
            _window_start(config, checkpoint, since, until)
    else:
        assert _window_start(config, checkpoint, since, until) == expected


kinds = st.sampled_from(list(RecordKind))
records = st.builds(
    lambda i, minutes, kind: Record(kind=kind, source="s", id=f"e{i}", time=T0 + timedelta(minutes=minutes),
                                    raw={}),
    st.integers(0, 30), st.integers(-60, 60), kinds,
)


def key(item: Record) -> str:
    """The de-duplicator's key: one event may come through several feeds under one id."""
    return f"{item.kind.value}:{item.id}"


@given(items=st.lists(records, max_size=40),
       reported=st.sets(st.builds(lambda i, kind: f"{kind.value}:e{i}", st.integers(0, 30), kinds)),
       remember=st.integers(-60, 60))
@settings(max_examples=300, deadline=None)
def test_deduplicator_keeps_each_new_event_once_and_remembers_the_overlap(items, reported, remember):
    remember_from = T0 + timedelta(minutes=remember)
    dedup = Deduplicator(reported, remember_from)
    kept = list(dedup.filter(items))

    events = [item for item in items if item.kind not in STATE_KINDS]
    new = [item for item in kept if item.kind not in STATE_KINDS]
    # Current state is read again on purpose: never filtered.
    assert [i for i in kept if i.kind in STATE_KINDS] == [i for i in items if i.kind in STATE_KINDS]
    # Nothing reported before comes out again ...
    assert not {key(item) for item in new} & reported
    # ... and every id not reported before comes out, its first copy included (copies of one event
    # from other feeds earlier in the window stay for the analyzer, which merges them) ...
    firsts = {}
    for item in events:
        firsts.setdefault(key(item), item)
    assert all(any(k is first for k in new) for event, first in firsts.items() if event not in reported)
    # ... but in the part the next window reads again, each id at most once.
    overlap_ids = [key(item) for item in new if item.time >= remember_from]
    assert len(overlap_ids) == len(set(overlap_ids))
    assert dedup.dropped == len(items) - len(kept)
    remembered = {key(item) for item in items if item.kind not in STATE_KINDS and item.time >= remember_from}
    assert set(dedup.seen) == remembered


# One step of the world: minutes that pass, events stored now (each `seconds` late, 0 = on time),
# and whether this run's delivery works.
steps = st.lists(
    st.tuples(st.integers(1, 180),
              st.lists(st.integers(0, OVERLAP_MINUTES * 60 - 1), max_size=4),
              st.booleans()),
    min_size=1, max_size=8,
)


@given(steps=steps)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_event_is_delivered_exactly_once_whatever_the_runs_late_arrivals_and_failures(steps):
    world = Stages()
    stored: list[tuple[str, datetime, datetime]] = []  # (id, event time, when the controller stored it)
    delivered: Counter[str] = Counter()
    now = [T0]
    with tempfile.TemporaryDirectory() as state, stubbed(world, now):
        config = Settings(reports_dir=Path(state), state_dir=Path(state), overlap_minutes=OVERLAP_MINUTES,
                          lookback_hours=24, send_empty=True)

        def run(deliver_ok: bool) -> None:
            world.events = [(event_id, at) for event_id, at, stored_at in stored if stored_at <= now[0]]
            world.deliver_ok = deliver_ok
            result = run_once(config)
            assert result.checkpoint_advanced is (deliver_ok and result.exit_code == 0)
            if result.checkpoint_advanced:
                delivered.update(world.analyzed[-1]["ids"])

        for minutes, late, deliver_ok in steps:
            now[0] += timedelta(minutes=minutes)
            for seconds in late:
                # Stored now, timed up to the overlap earlier (and never at or after now).
                at = now[0] - timedelta(seconds=seconds, milliseconds=1)
                stored.append((f"e{len(stored)}", at, now[0]))
            run(deliver_ok)
        now[0] += timedelta(minutes=1)
        run(True)  # the controller answers again and delivery works: the backlog must go out

    assert all(count == 1 for count in delivered.values()), "an event was delivered twice"
    assert set(delivered) == {event_id for event_id, _, _ in stored}, "an event was never delivered"
