"""Benchmark `collect`, `report` and a full `run` against the fake controller, next to a bare floor.

Usage (from the repository root, with the project installed):

    python benchmarks/run.py                    # 10k and 100k events, both mixes
    python benchmarks/run.py --sizes 10k        # quick look
    python benchmarks/run.py --full             # 10k, 100k and 1M

For each mix and size the fake controller runs in its own process (`python -m unifi_scanner.fake
--tls --record FILE`), so its CPU and memory are never counted as ours. Every measured command is a
fresh child process reaped with `os.wait4`, which returns that child's own resource usage: wall time
(perf_counter around spawn and reap), CPU time (user + sys of the child) and peak RSS (the child's
`ru_maxrss`, in MiB; Linux starts it at this process's own peak, which is kept far below, about
15 MiB, and checked). Events per second is the number of events the fake generated divided by the
wall time.

The floor replays exactly the requests `collect` sent (the fake records them) with a bare `requests`
session: the same connection reuse, the same TLS with the certificate pinned by fingerprint, each
answer decoded with `json.loads` and thrown away. "x floor" is a command's wall time over the
floor's: how much our work adds on top of what talking to the controller costs anyway. The floor and
`run` are measured three times each (`--repeat`), alternately, and their medians compared.

The results table goes to stdout and between the markers in benchmarks/README.md (--no-readme to
skip that); the exit status is 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = Path(__file__).resolve().parent / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"

# Roams exist only in the legacy stat/event feed, so the roam-heavy mix runs against the legacy
# self-hosted profile; the IPS-heavy mix against a current console (system log and traffic flows).
MIXES = {"ips": "unifi_os_10", "roam": "legacy"}
QUICK, FULL = "10k,100k", "10k,100k,1m"
TARGET_RATIO = 1.5  # full run at 100k events, wall time over the floor's
TARGET_RSS = {100_000: 100.0, 1_000_000: 256.0}  # MiB, per command, at these sizes
TARGET_VERSION_MS = 150.0

FLOOR = """
import json, sys
import requests
from requests.adapters import HTTPAdapter

url, pin, recorded = sys.argv[1:4]

