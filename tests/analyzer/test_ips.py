"""IPS/IDS findings: grouping by the internet end of a hit; blocked vs detected; dedupe; notes.

Hits are grouped per internet address and become one threat campaign each (or, for quiet sources whose
hits were all blocked, one IPS digest per site); test_correlate.py covers the campaign's words in depth.
"""

from __future__ import annotations

from tests.analyzer.payloads import at, client, collection, flow, footer, header, ips_alert, legacy, v2
from tests.analyzer.test_event_rules import only, run
from unifi_scanner.analyzer import analyze
from unifi_scanner.models import RecordKind, SourceOutcome
from unifi_scanner.settings import Settings

MALWARE = "ET MALWARE Suspicious User Agent (Autoupdate)"


def test_alerts_group_by_the_internet_end_across_signatures():
    report = run(
        ips_alert(at(1), src="196.196.244.84"),
        ips_alert(at(2), src="196.196.244.84"),
        ips_alert(at(3), src="196.196.244.84"),
        ips_alert(at(4), src="45.155.205.1"),
        ips_alert(at(5), src="196.196.244.84", signature=MALWARE, sig_id=2003337),
    )
    campaigns = [f for f in report.findings if f.incident == "threat_campaign"]
    assert len(campaigns) == len(report.findings) == 2
    # One campaign per internet address, whatever the signature: the scan and the malware hit from
    # 196.196.244.84 are one story.
    ends = sorted((f.affected[0].id, f.count) for f in campaigns)
    assert ends == [("196.196.244.84", 4), ("45.155.205.1", 1)]
    big = max(campaigns, key=lambda f: f.count)
    assert (big.rule_id, big.severity, big.rule_ids) == ("threat_campaign", "severe", ["ips_threat_detected"])
    assert big.affected[0].kind == "ip"
    assert "someone probing for open ports" in big.explanation
    assert "malware: software known to be malicious" in big.explanation
    assert f"ET SCAN Suspicious inbound to mySQL port 3306 and {MALWARE}" in big.explanation
    # The internal host is the client concerned, not the upstream router behind the attacker's address.
    assert ("client", "40:a8:f0:68:c3:58") in [(a.kind, a.id) for a in big.affected]
    assert ("ip", "192.168.3.2") in [(a.kind, a.id) for a in big.affected]
    assert "f0:9f:c2:c4:bb:f1" not in [a.id for a in big.affected]
    assert "detected but NOT blocked" in big.explanation
    assert big.details["signature_id"] in {"2010937", "2003337"}


def test_detected_is_severe_and_a_quiet_blocked_source_goes_to_the_digest():
    report = run(
        ips_alert(at(1), action="blocked", src="203.0.113.7"),
        ips_alert(at(2), action="allowed", src="196.196.244.84"),
    )
    campaign = only(report, "threat_campaign")
    assert (campaign.severity, campaign.affected[0].id) == ("severe", "196.196.244.84")
    digest = only(report, "ips_digest")
    assert (digest.severity, digest.count) == ("low", 1)
    assert report.findings[0] is campaign  # severe first


def test_a_blocked_hit_among_detected_ones_of_the_same_source_is_one_campaign():
    # The same source, one hit blocked and one not: the source is not quiet, so it is a campaign.
    report = run(ips_alert(at(1), action="blocked"), ips_alert(at(2), action="allowed"))
    campaign = only(report, "threat_campaign")
    assert (campaign.severity, campaign.count) == ("severe", 2)
    assert campaign.rule_ids == ["ips_threat_blocked", "ips_threat_detected"]
    assert "1 hit was detected but NOT blocked; 1 blocked." in campaign.explanation
    assert not [f for f in report.findings if f.rule_id == "ips_digest"]


def test_a_blocked_burst_is_a_medium_campaign():
    # ips_threat_blocked escalates to ips_threat_burst at 20 hits within 10 minutes.
    burst = [ips_alert(at(1, 0, n * 20), action="blocked", src="203.0.113.50") for n in range(20)]
    campaign = only(run(*burst), "threat_campaign")
    assert (campaign.severity, campaign.count, campaign.rule_ids) == ("medium", 20, ["ips_threat_burst"])
    assert "20 of them within 10 minutes" in campaign.explanation
    # One hit fewer is no burst: a quiet source, digested.
    assert only(run(*burst[:19]), "ips_digest").count == 19


def test_internal_addresses_are_named_from_the_client_list():
    report = run(ips_alert(at(1), src="192.168.1.23", dst="185.220.101.4", signature=MALWARE), client())
    finding = only(report, "threat_campaign")
    expected = "Outbound: Anna's iPhone (192.168.1.23) on your side contacted 185.220.101.4"
    assert expected in finding.explanation
    assert finding.title.startswith("Anna's iPhone (192.168.1.23) contacted 185.220.101.4")


def test_traffic_flows_give_signatures_and_plain_words():
    report = run(flow(at(1), signature="ET EXPLOIT Apache log4j RCE Attempt", action="allowed"))
    finding = only(report, "threat_campaign")
    expected = "The signatures: ET EXPLOIT Apache log4j RCE Attempt; they mean an exploit attempt"
    assert expected in finding.explanation
    assert not any("signatures were not available" in note for note in report.notes)
    # A blocked flow from a quiet source: its signature is among the digest's top signatures.
    blocked = run(flow(at(1), signature="ET EXPLOIT Apache log4j RCE Attempt", action="blocked"))
    digest = only(blocked, "ips_digest")
    assert "Top signatures: ET EXPLOIT Apache log4j RCE Attempt (1 source)" in digest.explanation


