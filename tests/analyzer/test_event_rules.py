"""Event rules: each catalogue entry fed realistic records from both families."""

from __future__ import annotations

import pytest

from tests.analyzer.payloads import (
    AP_MAC,
    GW_MAC,
    LAPTOP_MAC,
    PHONE_MAC,
    SW_MAC,
    anomaly,
    at,
    client,
    collection,
    dev_param,
    device,
    legacy,
    rogue,
    v2,
)
from unifi_scanner.analyzer import analyze
from unifi_scanner.models import Finding, RecordKind, Report
from unifi_scanner.settings import Settings


def run(*items, **kwargs) -> Report:
    """Analyse items framed as a collection, with default settings.

    The report is made at the end of the test window unless told otherwise: incidents measure "offline
    since" against the moment the report is made, so a fixed moment keeps their words stable.
    """
    kwargs.setdefault("generated_at", at(24))
    return analyze(collection(items), Settings(), **kwargs)


def only(report: Report, rule_id: str) -> Finding:
    """The single finding of a rule (fails when there is none or several)."""
    matching = [f for f in report.findings if f.rule_id == rule_id]
    assert len(matching) == 1, [(f.rule_id, f.title) for f in report.findings]
    return matching[0]


def test_lost_contact_is_grouped_per_device_and_named_from_the_device_list():
    report = run(
        legacy("EVT_AP_Lost_Contact", at(2, 10), ap=AP_MAC, msg=f"AP[{AP_MAC}] was disconnected"),
        legacy("EVT_AP_Lost_Contact", at(5, 40), ap=AP_MAC, msg=f"AP[{AP_MAC}] was disconnected"),
        legacy("EVT_SW_Lost_Contact", at(3), sw=SW_MAC, subsystem="lan"),
        # The device list arrives after the events: names are still resolved.
        device(AP_MAC, "Lobby-AP"),
        device(SW_MAC, "Core-Switch", "usw"),
    )
    ap = next(f for f in report.findings if f.affected[0].id == AP_MAC)
    # Both devices are connected in the device list: each outage is over, a medium incident.
    assert (ap.rule_id, ap.incident, ap.severity, ap.count) == ("device_outage", "device_outage", "medium", 2)
    assert ap.rule_ids == ["device_lost_contact"]
    assert ap.affected[0].name == "Lobby-AP"
    # The name says what it is, so it stands alone ("Lobby-AP", not "Access point Lobby-AP").
    assert ap.explanation.startswith(
        "Lobby-AP lost contact with the controller twice between 02:10 and 05:40 UTC")
    assert ap.samples[0].message == f"AP[Lobby-AP ({AP_MAC})] was disconnected"
    assert [entry.time for entry in ap.timeline] == [at(2, 10), at(5, 40)]
    switch = next(f for f in report.findings if f.affected[0].id == SW_MAC)
    assert switch.title == "Core-Switch lost contact and came back"
    health = {row.mac: row for row in report.device_health}
    assert health[AP_MAC].problems == ["lost contact twice"]
    assert health[SW_MAC].problems == ["lost contact once"]


def test_unknown_device_keeps_its_mac_as_the_name():
    report = run(legacy("EVT_AP_Lost_Contact", at(1), ap=AP_MAC))
    finding = only(report, "device_outage")
    assert finding.affected[0].name is None
    assert f"{AP_MAC} lost contact with the controller at 01:00 UTC" in finding.explanation
    # Nothing says it came back: still out of contact when the report was made, so severe.
    assert finding.severity == "severe"
    assert finding.title.endswith("is offline since Jan 24 01:00 UTC (23 h)")


def test_incident_names_an_unlisted_device_by_the_kind_its_events_give():
    # EVT_AP_* says it is an access point: the kind the events gave survives the correlation step.
    report = run(legacy("EVT_AP_Lost_Contact", at(1), ap=AP_MAC))
    finding = only(report, "device_outage")
    assert finding.explanation.startswith(f"Access point {AP_MAC} lost contact")


