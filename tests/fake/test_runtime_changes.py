"""The fake controller changed while it serves (issue 14): devices going down and coming back between
runs, as every feed of every profile shows it and as the analyzer reads it."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.analyzer.test_scoring import affected_ids, env_for
from tests.fake.test_fake_controller import NOW, SINCE, V2, api, login, make, v2_all, window_ms
from unifi_scanner.fake import FakeController

PROFILES = ("unifi_os_10", "unifi_os_9", "legacy")
MINUTE = timedelta(minutes=1)
MS = timedelta(milliseconds=1)


def ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return int(moment.timestamp() * 1000)


def devices(fc: FakeController, s: requests.Session) -> dict[str, dict[str, Any]]:
    """The `stat/device` rows by MAC."""
    answer = s.get(f"{api(fc)}/stat/device")
    assert answer.status_code == 200, answer.text
    return {row["mac"]: row for row in answer.json()["data"]}


def mac_of(fc: FakeController, s: requests.Session, name: str) -> str:
    """The MAC of the device called `name`."""
    (mac,) = [mac for mac, row in devices(fc, s).items() if row["name"] == name]
    return mac


def uplink_port(rows: dict[str, dict[str, Any]], mac: str) -> dict[str, Any]:
    """The switch port that the device `mac` hangs off, as its switch's row shows it."""
    uplink = rows[mac]["uplink"]
    (port,) = [port for port in rows[uplink["uplink_mac"]]["port_table"]
               if port["port_idx"] == uplink["uplink_remote_port"]]
    return port


def disconnected(fc: FakeController, s: requests.Session, subsystem: str) -> int:
    """`num_disconnected` of one `stat/health` subsystem."""
    (row,) = [row for row in s.get(f"{api(fc)}/stat/health").json()["data"] if row["subsystem"] == subsystem]
    return row["num_disconnected"]


def feeds_at(fc: FakeController, s: requests.Session, at: datetime) -> dict[str, list[dict[str, Any]]]:
    """Every event feed the profile serves, cut down to its records at `at`."""
    out: dict[str, list[dict[str, Any]]] = {}
    if fc.profile.serves_v2:
        out["system-log"] = v2_all(s, fc, timestampFrom=ms(at), timestampTo=ms(at), pageSize=100)["data"]
    if fc.profile.serves_legacy_events:
        events = s.post(f"{api(fc)}/stat/event", json={"within": 1, "_limit": 3000}).json()["data"]
        out["stat/event"] = [row for row in events if row["time"] == ms(at)]
        alarms = s.get(f"{api(fc)}/list/alarm").json()["data"]
        out["list/alarm"] = [row for row in alarms if row["time"] == ms(at)]
    else:
        assert s.post(f"{api(fc)}/stat/event", json={"within": 1}).status_code == 404
    return out


def assert_told(fc: FakeController, s: requests.Session, at: datetime, mac: str, family: str,
                lost: bool, ids: list[str]) -> None:
    """Each feed of the profile holds the one lost-contact (or reconnect) record at `at` about `mac`."""
    (event_id,) = ids
    feeds = feeds_at(fc, s, at)
    if fc.profile.serves_v2:
        (row,) = feeds["system-log"]
        assert row["key"] == ("DEVICE_UNREACHABLE" if lost else "DEVICE_RECONNECTED")
        assert (row["id"], row["timestamp"], row["parameters"]["DEVICE"]["id"]) == (event_id, ms(at), mac)
    if fc.profile.serves_legacy_events:
        key = f"EVT_{family}_{'Lost_Contact' if lost else 'Connected'}"
        (row,) = feeds["stat/event"]
        assert (row["_id"], row["key"], row[family.lower()], row["time"]) == (event_id, key, mac, ms(at))
        # The controller raises an alarm when contact is lost, never when it comes back.
        alarms = feeds["list/alarm"]
        assert [(a["key"], a[family.lower()]) for a in alarms] == ([(key, mac)] if lost else [])
        assert all(a["_id"] != event_id for a in alarms)  # an alarm has an id of its own


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(("name", "family", "subsystem"),
                         [("Office AP", "AP", "wlan"), ("Desk Switch", "SW", "lan")])
