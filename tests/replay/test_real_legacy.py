"""The real CLI against real, public payloads of a self-hosted controller (issue 17).

`collect --since 24h` reads a replay of `samples/` (see `server.py`), then `report --format json`
analyses the collection. Two runs, each with its own replay:

* **real**: exactly the records of `samples/`, with only the changes `samples/SOURCES.md` allows.
  The collector must read every record and the device table must match the raw `stat/device` rows;
  the findings must get the five points of issue 17 right.
* **derived** (NOT real data): the same replay plus two copies a real controller can serve across
  feeds, each a record already served with a new `_id`: one `EVT_SW_Lost_Contact` event also listed
  as an (unarchived) alarm, and one inbound IPS hit of `stat/ips/event` also in `stat/event`. Every
  count must come out as in the real run, since no new happening was added.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import isolate, run_cli
from tests.replay.server import LegacyReplay

SEED = 17
# The sample's EVT_AP_Lost_Contact alarm (archived) and EVT_AP_DiscoveredPending alarm are both about it.
ALARM_AP = "24:a4:3c:8c:07:c0"
SWITCH_16 = "fc:ec:da:11:22:33"
INBOUND_FROM, INBOUND_TO = "196.196.244.84", "192.168.3.2"  # unpoller's examples/ids.json
LOST_CONTACT_RULES = {"device_lost_contact", "device_outage", "device_flapping"}
IPS_RULES = {"threat_campaign", "ips_digest", "ips_threat_blocked", "ips_threat_detected"}
# Which served endpoint each collector source reads.
SOURCE_ENDPOINTS = {"devices": "stat/device", "clients": "stat/sta", "health": "stat/health",
                    "legacy_events": "stat/event", "legacy_ips": "stat/ips/event", "alarms": "list/alarm",
                    "anomalies": "stat/anomalies", "rogue_aps": "stat/rogueap"}
DEVICE_STATES = {0: "disconnected", 1: "connected", 2: "pending", 3: "firmware mismatch", 4: "upgrading",
                 5: "provisioning", 6: "heartbeat missed", 7: "adopting", 8: "deleting", 9: "inform error",
                 10: "adoption failed", 11: "isolated"}  # the API reference, §4
INVESTIGATE = ("investigate", "check", "find out", "look at", "inspect")
STUTTER = re.compile(r"\b(\w+(?:\s+\w+){0,2})\s+\1\b", re.IGNORECASE)


@dataclass
class Run:
    """One replay, the collection the CLI wrote from it, and the report it made of that collection."""

    replay: LegacyReplay = field(repr=False)
    lines: list[dict[str, Any]] = field(repr=False)
    report: dict[str, Any] = field(repr=False)

    @property
    def footer(self) -> dict[str, Any]:
        """The collection's footer (its last line)."""
        assert self.lines[-1]["type"] == "footer"
        return self.lines[-1]

    def written(self, source: str) -> list[dict[str, Any]]:
        """The raw payloads the collector wrote for `source`, in the collection's order."""
        kind = {"devices": "device", "health": "health"}.get(source, "record")
        return [line["raw"] for line in self.lines
                if line["type"] == kind and (kind != "record" or line["source"] == source)]

    def findings_about(self, identifier: str) -> list[dict[str, Any]]:
        """Findings that name `identifier` (a MAC or an address) among what they affect."""
        return [finding for finding in self.report["findings"]
                if any(item["id"] == identifier for item in finding["affected"])]


def _run(replay: LegacyReplay, home: Path) -> Run:
    """`collect --since 24h -o FILE` against `replay`, then `report -i FILE --format json`."""
    collection, report = home / "collection.jsonl", home / "report.json"
    with replay, pytest.MonkeyPatch.context() as monkeypatch:
        isolate(monkeypatch, home)
        collected = run_cli("collect", "--since", "24h", "-o", str(collection), env=replay.env(), cwd=home)
        assert collected.returncode == 0, collected.stderr
        reported = run_cli("report", "-i", str(collection), "--format", "json", "-o", str(report), cwd=home)
        assert reported.returncode == 0, reported.stderr
    lines = [json.loads(line) for line in collection.read_text(encoding="utf-8").splitlines()]
    return Run(replay, lines, json.loads(report.read_text(encoding="utf-8")))


def add_cross_source_copies(replay: LegacyReplay) -> None:
    """DERIVED, not real: serve one Switch 16 lost contact also as an alarm, and one inbound IPS hit
    also in the event list, each with a new `_id` and otherwise the same content and time.

    The alarm copy carries `archived: false`, as an open alarm does.
    """
    lost = max((row for row in replay.served["stat/event"] if row["key"] == "EVT_SW_Lost_Contact"),
               key=lambda row: row["time"])
    alarm = {**lost, "_id": replay.new_id(lost["time"]), "archived": False}
    replay.served["list/alarm"] = sorted([*replay.served["list/alarm"], alarm], key=lambda row: row["time"])
    hit = replay.served["stat/ips/event"][-1]
    event = {**hit, "_id": replay.new_id(hit["time"])}
    replay.served["stat/event"].append(event)


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The CLI's collection and report of exactly the real-legacy records."""
    return _run(LegacyReplay(seed=SEED), tmp_path_factory.mktemp("real"))


