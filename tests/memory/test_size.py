"""The state stays small: 1,000 hourly runs of a noisy site, through the real memory, checkpoint and
run history, leave a state directory under 2 MB."""

from __future__ import annotations

from datetime import timedelta

from tests.memory.noisy import noisy_reports
from unifi_scanner.memory.model import Memory
from unifi_scanner.memory.recall import recall
from unifi_scanner.models import ChannelResult
from unifi_scanner.settings import Settings
from unifi_scanner.state import Checkpoint, RunHistory, RunRecord, StateStore

RUNS = 1_000
LIMIT = 2 * 1024 * 1024


def commit_runs(directory, runs: int) -> Memory:
    """Commit `runs` noisy hourly reports into the state directory as delivered runs would."""
    store, history, memory = StateStore(directory), RunHistory(directory), Memory()
    settings = Settings()
    for number, report in enumerate(noisy_reports(runs)):
        recalled = recall(report, memory, settings)
        memory = recalled.memory
        until = report.window.until
        # The events of the last five minutes, as a busy site's overlap holds them.
        ids = [f"system_log:{number:06d}{index:04d}-6f1c2e0a9b8d7c6e5f4a3b2c" for index in range(150)]
        store.save(Checkpoint(last_successful_run=until, last_report_count=len(report.findings),
                              last_event_count=report.total_events, reported_ids=ids, memory=memory))
        history.append(RunRecord(
            run_id=f"{number:08d}-0000-4000-8000-000000000000", started_at=until,
            ended_at=until + timedelta(seconds=9),
            window=report.window, events=report.total_events, findings=recalled.report.counts, sent=True,
            checkpoint_advanced=True,
            channels=[ChannelResult(channel="email", ok=True,
                                    detail="sent to 2 recipients via smtp.example.net:587"),
                      ChannelResult(channel="file", ok=True, detail="2 files",
                                    paths=[f"/reports/unifi-report-default-{number:06d}.html",
                                           f"/reports/unifi-report-default-{number:06d}.json"])]))
    return memory


def test_a_thousand_noisy_runs_leave_a_state_directory_under_2_mb(tmp_path):
    memory = commit_runs(tmp_path, RUNS)
    sizes = {path.name: path.stat().st_size for path in tmp_path.iterdir() if path.is_file()}
    total = sum(sizes.values())
    opened = sum(record.open for record in memory.incidents.values())
    print(f"\nstate after {RUNS} noisy runs: {total / 1024:.0f} KiB "
          + ", ".join(f"{name} {size / 1024:.0f} KiB" for name, size in sorted(sizes.items()))
          + f"; {opened} open and {len(memory.incidents) - opened} resolved incidents, "
            f"{len(memory.reports)} summaries")
    assert total < LIMIT
    assert len(memory.reports) == 90 and len(RunHistory(tmp_path).last(RUNS + 1)) == RUNS
    assert len(memory.incidents) - opened == 500  # resolved ones are forgotten oldest first