def test_flapping_needs_n_disconnects_within_the_window_and_both_families_count():
    unreachable = {"DEVICE": dev_param(AP_MAC)}
    report = run(
        legacy("EVT_AP_Lost_Contact", at(2, 0), ap=AP_MAC),
        v2("DEVICE_UNREACHABLE", at(2, 20), params=unreachable, message="{DEVICE} is unreachable."),
        legacy("EVT_AP_Lost_Contact", at(2, 45), ap=AP_MAC),
        # The switch also lost contact three times, but spread over six hours: not flapping.
        legacy("EVT_SW_Lost_Contact", at(1), sw=SW_MAC),
        legacy("EVT_SW_Lost_Contact", at(4), sw=SW_MAC),
        legacy("EVT_SW_Lost_Contact", at(7), sw=SW_MAC),
        device(AP_MAC, "Lobby-AP"),
        device(SW_MAC, "Core", "usw"),
    )
    flapping = only(report, "device_flapping")
    assert (flapping.severity, flapping.count, flapping.affected[0].name) == ("severe", 3, "Lobby-AP")
    assert flapping.incident == "device_outage"
    assert "3 of them within 60 minutes from 02:00 UTC" in flapping.explanation
    assert flapping.title == "Lobby-AP is flapping: lost contact 3 times, connected now"
    # The switch is connected again: an outage that is over, not flapping.
    calm = only(report, "device_outage")
    assert (calm.severity, calm.count, calm.affected[0].id) == ("medium", 3, SW_MAC)
    assert calm.rule_ids == ["device_lost_contact"]


def test_two_disconnects_in_an_hour_stay_below_the_flapping_threshold():
    report = run(
        legacy("EVT_AP_Lost_Contact", at(2, 0), ap=AP_MAC),
        legacy("EVT_AP_Lost_Contact", at(2, 5), ap=AP_MAC),
        device(AP_MAC, "Lobby-AP"),
    )
    outage = only(report, "device_outage")
    assert (outage.count, outage.severity, outage.rule_ids) == (2, "medium", ["device_lost_contact"])
    assert not [f for f in report.findings if f.rule_id == "device_flapping"]


def test_controller_flagged_repeated_reconnects_escalate_at_once():
    report = run(
        v2("DEVICE_RECONNECTED_SEVERAL_TIMES", at(3), params={"DEVICE": dev_param(GW_MAC, "Gateway")})
    )
    finding = only(report, "device_flapping")
    assert finding.severity == "severe"
    assert finding.affected[0].name == "Gateway"