@pytest.fixture(scope="module")
def derived(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The CLI's collection and report of the real records plus the cross-source copies (derived)."""
    replay = LegacyReplay(seed=SEED)
    add_cross_source_copies(replay)
    return _run(replay, tmp_path_factory.mktemp("derived"))


def _canonical(rows: list[dict[str, Any]]) -> Counter[str]:
    """Rows as a multiset of canonical JSON, for order-free comparison."""
    return Counter(json.dumps(row, sort_keys=True) for row in rows)


def _sentences(*texts: str) -> list[str]:
    """The sentences of `texts`, split where a sentence mark is followed by a space (IP dots are not)."""
    return [sentence for text in texts for sentence in re.split(r"(?<=[.!?;:])\s+", text) if sentence]


def _is_internal(address: str) -> bool:
    """True for a private (RFC 1918 and similar) address; anonymised ones like 54.36.xxx.xxx are public."""
    try:
        return ipaddress.ip_address(address).is_private
    except ValueError:
        return False


def _rules(finding: dict[str, Any]) -> set[str]:
    """The rule of a finding plus the rules an incident finding was built from."""
    return {finding["rule_id"], *(finding.get("rule_ids") or [])}


# ----------------------------------------------------------------------------------------- the collector


def test_collector_reads_every_served_record(real: Run) -> None:
    """Every source wrote exactly what its endpoint served: the same count and the same raw payloads."""
    outcomes = {source["name"]: source for source in real.footer["sources"]}
    for source, endpoint in SOURCE_ENDPOINTS.items():
        assert outcomes[source]["count"] == len(real.replay.served[endpoint]), source
    for source in ("devices", "health", "legacy_events", "legacy_ips", "alarms"):
        assert _canonical(real.written(source)) == _canonical(
            real.replay.served[SOURCE_ENDPOINTS[source]]), source
    clients = [line["mac"] for line in real.lines if line["type"] == "client"]
    assert sorted(clients) == sorted(row["mac"] for row in real.replay.served["stat/sta"])
    served = real.replay.served
    assert real.footer["counts"] == {"event": len(served["stat/event"]),
                                     "threat": len(served["stat/ips/event"]),
                                     "alarm": len(served["list/alarm"])}
    assert {name: outcome["status"] for name, outcome in outcomes.items()
            if name in ("system_log", "legacy_events", "legacy_ips", "alarms")} == {
        "system_log": "unsupported", "legacy_events": "ok", "legacy_ips": "ok", "alarms": "ok"}


def test_no_real_record_is_skipped_as_malformed(real: Run) -> None:
    """No real payload is dropped as malformed, in the footer or in the report built from it."""
    assert {source["name"]: source["skipped"] for source in real.footer["sources"] if source["skipped"]} == {}
    assert {source["name"]: source["skipped"] for source in real.report["sources"] if source["skipped"]} == {}


def test_device_table_matches_the_raw_device_rows(real: Run) -> None:
    """Each device-table row says what its raw `stat/device` row says, field by field."""
    rows = {row["mac"]: row for row in real.report["device_health"]}
    raws = real.replay.served["stat/device"]
    assert sorted(rows) == sorted(raw["mac"] for raw in raws)
    for raw in raws:
        row = rows[raw["mac"]]
        stats = raw.get("system-stats") or {}
        # The hottest sensor, else the one general reading, else nothing (models.Device.temperature_c).
        sensors = [float(sensor["value"]) for sensor in raw.get("temperatures") or []]
        if not sensors and raw.get("general_temperature") is not None:
            sensors = [float(raw["general_temperature"])]
        expected = {
            "model": raw.get("model"), "device_type": raw.get("type"),
            "state": DEVICE_STATES.get(raw.get("state"), "unknown"), "version": raw.get("version"),
            "upgradable": raw.get("upgradable") is True, "upgrade_to": raw.get("upgrade_to_firmware"),
            "uptime_seconds": raw.get("uptime"),
            "cpu_percent": float(stats["cpu"]) if stats.get("cpu") else None,
            "mem_percent": float(stats["mem"]) if stats.get("mem") else None,
            "temperature_c": max(sensors, default=None),
        }
        assert {key: row[key] for key in expected} == expected, raw["mac"]
        if raw.get("name"):
            assert row["name"] == raw["name"]
        else:
            assert row["name"], raw["mac"]  # STRIP_UP6 has no name: the table still shows something


# ----------------------------------------------------------------------------------------- issue 17


def test_archived_alarm_opens_no_lost_contact_finding(real: Run) -> None:
    """Issue 17, point 1: an archived EVT_AP_Lost_Contact alarm was dealt with; it opens nothing."""
    open_records = {row["key"] for endpoint in ("stat/event", "stat/ips/event", "list/alarm")
                    for row in real.replay.served[endpoint]
                    if ALARM_AP in json.dumps(row) and row.get("archived") is not True}
    assert open_records == {"EVT_AP_DiscoveredPending"}  # nothing unarchived says it lost contact
    opened = [(finding["rule_id"], finding["title"]) for finding in real.findings_about(ALARM_AP)
              if _rules(finding) & LOST_CONTACT_RULES]
    assert opened == []


def test_pending_adoption_says_how_to_adopt_and_find_the_port(real: Run) -> None:
    """Issue 17, point 2: an AP waiting for adoption is a low finding that says how to adopt it
    and how to find its port."""
    pending = [finding for finding in real.findings_about(ALARM_AP)
               if finding["rule_id"] == "device_pending_adoption"]
    assert len(pending) == 1, [finding["rule_id"] for finding in real.findings_about(ALARM_AP)]
    finding = pending[0]
    assert finding["severity"] == "low"
    assert "adopt" in finding["explanation"].lower() and "port" in finding["explanation"].lower()


def test_every_ips_finding_knows_which_end_is_internal(real: Run) -> None:
    """Issue 17, point 3: an IPS finding names the direction and never asks which of our devices a
    public address is."""
    ips = [finding for finding in real.report["findings"] if finding["rule_id"] in IPS_RULES]
    assert ips
    for finding in ips:
        text = finding["explanation"].lower()
        assert any(word in text for word in ("inbound", "outbound", "internal")), finding["explanation"]
        for step in finding["remediation"]:
            named = re.findall(r"which device is ([\w.:]+)(?: or ([\w.:]+))?", step, re.IGNORECASE)
            assert all(_is_internal(address) for pair in named for address in pair if address), step


def test_inbound_hit_names_the_host_to_investigate_and_the_one_to_block(real: Run) -> None:
    """Issue 17, point 3: for the inbound hit, the internal host is the one to investigate and the
    external one the one to consider blocking (in the explanation or the remediation)."""
    inbound = [finding for finding in real.report["findings"]
               if finding["rule_id"] in IPS_RULES and INBOUND_FROM in json.dumps(finding)]
    assert inbound, "no IPS finding about the inbound Spamhaus hit"
    for finding in inbound:
        assert "inbound" in finding["explanation"].lower(), finding["explanation"]
        assert not [step for step in finding["remediation"]
                    if re.search(rf"find out which device is {re.escape(INBOUND_FROM)}", step, re.IGNORECASE)]
        sentences = _sentences(finding["explanation"], *finding["remediation"])
        investigate = [s for s in sentences
                       if INBOUND_TO in s and any(word in s.lower() for word in INVESTIGATE)]
        block = [s for s in sentences if INBOUND_FROM in s and "block" in s.lower()]
        assert investigate, sentences
        assert block, sentences
        # The public end is never treated as one of ours ("investigate it", "which device is it").
        assert not [s for s in sentences if INBOUND_FROM in s and INBOUND_TO not in s
                    and any(word in s.lower() for word in ("investigate", "which device"))], sentences


def test_titles_do_not_stutter(real: Run) -> None:
    """Issue 17, point 4: no title repeats a word or phrase, as "Switch Switch 16" does."""
    stutters = [finding["title"] for finding in real.report["findings"] if STUTTER.search(finding["title"])]
    assert stutters == [], stutters
    lost = [finding["title"] for finding in real.findings_about(SWITCH_16)
            if _rules(finding) & LOST_CONTACT_RULES]
    assert lost and all(title.startswith("Switch 16 lost contact") for title in lost), lost


# ----------------------------------------------------------------------------------------- derived case


def _counts(run: Run, identifier: str) -> dict[tuple[str, tuple[str, ...]], int]:
    """(rule, affected ids) -> count of the findings that name `identifier`."""
    return {(finding["rule_id"], tuple(sorted(item["id"] for item in finding["affected"]))): finding["count"]
            for finding in run.findings_about(identifier)}


def test_derived_copies_reached_the_collection(real: Run, derived: Run) -> None:
    """The derived case's copies were collected (each source de-duplicates only by id)."""
    outcomes = {source["name"]: source["count"] for source in derived.footer["sources"]}
    assert (outcomes["legacy_events"], outcomes["alarms"]) == (265, 3)


def test_alarm_copy_of_an_event_counts_the_happening_once(real: Run, derived: Run) -> None:
    """Issue 17, point 5: a lost contact listed as an event and as an alarm counts once."""
    assert _counts(real, SWITCH_16)
    assert _counts(derived, SWITCH_16) == _counts(real, SWITCH_16)


def test_ips_copy_in_the_event_list_counts_the_hit_once(real: Run, derived: Run) -> None:
    """Issue 17, point 5: an IPS hit in both the event list and the IPS list counts once."""
    assert _counts(real, INBOUND_FROM)
    assert _counts(derived, INBOUND_FROM) == _counts(real, INBOUND_FROM)


def test_total_events_counts_each_happening_once(real: Run, derived: Run) -> None:
    """Issue 17, point 5: the report's event total does not grow with cross-source copies."""
    assert derived.report["total_events"] == real.report["total_events"]
