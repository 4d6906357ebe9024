"""One fake controller serving several sites (issue 15), over real HTTP(S) on loopback: the sites list,
each site's own devices, clients and events, unknown sites, the unchanged single-site default, and the
real CLI reading one site of a two-site controller."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.analyzer.test_scoring import affected_ids, describe, env_for, score
from tests.fake.test_fake_controller import NOW, SINCE, login, make, window_ms
from unifi_scanner.fake import FakeController

PROFILES = ("unifi_os_10", "unifi_os_9", "legacy")
SITES = ("default", "branch", "lab")
BRANCH_DESC = 'Branch – O\'Brien & Söhne "Annex"'
# sha256 of the sorted event ids, the offline AP's MAC and the site id of FakeController(profile,
# events=2000, seed=1, now=NOW), taken from the fake before it had sites.
SINGLE_SITE_DIGESTS = {
    "unifi_os_10": "b0dbc4270903a4a8650bb82a9378386d5b08ef7bdc7824173b86728a41514c01",
    "unifi_os_9": "ca0ad25587ccd5f313a4b479c67ba6223292158160c93c6a83417e0115a65be8",
    "legacy": "21292a91326a7cef7a141f6f2056b95c8792876d262cf8e2f52a63e307d7093e",
}


def network(fc: FakeController) -> str:
    """The base URL of the Network application's API: behind the console prefix on UniFi OS."""
    return fc.url + ("/proxy/network" if fc.profile.is_unifi_os else "")


def get_rows(s: requests.Session, url: str) -> list[dict[str, Any]]:
    """The `data` rows of a legacy-style GET that must succeed."""
    answer = s.get(url)
    assert answer.status_code == 200 and answer.json()["meta"]["rc"] == "ok", answer.text
    return answer.json()["data"]


def served_events(fc: FakeController, s: requests.Session, site: str) -> list[dict[str, Any]]:
    """Every record of the window in each event feed the profile serves for `site`: the whole v2
    system log page by page, and `stat/event`."""
    rows: list[dict[str, Any]] = []
    lo, hi = window_ms()
    if fc.profile.serves_v2:
        page, pages = 0, 1
        while page < pages:
            body = {"timestampFrom": lo, "timestampTo": hi, "pageNumber": page, "pageSize": 100}
            answer = s.post(f"{network(fc)}/v2/api/site/{site}/system-log/all", json=body)
            assert answer.status_code == 200, answer.text
            rows += answer.json()["data"]
            page, pages = page + 1, answer.json()["total_page_count"]
    if fc.profile.serves_legacy_events:
        answer = s.post(f"{network(fc)}/api/s/{site}/stat/event", json={"within": 24, "_limit": 3000})
        assert answer.status_code == 200 and answer.json()["meta"]["count"] < 3000, answer.text
        rows += answer.json()["data"]
    return rows


def digest(fc: FakeController) -> str:
    """What `SINGLE_SITE_DIGESTS` pins for the controller's first site."""
    text = ",".join(sorted(fc.event_ids(SINCE, NOW))) + f"|{fc.offline_device}|{fc.site_id}"
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("profile", PROFILES)
def test_the_sites_list_names_every_site(profile: str) -> None:
    with make(profile, sites=SITES) as fc, requests.Session() as s:
        login(fc, s)
        listed = get_rows(s, f"{network(fc)}/api/self/sites")
        with_health = get_rows(s, f"{network(fc)}/api/stat/sites")
    assert [(row["name"], row["desc"]) for row in listed] == [
        ("default", "Default"), ("branch", BRANCH_DESC), ("lab", "Lab")]
    assert len({row["_id"] for row in listed}) == 3 and listed[0]["_id"] == fc.site_id
    assert [row["attr_no_delete"] for row in listed if "attr_no_delete" in row] == [True]  # default only
    assert [row["name"] for row in with_health] == list(SITES)
    assert all({h["subsystem"] for h in row["health"]} >= {"wlan", "wan", "lan"} for row in with_health)


@pytest.mark.parametrize("profile", PROFILES)
def test_each_site_serves_its_own_devices_clients_and_events(profile: str) -> None:
    macs: dict[str, set[str]] = {}
    ids: dict[str, set[str]] = {}
    with make(profile, sites=SITES) as fc, requests.Session() as s:
        login(fc, s)
        site_ids = {row["name"]: row["_id"] for row in get_rows(s, f"{network(fc)}/api/self/sites")}
        for site in SITES:
            devices = get_rows(s, f"{network(fc)}/api/s/{site}/stat/device")
            clients = get_rows(s, f"{network(fc)}/api/s/{site}/stat/sta")
            events = served_events(fc, s, site)
            assert {row["site_id"] for row in devices + clients} == {site_ids[site]}
            assert {row["site_id"] for row in events if "site_id" in row} <= {site_ids[site]}
            macs[site] = {row["mac"] for row in devices + clients}
            ids[site] = {row.get("id") or row["_id"] for row in events}
            assert len(ids[site]) >= 2000 and ids[site] == fc.event_ids(SINCE, NOW, site=site)

            offline = {row["mac"] for row in devices if row["state"] == 0}
            truth = fc.ground_truth_for(site)
            if site == "default":
                assert truth == fc.ground_truth and any(row.get("overheating") for row in devices)
            else:
                # A calm site: its one incident is its own AP offline at report time, nothing else.
                assert [(e.rule_id, e.severity) for e in truth] == [("device_outage", "severe")]
                assert offline == {truth[0].subject}
                assert {row["state"] for row in devices} == {0, 1}
                assert not any(row.get("overheating") or row.get("required_version") for row in devices)
    for a, b in combinations(SITES, 2):
        assert not macs[a] & macs[b], (a, b)
        assert not ids[a] & ids[b], (a, b)