class Pinned(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        kwargs["assert_fingerprint"] = pin
        super().init_poolmanager(*args, **kwargs)

session = requests.Session()
session.mount("https://", Pinned())
with open(recorded, encoding="utf-8") as lines:
    for line in lines:
        sent = json.loads(line)
        body = sent["body"].encode() or None
        answer = session.request(sent["method"], url + sent["target"], data=body, verify=False,
                                 headers={"Content-Type": "application/json"} if body else None)
        if "X-CSRF-Token" in answer.headers:
            session.headers["X-CSRF-Token"] = answer.headers["X-CSRF-Token"]
        try:
            json.loads(answer.content)
        except ValueError:
            pass  # the login page and logout answer are not JSON on every profile
"""


@dataclass
class Measure:
    """One child process's figures."""

    wall: float  # seconds
    cpu: float  # user + sys seconds of the child
    rss: float  # peak resident set of the child, MiB


def measure(argv: list[str], env: dict[str, str], log: Path) -> Measure:
    """Run `argv` as a fresh child, wait for it with wait4 and return its own usage; fail loudly."""
    with log.open("wb") as out:
        started = time.perf_counter()
        child = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:]
        sys.exit(f"{' '.join(argv[:4])} exited {child.returncode}:\n{tail}")
    return Measure(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def scanner() -> list[str]:
    """The installed console script next to this interpreter (what cron calls), else `python -m`."""
    script = Path(sys.executable).with_name("unifi-scanner")
    return [str(script)] if script.exists() else [sys.executable, "-m", "unifi_scanner"]


@contextlib.contextmanager
def fake(mix: str, events: int, record: Path, *, profile: str | None = None,
         extra: tuple[str, ...] = ()) -> Iterator[dict[str, str]]:
    """Run the fake controller in its own process for the duration; yield its announcement.

    The profile is the mix's (`MIXES`) unless given; `extra` are more options of the fake (`--sites`).
    """
    argv = [sys.executable, "-m", "unifi_scanner.fake", "--tls", "--profile", profile or MIXES[mix], "--mix",
            mix, "--events", str(events), "--record", str(record), *extra]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            sys.exit(f"the fake controller did not start (exit {proc.wait()})")
        yield json.loads(line)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def base_env(announce: dict[str, str], work: Path) -> dict[str, str]:
    """The environment of every measured command: ours only, no UNIFI_* from the caller's shell."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("UNIFI_")}
    env.update(
        UNIFI_HOST=announce["url"], UNIFI_USERNAME=announce["username"], UNIFI_PASSWORD=announce["password"],
        UNIFI_SITE=announce["site"], UNIFI_TLS_FINGERPRINT=announce["cert_sha256"],
        UNIFI_LOG_LEVEL="WARNING", UNIFI_LOOKBACK_HOURS="25",
        # 1M events are about 10,000 pages of 100 rows per v2 feed: above the default safety cap.
        UNIFI_MAX_PAGES="100000",
        UNIFI_EMAIL_ENABLED="false", UNIFI_FILE_ENABLED="true", UNIFI_FILE_FORMAT="both",
        UNIFI_SEND_EMPTY="true", UNIFI_REPORTS_DIR=str(work / "reports"), UNIFI_STATE_DIR=str(work / "state"),
        HOME=str(work),  # no user config file can leak in
    )
    return env


def run_memory(log: Path, fallback: float) -> float:
    """A run's peak memory with its collector process counted, from the run's debug log lines.

    `run` collects in a forked child process, and wait4 reports the larger of the two peaks, not their
    sum. The child's peak RSS counts the pages it shares with the parent; its private memory (copied
    or new pages) is what it adds. Both grow while collecting, so the pair peaks when the child ends:
    the parent's RSS then plus the child's private memory; after that only the parent's peak counts.
    """
    text = log.read_text(errors="replace")
    own = re.search(r"peak RSS of this process ([\d.]+) MiB", text)
    child = re.search(r"collector process: .* of which ([\d.]+) MiB not shared .*\(at ([\d.]+) MiB now\)",
                      text)
    if not (own and child):
        return fallback
    return max(float(own[1]), float(child[1]) + float(child[2]))


def fresh_start(work: Path) -> None:
    """Remove the state and reports a run left, so that the next run is a first run over the whole window."""
    for fresh in ("state", "reports"):
        shutil.rmtree(work / fresh, ignore_errors=True)


def footer_records(collection: Path) -> int:
    """The number of records the collection's footer counts, reading only the file's tail.

    This process must stay small: a child's ru_maxrss starts at the parent's peak RSS (Linux carries
    the high-water mark across fork and exec), so reading a 1 GB collection here would inflate every
    later figure.
    """
    with collection.open("rb") as stream:
        stream.seek(max(0, collection.stat().st_size - 65536))
        footer = stream.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    return sum(json.loads(footer)["counts"].values())


def bench(mix: str, events: int, work: Path, repeat: int) -> list[dict[str, object]]:
    """Measure collect, the floor, report and run for one mix and size; return table rows.

    The floor and `run` are measured `repeat` times, alternately, and their medians reported (peak
    memory: the largest), so that a busy moment of the machine weighs on neither alone.
    """
    record = work / "requests.jsonl"
    collection = work / "collection.jsonl"
    replay = work / "floor-requests.jsonl"
    samples: dict[str, list[Measure]] = {}

    def step(name: str, argv: list[str]) -> None:
        """Measure one command and print its line at once (a 1M run takes a while)."""
        m = measure(argv, env, work / f"{name}.log")
        samples.setdefault(name, []).append(m)
        print(f"  {name:<8} wall {m.wall:7.2f} s  cpu {m.cpu:7.2f} s  peak RSS {m.rss:6.1f} MiB  "
              f"{events / m.wall:>9,.0f} events/s", flush=True)

    print(f"[{mix} {events:,}] starting the fake controller ...", flush=True)
    with fake(mix, events, record) as announce:
        env = base_env(announce, work)
        cmd = scanner()
        record.write_text("")  # the fake appends: keep only what collect sends
        step("collect", [*cmd, "collect", "--since", "25h", "-o", str(collection)])
        shutil.copyfile(record, replay)
        step("report", [*cmd, "report", "-i", str(collection), "-o", str(work / "report") + "/"])
        for _ in range(repeat):
            step("floor", [sys.executable, "-c", FLOOR, announce["url"],
                           announce["cert_sha256"].replace(":", "").lower(), str(replay)])
            fresh_start(work)
            step("run", [*cmd, "run"])
        # The collector process's memory is only in a run's debug log (see run_memory): one more run at
        # DEBUG gives it. Its time is not counted: the debug log's line per request (1,864 at 100k IPS
        # events) costs that run about 3 %, which no scheduled run at the default level pays.
        fresh_start(work)
        debug = measure([*cmd, "run"], {**env, "UNIFI_LOG_LEVEL": "DEBUG"}, work / "run-debug.log")
        run_rss = run_memory(work / "run-debug.log", debug.rss)
        print(f"  run at DEBUG, for its memory with the collector's: peak {run_rss:.1f} MiB", flush=True)
    rows = [{"mix": mix, "profile": MIXES[mix], "events": events, "command": name,
             "wall": statistics.median(m.wall for m in runs), "cpu": statistics.median(m.cpu for m in runs),
             "rss": max([m.rss for m in runs] + ([run_rss] if name == "run" else [])), "runs": len(runs)}
            for name in ("floor", "collect", "report", "run") for runs in [samples[name]]]
    if not list((work / "reports").glob("*.html")):
        sys.exit(f"[{mix} {events:,}] run wrote no HTML report; see {work / 'run.log'}")
    records = footer_records(collection)
    floor = rows[0]["wall"]
    for row in rows:
        row["records"] = records
        row["ratio"] = row["wall"] / floor
        row["eps"] = events / row["wall"]
    ours = [row for row in rows if row["command"] != "floor"]
    print("  x floor: " + ", ".join(f"{row['command']} {row['ratio']:.2f}" for row in ours), flush=True)
    if repeat > 1:
        pairs = zip(samples["run"], samples["floor"], strict=True)
        ratios = sorted(run.wall / floor.wall for run, floor in pairs)
        print(f"  run over the floor measured just before it: {', '.join(f'{r:.2f}' for r in ratios)}",
              flush=True)
    return rows


def startup(runs: int) -> dict[str, float]:
    """Median wall time in ms of `--version` and `--help`, after one untimed warm-up of each."""
    result = {}
    env = {key: value for key, value in os.environ.items() if not key.startswith("UNIFI_")}
    for flag in ("--version", "--help"):
        argv = [*scanner(), flag]
        subprocess.run(argv, env=env, capture_output=True, check=True)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(argv, env=env, capture_output=True, check=True)
            times.append((time.perf_counter() - started) * 1000)
        result[flag] = statistics.median(times)
    return result


def machine() -> str:
    """CPU model, cores, RAM, Python and OS, and the commit measured, on one line."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        ram = f"{kib / 2**20:.1f} GiB"
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "?"
    if subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                      capture_output=True, text=True).stdout.strip():
        commit += " with uncommitted changes"
    return (f"{cpu}, {os.cpu_count()} cores, {ram} RAM, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}; commit {commit}")


