"""Report-level behaviour: noise control, stable ids, ordering, counts, charts, sources and notes."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.analyzer.payloads import (
    AP_MAC,
    GW_MAC,
    PHONE_MAC,
    SW_MAC,
    at,
    client,
    collection,
    device,
    footer,
    ips_alert,
    legacy,
)
from unifi_scanner.analyzer import analyze
from unifi_scanner.models import SourceOutcome, source_gaps
from unifi_scanner.settings import Settings


def mixed_site() -> list:
    """One severe, two medium and two low findings' worth of records, with names for everything."""
    return [
        ips_alert(at(1), action="allowed"),  # severe
        legacy("EVT_AP_Lost_Contact", at(2), ap=AP_MAC),  # medium
        legacy("EVT_SW_Lost_Contact", at(3), sw=SW_MAC),  # medium
        legacy("EVT_WC_Blocked", at(4), user=PHONE_MAC),  # low
        legacy("EVT_GW_Upgraded", at(5), gw=GW_MAC, version_to="4.0.6"),  # low
        device(AP_MAC, "Lobby-AP"),
        device(SW_MAC, "Core-Switch", "usw"),
        device(GW_MAC, "Gateway", "udm"),
        client(PHONE_MAC, "Anna's iPhone"),
    ]


def test_findings_are_sorted_and_counted():
    report = analyze(collection(mixed_site()), Settings())
    assert [f.severity.value for f in report.findings] == ["severe", "medium", "medium", "low", "low"]
    assert (report.counts.severe, report.counts.medium, report.counts.low) == (1, 2, 2)
    assert report.muted_findings == 0
    assert report.total_events == 5
    assert report.events_per_category == {"connectivity": 2, "clients": 1, "infrastructure": 1, "security": 1}
    by_hour = {bucket.hour: bucket for bucket in report.events_per_hour}
    assert by_hour[at(1)].severe == 1
    assert by_hour[at(2)].medium == 1
    assert by_hour[at(4)].low == 1
    assert sum(bucket.total for bucket in report.events_per_hour) == 5
    assert len(report.events_per_hour) == 24


def test_more_events_sort_first_within_a_severity():
    report = analyze(
        collection(
            [
                legacy("EVT_AP_Lost_Contact", at(2), ap=AP_MAC),
                legacy("EVT_SW_Lost_Contact", at(1), sw=SW_MAC),
                legacy("EVT_SW_Lost_Contact", at(5), sw=SW_MAC),
            ]
        ),
        Settings(),
    )
    assert [f.affected[0].id for f in report.findings] == [SW_MAC, AP_MAC]


def test_mutes_by_rule_device_and_client():
    settings = Settings(
        mute_rules=["firmware_upgraded"],
        mute_devices=["lobby-ap", SW_MAC.upper()],
        mute_clients=["Anna's iPhone"],
    )
    report = analyze(collection(mixed_site()), settings)
    # Only the IPS campaign is left: its signature is not muted here (see the signature tests).
    assert [f.rule_id for f in report.findings] == ["threat_campaign"]
    assert report.muted_findings == 4
    assert report.counts.total == 1
    # Muted findings' events are charted as "other", not as their severity.
    assert sum(bucket.other for bucket in report.events_per_hour) == 4


def test_mutes_by_signature_name():
    # IPS findings are grouped by internet address: a muted signature must still take its hits out
    # (the campaign's own remediation recommends UNIFI_MUTE_SIGNATURES).
    settings = Settings(mute_signatures=["ET SCAN"])
    report = analyze(collection(mixed_site()), settings)
    assert "threat_campaign" not in [f.rule_id for f in report.findings]
    assert report.muted_findings == 1


def test_mute_signature_by_id():
    # As above, by signature id (the finding's details carry signature_id 2010937).
    report = analyze(collection([ips_alert(at(1))]), Settings(mute_signatures=["2010937"]))
    assert (report.findings, report.muted_findings) == ([], 1)


