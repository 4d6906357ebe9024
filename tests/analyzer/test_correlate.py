"""The correlation step (analyzer/correlate.py, incidents.yaml) seen through `analyze`: findings about one
subject become one incident with a severity that follows the impact and a bounded, sorted timeline;
quiet blocked scans and firewall blocks become digests. Also the engine's parts that feed it: cross-source
de-duplication, archived alarms, the v2 fallbacks and the display zone."""

from __future__ import annotations

from unittest.mock import patch

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
    ips_alert,
    legacy,
    v2,
)
from tests.analyzer.test_event_rules import only, run
from unifi_scanner.analyzer import analyze
from unifi_scanner.analyzer import engine as engine_module
from unifi_scanner.analyzer.correlate import MAX_TIMELINE
from unifi_scanner.models import RecordKind
from unifi_scanner.settings import Settings

MALWARE = "ET MALWARE Suspicious User Agent (Autoupdate)"


def texts(finding) -> list[str]:
    """The timeline's texts, in order."""
    return [entry.text for entry in finding.timeline]


def assert_sorted(finding) -> None:
    """The timeline is in time order."""
    times = [entry.time for entry in finding.timeline]
    assert times == sorted(times)


# ------------------------------------------------------------------ device outages


def test_a_device_still_offline_is_severe_and_says_since_when():
    report = run(
        legacy("EVT_AP_Lost_Contact", at(2, 10), ap=AP_MAC),
        device(AP_MAC, "Lobby", state="disconnected"),
    )
    outage = only(report, "device_outage")
    assert (outage.incident, outage.severity) == ("device_outage", "severe")
    assert outage.rule_ids == ["device_lost_contact", "device_offline"]
    # The report is made at(24), 21 h 50 min after the drop.
    assert outage.title == "Access point “Lobby” is offline since Jan 24 02:10 UTC (21 h 50 min)"
    assert "had not come back when the report was made (its state: disconnected)" in outage.explanation
    assert outage.timeline[-1].time == at(24)
    assert outage.timeline[-1].text.startswith("still offline when the report was made")
    assert_sorted(outage)


def test_a_device_that_came_back_is_medium_and_says_after_how_long():
    report = run(
        legacy("EVT_AP_Lost_Contact", at(2, 10), ap=AP_MAC),
        legacy("EVT_AP_Connected", at(2, 25), ap=AP_MAC),
        device(AP_MAC, "Lobby"),
    )
    outage = only(report, "device_outage")
    assert (outage.severity, outage.count) == ("medium", 2)
    assert outage.rule_ids == ["device_lost_contact", "device_reconnected"]
    assert outage.title == "Access point “Lobby” lost contact and came back after 15 minutes"
    assert "It is connected now" in outage.explanation
    assert texts(outage) == ["lost contact with the controller", "back after 15 minutes"]
    assert not [f for f in report.findings if f.rule_id == "device_reconnected"]  # merged in


def test_a_reconnect_alone_stays_a_low_finding():
    # It lost contact before the window began: nothing more to tell than the rule's own finding.
    report = run(legacy("EVT_AP_Connected", at(1), ap=AP_MAC), device(AP_MAC, "Lobby"))
    finding = only(report, "device_reconnected")
    assert (finding.severity, finding.incident) == ("low", None)


@pytest.mark.parametrize(("state", "now"), [("connected", "connected now"), ("disconnected", "offline now")])
def test_flapping_is_severe_whether_or_not_the_device_is_back(state, now):
    drops = [legacy("EVT_SW_Lost_Contact", at(3, minute), sw=SW_MAC) for minute in (0, 20, 40)]
    report = run(*drops, device(SW_MAC, "Switch 16", "usw", state=state))
    flapping = only(report, "device_flapping")
    expected = ("device_outage", "severe", 3 + (state != "connected"))
    assert (flapping.incident, flapping.severity, flapping.count) == expected
    # "Switch 16", not "Switch Switch 16".
    assert flapping.title == f"Switch 16 is flapping: lost contact 3 times, {now}"
    assert not [f for f in report.findings if f.rule_id == "device_outage"]


