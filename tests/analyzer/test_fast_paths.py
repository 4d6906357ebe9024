"""The per-event fast paths give exactly the answers of the plain forms they replace."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter, OrderedDict
from unittest.mock import patch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.analyzer.payloads import AP_MAC, LAPTOP_MAC, PHONE_MAC, at, collection, legacy, v2
from unifi_scanner.analyzer import engine as engine_module
from unifi_scanner.analyzer.engine import Engine, _Group, _group_reader
from unifi_scanner.analyzer.normalize import (
    _CLIENT_ROLES,
    _CONTEXT_ROLES,
    _LEGACY_CONTEXT_FIELDS,
    _NONE,
    _PLACEHOLDER,
    EVENT_FIELDS,
    MAX_TEXT,
    Event,
    _context_roles,
    _first_mac,
    _put,
    _roles,
    _set_attrs,
    clean,
    field_reader,
    norm_mac,
    normalize,
    render_message,
)
from unifi_scanner.analyzer.rules import GROUP_FIELDS, Match, parse_catalogue
from unifi_scanner.models import RecordKind
from unifi_scanner.settings import Settings
from unifi_scanner.text import UNSAFE

# The MAC pattern as first written (a repeated group, case-insensitive), kept here as the reference.
_PLAIN_MAC = re.compile(r"^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$", re.IGNORECASE)
_MAC_LIKE = st.text(alphabet="0123456789abcdefABCDEFgG:-_ \nİK٣", min_size=15, max_size=19)
_MAC_SHAPED = st.lists(
    st.text(alphabet="0123456789abcdefABCDEFgİ٣ :", min_size=2, max_size=2), min_size=6, max_size=6
).flatmap(lambda pairs: st.tuples(st.just(pairs), st.lists(st.sampled_from(":-_."), min_size=5, max_size=5)))


def _reference_mac(value: object) -> str | None:
    """`norm_mac` as first written, with the regex."""
    if not isinstance(value, str) or len(value) != 17 or not _PLAIN_MAC.match(value):
        return None
    return value.lower().replace("-", ":")


@given(_MAC_LIKE)
def test_norm_mac_agrees_with_the_plain_pattern_on_any_text(value):
    assert norm_mac(value) == _reference_mac(value)


@given(_MAC_SHAPED)
def test_norm_mac_agrees_with_the_plain_pattern_on_mac_shaped_text(shape):
    pairs, separators = shape
    value = pairs[0] + "".join(sep + pair for sep, pair in zip(separators, pairs[1:], strict=True))
    assert norm_mac(value) == _reference_mac(value)


def test_norm_mac_examples():
    assert norm_mac("B4-FB-E4-d2:74:39") == "b4:fb:e4:d2:74:39"
    assert norm_mac("b4:fb:e4:d2:74:3g") is None
    assert norm_mac("b4:fb:e4:d2:74:39\n") is None
    assert norm_mac("b4fb.e4d2.7439.xx") is None
    assert norm_mac(12) is None


@given(st.integers(min_value=-(10**300), max_value=10**300), st.integers(min_value=2, max_value=120))
def test_clean_reads_an_integer_exactly_as_its_text(number, limit):
    assert clean(number, limit) == clean(str(number), limit)


def test_clean_keeps_its_answers_for_other_types():
    assert clean(True) == "True"
    assert clean(False) is None
    assert clean(2.5) == "2.5"
    assert clean(float("inf")) is None and clean(float("nan")) is None
    assert clean(None) is None
    assert clean({"a": 1}) is None
    assert clean(" a\r\nb ") == "a b"


def _reference_clean(value: str, limit: int) -> str | None:
    """`clean` of a string as first written: cut, replace unsafe characters, strip, cut again."""
    text = UNSAFE.sub(" ", value[: limit * 4]).strip()
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Short and long, printable or not (controls, separators, non-breaking and bidi characters), blank.
_ANY_TEXT = st.text(alphabet=st.sampled_from("ab é\t\r\n\x00\x85\xa0\u2028\u202eK٣…"), max_size=30)


@given(_ANY_TEXT, st.integers(min_value=1, max_value=25))
def test_clean_takes_short_printable_strings_as_the_general_path_does(value, limit):
    assert clean(value, limit) == _reference_clean(value, limit)


def test_clean_examples_at_the_limit():
    assert clean(" abc ", 3) == "abc"  # longer than the limit only by blanks: the general path
    assert clean("abcd", 3) == "ab…"
    assert clean("abc", 3) == "abc"
    assert clean("   ") is None and clean("") is None


_RAW_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), _ANY_TEXT,
                        st.just({}), st.just([1]))


@given(st.dictionaries(st.sampled_from(["ssid", "channel", "port", "other"]), _RAW_VALUES))
def test_put_stores_what_set_attrs_stores_in_the_same_order(raw):
    names = ("ssid", "channel", "port", "essid")
    put: dict[str, str] = {}
    pairs: dict[str, str] = {}
    _put(put, raw, names)
    _set_attrs(pairs, [(name, raw[name]) for name in names if name in raw])
    assert list(put.items()) == list(pairs.items())


def _reference_render(template: str, params: dict) -> str:
    """`render_message`'s substitution as first written, with `re.sub` and a callback."""
    def fill(match: re.Match[str]) -> str:
        param = params.get(match[1], _NONE)
        return clean(param.get("name")) or clean(param.get("id")) or match[0]

    return clean(_PLACEHOLDER.sub(fill, template[: MAX_TEXT * 4]), MAX_TEXT) or ""