def test_v2_rows_without_signatures_group_by_threat_key_and_say_so():
    params = {
        "SRC_CLIENT": {"id": "aa:bb:cc:00:00:02", "name": "Lab-Host"},
        "DST_IP": {"id": "198.51.100.99", "name": "198.51.100.99", "not_actionable": True},
    }
    rows = [
        v2(
            "THREAT_DETECTED_KNOWN_SOURCE_CLIENT",
            at(hour),
            category="SECURITY",
            subcategory="SECURITY_INTRUSION_PREVENTION",
            params=params,
            message="A network intrusion attempt from {SRC_CLIENT} to {DST_IP} has been detected.",
        )
        for hour in (1, 2)
    ] + [
        v2(
            "THREAT_BLOCKED_V3",
            at(3),
            category="SECURITY",
            subcategory="SECURITY_INTRUSION_PREVENTION",
            params=params,
        )
    ]
    items = collection(
        rows,
        foot=footer(
            SourceOutcome(name="system_log", status="ok", count=3),
            SourceOutcome(name="traffic_flows", status="unsupported", detail="404"),
        ),
    )
    report = analyze(items, Settings())
    campaign = only(report, "threat_campaign")
    assert (campaign.count, campaign.rule_ids) == (3, ["ips_threat_blocked", "ips_threat_detected"])
    assert "2 hits were detected but NOT blocked; 1 blocked." in campaign.explanation
    assert "not named by the controller (its v2 system log carries none)" in campaign.explanation
    assert ("client", "Lab-Host") in [(a.kind, a.name) for a in campaign.affected]
    assert any(
        "IPS signatures were not available from this controller" in note
        and "traffic flows were unsupported" in note
        for note in report.notes
    )


def test_a_v2_source_client_known_only_by_its_mac_is_our_end_of_the_hit():
    # A THREAT_*_KNOWN_SOURCE_CLIENT row may name its source client by MAC only: a MAC is never an
    # internet address, so the hit is outbound, from Lab-Host to 198.51.100.99.
    params = {
        "SRC_CLIENT": {"id": "aa:bb:cc:00:00:02", "name": "Lab-Host"},
        "DST_IP": {"id": "198.51.100.99", "name": "198.51.100.99"},
    }
    row = v2("THREAT_DETECTED_KNOWN_SOURCE_CLIENT", at(1), category="SECURITY",
             subcategory="SECURITY_INTRUSION_PREVENTION", params=params)
    campaign = only(run(row), "threat_campaign")
    assert campaign.affected[0].id == "198.51.100.99"
    assert campaign.explanation.startswith("Outbound: Lab-Host")
    assert "Block 198.51.100.99 (the external side)" in " ".join(campaign.remediation)


def test_same_hit_from_several_sources_is_counted_once():
    report = run(
        v2(
            "THREAT_DETECTED_V3",
            at(1),
            category="SECURITY",
            subcategory="SECURITY_INTRUSION_PREVENTION",
            params={"SRC_IP": {"id": "196.196.244.84"}, "DST_IP": {"id": "192.168.3.2"}},
        ),
        flow(at(1, seconds=1), action="allowed"),
        ips_alert(at(1, seconds=2), kind=RecordKind.ALARM, source="alarms"),
        # Three seconds later is another hit.
        ips_alert(at(1, seconds=3), kind=RecordKind.ALARM, source="alarms"),
    )
    # The v2 row came first but the flow named the signature: the kept hit learned it.
    threat = only(report, "threat_campaign")
    assert threat.count == 2
    assert threat.affected[0].id == "196.196.244.84"
    assert "The signatures: ET SCAN Suspicious inbound to mySQL port 3306;" in threat.explanation
    assert any("2 record(s) reported by more than one source" in note for note in report.notes)
    assert report.total_events == 2
    # The id is the one a run that saw only the last hit gives: it follows the internet address.
    direct = run(ips_alert(at(1, seconds=3), kind=RecordKind.ALARM, source="alarms"))
    assert only(direct, "threat_campaign").id == threat.id


def test_same_source_reporting_twice_is_two_hits():
    report = run(ips_alert(at(1)), ips_alert(at(1, seconds=1)))
    assert only(report, "threat_campaign").count == 2
    assert not any("counted once" in note for note in report.notes)


def test_ids_mode_is_mentioned():
    report = analyze(collection([ips_alert(at(1))], head=header(ips_mode="ids")), Settings())
    assert "detection-only (IDS) mode" in only(report, "threat_campaign").explanation


def test_ips_rows_inside_the_legacy_event_list():
    record = legacy(
        "EVT_IPS_IpsAlert",
        at(1),
        subsystem="www",
        src_ip="10.0.0.5",
        dest_ip="8.8.8.8",
        inner_alert_action="blocked",
        inner_alert_signature="ET POLICY DNS Update From External net",
        catname=["policy", "dns"],
        srcipGeo=[],
        dstipGeo={},
    )
    finding = only(run(record), "threat_campaign")
    assert finding.details["catname"] == "policy, dns"
    # Outbound from 10.0.0.5, but blocked and a policy signature: not severe.
    assert finding.severity == "medium"
    assert "often legitimate" in finding.explanation
    assert finding.explanation.startswith("Outbound: 10.0.0.5 on your side contacted 8.8.8.8")


def test_policy_and_info_signatures_are_one_level_milder():
    # Each from its own internet address, all detected (not blocked): only the malware is severe.
    report = run(
        ips_alert(at(1), signature="ET POLICY Dropbox.com Offsite File Backup in Use", src="196.196.244.84"),
        ips_alert(at(2), signature="ET INFO Observed DNS Query to .cloud TLD", src="45.155.205.1"),
        ips_alert(at(3), signature=MALWARE, src="185.220.101.4"),
    )
    severities = {f.affected[0].id: f.severity.value for f in report.findings}
    assert severities == {"196.196.244.84": "medium", "45.155.205.1": "medium", "185.220.101.4": "severe"}
