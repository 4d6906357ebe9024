"""Size a sharded deployment: one controller's `run` measured against the fake, then pods and memory for
10, 100 and 1,000 controllers.

Usage (from the repository root, with the project installed):

    python benchmarks/sizing.py                       # 5k and 50k events, 3 runs each
    python benchmarks/sizing.py --repeat 5 --output /tmp/sizing_table.md

Each site size is a controller with one site whose day holds that many events (5,000: a realistic
office; 50,000: a busy one), served by the fake controller in its own process with the `ips` mix on a
UniFi OS console (Network 10), the most expensive mix per event in benchmarks/run.py because every
threat arrives twice (system log and traffic flows). A `run` is measured as a daily run is: a fresh
state directory, so it reads the whole day (the 25-hour first-run window), file delivery only. Wall
and CPU time are medians of `--repeat` runs, each a fresh process reaped with wait4 (start-up, login
and logout included, so a pod that runs several controllers one after another pays less than this per
controller). Peak memory is the larger of wait4's figure and the run-plus-collector estimate that
benchmarks/run.py takes from one more run at DEBUG.

The table then gives, per fleet size: the time one pod needs for all controllers in sequence; the
pods a sharded CronJob needs to finish within the budget (default 15 minutes) with a safety factor
(default 2) on the measured time; and the memory request per pod: the peak of one run times a headroom
factor, rounded up to 32 MiB. Memory should not grow with the controllers a pod runs, because they run
one after another and each releases its data before the next (issue 15 holds a 20-site run to the
one-site target, 100 MiB, with a benchmark of its own).

The fake answers over loopback. A real controller is further away: the script also counts the HTTP
requests one run makes, so a round-trip time can be added per request where the network is slow.
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import run as bench  # benchmarks/run.py: the fake, the measured child, the environment, the machine

MIX = "ips"
SITES = {"realistic": 5_000, "busy": 50_000}
FLEETS = (10, 100, 1_000)
BUDGET_S = 15 * 60
SAFETY = 2.0
HEADROOM = 1.5
ROUND_MIB = 32
RTT_S = 0.020  # a WAN round trip, for the note on real controllers


@dataclass
class SiteFigures:
    """What one controller with one site costs a run."""

    name: str
    events: int
    requests: int  # HTTP requests one run sends to the controller
    wall: float  # seconds, median
    cpu: float  # seconds, median
    rss: float  # MiB, the largest peak


def measure_site(name: str, events: int, work: Path, repeat: int) -> SiteFigures:
    """Run `repeat` daily runs (and one at DEBUG for memory) against a fake with `events` in its day."""
    record = work / "requests.jsonl"
    runs: list[bench.Measure] = []
    print(f"[{name}: {events:,} events/day] starting the fake controller ...", flush=True)
    with bench.fake(MIX, events, record) as announce:
        env = bench.base_env(announce, work)
        cmd = [*bench.scanner(), "run"]
        for _ in range(repeat):
            bench.fresh_start(work)
            record.write_text("")  # the fake appends: keep only this run's requests
            m = bench.measure(cmd, env, work / "run.log")
            runs.append(m)
            print(f"  run  wall {m.wall:6.2f} s  cpu {m.cpu:6.2f} s  peak RSS {m.rss:6.1f} MiB", flush=True)
        requests = sum(1 for _ in record.open(encoding="utf-8"))
        bench.fresh_start(work)
        debug = bench.measure(cmd, {**env, "UNIFI_LOG_LEVEL": "DEBUG"}, work / "run-debug.log")
        estimate = bench.run_memory(work / "run-debug.log", debug.rss)
        print(f"  {requests} requests per run; run with its collector at DEBUG: peak {estimate:.1f} MiB",
              flush=True)
    return SiteFigures(name, events, requests, statistics.median(m.wall for m in runs),
                       statistics.median(m.cpu for m in runs), max([m.rss for m in runs] + [estimate]))


def pods_needed(controllers: int, seconds: float, budget: float, safety: float) -> int:
    """Pods that finish `controllers` runs of `seconds` each within `budget`, time taken `safety` times."""
    return max(1, math.ceil(controllers * seconds * safety / budget))


def memory_request(peak_mib: float, headroom: float) -> int:
    """The memory request for a pod whose run peaks at `peak_mib`: with headroom, rounded up to 32 MiB."""
    return math.ceil(peak_mib * headroom / ROUND_MIB) * ROUND_MIB


def duration(seconds: float) -> str:
    """Seconds as `42 s`, `7.5 min` or `2.8 h`, whichever reads best."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def markdown(sites: list[SiteFigures], budget: float, safety: float, headroom: float, host: str) -> str:
    """The measured figures and the sizing table, as Markdown."""
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {host}. One controller, one site, "
        f"`{MIX}` mix (UniFi OS console), a daily run over the whole day:",
        "",
        "| site | events/day | requests | wall (median) | CPU (median) | peak memory |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {s.name} | {s.events:,} | {s.requests:,} | {s.wall:.2f} s | {s.cpu:.2f} s "
              f"| {s.rss:.1f} MiB |" for s in sites]
    lines += [
        "",
        f"Sizing for a {budget / 60:.0f}-minute budget, the measured time taken {safety:g}x (safety factor); "
        f"memory request = peak x {headroom:g}, rounded up to {ROUND_MIB} MiB:",
        "",
        "| controllers | site | one pod, in sequence | pods (`parallelism`) | controllers per pod "
        "| time per pod (measured) | memory request per pod |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for controllers in FLEETS:
        for s in sites:
            pods = pods_needed(controllers, s.wall, budget, safety)
            per_pod = math.ceil(controllers / pods)
            lines.append(f"| {controllers:,} | {s.name} ({s.events:,}/day) "
                         f"| {duration(controllers * s.wall)} | {pods} | {per_pod} "
                         f"| {duration(per_pod * s.wall)} | {memory_request(s.rss, headroom)} Mi |")
    slow = ", ".join(f"{s.name} +{s.requests * RTT_S:.0f} s" for s in sites)
    lines += [
        "",
        f"Pods = ceil(controllers x seconds per controller x {safety:g} / {budget:.0f} s). The fake answers "
        f"over loopback; a real controller is further away and slower to page through its database. Each "
        f"request waits at least one round trip, so over a {RTT_S * 1000:.0f} ms link add up to the requests "
        f"x {RTT_S:g} s per controller ({slow}), or time one real controller's run and use the formula.",
    ]
    return "\n".join(lines)


def main() -> int:
    """Measure each site size, print the figures and the sizing table, and write it to --output."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per site size (default 3)")
    parser.add_argument("--budget", type=float, default=BUDGET_S / 60, help="minutes per scheduled run (15)")
    parser.add_argument("--safety", type=float, default=SAFETY, help="factor on the measured time (2)")
    parser.add_argument("--headroom", type=float, default=HEADROOM, help="factor on the peak memory (1.5)")
    parser.add_argument("--output", type=Path, help="also write the Markdown to this file")
    options = parser.parse_args()
    sites = []
    for name, events in SITES.items():
        work = Path(tempfile.mkdtemp(prefix=f"unifi-sizing-{events}-"))
        try:
            sites.append(measure_site(name, events, work, max(1, options.repeat)))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    text = markdown(sites, options.budget * 60, options.safety, options.headroom, bench.machine())
    print("\n" + text)
    if options.output:
        options.output.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