_PARAMS = st.dictionaries(
    st.sampled_from(["DEVICE", "CLIENT", "SRC_IP", "X"]),
    st.one_of(
        st.none(),
        st.text(max_size=5),
        st.lists(st.integers(), max_size=2),
        st.fixed_dictionaries({}, optional={
            "name": st.one_of(st.none(), st.text(max_size=8), st.integers()),
            "id": st.one_of(st.none(), st.text(max_size=8)),
        }),
    ),
    max_size=4,
)


@given(st.text(alphabet="{}DEVICLNTSRC_IPX a\r", max_size=40), st.one_of(_PARAMS, st.lists(st.none())))
def test_render_message_gives_the_same_text_with_or_without_precomputed_roles(template, params):
    raw = {"message_raw": template, "parameters": params, "title_raw": "Fallback"}
    roles = {role: p for role, p in params.items() if isinstance(p, dict)} if isinstance(params, dict) else {}
    assert render_message(raw, roles) == render_message(raw)


@given(st.text(alphabet="{}DEVICLNTX_ a\r", min_size=1, max_size=40), _PARAMS)
def test_render_message_splitting_agrees_with_substitution(template, params):
    raw = {"message_raw": template, "parameters": params}
    assert render_message(raw) == _reference_render(template, _roles(raw))


_CLIENT_PARAM = st.fixed_dictionaries({}, optional={
    "id": st.sampled_from([PHONE_MAC, LAPTOP_MAC.upper(), "not-a-mac", ""]),
    "mac": st.sampled_from([PHONE_MAC, "b4:fb:e4:d2:74:3g", None]),
    "name": st.sampled_from(["Phone", " ", "", None, 7]),
    "hostname": st.sampled_from(["phone-host", None]),
    "ip": st.sampled_from(["192.168.1.20", " ", None]),
})


@given(st.dictionaries(st.sampled_from(_CLIENT_ROLES + ("DEVICE",)), _CLIENT_PARAM, max_size=5))
def test_the_client_pass_picks_the_client_and_ip_names_as_first_written(params):
    event = normalize(v2("CLIENT_CONNECTED_WIRELESS", at(1), message="{CLIENT}", params=params))
    roles = _roles({"parameters": params})
    found = _first_mac(roles, _CLIENT_ROLES)
    expected_client = (None, None)
    if found:
        expected_client = (found[2], clean(found[1].get("name") or found[1].get("hostname")))
    expected_names = []
    for role in _CLIENT_ROLES:
        param = roles.get(role)
        if param is not None:
            address, name = clean(param.get("ip"), 64), clean(param.get("name") or param.get("hostname"))
            if address and name:
                expected_names.append((address, name))
    assert (event.client, event.client_name) == expected_client
    assert event.ip_names == expected_names


def test_render_message_fills_names_then_ids_and_keeps_unknown_placeholders():
    raw = {
        "message_raw": "{DEVICE} lost {CLIENT} via {WAN} {BROKEN}",
        "parameters": {"DEVICE": {"id": AP_MAC, "name": "Lobby"}, "CLIENT": {"id": PHONE_MAC}, "BROKEN": "x"},
    }
    assert render_message(raw) == f"Lobby lost {PHONE_MAC} via {{WAN}} {{BROKEN}}"


def _event(**fields) -> Event:
    """An event with the given fields set."""
    base = {"id": "e", "time": at(1), "kind": RecordKind.EVENT, "source": "test", "key": "K", "message": ""}
    return Event(**(base | fields))


