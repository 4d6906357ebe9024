"""Tests of the fake UniFi controller itself, over real HTTP(S) on loopback with plain ``requests``."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import requests

from unifi_scanner.fake import Behaviours, FakeController, InjectStatus, Profile, Response

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(hours=24)
V2 = "/proxy/network/v2/api/site/default"
OS_API = "/proxy/network/api/s/default"
LEGACY_API = "/api/s/default"


def make(profile: str = "unifi_os_10", events: int = 2000, **kw) -> FakeController:
    return FakeController(profile=profile, events=events, seed=7, tls=kw.pop("tls", False), now=NOW, **kw)


def login(fc: FakeController, s: requests.Session, password: str | None = None) -> requests.Response:
    """Log in the way the profile expects; the CSRF token from the response is set on the session."""
    creds = {"username": fc.username, "password": password or fc.password}
    if fc.profile.is_unifi_os:
        r = s.post(f"{fc.url}/api/auth/login", json={**creds, "rememberMe": True})
    else:
        r = s.post(f"{fc.url}/api/login", json={**creds, "remember": True})
    if "X-CSRF-Token" in r.headers:
        s.headers["X-CSRF-Token"] = r.headers["X-CSRF-Token"]
    return r


def api(fc: FakeController) -> str:
    return fc.url + (OS_API if fc.profile.is_unifi_os else LEGACY_API)


def jwt_payload(token: str) -> dict:
    middle = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(middle + "=" * (-len(middle) % 4)))


def v2_all(s: requests.Session, fc: FakeController, **body) -> dict:
    r = s.post(fc.url + V2 + "/system-log/all", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def window_ms() -> tuple[int, int]:
    return int(SINCE.timestamp() * 1000), int(NOW.timestamp() * 1000)


@pytest.fixture(autouse=True)
def _no_internal_errors_or_leaks():
    before = {t for t in threading.enumerate() if t.name.startswith("fake-unifi")}
    yield
    leaked = [t for t in threading.enumerate() if t.name.startswith("fake-unifi") and t not in before]
    assert not leaked, leaked


# ---------------------------------------------------------------- login flows and detection signals


@pytest.mark.parametrize("profile", ["unifi_os_10", "unifi_os_9"])
def test_unifi_os_detection_login_and_jwt_csrf(profile):
    with make(profile) as fc, requests.Session() as s:
        assert s.get(fc.url + "/", allow_redirects=False).status_code == 200
        assert s.get(f"{api(fc)}/stat/device").status_code == 401  # UniFi OS even without auth
        assert s.post(f"{fc.url}/api/login", json={}).status_code == 404  # no legacy login here

        r = login(fc, s)
        assert r.status_code == 200
        user = r.json()
        assert user["username"] == "admin" and user["unique_id"] and user["isSuperAdmin"] is True
        token = s.cookies.get("TOKEN")
        assert token and "unifises" not in s.cookies
        assert jwt_payload(token)["csrfToken"] == r.headers["X-CSRF-Token"]

        info = s.get(f"{api(fc)}/stat/sysinfo").json()
        assert info["meta"]["rc"] == "ok"
        assert info["data"][0]["version"] == {"unifi_os_10": "10.0.160", "unifi_os_9": "9.0.114"}[profile]
        status = s.get(f"{fc.url}/proxy/network/status").json()["meta"]
        assert ("server_version" in status) is (profile == "unifi_os_9")

        assert s.post(f"{fc.url}/api/auth/logout").status_code == 200
        assert s.get(f"{api(fc)}/stat/device").status_code == 401
        assert fc.stats.logins == 1 and fc.stats.logouts == 1


def test_legacy_detection_login_and_no_api_key():
    with make("legacy") as fc, requests.Session() as s:
        r = s.get(fc.url + "/", allow_redirects=False)
        assert r.status_code == 302 and r.headers["Location"] == "/manage"
        status = s.get(fc.url + "/status").json()  # no auth needed
        assert status["meta"]["server_version"] == "8.6.9"
        assert s.post(f"{fc.url}/api/auth/login", json={}).status_code == 404

        r = s.get(f"{api(fc)}/stat/device")
        assert r.status_code == 401 and r.json()["meta"]["msg"] == "api.err.LoginRequired"
        r = s.get(f"{api(fc)}/stat/device", headers={"X-API-KEY": fc.api_key})
        assert r.status_code == 401

        r = login(fc, s)
        assert r.status_code == 200 and r.json() == {"meta": {"rc": "ok"}, "data": []}
        assert s.cookies.get("unifises") and "TOKEN" not in s.cookies
        assert s.get(f"{api(fc)}/stat/sysinfo").json()["data"][0]["version"] == "8.6.9"
        assert s.post(f"{fc.url}/v2/api/site/default/system-log/all", json={}).status_code == 404


def test_api_key_accepted_everywhere_on_unifi_os():
    with make("unifi_os_10") as fc, requests.Session() as s:
        s.headers["X-API-KEY"] = fc.api_key
        assert s.get(f"{fc.url}/proxy/network/status").status_code == 200
        assert s.get(f"{api(fc)}/stat/device").status_code == 200
        assert s.post(fc.url + V2 + "/system-log/count", json={}).status_code == 200
        assert s.post(f"{api(fc)}/stat/rogueap", json={"within": 24}).status_code == 200  # POST, no CSRF
        s.headers["X-API-KEY"] = "wrong"
        assert s.get(f"{api(fc)}/stat/device").status_code == 401


@pytest.mark.parametrize(
    ("profile", "status", "marker"),
    [
        ("unifi_os_10", 403, "AUTHENTICATION_FAILED_INVALID_CREDENTIALS"),
        ("legacy", 400, "api.err.Invalid"),
    ],
)
def test_wrong_password(profile, status, marker):
    with make(profile) as fc, requests.Session() as s:
        r = login(fc, s, password="nope")
        assert r.status_code == status
        assert marker in r.text
        assert fc.stats.login_failures == 1 and fc.stats.logins == 0


@pytest.mark.parametrize("profile", ["unifi_os_10", "legacy"])
def test_login_rate_limit(profile):
    b = Behaviours(login_rate_limit=True, logins_before_rate_limit=1, login_retry_after=90)
    with make(profile, behaviours=b) as fc, requests.Session() as s:
        assert login(fc, s).status_code == 200
        r = login(fc, s)
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "90"
        assert "AUTHENTICATION_FAILED_LIMIT_REACHED" in r.text


def test_mfa_required():
    b = Behaviours(mfa_required=True)
    with make("unifi_os_9", behaviours=b) as fc, requests.Session() as s:
        r = login(fc, s)
        assert r.status_code == 499
        assert r.json()["data"]["mfaCookie"].startswith("UBIC_2FA=")
    with make("legacy", behaviours=b) as fc, requests.Session() as s:
        r = login(fc, s)
        assert r.status_code == 400
        assert r.json()["meta"]["msg"] == "api.err.Ubic2faTokenRequired"


def test_csrf_required_on_post_and_rotation():
    with make("unifi_os_10") as fc, requests.Session() as s:
        login(fc, s)
        token = s.headers.pop("X-CSRF-Token")
        assert s.get(f"{api(fc)}/stat/device").status_code == 200  # GET needs no token
        r = s.post(fc.url + V2 + "/system-log/count", json={})
        assert r.status_code == 403 and "Invalid CSRF Token" in r.text
        assert s.post(fc.url + V2 + "/system-log/count", json={}, headers={"X-CSRF-Token": token}).ok

    with make("unifi_os_10", behaviours=Behaviours(csrf_rotation=True)) as fc, requests.Session() as s:
        login(fc, s)
        old = s.headers["X-CSRF-Token"]
        r = s.get(f"{api(fc)}/stat/health")
        assert r.status_code == 200
        new = r.headers["X-Updated-CSRF-Token"]
        assert new != old and r.headers["X-CSRF-Token"] == new
        r = s.post(fc.url + V2 + "/system-log/count", json={})  # still the stale token
        assert r.status_code == 403 and "Invalid CSRF Token" in r.text
        r = s.post(fc.url + V2 + "/system-log/count", json={}, headers={"X-CSRF-Token": new})
        assert r.status_code == 200 and r.headers["X-Updated-CSRF-Token"] != new


@pytest.mark.parametrize("profile", ["unifi_os_10", "legacy"])
def test_session_expiry_then_fresh_login(profile):
    with make(profile, behaviours=Behaviours(session_expiry_after=2)) as fc, requests.Session() as s:
        login(fc, s)
        assert s.get(f"{api(fc)}/stat/device").status_code == 200
        assert s.get(f"{api(fc)}/stat/sta").status_code == 200
        r = s.get(f"{api(fc)}/stat/health")
        assert r.status_code == 401
        if profile == "legacy":
            assert r.json()["meta"]["msg"] == "api.err.LoginRequired"
        s.cookies.clear()
        assert login(fc, s).status_code == 200
        assert s.get(f"{api(fc)}/stat/health").status_code == 200


def test_stale_cookie_breaks_login():
    b = Behaviours(session_expiry_after=0, stale_cookie_breaks_login=True)
    with make("unifi_os_10", behaviours=b) as fc, requests.Session() as s:
        login(fc, s)
        assert s.get(f"{api(fc)}/stat/device").status_code == 401
        assert login(fc, s).status_code == 401  # expired TOKEN sent along (pyunifiprotect#330)
        s.cookies.clear()
        assert login(fc, s).status_code == 200


# ---------------------------------------------------------------- injected failures and hostile modes


def test_inject_status_forms():
    b = Behaviours(
        inject_status=[
            InjectStatus("stat/device", 503, nth=2, retry_after=7),
            ("stat/sta", None, 502, None),
        ]
    )
    with make("unifi_os_10", behaviours=b) as fc, requests.Session() as s:
        login(fc, s)
        assert s.get(f"{api(fc)}/stat/device").status_code == 200
        r = s.get(f"{api(fc)}/stat/device")
        assert r.status_code == 503 and r.headers["Retry-After"] == "7"
        assert r.headers["Content-Type"].startswith("text/html")
        assert s.get(f"{api(fc)}/stat/device").status_code == 200
        assert [s.get(f"{api(fc)}/stat/sta").status_code for _ in range(2)] == [502, 502]
        assert fc.stats.statuses[503] == 1

    with (
        make("unifi_os_10", behaviours=Behaviours(inject_status={2: 429, "system-log": 500})) as fc,
        requests.Session() as s,
    ):
        assert login(fc, s).status_code == 200
        assert s.get(f"{api(fc)}/stat/device").status_code == 429
        r = s.post(fc.url + V2 + "/system-log/all", json={})
        assert r.status_code == 500 and r.json()["errorCode"] == 500


def test_html_instead_of_json():
    with make("unifi_os_10", behaviours=Behaviours(html_instead_of_json=True)) as fc, requests.Session() as s:
        r = login(fc, s)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
        with pytest.raises(ValueError):
            r.json()


def test_hook_can_answer_any_request():
    def truncated(req):
        return (
            Response(200, b'{"meta":{"rc":"ok"},"data":[{"mac"') if req.path.endswith("stat/device") else None
        )

    with make("unifi_os_10", behaviours=Behaviours(hooks=[truncated])) as fc, requests.Session() as s:
        login(fc, s)
        with pytest.raises(ValueError):
            s.get(f"{api(fc)}/stat/device").json()
        assert s.get(f"{api(fc)}/stat/sta").json()["meta"]["rc"] == "ok"


def test_slow_forever_times_out_and_server_stops_cleanly():
    fc = make("unifi_os_10", behaviours=Behaviours(slow_forever="stat/health"))
    with fc, requests.Session() as s:
        login(fc, s)
        with pytest.raises(requests.ReadTimeout):
            s.get(f"{api(fc)}/stat/health", timeout=0.3)
        assert s.get(f"{api(fc)}/stat/device", timeout=5).status_code == 200
        with pytest.raises(requests.ReadTimeout):
            s.get(f"{api(fc)}/stat/health", timeout=0.3)
    assert fc.stats.internal_errors == 0


def test_unknown_site():
    with make("unifi_os_9") as fc, requests.Session() as s:
        login(fc, s)
        r = s.get(f"{fc.url}/proxy/network/api/s/nosuch/stat/device")
        assert r.status_code == 400 and r.json()["meta"]["msg"] == "api.err.NoSiteContext"
        assert s.post(f"{fc.url}/proxy/network/v2/api/site/nosuch/system-log/all", json={}).status_code == 404
        sites = s.get(f"{fc.url}/proxy/network/api/self/sites").json()["data"]
        assert [x["name"] for x in sites] == ["default"] and sites[0]["_id"] == fc.site_id


# ---------------------------------------------------------------- v2 system log and traffic flows


def test_v2_paging_cap_order_and_ground_truth():
    with make("unifi_os_10", events=1234) as fc, requests.Session() as s:
        login(fc, s)
        lo, hi = window_ms()
        seen, stamps, page, pages = [], [], 0, None
        while True:
            body = v2_all(s, fc, timestampFrom=lo, timestampTo=hi - 1, pageNumber=page, pageSize=1000)
            assert len(body["data"]) <= 100  # pageSize capped at 100
            pages = body["total_page_count"]
            assert body["page_number"] == page and body["total_element_count"] == 1234
            seen += [row["id"] for row in body["data"]]
            stamps += [row["timestamp"] for row in body["data"]]
            page += 1
            if page >= pages or not body["data"]:
                break
        assert pages == 13
        assert stamps == sorted(stamps, reverse=True)  # newest first
        assert len(seen) == len(set(seen)) == 1234
        assert set(seen) == fc.event_ids(SINCE, NOW)
        assert v2_all(s, fc, pageNumber=99, pageSize=100)["data"] == []


def test_v2_record_shape_and_event_mix():
    with make("unifi_os_10", events=3000) as fc, requests.Session() as s:
        login(fc, s)
        rows = []
        for page in range(30):
            rows += v2_all(s, fc, pageNumber=page, pageSize=100)["data"]
        keys = Counter(r["key"] for r in rows)
        for key in (
            "DEVICE_UNREACHABLE",
            "DEVICE_RECONNECTED",
            "NETWORK_WAN_FAILED",
            "NETWORK_WAN_RESTORED",
            "NETWORK_FAILED_OVER_TO_BACKUP_WAN",
            "NETWORK_RETURNED_FROM_BACKUP_WAN",
            "ISP_HIGH_LATENCY",
            "ISP_PACKET_LOSS",
            "CLIENT_IP_CONFLICT",
            "ACCESSED_NETWORK_WEB",
            "ADMIN_LOGIN_FAILED",
            "NETWORK_SETTINGS_CHANGED",
            "TRAFFIC_BLOCKED_KNOWN_SOURCE_CLIENT",
            "RADAR_DETECTED",
            "AP_CHANNEL_CHANGED",
            "PORT_POE_OVERLOAD",
            "DEVICE_DISCOVERED",
            "POWER_SUPPLY_REDUNDANCY_LOST",
            "SDWAN_TUNNEL_DEGRADED",
        ):
            assert keys[key], key
        assert any(k.startswith("THREAT_BLOCKED_") for k in keys)
        assert any(k.startswith("THREAT_DETECTED_") for k in keys)
        assert keys["CLIENT_CONNECTED_WIRELESS_2"] + keys["CLIENT_DISCONNECTED_WIRELESS_2"] > len(rows) / 2
        flaps = Counter(r["parameters"]["DEVICE"]["name"] for r in rows if r["key"] == "DEVICE_UNREACHABLE")
        assert flaps.most_common(1)[0][1] >= 8  # the flapping AP
        for row in rows[:50]:
            assert len(row["id"]) == 24 and int(row["id"], 16) >= 0
            assert isinstance(row["timestamp"], int) and row["timestamp"] > 1e12  # ms
            assert row["status"] == "NEW" and row["severity"] in ("LOW", "MEDIUM", "HIGH", "VERY_HIGH")
            for name in re.findall(r"\{(\w+)\}", row["message_raw"]):
                assert name in row["parameters"] or row["key"] == "SDWAN_TUNNEL_DEGRADED"


def test_v2_filters_and_errors():
    with make("unifi_os_10", events=1500) as fc, requests.Session() as s:
        login(fc, s)
        all_n = v2_all(s, fc, pageSize=100)["total_element_count"]
        sec = v2_all(s, fc, categories=["SECURITY"], pageSize=100)
        assert 0 < sec["total_element_count"] < all_n
        assert {r["category"] for r in sec["data"]} == {"SECURITY"}
        r = s.post(fc.url + V2 + "/system-log/all", json={"categories": ["MONITORING"]})
        assert r.status_code == 400
        assert r.json()["errorCode"] == 400 and r.json()["message"].startswith("JSON parse error:")
        assert s.get(fc.url + V2 + "/system-log/all").status_code == 405
        count = s.post(fc.url + V2 + "/system-log/count", json={}).json()
        assert sum(c["count"] for c in count["categories"]) == all_n
        assert {t["name"] for t in count["type"]} == {"GENERAL", "AUDIT"}
        assert s.post(fc.url + V2 + "/system-log/critical", json={}).json() == []


def test_traffic_flows_paging_and_signatures():
    with make("unifi_os_10", events=1500) as fc, requests.Session() as s:
        login(fc, s)
        rows, page = [], 0
        while True:
            r = s.post(
                fc.url + V2 + "/traffic-flows",
                json={
                    "timestampFrom": window_ms()[0],
                    "timestampTo": window_ms()[1],
                    "pageNumber": page,
                    "pageSize": 50,
                    "skip_count": False,
                    "policy_type": ["INTRUSION_PREVENTION"],
                    "risk": [],
                },
            )
            assert r.status_code == 200
            data = r.json()["data"]
            rows += data
            if len(data) < 50:
                break
            page += 1
        assert rows and len({r["id"] for r in rows}) == len(rows)
        sigs = {r["ips"]["advanced_information"] for r in rows}
        assert "ET SCAN Suspicious inbound to MSSQL port 1433" in sigs
        assert {sig.split()[1] for sig in sigs} >= {"SCAN", "DROP", "MALWARE", "EXPLOIT", "TROJAN"}
        threat_ids = {row["id"] for row in rows}
        v2_threats = set()
        for p in range(15):
            v2_threats |= {
                x["id"]
                for x in v2_all(s, fc, categories=["SECURITY"], pageNumber=p, pageSize=100)["data"]
                if x["event"] in ("THREAT_BLOCKED", "THREAT_DETECTED")
            }
        assert threat_ids == v2_threats  # same underlying events, same ids


# ---------------------------------------------------------------- legacy feeds


def test_legacy_feeds_404_on_network_10():
    with make("unifi_os_10") as fc, requests.Session() as s:
        login(fc, s)
        for ep in ("stat/event", "stat/ips/event"):
            r = s.post(f"{api(fc)}/{ep}", json={})
            assert r.status_code == 404
            assert r.json() == {"meta": {"rc": "error", "msg": "api.err.NotFound"}, "data": []}
        r = s.get(f"{api(fc)}/list/alarm")
        assert r.json()["meta"]["msg"] == "api.err.InvalidObject"


def test_legacy_stat_event_truncation_and_paging():
    with make("legacy", events=5000) as fc, requests.Session() as s:
        login(fc, s)
        body = {"_sort": "-time", "within": 25, "type": None, "_start": 0, "_limit": 5000}
        first = s.post(f"{api(fc)}/stat/event", json=body).json()
        assert first["meta"] == {"rc": "ok", "count": 5000}
        assert len(first["data"]) == 3000  # capped: meta.count > len(data) shows the truncation
        times = [e["time"] for e in first["data"]]
        assert times == sorted(times, reverse=True)
        rest = s.post(f"{api(fc)}/stat/event", json={**body, "_start": 3000}).json()["data"]
        ids = [e["_id"] for e in first["data"] + rest]
        assert len(ids) == len(set(ids)) == 5000
        assert set(ids) == fc.event_ids(SINCE, NOW)
        sample = first["data"][0]
        assert {"_id", "key", "msg", "subsystem", "site_id", "time", "datetime"} <= sample.keys()
        assert sample["site_id"] == fc.site_id and sample["datetime"].endswith("Z")
        keys = Counter(e["key"] for e in first["data"] + rest)
        for key in (
            "EVT_AP_Lost_Contact",
            "EVT_AP_Connected",
            "EVT_GW_WANTransition",
            "EVT_WU_Roam",
            "EVT_WU_Connected",
            "EVT_WU_Disconnected",
            "EVT_IPS_IpsAlert",
            "EVT_AD_Login",
            "EVT_AD_LoginFailed",
            "EVT_AP_RadarDetected",
            "EVT_AP_ChannelChanged",
            "EVT_SW_PoeOverload",
            "EVT_AP_DiscoveredPending",
            "EVT_AP_Upgraded",
        ):
            assert keys[key], key
        roam = next(e for e in rest + first["data"] if e["key"] == "EVT_WU_Roam")
        assert roam["msg"].startswith(f"User[{roam['user']}] roams from AP[{roam['ap_from']}]")


def test_unifi_os_9_serves_both_shapes_of_the_same_events():
    with make("unifi_os_9", events=2000) as fc, requests.Session() as s:
        login(fc, s)
        v2_ids = set()
        for page in range(25):
            v2_ids |= {r["id"] for r in v2_all(s, fc, pageNumber=page, pageSize=100)["data"]}
        legacy = s.post(f"{api(fc)}/stat/event", json={"within": 25, "_limit": 3000}).json()["data"]
        legacy_ids = {e["_id"] for e in legacy}
        assert v2_ids | legacy_ids == fc.event_ids(SINCE, NOW)
        ips_rows = [e for e in legacy if e["key"] == "EVT_IPS_IpsAlert"]
        assert ips_rows and {e["_id"] for e in ips_rows} <= v2_ids
        start, end = window_ms()
        ips = s.post(f"{api(fc)}/stat/ips/event", json={"start": start, "end": end, "_limit": 10000}).json()
        assert {e["_id"] for e in ips["data"]} == {e["_id"] for e in ips_rows}
        row = ips["data"][0]
        assert row["timestamp"] == row["time"] // 1000  # seconds next to milliseconds
        assert row["inner_alert_action"] in ("allowed", "blocked") and row[
            "inner_alert_signature"
        ].startswith("ET ")
        alarms = s.get(f"{api(fc)}/list/alarm").json()["data"]
        alarm_times = [a["time"] for a in alarms]
        assert alarm_times == sorted(alarm_times) and all("archived" in a for a in alarms)
        # Alarms repeating events have ids of their own (issue 17): same key, device and time.
        events_by_moment = {(e["key"], e["time"]): e["_id"] for e in legacy}
        repeats = [a for a in alarms if (a["key"], a["time"]) in events_by_moment]
        assert repeats and all(a["_id"] != events_by_moment[a["key"], a["time"]] for a in repeats)
        assert not {a["_id"] for a in alarms} & fc.event_ids(SINCE, NOW)
        assert len({a["_id"] for a in alarms}) == len(alarms)
        assert all("handled_time" in a and "handled_admin_id" in a for a in alarms if a["archived"])
        # The handled alarm: an old lost contact of a healthy AP that no event repeats.
        (handled,) = [a for a in alarms if a.get("ap") == fc.archived_alarm_device]
        assert handled["archived"] is True and handled["key"] == "EVT_AP_Lost_Contact"
        assert (handled["key"], handled["time"]) not in events_by_moment


def test_list_alarm_cap_oldest_first():
    with (
        make("legacy", events=30_000, behaviours=Behaviours(legacy_limit_cap=500)) as fc,
        requests.Session() as s,
    ):
        login(fc, s)
        alarms = s.get(f"{api(fc)}/list/alarm", params={"_limit": 10}).json()["data"]
        assert len(alarms) == 500
        assert alarms[0]["time"] <= alarms[-1]["time"]


# ---------------------------------------------------------------- changing data


@pytest.mark.parametrize("profile", ["unifi_os_10", "legacy"])
def test_new_events_while_paging_shift_pages(profile):
    with (
        make(profile, events=1000, behaviours=Behaviours(new_events_while_paging=40)) as fc,
        requests.Session() as s,
    ):
        login(fc, s)
        before = fc.event_ids(SINCE, NOW)
        if profile == "unifi_os_10":
            lo, hi = window_ms()
            p0 = v2_all(s, fc, timestampFrom=lo, timestampTo=hi, pageNumber=0, pageSize=100)
            p1 = v2_all(s, fc, timestampFrom=lo, timestampTo=hi, pageNumber=1, pageSize=100)
            assert p0["total_element_count"] == 1000 and p1["total_element_count"] == 1040
            ids0, ids1 = [r["id"] for r in p0["data"]], [r["id"] for r in p1["data"]]
        else:
            body = {"within": 24, "_limit": 100}
            p0 = s.post(f"{api(fc)}/stat/event", json={**body, "_start": 0}).json()
            p1 = s.post(f"{api(fc)}/stat/event", json={**body, "_start": 100}).json()
            assert p0["meta"]["count"] == 1000 and p1["meta"]["count"] == 1040
            ids0, ids1 = [r["_id"] for r in p0["data"]], [r["_id"] for r in p1["data"]]
        assert set(ids0) & set(ids1)  # the naive second page repeats rows of the first
        after = fc.event_ids(SINCE, NOW)
        assert before < after and len(after - before) == 40


def test_add_events_visible_and_thread_safe():
    with make("unifi_os_10", events=100) as fc, requests.Session() as s:
        login(fc, s)
        threads = [threading.Thread(target=fc.add_events, args=(25,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        at = NOW - timedelta(hours=1)
        new = fc.add_events(5, at=at)
        body = v2_all(s, fc, pageSize=100, timestampFrom=0, timestampTo=int(NOW.timestamp() * 1000))
        assert body["total_element_count"] == 205
        assert set(new) <= fc.event_ids(at, at + timedelta(milliseconds=1))
        assert len(fc.event_ids(SINCE, NOW + timedelta(seconds=1))) == 205


def test_same_seed_same_data():
    a, b = make("unifi_os_9", events=500), make("unifi_os_9", events=500)
    assert a.event_ids(SINCE, NOW) == b.event_ids(SINCE, NOW)
    assert a.api_key == b.api_key and a.site_id == b.site_id


# ---------------------------------------------------------------- state endpoints


@pytest.mark.parametrize(
    ("profile", "gw_type"), [("unifi_os_10", "ucg"), ("unifi_os_9", "udm"), ("legacy", "ugw")]
)
def test_state_endpoints(profile, gw_type):
    with make(profile) as fc, requests.Session() as s:
        login(fc, s)
        devices = s.get(f"{api(fc)}/stat/device").json()["data"]
        types = Counter(d["type"] for d in devices)
        assert types[gw_type] == 1 and types["usw"] == 3 and types["uap"] == 6
        assert [d["state"] for d in devices].count(0) == 1
        (pending,) = [d for d in devices if d["state"] == 2]
        assert pending["adopted"] is False and pending["name"] == "<img src=x onerror=alert(1)>"
        assert any(d["upgradable"] and d["upgrade_to_firmware"] for d in devices)
        assert not any(d["model_in_eol"] for d in devices)
        (outdated,) = [d for d in devices if d.get("required_version")]
        assert outdated["version"] < outdated["required_version"]
        online = [d for d in devices if d["state"] == 1]
        assert all(isinstance(d["system-stats"]["cpu"], str) for d in online)
        poe = [p for d in devices for p in d.get("port_table", []) if p.get("port_poe") and p["up"]]
        assert poe and all(isinstance(p["poe_power"], str) for p in poe)
        assert any(d.get("temperatures") for d in devices)
        health = {h["subsystem"]: h for h in s.get(f"{api(fc)}/stat/health").json()["data"]}
        assert set(health) == {"wlan", "wan", "www", "lan", "vpn"}
        assert {h["status"] for h in health.values()} == {"ok"}
        assert health["wlan"]["num_pending"] == 1
        assert isinstance(health["wan"]["gw_system-stats"]["cpu"], str)
        clients = s.get(f"{api(fc)}/stat/sta").json()["data"]
        assert (
            len(clients) > 30
            and any(c.get("name") for c in clients)
            and any("name" not in c for c in clients)
        )
        rogue = s.post(f"{api(fc)}/stat/rogueap", json={"within": 48}).json()["data"]
        assert rogue and all("bssid" in r and not r["is_rogue"] for r in rogue)
        start, end = window_ms()
        anomalies = s.get(f"{api(fc)}/stat/anomalies", params={"scale": "hourly", "start": start, "end": end})
        assert all(start <= t <= end for row in anomalies.json()["data"] for t in row["timestamps"])
        sysinfo = s.get(f"{api(fc)}/stat/sysinfo").json()["data"][0]
        assert "sso_app_sec" in sysinfo


# ---------------------------------------------------------------- TLS, shutdown, CLI


def test_tls_with_bundled_cert_and_fingerprint():
    with make("unifi_os_10", events=10, tls=True) as fc:
        assert fc.url.startswith("https://127.0.0.1:")
        assert requests.get(fc.url + "/", verify=str(fc.cert_path), timeout=5).status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(fc.url + "/", verify=True, timeout=5)
        ctx = ssl.create_default_context(cafile=str(fc.cert_path))
        with (
            socket.create_connection((fc.host, fc.port), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        assert hashlib.sha256(der).digest().hex(":").upper() == fc.cert_sha256


def test_stop_closes_idle_keepalive_connections():
    fc = make("unifi_os_10", events=10)
    with fc:
        s = requests.Session()
        login(fc, s)
        s.get(f"{api(fc)}/stat/device")  # leaves a kept-alive connection open
    # the autouse fixture asserts that no server thread survived
    with pytest.raises(RuntimeError):
        _ = fc.url
    s.close()


def test_main_module_announces_and_stops_on_sigterm():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "unifi_scanner.fake", "--profile", "legacy", "--events", "50", "--tls"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        info = json.loads(proc.stdout.readline())
        assert info["url"].startswith("https://127.0.0.1:") and info["password"] == "fake-password"
        r = requests.get(info["url"] + "/status", verify=info["cert_path"], timeout=5)
        assert r.json()["meta"]["server_version"] == Profile.LEGACY.network_version
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stderr.read() == ""
    finally:
        proc.kill()
        proc.wait()
