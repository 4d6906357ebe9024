"""One event model for every record family the collector writes.

Legacy `EVT_*` rows (events, alarms, `stat/ips/event`), v2 system-log rows, v2 traffic flows with IPS
detail, anomalies and rogue-AP rows all become an `Event`, so the rules never care where a fact came
from. Everything here is defensive: controller payloads carry numbers as strings, `catname` as a string
or a list, geo data as `{}`, `[]` or `false`, and any field may be missing or of the wrong type. Every
string is cut to a bounded length and stripped of control characters, because it is untrusted and ends
up in reports and mail.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache, partial
from operator import attrgetter
from typing import Any

from unifi_scanner.models import Record, RecordKind
from unifi_scanner.text import UNSAFE

MAX_TEXT = 300
"""Longest message kept from one record: enough to read, small enough for a report."""
MAX_NAME = 100
"""Longest name, key or identifier kept."""
# Bounds of the memos (`lru_cache`) of facts that depend on one short, highly repeated string. Each is
# well above what one site repeats, so it holds all of that; and each keeps a hostile feed of ever new
# values within the memory stated (measured with tracemalloc at the bound, values at their longest).
MAX_MACS = 4096
"""MACs `norm_mac` remembers: more than the devices and clients of a large site; under 1 MiB."""
MAX_MEMO = 512
"""Entries of each smaller memo (legacy keys, device models, source names, whether an address is
private): a site repeats a few dozen keys and models and its own few hundred addresses; under 250 KiB
each."""
MAX_TEMPLATES = 32
"""v2 message templates remembered split, one per event key (a site's busy keys are fewer): under
800 KiB even for 1,200-character templates cut into two-character pieces."""

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Spelled out six times rather than as a repeated group and without IGNORECASE: this runs for
# several fields of every record, and the unrolled form matches in about half the time.
_MAC = re.compile("[:-]".join(["[0-9a-fA-F]{2}"] * 6))

# Which device a legacy key is about: the prefix after EVT_ names the device family.
_DEVICE_KINDS = {
    "AP": "access point",
    "SW": "switch",
    "GW": "gateway",
    "XG": "gateway",
    "DM": "gateway",
    "BB": "building bridge",
    "USP": "power unit",
    "LTE": "LTE backup",
}
# The controller's own device-type codes (stat/device `type`).
DEVICE_TYPE_WORDS = {
    "uap": "access point",
    "usw": "switch",
    "ugw": "gateway",
    "usg": "gateway",
    "ucg": "gateway",
    "udm": "gateway",
    "uxg": "gateway",
    "ubb": "building bridge",
    "pdu": "power unit",
    "usp": "power unit",
}
GATEWAY_TYPES = frozenset({"ugw", "usg", "ucg", "udm", "uxg"})
"""The device-type codes of gateways (their WAN addresses are the site's own)."""
# v2 parameter roles, most specific first.
_DEVICE_ROLES = ("DEVICE", "AP", "GATEWAY", "SWITCH", "CONSOLE_WITH_DEVICE_NAME", "DEVICE_TO")
_CLIENT_ROLES = ("CLIENT", "SRC_CLIENT", "GUEST", "DST_CLIENT")
_ADMIN_ROLES = ("ADMIN", "USER", "ACCOUNT")
_NETWORK_ROLES = ("NETWORK", "WAN", "WAN_NETWORK", "INTERFACE")
_CONTEXT_ROLES = frozenset((*_ADMIN_ROLES, *_NETWORK_ROLES, "IP", "TRIGGER", "WLAN", "CHANNEL", "RADIO_BAND"))
"""Every role `_context_roles` reads."""
_MODEL_KINDS = (
    (("USW", "US-", "US8", "US16", "US24", "US48", "USL", "USM", "USF", "USC"), "switch"),
    (("UDM", "UDR", "UCG", "UXG", "USG", "UGW", "UX", "UDW", "EFG"), "gateway"),
    (("U6", "U7", "UAP", "UAL", "UAC", "UAE", "UWB", "UMA", "UK-", "E7", "ULR"), "access point"),
)
_LEGACY_DEVICE_FIELDS = ("ap", "sw", "gw", "xg", "dm", "bb", "device", "mac")
_LEGACY_CONTEXT_FIELDS = frozenset(
    {"admin", "admin_name", "ip", "remote_ip", "network", "iface", "wan", "bssid"})
"""The legacy fields the admin, address, network and BSSID of an event come from."""
_NONE: dict[str, Any] = {}
"""Stands for an absent parameter object (read, never written)."""
_BLOCKED_ACTIONS = {"blocked", "block", "drop", "dropped", "reject", "rejected", "denied"}
_INTERNAL_NETWORKS = tuple(ipaddress.ip_network(net) for net in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",  # RFC 1918
    "100.64.0.0/10",  # carrier-grade NAT (RFC 6598): the ISP's side of many home WANs, never the internet
    "127.0.0.0/8", "169.254.0.0/16", "::1/128", "fe80::/10", "fc00::/7",
))
"""Address ranges that are on the site's side of the gateway whatever the site. Not
`ipaddress.is_private`: that also counts the documentation and benchmark ranges, which stand for
internet hosts in examples and in the fake controller."""


def clean(value: Any, limit: int = MAX_NAME) -> str | None:
    """Return `value` as a single-line string cut to `limit` characters, or None when empty.

    Control characters (CR/LF included) become spaces so no controller string can break a mail header
    or a table row.
    """
    # Cut first: a megabyte message must cost no more than a short one. Plain strings (most calls)
    # take the first branch without the type tests below.
    if type(value) is str:
        if len(value) <= limit and value.isprintable():
            # Most strings: nothing to cut and nothing to replace, so only the strip is left to do.
            return value.strip() or None
        text = value[: limit * 4]
    elif type(value) is int:
        # Ports and signature ids: digits are printable and never blank, so only the length matters.
        text = str(value)
        return text if len(text) <= limit else text[: limit - 1] + "…"
    elif value is None or value is False or isinstance(value, dict | list):
        return None
    elif type(value) is float and not math.isfinite(value):
        # What a collection file holds as null (JSON has no infinity); the collector's own pipe carries
        # the number as parsed (a hostile `1e999`), and both must read alike.
        return None
    else:
        text = (value if isinstance(value, str) else str(value))[: limit * 4]
    if not text.isprintable():  # a C-speed test that spares the regex on ordinary strings
        text = UNSAFE.sub(" ", text)
    text = text.strip()
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def norm_mac(value: Any) -> str | None:
    """A MAC address in lower case with colons, or None when `value` is not one."""
    if not isinstance(value, str) or len(value) != 17:
        return None
    return _mac_text(value)


@lru_cache(maxsize=MAX_MACS)
def _mac_text(text: str) -> str | None:
    """`norm_mac` of a 17-character string.

    Memoised: a site's few hundred MACs come back on nearly every row, and the memo answers in a
    fraction of the time the pattern takes.
    """
    return text.lower().replace("-", ":") if _MAC.fullmatch(text) else None


def to_float(value: Any) -> float | None:
    """A number from an int, float or numeric string; None for anything else (booleans included)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a dict, else an empty one (geo fields arrive as `[]` or `false`)."""
    return value if isinstance(value, dict) else {}


@dataclass(slots=True)
class Event:
    """A record from any family, reduced to what the rules look at.

    `key` is the event key as the controller sent it (`EVT_AP_Lost_Contact`, `DEVICE_UNREACHABLE`); flows,
    anomalies and rogue-AP rows get a synthetic key (`TRAFFIC_FLOW_IPS`, `ANOMALY_<name>`, `ROGUE_AP`).
    `attrs` holds the few extra facts explanations quote (versions, channel, interface, ...). An event
    from `normalize(..., defer=True)` may not hold all of them yet: read them through `settled_attrs`
    or `value`.
    """

    id: str
    time: datetime
    kind: RecordKind | None
    source: str
    key: str
    message: str
    subsystem: str | None = None
    category: str | None = None
    subcategory: str | None = None
    device: str | None = None
    device_name: str | None = None
    device_kind: str | None = None
    client: str | None = None
    client_name: str | None = None
    admin: str | None = None
    ip: str | None = None
    src: str | None = None
    dst: str | None = None
    signature: str | None = None
    signature_id: str | None = None
    action: str | None = None
    network: str | None = None
    bssid: str | None = None
    family: str | None = None
    """A v2 row's `event` (its key's family: `DEVICE_UNREACHABLE` for `DEVICE_UNREACHABLE_WITH_DOWNLINKS`),
    matched like the key so firmware variants of a key land in the same rule."""
    remote: str | None = None
    """An IPS hit's address on the internet side (set by the engine, which knows the site's own)."""
    local: str | None = None
    """An IPS hit's address on the site's side (set by the engine)."""
    direction: str | None = None
    """An IPS hit's direction: inbound, outbound or internal (set by the engine)."""
    archived: bool = False
    """An alarm an admin has already handled (`archived: true` in list/alarm)."""
    attrs: dict[str, str] = field(default_factory=dict)
    ip_names: list[tuple[str, str]] = field(default_factory=list)
    """(IP, name) pairs a v2 row reveals for its client roles, so addresses can be named later."""
    deferred: tuple[Callable[[dict[str, str], dict[str, Any]], None], dict[str, Any]] | None = field(
        default=None, repr=False, compare=False)
    """The attributes not worked out yet: a function that stores them and the raw row it reads."""

    def value(self, name: str) -> str | None:
        """A field or attribute by name, for `where` conditions and grouping."""
        if name in EVENT_FIELDS:
            return getattr(self, name)
        return self.settled_attrs().get(name)

    def settled_attrs(self) -> dict[str, str]:
        """`attrs`, complete: the deferred ones are worked out on the first call.

        They come first, in their order, as if they had been stored when the event was built (each
        builder defers only the attributes it would have stored before any other).
        """
        if self.deferred is not None:
            fill, raw = self.deferred
            self.deferred = None
            attrs: dict[str, str] = {}
            fill(attrs, raw)
            attrs.update(self.attrs)
            self.attrs = attrs
        return self.attrs


EVENT_FIELDS = frozenset(Event.__dataclass_fields__) - {"attrs", "time", "kind", "ip_names", "deferred",
                                                         "archived"}
"""The Event fields that hold a single string, readable by name (`Event.value`)."""


def field_reader(name: str) -> Callable[[Event], str | None]:
    """A function that reads `name` of an event as `Event.value(name)` does.

    For the fields a rule filters or groups on, made once per rule instead of looked up per event: a
    plain field (`action`, `src`, `device`...) is read by an `attrgetter`, without a Python-level call.
    """
    if name in EVENT_FIELDS:
        return attrgetter(name)
    return partial(Event.value, name=name)


def normalize(record: Record, *, defer: bool = False) -> Event:
    """Turn one collected record into an `Event`, whatever its family and however malformed.

    With `defer`, the attributes that only explanations quote (SSID, channels, ports, countries...) are
    left to `Event.settled_attrs`: the engine needs them of one event per finding (its latest), and
    working them out for every event cost a tenth of the analysis.
    """
    raw = record.raw if isinstance(record.raw, dict) else {}
    builder = _BUILDERS.get(record.kind, _legacy)
    event = builder(record, raw)
    event.id = clean(record.id, MAX_NAME) or "?"
    if not defer:
        event.settled_attrs()
    return event


def _base(record: Record, key: str, message: str = "") -> Event:
    """An Event with the fields every family has; the builders fill in the rest.

    `key` and `message` must be clean already (`_key`, `clean(..., MAX_TEXT)`): v2 rows render their
    message clean, flows and rogue-AP rows have a constant key, and cleaning either a second time would
    only repeat the work.
    """
    # Positional: with 26 fields, matching keyword arguments to parameters costs a third of the call.
    # The order is id, time, kind, source, key, message.
    return Event("", record.time, record.kind, _source_name(record.source), key, message)


def _key(value: Any) -> str:
    """An event key from a controller value: clean, and never empty."""
    return clean(value) or "(no key)"


@lru_cache(maxsize=MAX_MEMO)
def _source_name(source: str) -> str:
    """A record's source name, clean and never empty.

    Memoised: the collector names a dozen sources, each on thousands of records.
    """
    return clean(source) or "?"


def _set_attrs(attrs: dict[str, str], pairs: Iterable[tuple[str, Any]]) -> None:
    """Store each (name, value) pair whose value is usable as a clean string in `attrs`."""
    for name, value in pairs:
        if value is not None:
            text = clean(value)
            if text is not None:
                attrs[name] = text


def _put(attrs: dict[str, str], raw: dict[str, Any], names: tuple[str, ...]) -> None:
    """Copy the named raw fields that are present into `attrs` as clean strings."""
    # The loop of `_set_attrs` without its list of pairs: this runs for many legacy and v2 rows.
    for name in names:
        # Most of the names are absent from any one row: test membership rather than clean a None.
        if name in raw:
            text = clean(raw[name])
            if text is not None:
                attrs[name] = text


def _legacy(record: Record, raw: dict[str, Any]) -> Event:
    """Legacy stat/event and list/alarm rows (and IPS rows that arrive through them)."""
    event = _base(record, _key(raw.get("key")), clean(raw.get("msg"), MAX_TEXT) or "")
    event.subsystem = clean(raw.get("subsystem"))
    event.device_kind, device_fields = _legacy_key(event.key)
    # Client rows (nearly all of them) carry none of these fields: one test spares the loop.
    if not raw.keys().isdisjoint(_LEGACY_DEVICE_FIELDS):
        for name in device_fields:
            # Most rows carry one or two of these fields: a membership test is cheaper than a call on None.
            mac = norm_mac(raw[name]) if name in raw else None
            if mac:
                event.device = mac
                event.device_name = clean(raw.get(f"{name}_name") or raw.get("device_name"))
                break
    for name in ("user", "client", "guest", "sta"):
        mac = norm_mac(raw[name]) if name in raw else None
        if mac:
            event.client = mac
            event.client_name = clean(raw.get("hostname") or raw.get("name"))
            break
    # Client and AP rows (nearly all of them) carry none of these: one test spares eight lookups.
    if not raw.keys().isdisjoint(_LEGACY_CONTEXT_FIELDS):
        event.admin = clean(raw.get("admin") or raw.get("admin_name"))
        event.ip = clean(raw.get("ip") or raw.get("remote_ip"), 64)
        event.network = clean(raw.get("network") or raw.get("iface") or raw.get("wan"))
        event.bssid = norm_mac(raw.get("bssid"))
    event.deferred = (_legacy_attrs, raw)
    state = clean(raw.get("state"))
    if event.key == "EVT_GW_WANTransition" and state is None:
        # Older firmware puts the direction only in the rendered message.
        state = "down" if re.search(r"\b(down|disconnected|failed|inactive)\b", event.message, re.I) else "up"
    if state is not None:
        event.attrs["state"] = state.lower()
    if "inner_alert_signature" in raw or "src_ip" in raw or event.key == "EVT_IPS_IpsAlert":
        _ips_fields(event, raw)
    if record.kind is RecordKind.ALARM and raw.get("archived") is True:
        event.archived = True
        _set_attrs(event.attrs, (("handled_time", raw.get("handled_time")),
                                 ("handled_admin", raw.get("handled_admin_id"))))
    return event


@lru_cache(maxsize=MAX_MEMO)
def _legacy_key(key: str) -> tuple[str | None, tuple[str, ...]]:
    """The device kind a legacy key names, and the device fields to read in order, its own family first.

    Memoised: it depends on the key alone, and a controller uses a few hundred keys over and over.
    """
    family = key.split("_")[1] if key.startswith("EVT_") and key.count("_") >= 2 else ""
    # The key's own family names the field to trust first (an AP event may also carry `sw`).
    preferred = (family.lower(),) if family.lower() in _LEGACY_DEVICE_FIELDS else ()
    return _DEVICE_KINDS.get(family), preferred + _LEGACY_DEVICE_FIELDS


def _legacy_attrs(attrs: dict[str, str], raw: dict[str, Any]) -> None:
    """A legacy row's deferred attributes (`Event.settled_attrs`)."""
    _put(attrs, raw, ("ssid", "radio", "channel", "channel_from", "channel_to", "version_from", "version_to",
                      "iface", "port", "port_idx", "network", "essid"))


def _ips_fields(event: Event, raw: dict[str, Any]) -> None:
    """IPS detail common to `EVT_IPS_IpsAlert` rows from events, alarms and stat/ips/event."""
    event.src = clean(raw.get("src_ip"), 64)
    event.dst = clean(raw.get("dest_ip") or raw.get("dst_ip"), 64)
    event.signature = clean(raw.get("inner_alert_signature"), 200)
    event.signature_id = clean(raw.get("inner_alert_signature_id"), 32)
    action = (clean(raw.get("inner_alert_action")) or "").lower()
    event.action = "blocked" if action in _BLOCKED_ACTIONS else "detected"
    catname = raw.get("catname")
    if isinstance(catname, list):
        catname = ", ".join(str(part) for part in catname[:5])
    _set_attrs(event.attrs, (
        ("signature_id", event.signature_id),
        ("ips_category", raw.get("inner_alert_category")),
        ("catname", catname),
        ("proto", raw.get("proto")),
        ("src_port", raw.get("src_port")),
        ("dst_port", raw.get("dest_port")),
        ("src_country", raw.get("srcipCountry") or as_dict(raw.get("srcipGeo")).get("country_code")),
        ("dst_country", raw.get("dstipCountry") or as_dict(raw.get("dstipGeo")).get("country_code")),
    ))
    if event.client is None:
        # The MAC on the internal side is a client; the other side's MAC is only the next router's.
        if is_internal_address(event.src):
            event.client = norm_mac(raw.get("src_mac"))
        elif is_internal_address(event.dst):
            event.client = norm_mac(raw.get("dst_mac"))


def is_internal_address(address: str | None) -> bool:
    """True for an address inside a site by its range alone (RFC 1918, CGNAT, loopback, link-local,
    ULA); False for internet and unparsable ones. The engine adds the site's own public addresses.

    IPv4 is decided from its first two numbers without parsing the address: this runs for both ends
    of every IPS hit, whose internet ends are too many for a memo to hold, and `ipaddress` would cost
    as much as the rest of the hit's handling.
    """
    if not address:
        return False
    first, _, rest = address.partition(".")
    if rest:
        second = rest.partition(".")[0]
        if first == "10" or first == "127":
            return True
        if not second.isdigit():
            return False
        if first == "192":
            return second == "168"
        if first == "172":
            return 16 <= int(second) <= 31
        if first == "169":
            return second == "254"
        if first == "100":
            return 64 <= int(second) <= 127
        return False
    return ":" in address and _internal_v6(address)


@lru_cache(maxsize=MAX_MEMO)
def _internal_v6(address: str) -> bool:
    """`is_internal_address` of an IPv6 address (memoised: parsing one costs microseconds)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in _INTERNAL_NETWORKS if network.version == parsed.version)


def _first_mac(roles: dict[str, dict[str, Any]], names: tuple[str, ...]) -> tuple[str, dict, str] | None:
    """The first of the parameter roles `names` that identifies a MAC: (role, parameter, MAC)."""
    for role in names:
        param = roles.get(role)
        if param is not None:
            mac = norm_mac(param.get("id")) or norm_mac(param.get("mac"))
            if mac:
                return role, param, mac
    return None


def _system_log(record: Record, raw: dict[str, Any]) -> Event:
    """A v2 system-log row: the message is `message_raw` with `{ROLE}` filled from `parameters`."""
    roles = _roles(raw)
    event = _base(record, _key(raw.get("key") or raw.get("event")), render_message(raw, roles))
    event.category = clean(raw.get("category"))
    event.subcategory = clean(raw.get("subcategory"))
    event.family = clean(raw.get("event"))
    event.deferred = (_system_log_attrs, raw)
    target = clean(raw.get("target"))
    device_roles = ((target,) if target in _DEVICE_ROLES else ()) + _DEVICE_ROLES
    found = _first_mac(roles, device_roles)
    if found:
        role, param, event.device = found
        event.device_name = clean(param.get("name"))
        model = clean(param.get("model_name") or param.get("model"))
        event.device_kind = "access point" if role == "AP" else _kind_from_model(model)
        if model:
            event.attrs["model"] = model
    # One pass over the client roles, in order, both picks the client (the first role with a MAC, as
    # `_first_mac` would) and collects the (IP, name) pairs, so each role's name is cleaned once.
    for role in _CLIENT_ROLES:
        param = roles.get(role)
        if param is None:
            continue
        name = clean(param.get("name") or param.get("hostname"))
        if event.client is None:
            mac = norm_mac(param.get("id")) or norm_mac(param.get("mac"))
            if mac:
                event.client, event.client_name = mac, name
        address = clean(param.get("ip"), 64)
        if address and name:
            event.ip_names.append((address, name))
    src = roles.get("SRC_IP") or roles.get("SRC_CLIENT") or _NONE
    dst = roles.get("DST_IP") or roles.get("DST_CLIENT") or _NONE
    event.src = clean(src.get("ip") or src.get("id"), 64)
    event.dst = clean(dst.get("ip") or dst.get("id"), 64)
    # A dozen lookups that find nothing on most rows (threats, client connects): one test spares them.
    if not _CONTEXT_ROLES.isdisjoint(roles):
        _context_roles(event, roles)
    key = event.key.upper()
    if event.category == "SECURITY" or key.startswith(("THREAT_", "TRAFFIC_BLOCKED", "HONEYPOT")):
        event.action = "blocked" if "BLOCKED" in key else "detected"
    return event


def _system_log_attrs(attrs: dict[str, str], raw: dict[str, Any]) -> None:
    """A v2 system-log row's deferred attributes (`Event.settled_attrs`)."""
    _put(attrs, raw, ("event", "severity", "type", "title_raw"))


def _context_roles(event: Event, roles: dict[str, dict[str, Any]]) -> None:
    """A v2 row's admin, address, network, trigger, SSID, channel and radio, from the roles naming them."""
    for role in _ADMIN_ROLES:
        param = roles.get(role)
        if param:
            event.admin = clean(param.get("name") or param.get("id"))
            event.ip = clean(param.get("ip"), 64)
            break
    event.ip = event.ip or clean(roles.get("IP", _NONE).get("id"), 64)
    for role in _NETWORK_ROLES:
        param = roles.get(role)
        if param is None:
            continue
        name = clean(param.get("name") or param.get("id"))
        if name:
            event.network = name
            break
    trigger = roles.get("TRIGGER", _NONE)
    _set_attrs(event.attrs, (
        ("trigger", trigger.get("name") or trigger.get("id")),
        ("ssid", roles.get("WLAN", _NONE).get("name")),
        ("channel", roles.get("CHANNEL", _NONE).get("name")),
        ("radio", roles.get("RADIO_BAND", _NONE).get("name")),
    ))


@lru_cache(maxsize=MAX_MEMO)
def _kind_from_model(model: str | None) -> str | None:
    """The device family from a UniFi model name (`U6-Lite`, `USW-24-PoE`, `UDM-Pro`), if recognisable.

    Memoised: a site has a handful of models, named on most v2 rows.
    """
    upper = (model or "").upper()
    for prefixes, kind in _MODEL_KINDS:
        if upper.startswith(prefixes):
            return kind
    return None


def _roles(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A v2 row's parameters by role, keeping only the object-valued ones.

    Only the roles this row carries (usually two or three of the twenty `_system_log` looks at); a role
    whose value is not an object is as good as absent.
    """
    return {role: param for role, param in as_dict(raw.get("parameters")).items() if isinstance(param, dict)}


def render_message(raw: dict[str, Any], roles: dict[str, dict[str, Any]] | None = None) -> str:
    """Render a v2 row's text as the UniFi UI does: `{ROLE}` becomes the parameter's name, else its id.

    Unknown placeholders stay as they are; an empty `message_raw` falls back to `title_raw`. `roles` is
    `_roles(raw)` when the caller has it already.
    """
    template = raw.get("message_raw")
    if not isinstance(template, str) or not template:
        return clean(raw.get("title_raw"), MAX_TEXT) or ""
    params = _roles(raw) if roles is None else roles
    # Cut before substituting so a megabyte template costs no more than a short one.
    parts = list(_template_parts(template[: MAX_TEXT * 4]))
    for index in range(1, len(parts), 2):
        param = params.get(parts[index], _NONE)
        parts[index] = clean(param.get("name")) or clean(param.get("id")) or f"{{{parts[index]}}}"
    return clean("".join(parts), MAX_TEXT) or ""


@lru_cache(maxsize=MAX_TEMPLATES)
def _template_parts(template: str) -> tuple[str, ...]:
    """A v2 template split at its `{ROLE}` placeholders, whose names are at the odd positions.

    Split rather than `sub` with a callback: no match object and no call per placeholder. Memoised:
    each event key has one template, so a site uses a few dozen of them over and over.
    """
    return tuple(_PLACEHOLDER.split(template))


def _traffic_flow(record: Record, raw: dict[str, Any]) -> Event:
    """A v2 traffic-flows row with IPS detail: the only v2 source that names the signature."""
    ips = as_dict(raw.get("ips"))
    source, destination = as_dict(raw.get("source")), as_dict(raw.get("destination"))
    action = (clean(raw.get("action")) or "").lower()
    signature = clean(ips.get("advanced_information") or ips.get("signature"), 200)
    event = _base(record, "TRAFFIC_FLOW_IPS")
    event.src = clean(source.get("ip"), 64)
    event.dst = clean(destination.get("ip"), 64)
    event.client = norm_mac(source.get("mac"))
    event.signature = signature
    event.signature_id = clean(ips.get("signature_id"), 32)
    event.action = "blocked" if action in _BLOCKED_ACTIONS else "detected"
    event.deferred = (_traffic_flow_attrs, raw)
    event.message = _cut(
        f"IPS {event.action}: {signature or 'unnamed signature'} from {event.src or '?'} "
        f"to {event.dst or '?'}", MAX_TEXT)
    return event


def _traffic_flow_attrs(attrs: dict[str, str], raw: dict[str, Any]) -> None:
    """A traffic flow's deferred attributes (`Event.settled_attrs`): all of them."""
    ips = as_dict(raw.get("ips"))
    source, destination = as_dict(raw.get("source")), as_dict(raw.get("destination"))
    _set_attrs(attrs, (
        ("signature_id", clean(ips.get("signature_id"), 32)),
        ("ips_category", ips.get("category_name") or ips.get("ips_category")),
        ("risk", raw.get("risk")),
        ("proto", raw.get("protocol")),
        ("service", raw.get("service")),
        ("src_port", source.get("port")),
        ("dst_port", destination.get("port")),
        ("src_country", source.get("region")),
        ("dst_country", destination.get("region")),
    ))


def _cut(text: str, limit: int) -> str:
    """`clean(text, limit)` for a text made of printable words and clean values that begins and ends
    with neither blank nor control character: nothing to replace or strip, only the cut is left."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _anomaly(record: Record, raw: dict[str, Any]) -> Event:
    """A stat/anomalies row (one per timestamp): an anomaly name and the MAC it concerns."""
    name = clean(raw.get("anomaly")) or "UNKNOWN"
    event = _base(record, _key(f"ANOMALY_{name}"), clean(f"Anomaly {name}", MAX_TEXT) or "")
    # The MAC may be a device or a client; names are resolved later and a known device wins.
    event.client = norm_mac(raw.get("mac"))
    event.attrs["anomaly"] = name
    return event


def _rogue_ap(record: Record, raw: dict[str, Any]) -> Event:
    """A stat/rogueap row: a neighbouring BSSID heard by one of our APs, flagged when rogue."""
    event = _base(record, "ROGUE_AP")
    event.bssid = norm_mac(raw.get("bssid")) or clean(raw.get("bssid"))
    event.device = norm_mac(raw.get("ap_mac"))
    event.device_kind = "access point"
    rogue = raw.get("is_rogue")
    event.attrs["is_rogue"] = "true" if rogue is True or str(rogue).lower() in {"true", "1"} else "false"
    _put(event.attrs, raw, ("essid", "channel", "band", "rssi", "signal", "security"))
    event.network = event.attrs.get("essid")
    event.message = clean(
        f"Network {event.attrs.get('essid', '(hidden)')} ({event.bssid or '?'}) heard on channel "
        f"{event.attrs.get('channel', '?')}", MAX_TEXT) or ""
    return event


_BUILDERS = {
    RecordKind.SYSTEM_LOG: _system_log,
    RecordKind.EVENT: _legacy,
    RecordKind.ALARM: _legacy,
    RecordKind.THREAT: _legacy,
    RecordKind.TRAFFIC_FLOW: _traffic_flow,
    RecordKind.ANOMALY: _anomaly,
    RecordKind.ROGUE_AP: _rogue_ap,
}