def test_device_down_and_up_show_in_the_device_list_and_every_feed(
        profile: str, name: str, family: str, subsystem: str) -> None:
    with make(profile, events=400) as fc, requests.Session() as s:
        assert login(fc, s).status_code == 200
        mac = mac_of(fc, s, name)
        earlier = fc.event_ids(SINCE, NOW + MINUTE)
        baseline = disconnected(fc, s, subsystem)
        down_at, up_at = NOW - 10 * MINUTE, NOW - 4 * MINUTE

        down = fc.device_down(mac, down_at)
        rows = devices(fc, s)
        row = rows[mac]
        assert (row["state"], row["last_seen"], row["uptime"]) == (0, ms(down_at) // 1000, 0)
        assert row["disconnection_reason"] and row["system-stats"] == {} and row["uplink"]["up"] is False
        assert uplink_port(rows, mac)["up"] is False
        assert disconnected(fc, s, subsystem) == baseline + 1
        assert_told(fc, s, down_at, mac, family, lost=True, ids=down)

        up = fc.device_up(mac, up_at)
        rows = devices(fc, s)
        row = rows[mac]
        assert (row["state"], row["last_seen"], row["uptime"]) == (1, ms(NOW) // 1000, 4 * 60)
        assert row["system-stats"]["uptime"] == str(4 * 60) and row["uplink"]["up"] is True
        assert "disconnection_reason" not in row
        assert uplink_port(rows, mac)["up"] is True
        assert disconnected(fc, s, subsystem) == baseline
        assert_told(fc, s, up_at, mac, family, lost=False, ids=up)

        assert len(set(down + up)) == 2 and not set(down + up) & earlier
        assert fc.event_ids(down_at, down_at + MS) == set(down)
        assert fc.event_ids(up_at, up_at + MS) == set(up)
        assert fc.errors == []


@pytest.mark.parametrize("profile", PROFILES)
def test_offline_device_is_the_scripted_outage_and_comes_back_now(profile: str) -> None:
    with make(profile, events=400) as fc, requests.Session() as s:
        login(fc, s)
        patio = fc.offline_device
        truth = [(e.rule_id, e.severity, e.subject) for e in fc.ground_truth if e.rule_id == "device_outage"]
        assert ("device_outage", "severe", patio) in truth and len(truth) == 2  # the desk switch's is medium
        row = devices(fc, s)[patio]
        assert (row["name"], row["state"]) == ("Patio AP", 0)

        (event_id,) = fc.device_up(patio)  # `at` defaults to the fixed clock
        row = devices(fc, s)[patio]
        assert (row["state"], row["uptime"], row["last_seen"]) == (1, 0, ms(NOW) // 1000)
        assert fc.event_ids(NOW, NOW + MS) == {event_id}


def test_at_defaults_to_the_wall_clock_when_the_clock_runs() -> None:
    fc = FakeController(events=400, tls=False)  # never started: the change needs no server
    before = datetime.now(UTC)
    (event_id,) = fc.device_up(fc.offline_device)
    after = datetime.now(UTC)
    assert event_id in fc.event_ids(before, after + MS)


def test_an_unknown_mac_changes_nothing() -> None:
    fc = make("legacy", events=400)
    before = fc.event_ids(SINCE, NOW + MINUTE)
    with pytest.raises(ValueError, match="no device with MAC"):
        fc.device_down("00:00:5e:00:53:01")
    assert fc.event_ids(SINCE, NOW + MINUTE) == before


@pytest.mark.parametrize("profile", ["unifi_os_10", "unifi_os_9"])
def test_filtered_system_log_queries_see_the_change(profile: str) -> None:
    with make(profile, events=400) as fc, requests.Session() as s:
        login(fc, s)
        lo, hi = window_ms()
        # A search and a category filter: the query results the fake caches.
        query = {"timestampFrom": lo, "timestampTo": hi, "searchText": "unreachable",
                 "categories": ["UNIFI_DEVICES"], "pageSize": 100}
        before = v2_all(s, fc, **query)
        (event_id,) = fc.device_down(mac_of(fc, s, "Office AP"))
        after = v2_all(s, fc, **query)
        assert after["total_element_count"] == before["total_element_count"] + 1
        assert after["data"][0]["id"] == event_id  # at the fake's now: the newest row


def coherent(rows: dict[str, dict[str, Any]], mac: str) -> bool:
    """Whether a connected (1) or disconnected (0) device's row, and its switch port, are all one or
    the other."""
    row = rows[mac]
    down = row["state"] == 0
    return (("disconnection_reason" in row) == down == (row["system-stats"] == {})
            != row["uplink"]["up"] == uplink_port(rows, mac)["up"])


@pytest.fixture
def eager_switching() -> Iterator[None]:
    """Threads take turns far more often than by default, so a reader lands inside a change if it can."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("eager_switching")
def test_changes_while_clients_read() -> None:
    with make("unifi_os_9", events=400) as fc, requests.Session() as s:
        login(fc, s)
        mac = mac_of(fc, s, "Office AP")
        failures: list[str] = []

        def read() -> None:
            """Fetch the device list, health and both event feeds, checking each device row."""
            try:
                with requests.Session() as own:
                    login(fc, own)
                    for _ in range(40):
                        answers = [own.get(f"{api(fc)}/stat/device"), own.get(f"{api(fc)}/stat/health"),
                                   own.post(f"{api(fc)}/stat/event", json={"within": 1, "_limit": 20}),
                                   own.post(fc.url + V2 + "/system-log/all",
                                            json={"categories": ["UNIFI_DEVICES"], "pageSize": 20})]
                        failures.extend(f"{a.url}: {a.status_code}" for a in answers if a.status_code != 200)
                        rows = {row["mac"]: row for row in answers[0].json()["data"]}
                        if not coherent(rows, mac):
                            failures.append(f"half-changed: {rows[mac]}")
            except Exception as exc:  # reported by the test, not lost with the thread
                failures.append(repr(exc))

        threads = [threading.Thread(target=read) for _ in range(4)]
        for thread in threads:
            thread.start()
        ids: list[str] = []
        # The device goes down and up for as long as anyone reads.
        while any(thread.is_alive() for thread in threads):
            ids += fc.device_down(mac) + fc.device_up(mac)
        assert not failures and fc.errors == []
        assert len(set(ids)) == len(ids) and devices(fc, s)[mac]["state"] == 1


# ------------------------------------------------------------------------------- the analyzer follows


def live_report(cli, since: str, env: dict[str, str], out: Path) -> dict[str, Any]:
    """The JSON report of a real `unifi-scanner report --since SINCE` run."""
    result = cli("report", "--since", since, "-o", f"{out}/", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def outages(report: dict[str, Any]) -> list[tuple[str, bool, set[str]]]:
    """(severity, open, affected ids) of each device_outage finding."""
    return [(f["severity"], f["open"], affected_ids(f))
            for f in report["findings"] if f["rule_id"] == "device_outage"]


def states(report: dict[str, Any]) -> dict[str, str]:
    """Device states by MAC, from the report's device health table."""
    return {row["mac"]: row["state"] for row in report["device_health"]}


@pytest.mark.parametrize("profile", PROFILES)
def test_the_analyzer_follows_a_device_back_and_another_down(cli, tmp_path: Path, profile: str) -> None:
    with FakeController(profile=profile, events=400, tls=True) as fake:
        patio, env = fake.offline_device, env_for(fake, tmp_path)
        since = (fake.now - MINUTE).isoformat()
        first = live_report(cli, since, env, tmp_path / "first")
        (office,) = [row["mac"] for row in first["device_health"] if row["name"] == "Office AP"]
        fake.device_up(patio)
        fake.device_down(office)
        second = live_report(cli, since, env, tmp_path / "second")
    assert outages(first) == [("severe", True, {patio})], first["findings"]
    assert (states(first)[patio], states(first)[office]) == ("disconnected", "connected")
    assert outages(second) == [("severe", True, {office})], second["findings"]
    assert (states(second)[patio], states(second)[office]) == ("connected", "disconnected")
