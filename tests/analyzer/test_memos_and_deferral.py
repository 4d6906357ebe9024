"""The memos, the deferred attributes and the other third-pass fast paths give the answers of the plain
forms they replace."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest.mock import patch

from hypothesis import example, given
from hypothesis import strategies as st

from tests.analyzer.payloads import (
    AP_MAC,
    LAPTOP_MAC,
    PHONE_MAC,
    SW_MAC,
    anomaly,
    at,
    collection,
    flow,
    ips_alert,
    legacy,
    rogue,
    v2,
)
from unifi_scanner.analyzer import engine as engine_module
from unifi_scanner.analyzer import normalize as normalize_module
from unifi_scanner.analyzer.engine import Engine, _group_reader, _key_reader
from unifi_scanner.analyzer.normalize import (
    _DEVICE_KINDS,
    _LEGACY_DEVICE_FIELDS,
    MAX_MACS,
    MAX_MEMO,
    MAX_TEMPLATES,
    MAX_TEXT,
    clean,
    norm_mac,
    normalize,
    render_message,
)
from unifi_scanner.analyzer.rules import load_catalogue, parse_catalogue
from unifi_scanner.analyzer.wording import UTC_CLOCK
from unifi_scanner.models import Affected, EventSample, Finding, Record, RecordKind, Severity
from unifi_scanner.settings import Settings

_TEXT = st.text(alphabet=st.sampled_from("ab 7\t\r\n\x00\u202eK…-"), max_size=12)
_RAW = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), _TEXT, st.just({}), st.just(["x"]))


# ------------------------------------------------------------------ deferred attributes


def _records(extra: dict) -> list[Record]:
    """One record of every family, each carrying the extra raw fields."""
    return [
        legacy("EVT_AP_ChannelChanged", at(1), ap=AP_MAC, **extra),
        legacy("EVT_GW_WANTransition", at(1), gw=AP_MAC, msg="WAN went down", **extra),
        ips_alert(at(1)),
        v2("CLIENT_CONNECTED_WIRELESS", at(1), params={"CLIENT": {"id": PHONE_MAC, "name": "P"}}, **extra),
        v2("ADMIN_LOGIN", at(1), params={"ADMIN": {"name": "Al"}, "WLAN": {"name": "Home"}}, **extra),
        flow(at(1)),
        rogue(LAPTOP_MAC, is_rogue=True),
        anomaly("USER_SLEEPY_CLIENT", PHONE_MAC, at(1)),
    ]


@given(st.dictionaries(st.sampled_from(["ssid", "channel", "port", "state", "severity", "type", "event"]),
                       _RAW, max_size=4))
def test_deferred_attributes_settle_to_what_building_them_at_once_stores(extra):
    for record in _records(extra):
        deferred = normalize(record, defer=True)
        built = normalize(record)
        assert built.deferred is None
        assert list(deferred.settled_attrs().items()) == list(built.attrs.items())
        assert deferred == built and deferred.deferred is None


def test_deferred_attributes_come_first_as_they_were_stored_first():
    # The order a row's attributes were stored in before any was deferred.
    record = legacy("EVT_IPS_IpsAlert", at(1), ssid="Home", channel="6", state="UP", src_ip="10.0.0.2",
                    dest_ip="203.0.113.9", inner_alert_signature_id=7, proto="TCP")
    assert list(normalize(record, defer=True).settled_attrs()) == [
        "ssid", "channel", "state", "signature_id", "proto"]
    row = v2("THREAT_DETECTED", at(1), params={"DEVICE": {"id": AP_MAC, "model": "UDM-Pro"},
                                                "TRIGGER": {"name": "rule 1"}})
    # title_raw is kept for controller_alert, which is titled with the controller's own words.
    assert list(normalize(row, defer=True).settled_attrs()) == [
        "event", "severity", "type", "title_raw", "model", "trigger"]


def _flow(when: datetime, proto: str) -> Record:
    """A traffic flow of one IPS hit, with this protocol (detected, so it makes a campaign that keeps
    its members' details; a quiet blocked source would be folded into the digest, which does not)."""
    record = flow(when, action="allowed")
    record.raw["protocol"] = proto
    return record


def test_a_finding_quotes_the_deferred_attributes_of_its_latest_event_in_any_order():
    for records in ([_flow(at(2), "TCP"), _flow(at(1), "UDP")], [_flow(at(1), "UDP"), _flow(at(2), "TCP")]):
        report = engine_report(records)
        [finding] = report.findings
        assert (finding.count, finding.details["proto"], finding.details["src_port"]) == (2, "TCP", "51413")


_ON_ATTRIBUTES = """
version: 1
signature_families: {}
rules:
  - id: by_port
    title: "PoE off on {device}"
    category: infrastructure
    severity: low
    match: {keys: [EVT_SW_PoeDisconnect]}
    group_by: [device, port]
    explanation: "{device} port {port} {times}."
    remediation: ["Check it."]
  - id: on_channel_six
    title: "Overload on {device}"
    category: infrastructure
    severity: low
    match: {keys: [EVT_SW_PoeOverload], where: {channel: ["6"]}}
    group_by: [device]
    explanation: "{device} overloaded {times}."
    remediation: ["Check it."]
"""


def test_where_conditions_and_grouping_read_deferred_attributes():
    engine = Engine(parse_catalogue(_ON_ATTRIBUTES), Settings())
    for item in collection([
        legacy("EVT_SW_PoeDisconnect", at(1), sw=SW_MAC, port="1"),
        legacy("EVT_SW_PoeDisconnect", at(2), sw=SW_MAC, port="1"),
        legacy("EVT_SW_PoeDisconnect", at(3), sw=SW_MAC, port_idx="2"),
        legacy("EVT_SW_PoeOverload", at(4), sw=SW_MAC, channel="6"),
        legacy("EVT_SW_PoeOverload", at(5), sw=SW_MAC, channel="11"),
    ]):
        engine.feed(item)
    report = engine.report(generated_at=at(24), first_run=False, lookback_hours=None, notes=())
    assert sorted((f.count, f.explanation) for f in report.findings) == [
        (1, f"{SW_MAC} overloaded once."), (1, f"{SW_MAC} port 2 once."), (2, f"{SW_MAC} port 1 twice.")]
    assert [(u.key, u.count) for u in report.unknown_events] == [("EVT_SW_PoeOverload", 1)]  # channel 11


def engine_report(records: list[Record]):
    """The report of the shipped catalogue over these records."""
    engine = Engine(load_catalogue(), Settings())
    for item in collection(records):
        engine.feed(item)
    return engine.report(generated_at=at(24), first_run=False, lookback_hours=None, notes=())


# ------------------------------------------------------------------ memos


def test_every_memo_is_bounded():
    memos = {
        normalize_module._mac_text: MAX_MACS,
        normalize_module._legacy_key: MAX_MEMO,
        normalize_module._source_name: MAX_MEMO,
        normalize_module._internal_v6: MAX_MEMO,
        normalize_module._kind_from_model: MAX_MEMO,
        normalize_module._template_parts: MAX_TEMPLATES,
    }
    for memo, bound in memos.items():
        assert memo.cache_info().maxsize == bound
    for number in range(MAX_MACS + 10):
        mac = f"AA-BB-CC-{number >> 16 & 255:02X}-{number >> 8 & 255:02X}-{number & 255:02X}"
        assert norm_mac(mac) == mac.lower().replace("-", ":")
    assert normalize_module._mac_text.cache_info().currsize == MAX_MACS


def _reference_device(raw: dict, key: str) -> tuple[str | None, str | None, str | None]:
    """(device, name, kind) of a legacy row as first written: the key's family worked out on every row."""
    family = key.split("_")[1] if key.startswith("EVT_") and key.count("_") >= 2 else ""
    preferred = (family.lower(),) if family.lower() in _LEGACY_DEVICE_FIELDS else ()
    for name in preferred + _LEGACY_DEVICE_FIELDS:
        mac = norm_mac(raw.get(name))
        if mac:
            return mac, clean(raw.get(f"{name}_name") or raw.get("device_name")), _DEVICE_KINDS.get(family)
    return None, None, _DEVICE_KINDS.get(family)


@example("EVT_SW_PoeOverload", {"ap": AP_MAC, "sw": SW_MAC})  # its own family's field first
@given(
    st.sampled_from(["EVT_AP_Lost_Contact", "EVT_SW_PoeOverload", "EVT_GW_X", "EVT_WU_Roam", "EVT_AP",
                     "EVT_USP_A_B", "CUSTOM", "EVT_DEVICE_X"]),
    st.dictionaries(st.sampled_from(["ap", "sw", "gw", "device", "mac", "ap_name", "sw_name", "device_name",
                                     "user"]),
                    st.sampled_from([AP_MAC, SW_MAC.upper(), "nope", "Lobby", None, 3]), max_size=5),
)
def test_a_legacy_row_names_its_device_as_first_written(key, fields):
    record = legacy(key, at(1), **fields)
    event = normalize(record)
    assert (event.device, event.device_name, event.device_kind) == _reference_device(record.raw, event.key)


def test_a_template_is_filled_afresh_from_each_row_s_parameters():
    template = "{DEVICE} saw {CLIENT}"
    first = render_message({"message_raw": template, "parameters": {"DEVICE": {"name": "A"}, "CLIENT": {}}})
    second = render_message({"message_raw": template, "parameters": {"CLIENT": {"id": "c"}}})
    assert (first, second) == ("A saw {CLIENT}", "{DEVICE} saw c")


@given(st.one_of(_TEXT, st.just("x" * 150)), st.one_of(st.none(), _TEXT, st.integers(), st.just(["K"])))
def test_source_names_and_keys_read_as_cleaned_before(source, key):
    record = Record(kind=RecordKind.EVENT, source=source, id="1", time=at(1), raw={"key": key})
    event = normalize(record)
    assert (event.source, event.key) == (clean(source) or "?", clean(key) or "(no key)")


_SIGNATURE = st.one_of(st.none(), _TEXT, st.text(alphabet="ET SCAN ", min_size=190, max_size=260))
_ADDRESS = st.one_of(st.none(), _TEXT, st.text(alphabet="0123456789.: ", min_size=50, max_size=80))


@given(_SIGNATURE, _ADDRESS, _ADDRESS)
def test_a_flow_message_reads_as_cleaned_before(signature, src, dst):
    record = flow(at(1))
    record.raw["ips"]["advanced_information"] = signature
    record.raw["source"]["ip"], record.raw["destination"]["ip"] = src, dst
    event = normalize(record)
    assert event.message == clean(
        f"IPS {event.action}: {event.signature or 'unnamed signature'} from {event.src or '?'} "
        f"to {event.dst or '?'}", MAX_TEXT)


# ------------------------------------------------------------------ engine


def test_names_learned_from_events_stay_bounded_as_with_name():
    with patch.object(engine_module, "MAX_NAMES", 2):
        engine = Engine(load_catalogue(), Settings())
        reference = Engine(load_catalogue(), Settings())
        rows = [
            v2("CLIENT_CONNECTED_WIRELESS", at(1), params={
                "CLIENT": {"id": PHONE_MAC, "name": "Phone", "ip": "10.0.0.2"},
                "DEVICE": {"id": AP_MAC, "name": "AP one"}}),
            v2("CLIENT_CONNECTED_WIRELESS", at(2), params={
                "CLIENT": {"id": LAPTOP_MAC, "name": "Laptop", "ip": "10.0.0.3"},
                "DEVICE": {"id": AP_MAC, "name": "AP renamed"}}),
        ]
        for item in collection(rows):
            engine.feed(item)
            if isinstance(item, Record):
                event = normalize(item)
                for ident, name in [(event.device, event.device_name), (event.client, event.client_name),
                                    *event.ip_names]:
                    if ident and name:
                        reference._name(ident, name)
    assert engine.names == reference.names == {AP_MAC: "AP renamed", PHONE_MAC: "Phone"}


_ALTERNATIVES = """
version: 1
signature_families: {}
rules:
  - id: first
    title: t
    category: security
    severity: low
    match:
      - {keys: [A], where: {action: [blocked]}}
      - {keys: [A, B], where: {state: ["*"]}}
    explanation: e
    remediation: [r]
  - id: second
    title: t
    category: security
    severity: low
    match:
      - {prefixes: [A], where: {action: [detected]}}
      - {keys: [B]}
    explanation: e
    remediation: [r]
"""


@given(st.sampled_from(["A", "B", "AX", "C"]), st.sampled_from(["blocked", "detected", None]),
       st.sampled_from(["down", None]))
def test_matching_takes_the_rule_the_nested_alternatives_took(key, action, state):
    catalogue = parse_catalogue(_ALTERNATIVES)
    engine = Engine(catalogue, Settings())
    event = normalize(legacy(key, at(1), **({"state": state} if state else {})))
    event.action = action
    expected = next((rule for rule, alternatives in catalogue.candidates(event)
                     for alternative in alternatives if not alternative.where or alternative.accepts(event)),
                    None)
    for _ in range(2):  # computed, then from the cache
        assert engine._match(event) is expected


def _reference_muted(settings: Settings, finding: Finding) -> bool:
    """`_muted` as first written, with its sets built for every finding and no early answer; a rule's
    mute also covers its escalations (base_rule) and incidents, by their id or kind or when every rule
    they were built from is muted."""
    rules = {name.strip().lower() for name in settings.mute_rules}
    if finding.rule_id in rules or finding.incident in rules or finding.details.get("base_rule") in rules:
        return True
    if finding.rule_ids and all(rule_id in rules for rule_id in finding.rule_ids):
        return True
    devices = {(norm_mac(name) or name).strip().lower() for name in settings.mute_devices}
    clients = {(norm_mac(name) or name).strip().lower() for name in settings.mute_clients}
    signatures = [name.strip().lower() for name in settings.mute_signatures if name.strip()]
    signature_id = str(finding.details.get("signature_id") or "").lower()
    for item in finding.affected:
        labels = {item.id.lower(), (item.name or "").lower()}
        if item.kind == "device" and labels & devices or item.kind == "client" and labels & clients:
            return True
        if item.kind == "signature" and any(mute == signature_id or mute in item.id.lower()
                                            for mute in signatures):
            return True
    return False


@given(st.fixed_dictionaries({}, optional={
    "mute_rules": st.just(["dfs_radar"]), "mute_devices": st.just([AP_MAC.upper()]),
    "mute_clients": st.just(["phone"]), "mute_signatures": st.just(["2010937"]),
}))
def test_mutes_answer_as_first_written(mutes):
    settings = Settings(**mutes)
    engine = Engine(load_catalogue(), settings)
    for rule_id, affected, details, incident, rule_ids in [
        ("dfs_radar", [], {}, None, []),
        ("x", [], {"base_rule": "dfs_radar"}, None, []),  # an escalation of a muted rule
        ("x", [], {}, "dfs_radar", []),
        ("x", [], {}, "device_outage", ["dfs_radar"]),  # every member rule muted
        ("x", [], {}, "device_outage", ["dfs_radar", "y"]),  # one member rule still speaks
        ("x", [Affected(kind="device", id=AP_MAC)], {}, None, []),
        ("x", [Affected(kind="client", id=PHONE_MAC, name="Phone")], {}, None, []),
        ("x", [Affected(kind="signature", id="ET SCAN x")], {"signature_id": "2010937"}, None, []),
        ("x", [Affected(kind="ip", id="10.0.0.1")], {}, None, []),
    ]:
        finding = Finding(id="f", rule_id=rule_id, severity=Severity.LOW, category="security", title="t",
                          explanation="e", remediation=["r"], affected=affected, first_seen=at(1),
                          last_seen=at(1), count=1, details=details, incident=incident, rule_ids=rule_ids)
        # Signatures are muted before correlation, the rest after: together they answer as before.
        muted = engine._muted(finding) or engine._muted_signatures(finding)
        assert muted == _reference_muted(settings, finding)


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)),
       st.booleans())