# ------------------------------------------------------------------ WAN


def wan(when, state: str):
    """A legacy WAN transition of the gateway's eth8."""
    return legacy("EVT_GW_WANTransition", when, gw=GW_MAC, iface="eth8", state=state, subsystem="wan")


def failover(when):
    """A v2 failover to the LTE backup."""
    return v2("NETWORK_FAILED_OVER_TO_BACKUP_LTE", when, category="INTERNET_AND_WAN",
              params={"DEVICE": dev_param(GW_MAC, "UDM-Pro", model="UDM-Pro")})


GATEWAY = device(GW_MAC, "UDM-Pro", "udm")


def test_wan_down_with_failover_and_recovery_is_medium():
    report = run(wan(at(3, 5), "down"), failover(at(3, 6)), wan(at(3, 40), "up"), GATEWAY)
    incident = only(report, "wan_incident")
    assert (incident.severity, incident.count) == ("medium", 3)
    assert incident.rule_ids == ["wan_down", "wan_failover", "wan_recovered"]
    assert incident.title == "Internet outage: failed over to the backup, back after 35 minutes"
    assert "switched to the backup connection at 03:06 UTC" in incident.explanation
    assert texts(incident) == ["internet uplink went down", "switched to the backup connection",
                               "connection restored"]


def test_wan_down_without_backup_is_severe_even_when_restored():
    report = run(wan(at(3, 5), "down"), wan(at(3, 20), "up"), GATEWAY)
    incident = only(report, "wan_incident")
    assert incident.severity == "severe"
    assert incident.title == "Internet (WAN) was down, back after 15 minutes"
    assert "While it was down, the site had no internet." in incident.explanation


def test_wan_still_down_is_severe_even_with_failover():
    report = run(wan(at(3, 5), "down"), failover(at(3, 6)), GATEWAY)
    incident = only(report, "wan_incident")
    assert incident.severity == "severe"
    assert incident.title.startswith("Internet (WAN) is down since")
    assert "The gateway switched to the backup connection" in incident.explanation


def test_a_failover_alone_is_medium():
    incident = only(run(failover(at(3, 6)), GATEWAY), "wan_incident")
    assert (incident.severity, incident.title) == ("medium", "Internet failed over to the backup connection")


def test_isp_quality_and_wan_health_join_the_wan_incident():
    report = run(
        wan(at(3, 5), "down"), failover(at(3, 6)), wan(at(3, 40), "up"), GATEWAY,
        v2("ISP_HIGH_LATENCY", at(3, 10), category="INTERNET_AND_WAN"),
    )
    incident = only(report, "wan_incident")
    assert "isp_quality" in incident.rule_ids
    assert [f.rule_id for f in report.findings] == ["wan_incident"]  # no separate ISP finding
    assert "Poor internet quality (latency or packet loss)" in texts(incident)
    assert_sorted(incident)


def test_the_wan_explanation_mentions_the_isp_quality_it_took_in():
    # ISP quality has no device: it must join the WAN incident before its words are written, so the
    # explanation can say what the connection was like during the outage.
    report = run(
        wan(at(3, 5), "down"), failover(at(3, 6)), wan(at(3, 40), "up"), GATEWAY,
        v2("ISP_HIGH_LATENCY", at(3, 10), category="INTERNET_AND_WAN"),
    )
    assert "During the incident:" in only(report, "wan_incident").explanation


def test_timelines_are_sorted_and_bounded():
    items = [GATEWAY]
    for hour in range(7):
        items += [wan(at(hour, 0), "down"), failover(at(hour, 1)), wan(at(hour, 30), "up")]
    incident = only(run(*items), "wan_incident")
    assert incident.count == 21
    assert len(incident.timeline) == MAX_TIMELINE
    assert_sorted(incident)
    assert incident.timeline[0].time == at(0, 0)


