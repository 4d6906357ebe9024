"""Benchmark what the incident memory costs a run: the state's size, and a `run`'s time and memory.

Usage (from the repository root, with the project and its test extra installed):

    python benchmarks/memory.py                 # 100k IPS events, 3 runs per state
    python benchmarks/memory.py --events 10k --repeat 5

First it commits 1,000 hourly reports of a noisy site (tests/memory/noisy.py) through the real memory,
checkpoint and run history, and prints the state directory's size. Then it measures a full `run`
against the fake controller (the `ips` mix of benchmarks/run.py, in its own process) from three
states, alternately, `--repeat` times each: *fresh* (a first run), *noisy* (the state those 1,000
runs left) and *bounds* (a memory at every bound: 2,000 open and 500 resolved incidents, 90 report
summaries, 200 admin addresses). Each run reads the same 25-hour window, so the figures differ only
by what the memory costs. Wall and CPU time are medians, peak RSS the largest (wait4's figure for the
run and its collector child).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.memory.noisy, the noisy site the size test also uses

import run as bench  # noqa: E402 - benchmarks/run.py: the fake, the measured child, the environment

from tests.memory.noisy import T0  # noqa: E402
from tests.memory.test_size import commit_runs  # noqa: E402
from unifi_scanner.memory.logins import MAX_ADMIN_ADDRESSES  # noqa: E402
from unifi_scanner.memory.model import (  # noqa: E402
    MAX_OPEN,
    MAX_RESOLVED,
    MAX_SUMMARIES,
    IncidentRecord,
    Memory,
    ReportSummary,
)
from unifi_scanner.models import Category, Severity, SeverityCounts  # noqa: E402
from unifi_scanner.state import Checkpoint, StateStore  # noqa: E402


def size(directory: Path) -> int:
    """Bytes in the directory's files."""
    return sum(path.stat().st_size for path in directory.iterdir() if path.is_file())


def bounds_memory() -> Memory:
    """A memory at every bound, with titles as long as real ones; the open incidents were seen in the
    last hours, so they stay open (resolving 2,000 at once would measure a report of 2,000 lines)."""
    now = datetime.now(UTC)

    def record(n: int, open_: bool) -> IncidentRecord:
        moment = now - timedelta(minutes=n // 10) if open_ else T0 - timedelta(minutes=n)
        return IncidentRecord(
            rule_id="threat_campaign", incident="threat_campaign", category=Category.SECURITY,
            severity=Severity.MEDIUM, open=open_, first_seen=moment, last_seen=moment,
            resolved_at=None if open_ else moment, subjects=[f"ip:203.0.{n // 256}.{n % 256}"],
            title=f"Attack from 203.0.{n // 256}.{n % 256} (CN, AS4134 Chinanet): 23 hits on "
                  "nas.office.example (192.168.1.20) and 2 more, all blocked")
    incidents = {f"o{n:05d}": record(n, True) for n in range(MAX_OPEN)}
    incidents |= {f"r{n:05d}": record(n, False) for n in range(MAX_RESOLVED)}
    rules = {f"rule_{n:02d}": 1000 + n for n in range(20)}
    reports = [ReportSummary(until=T0 - timedelta(days=n), hours=24, events=20_000,
                             counts=SeverityCounts(severe=2, medium=8, low=12),
                             categories={"security": 12, "connectivity": 6, "infrastructure": 4},
                             event_categories={"security": 15_000, "clients": 4_000, "other": 1_000},
                             rules=rules) for n in range(MAX_SUMMARIES)]
    admins = {f"198.51.100.{n}": now for n in range(MAX_ADMIN_ADDRESSES)}
    return Memory(incidents=incidents, reports=reports, admin_addresses=admins)


def prepare(state: Path, memory: Memory | None) -> None:
    """A state directory whose checkpoint makes the next run read the last 25 hours, with `memory`."""
    shutil.rmtree(state, ignore_errors=True)
    if memory is None:
        return  # fresh: a first run, over the 25-hour lookback
    state.mkdir(parents=True)
    # The run starts its window 5 minutes (the overlap) before the checkpoint.
    since = datetime.now(UTC) - timedelta(hours=25) + timedelta(minutes=5)
    StateStore(state).save(Checkpoint(last_successful_run=since, memory=memory))


def main() -> int:
    """Print the state size after 1,000 noisy runs, then the run figures from each state."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=bench.parse_sizes, default=[100_000],
                        help="event count (default 100k)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per state (default 3)")
    parser.add_argument("--runs", type=int, default=1_000, help="noisy runs committed for the size (1000)")
    options = parser.parse_args()
    events = options.events[0]
    with tempfile.TemporaryDirectory(prefix="unifi-memory-bench-") as scratch:
        work = Path(scratch)
        noisy_dir = work / "noisy-state"
        noisy_dir.mkdir()
        noisy = commit_runs(noisy_dir, options.runs)
        opened = sum(record.open for record in noisy.incidents.values())
        print(f"state after {options.runs} noisy hourly runs: {size(noisy_dir) / 1024:.0f} KiB "
              f"({opened} open and {len(noisy.incidents) - opened} resolved incidents, "
              f"{len(noisy.reports)} summaries); limit 2048 KiB", flush=True)
        bounds = bounds_memory()
        probe = work / "bounds-probe"
        prepare(probe, bounds)
        print(f"checkpoint with the memory at its bounds: {size(probe) / 1024:.0f} KiB", flush=True)
        states = {"fresh": None, "noisy": noisy, "bounds": bounds}
        samples: dict[str, list[bench.Measure]] = {name: [] for name in states}
        print(f"[ips {events:,}] starting the fake controller ...", flush=True)
        with bench.fake("ips", events, work / "requests.jsonl") as announce:
            env = bench.base_env(announce, work)
            for _ in range(options.repeat):
                for name, memory in states.items():
                    prepare(work / "state", memory)
                    shutil.rmtree(work / "reports", ignore_errors=True)
                    m = bench.measure([*bench.scanner(), "run"], env, work / f"run-{name}.log")
                    samples[name].append(m)
                    print(f"  {name:<7} wall {m.wall:6.2f} s  cpu {m.cpu:6.2f} s  peak RSS {m.rss:6.1f} MiB",
                          flush=True)
    print("\n| state | runs | wall (median) | CPU (median) | peak RSS (max) |")
    print("| --- | --- | --- | --- | --- |")
    for name, runs in samples.items():
        print(f"| {name} | {len(runs)} | {statistics.median(m.wall for m in runs):.2f} s "
              f"| {statistics.median(m.cpu for m in runs):.2f} s | {max(m.rss for m in runs):.1f} MiB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
