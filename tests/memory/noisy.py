"""A noisy site's hourly reports, for the size of what the memory keeps (tests/memory/test_size.py and
benchmarks/memory.py).

Every hour: the routine digests (blocked scans, firewall policies, client churn), three threat
sources from new internet addresses and one returning one, failed admin logins every few hours, an
access point flapping every six hours, two switches overheating for days and a device offline for a
day each week, and event counts per rule for the trends. Titles are as long as the real ones.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

from tests.memory.factories import T0, finding, report
from unifi_scanner.analyzer.correlate import stable_id
from unifi_scanner.models import Finding, Report, Severity

RULES = ["ips_threat_blocked", "firewall_block", "client_churn", "device_lost_contact", "device_reconnected",
         "admin_login_failed", "channel_changed", "wifi_interference", "dfs_radar", "firmware_upgraded",
         "admin_config_change", "poe_disconnect", "anomaly", "client_blocked", "wan_down", "rogue_ap",
         "neighbour_aps", "stp_port_blocking", "port_errors", "radius_issue", "dhcp_pool_near_exhausted"]


def _remote(rng: random.Random) -> str:
    first = rng.choice([45, 80, 103, 185, 193, 203])
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def noisy_reports(runs: int, seed: int = 14) -> Iterator[Report]:
    """`runs` consecutive hourly reports of a noisy site, the first ending an hour after T0."""
    rng = random.Random(seed)
    regulars = [_remote(rng) for _ in range(20)]
    for number in range(runs):
        until = T0 + timedelta(hours=number + 1)
        at = until - timedelta(minutes=rng.randrange(1, 60))
        found: list[Finding] = [
            finding(stable_id("ips_digest"), rule_id="ips_digest", incident="ips_digest", ends="routine",
                    severity=Severity.LOW, at=at,
                    title=f"IPS blocked {rng.randrange(300, 3000)} attempts from "
                          f"{rng.randrange(50, 400)} sources"),
            finding(stable_id("firewall_digest"), rule_id="firewall_block", incident="firewall_digest",
                    ends="routine", severity=Severity.LOW, at=at,
                    title=f"Firewall policies blocked {rng.randrange(100, 900)} connections"),
        ]
        for remote in [_remote(rng) for _ in range(3)] + [rng.choice(regulars)]:
            found.append(finding(
                stable_id("threat_campaign", remote), rule_id="threat_campaign", incident="threat_campaign",
                severity=Severity.MEDIUM, at=at,
                title=f"Attack from {remote} (CN, AS4134 Chinanet): {rng.randrange(20, 90)} hits on "
                      f"nas.office.example (192.168.1.20) and 2 more, all blocked"))
        if number % 4 == 0:
            address = _remote(rng)
            found.append(finding(stable_id("admin_brute_force", address), rule_id="admin_login_failed",
                                 incident="admin_brute_force", at=at,
                                 title=f"Failed admin logins from {address} (3 times between 02:10 "
                                       "and 02:14)"))
        if number % 6 == 0:
            mac = f"f0:9f:c2:00:00:{rng.randrange(30):02x}"
            found.append(finding(stable_id("device_outage", mac), rule_id="device_flapping",
                                 incident="device_outage", severity=Severity.SEVERE, device=mac, at=at,
                                 title=f"Access point “Floor {rng.randrange(1, 9)} east wing” is flapping: "
                                       "lost contact 6 times, connected now"))
        if (number // 72) % 2 == 0:
            for switch in ("aa:00:00:00:00:01", "aa:00:00:00:00:02"):
                found.append(finding(stable_id("device_overheating", switch), rule_id="device_overheating",
                                     ends="recovery", severity=Severity.SEVERE, device=switch, at=until,
                                     title=f"Switch “Rack {switch[-1]} core 48-port PoE” is overheating"))
        if number % 168 < 24:
            mac = f"bb:00:00:00:00:{number // 168:02x}"
            found.append(finding(stable_id("device_outage", mac), rule_id="device_outage",
                                 incident="device_outage", ends="recovery", severity=Severity.SEVERE,
                                 device=mac, at=until - timedelta(hours=number % 168),
                                 title="Switch “Warehouse dock 3” is offline since Dec 01 07:12 (5 h 3 min)"))
        per_rule = {rule: rng.randrange(1, 2000) for rule in RULES}
        yield report(found, until=until, hours=1, events=sum(per_rule.values()), per_rule=per_rule)
