"""The fake's event log as a scored corpus: a routine background, scripted incidents, ground truth."""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest

from unifi_scanner.fake import FakeController
from unifi_scanner.fake.data import (
    ATTACKER_IP,
    BRUTE_FORCE_IP,
    C2_CLIENT_NAME,
    C2_IP,
    NEW_ADMIN_IP,
    PENDING_AP_NAME,
    VIEW_ALARM,
    VIEW_IPS,
    VIEW_LEGACY,
    VIEW_V2,
    Kind,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PROFILES = ("unifi_os_10", "unifi_os_9", "legacy")
ROUTINE_KINDS = {Kind.WIFI_CONNECT, Kind.WIFI_DISCONNECT, Kind.WIFI_ROAM, Kind.WIRED_CONNECT,
                 Kind.THREAT_BLOCKED, Kind.FIREWALL_BLOCKED, Kind.ADMIN_LOGIN, Kind.CONFIG_CHANGE,
                 Kind.CHANNEL_CHANGED}
DOC_NETS = [ipaddress.ip_network(net) for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
V2_ONLY = {"client_ip_conflict", "controller_alert"}


def make(profile: str, events: int = 10_000, hours: float = 72) -> FakeController:
    """A controller that is built but never started: the tests read its log through its renderer."""
    return FakeController(profile=profile, events=events, seed=3, tls=False, now=NOW, span_hours=hours)


def rows(fc: FakeController, view: str) -> list[dict]:
    """Every row of one view, rendered as that feed serves it."""
    first = fc._state()
    log, render = first.log, first.render
    shape = {VIEW_V2: render.v2, VIEW_LEGACY: render.legacy, VIEW_ALARM: render.alarm, VIEW_IPS: render.flow}
    return [shape[view](log.event(view, pos)) for pos in range(len(log.views[view][0]))]


def is_doc(ip: str) -> bool:
    """Whether `ip` lies in a documentation range."""
    return any(ipaddress.ip_address(ip) in net for net in DOC_NETS)


@pytest.mark.parametrize("profile", PROFILES)
def test_the_default_background_needs_no_action(profile: str) -> None:
    fc = make(profile)
    background = fc._state().gen.background(20_000, 0, 72 * 3_600_000)
    assert {Kind(event[1]) for event in background} <= ROUTINE_KINDS
    channel_aps = {event[2] for event in background if event[1] == Kind.CHANNEL_CHANGED}
    assert len(channel_aps) <= 1  # the odd channel change, always on the same AP


@pytest.mark.parametrize("profile", ["unifi_os_10", "legacy"])
def test_ips_rows_scans_from_many_sources_and_the_scripted_threats(profile: str) -> None:
    fc = make(profile)
    flows = rows(fc, VIEW_IPS)
    hits: Counter[str] = Counter()
    for flow in flows:
        src, dst = flow["source"]["ip"], flow["destination"]["ip"]
        inside, outside = (dst, src) if flow["direction"] == "incoming" else (src, dst)
        assert inside.startswith("192.168.") and is_doc(outside), flow
        hits[outside] += 1
    scripted = {ATTACKER_IP: 40, C2_IP: 6}
    assert {ip: hits.pop(ip) for ip in scripted} == scripted
    assert len(hits) > 150 and set(hits.values()) == {1, 2, 3}
    routine = [f for f in flows if not {f["source"]["ip"], f["destination"]["ip"]} & scripted.keys()]
    assert {f["action"] for f in routine} == {"blocked"} and {f["direction"] for f in routine} == {"incoming"}
    assert {f["ips"]["advanced_information"].split()[1] for f in routine} <= {"SCAN", "DROP"}
    assert all(f["source"]["region"] for f in routine)

    burst = sorted((f for f in flows if f["source"]["ip"] == ATTACKER_IP), key=lambda f: f["time"])
    assert burst[-1]["time"] - burst[0]["time"] < 10 * 60_000
    assert len({f["destination"]["ip"] for f in burst}) == 2
    assert len({f["ips"]["signature_id"] for f in burst}) == 3
    allowed = [f for f in burst if f["action"] == "allowed"]
    assert len(allowed) == 3 and all("EXPLOIT" in f["ips"]["advanced_information"] for f in allowed)
    beacons = [f for f in flows if f["destination"]["ip"] == C2_IP]
    assert {f["source"]["client_name"] for f in beacons} == {C2_CLIENT_NAME}
    assert {f["action"] for f in beacons} == {"blocked"}
    assert {f["ips"]["advanced_information"].split()[1] for f in beacons} == {"MALWARE", "TROJAN"}


def test_legacy_ips_rows_carry_geo_of_the_external_side() -> None:
    fc = make("unifi_os_9", events=3000, hours=24)
    log, render = fc._state().log, fc._state().render
    ips = [render.ips(log.event(VIEW_IPS, pos)) for pos in range(len(log.views[VIEW_IPS][0]))]
    inbound = [row for row in ips if row["src_ip"] == ATTACKER_IP]
    outbound = [row for row in ips if row["dest_ip"] == C2_IP]
    assert inbound and outbound
    assert all(row["srcipCountry"] and row["srcipASN"].startswith("AS") and row["srcipGeo"]
               for row in inbound)
    assert all(row["dstipCountry"] and row["dest_ip"] == C2_IP and row["src_ip"].startswith("192.168.")
               for row in outbound)


@pytest.mark.parametrize("profile", PROFILES)
def test_admin_logins_come_from_one_address_per_admin_except_the_scripted_ones(profile: str) -> None:
    fc = make(profile)
    if profile == "legacy":
        logins = [(r["admin"], r["ip"]) for r in rows(fc, VIEW_LEGACY) if r["key"] == "EVT_AD_Login"]
        failed = [(r["time"], r["ip"]) for r in rows(fc, VIEW_LEGACY) if r["key"] == "EVT_AD_LoginFailed"]
    else:
        v2 = rows(fc, VIEW_V2)
        logins = [(r["parameters"]["ADMIN"]["name"], r["parameters"]["IP"]["id"]) for r in v2
                  if r["key"] == "ACCESSED_NETWORK_WEB"]
        failed = [(r["timestamp"], r["parameters"]["IP"]["id"]) for r in v2
                  if r["key"] == "ADMIN_LOGIN_FAILED"]
    addresses = defaultdict(set)
    for admin, ip in logins:
        addresses[admin].add(ip)
    assert addresses == {"admin": {"192.168.1.20", BRUTE_FORCE_IP}, "jsmith": {"192.168.1.21", NEW_ADMIN_IP}}
    assert len(failed) == 12 and {ip for _, ip in failed} == {BRUTE_FORCE_IP}
    assert max(t for t, _ in failed) - min(t for t, _ in failed) < 5 * 60_000


def test_isp_trouble_falls_inside_the_wan_outage() -> None:
    v2 = rows(make("unifi_os_10"), VIEW_V2)
    at = {r["key"]: r["timestamp"] for r in v2 if r["category"] == "INTERNET_AND_WAN"}
    assert at["NETWORK_WAN_FAILED"] < at["ISP_HIGH_LATENCY"] < at["NETWORK_WAN_RESTORED"]
    assert at["NETWORK_WAN_FAILED"] < at["ISP_PACKET_LOSS"] < at["NETWORK_WAN_RESTORED"]


def test_radar_then_channel_change_and_the_unknown_keys() -> None:
    v2 = rows(make("unifi_os_9"), VIEW_V2)
    radar = next(r for r in v2 if r["key"] == "RADAR_DETECTED")
    change = next(r for r in v2 if r["key"] == "AP_CHANNEL_CHANGED"
                  and r["parameters"]["DEVICE"]["id"] == radar["parameters"]["DEVICE"]["id"])
    assert 0 < change["timestamp"] - radar["timestamp"] <= 5_000
    alert = next(r for r in v2 if r["key"] == "POWER_SUPPLY_REDUNDANCY_LOST")
    assert alert["severity"] == "HIGH" and alert["category"] == "POWER"
    assert next(r for r in v2 if r["key"] == "SDWAN_TUNNEL_DEGRADED")["severity"] == "LOW"
    pending = next(r for r in v2 if r["key"] == "DEVICE_DISCOVERED")
    assert pending["parameters"]["DEVICE"]["name"] == PENDING_AP_NAME


@pytest.mark.parametrize("profile", PROFILES)
def test_ground_truth_names_what_the_profile_serves(profile: str) -> None:
    fc = make(profile)
    truth = fc.ground_truth
    rules = Counter(expected.rule_id for expected in truth)
    assert rules["device_outage"] == 2 and rules["threat_campaign"] == 2
    assert V2_ONLY & set(rules) == (set() if profile == "legacy" else V2_ONLY)
    site = fc._state().site
    macs = {device.mac for device in site.devices} | {client.mac for client in site.clients}
    for expected in truth:
        assert expected.severity in ("severe", "medium", "low") and expected.label
        assert expected.subject in macs or is_doc(expected.subject), expected
    assert fc.archived_alarm_device not in {expected.subject for expected in truth}
    assert {"ips_digest", "firewall_block", "channel_changed"} <= fc.routine_rules


@pytest.mark.parametrize("profile", PROFILES)
def test_the_scenario_fits_the_demo(profile: str) -> None:
    fc = FakeController(profile=profile, events=400, seed=7, tls=False)
    assert len(fc._state().gen.scenario(*fc._span)) <= 200
    assert fc.ground_truth
    with pytest.raises(RuntimeError, match="too few events"):
        _ = make(profile, events=60).ground_truth


def test_alarm_ids_are_deterministic_and_their_own() -> None:
    a, b = make("legacy", events=2000), make("legacy", events=2000)
    alarms_a, alarms_b = rows(a, VIEW_ALARM), rows(b, VIEW_ALARM)
    assert [r["_id"] for r in alarms_a] == [r["_id"] for r in alarms_b]
    assert not {r["_id"] for r in alarms_a} & {r["_id"] for r in rows(a, VIEW_LEGACY)}