CASES = [
    # (record, rule id, severity, affected id that must be listed)
    (legacy("EVT_AP_Connected", at(1), ap=AP_MAC), "device_reconnected", "low", AP_MAC),
    (
        v2("DEVICE_RECONNECTED_WITH_DOWNLINKS", at(1), params={"DEVICE": dev_param()}),
        "device_reconnected",
        "low",
        AP_MAC,
    ),
    (legacy("EVT_AP_Restarted", at(1), ap=AP_MAC, admin="alice"), "device_restarted", "low", AP_MAC),
    (legacy("EVT_SW_RestartedUnknown", at(1), sw=SW_MAC), "device_restarted_unexpectedly", "medium", SW_MAC),
    (
        legacy("EVT_GW_WANTransition", at(1), gw=GW_MAC, iface="eth8", state="down", subsystem="wan"),
        "wan_incident",  # still down when the report was made, with no backup: severe
        "severe",
        GW_MAC,
    ),
    (
        v2(
            "NETWORK_WAN_FAILED_2",
            at(1),
            category="INTERNET_AND_WAN",
            params={"DEVICE": dev_param(GW_MAC, "Gateway"), "WAN": {"id": "wan1", "name": "Internet 1"}},
        ),
        "wan_incident",
        "severe",
        "Internet 1",
    ),
    (
        v2(
            "NETWORK_FAILED_OVER_TO_BACKUP_LTE",
            at(1),
            category="INTERNET_AND_WAN",
            params={"DEVICE": dev_param(GW_MAC, "Gateway")},
        ),
        "wan_incident",  # the backup took over: medium
        "medium",
        GW_MAC,
    ),
    (
        legacy("EVT_GW_WANTransition", at(1), gw=GW_MAC, iface="eth8", state="up", subsystem="wan"),
        "wan_recovered",
        "low",
        GW_MAC,
    ),
    (
        v2("NETWORK_RETURNED_FROM_BACKUP_WAN", at(1), category="INTERNET_AND_WAN"),
        "wan_recovered",
        "low",
        None,
    ),
    (v2("NETWORK_WAN_RESTORED_2", at(1), category="INTERNET_AND_WAN"), "wan_recovered", "low", None),
    (v2("ISP_HIGH_LATENCY", at(1), category="INTERNET_AND_WAN"), "isp_quality", "medium", None),
    (v2("ISP_PACKET_LOSS_2", at(1), category="INTERNET_AND_WAN"), "isp_quality", "medium", None),
    (
        v2(
            "TRAFFIC_BLOCKED_KNOWN_SOURCE_CLIENT",
            at(1),
            category="SECURITY",
            subcategory="SECURITY_FIREWALL",
            message="{SRC_CLIENT} was blocked from accessing {DST_IP} by the {TRIGGER} Firewall Policy.",
            params={
                "SRC_CLIENT": {"id": "aa:bb:cc:00:00:01", "ip": "192.0.2.11", "name": "Lab-Camera"},
                "DST_IP": {"id": "198.51.100.24", "name": "198.51.100.24"},
                "TRIGGER": {"id": "trigger-0001", "name": "block cameras to external"},
            },
        ),
        "firewall_block",
        "low",
        "aa:bb:cc:00:00:01",
    ),
    (
        v2(
            "HONEYPOT_HIT_DETECTED_KNOWN_CLIENT",
            at(1),
            category="SECURITY",
            params={"SRC_CLIENT": {"id": LAPTOP_MAC, "ip": "192.168.1.50", "name": "Old-Laptop"}},
        ),
        "honeypot_hit",
        "severe",
        "192.168.1.50",
    ),
    (
        legacy("EVT_GW_IpReputationAlert", at(1), gw=GW_MAC, ip="203.0.113.9"),
        "ip_reputation",
        "medium",
        "203.0.113.9",
    ),
    (legacy("EVT_SW_DetectRogueDHCP", at(1), sw=SW_MAC), "rogue_dhcp", "severe", SW_MAC),
    (legacy("EVT_AP_Configured", at(1), ap=AP_MAC, admin="alice"), "admin_config_change", "low", "alice"),
    (
        v2("NETWORK_UPDATED", at(1), category="AUDIT", params={"ADMIN": {"id": "u1", "name": "bob"}}),
        "admin_config_change",
        "low",
        "bob",
    ),
    (
        legacy("EVT_AD_VoucherCreated", at(1), admin="carol", subsystem="lan"),
        "admin_config_change",
        "low",
        "carol",
    ),
    (
        legacy("EVT_AP_DetectRogueAP", at(1), ap=AP_MAC, bssid="02:11:22:33:44:55", essid="CorpWiFi"),
        "rogue_ap",
        "medium",
        "02:11:22:33:44:55",
    ),
    (rogue("02:11:22:33:44:66", is_rogue=True), "rogue_ap", "medium", "02:11:22:33:44:66"),
    (legacy("EVT_AP_RadarDetected", at(1), ap=AP_MAC, channel="52"), "dfs_radar", "low", AP_MAC),
    (v2("DEVICE_RADAR_DETECTED_2", at(1), params={"DEVICE": dev_param()}), "dfs_radar", "low", AP_MAC),
    (legacy("EVT_AP_PossibleInterference", at(1), ap=AP_MAC), "wifi_interference", "low", AP_MAC),
    (legacy("EVT_SW_PoeOverload", at(1), sw=SW_MAC, port="7"), "poe_overload", "medium", SW_MAC),
    (legacy("EVT_USP_RpsOutOfBudget", at(1), device=SW_MAC), "poe_overload", "medium", SW_MAC),
    (legacy("EVT_SW_PoeDisconnect", at(1), sw=SW_MAC, port="7"), "poe_disconnect", "low", SW_MAC),
    (
        legacy("EVT_USP_RpsPortPowerDelivering", at(1), device=SW_MAC, port="3"),
        "rps_power_delivering",
        "medium",
        SW_MAC,
    ),
    (legacy("EVT_SW_Overheat", at(1), sw=SW_MAC), "device_overheating", "severe", SW_MAC),
    (legacy("EVT_AP_UpgradeFailed", at(1), ap=AP_MAC), "firmware_upgrade_failed", "medium", AP_MAC),
    (
        legacy("EVT_SW_Upgraded", at(1), sw=SW_MAC, version_from="6.5.59", version_to="6.6.61"),
        "firmware_upgraded",
        "low",
        SW_MAC,
    ),
    (legacy("EVT_AD_Update_Available", at(1), subsystem="lan"), "controller_update_available", "low", None),
    (legacy("EVT_WC_Blocked", at(1), user=PHONE_MAC), "client_blocked", "low", PHONE_MAC),
    (legacy("EVT_LC_Blocked", at(1), client=LAPTOP_MAC), "client_blocked", "low", LAPTOP_MAC),
    (
        legacy("EVT_AD_GuestUnauthorized", at(1), guest=PHONE_MAC, admin="alice"),
        "client_blocked",
        "low",
        PHONE_MAC,
    ),
    (
        v2("CLIENT_IP_CONFLICT", at(1), category="CLIENT_DEVICES", params={"CLIENT": {"id": PHONE_MAC}}),
        "client_ip_conflict",
        "medium",
        PHONE_MAC,
    ),
    (
        v2(
            "CLIENT_IP_CONFLICT_BULK", at(1), category="CLIENT_DEVICES", params={"CLIENT": {"id": LAPTOP_MAC}}
        ),
        "client_ip_conflict",
        "medium",
        LAPTOP_MAC,
    ),
    (
        legacy("EVT_GW_DhcpPoolExhausted", at(1), gw=GW_MAC, network="Guests"),
        "dhcp_pool_exhausted",
        "severe",
        "Guests",
    ),
    (
        legacy("EVT_GW_DhcpPoolNearExhausted", at(1), gw=GW_MAC, network="Guests"),
        "dhcp_pool_near_exhausted",
        "medium",
        "Guests",
    ),
    (legacy("EVT_SW_LoopDetected", at(1), sw=SW_MAC, port="12"), "network_loop", "severe", SW_MAC),
    (legacy("EVT_SW_StpPortBlocking", at(1), sw=SW_MAC, port="12"), "stp_port_blocking", "low", SW_MAC),
    (
        v2("PORT_TRANSMISSION_ERRORS", at(1), params={"DEVICE": dev_param(SW_MAC, "Core")}),
        "port_errors",
        "low",
        SW_MAC,
    ),
    (v2("RADIUS_SERVER_ISSUE", at(1)), "radius_issue", "medium", None),
    (anomaly("USER_POOR_SIGNAL", PHONE_MAC, at(1)), "anomaly", "low", PHONE_MAC),
]


