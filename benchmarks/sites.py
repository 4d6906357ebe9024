"""Benchmark one run over many sites: 20 sites × 5,000 events on one controller, against the floor.

Usage (from the repository root, with the project installed):

    python benchmarks/sites.py                      # 20 sites x 5,000 events, 3 runs
    python benchmarks/sites.py --sites 5 --events 2k --repeat 1

The fake controller (UniFi OS, Network 10; its realistic `default` mix, or `--mix ips` for scanning
noise with hundreds of threat findings a site) runs in its own process with `--sites`, so
its CPU and memory are not ours. `run` reports every site (`UNIFI_SITES=all`, one combined report,
file delivery) from a fresh state; the floor replays exactly the requests the run sent, with a bare
`requests` session (the same script as benchmarks/run.py's). The targets (issue 15): wall time
within 1.5× the floor, peak memory within 100 MiB, the same as one site.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import run as bench  # benchmarks/run.py: the measured child, the floor, the environment

TARGET_RATIO = 1.5
TARGET_RSS = 100.0


def main() -> int:
    """Measure the run and the floor alternately; print the figures and whether the targets hold."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=20, help="sites on the controller (default 20)")
    parser.add_argument("--events", type=bench.parse_sizes, default=[5_000], help="events per site (5k)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument("--mix", default="default",
                        help="the fake's event mix: default (a realistic site) or ips (constant scanning)")
    options = parser.parse_args()
    events = options.events[0]
    runs: list[bench.Measure] = []
    floors: list[bench.Measure] = []
    with tempfile.TemporaryDirectory(prefix="unifi-sites-bench-") as scratch:
        work = Path(scratch)
        record, replay = work / "requests.jsonl", work / "floor-requests.jsonl"
        print(f"[{options.sites} sites x {events:,} events, {options.mix} mix] starting", flush=True)
        names = ",".join(["default", *(f"site{n:02d}" for n in range(1, options.sites))])
        sites = ("--sites", names)
        with bench.fake(options.mix, events, record, profile="unifi_os_10", extra=sites) as announce:
            env = {**bench.base_env(announce, work), "UNIFI_SITES": "all", "UNIFI_FILE_FORMAT": "json"}
            for _ in range(options.repeat):
                for fresh in ("state", "reports"):
                    shutil.rmtree(work / fresh, ignore_errors=True)
                record.write_text("")  # keep only what this run sends
                runs.append(bench.measure([*bench.scanner(), "run"], env, work / "run.log"))
                shutil.copyfile(record, replay)
                floors.append(bench.measure([sys.executable, "-c", bench.FLOOR, announce["url"],
                                             announce["cert_sha256"].replace(":", "").lower(), str(replay)],
                                            env, work / "floor.log"))
                print(f"  run   wall {runs[-1].wall:6.2f} s  cpu {runs[-1].cpu:6.2f} s  peak RSS "
                      f"{runs[-1].rss:6.1f} MiB\n  floor wall {floors[-1].wall:6.2f} s", flush=True)
            requests = sum(1 for _ in replay.open(encoding="utf-8"))
            reports = list((work / "reports").glob("*.json"))
            sites = len(json.loads(reports[0].read_text(encoding="utf-8"))["sites"]) if reports else 0
    wall, floor = statistics.median(m.wall for m in runs), statistics.median(m.wall for m in floors)
    rss = max(m.rss for m in runs)
    ratio = wall / floor
    print(f"\n| sites | events per site | requests | run wall | floor wall | x floor | run CPU | peak RSS |\n"
          f"| --- | --- | --- | --- | --- | --- | --- | --- |\n"
          f"| {sites} | {events:,} | {requests:,} | {wall:.2f} s | {floor:.2f} s | {ratio:.2f} | "
          f"{statistics.median(m.cpu for m in runs):.2f} s | {rss:.1f} MiB |")
    missed = [f"{ratio:.2f}x the floor (target {TARGET_RATIO})"] if ratio > TARGET_RATIO else []
    missed += [f"{rss:.1f} MiB (target {TARGET_RSS:.0f})"] if rss > TARGET_RSS else []
    print("targets missed: " + "; ".join(missed) if missed else "targets met", flush=True)
    return 1 if missed or sites != options.sites else 0


if __name__ == "__main__":
    sys.exit(main())
