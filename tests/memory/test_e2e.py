"""Memory across real runs: the real CLI against the fake controller over TLS, a real SMTP server.

An outage begins before run 1 (the fake's Patio AP is offline from the start), lasts through run 2
and ends before run 3: run 1 reports it NEW, run 2 ONGOING since its start, run 3 RESOLVED once, and
run 4 does not mention it. With delivery failing in run 2, the next successful run says what run 2
would have said. With UNIFI_NOTIFY=changes, a run that found nothing new sends nothing and exits 0,
yet writes its files, moves the checkpoint and says why in the history and `state show`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pipeline.e2e import run_env, smtp_server
from unifi_scanner.fake import FakeController
from unifi_scanner.state import RunHistory, StateStore


@pytest.fixture
def fake():
    """A small fake controller (400 events over the last 24 hours) with the Patio AP offline."""
    with FakeController(events=400, seed=7, tls=True) as controller:
        yield controller


def _outage(report: dict, mac: str) -> dict | None:
    """The device_outage finding about `mac` in a delivered report, if any."""
    return next((f for f in report["findings"] if f.get("incident") == "device_outage"
                 and any(item["id"] == mac for item in f["affected"])), None)


def _mentions(report: dict, mac: str) -> bool:
    """True when any finding or resolved incident of the report is about `mac`."""
    resolved = [r for r in report["resolved"] if r["rule_id"] in {"device_outage", "device_offline"}]
    return _outage(report, mac) is not None or any(mac in json.dumps(r) for r in resolved) or any(
        any(item["id"] == mac for item in f["affected"]) for f in report["findings"])


def _sequence(cli, fake: FakeController, state: Path, port: int, *, fail_second_at: int | None = None):
    """Runs 1..4 around the Patio AP's recovery; returns the reports the SMTP server got, in order."""
    patio = fake.offline_device
    with smtp_server(port) as (mailbox, smtp_port):
        env = run_env(fake, state, smtp_port)
        assert cli("run", env=env).returncode == 0
        if fail_second_at is not None:
            failed = cli("run", env=run_env(fake, state, fail_second_at))
            assert failed.returncode == 1 and "checkpoint not advanced" in failed.stderr
        assert cli("run", env=env).returncode == 0
        fake.device_up(patio)
        assert cli("run", env=env).returncode == 0
        assert cli("run", env=env).returncode == 0
        return mailbox.reports(), patio


def _check(reports: list[dict], patio: str) -> None:
    """NEW, ONGOING since its start, RESOLVED once, then nothing."""
    first, second, third, fourth = reports
    new = _outage(first, patio)
    assert new["status"]["kind"] == "new" and new["severity"] == "severe" and new["open"]
    ongoing = _outage(second, patio)
    assert ongoing["id"] == new["id"] and ongoing["status"]["kind"] == "ongoing"
    assert ongoing["status"]["since"] == new["first_seen"] and ongoing["status"]["report"] == 2
    assert second["changes"]["ongoing_severe"] >= 1
    assert _outage(third, patio) is None
    resolved = [item for item in third["resolved"] if item["id"] == new["id"]]
    assert len(resolved) == 1 and resolved[0]["reports"] == 2 and resolved[0]["since"] == new["first_seen"]
    # The reconnect is the outage's end, not news of its own.
    assert not any(f["rule_id"] == "device_reconnected" for f in third["findings"])
    assert not _mentions(fourth, patio)


def test_an_outage_is_new_then_ongoing_then_resolved_once_then_gone(cli, fake, tmp_path, free_port):
    reports, patio = _sequence(cli, fake, tmp_path, free_port)
    _check(reports, patio)
    assert reports[1]["trends"]["history"][-1]["until"] == reports[1]["window"]["until"]
    assert len(reports[3]["trends"]["history"]) == 4
    state = StateStore(tmp_path).load().checkpoint
    assert not state.memory.incidents[_outage(reports[0], patio)["id"]].open
    assert len(state.memory.reports) == 4


def test_a_failed_delivery_in_run_2_repeats_its_statuses_in_the_next_successful_run(
        cli, fake, tmp_path, free_port):
    with smtp_server() as (_, refused):
        pass  # a port where an SMTP server was a moment ago: connections are refused now
    reports, patio = _sequence(cli, fake, tmp_path, free_port, fail_second_at=refused)
    _check(reports, patio)
    assert [run.exit_code for run in RunHistory(tmp_path).last(10)] == [0, 1, 0, 0, 0]


def test_notify_changes_sends_nothing_when_nothing_changed_but_files_and_checkpoint_move(
        cli, fake, tmp_path, free_port):
    files = tmp_path / "reports"
    with smtp_server(free_port) as (mailbox, port):
        env = run_env(fake, tmp_path, port, UNIFI_NOTIFY="changes", UNIFI_FILE_ENABLED="true",
                      UNIFI_REPORTS_DIR=str(files), UNIFI_STATE_DIR=str(tmp_path / "state"),
                      UNIFI_FILE_FORMAT="json")
        first = cli("run", env=env)
        assert first.returncode == 0 and len(mailbox.messages) == 1
        second = cli("run", env=env)
        assert second.returncode == 0, second.stderr
        assert len(mailbox.messages) == 1  # nothing new, resolved or of changed severity: no email
    last = RunHistory(tmp_path / "state").last(1)[0]
    assert last.checkpoint_advanced and last.held_back.startswith("UNIFI_NOTIFY=changes")
    # The archive still gets the second report (two runs in one second share a file name).
    newest = max(files.glob("unifi-report-*.json"), key=lambda path: path.stat().st_mtime_ns)
    quiet = json.loads(newest.read_text(encoding="utf-8"))
    assert quiet["window"] == last.window.model_dump(mode="json")
    assert quiet["changes"]["new"] == 0 and quiet["changes"]["resolved"] == 0
    assert quiet["changes"]["ongoing"] >= 1
    shown = cli("state", "show", env={**env, "COLUMNS": "250"})
    assert "held back: UNIFI_NOTIFY=changes and nothing is new" in shown.stdout