def test_where_conditions_are_case_insensitive_and_star_needs_a_value():
    match = Match(keys=["K"], where={"action": ["Blocked", "DROP"], "state": ["*"]})
    assert match.accepts(_event(action="blocked", attrs={"state": "down"}))
    assert match.accepts(_event(action="Drop", attrs={"state": "x"}))
    assert not match.accepts(_event(action="detected", attrs={"state": "down"}))
    assert not match.accepts(_event(action="blocked"))
    assert Match(keys=["K"]).accepts(_event())


def test_a_group_remembers_devices_and_clients_only_when_they_are_not_its_key():
    by_client = _Group(("c",), {"client": PHONE_MAC})
    by_nothing = _Group((), {})
    for index, (device, client) in enumerate([(AP_MAC, PHONE_MAC), (AP_MAC, LAPTOP_MAC), (None, PHONE_MAC)]):
        event = _event(device=device, client=client, key=f"K{index % 2}", signature="ET SCAN x")
        for group in (by_client, by_nothing):
            group.add(event, int(event.time.timestamp()), real=True, window=None, hour=1)
    assert by_client.sets == {"keys": {"K0": None, "K1": None}, "signatures": {"ET SCAN x": None},
                              "devices": {AP_MAC: None}}
    assert by_nothing.sets["clients"] == {PHONE_MAC: None, LAPTOP_MAC: None}
    assert by_nothing.count == 3 and by_nothing.hours == {1: 3}


@pytest.mark.parametrize("newest_first", [True, False])
def test_a_burst_is_counted_exactly_in_either_time_order_keeping_only_one_window(newest_first):
    # Events 0, 100, ..., 900 s, then a burst of 8 at 5000-5007 s, then 9000 s: within 600 s, the
    # most are the burst's 8 (the first ten span 900 s, so at most 7 of them fit in 600 s).
    stamps = [*range(0, 1000, 100), *range(5000, 5008), 9000]
    group = _Group(("k",), {}, window=600)
    most_kept = 0
    for stamp in sorted(stamps, reverse=newest_first):
        group.add(_event(), stamp, real=True, window=600)
        assert group.recent is not None
        most_kept = max(most_kept, len(group.recent))
    assert (group.burst, group.burst_start) == (8, 5000)
    assert most_kept == 8  # never more than one window's events


_GROUPED = """
version: 1
signature_families: {}
rules:
  - id: lost
    title: "Lost {device}"
    category: infrastructure
    severity: medium
    match: {keys: [EVT_AP_Lost_Contact]}
    group_by: GROUPING
    explanation: "{device} {times}."
    remediation: ["Check it."]
"""


def _findings(grouping: str) -> list[tuple[str, int, list[str]]]:
    """(id, count, affected ids) of each finding the rule above gives with this `group_by`."""
    engine = Engine(parse_catalogue(_GROUPED.replace("GROUPING", grouping)), Settings())
    for item in collection([
        legacy("EVT_AP_Lost_Contact", at(1), ap=AP_MAC),
        legacy("EVT_AP_Lost_Contact", at(2), ap=AP_MAC),
        legacy("EVT_AP_Lost_Contact", at(3), sw=LAPTOP_MAC),
    ]):
        engine.feed(item)
    report = engine.report(generated_at=at(24), first_run=False, lookback_hours=None, notes=())
    return [(f.id, f.count, [a.id for a in f.affected]) for f in report.findings]


def test_a_field_named_twice_in_group_by_groups_as_if_named_once():
    once = _findings("[device]")
    assert [(count, affected) for _, count, affected in once] == [(2, [AP_MAC]), (1, [LAPTOP_MAC])]
    assert _findings("[device, device]") == once


def _reference_duplicate(recent: OrderedDict, source: str, src: str, dst: str, second: int) -> bool:
    """The IPS copy test as first written: five probes for every hit, whatever the sources."""
    return any(recent.get((src, dst, second + offset), source) != source for offset in range(-2, 3))


_HITS = st.lists(st.tuples(
    st.sampled_from(["system_log", "traffic_flows", "legacy_ips"]),
    st.sampled_from(["10.0.0.1", "10.0.0.2"]),
    st.sampled_from(["203.0.113.9", ""]),
    st.integers(min_value=0, max_value=8),
), max_size=40)


