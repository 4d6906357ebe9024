"""The per-event fast paths give exactly the answers of the plain forms they replace."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from tests.analyzer.payloads import AP_MAC, LAPTOP_MAC, PHONE_MAC, at, collection, legacy
from unifi_scanner.analyzer.engine import Engine, _Group
from unifi_scanner.analyzer.normalize import Event, clean, norm_mac, render_message
from unifi_scanner.analyzer.rules import Match, parse_catalogue
from unifi_scanner.models import RecordKind
from unifi_scanner.settings import Settings

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
            group.add(event, int(event.time.timestamp()), real=True, slice_seconds=None)
    assert by_client.sets == {"keys": {"K0": None, "K1": None}, "signatures": {"ET SCAN x": None},
                              "devices": {AP_MAC: None}}
    assert by_nothing.sets["clients"] == {PHONE_MAC: None, LAPTOP_MAC: None}
    assert by_nothing.count == 3 and by_nothing.hours == {int(at(1).timestamp()) // 3600: 3}


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
