"""State rules: what Device and Health items say about the site at collection time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.analyzer.payloads import AP_MAC, GW_MAC, SW_MAC, at, collection, device, legacy
from tests.analyzer.test_event_rules import only, run
from unifi_scanner.models import Health

SAMPLES = Path("/work/shared/reference/samples")
HEALTH_SAMPLE = {
    "data": [
        {
            "subsystem": "wan",
            "status": "ok",
            "gw_mac": GW_MAC,
            "uptime_stats": {"WAN": {"availability": 100.0, "latency_average": 9}},
        },
        {"subsystem": "www", "status": "ok", "latency": 9, "drops": 1},
        {"subsystem": "vpn", "status": "error", "site_to_site_enabled": True, "site_to_site_num_inactive": 1},
    ]
}


def health_rows(data: dict) -> list[Health]:
    """Health items from a stat/health response body."""
    return [Health(subsystem=row["subsystem"], status=row["status"], raw=row) for row in data["data"]]


def test_public_health_sample_flags_only_the_vpn():
    path = SAMPLES / "unpoller__unifi__endpoints_data__stat-health.json"
    data = json.loads(path.read_text()) if path.exists() else HEALTH_SAMPLE
    report = run(*health_rows(data))
    finding = only(report, "subsystem_unhealthy")
    assert (finding.severity, finding.affected[0].id) == ("medium", "vpn")
    assert "VPN is configured but its tunnel is not up" in finding.explanation
    assert [f.rule_id for f in report.findings] == ["subsystem_unhealthy"]


def test_wan_health_error_is_severe():
    report = run(Health(subsystem="wan", status="error", raw={"subsystem": "wan", "status": "error"}))
    finding = only(report, "subsystem_unhealthy")
    assert finding.severity == "severe"
    assert "internet uplink (WAN) is down" in finding.explanation


@pytest.mark.parametrize(
    ("row", "figure"),
    [
        ({"subsystem": "www", "status": "ok", "latency": "250", "drops": 0}, "latency 250 ms"),
        ({"subsystem": "www", "status": "ok", "latency": 9, "drops": "42"}, "drops 42"),
        (
            {
                "subsystem": "wan",
                "status": "ok",
                "uptime_stats": {"WAN": {"availability": 97.5, "latency_average": 20}},
            },
            "availability 97.5%",
        ),
    ],
)
def test_internet_quality_from_health_figures(row, figure):
    report = run(Health(subsystem=row["subsystem"], status="ok", raw=row))
    finding = only(report, "isp_quality")
    assert finding.severity == "medium"
    assert figure in finding.explanation
    assert "measured poor internet quality at collection time (00:00 UTC)" in finding.explanation


def test_good_health_figures_raise_nothing():
    report = run(*health_rows(HEALTH_SAMPLE)[:2])
    assert report.findings == []


def test_firmware_upgradable_and_outdated():
    report = run(
        device(AP_MAC, "Lobby-AP", version="6.5.28", upgradable=True, upgrade_to="6.6.55"),
        device(SW_MAC, "Old-Switch", "usw", version="4.0.66", raw={"model_in_eol": True}),
        device(GW_MAC, "Gateway", "udm", version="3.1.15", raw={"required_version": "3.2.7"}),
    )
    upgradable = only(report, "firmware_upgradable")
    assert (upgradable.severity, upgradable.affected[0].name) == ("low", "Lobby-AP")
    assert "newer firmware for Lobby-AP" in upgradable.explanation
    outdated = {f.affected[0].id: f for f in report.findings if f.rule_id == "firmware_outdated"}
    assert set(outdated) == {SW_MAC, GW_MAC}
    assert "below the required version 3.2.7" in outdated[GW_MAC].explanation
    assert outdated[SW_MAC].severity == "medium"
    rows = {row.mac: row for row in report.device_health}
    assert rows[AP_MAC].problems == ["firmware update available"]
    assert rows[AP_MAC].upgradable is True


def test_firmware_updates_are_one_finding_per_site():
    # Updates are one maintenance task: one finding naming every device, each device's row the problem.
    report = run(
        device(AP_MAC, "Lobby-AP", upgradable=True, upgrade_to="6.6.55"),
        device(SW_MAC, "Core-Switch", "usw", upgradable=True, upgrade_to="7.0.1"),
        device(GW_MAC, "Gateway", "udm"),
    )
    finding = only(report, "firmware_upgradable")
    assert finding.count == 2
    assert finding.title == "Firmware updates available for 2 device(s)"
    assert "Lobby-AP" in finding.explanation and "Core-Switch" in finding.explanation
    assert {a.id for a in finding.affected} == {AP_MAC, SW_MAC}
    rows = {row.mac: row for row in report.device_health}
    assert rows[SW_MAC].problems == rows[AP_MAC].problems == ["firmware update available"]
    assert rows[GW_MAC].problems == []


def test_load_and_temperature_thresholds():
    report = run(
        device(AP_MAC, "Hot-AP", cpu_percent=91.5, mem_percent=89.9, temperature_c=82.0),
        device(SW_MAC, "Melting-Switch", "usw", temperature_c=95.0, overheating=True, mem_percent=97),
        device(GW_MAC, "Calm-Gateway", "udm", cpu_percent=40, mem_percent=60, temperature_c=55),
    )
    by_rule = {(f.rule_id, f.affected[0].id): f for f in report.findings}
    assert set(by_rule) == {
        ("device_high_cpu", AP_MAC),
        ("device_high_temperature", AP_MAC),
        ("device_overheating", SW_MAC),
        ("device_high_memory", SW_MAC),
    }
    assert by_rule[("device_overheating", SW_MAC)].severity == "severe"
    assert "91.5% CPU" in by_rule[("device_high_cpu", AP_MAC)].explanation
    rows = {row.mac: row for row in report.device_health}
    assert rows[SW_MAC].problems == ["overheating (95 °C)", "memory 97%"]
    assert rows[GW_MAC].problems == []
    # Devices with problems come first in the table.
    assert report.device_health[-1].mac == GW_MAC


def test_overheat_event_and_state_make_one_finding():
    report = run(legacy("EVT_SW_Overheat", at(3), sw=SW_MAC), device(SW_MAC, "Sw", "usw", overheating=True))
    finding = only(report, "device_overheating")
    assert finding.count == 2


def test_offline_devices_and_gateways_are_worse():
    report = run(
        device(AP_MAC, "Garden-AP", state="disconnected"),
        device(GW_MAC, "Gateway", "udm", state="heartbeat missed"),
        device(SW_MAC, "Spare", "usw", state="disconnected", adopted=False),
    )
    # Something down now is severe whatever the device; an unadopted device is waiting, not offline.
    offline = {f.affected[0].id: f for f in report.findings if f.rule_id == "device_outage"}
    assert set(offline) == {AP_MAC, GW_MAC}
    assert {f.severity.value for f in offline.values()} == {"severe"}
    assert {tuple(f.rule_ids) for f in offline.values()} == {("device_offline",)}
    assert offline[AP_MAC].title == "Garden-AP is offline"
    assert "(its state: disconnected)" in offline[AP_MAC].explanation
    assert "(its state: heartbeat missed)" in offline[GW_MAC].explanation
    pending = only(report, "device_pending_adoption")
    assert (pending.severity, pending.affected[0].id) == ("low", SW_MAC)


def test_poe_budget_from_the_port_table():
    ports = [{"port_idx": n, "poe_power": "11.5"} for n in range(1, 9)] + [{"port_idx": 9}, "junk"]
    report = run(
        device(SW_MAC, "PoE-Switch", "usw", raw={"total_max_power": 96, "port_table": ports}),
        device(AP_MAC, "Fine", "usw", raw={"total_max_power": "150", "port_table": ports}),
    )
    finding = only(report, "poe_overload")
    assert finding.affected[0].id == SW_MAC
    assert "draw 92 W of a 96 W budget" in finding.explanation


def test_state_findings_do_not_count_as_events():
    report = run(device(AP_MAC, "Lobby-AP", state="disconnected"))
    assert (report.findings[0].rule_id, report.findings[0].rule_ids) == ("device_outage", ["device_offline"])
    assert report.total_events == 0
    assert sum(bucket.total for bucket in report.events_per_hour) == 0
    assert len(report.events_per_hour) == 24


def test_collection_header_window_sets_report_frame():
    items = list(collection([device()]))
    report = run(device())
    assert report.window == items[0].window
    assert report.site == "default"
