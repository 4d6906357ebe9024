"""Known admin addresses across runs: the merge, the forgetting and the bound (`memory.logins`), and two
real runs against the fake controller, the second of which no longer calls a known address new."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from unifi_scanner.fake import FakeController
from unifi_scanner.memory.logins import KNOWN_ADMIN_DAYS, MAX_ADMIN_ADDRESSES, remember_logins

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


def test_a_report_adds_its_logins_and_keeps_the_latest_of_each_address():
    known = {"192.168.1.20": NOW - timedelta(days=3), "192.168.1.21": NOW - timedelta(days=1)}
    seen = {"192.168.1.20": NOW - timedelta(hours=2), "198.51.100.45": NOW - timedelta(hours=1),
            "192.168.1.21": NOW - timedelta(days=2)}  # older than what is known: the known one stays
    assert remember_logins(known, seen, NOW) == {
        "198.51.100.45": NOW - timedelta(hours=1),
        "192.168.1.20": NOW - timedelta(hours=2),
        "192.168.1.21": NOW - timedelta(days=1),
    }


def test_an_address_unused_for_the_horizon_is_forgotten():
    known = {"10.0.0.1": NOW - timedelta(days=KNOWN_ADMIN_DAYS, seconds=1),
             "10.0.0.2": NOW - timedelta(days=KNOWN_ADMIN_DAYS)}
    assert list(remember_logins(known, {}, NOW)) == ["10.0.0.2"]


def test_the_most_recently_used_addresses_are_kept_within_the_bound():
    seen = {f"10.0.{n // 256}.{n % 256}": NOW - timedelta(minutes=n) for n in range(MAX_ADMIN_ADDRESSES + 50)}
    kept = remember_logins({}, seen, NOW)
    assert len(kept) == MAX_ADMIN_ADDRESSES
    assert set(kept) == {address for address, moment in seen.items()
                         if moment > NOW - timedelta(minutes=MAX_ADMIN_ADDRESSES)}


def _run(cli, fake: FakeController, tmp: Path, *args: str) -> dict:
    """One `run` over the fake's whole day, files only; returns the JSON report it wrote."""
    reports = tmp / f"reports-{len(list(tmp.glob('reports-*')))}"
    env = {"UNIFI_HOST": fake.url, "UNIFI_USERNAME": fake.username, "UNIFI_PASSWORD": fake.password,
           "UNIFI_TLS_FINGERPRINT": fake.cert_sha256, "UNIFI_STATE_DIR": str(tmp / "state"),
           "UNIFI_REPORTS_DIR": str(reports), "UNIFI_FILE_FORMAT": "json", "UNIFI_SEND_EMPTY": "true"}
    result = cli("run", "--since", "24h", *args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(next(reports.glob("unifi-report-*.json")).read_text(encoding="utf-8"))


def test_a_second_run_no_longer_calls_an_address_new_that_a_delivered_report_showed(cli, tmp_path):
    with FakeController(events=400, seed=7, span_hours=24, tls=True) as fake:
        first = _run(cli, fake, tmp_path)
        second = _run(cli, fake, tmp_path)
    new_login = [f for f in first["findings"] if f["rule_id"] == "admin_login_new_ip"]
    assert [item["id"] for item in new_login[0]["affected"] if item["kind"] == "ip"] == ["198.51.100.45"]
    state = json.loads((tmp_path / "state" / ".last_run.json").read_text(encoding="utf-8"))
    # Every address an admin logged in from is remembered, except the one that guessed passwords first.
    assert "198.51.100.45" in state["memory"]["admin_addresses"]
    assert "192.0.2.147" not in state["memory"]["admin_addresses"]
    assert not [f for f in second["findings"] if f["rule_id"] == "admin_login_new_ip"]
    # The password guessing and its successful login are still reported: the address was never vouched for.
    assert [f["title"] for f in second["findings"] if f["rule_id"] == "admin_brute_force"] == [
        "Password guessing on the controller from 192.0.2.147, then a successful login as admin"]