@pytest.mark.parametrize(
    ("record", "rule_id", "severity", "affected_id"),
    CASES,
    ids=[f"{case[1]}:{case[0].raw.get('key') or case[0].kind}" for case in CASES],
)
def test_each_event_rule(record, rule_id, severity, affected_id):
    report = run(record)
    finding = only(report, rule_id)
    assert finding.severity == severity
    assert finding.count == 1
    assert finding.event_ids == [record.id]
    assert finding.title and finding.explanation and finding.remediation
    assert "{" not in finding.title + finding.explanation
    if affected_id is not None:
        assert affected_id in [item.id for item in finding.affected]
    assert report.unknown_events == []


def test_wan_down_explains_which_uplink_and_when():
    downs = [
        legacy("EVT_GW_WANTransition", when, gw=GW_MAC, iface="eth8", state="down", subsystem="wan")
        for when in (at(3, 5), at(3, 50))
    ]
    report = run(*downs, device(GW_MAC, "UDM-Pro", "udm"))
    finding = only(report, "wan_incident")
    assert (finding.count, finding.rule_ids) == (2, ["wan_down"])
    # A model name says what the device is: "UDM-Pro", not "gateway UDM-Pro".
    assert (
        "The internet uplink eth8 of UDM-Pro went down twice between 03:05 and 03:50 UTC"
        in finding.explanation
    )
    # The report is made the next day (at(24)), so the moment carries its date.
    assert finding.title == "Internet (WAN) is down since Jan 24 03:50 UTC"


