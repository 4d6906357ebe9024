"""Checks over current state: what a `Device` or `Health` item says is wrong right now.

Each check takes the item and the thresholds from its catalogue entry and returns the facts the
finding quotes (as strings), or None when all is well. A returned `severity` overrides the rule's
default for that item (an offline gateway is worse than an offline access point). The catalogue names
the check; this registry is the only code per check, so thresholds stay in `rules.yaml`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from unifi_scanner.analyzer.normalize import GATEWAY_TYPES, as_dict, clean, to_float
from unifi_scanner.models import Device, Health

Facts = dict[str, str]


def _fmt(number: float) -> str:
    """A reading without a pointless `.0`, else with one decimal."""
    return f"{number:.0f}" if number == int(number) else f"{number:.1f}"


def firmware_upgradable(device: Device, params: dict[str, Any]) -> Facts | None:
    """The controller offers newer firmware for this device."""
    if not device.upgradable:
        return None
    return {"version": device.version or "unknown", "upgrade_to": device.upgrade_to or "a newer release"}


def firmware_outdated(device: Device, params: dict[str, Any]) -> Facts | None:
    """The model is end-of-life or unsupported, or runs below the version the controller requires."""
    raw = device.raw
    required = clean(raw.get("required_version"))
    if raw.get("model_in_eol") is True or raw.get("unsupported") is True:
        return {"version": device.version or "unknown", "limit": "is end-of-life or unsupported"}
    if required and device.version and _version_key(device.version) < _version_key(required):
        return {"version": device.version, "limit": f"is below the required version {required}"}
    return None


def _version_key(version: str) -> tuple[int, ...]:
    """A firmware version as a tuple of integers, for ordering."""
    parts = []
    for piece in version.replace("-", ".").split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def high_cpu(device: Device, params: dict[str, Any]) -> Facts | None:
    """CPU use at or above `percent`."""
    value = device.cpu_percent
    return {"cpu": _fmt(value)} if value is not None and value >= params.get("percent", 90) else None


def high_memory(device: Device, params: dict[str, Any]) -> Facts | None:
    """Memory use at or above `percent`."""
    value = device.mem_percent
    return {"mem": _fmt(value)} if value is not None and value >= params.get("percent", 90) else None


def overheating(device: Device, params: dict[str, Any]) -> Facts | None:
    """The device itself reports overheating."""
    if device.overheating is not True:
        return None
    temp = device.temperature_c
    return {"temp": _fmt(temp) if temp is not None else "unknown"}


def high_temperature(device: Device, params: dict[str, Any]) -> Facts | None:
    """The hottest sensor at or above `celsius` while the device does not (yet) call it overheating."""
    temp = device.temperature_c
    if temp is None or device.overheating is True or temp < params.get("celsius", 80):
        return None
    return {"temp": _fmt(temp)}


def device_offline(device: Device, params: dict[str, Any]) -> Facts | None:
    """An adopted device in one of the `states` that mean it is not working (at collection time)."""
    state = device.state.lower().replace("_", " ")
    if device.adopted is False or state not in params.get("states", ["disconnected"]):
        return None
    facts = {"device_state": state}
    if (device.device_type or "").lower() in GATEWAY_TYPES:
        facts["severity"] = params.get("gateway_severity", "severe")
    return facts


def pending_adoption(device: Device, params: dict[str, Any]) -> Facts | None:
    """A UniFi device that announced itself and waits to be adopted (not adopted, or in `states`)."""
    state = device.state.lower().replace("_", " ")
    if device.adopted is not False and state not in params.get("states", ["pending"]):
        return None
    return {"device_state": state, "device_ip": device.ip or "not reported"}


def poe_budget(device: Device, params: dict[str, Any]) -> Facts | None:
    """PoE draw (sum of `port_table[].poe_power`) at or above `percent` of the switch's budget."""
    raw = device.raw
    budget = to_float(raw.get("total_max_power")) or to_float(raw.get("poe_budget"))
    ports = raw.get("port_table")
    if not budget or not isinstance(ports, list):
        return None
    used = sum(to_float(as_dict(port).get("poe_power")) or 0.0 for port in ports)
    if used * 100 / budget < params.get("percent", 90):
        return None
    return {"poe_used": _fmt(used), "poe_budget": _fmt(budget)}


def health_not_ok(health: Health, params: dict[str, Any]) -> Facts | None:
    """A stat/health subsystem whose status is not `ok`."""
    status = (clean(health.status) or "unknown").lower()
    if status == "ok":
        return None
    facts = {"device_state": status}
    if health.subsystem.lower() in params.get("severe_subsystems", []):
        facts["severity"] = "severe"
    return facts


def internet_quality(health: Health, params: dict[str, Any]) -> Facts | None:
    """Latency, drops or availability over thresholds in the `www` and `wan` health rows."""
    raw = health.raw
    subsystem = health.subsystem.lower()
    if subsystem == "www":
        latency, drops, availability = to_float(raw.get("latency")), to_float(raw.get("drops")), None
    elif subsystem == "wan":
        wan = as_dict(as_dict(raw.get("uptime_stats")).get("WAN"))
        latency, drops = to_float(wan.get("latency_average")), None
        availability = to_float(wan.get("availability"))
    else:
        return None
    bad = (
        (latency is not None and latency >= params.get("latency_ms", 100))
        or (drops is not None and drops >= params.get("drops", 10))
        or (availability is not None and availability < params.get("availability_percent", 99))
    )
    if not bad:
        return None
    facts = {}
    for name, value in (("latency", latency), ("drops", drops), ("availability", availability)):
        if value is not None:
            facts[name] = _fmt(value)
    return facts


CHECKS: dict[str, tuple[type[Device] | type[Health], Callable[[Any, dict[str, Any]], Facts | None]]] = {
    "firmware_upgradable": (Device, firmware_upgradable),
    "firmware_outdated": (Device, firmware_outdated),
    "high_cpu": (Device, high_cpu),
    "high_memory": (Device, high_memory),
    "overheating": (Device, overheating),
    "high_temperature": (Device, high_temperature),
    "device_offline": (Device, device_offline),
    "pending_adoption": (Device, pending_adoption),
    "poe_budget": (Device, poe_budget),
    "health_not_ok": (Health, health_not_ok),
    "internet_quality": (Health, internet_quality),
}
"""Check name (as used in rules.yaml) -> (the item type it reads, the check)."""