@given(_HITS)
def test_ips_copies_are_found_as_with_five_probes_for_every_hit(hits):
    engine = Engine(parse_catalogue(_GROUPED.replace("GROUPING", "[device]")), Settings())
    group = _Group((), {})
    reference: OrderedDict[tuple[str, str, int], str] = OrderedDict()
    copies = 0
    with patch.object(engine_module, "DEDUPE_MEMORY", 3):  # small, so that old hits are forgotten
        for source, src, dst, second in hits:
            event = _event(source=source, src=src, dst=dst or None, action="detected")
            # An IPS hit's content is its (source, destination); the engine looks up and remembers
            # only hits that have both ends.
            content = (src, dst) if dst else None
            copy = bool(dst) and _reference_duplicate(reference, source, src, dst, second)
            assert (content is not None and engine._duplicate(event, content, second)) is copy
            copies += copy
            if not copy and content is not None:
                engine._remember(event, content, group, second)
                if dst:
                    reference[(src, dst, second)] = source
                    if len(reference) > 3:
                        reference.popitem(last=False)
            assert list(engine._recent_ips) == list(engine._recent_order) == list(reference)
            assert engine._recent_sources == Counter(reference.values())
    assert engine.duplicates == copies


def _reference_group_value(event: Event, name: str) -> str:
    """A grouping field's value as first written, one Python-level lookup per field."""
    if name in EVENT_FIELDS:
        return getattr(event, name) or ""
    if name == "threat":
        return event.signature or event.signature_id or event.key
    if name == "port":
        return event.attrs.get("port") or event.attrs.get("port_idx") or ""
    return event.value(name) or ""


_MAYBE = st.sampled_from(["v", "", None])


@given(st.fixed_dictionaries({}, optional={
    "device": _MAYBE, "src": _MAYBE, "signature": _MAYBE, "signature_id": _MAYBE, "admin": _MAYBE,
    "attrs": st.dictionaries(st.sampled_from(["port", "port_idx", "trigger", "anomaly"]), _MAYBE),
}))
def test_group_readers_read_every_grouping_field_as_first_written(fields):
    event = _event(**fields)
    for name in GROUP_FIELDS:
        assert (_group_reader(name)(event) or "") == _reference_group_value(event, name)


@given(st.fixed_dictionaries({}, optional={
    "action": _MAYBE, "device": _MAYBE, "key": st.sampled_from(["K", "EVT_X"]),
    "attrs": st.dictionaries(st.sampled_from(["state", "is_rogue", "action"]), _MAYBE),
}))
def test_field_readers_read_what_event_value_reads(fields):
    event = _event(**fields)
    for name in (*sorted(EVENT_FIELDS), "state", "is_rogue", "missing"):
        assert field_reader(name)(event) == event.value(name)


_ROLE_PARAM = st.fixed_dictionaries({}, optional={
    "id": st.sampled_from(["admin-1", PHONE_MAC, ""]),
    "name": st.sampled_from(["Alice", "LAN", "", None]),
    "ip": st.sampled_from(["203.0.113.7", None]),
})


@given(st.dictionaries(st.sampled_from(sorted(_CONTEXT_ROLES) + ["DEVICE", "SRC_IP", "CLIENT"]), _ROLE_PARAM,
                       max_size=4))
def test_a_v2_row_reads_its_context_roles_only_when_it_has_some_to_the_same_effect(params):
    event = normalize(v2("ADMIN_LOGIN_SUCCESS", at(1), message="{ADMIN}", params=params))
    read_anyway = dataclasses.replace(event, attrs=dict(event.attrs), ip_names=list(event.ip_names))
    _context_roles(read_anyway, _roles({"parameters": params}))  # what the row would get without the test
    assert read_anyway == event


@given(st.dictionaries(st.sampled_from(sorted(_LEGACY_CONTEXT_FIELDS) + ["user", "ssid"]),
                       st.sampled_from(["10.0.0.9", AP_MAC, "eth8", "", None, 3]), max_size=4))
def test_a_legacy_row_without_context_fields_gets_what_reading_them_would_give(fields):
    record = legacy("EVT_AD_Login", at(1), **fields)
    raw, event = record.raw, normalize(record)
    assert (event.admin, event.ip, event.network, event.bssid) == (
        clean(raw.get("admin") or raw.get("admin_name")),
        clean(raw.get("ip") or raw.get("remote_ip"), 64),
        clean(raw.get("network") or raw.get("iface") or raw.get("wan")),
        norm_mac(raw.get("bssid")),
    )