def test_wan_transition_without_state_reads_the_message():
    report = run(legacy("EVT_GW_WANTransition", at(1), gw=GW_MAC, msg="Gateway[x] WAN iface eth8 went down"))
    finding = only(report, "wan_incident")
    assert (finding.count, finding.rule_ids) == (1, ["wan_down"])
    # Newer firmware words it "inactive": also a down transition, not a recovery.
    inactive = run(legacy("EVT_GW_WANTransition", at(1), gw=GW_MAC, msg="WAN iface eth8 is inactive"))
    assert only(inactive, "wan_incident").rule_ids == ["wan_down"]


def test_neighbouring_aps_are_summed_per_listening_ap():
    rows = [rogue(f"02:00:00:00:00:{n:02x}", is_rogue=False) for n in range(12)]
    report = run(*rows, device(AP_MAC, "Lobby-AP"))
    finding = only(report, "neighbour_aps")
    assert (finding.severity, finding.count) == ("low", 12)
    assert finding.title == "Lobby-AP hears neighbouring networks"  # not "Access point Lobby-AP"


def test_a_few_neighbouring_aps_are_not_worth_a_finding():
    report = run(*[rogue(f"02:00:00:00:00:{n:02x}", is_rogue=False) for n in range(3)])
    assert report.findings == []
    assert report.unknown_events == []


def test_channel_changes_need_three_in_a_window_from_both_families():
    # Automatic channel selection moves now and then: two changes are normal, the third is a finding.
    changes = [
        legacy("EVT_AP_ChannelChanged", at(1), ap=AP_MAC, channel_from="36", channel_to="44"),
        v2("AP_CHANNEL_CHANGED", at(2), params={"AP": dev_param()}),
    ]
    quiet = run(*changes)
    assert quiet.findings == []
    assert quiet.unknown_events == []  # matched by the rule, just below its minimum
    third = legacy("EVT_AP_ChannelChanged", at(3), ap=AP_MAC, channel_from="44", channel_to="36")
    finding = only(run(*changes, third), "channel_changed")
    assert (finding.severity, finding.count, finding.affected[0].id) == ("low", 3, AP_MAC)


def test_channel_changes_escalate_when_they_pile_up():
    report = run(*[legacy("EVT_AP_ChannelChanged", at(n), ap=AP_MAC, channel_to="44") for n in range(10)])
    finding = only(report, "channel_changed")
    assert (finding.severity, finding.count) == ("medium", 10)


def test_failed_logins_collapse_per_source_address():
    report = run(
        legacy("EVT_AD_LoginFailed", at(1), admin="admin", ip="203.0.113.5", subsystem="lan"),
        legacy("EVT_AD_LoginFailed", at(2), admin="root", ip="203.0.113.5", subsystem="lan"),
    )
    finding = only(report, "admin_login_failed")
    assert (finding.severity, finding.count) == ("medium", 2)
    assert "accounts tried: admin, root" in finding.explanation


def test_brute_force_is_five_failures_within_ten_minutes():
    burst = [
        legacy("EVT_AD_LoginFailed", at(4, minute), admin="admin", ip="203.0.113.5") for minute in range(5)
    ]
    spread = [
        legacy("EVT_AD_LoginFailed", at(hour * 3), admin="admin", ip="198.51.100.7") for hour in range(5)
    ]
    report = run(*burst, *spread)
    brute = only(report, "admin_brute_force")
    assert (brute.severity, brute.count) == ("severe", 5)
    assert brute.affected[0].id == "203.0.113.5"
    assert "5 of them within 10 minutes" in brute.explanation
    slow = only(report, "admin_login_failed")
    assert (slow.severity, slow.affected[0].id) == ("medium", "198.51.100.7")


def test_admin_login_from_a_new_address_within_the_window():
    report = run(
        legacy("EVT_AD_Login", at(1), admin="alice", ip="192.168.1.10", subsystem="lan"),
        legacy("EVT_AD_Login", at(5), admin="alice", ip="192.168.1.10", subsystem="lan"),
        v2(
            "ACCESSED_NETWORK_WEB",
            at(9),
            category="AUDIT",
            params={"ADMIN": {"id": "u1", "name": "alice", "ip": "203.0.113.77"}},
        ),
        legacy("EVT_AD_Login", at(2), admin="bob", ip="192.168.1.11", subsystem="lan"),
    )
    finding = only(report, "admin_login_new_ip")
    assert [(a.kind, a.id) for a in finding.affected] == [("admin", "alice"), ("ip", "203.0.113.77")]
    assert "not the address" not in finding.explanation
    assert "first login in this report window" in finding.explanation