def parse_sizes(text: str) -> list[int]:
    """`10k,100k,1m` -> [10000, 100000, 1000000]."""
    scale = {"k": 1_000, "m": 1_000_000}
    try:
        return sorted({int(float(part[:-1]) * scale[part[-1]]) if part[-1] in scale else int(part)
                       for part in text.lower().replace(" ", "").split(",") if part})
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"not a list of sizes like 10k,100k,1m: {text!r}") from None


def table(rows: list[dict[str, object]], starts: dict[str, float], host: str) -> str:
    """The Markdown results: machine, one line per command, start-up medians."""
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {host}.",
        "",
        "| mix (profile) | events | records | command | runs | wall s | CPU s | peak RSS MiB | events/s "
        "| x floor |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['mix']} ({r['profile']}) | {r['events']:,} | {r['records']:,} | {r['command']} "
                     f"| {r['runs']} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['rss']:.1f} | {r['eps']:,.0f} "
                     f"| {r['ratio']:.2f} |")
    lines += ["", "Start-up (median wall time): " + ", ".join(
        f"`unifi-scanner {flag}` {ms:.0f} ms" for flag, ms in starts.items()) + "."]
    return "\n".join(lines)


def targets(rows: list[dict[str, object]], starts: dict[str, float]) -> list[str]:
    """One line per target checked: met or MISSED, with the figure."""
    out = []
    for r in rows:
        if r["command"] == "run" and r["events"] == 100_000:
            ok = r["ratio"] <= TARGET_RATIO
            out.append(f"{'met   ' if ok else 'MISSED'} run {r['mix']} 100k: {r['ratio']:.2f} x floor "
                       f"(target {TARGET_RATIO})")
        limit = TARGET_RSS.get(r["events"])
        if limit is not None and r["command"] != "floor":
            ok = r["rss"] <= limit
            out.append(f"{'met   ' if ok else 'MISSED'} {r['command']} {r['mix']} {r['events']:,}: peak RSS "
                       f"{r['rss']:.1f} MiB (target {limit:.0f})")
    ok = starts["--version"] <= TARGET_VERSION_MS
    out.append(f"{'met   ' if ok else 'MISSED'} --version start-up {starts['--version']:.0f} ms "
               f"(target {TARGET_VERSION_MS:.0f})")
    return out