def test_a_cut_timeline_says_what_it_left_out():
    # Seven outages do not fit the timeline: it must say how many events it left out, not drop them.
    items = [GATEWAY]
    for hour in range(7):
        items += [wan(at(hour, 0), "down"), failover(at(hour, 1)), wan(at(hour, 30), "up")]
    incident = only(run(*items), "wan_incident")
    assert any("more" in text or "before these" in text for text in texts(incident))


# ------------------------------------------------------------------ threat campaigns


def test_inbound_campaign_names_the_internal_target_to_investigate_and_the_source_to_block():
    report = run(ips_alert(at(1), src="196.196.244.84", dst="192.168.1.23"), client())
    campaign = only(report, "threat_campaign")
    assert campaign.explanation.startswith(
        "Inbound: 196.196.244.84 (SE), an address on the internet, sent 1 hit at 01:00 UTC to "
        "Anna's iPhone (192.168.1.23) on your side.")
    assert campaign.remediation[0].startswith("Investigate Anna's iPhone (192.168.1.23) (the internal side)")
    assert campaign.remediation[1] == ("Consider blocking 196.196.244.84 (the external side) in a firewall "
                                       "rule.")
    assert campaign.severity == "severe"  # detected, not blocked, not a mild family


def test_outbound_campaign_investigates_the_internal_host_and_blocks_the_remote():
    report = run(ips_alert(at(1), src="192.168.1.23", dst="185.220.101.4", signature=MALWARE,
                           action="blocked"), client())
    campaign = only(report, "threat_campaign")
    # Blocked, but an internal host reached out with a malware signature: severe.
    assert campaign.severity == "severe"
    # The payload's country is the source's, ours here: the internet end's is not known, so none is named.
    assert campaign.title == ("Anna's iPhone (192.168.1.23) contacted 185.220.101.4, flagged as "
                              "ET MALWARE (1 hit, blocked)")
    assert campaign.explanation.startswith("Outbound: Anna's iPhone (192.168.1.23) on your side contacted")
    assert campaign.remediation[0].startswith("Investigate Anna's iPhone (192.168.1.23) (the internal side)")
    assert campaign.remediation[1] == "Block 185.220.101.4 (the external side) in a firewall rule."
    assert campaign.affected[0].id == "185.220.101.4"


def test_the_sites_own_public_addresses_are_its_end():
    # The gateway's WAN address is public, but it is ours: a hit from it is outbound.
    gateway = device(GW_MAC, "UDM-Pro", "udm", raw={"wan1": {"ip": "203.0.113.2"}})
    report = run(gateway, ips_alert(at(1), src="203.0.113.2", dst="198.51.100.7", signature=MALWARE))
    campaign = only(report, "threat_campaign")
    assert campaign.affected[0].id == "198.51.100.7"
    assert campaign.explanation.startswith("Outbound: 203.0.113.2 on your side contacted 198.51.100.7")


def test_an_inbound_detected_mild_signature_is_medium():
    report = run(ips_alert(at(1), signature="ET POLICY Dropbox.com Offsite File Backup in Use"))
    assert only(report, "threat_campaign").severity == "medium"


def test_internal_campaign_investigates_the_source_and_checks_the_target():
    # Both ends are ours: the source is the host to isolate, the target the one to check.
    report = run(ips_alert(at(1), src="192.168.1.23", dst="192.168.3.2", signature=MALWARE), client())
    campaign = only(report, "threat_campaign")
    assert campaign.severity == "severe"
    assert campaign.title.startswith("Anna's iPhone (192.168.1.23) attacked other hosts on your network")
    assert campaign.explanation.startswith("Internal: Anna's iPhone (192.168.1.23) sent 1 hit")
    assert "to 192.168.3.2 inside your network" in campaign.explanation
    assert campaign.remediation[0].startswith("Investigate Anna's iPhone (192.168.1.23) (the source")
    assert "192.168.3.2" in campaign.remediation[1]