def test_mutes_accept_incident_ids_and_member_rules():
    lost = [legacy("EVT_AP_Lost_Contact", at(2), ap=AP_MAC), device(AP_MAC, "Lobby-AP")]
    # By the incident's own id.
    by_incident = analyze(collection(lost), Settings(mute_rules=["device_outage"]))
    assert (by_incident.findings, by_incident.muted_findings) == ([], 1)
    # By the only rule it was built from.
    by_member = analyze(collection(lost), Settings(mute_rules=["device_lost_contact"]))
    assert (by_member.findings, by_member.muted_findings) == ([], 1)
    # A rule that is not among its members mutes nothing, and the incident id is no "unknown rule".
    other = analyze(collection(lost), Settings(mute_rules=["device_reconnected"]))
    assert [f.rule_id for f in other.findings] == ["device_outage"]
    assert not any("does not exist" in note for note in by_incident.notes)
    # An incident built from two rules stays while only one of them is muted.
    both = [*lost, legacy("EVT_AP_Connected", at(2, 10), ap=AP_MAC)]
    half = analyze(collection(both), Settings(mute_rules=["device_lost_contact"]))
    assert [f.rule_ids for f in half.findings] == [["device_lost_contact", "device_reconnected"]]
    whole = analyze(collection(both), Settings(mute_rules=["device_lost_contact", "device_reconnected"]))
    assert whole.findings == []


def test_severity_override_by_incident_id():
    lost = [legacy("EVT_AP_Lost_Contact", at(2), ap=AP_MAC), device(AP_MAC, "Lobby-AP")]
    report = analyze(collection(lost), Settings(severity_overrides={"device_outage": "low"}))
    assert [(f.rule_id, f.severity.value) for f in report.findings] == [("device_outage", "low")]


def test_severity_override_and_minimum_severity():
    settings = Settings(severity_overrides={"client_blocked": "severe"}, min_severity="medium")
    report = analyze(collection(mixed_site()), settings)
    # Same severity and count: the most recent first.
    assert [(f.rule_id, f.severity.value) for f in report.findings][:2] == [
        ("client_blocked", "severe"),
        ("threat_campaign", "severe"),
    ]
    assert {f.rule_id for f in report.findings} == {
        "threat_campaign",
        "client_blocked",
        "device_outage",
    }
    assert report.muted_findings == 1  # firmware_upgraded is low
    assert (report.counts.severe, report.counts.medium, report.counts.low) == (2, 2, 0)


def test_override_applies_to_the_escalated_rule():
    burst = [legacy("EVT_AD_LoginFailed", at(1, n), ip="203.0.113.5") for n in range(5)]
    report = analyze(collection(burst), Settings(severity_overrides={"admin_brute_force": "medium"}))
    finding = report.findings[0]
    assert (finding.rule_id, finding.severity.value) == ("admin_brute_force", "medium")


def test_ids_are_stable_across_runs_and_item_order():
    first = analyze(collection(mixed_site()), Settings())
    later = mixed_site()[::-1] + [legacy("EVT_AP_Lost_Contact", at(9), ap=AP_MAC)]
    second = analyze(collection(later), Settings(), generated_at=datetime(2026, 2, 1, tzinfo=UTC))
    assert sorted(f.id for f in first.findings) == sorted(f.id for f in second.findings)
    assert len({f.id for f in first.findings}) == 5
    lost = {f.affected[0].id: f.id for f in first.findings if f.rule_id == "device_outage"}
    assert lost[AP_MAC] != lost[SW_MAC]


def test_escalation_keeps_the_finding_id():
    calm = analyze(collection([legacy("EVT_AP_Lost_Contact", at(1), ap=AP_MAC)]), Settings())
    flapping = analyze(
        collection([legacy("EVT_AP_Lost_Contact", at(1, n), ap=AP_MAC) for n in range(3)]), Settings()
    )
    assert flapping.findings[0].rule_id == "device_flapping"
    assert calm.findings[0].id == flapping.findings[0].id