@pytest.mark.parametrize("profile", PROFILES)
def test_an_unknown_site_answers_as_a_controller_does(profile: str) -> None:
    with make(profile, sites=("default", "branch")) as fc, requests.Session() as s:
        login(fc, s)
        branch_id = get_rows(s, f"{network(fc)}/api/self/sites")[1]["_id"]
        # The description or the id of a site is not its name (reference §2, "Unknown site").
        for wrong in ("nosuch", "Branch", branch_id):
            answer = s.get(f"{network(fc)}/api/s/{wrong}/stat/device")
            assert answer.status_code == 400, answer.text
            assert answer.json() == {"meta": {"rc": "error", "msg": "api.err.NoSiteContext"}, "data": []}
        answer = s.post(f"{network(fc)}/v2/api/site/nosuch/system-log/all", json={})
        assert answer.status_code == 404
        if fc.profile.serves_v2:
            assert answer.json() == {"errorCode": 404, "message": "Site nosuch not found"}
        assert s.get(f"{network(fc)}/api/s/branch/stat/device").status_code == 200


@pytest.mark.parametrize("profile", PROFILES)
def test_the_single_site_default_is_unchanged(profile: str) -> None:
    single = FakeController(profile=profile, events=2000, seed=1, tls=False, now=NOW)
    assert single.sites == ("default",) and single.site == "default"
    assert digest(single) == SINGLE_SITE_DIGESTS[profile]
    # More sites leave the first one exactly as it was.
    two = FakeController(profile=profile, events=2000, seed=1, tls=False, now=NOW, sites=SITES)
    assert digest(two) == SINGLE_SITE_DIGESTS[profile]


def test_changes_go_to_the_site_they_name() -> None:
    fc = make("unifi_os_9", events=400, sites=("default", "branch"))
    later = NOW + timedelta(minutes=5)
    until = later + timedelta(seconds=1)
    added = fc.add_events(3, later, site="branch")
    (ap,) = [e.subject for e in fc.ground_truth_for("branch")]
    (back,) = fc.device_up(ap, later)
    assert set(added) | {back} <= fc.event_ids(SINCE, until, site="branch")
    assert not (set(added) | {back}) & fc.event_ids(SINCE, until)
    assert fc.event_ids(NOW, until) == set()  # the first site got nothing
    with pytest.raises(ValueError, match="no site 'nosuch'"):
        fc.ground_truth_for("nosuch")
    with pytest.raises(ValueError, match="sites must be distinct plain names"):
        FakeController(sites=("default", "default"), tls=False)


def test_the_main_module_serves_and_announces_the_sites() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "unifi_scanner.fake", "--events", "50", "--sites", "default,branch"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        info = json.loads(proc.stdout.readline())
        assert info["site"] == "default" and info["sites"] == ["default", "branch"]
        with requests.Session() as s:
            answer = s.post(f"{info['url']}/api/auth/login",
                            json={"username": info["username"], "password": info["password"]}, timeout=10)
            assert answer.status_code == 200
            names = s.get(f"{info['url']}/proxy/network/api/self/sites", timeout=10).json()["data"]
        assert [row["name"] for row in names] == ["default", "branch"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()
    bad = subprocess.run([sys.executable, "-m", "unifi_scanner.fake", "--sites", "default,a/b"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "sites must be distinct plain names" in bad.stderr


@pytest.mark.parametrize("profile", PROFILES)
def test_the_cli_reports_the_branch_incident_and_not_defaults(cli, tmp_path: Path, profile: str) -> None:
    out = tmp_path / "out"
    with FakeController(profile=profile, events=3000, tls=True, sites=("default", "branch")) as fake:
        env = {**env_for(fake, tmp_path), "UNIFI_SITE": "branch"}
        result = cli("report", "--since", "24h", "-o", f"{out}/", env=env, timeout=300)
        branch, default = fake.ground_truth_for("branch"), fake.ground_truth
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["site"] == "branch"
    problems = score(report, branch, fake.routine_rules, fake.archived_alarm_device)
    listing = "\n".join(f"  {describe(f)}" for f in report["findings"])
    assert not problems, "\n".join(problems) + f"\nall findings:\n{listing}"
    leaked = {e.subject for e in default} & set().union(*(affected_ids(f) for f in report["findings"]))
    assert not leaked, f"the default site's incidents reached branch's report: {leaked}\n{listing}"