def test_campaign_timeline_is_sorted_and_tells_the_hits_not_blocked():
    report = run(*[ips_alert(at(hour), src="196.196.244.84") for hour in (3, 1, 2)])
    campaign = only(report, "threat_campaign")
    assert_sorted(campaign)
    assert texts(campaign)[0].startswith("first hit (ET SCAN")
    assert texts(campaign)[-1] == "last hit"
    assert campaign.timeline[-1].time == at(3)


# ------------------------------------------------------------------ IPS digest


def test_quiet_blocked_sources_fold_into_one_digest_with_their_tops():
    hits = [ips_alert(at(1, n), action="blocked", src=f"203.0.113.{n}", dst="192.168.1.23") for n in range(6)]
    hits += [ips_alert(at(2, n), action="blocked", src="203.0.113.9", dst="192.168.3.2",
                       signature="ET EXPLOIT Apache log4j RCE Attempt") for n in range(2)]
    report = run(*hits, client())
    digest = only(report, "ips_digest")
    assert (digest.incident, digest.severity, digest.count) == ("ips_digest", "low", 8)
    assert digest.title == "IPS blocked 8 attempts from 7 sources"
    assert digest.details == {"sources": 7, "hits": 8}
    assert "Top sources: 203.0.113.9 (SE) 2 hits, 203.0.113.0 (SE) 1 hit," in digest.explanation
    assert ("Top targets on your side: Anna's iPhone (192.168.1.23) (from 6 sources) and 192.168.3.2 "
            "(from 1 source).") in digest.explanation
    assert ("Top signatures: ET SCAN Suspicious inbound to mySQL port 3306 (6 sources) and "
            "ET EXPLOIT Apache log4j RCE Attempt (1 source).") in digest.explanation
    # It names its top five sources, not every address.
    assert len([a for a in digest.affected if a.id.startswith("203.0.113.")]) == 5


def test_digest_tops_count_sources_so_a_source_that_varies_is_not_counted_twice():
    # A source's finding knows its hits, not how they split over its targets and signatures: adding
    # its total to each read "3 hits" twice for 3 hits. The tops count the sources instead, exactly.
    hits = [ips_alert(at(1), action="blocked", src="203.0.113.1", dst="192.168.1.23")]
    hits += [ips_alert(at(2, n), action="blocked", src="203.0.113.1", dst="192.168.3.2",
                       signature="ET EXPLOIT Apache log4j RCE Attempt") for n in range(2)]
    digest = only(run(*hits, client()), "ips_digest")
    assert digest.count == 3
    assert ("Top targets on your side: Anna's iPhone (192.168.1.23) (from 1 source) and 192.168.3.2 "
            "(from 1 source).") in digest.explanation
    assert ("Top signatures: ET SCAN Suspicious inbound to mySQL port 3306 (1 source) and "
            "ET EXPLOIT Apache log4j RCE Attempt (1 source).") in digest.explanation


def test_a_digest_past_the_per_rule_cap_says_more_than_n_sources():
    hits = [ips_alert(at(1, n), action="blocked", src=f"203.0.113.{n}") for n in range(6)]
    with patch.object(engine_module, "MAX_GROUPS_PER_RULE", 3):
        report = run(*hits)
    digest = only(report, "ips_digest")
    assert digest.count == 6  # the sources past the cap are digested too
    assert digest.title == "IPS blocked 6 attempts from more than 3 sources"


# ------------------------------------------------------------------ admin logins


def failures(ip: str = "203.0.113.5"):
    """Five failed logins within five minutes: password guessing."""
    return [legacy("EVT_AD_LoginFailed", at(4, minute), admin="admin", ip=ip) for minute in range(5)]


