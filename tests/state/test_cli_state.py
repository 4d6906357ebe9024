"""`state show` and `state reset` through the real CLI."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from tests.state.helpers import lock_held_elsewhere
from unifi_scanner.memory.model import IncidentRecord, Memory
from unifi_scanner.models import Category, ChannelResult, Severity, Window
from unifi_scanner.state import Checkpoint, RunHistory, RunRecord, StateStore
from unifi_scanner.state.store import BACKUP_FILE

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_show_an_empty_state_directory(cli, tmp_path) -> None:
    shown = cli("state", "show", env={"UNIFI_STATE_DIR": str(tmp_path)})
    assert shown.returncode == 0, shown.stderr
    assert "Checkpoint: none (the next run is a first run)" in shown.stdout
    assert "Backup: no backup" in shown.stdout


def test_show_checkpoint_backup_and_runs(cli, tmp_path) -> None:
    store = StateStore(tmp_path)
    store.save(Checkpoint(last_successful_run=T0))
    store.save(Checkpoint(last_successful_run=T0.replace(hour=13), reported_ids=["a", "b"]))
    RunHistory(tmp_path).append(RunRecord(
        run_id="r1", started_at=T0, window=Window(since=T0.replace(hour=11), until=T0), events=42,
        channels=[ChannelResult(channel="email", ok=False, detail="x")], exit_code=1,
        error="smtp down: 550 [/red] no"))
    env = {"UNIFI_STATE_DIR": str(tmp_path), "UNIFI_TIMEZONE": "Europe/Berlin", "COLUMNS": "200"}
    shown = cli("state", "show", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "Checkpoint: 2026-11-01 14:00:00 CET" in shown.stdout
    assert "2 event ids remembered" in shown.stdout
    assert "Backup: backup of 2026-11-01T12:00:00.000Z" in shown.stdout
    assert "email FAILED" in shown.stdout and "42" in shown.stdout
    assert "smtp down: 550 [/red] no" in shown.stdout  # printed literally, never as markup
    data = json.loads(cli("state", "show", "--json", env=env).stdout)
    assert data["checkpoint"]["last_successful_run"] == "2026-11-01T13:00:00.000Z"
    assert data["runs"][0]["error"].startswith("smtp down") and data["source"] == "state"


def test_reset_requires_yes_without_a_terminal(cli, tmp_path) -> None:
    StateStore(tmp_path).save(Checkpoint(last_successful_run=T0))
    refused = cli("state", "reset", "--lookback", "24h", env={"UNIFI_STATE_DIR": str(tmp_path)})
    assert refused.returncode == 2
    assert "pass --yes" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert StateStore(tmp_path).load().checkpoint.last_successful_run == T0


def test_reset_to_a_time_or_to_a_first_run_keeps_a_backup(cli, tmp_path) -> None:
    env = {"UNIFI_STATE_DIR": str(tmp_path)}
    StateStore(tmp_path).save(Checkpoint(last_successful_run=T0))
    moved = cli("state", "reset", "--to", "2026-10-30T08:00:00+01:00", "--yes", env=env)
    assert moved.returncode == 0, moved.stderr
    assert "checkpoint set to 2026-10-30T07:00:00.000Z" in moved.stdout
    store = StateStore(tmp_path)
    assert store.load().checkpoint.last_successful_run == datetime(2026, 10, 30, 7, tzinfo=UTC)
    assert store.read(tmp_path / BACKUP_FILE).last_successful_run == T0
    cleared = cli("state", "reset", "--yes", env=env)
    assert cleared.returncode == 0 and "next run is a first run" in cleared.stdout
    assert store.load().checkpoint.last_successful_run is None
    assert store.read(tmp_path / BACKUP_FILE).last_successful_run == datetime(2026, 10, 30, 7, tzinfo=UTC)


def _remembering(tmp_path) -> StateStore:
    """A state directory whose memory holds one open incident and one admin address."""
    store = StateStore(tmp_path)
    incident = IncidentRecord(
        rule_id="device_outage", incident="device_outage", title="Switch “Core” is offline",
        category=Category.CONNECTIVITY, severity=Severity.SEVERE, ends="recovery", first_seen=T0,
        last_seen=T0, subjects=["device:aa:bb:cc:00:00:01"])
    store.save(Checkpoint(last_successful_run=T0, memory=Memory(
        incidents={"abc123": incident}, admin_addresses={"192.168.1.20": T0})))
    return store


def test_reset_keeps_the_memory_and_forget_incidents_forgets_only_the_incidents(cli, tmp_path) -> None:
    env = {"UNIFI_STATE_DIR": str(tmp_path), "UNIFI_TIMEZONE": "UTC", "COLUMNS": "200"}
    store = _remembering(tmp_path)
    shown = cli("state", "show", env=env)
    assert "Incidents remembered: 1 open, 0 resolved" in shown.stdout
    assert "Switch “Core” is offline" in shown.stdout and "severe" in shown.stdout
    moved = cli("state", "reset", "--lookback", "2h", "--yes", env=env)
    assert moved.returncode == 0, moved.stderr
    kept = store.load().checkpoint
    assert kept.last_successful_run != T0 and list(kept.memory.incidents) == ["abc123"]
    forgot = cli("state", "reset", "--forget-incidents", "--yes", env=env)
    assert forgot.returncode == 0 and "1 remembered incidents forgotten" in forgot.stdout
    assert "checkpoint" not in forgot.stdout.split(";")[0]
    after = store.load().checkpoint
    assert after.memory.incidents == {} and after.memory.admin_addresses == {"192.168.1.20": T0}
    assert after.last_successful_run == kept.last_successful_run  # alone, it leaves the window alone
    assert "Incidents remembered: 0 open" in cli("state", "show", env=env).stdout


def test_reset_rejects_bad_options(cli, tmp_path) -> None:
    env = {"UNIFI_STATE_DIR": str(tmp_path)}
    both = cli("state", "reset", "--to", "2026-10-30T08:00:00Z", "--lookback", "2h", "--yes", env=env)
    assert both.returncode == 2 and "not both" in both.stderr
    bad = cli("state", "reset", "--lookback", "soon", "--yes", env=env)
    assert bad.returncode == 2 and "--lookback" in bad.stderr and "Traceback" not in bad.stderr


def test_reset_while_a_run_holds_the_lock_exits_4(cli, tmp_path) -> None:
    with lock_held_elsewhere(tmp_path) as holder:
        held = cli("state", "reset", "--yes", env={"UNIFI_STATE_DIR": str(tmp_path)})
    assert held.returncode == 4
    assert held.stderr.strip() == (
        f"unifi-scanner: error: another unifi-scanner run holds the lock {tmp_path}/.lock "
        f"(pid {holder.pid}); not starting"
    )


def test_a_newer_schema_is_refused_by_show_with_exit_5(cli, tmp_path) -> None:
    (tmp_path / ".last_run.json").write_text('{"schema_version": 9, "last_successful_run": "2026-11-01"}')
    shown = cli("state", "show", env={"UNIFI_STATE_DIR": str(tmp_path)})
    assert shown.returncode == 5 and "schema version 9" in shown.stderr


@pytest.mark.parametrize("answer,changed", [("y", True), ("n", False)])
def test_reset_asks_on_a_terminal(tmp_path, answer: str, changed: bool) -> None:
    StateStore(tmp_path).save(Checkpoint(last_successful_run=T0))
    main, child = pty.openpty()
    env = {**os.environ, "UNIFI_STATE_DIR": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-m", "unifi_scanner", "state", "reset", "--lookback", "1h"],
                               stdin=child, stdout=child, stderr=child, env=env)
    os.close(child)
    output = b""
    while b"[y/N]" not in output:
        output += os.read(main, 1024)
    os.write(main, f"{answer}\n".encode())
    while True:
        try:
            chunk = os.read(main, 1024)
        except OSError:  # the terminal closed: the child is gone
            break
        if not chunk:
            break
        output += chunk
    os.close(main)
    assert process.wait(timeout=30) == 0
    assert b"Set the checkpoint in" in output
    moved = StateStore(tmp_path).load().checkpoint.last_successful_run != T0
    assert moved is changed
    assert (b"Nothing changed." in output) is not changed
