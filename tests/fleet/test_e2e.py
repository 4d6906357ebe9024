"""Many sites and controllers through the real CLI: three fake controllers over TLS, a real SMTP server.

`hq` serves two sites with events of their own, `shop` one site, and `lab` refuses the password. One
run sends one combined email naming all three sites with their incidents and `lab` as failed, moves
the three sites' checkpoints but not lab's, and exits 3; the next run reports nothing twice. With
`UNIFI_REPORT_PER=site` the same fleet sends three emails.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from tests.pipeline.e2e import smtp_server
from unifi_scanner.fake import FakeController
from unifi_scanner.state import RunHistory, StateStore


@pytest.fixture
def fleet(tmp_path):
    """The three fake controllers, and a config file naming them (secrets in files)."""
    with ExitStack() as stack:
        hq = stack.enter_context(FakeController(events=400, seed=21, sites=("default", "branch")))
        shop = stack.enter_context(FakeController(events=300, seed=22, profile="legacy"))
        lab = stack.enter_context(FakeController(events=50, seed=23))
        yield {"hq": hq, "shop": shop, "lab": lab}


def _config(tmp_path: Path, fleet: dict, port: int, **extra) -> Path:
    """The config file: the three controllers, email to the SMTP server, state in tmp_path/state."""
    controllers = []
    for name, fake in fleet.items():
        secret = tmp_path / f"{name}_password"
        secret.write_text("not-the-password\n" if name == "lab" else f"{fake.password}\n")
        entry = {"name": name, "host": fake.url, "username": fake.username, "password_file": str(secret),
                 "tls_fingerprint": fake.cert_sha256}
        if name == "hq":
            entry["sites"] = "all"
        controllers.append(entry)
    config = {
        "controllers": controllers, "state_dir": str(tmp_path / "state"), "lookback_hours": 25,
        "reports_dir": str(tmp_path / "reports"), "email_enabled": True, "smtp_host": "127.0.0.1",
        "smtp_port": port, "smtp_tls": "none", "email_from": "scanner@example.com",
        "email_to": ["msp@example.com"], "email_attach": "json", "send_empty": True, **extra,
    }
    path = tmp_path / "unifi-scanner.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _checkpoint(tmp_path: Path, controller: str, site: str):
    loaded = StateStore(tmp_path / "state" / controller / site).load().checkpoint
    return loaded.last_successful_run if loaded else None


def test_one_combined_email_names_every_site_and_the_failed_controller(cli, tmp_path, fleet, free_port):
    with smtp_server(free_port) as (mailbox, port):
        config = _config(tmp_path, fleet, port)
        first = cli("--config", str(config), "run")
        assert first.returncode == 3, first.stderr
        assert "lab: Login rejected" in first.stderr and "Traceback" not in first.stderr
        assert len(mailbox.messages) == 1
        second = cli("--config", str(config), "run")
        assert second.returncode == 3
    report, again = mailbox.reports()
    lines = {line["label"]: line for line in report["sites"]}
    assert set(lines) == {"hq/default", "hq/branch", "shop/default", "lab"}
    assert lines["lab"]["error"].startswith("Login rejected")
    hq = fleet["hq"]
    for label, fake, site in (("hq/default", hq, "default"), ("hq/branch", hq, "branch"),
                              ("shop/default", fleet["shop"], "default")):
        assert lines[label]["error"] is None
        # Each site's run covered exactly its own events (on the v2 console one record per event; the
        # legacy controller lists a threat twice), and its incidents carry its label.
        controller, _, name = label.partition("/")
        first_run = RunHistory(tmp_path / "state" / controller / name).last(2)[0]
        truth = len(fake.event_ids(fake.now - timedelta(hours=25), fake.now, site=site))
        assert first_run.events == truth if controller == "hq" else first_run.events >= truth
        severe = {expected.subject for expected in fake.ground_truth_for(site)
                  if expected.severity == "severe"}
        found = {item["id"] for finding in report["findings"] if finding["site"] == label
                 and finding["severity"] == "severe" for item in finding["affected"]}
        assert severe <= found, (label, severe - found)
    # The branch's own incident is in its section, not in default's.
    branch_only = ({e.subject for e in hq.ground_truth_for("branch")}
                   - {e.subject for e in hq.ground_truth_for("default")})
    assert branch_only and not any(item["id"] in branch_only for finding in report["findings"]
                                   if finding["site"] == "hq/default" for item in finding["affected"])
    # Three checkpoints moved, lab's did not; the next run reported nothing twice.
    for controller, site in (("hq", "default"), ("hq", "branch"), ("shop", "default")):
        assert _checkpoint(tmp_path, controller, site) is not None
        assert [run.exit_code for run in RunHistory(tmp_path / "state" / controller / site).last(5)] == [0, 0]
    assert not (tmp_path / "state" / "lab").exists()
    assert sum(line["events"] for line in again["sites"]) == 0 and again["changes"]["new"] == 0
    assert {line["label"] for line in again["sites"]} == set(lines)


def test_report_per_site_sends_one_email_per_site(cli, tmp_path, fleet, free_port):
    with smtp_server(free_port) as (mailbox, port):
        config = _config(tmp_path, fleet, port, report_per="site")
        result = cli("--config", str(config), "run")
    assert result.returncode == 3
    reports = mailbox.reports()
    assert sorted((r["controller_name"], r["site"]) for r in reports) == [
        ("hq", "branch"), ("hq", "default"), ("shop", "default")]
    assert all(r["sites"] == [] for r in reports)


def test_controller_and_shard_pick_controllers(cli, tmp_path, fleet, free_port):
    with smtp_server(free_port) as (mailbox, port):
        config = _config(tmp_path, fleet, port)
        only = cli("--config", str(config), "run", "--controller", "shop")
        assert only.returncode == 0, only.stderr
        shard = cli("--config", str(config), "run", "--shard", "1/3")  # position 1: shop again
        assert shard.returncode == 0, shard.stderr
        unknown = cli("--config", str(config), "run", "--controller", "nope")
        assert unknown.returncode == 2 and "no controller named nope" in unknown.stderr
    assert [r["site"] for r in mailbox.reports()] == ["default", "default"]
    assert not (tmp_path / "state" / "hq").exists()


def test_state_show_lists_the_sites_and_one_site_in_full(cli, tmp_path, fleet, free_port):
    with smtp_server(free_port) as (_, port):
        config = _config(tmp_path, fleet, port)
        cli("--config", str(config), "run")
    env = {"COLUMNS": "250"}
    overview = cli("--config", str(config), "state", "show", env=env)
    assert overview.returncode == 0, overview.stderr
    for label in ("hq/default", "hq/branch", "shop/default"):
        assert label in overview.stdout
    one = cli("--config", str(config), "state", "show", "--site", "hq/branch", env=env)
    assert one.returncode == 0 and "Incidents remembered:" in one.stdout
    assert str(tmp_path / "state" / "hq" / "branch") in one.stdout
    reset = cli("--config", str(config), "state", "reset", "--site", "hq/branch", "--forget-incidents",
                "--yes")
    assert reset.returncode == 0 and "remembered incidents forgotten" in reset.stdout
    assert StateStore(tmp_path / "state" / "hq" / "branch").load().checkpoint.memory.incidents == {}
    bad = cli("--config", str(config), "state", "show", "--site", "../etc")
    assert bad.returncode == 2 and "--site" in bad.stderr