def test_brute_force_without_success():
    incident = only(run(*failures()), "admin_brute_force")
    assert (incident.incident, incident.severity, incident.count) == ("admin_brute_force", "severe", 5)
    assert incident.title == "Password guessing on the controller from 203.0.113.5"
    assert "SUCCEEDED" not in incident.explanation
    assert not incident.remediation[0].startswith("Confirm with the account's owner")


def test_brute_force_followed_by_a_successful_login_says_so_first():
    success = legacy("EVT_AD_Login", at(4, 20), admin="admin", ip="203.0.113.5")
    incident = only(run(*failures(), success), "admin_brute_force")
    assert incident.severity == "severe"
    assert incident.title == ("Password guessing on the controller from 203.0.113.5, then a successful login "
                              "as admin")
    assert "Then 04:20 UTC a login as admin from the same address SUCCEEDED" in incident.explanation
    assert incident.remediation[0].startswith("Confirm with the account's owner")
    assert texts(incident)[-1] == "successful login as admin"
    assert_sorted(incident)


def test_a_login_before_the_failures_is_not_a_success_after_them():
    earlier = legacy("EVT_AD_Login", at(3), admin="admin", ip="203.0.113.5")
    incident = only(run(earlier, *failures()), "admin_brute_force")
    assert "successful" not in incident.title


def test_a_few_failed_logins_are_a_medium_incident():
    spread = [legacy("EVT_AD_LoginFailed", at(hour * 3), admin="root", ip="198.51.100.7")
              for hour in range(2)]
    finding = only(run(*spread), "admin_login_failed")
    assert (finding.incident, finding.severity) == ("admin_brute_force", "medium")
    assert finding.title == "Failed admin logins from 198.51.100.7"


# ------------------------------------------------------------------ firewall, DFS, per-site findings


def blocked(when, policy: str, src: str):
    """A v2 firewall block of a known client by a policy."""
    return v2("TRAFFIC_BLOCKED_KNOWN_SOURCE_CLIENT", when, category="SECURITY",
              subcategory="SECURITY_FIREWALL",
              message="{SRC_CLIENT} was blocked from accessing {DST_IP} by the {TRIGGER} Firewall Policy.",
              params={"SRC_CLIENT": {"id": "aa:bb:cc:00:00:01", "ip": src, "name": "Lab-Camera"},
                      "DST_IP": {"id": "198.51.100.24", "name": "198.51.100.24"},
                      "TRIGGER": {"id": f"trigger-{policy}", "name": policy}})


def test_firewall_blocks_are_one_finding_per_policy():
    report = run(blocked(at(1), "no cameras out", "192.168.5.11"),
                 blocked(at(2), "no cameras out", "192.168.5.12"))
    finding = only(report, "firewall_block")
    assert (finding.count, finding.incident) == (2, None)
    assert "Lab-Camera (192.168.5.11), Lab-Camera (192.168.5.12)" in finding.explanation


def test_several_policies_fold_into_one_firewall_digest():
    report = run(
        blocked(at(1), "no cameras out", "192.168.5.11"),
        blocked(at(2), "no cameras out", "192.168.5.12"),
        blocked(at(3), "no iot", "192.168.5.13"),
    )
    digest = only(report, "firewall_block")
    assert (digest.incident, digest.count, digest.details) == ("firewall_digest", 3, {"policies": 2})
    assert digest.title == "Firewall policies blocked 3 connections"
    # Busiest policy first.
    assert digest.explanation.index("“no cameras out” 2 times") < digest.explanation.index("“no iot” 1 time")


def test_channel_changes_join_the_dfs_radar_finding_of_the_device():
    report = run(
        legacy("EVT_AP_RadarDetected", at(1), ap=AP_MAC, channel="52"),
        *[legacy("EVT_AP_ChannelChanged", at(hour), ap=AP_MAC, channel_to="36") for hour in (1, 2, 3)],
        device(AP_MAC, "Lobby"),
    )
    radar = only(report, "dfs_radar")
    assert (radar.count, radar.rule_ids) == (4, ["channel_changed", "dfs_radar"])
    assert "changed channel" in radar.details["channel_changed"]
    assert not [f for f in report.findings if f.rule_id == "channel_changed"]


