"""`unifi-scanner run` end to end: the real CLI in a subprocess, the fake controller over TLS, a real
SMTP server on loopback. Covers the issue's "done when": concurrent runs, SMTP down then back, the demo,
and the exit codes 4 and 5 (the crash test has its own file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.pipeline.e2e import new_events, run_env, smtp_server
from tests.state.helpers import lock_held_elsewhere
from unifi_scanner.fake import Behaviours, FakeController
from unifi_scanner.state import RunHistory, StateStore


@pytest.fixture
def fake():
    with FakeController(events=120, seed=5, tls=True) as controller:
        yield controller


def test_two_concurrent_runs_one_runs_the_other_exits_4_at_once(cli, fake, tmp_path) -> None:
    with smtp_server() as (mailbox, port):
        mailbox.gate = threading.Event()  # the first run waits inside SMTP DATA, holding the lock
        env = {**os.environ, **run_env(fake, tmp_path, port)}
        first = subprocess.Popen([sys.executable, "-m", "unifi_scanner", "run"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert mailbox.received.wait(timeout=60), "the first run never reached SMTP"
            second = cli("run", env=run_env(fake, tmp_path, port))
        finally:
            mailbox.gate.set()
        out, err = first.communicate(timeout=60)
    assert second.returncode == 4
    assert second.stderr.strip().splitlines() == [
        f"unifi-scanner: error: another unifi-scanner run holds the lock {tmp_path}/.lock "
        f"(pid {first.pid}); not starting"
    ]
    assert first.returncode == 0, err
    assert out == ""  # cron: silent on success
    assert len(mailbox.messages) == 1
    assert [run.exit_code for run in RunHistory(tmp_path).last(10)] == [0]


def test_smtp_down_for_three_runs_then_back_reports_all_four_windows_once(
        cli, fake, tmp_path, free_port) -> None:
    env = run_env(fake, tmp_path, free_port)
    for _ in range(3):
        fake.add_events(4)
        failed = cli("run", env=env)
        assert failed.returncode == 1
        assert "delivery failed (email: 127.0.0.1:" in failed.stderr
        assert "checkpoint not advanced" in failed.stderr
    fake.add_events(4)
    with smtp_server(free_port) as (mailbox, _):
        back = cli("run", "--verbose", env=env)
    assert back.returncode == 0, back.stderr
    runs = RunHistory(tmp_path).last(10)
    assert [run.exit_code for run in runs] == [1, 1, 1, 0]
    assert [run.checkpoint_advanced for run in runs] == [False, False, False, True]
    (report,) = mailbox.reports()
    assert report["window"]["since"] == runs[0].window.since.isoformat().replace("+00:00", "Z")
    assert {run.window.since for run in runs} == {runs[0].window.since}
    until = runs[-1].window.until
    assert new_events(report) == len(fake.event_ids(runs[0].window.since, until)) == runs[-1].events
    assert StateStore(tmp_path).load().checkpoint.last_successful_run == until
    kept = list(tmp_path.glob("unifi-report-*.html"))
    assert len(kept) == 3  # each failed run kept its report
    assert "report sent" in back.stdout and len(back.stdout.splitlines()) == 1


def test_success_under_cron_prints_nothing_and_verbose_one_line(cli, fake, tmp_path) -> None:
    env = run_env(fake, tmp_path, None, UNIFI_FILE_ENABLED="true", UNIFI_SEND_EMPTY="true")
    quiet = cli("run", env=env)
    assert (quiet.returncode, quiet.stdout) == (0, ""), quiet.stderr
    fake.add_events(3)
    loud = cli("run", "--verbose", env=env)
    assert loud.returncode == 0 and len(loud.stdout.splitlines()) == 1
    assert "new events" in loud.stdout and "report sent" in loud.stdout
    as_json = json.loads(cli("run", "--json", env=env).stdout)
    assert as_json["exit_code"] == 0 and as_json["checkpoint_advanced"] is True


def test_dry_run_prints_what_it_would_send_and_leaves_state_alone(cli, fake, tmp_path) -> None:
    env = run_env(fake, tmp_path, 2525, UNIFI_FILE_ENABLED="true", UNIFI_SEND_EMPTY="true")
    dry = cli("run", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("Subject: ")
    assert "email: dry run: would send to admin@example.com" in dry.stdout
    assert "file: dry run: would write" in dry.stdout
    assert not (tmp_path / ".last_run.json").exists() and not (tmp_path / "runs.jsonl").exists()


def test_lock_held_exits_4_before_collecting(cli, fake, tmp_path) -> None:
    with lock_held_elsewhere(tmp_path):
        held = cli("run", env=run_env(fake, tmp_path, None, UNIFI_FILE_ENABLED="true"))
    assert held.returncode == 4 and "holds the lock" in held.stderr
    assert fake.stats.logins == 0


def test_unusable_state_directory_exits_5_before_collecting(cli, fake, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = run_env(fake, tmp_path, None, UNIFI_FILE_ENABLED="true", UNIFI_STATE_DIR=str(blocker / "state"))
    failed = cli("run", env=env)
    assert failed.returncode == 5
    (line,) = failed.stderr.strip().splitlines()
    assert f"state directory {blocker / 'state'} is not writable" in line
    assert f"its parent {blocker} is owned by uid {os.getuid()}" in line and "runs as uid" in line
    assert fake.stats.logins == 0


def test_newer_state_schema_refused_without_overwriting(cli, fake, tmp_path) -> None:
    newer = '{"schema_version": 3, "last_successful_run": "2026-01-01T00:00:00Z"}'
    (tmp_path / ".last_run.json").write_text(newer)
    refused = cli("run", env=run_env(fake, tmp_path, None, UNIFI_FILE_ENABLED="true"))
    assert refused.returncode == 5 and "schema version 3" in refused.stderr
    assert (tmp_path / ".last_run.json").read_text() == newer


@pytest.mark.parametrize("own_dir", [False, True])
def test_demo_prints_the_path_of_an_html_report(cli, tmp_path, own_dir) -> None:
    args = ["run", "--demo"] + (["--reports-dir", str(tmp_path / "demo")] if own_dir else [])
    demo = cli(*args, env={"UNIFI_EMAIL_ENABLED": "true", "UNIFI_SMTP_HOST": "127.0.0.1",
                           "UNIFI_EMAIL_FROM": "a@example.com", "UNIFI_EMAIL_TO": "b@example.com"})
    assert demo.returncode == 0, demo.stderr
    (line,) = demo.stdout.splitlines()
    html = Path(line)
    assert html.is_file() and html.suffix == ".html"
    assert "<html" in html.read_text(encoding="utf-8").lower()
    if own_dir:
        assert html.parent == tmp_path / "demo"
    assert StateStore(html.parent).load().checkpoint.last_successful_run is not None
    # The demo's state is throwaway: no container-volume warning (these test machines are containers).
    assert "mounted volume" not in demo.stderr + html.read_text(encoding="utf-8")


def test_sigterm_mid_collection_exits_130_records_it_and_keeps_the_checkpoint(tmp_path) -> None:
    asked = threading.Event()

    def notice(request):  # the fake's hook: tell the test the run is now waiting on the system log
        if "system-log" in request.path:
            asked.set()

    behaviours = Behaviours(slow_forever="system-log", hooks=[notice])
    with FakeController(events=50, seed=5, tls=True, behaviours=behaviours) as fake:
        env = {**os.environ, **run_env(fake, tmp_path, None, UNIFI_FILE_ENABLED="true")}
        process = subprocess.Popen([sys.executable, "-m", "unifi_scanner", "run"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert asked.wait(timeout=60), "the run never asked for the system log"
        process.terminate()
        _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "ERROR run interrupted before the checkpoint commit" in err and "Traceback" not in err
    (run,) = RunHistory(tmp_path).last(5)
    assert (run.exit_code, run.checkpoint_advanced) == (130, False)
    assert StateStore(tmp_path).load().checkpoint.last_successful_run is None


def test_a_failed_event_log_delivers_nothing_and_keeps_the_checkpoint(cli, tmp_path) -> None:
    from unifi_scanner.fake import InjectStatus

    broken = Behaviours(inject_status=[InjectStatus("system-log/all", 400, nth=None)])
    with FakeController(events=60, seed=9, tls=True, behaviours=broken) as controller, \
            smtp_server() as (mailbox, port):
        env = run_env(controller, tmp_path, port)
        failed = cli("run", env=env)
        assert failed.returncode == 3, failed.stderr
        assert "event log could not be read (system_log:" in failed.stderr
        assert "Traceback" not in failed.stderr
        assert mailbox.messages == []
        assert StateStore(tmp_path).load().checkpoint.last_successful_run is None
        assert RunHistory(tmp_path).last(1)[0].exit_code == 3