def test_known_admin_addresses_decide_what_is_new():
    items = [
        legacy("EVT_AD_Login", at(1), admin="alice", ip="192.168.1.10"),
        legacy("EVT_AD_Login", at(2), admin="bob", ip="192.168.1.99"),
    ]
    report = analyze(collection(items), Settings(), known_admin_ips={"192.168.1.10"})
    finding = only(report, "admin_login_new_ip")
    assert finding.affected[0].id == "bob"
    assert "not among the addresses admins logged in from in earlier reports (the last 90 days)" \
        in finding.explanation
    # The run remembers this window's successful logins, from both addresses.
    assert report.admin_logins == {"192.168.1.10": at(1), "192.168.1.99": at(2)}
    assert (
        analyze(collection(items), Settings(), known_admin_ips={"192.168.1.10", "192.168.1.99"}).findings
        == []
    )


@pytest.mark.parametrize(("count", "expected"), [(29, None), (30, "low"), (100, "low")])
def test_client_churn_thresholds_with_both_families(count, expected):
    # client_churn compares each client with the site's other clients (baseline): four quiet clients
    # give the site its normal, and the phone needs at least the baseline's 30 events. There is no fixed
    # escalation any more, so 100 events stay low.
    keys = ["EVT_WU_Connected", "EVT_WU_Disconnected", "EVT_WU_Roam"]
    records = []
    for n in range(count):
        when = at(minutes=n * 10)
        if n % 2:
            records.append(legacy(keys[n % 3], when, user=PHONE_MAC, ap=AP_MAC))
        else:
            records.append(
                v2(
                    "CLIENT_CONNECTED_WIRELESS_2",
                    when,
                    category="CLIENT_DEVICES",
                    params={"CLIENT": {"id": PHONE_MAC, "name": "Anna's iPhone"}, "AP": dev_param()},
                )
            )
    for n in range(4):
        records += [legacy("EVT_WU_Connected", at(n + 1, m), user=f"06:00:00:00:00:0{n}") for m in (0, 30)]
    report = run(*records, client())
    churn = [f for f in report.findings if f.rule_id == "client_churn"]
    if expected is None:
        assert churn == []
        assert report.unknown_events == []
    else:
        assert (churn[0].severity, churn[0].count) == (expected, count)
        assert [a.name for a in churn[0].affected if a.kind == "client"] == ["Anna's iPhone"]
        assert f"Anna's iPhone ({PHONE_MAC})" in churn[0].explanation


def test_unknown_keys_are_listed_with_counts_and_a_sample():
    report = run(
        legacy("EVT_HS_VoucherUsed", at(1), msg="Guest used voucher 12345"),
        legacy("EVT_HS_VoucherUsed", at(2), msg="Guest used voucher 67890"),
        v2(
            "EVENT_WITH_UNKNOWN_PLACEHOLDER",
            at(3),
            # Not SECURITY: a security row no rule knows is a controller_alert (test_correlate.py).
            category="SYSTEM",
            message="{MYSTERY_ROLE} did something to {DST_IP}.",
            params={"DST_IP": {"id": "198.51.100.7", "name": "198.51.100.7"}},
        ),
    )
    unknown = {event.key: event for event in report.unknown_events}
    assert unknown["EVT_HS_VoucherUsed"].count == 2
    assert unknown["EVT_HS_VoucherUsed"].sample_message == "Guest used voucher 12345"
    assert (
        unknown["EVENT_WITH_UNKNOWN_PLACEHOLDER"].sample_message
        == "{MYSTERY_ROLE} did something to 198.51.100.7."
    )
    assert report.events_per_category == {"other": 3}
    assert sum(bucket.other for bucket in report.events_per_hour) == 3


def test_v2_message_falls_back_to_the_title():
    report = run(v2("SOMETHING_NEW", at(1), message="", title="Something New Happened"))
    assert report.unknown_events[0].sample_message == "Something New Happened"


def test_alarm_rows_feed_the_same_rules():
    report = run(legacy("EVT_AP_Lost_Contact", at(1), kind=RecordKind.ALARM, ap=AP_MAC, archived=False))
    finding = only(report, "device_outage")
    assert (finding.count, finding.rule_ids) == (1, ["device_lost_contact"])