def test_anomalies_are_one_finding_per_site():
    report = run(anomaly("USER_POOR_SIGNAL", PHONE_MAC, at(1)),
                 anomaly("USER_SLEEPY_CLIENT", LAPTOP_MAC, at(2)))
    finding = only(report, "anomaly")
    assert finding.count == 2
    assert {a.id for a in finding.affected} == {PHONE_MAC, LAPTOP_MAC}


@pytest.mark.parametrize("record", [
    legacy("EVT_SW_DiscoveredPending", at(1), sw=SW_MAC),
    v2("DEVICE_DISCOVERED", at(1), params={"DEVICE": dev_param(SW_MAC, "New", model="USW-24-PoE")}),
], ids=["legacy", "v2"])
def test_a_device_waiting_for_adoption_is_a_low_finding(record):
    finding = only(run(record), "device_pending_adoption")
    assert (finding.severity, finding.affected[0].id) == ("low", SW_MAC)
    assert "waiting to be adopted" in finding.title


# ------------------------------------------------------------------ cross-source de-duplication


def test_an_alarm_repeating_an_event_under_another_id_is_counted_once():
    report = run(
        legacy("EVT_AP_Lost_Contact", at(1), ap=AP_MAC),
        legacy("EVT_AP_Lost_Contact", at(1, seconds=1), kind=RecordKind.ALARM, ap=AP_MAC),
        device(AP_MAC, "Lobby"),
    )
    assert only(report, "device_outage").count == 1
    assert report.total_events == 1
    assert any("1 record(s) reported by more than one source" in note for note in report.notes)


def test_repeats_from_one_source_or_seconds_apart_are_separate_happenings():
    same_source = run(
        legacy("EVT_AP_Lost_Contact", at(1), ap=AP_MAC),
        legacy("EVT_AP_Lost_Contact", at(1, seconds=1), ap=AP_MAC),
        device(AP_MAC, "Lobby"),
    )
    assert (only(same_source, "device_outage").count, same_source.total_events) == (2, 2)
    three_seconds = run(
        legacy("EVT_AP_Lost_Contact", at(1), ap=AP_MAC),
        legacy("EVT_AP_Lost_Contact", at(1, seconds=3), kind=RecordKind.ALARM, ap=AP_MAC),
        device(AP_MAC, "Lobby"),
    )
    assert only(three_seconds, "device_outage").count == 2
    assert not any("more than one source" in note for note in three_seconds.notes)


def test_dedupe_memory_is_bounded():
    # With room for one happening, the switch's drop pushes out the AP's, so the AP's alarm copy is no
    # longer recognised: memory stays bounded at the cost of counting that copy.
    records = [
        legacy("EVT_AP_Lost_Contact", at(1), ap=AP_MAC),
        legacy("EVT_SW_Lost_Contact", at(1), sw=SW_MAC),
        legacy("EVT_AP_Lost_Contact", at(1, seconds=1), kind=RecordKind.ALARM, ap=AP_MAC),
        device(AP_MAC, "Lobby"), device(SW_MAC, "Core", "usw"),
    ]
    assert run(*records).total_events == 2
    with patch.object(engine_module, "DEDUPE_MEMORY", 1):
        assert run(*records).total_events == 3


# ------------------------------------------------------------------ archived alarms


def test_an_archived_alarm_opens_nothing():
    alarm = legacy("EVT_AP_Lost_Contact", at(1), kind=RecordKind.ALARM, ap=AP_MAC, archived=True,
                   handled_time="2026-01-24T02:00:00Z")
    report = run(alarm, device(AP_MAC, "Lobby"))
    assert report.findings == []
    assert report.unknown_events == []
    assert report.total_events == 1