def test_clock_reads_as_strftime(moment, another_day):
    other = moment.replace(day=1) if another_day else moment
    expected = moment.strftime("%H:%M" if moment.date() == other.date() else "%b %d %H:%M")
    assert UTC_CLOCK.clock(moment, other) == expected


def test_a_sample_is_the_model_first_built_then_renamed():
    engine = Engine(load_catalogue(), Settings())
    engine._name(AP_MAC, "Lobby")
    message = f"AP[{AP_MAC.upper()}] lost AP[{SW_MAC}]"
    sample = engine._named_sample(("id-1", at(1), "EVT_AP_Lost_Contact", message))
    first = EventSample(id="id-1", time=at(1), key="EVT_AP_Lost_Contact", message=message)
    expected = first.model_copy(update={"message": f"AP[Lobby ({AP_MAC})] lost AP[{SW_MAC}]"})
    assert sample.model_dump() == expected.model_dump()
    assert sample.model_fields_set == expected.model_fields_set


@given(st.fixed_dictionaries({}, optional={"client": st.sampled_from([PHONE_MAC, None]),
                                           "src": st.sampled_from(["10.0.0.1", None]),
                                           "signature": st.sampled_from(["ET SCAN", None])}))
def test_grouping_keys_read_as_one_comprehension_does(fields):
    event = normalize(flow(at(1)))
    for name, value in fields.items():
        setattr(event, name, value)
    for names in [(), ("client",), ("port",), ("threat", "src"), ("src", "client", "threat")]:
        readers = tuple(map(_group_reader, names))
        assert _key_reader(readers)(event) == tuple([read(event) or "" for read in readers])