def write_readme(text: str) -> None:
    """Replace what is between the result markers in benchmarks/README.md."""
    readme = README.read_text(encoding="utf-8")
    head, found, rest = readme.partition(START)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        sys.exit(f"{README}: result markers {START} ... {END} not found")
    README.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")


def main() -> int:
    """Parse the options, run every mix and size, print and store the table; 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_sizes, default=None, help=f"event counts (default {QUICK})")
    parser.add_argument("--full", action="store_true", help=f"all sizes: {FULL}")
    parser.add_argument("--mixes", default=",".join(MIXES), help="event mixes: ips, roam (default both)")
    parser.add_argument("--startup-runs", type=int, default=11, help="runs per start-up median")
    parser.add_argument("--repeat", type=int, default=3,
                        help="measure the floor and run this many times each, alternately, and report the "
                             "medians (default 3; 1M events are measured once)")
    parser.add_argument("--no-readme", action="store_true", help="do not update benchmarks/README.md")
    parser.add_argument("--keep", action="store_true", help="keep the work directories (logs, reports)")
    args = parser.parse_args()
    sizes = args.sizes or parse_sizes(FULL if args.full else QUICK)
    mixes = [mix for mix in args.mixes.split(",") if mix]
    if unknown := set(mixes) - set(MIXES):
        parser.error(f"unknown mix: {', '.join(sorted(unknown))}")

    starts = startup(args.startup_runs)
    print("start-up medians: " + ", ".join(f"{flag} {ms:.0f} ms" for flag, ms in starts.items()), flush=True)
    rows: list[dict[str, object]] = []
    for mix in mixes:
        for events in sizes:
            work = Path(tempfile.mkdtemp(prefix=f"unifi-bench-{mix}-{events}-"))
            try:
                rows += bench(mix, events, work, max(1, args.repeat) if events < 1_000_000 else 1)
            finally:
                if args.keep:
                    print(f"  kept {work}")
                else:
                    shutil.rmtree(work, ignore_errors=True)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if any(row["rss"] <= own for row in rows):
        print(f"warning: this process peaked at {own:.1f} MiB; children at or below that show its figure")
    text = table(rows, starts, machine())
    print("\n" + text + "\n")
    checked = targets(rows, starts)
    print("\n".join(checked))
    if not args.no_readme:
        write_readme(text + "\n\nTargets:\n\n" + "\n".join(f"- {line}" for line in checked))
    return 1 if any(line.startswith("MISSED") for line in checked) else 0


if __name__ == "__main__":
    sys.exit(main())