def test_an_archived_alarm_acknowledges_the_finding_others_open():
    report = run(
        legacy("EVT_AP_Lost_Contact", at(1), ap=AP_MAC),
        legacy("EVT_AP_Lost_Contact", at(1), kind=RecordKind.ALARM, ap=AP_MAC, archived=True,
               handled_time="2026-01-24T02:00:00Z"),
        device(AP_MAC, "Lobby", state="disconnected"),
    )
    outage = only(report, "device_outage")
    assert outage.count == 2  # the event and the state, not the archived alarm
    assert outage.details["acknowledged"] == "by an admin (2026-01-24T02:00:00Z)"
    assert "acknowledged by an admin (2026-01-24T02:00:00Z)" in texts(outage)


# ------------------------------------------------------------------ v2 fallbacks


def test_a_high_v2_row_no_rule_knows_is_a_controller_alert_in_its_own_words():
    row = v2("SOMETHING_SCARY_NEW", at(1), message="{DEVICE} is on fire.", title="Device on fire",
             severity="HIGH",
             params={"DEVICE": dev_param(SW_MAC, "Core", model="USW-24")})
    report = run(row)
    alert = only(report, "controller_alert")
    assert (alert.severity, alert.title) == ("medium", "Controller alert: Device on fire")
    expected = "The controller reported “Core is on fire.” once at 01:00 UTC and rated it HIGH."
    assert expected in alert.explanation
    assert "(SOMETHING_SCARY_NEW)" in alert.explanation
    assert report.unknown_events == []


@pytest.mark.parametrize("category", ["SECURITY", "POWER"])
def test_a_security_or_power_row_no_rule_knows_is_a_controller_alert_whatever_its_severity(category):
    row = v2("SOMETHING_NEW", at(1), category=category, severity="LOW", title="New thing")
    assert only(run(row), "controller_alert").title == "Controller alert: New thing"


def test_a_low_v2_row_no_rule_knows_is_an_unknown_event():
    report = run(v2("SOMETHING_BORING_NEW", at(1), message="meh", severity="LOW"))
    assert report.findings == []
    assert [(event.key, event.count) for event in report.unknown_events] == [("SOMETHING_BORING_NEW", 1)]


@pytest.mark.parametrize("key", ["DEVICE_UNREACHABLE_WITH_DOWNLINKS", "GATEWAY_GONE_V9"])
def test_a_variant_key_lands_in_the_rule_of_its_family(key):
    # GATEWAY_GONE_V9 matches no key or prefix of any rule: only its `event` family does.
    row = v2(key, at(1), params={"DEVICE": dev_param(GW_MAC, "Edge", model="UDM-Pro")},
             event="DEVICE_UNREACHABLE")
    report = run(row, device(GW_MAC, "Edge", "udm"))
    assert only(report, "device_outage").rule_ids == ["device_lost_contact"]
    assert report.unknown_events == []


def test_an_unknown_family_keeps_a_made_up_key_unknown():
    report = run(v2("GATEWAY_GONE_V9", at(1), event="GATEWAY_GONE"))
    assert [event.key for event in report.unknown_events] == ["GATEWAY_GONE_V9"]


# ------------------------------------------------------------------ display zone


def test_explanations_and_titles_speak_the_configured_zone():
    items = [legacy("EVT_AP_Lost_Contact", at(13, 5), ap=AP_MAC),
             device(AP_MAC, "Lobby", state="disconnected")]
    report = analyze(collection(items), Settings(timezone="Europe/Berlin"), generated_at=at(20))
    outage = only(report, "device_outage")
    assert outage.title == "Access point “Lobby” is offline since 14:05 CET (6 h 55 min)"
    assert "lost contact with the controller at 14:05 CET" in outage.explanation
    # Timelines and models keep UTC inside.
    assert outage.timeline[0].time == at(13, 5)
    utc = analyze(collection(items), Settings(), generated_at=at(20))
    assert only(utc, "device_outage").title == "Access point “Lobby” is offline since 13:05 UTC (6 h 55 min)"