def test_source_outcomes_are_copied_and_explained():
    foot = footer(
        SourceOutcome(name="system_log", status="failed", detail="HTTP 500"),
        SourceOutcome(name="legacy_events", status="unsupported", detail="404 api.err.NotFound"),
        SourceOutcome(name="alarms", status="failed", detail="api.err.InvalidObject"),
        SourceOutcome(name="traffic_flows", status="truncated", count=10000, detail="page cap reached"),
    )
    report = analyze(
        collection([], foot=foot),
        Settings(),
        first_run=True,
        lookback_hours=24,
        notes=["First run: looked back 24 hours."],
    )
    assert [s.name for s in report.sources] == ["system_log", "legacy_events", "alarms", "traffic_flows"]
    assert report.notes == ["First run: looked back 24 hours."]  # source gaps are stated from sources
    gaps = source_gaps(report.sources)
    assert "Reading the v2 system log failed (HTTP 500)" in gaps[0]
    assert "does not provide the legacy event list (404 api.err.NotFound)" in gaps[1]
    assert "Reading the alarm list failed (api.err.InvalidObject)" in gaps[2]
    assert "more traffic flows (IPS signatures) than it would return" in gaps[3]
    assert len(gaps) == 4
    assert report.first_run is True and report.lookback_hours == 24
    assert report.findings == [] and report.counts.total == 0


def test_generated_at_defaults_to_now_in_utc():
    report = analyze(collection([]), Settings())
    assert report.generated_at.tzinfo is not None
    assert report.generated_at.utcoffset().total_seconds() == 0
    explicit = analyze(collection([]), Settings(), generated_at=datetime(2026, 1, 25, 8, tzinfo=UTC))
    assert explicit.generated_at == datetime(2026, 1, 25, 8, tzinfo=UTC)


def test_a_collection_without_header_is_a_clear_error():
    import pytest

    from unifi_scanner.errors import ConfigError

    with pytest.raises(ConfigError, match="no header"):
        analyze(iter([device()]), Settings())


def test_settings_naming_unknown_rules_get_a_note():
    settings = Settings(mute_rules=["device_lost_contakt"], severity_overrides={"nope": "low"})
    report = analyze(collection([]), settings)
    assert (
        "Settings name the rule 'device_lost_contakt', which does not exist; it has no effect."
        in report.notes
    )
    assert any("'nope'" in note for note in report.notes)


def test_v2_device_models_name_the_device_family():
    from tests.analyzer.payloads import dev_param, v2

    rows = [
        v2("DEVICE_UNREACHABLE", at(1), params={"DEVICE": dev_param(SW_MAC, "Core", model="USW-24-PoE")}),
        v2("DEVICE_UNREACHABLE", at(1), params={"DEVICE": dev_param(GW_MAC, "Edge", model="UDM-Pro")}),
    ]
    # With no device list, the incident names the family the v2 rows' models give.
    titles = sorted(f.title for f in analyze(collection(rows), Settings(), generated_at=at(24)).findings)
    assert [title.split(" is offline")[0] for title in titles] == ["Gateway “Edge”", "Switch “Core”"]


def test_an_unsupported_source_whose_stand_in_worked_is_no_gap():
    foot = footer(
        SourceOutcome(name="system_log", status="ok", count=12),
        SourceOutcome(name="legacy_events", status="unsupported", detail="v2 system log available"),
        SourceOutcome(name="traffic_flows", status="empty"),
        SourceOutcome(name="legacy_ips", status="unsupported", detail="404"),
        SourceOutcome(name="anomalies", status="unsupported", detail="404"),
    )
    report = analyze(collection([], foot=foot), Settings())
    assert source_gaps(report.sources) == [
        "This controller does not provide anomalies (404); related findings may be missing."
    ]
    assert len(report.sources) == 5


def test_events_that_open_no_finding_are_still_charted():
    # Events whose group opens no finding (below min_count, or churn the baseline finds normal) are
    # charted as other, so the chart and the counts agree.
    report = analyze(
        collection([legacy("EVT_AP_ChannelChanged", at(1), ap=AP_MAC),
                    legacy("EVT_WU_Connected", at(2), user=PHONE_MAC)]),
        Settings(),
    )
    assert report.findings == []
    assert report.total_events == sum(report.events_per_category.values()) == 2
    assert sum(bucket.total for bucket in report.events_per_hour) == 2
