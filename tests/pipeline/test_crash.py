"""The crash test: every event reported, none twice, whatever is killed when.

`unifi-scanner run` runs again and again as a subprocess against the fake controller (over TLS) and a
real SMTP server on loopback, while new events keep arriving. Most runs are killed with SIGKILL at a
seeded random moment: after a random number of log lines, or right after a chosen phase starts
(collect, analyze, render, deliver, commit), or once a temporary state file exists, that is in the
middle of the checkpoint write. The moments are found by reading the run's own debug log from a pipe
and watching the state directory, never by sleeping.

Accounting, from what the SMTP server received (each email carries the report as a JSON attachment):

* an email is *committed* when its window's end became the checkpoint (seen by parsing the state file
  after every run), otherwise it was accepted by the server but the run died before the commit;
* the committed emails' windows must chain without gaps ([checkpoint - overlap, now) each time), and
  their event counts must add up exactly to the fake's ground truth for the whole span: no event
  missing, none twice;
* events delivered twice must be exactly those of the accepted-but-uncommitted emails.

The incident memory rides in the same file: after every run, each state file's memory must end with
the summary of its own checkpoint's report and hold one summary per commit so far (never ahead of the
checkpoint, never half-written), and across the committed emails an incident is NEW only while it is
not open, and RESOLVED only when it was.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import datetime, timedelta
from signal import SIGKILL

from tests.pipeline.e2e import new_events, run_env, smtp_server
from unifi_scanner.fake import FakeController
from unifi_scanner.state import StateStore
from unifi_scanner.state.store import BACKUP_FILE, STATE_FILE

RUNS = 25
SEED = 20261122
PHASES = ["collect", "analyze", "render", "deliver", "commit", "committed"]


def _plans(rng: random.Random) -> list[tuple[str, str | int] | None]:
    """Where to kill each run: None (let it finish), ("line", n), ("phase", name) or ("write", "state").

    Every phase is hit twice and the order is shuffled; the last run always completes, so everything
    ends up delivered.
    """
    plans: list[tuple[str, str | int] | None] = [("phase", phase) for phase in PHASES * 2]
    plans += [("line", rng.randint(1, 40)) for _ in range(6)]
    plans += [("write", "state")] * 3
    plans += [None] * (RUNS - 1 - len(plans))
    rng.shuffle(plans)
    return [*plans, None]


def _should_kill(plan: tuple[str, str | int], line: str, count: int) -> bool:
    kind, where = plan
    if kind == "line":
        return count >= where
    return line.startswith(f"DEBUG run phase: {'commit' if kind == 'write' else where}")


def _wait_for_state_write(process: subprocess.Popen, directory) -> None:
    """Return as soon as a temporary state file exists (a write is under way) or the process is gone.

    Polls the directory without sleeping: the kill must land while the write is in progress.
    """
    while process.poll() is None and not list(directory.glob(f".{STATE_FILE}*.tmp")):
        pass


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_sigkill_at_random_moments_never_loses_or_repeats_events(tmp_path) -> None:
    rng = random.Random(SEED)
    store = StateStore(tmp_path)
    checkpoints: set[datetime] = set()
    kills: dict[str, int] = {}
    outcomes: list[str] = []
    mid_write = 0
    with FakeController(events=150, seed=11, tls=True) as fake, smtp_server() as (mailbox, port):
        env = {**os.environ, **run_env(fake, tmp_path, port, UNIFI_LOG_LEVEL="DEBUG")}
        for number, plan in enumerate(_plans(rng)):
            fake.add_events(rng.randint(1, 6))
            leftovers = set(tmp_path.glob(f".{STATE_FILE}*.tmp"))
            process = subprocess.Popen([sys.executable, "-m", "unifi_scanner", "run"], env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for count, line in enumerate(process.stderr, start=1):
                if plan is not None and _should_kill(plan, line, count):
                    if plan[0] == "write":
                        _wait_for_state_write(process, tmp_path)
                    process.send_signal(SIGKILL)  # harmless if the run has just finished
                    break
            process.stderr.close()
            code = process.wait(timeout=60)
            killed = code == -SIGKILL
            if killed:
                where = {"phase": str(plan[1]), "line": "after n log lines",
                         "write": "in a state write"}[plan[0]]
                kills[where] = kills.get(where, 0) + 1
            else:
                assert code == 0, f"run {number} ({plan}) ended with {code}"
            outcomes.append("killed" if killed else "ok")
            # A temporary state file left behind means the kill fell inside a state write.
            mid_write += bool(set(tmp_path.glob(f".{STATE_FILE}*.tmp")) - leftovers)
            # No state file is ever corrupt: both parse strictly after every run, killed or not.
            for path in (tmp_path / STATE_FILE, tmp_path / BACKUP_FILE):
                if path.exists():
                    checkpoint = store.read(path)
                    if checkpoint.last_successful_run is not None:
                        # The memory moved with the checkpoint, in the same write: its newest summary is
                        # the committed report's, and it counts no report that was not committed.
                        assert checkpoint.memory.reports[-1].until == checkpoint.last_successful_run
                    if path.name == STATE_FILE and checkpoint.last_successful_run is not None:
                        checkpoints.add(checkpoint.last_successful_run)
                        assert len(checkpoint.memory.reports) == len(checkpoints)
            if not killed:
                assert store.read(tmp_path / STATE_FILE).last_successful_run in checkpoints

    reports = mailbox.reports()
    committed = [r for r in reports if _parse(r["window"]["until"]) in checkpoints]
    uncommitted = [r for r in reports if _parse(r["window"]["until"]) not in checkpoints]
    overlap = timedelta(minutes=5)
    committed.sort(key=lambda r: r["window"]["until"])
    for before, after in zip(committed, committed[1:], strict=False):
        assert _parse(after["window"]["since"]) == _parse(before["window"]["until"]) - overlap
    span_since, span_until = _parse(committed[0]["window"]["since"]), _parse(committed[-1]["window"]["until"])
    truth = fake.event_ids(span_since, span_until)
    delivered_once = sum(new_events(r) for r in committed)
    delivered_all = sum(new_events(r) for r in reports)
    duplicates = delivered_all - len(truth)
    allowed = sum(new_events(r) for r in uncommitted)
    print(
        f"\ncrash test: {RUNS} runs, {outcomes.count('killed')} killed {dict(sorted(kills.items()))}, "
        f"{mid_write} of them inside a state write; "
        f"{len(reports)} emails received ({len(committed)} committed, {len(uncommitted)} accepted but "
        f"killed before the commit); ground truth {len(truth)} events; delivered {delivered_all} "
        f"event occurrences; missing {len(truth) - delivered_once}; duplicates {duplicates} "
        f"(all from the {len(uncommitted)} uncommitted emails: {allowed})"
    )
    assert len(checkpoints) == len(committed)  # every commit followed a delivered email
    _statuses_follow_each_other(committed)
    assert delivered_once == len(truth)  # nothing missing, nothing twice among committed windows
    assert duplicates == allowed  # repeats only where the kill fell between acceptance and commit
    assert outcomes.count("killed") >= RUNS // 2


def _statuses_follow_each_other(committed: list[dict]) -> None:
    """Across the committed reports, in order: NEW only for what is not open, ONGOING and RESOLVED only
    for what is, and the first report calls everything new."""
    assert committed[0]["changes"]["first_report"]
    open_ids: set[str] = set()
    for report in committed:
        for finding in report["findings"]:
            kind = finding["status"]["kind"]
            assert (kind == "new") is (finding["id"] not in open_ids), (finding["title"], kind)
            (open_ids.add if finding["open"] else open_ids.discard)(finding["id"])
        for resolved in report["resolved"]:
            assert resolved["id"] in open_ids, resolved["title"]
            open_ids.discard(resolved["id"])
