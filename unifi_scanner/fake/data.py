"""Deterministic data of the fake controller: its sites, their devices and clients, and their event logs.

Everything derives from one seed and the site's name, so a test can rebuild the same site twice, and
the sites of one controller never share a MAC or a record id. Events are stored as compact parallel
arrays (time, kind, device, client, a 32-bit random word) and turned into the controller's JSON shapes
only when a page is served, which keeps a million events in a few tens of megabytes. Each stored event
is one underlying occurrence; depending on its kind it is served as a v2 system-log row, a legacy
``stat/event`` row and/or an IPS row (``stat/ips/event`` and traffic flows), always under the same
24-hex id. Alarms that repeat an event carry an id of their own, as on real controllers, with the same
key, device and time.

The log is a scored corpus: a routine background that needs no action from an admin (client churn,
blocked inbound scans from many sources, firewall blocks, the odd channel change, admin logins from
each admin's usual address) plus a scripted scenario whose expected findings `expected_findings`
lists. Only a scripted site (a controller's first) plays the whole scenario; any other site is calm
but for one incident of its own.

Devices' ``stat/device`` rows are the one record of their state; `set_connected` changes a row in
place when the fake takes a device down or brings it back between runs.
"""

from __future__ import annotations

import hashlib
import random
import time
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

# --------------------------------------------------------------------------------------------------
# v2 enums (reference §3.2 and §6.2)

V2_CATEGORIES = (
    "SECURITY",
    "UNIFI_DEVICES",
    "SOFTWARE_UPDATES",
    "VPN",
    "POWER",
    "UNIFI_ETHERNET_PORTS",
    "CLIENT_DEVICES",
    "UNKNOWN",
    "AUDIT",
    "INTERNET_AND_WAN",
)
V2_SEVERITIES = ("LOW", "MEDIUM", "HIGH", "VERY_HIGH")

HOUR_MS = 3_600_000

# --------------------------------------------------------------------------------------------------
# Site model


@dataclass(frozen=True)
class Device:
    """A UniFi device of the fake site; ``record`` is its full ``stat/device`` row."""

    mac: str
    name: str
    model: str
    model_name: str
    type: str  # uap, usw, udm, ucg, ugw
    ip: str
    version: str
    record: dict[str, Any]

    @property
    def state(self) -> int:
        """The ``stat/device`` state (0 disconnected, 1 connected, 2 pending), read from the row.

        The row is the only copy, because `set_connected` changes it while the fake serves.
        """
        return self.record["state"]

    @property
    def legacy_prefix(self) -> str:
        """The device family in legacy event keys (``EVT_AP_…``, ``EVT_SW_…``, ``EVT_GW_…``)."""
        return {"uap": "AP", "usw": "SW"}.get(self.type, "GW")

    @property
    def msg_label(self) -> str:
        """How legacy ``msg`` strings name this device family (``AP[mac]``, ``Switch[mac]``)."""
        return {"uap": "AP", "usw": "Switch"}.get(self.type, "Gateway")


@dataclass(frozen=True)
class Client:
    """A client of the fake site; ``record`` is its ``stat/sta`` row."""

    mac: str
    name: str | None
    hostname: str | None
    ip: str
    is_wired: bool
    record: dict[str, Any]

    @property
    def display(self) -> str:
        """The label the controller shows: alias, else hostname, else MAC."""
        return self.name or self.hostname or self.mac


@dataclass(frozen=True)
class Site:
    """The generated site: identity, infrastructure, clients and controller-level facts."""

    name: str
    site_id: str
    desc: str
    machine: str  # 6 hex digits used in every record id, like the machine part of a Mongo ObjectId
    devices: tuple[Device, ...]
    clients: tuple[Client, ...]
    gateway: int
    aps: tuple[int, ...]  # online APs that clients use
    switches: tuple[int, ...]
    flapping_ap: int
    offline_ap: int
    pending_ap: int | None  # waiting for adoption: state 2, not adopted, hostile name (scripted sites)
    archived_ap: int  # healthy; its only trouble is an alarm an admin archived
    outdated_switch: int  # runs below its required_version; a very long name
    wifi_clients: tuple[int, ...]
    wired_clients: tuple[int, ...]
    servers: tuple[int, ...]  # wired hosts behind port forwards, the targets of inbound scans
    c2_client: int  # the Wi-Fi client that beacons to a C2 address; hostile name
    conflict_client: int
    conflict_partner: int  # the other side of the IP conflict
    wan_ip: str
    isp_name: str
    backup_isp_name: str
    admins: tuple[tuple[str, str], ...]  # (admin _id, admin name)
    # Whether the site plays the whole scenario; otherwise it is calm but for its offline AP.
    scripted: bool = True


# Ubiquiti OUIs and common client vendors; the rest of each MAC comes from the seeded RNG.
_UBNT_OUIS = ("24:5a:4c", "74:83:c2", "f4:92:bf", "e4:38:83", "78:45:58", "9c:05:d6", "ac:8b:a9", "d0:21:f9")

# Hostile names of the scenario, public so that report tests can look for them.
PENDING_AP_NAME = "<img src=x onerror=alert(1)>"
C2_CLIENT_NAME = "Workstation 7\r\nBcc: evil@example.net"
LONG_NAME = (
    "Lab Flex Mini under the workbench in room 4.17, behind the oscilloscope cart, patched to wall port B-12;"
    " ask facilities before unplugging it, because it also feeds the door badge reader, the two test phones"
    " and the label printer that the warehouse team borrows every Friday afternoon"
)

# (alias or None, hostname or None, OUI prefix, vendor, wired)
_CLIENT_TEMPLATES: tuple[tuple[str | None, str | None, str, str, bool], ...] = (
    ("Anna's iPhone", "Annas-iPhone", "f0:18:98", "Apple, Inc.", False),
    ("Ben's MacBook Pro", "Bens-MacBook-Pro", "a4:83:e7", "Apple, Inc.", False),
    ("Reception PC", "RECEPTION-PC", "3c:52:82", "Hewlett Packard", True),
    ("Lab-Camera", "lab-cam", "2c:aa:8e", "Wyze Labs Inc", False),
    ("Living Room TV", "LG-webOS-TV", "a8:23:fe", "LG Electronics", False),
    (None, "Galaxy-S23", "8c:79:f5", "Samsung Electronics Co.,Ltd", False),
    ("Office Printer", "HP-LaserJet-M404", "70:5a:0f", "Hewlett Packard", True),
    ("Front Door Doorbell", "ring-doorbell", "34:3e:a4", "Ring LLC", False),
    (None, "chromecast-kitchen", "f4:f5:d8", "Google, Inc.", False),
    ("Carla's Pixel", "Pixel-8", "3c:28:6d", "Google, Inc.", False),
    ("NAS", "synology-ds920", "00:11:32", "Synology Incorporated", True),
    ("Thermostat", "ecobee-thermostat", "44:61:32", "ecobee inc", False),
    (None, None, "b0:be:76", "TP-LINK TECHNOLOGIES CO.,LTD.", False),
    ("Conference Room Display", "cr-display", "dc:a6:32", "Raspberry Pi Trading Ltd", True),
    ("Dan's ThinkPad", "DAN-THINKPAD", "98:fa:9b", "LCFC(HeFei) Electronics Technology", False),
    (None, "iPad", "28:6a:ba", "Apple, Inc.", False),
    ("Warehouse Scanner 1", "zebra-tc52-01", "94:fb:29", "Zebra Technologies Inc.", False),
    ("Warehouse Scanner 2", "zebra-tc52-02", "94:fb:29", "Zebra Technologies Inc.", False),
    ("Sonos Kitchen", "Sonos-Kitchen", "48:a6:b8", "Sonos, Inc.", False),
    ("Nest Protect", None, "18:b4:30", "Nest Labs Inc.", False),
    (None, "android-4f2a9c1e", "5c:e8:eb", "Samsung Electronics Co.,Ltd", False),
    ("Eve's Apple Watch", "Eves-Apple-Watch", "bc:d0:74", "Apple, Inc.", False),
    ("Guest Laptop", "DESKTOP-7Q2M1LK", "f8:ac:65", "Intel Corporate", False),
    (None, "espressif-plug-3", "24:0a:c4", "Espressif Inc.", False),
    ("Backup Server", "backup01", "00:25:90", "Super Micro Computer, Inc.", True),
    ("Fiona's iPhone", "Fionas-iPhone", "f0:18:98", "Apple, Inc.", False),
    ("Xbox", "XboxOne", "7c:ed:8d", "Microsoft", False),
    (None, "HS105", "50:c7:bf", "TP-LINK TECHNOLOGIES CO.,LTD.", False),
    ("Security NVR", "nvr-01", "e0:63:da", "Ubiquiti Inc", True),
    ("George's Surface", "GEORGE-SURFACE", "c4:9d:ed", "Microsoft Corporation", False),
    ("Meeting Room Tablet", "galaxy-tab-a8", "8c:79:f5", "Samsung Electronics Co.,Ltd", False),
    (None, "Hannahs-MBP", "a4:83:e7", "Apple, Inc.", False),
    ("Kitchen Fridge", "samsung-fridge", "70:2c:1f", "Samsung Electronics Co.,Ltd", False),
    ("VoIP Phone 101", "yealink-t46u", "80:5e:c0", "Yealink(Xiamen) Network Technology", True),
    ("VoIP Phone 102", "yealink-t46u-2", "80:5e:c0", "Yealink(Xiamen) Network Technology", True),
    ("Ian's Pixel", "Pixel-7a", "3c:28:6d", "Google, Inc.", False),
    (None, "Roku-Ultra", "d8:31:34", "Roku, Inc", False),
    ("Shelly Garage", "shelly1-garage", "c4:5b:be", "Espressif Inc.", False),
    ("Julia's iPad", "Julias-iPad", "28:6a:ba", "Apple, Inc.", False),
    ("Lab Raspberry Pi", "raspberrypi", "dc:a6:32", "Raspberry Pi Trading Ltd", True),
    (None, "Kindle-4B2C", "74:c2:46", "Amazon Technologies Inc.", False),
    ("Kevin's OnePlus", "OnePlus-11", "94:65:2d", "OnePlus Technology (Shenzhen) Co., Ltd", False),
    # The C2 client has a hostile name (reports must escape it and keep it out of headers); the
    # tablet is the other side of the IP conflict.
    (C2_CLIENT_NAME, "WS7", "d4:5d:64", "ASUSTek COMPUTER INC.", False),
    ("Front Desk Tablet", "galaxy-tab-s9", "8c:79:f5", "Samsung Electronics Co.,Ltd", False),
)

_SSIDS = ("Northwind", "Northwind-IoT", "Northwind-Guest")
_SERVERS = ("synology-ds920", "backup01", "nvr-01")


def seeded_rng(label: str) -> random.Random:
    """A deterministic RNG for generated test data (never used for anything secret)."""
    return random.Random(label)  # noqa: S311 - reproducible fake data is the point


def _mac(rng: random.Random, oui: str) -> str:
    return oui + "".join(f":{rng.randrange(256):02x}" for _ in range(3))


def _hex_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(96):024x}"


def site_label(label: str, site: str) -> str:
    """A seed label (for an RNG or a derived id) of the site named ``site``.

    The site called "default" keeps the bare label, so a single-site controller serves exactly the
    data it served before sites existed; any other site qualifies the label with its name.
    """
    return label if site == "default" else f"{label}:{site}"


def site_desc(name: str, position: int) -> str:
    """The human name (``desc``) of a site from its ``name`` and its place in the controller's list.

    The second site's description is hostile but valid (an ampersand, quotes, an apostrophe, a dash
    and an umlaut), because reports and subjects show it where they show the site.
    """
    if name == "default":
        return "Default"
    title = name.replace("_", " ").replace("-", " ").title()
    return f'{title} – O\'Brien & Söhne "Annex"' if position == 1 else title


def alarm_machine(machine: str) -> str:
    """The machine part of alarm ids at a site whose events use ``machine``: alarms get ids of their own."""
    return f"{int(machine, 16) ^ 0xA1A2A3:06x}"


def make_id(time_ms: int, machine: str, idx: int) -> str:
    """The 24-hex record id of event ``idx``: epoch seconds, machine part, then a per-event counter."""
    return f"{(time_ms // 1000) & 0xFFFFFFFF:08x}{machine}{idx:010x}"


def iso_utc(time_ms: int) -> str:
    """Legacy ``datetime`` field: ISO-8601 UTC, second precision, trailing ``Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time_ms // 1000))


@dataclass(frozen=True)
class GatewaySpec:
    """What distinguishes the gateway of each profile (model code, type, firmware)."""

    model: str
    model_name: str
    type: str
    version: str
    wan_iface: str
    backup_iface: str
    has_storage: bool


GATEWAYS = {
    "ucg_ultra": GatewaySpec("UDRULT", "UCG Ultra", "ucg", "4.3.6.29342", "eth4", "eth3", False),
    "udm_pro": GatewaySpec("UDMPRO", "UDM Pro", "udm", "4.1.13.23743", "eth8", "eth9", True),
    "usg_3p": GatewaySpec("UGW3", "USG 3P", "ugw", "4.4.57.5578372", "eth0", "eth2", False),
}


# Where in the generated window the offline AP dropped out, as a fraction of the window.
OFFLINE_AT = 0.08


def build_site(
    seed: int,
    gateway: GatewaySpec,
    now_ms: int,
    span_ms: int,
    *,
    name: str = "default",
    desc: str = "Default",
    scripted: bool = True,
    taken: set[str] | None = None,
) -> Site:
    """Generate the site ``name``: a gateway, three switches, five adopted APs (one flapping, one
    offline), on a scripted site one AP waiting for adoption, and ~45 clients.

    The offline AP was last seen when its ``DEVICE_UNREACHABLE`` event happens in the scenario. On a
    scripted site the core switch overheats and the Flex Mini runs below its required firmware; every
    other device is healthy at report time. ``taken`` holds the MACs and id machine parts that other
    sites of the controller already use: the site draws none of them, and adds its own.
    """
    rng = seeded_rng(site_label(f"site:{seed}", name))
    taken = set() if taken is None else taken
    site_id = _hex_id(rng)
    while True:
        machine = f"{rng.getrandbits(24):06x}"
        # Alarm ids use a second machine part; neither may be another site's event or alarm part.
        own = {machine, alarm_machine(machine)}
        if not own & taken:
            taken |= own
            break
    now_s = now_ms // 1000
    offline_since_s = (now_ms - span_ms + int(span_ms * OFFLINE_AT)) // 1000

    def fresh_mac(oui: str) -> str:
        while True:
            mac = _mac(rng, oui)
            if mac not in taken:
                taken.add(mac)
                return mac

    wan_ip = f"203.0.113.{rng.randrange(2, 250)}"
    devices: list[Device] = []

    gw_mac = fresh_mac(rng.choice(_UBNT_OUIS))
    sw_specs = (
        ("Core Switch", "USW24P250", "USW 24 PoE 250W", 26, range(1, 17), "7.1.26.15869", "7.2.123.16565"),
        ("Desk Switch", "USL8LP", "USW Lite 8 PoE", 8, range(1, 5), "7.2.123.16565", None),
        (LONG_NAME, "USMINI", "USW Flex Mini", 5, range(0), "2.1.6.762", None),
    )
    ap_specs = (
        ("Office AP", "U6PRO", "U6 Pro", "6.7.31.15618", "6.7.35.15639", 1),
        ("Lobby AP", "U6LR", "U6 LR", "6.7.35.15639", None, 1),
        ("Warehouse AP", "U6LITE", "U6 Lite", "6.6.77.15402", "6.7.35.15639", 1),  # flapping
        ("Conference Room AP", "U7PRO", "U7 Pro", "7.0.66.16112", None, 1),
        ("Patio AP", "UAPACPRO", "UAP AC Pro", "6.6.55.15189", None, 0),  # offline
    )

    # Gateway ports: port 1 is the WAN, port 2 feeds the core switch.
    core_mac = fresh_mac(rng.choice(_UBNT_OUIS))
    gw_ports = [
        _port(rng, 1, up=True, poe=False, uplink=False, name="Port 1 (WAN)"),
        _port(rng, 2, up=True, poe=False, uplink=False),
        _port(rng, 3, up=False, poe=False, uplink=False),
        _port(rng, 4, up=False, poe=False, uplink=False),
    ]
    gw_rec = _device_record(
        rng,
        site_id,
        gw_mac,
        f"{gateway.model_name.replace(' ', '-')} HQ",
        gateway.model,
        gateway.type,
        "192.168.1.1",
        gateway.version,
        state=1,
        now_s=now_s,
        upgrade_to=None,
        ports=gw_ports,
        uplink={"type": "wire", "speed": 1000, "full_duplex": True, "name": gateway.wan_iface},
        temps=[
            {"name": "CPU", "type": "cpu", "value": 61.3},
            {"name": "Local", "type": "board", "value": 47.9},
        ],
    )
    gw_rec["wan1"] = {
        "name": "wan",
        "ifname": gateway.wan_iface,
        "ip": wan_ip,
        "up": True,
        "speed": 1000,
        "full_duplex": True,
        "gateway": "203.0.113.1",
        "netmask": "255.255.255.0",
    }
    gw_rec["wan2"] = {
        "name": "wan2",
        "ifname": gateway.backup_iface,
        "up": True,
        "speed": 100,
        "full_duplex": True,
    }
    gw_rec["speedtest-status"] = {
        "latency": 11,
        "rundate": now_s - 6 * 3600,
        "runtime": 18,
        "status_summary": "Success",
        "xput_download": 938.6,
        "xput_upload": 41.2,
    }
    gw_rec["uptime_stats"] = {"WAN": {"availability": 99.6, "latency_average": 12, "time_period": 86400}}
    gw_rec["storage"] = (
        [
            {
                "mount_point": "/volume1",
                "name": "HDD",
                "size": 3_998_833_664_000,
                "used": 812_311_044_096,
                "type": "hdd",
            }
        ]
        if gateway.has_storage
        else None
    )
    devices.append(
        Device(
            gw_mac,
            gw_rec["name"],
            gateway.model,
            gateway.model_name,
            gateway.type,
            "192.168.1.1",
            gateway.version,
            gw_rec,
        )
    )

    sw_macs = [core_mac, fresh_mac(rng.choice(_UBNT_OUIS)), fresh_mac(rng.choice(_UBNT_OUIS))]
    ap_macs = [fresh_mac(rng.choice(_UBNT_OUIS)) for _ in ap_specs]
    # AP i hangs off core switch PoE port 3+i; the desk switch on core port 1, the flex mini on desk port 8.
    for i, (dev_name, model, model_name, nports, poe_ports, version, upgrade_to) in enumerate(sw_specs):
        ports = []
        for p in range(1, nports + 1):
            feeds_ap = i == 0 and 3 <= p <= 3 + len(ap_specs)  # port 8: the AP waiting for adoption
            up = p in (1, 2) or feeds_ap or (p % 3 == 0 and p < nports - 2) or (i == 1 and p == 8)
            if i == 0 and p == 3 + 4:  # the offline AP's port
                up = False
            ports.append(_port(rng, p, up=up, poe=p in poe_ports, uplink=p == nports))
        if i == 0:
            ports[9]["rx_errors"] = 18_342  # a bad cable the analyzer can spot
            ports[4]["poe_power"] = "14.86"
        uplink_mac, uplink_port = (gw_mac, 2) if i == 0 else ((sw_macs[0], 1) if i == 1 else (sw_macs[1], 8))
        rec = _device_record(
            rng,
            site_id,
            sw_macs[i],
            dev_name,
            model,
            "usw",
            f"192.168.1.{2 + i}",
            version,
            state=1,
            now_s=now_s,
            upgrade_to=upgrade_to,
            ports=ports,
            uplink={
                "type": "wire",
                "speed": 1000,
                "full_duplex": True,
                "uplink_mac": uplink_mac,
                "uplink_remote_port": uplink_port,
            },
            temps=None,
        )
        if i == 2 and scripted:
            rec["required_version"] = "2.1.8.773"
        if i == 0 and scripted:
            rec["general_temperature"] = 71
            rec["has_temperature"] = True
            rec["overheating"] = True
            rec["has_fan"] = True
            rec["fan_level"] = 90
        devices.append(Device(sw_macs[i], dev_name, model, model_name, "usw", rec["ip"], version, rec))

    for i, (dev_name, model, model_name, version, upgrade_to, state) in enumerate(ap_specs):
        rec = _device_record(
            rng,
            site_id,
            ap_macs[i],
            dev_name,
            model,
            "uap",
            f"192.168.1.{10 + i}",
            version,
            state=state,
            now_s=now_s,
            upgrade_to=upgrade_to,
            ports=None,
            uplink={
                "type": "wire",
                "speed": 1000,
                "full_duplex": True,
                "uplink_mac": sw_macs[0],
                "uplink_remote_port": 3 + i,
            },
            temps=None,
        )
        if state == 0:
            rec["last_seen"] = offline_since_s
        rec["radio_table"] = [
            {"name": "wifi0", "radio": "ng", "channel": (1, 6, 11)[i % 3], "ht": 20, "tx_power_mode": "auto"},
            {
                "name": "wifi1",
                "radio": "na",
                "channel": (36, 44, 52, 149, 157)[i],
                "ht": 80,
                "tx_power_mode": "auto",
            },
        ]
        devices.append(Device(ap_macs[i], dev_name, model, model_name, "uap", rec["ip"], version, rec))

    pending_ap = None
    if scripted:
        # A new AP on core port 8, announced but not adopted: state 2 ("pending"), factory firmware.
        pending_mac = fresh_mac(rng.choice(_UBNT_OUIS))
        pending = _device_record(
            rng,
            site_id,
            pending_mac,
            PENDING_AP_NAME,
            "U6PLUS",
            "uap",
            "192.168.1.15",
            "6.5.28.14491",
            state=2,
            now_s=now_s,
            upgrade_to=None,
            ports=None,
            uplink={"type": "wire", "speed": 1000, "full_duplex": True,
                    "uplink_mac": sw_macs[0], "uplink_remote_port": 3 + len(ap_specs)},
            temps=None,
        )
        pending.update(adopted=False, default=True, discovered_via="l2")
        pending_ap = len(devices)
        devices.append(Device(pending_mac, PENDING_AP_NAME, "U6PLUS", "U6+", "uap", pending["ip"],
                              pending["version"], pending))

    gateway_idx, switch_idx = 0, (1, 2, 3)
    ap_idx = tuple(range(4, 4 + len(ap_specs)))
    offline_ap = ap_idx[4]
    online_aps = ap_idx[:4]

    clients: list[Client] = []
    for n, (alias, hostname, oui, vendor, wired) in enumerate(_CLIENT_TEMPLATES):
        mac = fresh_mac(oui)
        ip = f"192.168.1.{100 + n}" if n % 5 else f"192.168.20.{100 + n}"
        first_seen = now_s - rng.randrange(5, 400) * 86400
        rec: dict[str, Any] = {
            "_id": _hex_id(rng),
            "site_id": site_id,
            "mac": mac,
            "oui": vendor,
            "ip": ip,
            "is_wired": wired,
            "is_guest": alias == "Guest Laptop",
            "first_seen": first_seen,
            "last_seen": now_s - rng.randrange(0, 120),
            "uptime": rng.randrange(60, 7 * 86400),
            "network": "Default" if n % 5 else "IoT",
            "network_id": "",
            "blocked": False,
            "tx_bytes": rng.randrange(10**6, 10**10),
            "rx_bytes": rng.randrange(10**6, 10**10),
            "satisfaction": rng.choice((100, 98, 96, 91, 87, 64)),
        }
        if alias:
            rec["name"] = alias
        if hostname:
            rec["hostname"] = hostname
        if wired:
            sw = devices[switch_idx[n % 2]]
            rec.update(sw_mac=sw.mac, sw_port=2 + n % 5)
        else:
            ap = devices[online_aps[n % len(online_aps)]]
            radio = "na" if n % 3 else "ng"
            rec.update(
                ap_mac=ap.mac,
                essid=_SSIDS[0 if n % 5 else 1] if alias != "Guest Laptop" else _SSIDS[2],
                radio=radio,
                channel=36 if radio == "na" else 6,
                rssi=rng.randrange(10, 55),
                signal=-rng.randrange(45, 85),
            )
        clients.append(Client(mac, alias, hostname, ip, wired, rec))

    wifi = tuple(i for i, c in enumerate(clients) if not c.is_wired)
    names = [c.name for c in clients]
    return Site(
        name=name,
        site_id=site_id,
        desc=desc,
        machine=machine,
        devices=tuple(devices),
        clients=tuple(clients),
        gateway=gateway_idx,
        aps=online_aps,
        switches=switch_idx,
        flapping_ap=ap_idx[2],
        offline_ap=offline_ap,
        pending_ap=pending_ap,
        archived_ap=ap_idx[3],
        outdated_switch=switch_idx[2],
        wifi_clients=wifi,
        wired_clients=tuple(i for i, c in enumerate(clients) if c.is_wired),
        servers=tuple(i for i, c in enumerate(clients) if c.hostname in _SERVERS),
        c2_client=names.index(C2_CLIENT_NAME),
        conflict_client=wifi[3],
        conflict_partner=names.index("Front Desk Tablet"),
        wan_ip=wan_ip,
        isp_name="Northwind Fiber",
        backup_isp_name="Contoso LTE",
        admins=((_hex_id(rng), "admin"), (_hex_id(rng), "jsmith")),
        scripted=scripted,
    )


def _port(
    rng: random.Random, idx: int, *, up: bool, poe: bool, uplink: bool, name: str | None = None
) -> dict[str, Any]:
    """One ``port_table`` row; a port that is down has carried no traffic."""
    port: dict[str, Any] = {
        "port_idx": idx,
        "name": name or f"Port {idx}",
        "enable": True,
        "media": "GE",
        "is_uplink": uplink,
        "rx_bytes": rng.randrange(10**6, 10**11) if up else 0,
        "tx_bytes": rng.randrange(10**6, 10**11) if up else 0,
        "rx_errors": 0,
        "tx_errors": 0,
        "port_poe": poe,
    }
    _set_link(rng, port, up)
    return port


def _set_link(rng: random.Random, port: dict[str, Any], up: bool) -> None:
    """Set a port's link, and on a PoE port its power readings, for a link that is up or down."""
    port.update(up=up, speed=1000 if up else 0, full_duplex=up, stp_state="forwarding" if up else "disabled")
    if port["port_poe"]:
        watts = rng.uniform(2.5, 9.5) if up else 0.0
        port.update(
            poe_enable=True,
            poe_mode="auto",
            poe_caps=7,
            poe_class="Class 4" if up else "Unknown",
            # PoE readings are strings in real payloads (reference §7.16).
            poe_power=f"{watts:.2f}",
            poe_voltage=f"{53.5 + rng.random():.2f}" if up else "0.00",
            poe_current=f"{watts / 0.0535:.2f}" if up else "0.00",
        )


def _mem_total(dtype: str) -> int:
    """Memory of a device family in bytes: consoles and gateways have far more than switches and APs."""
    return 2_009_763_840 if dtype in ("udm", "ucg", "ugw") else 249_856_000


def _mem_used(rng: random.Random, dtype: str) -> int:
    """A plausible amount of memory in use on a device of the family."""
    return int(_mem_total(dtype) * rng.uniform(0.35, 0.8))


def _set_live(rng: random.Random, rec: dict[str, Any], state: int, uptime: int, mem_used: int) -> None:
    """Set the fields of a ``stat/device`` row that follow its state: load, clients and throughput
    while it is connected (state 1), empty figures otherwise, its uplink up unless it is disconnected
    (state 0), and the reason a disconnected device gives."""
    online = state == 1
    mem_total = _mem_total(rec["type"])
    rec.update(
        {
            "state": state,
            "uptime": uptime,
            "_uptime": uptime,
            # Load figures are strings, and empty for an offline device (reference §4, §7.16).
            "system-stats": (
                {
                    "cpu": f"{rng.uniform(2, 35):.1f}",
                    "mem": f"{100 * mem_used / mem_total:.1f}",
                    "uptime": str(uptime),
                }
                if online
                else {}
            ),
            "sys_stats": (
                {
                    "loadavg_1": f"{rng.uniform(0.05, 1.5):.2f}",
                    "loadavg_5": f"{rng.uniform(0.05, 1.2):.2f}",
                    "loadavg_15": f"{rng.uniform(0.05, 1.0):.2f}",
                    "mem_total": mem_total,
                    "mem_used": mem_used,
                    "mem_buffer": int(mem_total * 0.04),
                }
                if online
                else {}
            ),
            "num_sta": rng.randrange(0, 25) if online else 0,
            "satisfaction": rng.choice((100, 99, 97, 93, 88)) if online else -1,
            "tx_bytes-r": rng.randrange(0, 10**6) if online else 0,
            "rx_bytes-r": rng.randrange(0, 10**6) if online else 0,
        }
    )
    rec["user-num_sta"] = rec["num_sta"]
    rec["uplink"]["up"] = state != 0
    if state == 0:
        rec["disconnection_reason"] = "Device unreachable - inform timeout"
    else:
        rec.pop("disconnection_reason", None)


def _device_record(
    rng: random.Random,
    site_id: str,
    mac: str,
    name: str,
    model: str,
    dtype: str,
    ip: str,
    version: str,
    *,
    state: int,
    now_s: int,
    upgrade_to: str | None,
    ports: list[dict[str, Any]] | None,
    uplink: dict[str, Any],
    temps: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """A full ``stat/device`` row; a connected device has been up for days."""
    uptime = rng.randrange(3 * 86400, 60 * 86400) if state == 1 else 0
    mem_used = _mem_used(rng, dtype)
    rec: dict[str, Any] = {
        "_id": _hex_id(rng),
        "site_id": site_id,
        "mac": mac,
        "name": name,
        "model": model,
        "type": dtype,
        "serial": mac.replace(":", "").upper(),
        "ip": ip,
        "version": version,
        "displayable_version": ".".join(version.split(".")[:3]),
        "adopted": True,
        "disabled": False,
        "isolated": False,
        "last_seen": now_s - rng.randrange(1, 30),
        "upgradable": upgrade_to is not None,
        "upgrade_state": 0,
        "model_in_lts": False,
        "model_in_eol": False,
        "unsupported": False,
        "uplink": uplink,
        "guest-num_sta": 0,
        "has_temperature": temps is not None,
        "overheating": False,
        "has_fan": temps is not None,
    }
    _set_live(rng, rec, state, uptime, mem_used)
    if upgrade_to:
        rec["upgrade_to_firmware"] = upgrade_to
    if temps is not None:
        rec["temperatures"] = temps
        rec["general_temperature"] = temps[0]["value"]
        rec["fan_level"] = 0
    if ports is not None:
        rec["port_table"] = ports
    return rec


def set_connected(site: Site, dev: int, connected: bool, at_ms: int, now_ms: int, rng: random.Random) -> None:
    """Take device ``dev`` off the controller at ``at_ms`` or bring it back then, as ``stat/device``
    shows it at ``now_ms``.

    Down: state 0, last seen at ``at_ms``, no uptime, load or clients. Back: state 1, up since
    ``at_ms`` (so its uptime counts from then to ``now_ms``), last seen at the later of the two,
    with fresh load figures. The switch port it hangs off follows, PoE readings included. The row is
    changed in place; callers serialise access to it.
    """
    rec = site.devices[dev].record
    at_s, now_s = at_ms // 1000, now_ms // 1000
    uptime = max(0, now_s - at_s) if connected else 0
    _set_live(rng, rec, 1 if connected else 0, uptime, _mem_used(rng, rec["type"]))
    rec["last_seen"] = max(at_s, now_s) if connected else at_s
    uplink = rec["uplink"]
    for device in site.devices:
        if device.mac == uplink.get("uplink_mac"):
            for port in device.record.get("port_table") or []:
                if port["port_idx"] == uplink.get("uplink_remote_port"):
                    _set_link(rng, port, connected)


# --------------------------------------------------------------------------------------------------
# Event kinds


class Kind(IntEnum):
    """Every kind of underlying event the generator produces."""

    WIFI_CONNECT = 0
    WIFI_DISCONNECT = 1
    WIFI_ROAM = 2
    WIRED_CONNECT = 3
    THREAT_BLOCKED = 4
    THREAT_DETECTED = 5
    FIREWALL_BLOCKED = 6
    DEVICE_UNREACHABLE = 7
    DEVICE_RECONNECTED = 8
    WAN_FAILED = 9
    WAN_RESTORED = 10
    WAN_FAILOVER = 11
    WAN_FAILBACK = 12
    ISP_HIGH_LATENCY = 13
    ISP_PACKET_LOSS = 14
    IP_CONFLICT = 15
    ADMIN_LOGIN = 16
    ADMIN_LOGIN_FAILED = 17
    CONFIG_CHANGE = 18
    RADAR = 19
    CHANNEL_CHANGED = 20
    POE_OVERLOAD = 21
    DEVICE_UPGRADED = 22
    DEVICE_PENDING = 23
    CONTROLLER_ALERT = 24  # a v2 key no catalogue knows, rated HIGH by the controller
    ARCHIVED_ALARM = 25  # an alarm an admin already handled; it exists in list/alarm only
    UNKNOWN = 26  # a key no catalogue knows, rated LOW


@dataclass(frozen=True)
class V2Meta:
    """The constant part of a v2 system-log row of one kind (variant keys are chosen per event)."""

    event: str
    category: str
    subcategory: str | None
    severity: str
    type: str
    title: str


@dataclass(frozen=True)
class KindSpec:
    """Where a kind is served, how common it is, and which device/client pools it draws from."""

    v2: V2Meta | None
    legacy: bool
    ips: bool = False
    alarm: bool = False
    weight: float = 0.0  # relative frequency in the random background; 0 = scenario only
    dev_pool: str = "none"  # "ap", "sw", "gw", "infra", "chan", "none"
    client_pool: str = "none"  # "wifi", "wired", "servers", "any", "none"

    @property
    def alarm_only(self) -> bool:
        """True for kinds that exist only as alarms (no event feed shows them)."""
        return self.alarm and self.v2 is None and not self.legacy


_SEC_IPS = ("THREAT_DETECTION_AND_PREVENTION", "SECURITY_INTRUSION_PREVENTION")
KINDS: dict[Kind, KindSpec] = {
    Kind.WIFI_CONNECT: KindSpec(
        V2Meta(
            "CLIENT_CONNECTED",
            "CLIENT_DEVICES",
            "CLIENT_CONNECTIVITY",
            "LOW",
            "CLIENT_ACTIVITY",
            "Client Connected",
        ),
        True,
        weight=30,
        dev_pool="ap",
        client_pool="wifi",
    ),
    Kind.WIFI_DISCONNECT: KindSpec(
        V2Meta(
            "CLIENT_DISCONNECTED",
            "CLIENT_DEVICES",
            "CLIENT_CONNECTIVITY",
            "LOW",
            "CLIENT_ACTIVITY",
            "Client Disconnected",
        ),
        True,
        weight=30,
        dev_pool="ap",
        client_pool="wifi",
    ),
    Kind.WIFI_ROAM: KindSpec(None, True, weight=18, dev_pool="ap", client_pool="wifi"),
    Kind.WIRED_CONNECT: KindSpec(None, True, weight=2, dev_pool="sw", client_pool="wired"),
    Kind.THREAT_BLOCKED: KindSpec(
        V2Meta("THREAT_BLOCKED", "SECURITY", _SEC_IPS[1], "HIGH", _SEC_IPS[0], "Threat Detected and Blocked"),
        True,
        ips=True,
        alarm=True,
        weight=4,
        dev_pool="gw",
        client_pool="servers",
    ),
    Kind.THREAT_DETECTED: KindSpec(
        V2Meta("THREAT_DETECTED", "SECURITY", _SEC_IPS[1], "HIGH", _SEC_IPS[0], "Threat Detected"),
        True,
        ips=True,
        alarm=True,
        dev_pool="gw",
        client_pool="servers",
    ),
    Kind.FIREWALL_BLOCKED: KindSpec(
        V2Meta(
            "BLOCKED_BY_FIREWALL",
            "SECURITY",
            "SECURITY_FIREWALL",
            "MEDIUM",
            "CONTENT_FILTERING_AND_RESTRICTIONS",
            "Blocked by Firewall",
        ),
        False,
        weight=3,
        dev_pool="gw",
        client_pool="any",
    ),
    Kind.DEVICE_UNREACHABLE: KindSpec(
        V2Meta(
            "DEVICE_UNREACHABLE",
            "UNIFI_DEVICES",
            "DEVICE_CONNECTIVITY",
            "HIGH",
            "DEVICE_ACTIVITY",
            "Device Unreachable",
        ),
        True,
        alarm=True,
        dev_pool="infra",
    ),
    Kind.DEVICE_RECONNECTED: KindSpec(
        V2Meta(
            "DEVICE_RECONNECTED",
            "UNIFI_DEVICES",
            "DEVICE_CONNECTIVITY",
            "LOW",
            "DEVICE_ACTIVITY",
            "Device Reconnected",
        ),
        True,
        dev_pool="infra",
    ),
    Kind.WAN_FAILED: KindSpec(
        V2Meta(
            "NETWORK_WAN_FAILED",
            "INTERNET_AND_WAN",
            "WAN_CONNECTIVITY",
            "VERY_HIGH",
            "NETWORK_ACTIVITY",
            "Internet Connection Down",
        ),
        True,
        alarm=True,
        dev_pool="gw",
    ),
    Kind.WAN_RESTORED: KindSpec(
        V2Meta(
            "NETWORK_WAN_RESTORED",
            "INTERNET_AND_WAN",
            "WAN_CONNECTIVITY",
            "LOW",
            "NETWORK_ACTIVITY",
            "Internet Connection Restored",
        ),
        True,
        dev_pool="gw",
    ),
    Kind.WAN_FAILOVER: KindSpec(
        V2Meta(
            "NETWORK_FAILED_OVER_TO_BACKUP_WAN",
            "INTERNET_AND_WAN",
            "WAN_CONNECTIVITY",
            "HIGH",
            "NETWORK_ACTIVITY",
            "Failover to Backup Internet",
        ),
        True,
        dev_pool="gw",
    ),
    Kind.WAN_FAILBACK: KindSpec(
        V2Meta(
            "NETWORK_RETURNED_FROM_BACKUP_WAN",
            "INTERNET_AND_WAN",
            "WAN_CONNECTIVITY",
            "LOW",
            "NETWORK_ACTIVITY",
            "Returned to Primary Internet",
        ),
        False,
        dev_pool="gw",
    ),
    Kind.ISP_HIGH_LATENCY: KindSpec(
        V2Meta(
            "ISP_HIGH_LATENCY",
            "INTERNET_AND_WAN",
            "ISP_PERFORMANCE",
            "MEDIUM",
            "NETWORK_ACTIVITY",
            "High Latency",
        ),
        False,
        dev_pool="gw",
    ),
    Kind.ISP_PACKET_LOSS: KindSpec(
        V2Meta(
            "ISP_PACKET_LOSS",
            "INTERNET_AND_WAN",
            "ISP_PERFORMANCE",
            "MEDIUM",
            "NETWORK_ACTIVITY",
            "Packet Loss",
        ),
        False,
        dev_pool="gw",
    ),
    Kind.IP_CONFLICT: KindSpec(
        V2Meta(
            "CLIENT_IP_CONFLICT",
            "CLIENT_DEVICES",
            "CLIENT_CONNECTIVITY",
            "MEDIUM",
            "CLIENT_ACTIVITY",
            "IP Conflict Detected",
        ),
        False,
        dev_pool="gw",
        client_pool="any",
    ),
    Kind.ADMIN_LOGIN: KindSpec(
        V2Meta("ADMIN_ACCESS", "AUDIT", "ADMIN_ACTIVITY", "LOW", "ADMIN_ACTIVITY", "Admin Access"),
        True,
        weight=0.1,
    ),
    # Assumed v2 shapes (the reference documents no key for them): ADMIN_LOGIN_FAILED, RADAR_DETECTED,
    # AP_CHANNEL_CHANGED and PORT_POE_OVERLOAD. DEVICE_DISCOVERED is documented ([P], reference §6.2).
    Kind.ADMIN_LOGIN_FAILED: KindSpec(
        V2Meta(
            "ADMIN_ACCESS_FAILED", "AUDIT", "ADMIN_ACTIVITY", "MEDIUM", "ADMIN_ACTIVITY", "Admin Login Failed"
        ),
        True,
    ),
    Kind.CONFIG_CHANGE: KindSpec(
        V2Meta("SETTINGS_CHANGED", "AUDIT", "ADMIN_ACTIVITY", "LOW", "ADMIN_ACTIVITY", "Settings Changed"),
        False,
        weight=0.05,
    ),
    Kind.RADAR: KindSpec(
        V2Meta("RADAR_DETECTED", "UNIFI_DEVICES", "WIFI", "MEDIUM", "DEVICE_ACTIVITY", "Radar Detected"),
        True,
        alarm=True,
        dev_pool="ap",
    ),
    Kind.CHANNEL_CHANGED: KindSpec(
        V2Meta("CHANNEL_CHANGED", "UNIFI_DEVICES", "WIFI", "LOW", "DEVICE_ACTIVITY", "Channel Changed"),
        True,
        weight=0.05,
        dev_pool="chan",
    ),
    Kind.POE_OVERLOAD: KindSpec(
        V2Meta("POE_OVERLOAD", "POWER", "POE", "HIGH", "DEVICE_ACTIVITY", "PoE Overload"),
        True,
        alarm=True,
        dev_pool="sw",
    ),
    Kind.DEVICE_UPGRADED: KindSpec(None, True, dev_pool="ap"),
    Kind.DEVICE_PENDING: KindSpec(
        V2Meta(
            "DEVICE_DISCOVERED",
            "UNIFI_DEVICES",
            "DEVICE_ADOPTION",
            "LOW",
            "DEVICE_ACTIVITY",
            "Device Discovered",
        ),
        True,
    ),
    Kind.CONTROLLER_ALERT: KindSpec(
        V2Meta(
            "POWER_SUPPLY_FAILED", "POWER", "POWER_SUPPLY", "HIGH", "DEVICE_ACTIVITY", "Power Supply Failure"
        ),
        False,
        dev_pool="gw",
    ),
    Kind.ARCHIVED_ALARM: KindSpec(None, False, alarm=True, dev_pool="ap"),
    Kind.UNKNOWN: KindSpec(
        V2Meta("SDWAN_TUNNEL_DEGRADED", "UNKNOWN", None, "LOW", "GENERAL", "SD-WAN Tunnel Degraded"),
        True,
        dev_pool="gw",
    ),
}

# Views: which kinds each served feed shows.
VIEW_V2 = "v2"
VIEW_LEGACY = "legacy"
VIEW_IPS = "ips"
VIEW_ALARM = "alarm"


def kind_in_view(kind: Kind, view: str) -> bool:
    """Whether events of ``kind`` appear in ``view`` (v2 log, legacy log, IPS feeds, alarms)."""
    spec = KINDS[kind]
    if view == VIEW_V2:
        return spec.v2 is not None
    if view == VIEW_LEGACY:
        return spec.legacy
    if view == VIEW_IPS:
        return spec.ips
    return spec.alarm


# Membership by kind number, for the hot loops that split a million events into views.
_VIEW_MEMBERS = {
    v: tuple(kind_in_view(k, v) for k in Kind) for v in (VIEW_V2, VIEW_LEGACY, VIEW_IPS, VIEW_ALARM)
}


# --------------------------------------------------------------------------------------------------
# Storage


class EventLog:
    """Append-only compact event storage with time-sorted views.

    The master arrays are indexed by a stable event number (the counter in the event's id). Each view
    (v2 log, legacy log, IPS, alarms) keeps its own time-sorted arrays of (time, event number), so a
    page is a slice and insertions in the middle of the window stay cheap. Callers serialise access.
    """

    def __init__(self, views: Iterable[str]) -> None:
        """Create an empty log that maintains the given views."""
        self.times = array("q")
        self.kinds = array("B")
        self.devs = array("b")
        self.clis = array("h")
        self.rnds = array("I")
        self.views: dict[str, tuple[array, array]] = {v: (array("q"), array("I")) for v in views}
        self.version = 0  # bumped on every change, so cached query results can be invalidated

    def __len__(self) -> int:
        return len(self.times)

    def extend_sorted(self, events: Sequence[tuple[int, int, int, int, int]]) -> None:
        """Append events that are sorted by time and not older than anything already stored."""
        base = len(self.times)
        self.times.extend(e[0] for e in events)
        self.kinds.extend(e[1] for e in events)
        self.devs.extend(e[2] for e in events)
        self.clis.extend(e[3] for e in events)
        self.rnds.extend(e[4] for e in events)
        for view, (vt, vi) in self.views.items():
            member = _VIEW_MEMBERS[view]
            members = [base + j for j, e in enumerate(events) if member[e[1]]]
            vt.extend(self.times[i] for i in members)
            vi.extend(members)
        self.version += 1

    def add(self, events: Sequence[tuple[int, int, int, int, int]]) -> list[int]:
        """Add events at any time; returns their event numbers."""
        base = len(self.times)
        for t, k, d, c, r in events:
            self.times.append(t)
            self.kinds.append(k)
            self.devs.append(d)
            self.clis.append(c)
            self.rnds.append(r)
        new = list(range(base, base + len(events)))
        for view, (vt, vi) in self.views.items():
            member = _VIEW_MEMBERS[view]
            members = [i for i in new if member[self.kinds[i]]]
            if len(members) > 64 and vt and min(self.times[i] for i in members) < vt[-1]:
                self._rebuild_view(view, members)
                continue
            for i in members:
                t = self.times[i]
                pos = len(vt) if not vt or t >= vt[-1] else bisect_right(vt, t)
                vt.insert(pos, t)
                vi.insert(pos, i)
        self.version += 1
        return new

    def _rebuild_view(self, view: str, members: list[int]) -> None:
        # A large out-of-order batch: one sort beats thousands of array insertions.
        vt, vi = self.views[view]
        merged = sorted([*zip(vt, vi, strict=True), *((self.times[i], i) for i in members)])
        self.views[view] = (array("q", (t for t, _ in merged)), array("I", (i for _, i in merged)))

    def span(self, view: str, lo_ms: int, hi_ms: int) -> tuple[int, int]:
        """Positions [start, stop) of the view's events with lo_ms <= time <= hi_ms."""
        vt = self.views[view][0]
        return bisect_left(vt, lo_ms), bisect_right(vt, hi_ms)

    def event(self, view: str, pos: int) -> Event:
        """The event at a position of a view."""
        i = self.views[view][1][pos]
        return Event(i, self.times[i], Kind(self.kinds[i]), self.devs[i], self.clis[i], self.rnds[i])

    def numbers(self, view: str, start: int, stop: int) -> array:
        """Event numbers at positions [start, stop) of a view (oldest first)."""
        return self.views[view][1][start:stop]

    def get(self, i: int) -> Event:
        """The event with event number ``i``."""
        return Event(i, self.times[i], Kind(self.kinds[i]), self.devs[i], self.clis[i], self.rnds[i])


@dataclass(frozen=True, slots=True)
class Event:
    """One stored event, unpacked for rendering."""

    idx: int
    time_ms: int
    kind: Kind
    dev: int
    cli: int
    rnd: int


# --------------------------------------------------------------------------------------------------
# External addresses and signatures

# (signature id, signature, category, catname, severity, proto, app_proto, dest port, inbound?)
SIGNATURES: tuple[tuple[int, str, str, str | list[str], int, str, str, int, bool], ...] = (
    (
        2010935,
        "ET SCAN Suspicious inbound to MSSQL port 1433",
        "Potentially Bad Traffic",
        "emerging-scan",
        2,
        "TCP",
        "failed",
        1433,
        True,
    ),
    (
        2010937,
        "ET SCAN Suspicious inbound to mySQL port 3306",
        "Potentially Bad Traffic",
        "emerging-scan",
        2,
        "TCP",
        "failed",
        3306,
        True,
    ),
    (
        2001219,
        "ET SCAN Potential SSH Scan",
        "Attempted Information Leak",
        ["emerging-scan"],
        2,
        "TCP",
        "ssh",
        22,
        True,
    ),
    (
        2024364,
        "ET SCAN Possible Nmap User-Agent Observed",
        "Web Application Attack",
        "emerging-scan",
        1,
        "TCP",
        "http",
        80,
        True,
    ),
    (
        2400022,
        "ET DROP Spamhaus DROP Listed Traffic Inbound group 23",
        "Misc Attack",
        "spamhaus",
        2,
        "UDP",
        "failed",
        36881,
        True,
    ),
    (
        2034647,
        "ET EXPLOIT Apache log4j RCE Attempt (http ldap) (CVE-2021-44228)",
        "Attempted Administrator Privilege Gain",
        "emerging-exploit",
        1,
        "TCP",
        "http",
        8080,
        True,
    ),
    (
        2027167,
        "ET EXPLOIT Possible Netgear DGN1000 Remote Command Execution",
        "Attempted Administrator Privilege Gain",
        ["emerging-exploit"],
        1,
        "TCP",
        "http",
        80,
        True,
    ),
    (
        2003337,
        "ET MALWARE Suspicious User Agent (Autoupdate)",
        "A Network Trojan was Detected",
        ["emerging-malware"],
        1,
        "TCP",
        "http",
        80,
        False,
    ),
    (
        2033967,
        "ET MALWARE Cobalt Strike Beacon Observed",
        "A Network Trojan was Detected",
        "emerging-malware",
        1,
        "TCP",
        "tls",
        443,
        False,
    ),
    (
        2018959,
        "ET POLICY PE EXE or DLL Windows file download HTTP",
        "Potential Corporate Privacy Violation",
        "emerging-policy",
        1,
        "TCP",
        "http",
        80,
        False,
    ),
    (
        2027757,
        "ET POLICY DNS Query to .onion proxy Domain",
        "Potential Corporate Privacy Violation",
        "emerging-policy",
        2,
        "UDP",
        "dns",
        53,
        False,
    ),
    (
        2008705,
        "ET TROJAN Possible Windows executable sent when remote host claims to send a Text File",
        "A Network Trojan was Detected",
        "emerging-trojan",
        1,
        "TCP",
        "http",
        80,
        False,
    ),
    (
        2031073,
        "ET TROJAN Observed Malicious SSL Cert (AsyncRAT Server)",
        "A Network Trojan was Detected",
        ["emerging-trojan"],
        1,
        "TCP",
        "tls",
        6606,
        False,
    ),
)

_COUNTRIES = (
    ("NL", "Netherlands", "EU", "Amsterdam", 52.37, 4.89, 60781, "LeaseWeb Netherlands B.V."),
    ("CN", "China", "AS", "Beijing", 39.91, 116.39, 4134, "Chinanet"),
    ("RU", "Russia", "EU", "Moscow", 55.75, 37.62, 49505, "Selectel"),
    ("US", "United States", "NA", "Ashburn", 39.04, -77.49, 14618, "Amazon.com, Inc."),
    ("DE", "Germany", "EU", "Falkenstein", 50.48, 12.37, 24940, "Hetzner Online GmbH"),
)

# External hosts live in the documentation ranges only: the fake never names real hosts. Address
# index i is host i // 3 + 1 of network i % 3, so there are 762 of them.
_EXT_NETS = ("198.51.100", "203.0.113", "192.0.2")
EXT_ADDRESSES = 3 * 254
ISP_GATEWAY = "203.0.113.1"

# The scenario's own external addresses; background events never use them.
ATTACKER_IP = "192.0.2.66"  # the IPS burst
C2_IP = "198.51.100.23"  # where the compromised client beacons to
BRUTE_FORCE_IP = "192.0.2.147"  # the admin password guesser
NEW_ADMIN_IP = "198.51.100.45"  # a known admin logging in from somewhere new

# Signatures of the routine background: inbound scans and DROP-list traffic.
SCAN_SIGNATURES = tuple(
    i for i, sig in enumerate(SIGNATURES) if sig[8] and sig[1].startswith(("ET SCAN", "ET DROP"))
)

# The random word of an IPS, firewall or admin event is laid out so that the scenario can name exact
# signatures and addresses while the background stays random:
#   bits 0-3    signature (index into SIGNATURES); for admin events bit 0 is the admin
#   bits 4-13   external address: a position in the site's pool of background addresses, or, when
#               bit 31 is set, an address index of the scenario's own (for admin logins, bit 31 clear
#               means the admin's usual address)
#   bits 14-30  free random bits (ports, flow ids)
# Background words have 31 random bits, so their bit 31 is always clear.
_EXPLICIT = 1 << 31
_ADDRESS_SHIFT = 4
_ADDRESS_BITS = 0x3FF << _ADDRESS_SHIFT
_LOW_BITS = (1 << 14) - 1


def ext_address(index: int) -> str:
    """The documentation-range address with index ``index`` (0 ≤ index < EXT_ADDRESSES)."""
    return f"{_EXT_NETS[index % 3]}.{index // 3 + 1}"


def address_index(ip: str) -> int:
    """The index of a documentation-range address (the inverse of `ext_address`)."""
    net, host = ip.rsplit(".", 1)
    return (int(host) - 1) * 3 + _EXT_NETS.index(net)


def address_pool(site: Site) -> tuple[int, ...]:
    """Address indices the background may use: all but the scenario's, the site's WAN and its ISP's."""
    taken = {ATTACKER_IP, C2_IP, BRUTE_FORCE_IP, NEW_ADMIN_IP, ISP_GATEWAY, site.wan_ip}
    return tuple(i for i in range(EXT_ADDRESSES) if ext_address(i) not in taken)


def explicit_word(rng: random.Random, low: int, ip: str | None) -> int:
    """A scenario event word: random high bits, ``low`` in bits 0-3 and, if given, address ``ip``."""
    word = (rng.getrandbits(17) << 14) | low
    if ip is not None:
        word |= _EXPLICIT | (address_index(ip) << _ADDRESS_SHIFT)
    return word


def word_address(word: int, pool: Sequence[int]) -> str | None:
    """The external address a word names: its explicit one, else a pool address (None if no pool)."""
    bits = (word & _ADDRESS_BITS) >> _ADDRESS_SHIFT
    if word & _EXPLICIT:
        return ext_address(bits)
    return ext_address(pool[bits % len(pool)]) if pool else None


# --------------------------------------------------------------------------------------------------
# Generation


# Background mixes: relative weights that replace KINDS[k].weight for the kinds named. "default" is a
# busy office site with nothing for an admin to act on: client churn, a trickle of blocked inbound
# scans, firewall blocks, the odd channel change and admin logins from each admin's usual address.
# "ips" is a gateway under constant scanning (about 80 % IPS alerts, some only detected); "roam" a dense
# Wi-Fi site whose clients move between APs (roams exist only in the legacy stat/event feed, so on v2
# profiles this mix is connect/disconnect churn).
MIXES: dict[str, dict[Kind, float]] = {
    "default": {},
    "ips": {Kind.THREAT_BLOCKED: 240, Kind.THREAT_DETECTED: 120},
    "roam": {Kind.WIFI_ROAM: 300, Kind.WIFI_CONNECT: 60, Kind.WIFI_DISCONNECT: 60},
}
# Mixes whose blocked IPS events are the routine trickle: scan/DROP signatures, each source seen 1-3 times.
TRICKLE_MIXES = frozenset({"default"})


class Generator:
    """Produces event tuples (time_ms, kind, device, client, random) for a site, restricted to kinds."""

    def __init__(self, site: Site, rng: random.Random, kinds: Iterable[Kind], mix: str = "default") -> None:
        """Bind the generator to a site, an RNG, the kinds the profile can serve and a background mix."""
        self.site = site
        self.rng = rng
        self.kinds = frozenset(kinds)
        self.truncated = False  # set by `generate` when the story did not fit
        weights = {k: spec.weight for k, spec in KINDS.items()} | MIXES[mix]
        background = [k for k in Kind if k in self.kinds and weights[k] > 0]
        self._bg_kinds = background
        self._bg_weights = [weights[k] for k in background]
        self._trickle = mix in TRICKLE_MIXES
        self._sources = len(address_pool(site))
        self._source, self._hits_left = 0, 0
        self._pools: dict[str, tuple[int, ...]] = {
            "ap": site.aps,
            "sw": site.switches,
            "gw": (site.gateway,),
            "infra": site.aps + site.switches,
            "chan": site.aps[:1],  # one AP near a busy neighbour changes channel now and then
            "wifi": site.wifi_clients,
            "wired": site.wired_clients,
            "servers": site.servers,
            "any": tuple(range(len(site.clients))),
        }

    def _pick(self, pool: str, bits: int) -> int:
        if pool == "none":
            return -1
        members = self._pools[pool]
        return members[bits % len(members)]

    def event(
        self, t: int, kind: Kind, dev: int = -1, cli: int = -1, word: int | None = None
    ) -> tuple[int, int, int, int, int]:
        """One event of ``kind`` at ``t`` about device ``dev`` and client ``cli`` (-1: none); its random
        word, which picks the variable details, is ``word`` or else drawn."""
        return (t, int(kind), dev, cli, self.rng.getrandbits(31) if word is None else word)

    def background(self, n: int, lo_ms: int, hi_ms: int) -> list[tuple[int, int, int, int, int]]:
        """``n`` events of the weighted background mix at uniform random times in [lo_ms, hi_ms)."""
        if n <= 0 or not self._bg_kinds:
            return []
        rng = self.rng
        width = max(1, hi_ms - lo_ms)
        kinds = rng.choices(self._bg_kinds, self._bg_weights, k=n)
        rnds = [rng.getrandbits(31) for _ in range(n)]
        times = [lo_ms + int(rng.random() * width) for _ in range(n)]
        dev_pool = {k: KINDS[k].dev_pool for k in self._bg_kinds}
        cli_pool = {k: KINDS[k].client_pool for k in self._bg_kinds}
        pick = self._pick
        events = [
            (t, int(k), pick(dev_pool[k], r >> 20), pick(cli_pool[k], r >> 8), r)
            for t, k, r in zip(times, kinds, rnds, strict=True)
        ]
        if self._trickle:
            self._spread_scans(events)
        return events

    def _spread_scans(self, events: list[tuple[int, int, int, int, int]]) -> None:
        """Turn blocked IPS events into scans from ever new sources, each seen one to three times.

        Events arrive in random time order, so a source's hits land anywhere in the window.
        """
        blocked = int(Kind.THREAT_BLOCKED)
        for j, (t, k, d, c, r) in enumerate(events):
            if k != blocked:
                continue
            if self._hits_left == 0:
                self._source = (self._source + 1) % self._sources
                self._hits_left = 1 + (r >> 24) % 3
            self._hits_left -= 1
            sig = SCAN_SIGNATURES[(r >> 14) % len(SCAN_SIGNATURES)]
            events[j] = (t, k, d, c, (r & ~_LOW_BITS) | (self._source << _ADDRESS_SHIFT) | sig)

    def scenario(self, lo_ms: int, hi_ms: int) -> list[tuple[int, int, int, int, int]]:
        """The story events an analyzer must find, most important first (`expected_findings` scores them).

        A calm (not scripted) site tells only the first of them: its AP that went offline and stayed
        offline (state 0 in ``stat/device``). A scripted site tells the whole story: that AP; a WAN
        failover with ISP latency and loss during it; a switch outage of 95 s; a flapping AP; an IPS
        burst from one source (a few exploits only detected); a Wi-Fi client beaconing to a C2 address;
        an admin password guessed after twelve failures; a known admin logging in from a new address;
        an IP conflict; a PoE overload; DFS radar and the channel change it forces; a new AP announcing
        itself for adoption; a HIGH alert of a key no catalogue knows; a LOW one of another unknown
        key; an alarm an admin already archived; then routine admin logins, a settings change and a
        firmware upgrade.
        """
        s, rng = self.site, self.rng
        width = max(1, hi_ms - lo_ms)
        gw, core, desk = s.gateway, s.switches[0], s.switches[1]
        radar_ap, nas, backup = s.aps[1], s.servers[0], s.servers[1]

        def at(frac: float) -> int:
            return lo_ms + int(width * frac)

        def ev(t: int, kind: Kind, dev: int = -1, cli: int = -1, word: int | None = None) -> tuple[
            int, int, int, int, int
        ]:
            """`event`, kept inside the window."""
            return self.event(min(max(t, lo_ms), hi_ms - 1), kind, dev, cli, word)

        offline = ev(at(OFFLINE_AT), Kind.DEVICE_UNREACHABLE, s.offline_ap)
        if not s.scripted:
            return [offline]

        def threat(t: int, kind: Kind, sig: int, ip: str, cli: int) -> tuple[int, int, int, int, int]:
            """An IPS event of signature ``sig`` between external ``ip`` and client ``cli``."""
            return ev(t, kind, gw, cli, explicit_word(rng, sig, ip))

        def admin(t: int, kind: Kind, who: int, ip: str | None = None) -> tuple[int, int, int, int, int]:
            """An admin event of admin ``who``, from ``ip`` or else that admin's usual address."""
            return ev(t, kind, word=explicit_word(rng, who, ip))

        wan = at(0.55)
        out = [
            offline,
            ev(wan, Kind.WAN_FAILED, gw),
            ev(wan + 4_000, Kind.WAN_FAILOVER, gw),
            ev(wan + 3 * 60_000, Kind.ISP_HIGH_LATENCY, gw),
            ev(wan + 7 * 60_000, Kind.ISP_PACKET_LOSS, gw),
            ev(wan + 12 * 60_000, Kind.WAN_RESTORED, gw),
            ev(wan + 12 * 60_000 + 31_000, Kind.WAN_FAILBACK, gw),
            ev(at(0.40), Kind.DEVICE_UNREACHABLE, desk),
            ev(at(0.40) + 95_000, Kind.DEVICE_RECONNECTED, desk),
        ]
        # The flapping AP: eight short outages within about two hours.
        base = at(0.2)
        for n in range(8):
            down = base + n * 14 * 60_000 + rng.randrange(60_000)
            out.append(ev(down, Kind.DEVICE_UNREACHABLE, s.flapping_ap))
            out.append(ev(down + 40_000 + rng.randrange(90_000), Kind.DEVICE_RECONNECTED, s.flapping_ap))
        # The IPS burst: 40 hits within eight minutes from one source; three exploits only detected.
        ssh = _signature("ET SCAN Potential SSH Scan")
        log4j, netgear = _signature("ET EXPLOIT Apache log4j"), _signature("ET EXPLOIT Possible Netgear")
        base = at(0.47)
        for n in range(40):
            sig, target = (ssh, nas) if n < 16 else ((log4j, nas) if n % 2 else (netgear, backup))
            kind = Kind.THREAT_DETECTED if n in (21, 28, 35) else Kind.THREAT_BLOCKED
            out.append(threat(base + n * 12_000 + rng.randrange(10_000), kind, sig, ATTACKER_IP, target))
        # The compromised client: six blocked beacons to one C2 address over about 90 minutes.
        beacons = (_signature("ET MALWARE Cobalt Strike"), _signature("ET TROJAN Observed Malicious SSL"))
        base = at(0.58)
        for n in range(6):
            out.append(threat(base + n * 17 * 60_000 + rng.randrange(60_000), Kind.THREAT_BLOCKED,
                              beacons[n % 2], C2_IP, s.c2_client))
        # Password guessing against "admin": twelve failures in under five minutes, then a success.
        base = at(0.78)
        for n in range(12):
            t = base + n * 23_000 + rng.randrange(3_000)
            out.append(admin(t, Kind.ADMIN_LOGIN_FAILED, 0, BRUTE_FORCE_IP))
        out.append(admin(base + 12 * 23_000 + 40_000, Kind.ADMIN_LOGIN, 0, BRUTE_FORCE_IP))
        out += [
            admin(at(0.83), Kind.ADMIN_LOGIN, 1, NEW_ADMIN_IP),
            ev(at(0.70), Kind.IP_CONFLICT, gw, s.conflict_client),
            ev(at(0.85), Kind.POE_OVERLOAD, core),
            ev(at(0.86), Kind.RADAR, radar_ap),
            ev(at(0.86) + 2_000, Kind.CHANNEL_CHANGED, radar_ap),
            ev(at(0.65), Kind.DEVICE_PENDING, s.pending_ap),
            ev(at(0.72), Kind.CONTROLLER_ALERT, gw),
            ev(at(0.75), Kind.UNKNOWN, gw),
            ev(at(0.15), Kind.ARCHIVED_ALARM, s.archived_ap),
            # Routine: each admin logs in from the usual address, one changes a setting; an AP upgrade.
            admin(at(0.10), Kind.ADMIN_LOGIN, 0),
            admin(at(0.12), Kind.ADMIN_LOGIN, 1),
            admin(at(0.36), Kind.ADMIN_LOGIN, 0),
            admin(at(0.50), Kind.ADMIN_LOGIN, 1),
            admin(at(0.62), Kind.ADMIN_LOGIN, 0),
            admin(at(0.31), Kind.CONFIG_CHANGE, 1),
            ev(at(0.32), Kind.DEVICE_UPGRADED, radar_ap),
        ]
        return [e for e in out if Kind(e[1]) in self.kinds]


def _signature(prefix: str) -> int:
    """The index of the one signature whose text starts with ``prefix``."""
    (index,) = [i for i, sig in enumerate(SIGNATURES) if sig[1].startswith(prefix)]
    return index


def generate(
    site: Site,
    seed: int,
    kinds: Iterable[Kind],
    n: int,
    lo_ms: int,
    hi_ms: int,
    mix: str = "default",
) -> tuple[list[tuple[int, int, int, int, int]], Generator]:
    """``n`` events in [lo_ms, hi_ms) sorted by time: the site's scenario (up to half of ``n``) plus
    background in the named `MIXES` entry. Alarm-only records come on top, so the event feeds hold
    exactly ``n``. The generator's ``truncated`` tells whether the scenario was cut short."""
    gen = Generator(site, seeded_rng(site_label(f"events:{seed}", site.name)), kinds, mix)
    scenario = gen.scenario(lo_ms, hi_ms)
    story = scenario[: max(0, n // 2)]
    gen.truncated = len(story) < len(scenario)
    in_feeds = sum(1 for e in story if not KINDS[Kind(e[1])].alarm_only)
    events = story + gen.background(n - in_feeds, lo_ms, hi_ms)
    events.sort(key=lambda e: e[0])
    return events, gen


# --------------------------------------------------------------------------------------------------
# Ground truth


@dataclass(frozen=True)
class Expected:
    """A finding the analyzer must make from the scenario.

    ``subject`` is a MAC (lower case, with colons) or an IP address that the finding's affected ids
    must include, ``also`` further such ids (the internal client of a C2 contact); ``label`` says in
    words what happened, for failure messages.
    """

    rule_id: str
    severity: str  # severe, medium or low
    subject: str
    label: str
    also: tuple[str, ...] = ()  # further ids the finding's affected list must include


# Rules whose LOW findings the routine background may produce: a digest of blocked scans, firewall
# blocks, firmware news, settings changes, channel changes and the controller's client anomalies.
ROUTINE_RULES = frozenset(
    {
        "ips_digest",
        "firewall_block",
        "firmware_upgradable",
        "firmware_upgraded",
        "admin_config_change",
        "channel_changed",
        "anomaly",
    }
)


def expected_findings(site: Site, kinds: Iterable[Kind]) -> list[Expected]:
    """The expected findings of the site's scenario on a profile producing ``kinds``.

    A calm site expects only its offline AP. On a scripted site an incident told by events is expected
    only where its kinds are produced (an IP conflict, for one, has no legacy key); incidents read from
    ``stat/device`` are expected on every profile.
    """
    have = frozenset(kinds)
    d = site.devices
    offline = Expected("device_outage", "severe", d[site.offline_ap].mac, "AP offline at report time")
    if not site.scripted:
        return [offline]
    gw, core = d[site.gateway].mac, d[site.switches[0]].mac
    table: list[tuple[Expected, Kind | None]] = [
        (Expected("device_flapping", "severe", d[site.flapping_ap].mac, "AP flapping"),
         Kind.DEVICE_UNREACHABLE),
        (offline, Kind.DEVICE_UNREACHABLE),
        (Expected("device_outage", "medium", d[site.switches[1]].mac, "switch outage of 95 s, recovered"),
         Kind.DEVICE_UNREACHABLE),
        (Expected("wan_incident", "medium", gw, "WAN failover with ISP trouble, recovered"), Kind.WAN_FAILED),
        (Expected("threat_campaign", "severe", ATTACKER_IP, "IPS burst from one source, some only detected"),
         Kind.THREAT_BLOCKED),
        (Expected("threat_campaign", "severe", C2_IP, "client beaconing to a C2 address",
                  (site.clients[site.c2_client].mac,)), Kind.THREAT_BLOCKED),
        (Expected("admin_brute_force", "severe", BRUTE_FORCE_IP, "12 failed admin logins, then a success"),
         Kind.ADMIN_LOGIN_FAILED),
        (Expected("admin_login_new_ip", "medium", NEW_ADMIN_IP, "known admin from a new address"),
         Kind.ADMIN_LOGIN),
        (Expected("client_ip_conflict", "medium", site.clients[site.conflict_client].mac, "IP conflict"),
         Kind.IP_CONFLICT),
        (Expected("poe_overload", "medium", core, "PoE overload on the core switch"), Kind.POE_OVERLOAD),
        (Expected("dfs_radar", "low", d[site.aps[1]].mac, "DFS radar and the channel change after it"),
         Kind.RADAR),
        (Expected("firmware_outdated", "medium", d[site.outdated_switch].mac, "below the required firmware"),
         None),
        (Expected("device_overheating", "severe", core, "core switch overheating"), None),
        (Expected("device_pending_adoption", "low", d[site.pending_ap].mac, "AP waiting for adoption"), None),
        (Expected("controller_alert", "medium", gw, "HIGH alert of an unknown v2 key"),
         Kind.CONTROLLER_ALERT),
    ]
    return [expected for expected, kind in table if kind is None or kind in have]


# --------------------------------------------------------------------------------------------------
# Rendering helpers

_CHANNELS_5 = ("36", "44", "52", "100", "149")
_CHANNELS_2 = ("1", "6", "11")
_RADAR_CHANNELS = ("52", "100", "116")  # DFS channels
_CLEAR_CHANNELS = ("36", "44", "149")


def _duration_text(seconds: int) -> str:
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return (f"{h}h " if h else "") + f"{m}m {s}s"


def _bytes_text(n: int) -> str:
    # The controller's own rendering in EVT_WU_Disconnected: 846171 -> "826.34K".
    if n < 1024:
        return str(n)
    size = float(n)
    for unit in ("K", "M", "G"):
        size /= 1024
        if size < 1024:
            return f"{size:.2f}{unit}"
    return f"{size / 1024:.2f}T"


def v2_type_bucket(kind: Kind) -> str:
    """The ``type`` bucket of ``system-log/count`` (AUDIT or GENERAL) that events of ``kind`` fall in."""
    meta = KINDS[kind].v2
    return "AUDIT" if meta is not None and meta.category == "AUDIT" else "GENERAL"


# What the per-kind renderers return: v2 (key, message_raw, parameters, target) and
# legacy (key, subsystem, msg, context fields).
V2Parts = tuple[str, str, dict[str, Any], str | None]
LegacyParts = tuple[str, str, str, dict[str, Any]]


class Renderer:
    """Turns stored events into the JSON shapes of each feed, for one site."""

    def __init__(self, site: Site) -> None:
        """Bind the renderer to the site whose devices and clients events refer to."""
        self.site = site
        self._pool = address_pool(site)
        # Alarms get ids of their own (issue 17): the event's counter under another machine part.
        self._alarm_machine = alarm_machine(site.machine)
        gw = site.devices[site.gateway]
        self._gw_param = {
            "id": gw.mac,
            "ip": gw.ip,
            "model": gw.model,
            "name": gw.name,
            "version": gw.version,
        }
        self._v2: dict[Kind, Callable[[Event], V2Parts]] = {
            Kind.WIFI_CONNECT: self._v2_wifi_connect,
            Kind.WIFI_DISCONNECT: self._v2_wifi_disconnect,
            Kind.THREAT_BLOCKED: self._v2_threat,
            Kind.THREAT_DETECTED: self._v2_threat,
            Kind.FIREWALL_BLOCKED: self._v2_firewall,
            Kind.DEVICE_UNREACHABLE: self._v2_device,
            Kind.DEVICE_RECONNECTED: self._v2_device,
            Kind.WAN_FAILED: self._v2_wan,
            Kind.WAN_RESTORED: self._v2_wan,
            Kind.WAN_FAILOVER: self._v2_wan,
            Kind.WAN_FAILBACK: self._v2_wan,
            Kind.ISP_HIGH_LATENCY: self._v2_isp,
            Kind.ISP_PACKET_LOSS: self._v2_isp,
            Kind.IP_CONFLICT: self._v2_ip_conflict,
            Kind.ADMIN_LOGIN: self._v2_admin,
            Kind.ADMIN_LOGIN_FAILED: self._v2_admin,
            Kind.CONFIG_CHANGE: self._v2_admin,
            Kind.RADAR: self._v2_rf,
            Kind.CHANNEL_CHANGED: self._v2_rf,
            Kind.POE_OVERLOAD: self._v2_poe,
            Kind.DEVICE_PENDING: self._v2_pending,
            Kind.CONTROLLER_ALERT: self._v2_power_alert,
            Kind.UNKNOWN: self._v2_unknown,
        }
        self._legacy: dict[Kind, Callable[[Event], LegacyParts]] = {
            Kind.WIFI_CONNECT: self._lg_wifi_connect,
            Kind.WIFI_DISCONNECT: self._lg_wifi_disconnect,
            Kind.WIFI_ROAM: self._lg_roam,
            Kind.WIRED_CONNECT: self._lg_wired,
            Kind.THREAT_BLOCKED: self._lg_ips,
            Kind.THREAT_DETECTED: self._lg_ips,
            Kind.DEVICE_UNREACHABLE: self._lg_device,
            Kind.DEVICE_RECONNECTED: self._lg_device,
            Kind.DEVICE_UPGRADED: self._lg_device,
            Kind.ARCHIVED_ALARM: self._lg_device,
            Kind.DEVICE_PENDING: self._lg_pending,
            Kind.WAN_FAILED: self._lg_wan,
            Kind.WAN_RESTORED: self._lg_wan,
            Kind.WAN_FAILOVER: self._lg_wan,
            Kind.ADMIN_LOGIN: self._lg_admin,
            Kind.ADMIN_LOGIN_FAILED: self._lg_admin,
            Kind.RADAR: self._lg_rf,
            Kind.CHANNEL_CHANGED: self._lg_rf,
            Kind.POE_OVERLOAD: self._lg_poe,
            Kind.UNKNOWN: self._lg_unknown,
        }

    # ---- shared pieces

    def event_id(self, ev: Event) -> str:
        """The record id shared by every shape of this event."""
        return make_id(ev.time_ms, self.site.machine, ev.idx)

    def _client_param(self, ci: int) -> dict[str, Any]:
        c = self.site.clients[ci]
        p: dict[str, Any] = {"id": c.mac, "name": c.display, "ip": c.ip}
        if c.hostname:
            p["hostname"] = c.hostname
        p["device_fingerprint_id"] = 4600 + ci
        p["fingerprint_source"] = 0
        return p

    def _device_param(self, di: int) -> dict[str, Any]:
        d = self.site.devices[di]
        return {
            "id": d.mac,
            "ip": d.ip,
            "model": d.model,
            "model_name": d.model_name,
            "name": d.name,
            "version": d.version,
        }

    def _external(self, ev: Event) -> str:
        """The external address of an IPS or firewall event (see the word layout above)."""
        ip = word_address(ev.rnd, self._pool)
        assert ip is not None  # the pool is never empty: 762 addresses, six taken
        return ip

    def _admin(self, ev: Event) -> tuple[str, str, str]:
        """(admin id, admin name, source address) of an admin event; the admin's usual address unless
        the word names another."""
        who = ev.rnd & 1
        admin_id, name = self.site.admins[who]
        ip = f"192.168.1.{20 + who}" if not ev.rnd & _EXPLICIT else word_address(ev.rnd, ())
        assert ip is not None
        return admin_id, name, ip

    def _ap_for(self, ev: Event) -> int:
        return ev.dev if ev.dev >= 0 else self.site.aps[0]

    def _ips_facts(self, ev: Event) -> dict[str, Any]:
        """Signature, endpoints and geo of an IPS event, all derived from its random word."""
        r = ev.rnd
        signature = SIGNATURES[(r & 15) % len(SIGNATURES)]
        sid, sig, category, catname, sev, proto, app_proto, dport, inbound = signature
        client = self.site.clients[ev.cli if ev.cli >= 0 else 0]
        ext = self._external(ev)
        country = _COUNTRIES[address_index(ext) % len(_COUNTRIES)]  # one country per source address
        sport = 1024 + (r >> 14) % 60000
        if inbound:
            src_ip, src_port, dst_ip, dst_port = ext, sport, client.ip, dport
        else:
            src_ip, src_port, dst_ip, dst_port = client.ip, sport, ext, dport
        return {
            "sid": sid,
            "sig": sig,
            "category": category,
            "catname": catname,
            "sev": sev,
            "proto": proto,
            "app_proto": app_proto,
            "inbound": inbound,
            "client": client,
            "ext": ext,
            "country": country,
            "src_ip": src_ip,
            "src_port": src_port,
            "dst_ip": dst_ip,
            "dst_port": dst_port,
            "blocked": ev.kind == Kind.THREAT_BLOCKED,
        }

    # ---- v2 system log

    def v2(self, ev: Event) -> dict[str, Any]:
        """The v2 ``system-log/all`` row of an event."""
        meta = KINDS[ev.kind].v2
        assert meta is not None
        key, message_raw, params, target = self._v2[ev.kind](ev)
        row: dict[str, Any] = {
            "category": meta.category,
            "event": meta.event,
            "id": self.event_id(ev),
            "key": key,
            "message_raw": message_raw,
            "parameters": params,
            "severity": meta.severity,
            "show_on_dashboard": meta.severity in ("HIGH", "VERY_HIGH"),
            "status": "NEW",
            "timestamp": ev.time_ms,
            "title_raw": meta.title,
            "type": meta.type,
        }
        if meta.subcategory:
            row["subcategory"] = meta.subcategory
        if target:
            row["target"] = target
        return row

    def _v2_wifi_connect(self, ev: Event) -> V2Parts:
        ap = self.site.devices[self._ap_for(ev)]
        params = {
            "CLIENT": self._client_param(ev.cli),
            "AP": {"id": ap.mac, "name": ap.name},
            "WLAN": {"id": f"wlan{ev.rnd % 2}", "name": _SSIDS[ev.rnd % 2]},
        }
        return "CLIENT_CONNECTED_WIRELESS_2", "{CLIENT} has connected to {AP}.", params, None

    def _v2_wifi_disconnect(self, ev: Event) -> V2Parts:
        ap = self.site.devices[self._ap_for(ev)]
        secs = 30 + (ev.rnd >> 4) % 20000
        params = {
            "CLIENT": self._client_param(ev.cli),
            "AP": {"id": ap.mac, "name": ap.name},
            "DURATION": {"id": str(secs), "name": _duration_text(secs)},
        }
        return (
            "CLIENT_DISCONNECTED_WIRELESS_2",
            "{CLIENT} has disconnected from {AP} after {DURATION}.",
            params,
            None,
        )

    def _v2_threat(self, ev: Event) -> V2Parts:
        f = self._ips_facts(ev)
        verdict = "BLOCKED" if f["blocked"] else "DETECTED"
        tail = " and blocked." if f["blocked"] else "."
        ext = {"id": f["ext"], "name": f["ext"], "not_actionable": True}
        if f["inbound"]:
            params = {"SRC_IP": ext, "DST_CLIENT": self._client_param(ev.cli), "DEVICE": dict(self._gw_param)}
            key = f"THREAT_{verdict}_KNOWN_DESTINATION_CLIENT"
            msg = "A network intrusion attempt from {SRC_IP} to {DST_CLIENT} has been detected" + tail
        else:
            params = {"SRC_CLIENT": self._client_param(ev.cli), "DST_IP": ext, "DEVICE": dict(self._gw_param)}
            key = f"THREAT_{verdict}_KNOWN_SOURCE_CLIENT"
            msg = "A network intrusion attempt from {SRC_CLIENT} to {DST_IP} has been detected" + tail
        return key, msg, params, "DEVICE"

    def _v2_firewall(self, ev: Event) -> V2Parts:
        ext = self._external(ev)
        rules = ("block cameras to external", "IoT isolation", "Block Tor exit nodes")
        params = {
            "SRC_CLIENT": self._client_param(ev.cli),
            "CONSOLE_NAME": {"id": self._gw_param["name"], "name": self._gw_param["name"]},
            "DST_IP": {"id": ext, "name": ext, "not_actionable": True},
            "TRIGGER": {"id": f"trigger-{ev.rnd % 3:04d}", "name": rules[ev.rnd % 3]},
        }
        return (
            "TRAFFIC_BLOCKED_KNOWN_SOURCE_CLIENT",
            "{SRC_CLIENT} was blocked from accessing {DST_IP} by the {TRIGGER} Firewall Policy.",
            params,
            "TRIGGER",
        )

    def _v2_device(self, ev: Event) -> V2Parts:
        params = {
            "DEVICE": self._device_param(ev.dev),
            "CONSOLE_NAME": {"id": self._gw_param["name"], "name": self._gw_param["name"]},
        }
        if ev.kind == Kind.DEVICE_UNREACHABLE:
            return "DEVICE_UNREACHABLE", "{DEVICE} is unreachable.", params, "DEVICE"
        return "DEVICE_RECONNECTED", "{DEVICE} has reconnected.", params, "DEVICE"

    def _wan_params(self) -> dict[str, Any]:
        s = self.site
        return {
            "DEVICE": dict(self._gw_param),
            "WAN": {"id": "WAN", "name": f"Internet 1 ({s.isp_name})"},
            "WAN_BACKUP": {"id": "WAN2", "name": f"Internet 2 ({s.backup_isp_name})"},
        }

    def _v2_wan(self, ev: Event) -> V2Parts:
        params = self._wan_params()
        return {
            Kind.WAN_FAILED: ("NETWORK_WAN_FAILED", "{WAN} on {DEVICE} is down."),
            Kind.WAN_RESTORED: ("NETWORK_WAN_RESTORED", "{WAN} on {DEVICE} has been restored."),
            Kind.WAN_FAILOVER: (
                "NETWORK_FAILED_OVER_TO_BACKUP_WAN",
                "{DEVICE} failed over from {WAN} to {WAN_BACKUP}.",
            ),
            Kind.WAN_FAILBACK: (
                "NETWORK_RETURNED_FROM_BACKUP_WAN",
                "{DEVICE} returned from {WAN_BACKUP} to {WAN}.",
            ),
        }[ev.kind] + (params, "DEVICE")

    def _v2_isp(self, ev: Event) -> V2Parts:
        params = self._wan_params()
        del params["WAN_BACKUP"]
        if ev.kind == Kind.ISP_HIGH_LATENCY:
            ms = 120 + ev.rnd % 400
            params["LATENCY"] = {"id": str(ms), "name": f"{ms} ms"}
            return "ISP_HIGH_LATENCY", "High latency of {LATENCY} detected on {WAN}.", params, "DEVICE"
        loss = 2 + (ev.rnd % 150) / 10
        params["PACKET_LOSS"] = {"id": f"{loss:.1f}", "name": f"{loss:.1f}%"}
        return "ISP_PACKET_LOSS", "{PACKET_LOSS} packet loss detected on {WAN}.", params, "DEVICE"

    def _v2_ip_conflict(self, ev: Event) -> V2Parts:
        other = self.site.conflict_partner
        ip = self.site.clients[ev.cli].ip
        params = {
            "SRC_CLIENT": self._client_param(ev.cli),
            "DST_CLIENT": self._client_param(other),
            "IP": {"id": ip, "name": ip},
        }
        return (
            "CLIENT_IP_CONFLICT",
            "{SRC_CLIENT} and {DST_CLIENT} are both using {IP}.",
            params,
            "SRC_CLIENT",
        )

    def _v2_admin(self, ev: Event) -> V2Parts:
        admin_id, admin, ip = self._admin(ev)
        params: dict[str, Any] = {"ADMIN": {"id": admin_id, "name": admin}}
        if ev.kind == Kind.ADMIN_LOGIN:
            params["IP"] = {"id": ip, "name": ip}
            return (
                "ACCESSED_NETWORK_WEB",
                "{ADMIN} accessed UniFi Network from {IP} using the web.",
                params,
                None,
            )
        if ev.kind == Kind.ADMIN_LOGIN_FAILED:
            # Failed logins name the account tried, which need not exist, so the parameter has no id.
            params = {"ADMIN": {"name": admin}, "IP": {"id": ip, "name": ip}}
            return "ADMIN_LOGIN_FAILED", "Failed login to UniFi Network as {ADMIN} from {IP}.", params, None
        networks = ("IoT", "Guest", "Default")
        params["NETWORK"] = {"id": f"{ev.rnd:024x}"[-24:], "name": networks[ev.rnd % 3]}
        return (
            "NETWORK_SETTINGS_CHANGED",
            "{ADMIN} changed the settings of the {NETWORK} network.",
            params,
            None,
        )

    def _v2_rf(self, ev: Event) -> V2Parts:
        """Radar on a DFS channel, or the channel change of an AP (assumed keys, see KINDS)."""
        params: dict[str, Any] = {
            "DEVICE": self._device_param(ev.dev),
            "RADIO_BAND": {"id": "na", "name": "5 GHz"},
        }
        if ev.kind == Kind.RADAR:
            ch = _RADAR_CHANNELS[ev.rnd % 3]
            params["CHANNEL"] = {"id": ch, "name": ch}
            return (
                "RADAR_DETECTED",
                "{DEVICE} detected radar on channel {CHANNEL} ({RADIO_BAND}) and is leaving it.",
                params,
                "DEVICE",
            )
        ch = _CLEAR_CHANNELS[(ev.rnd >> 2) % 3]
        params["CHANNEL"] = {"id": ch, "name": ch}
        message = "{DEVICE} changed its {RADIO_BAND} channel to {CHANNEL}."
        return "AP_CHANNEL_CHANGED", message, params, "DEVICE"

    def _v2_poe(self, ev: Event) -> V2Parts:
        """A PoE overload on one port of a switch (assumed key, see KINDS)."""
        port = str(self._poe_port(ev))
        params = {"DEVICE": self._device_param(ev.dev), "PORT": {"id": port, "name": f"Port {port}"}}
        message = "PoE overload on {PORT} of {DEVICE}; the port's power was cut."
        return "PORT_POE_OVERLOAD", message, params, "DEVICE"

    def _v2_pending(self, ev: Event) -> V2Parts:
        """A device announcing itself for adoption (DEVICE_DISCOVERED, reference §6.2)."""
        params = {"DEVICE": self._device_param(ev.dev)}
        return "DEVICE_DISCOVERED", "{DEVICE} was discovered and is ready for adoption.", params, "DEVICE"

    def _v2_power_alert(self, ev: Event) -> V2Parts:
        """A HIGH alert about the gateway under a key no analyzer catalogue knows."""
        params = {"DEVICE": dict(self._gw_param), "PSU": {"id": "psu2", "name": "Power Supply 2"}}
        return (
            "POWER_SUPPLY_REDUNDANCY_LOST",
            "{PSU} of {DEVICE} failed; the device runs without power redundancy.",
            params,
            "DEVICE",
        )

    def _v2_unknown(self, ev: Event) -> V2Parts:
        params = {"TUNNEL": {"id": "hub-1", "name": "HQ hub tunnel"}}
        # {REMOTE_SITE} has no parameter on purpose: renderers must leave unknown placeholders intact.
        return "SDWAN_TUNNEL_DEGRADED", "Tunnel {TUNNEL} to {REMOTE_SITE} is degraded.", params, None

    # ---- legacy stat/event

    def legacy(self, ev: Event) -> dict[str, Any]:
        """The legacy ``stat/event`` row of an event (also the base of alarms)."""
        key, subsystem, msg, fields = self._legacy[ev.kind](ev)
        row: dict[str, Any] = {
            "_id": self.event_id(ev),
            **fields,
            "key": key,
            "subsystem": subsystem,
            "site_id": self.site.site_id,
            "time": ev.time_ms,
            "datetime": iso_utc(ev.time_ms),
            "msg": msg,
        }
        return row

    def alarm_id(self, ev: Event) -> str:
        """The alarm's own record id: same time and counter as the event, another machine part."""
        return make_id(ev.time_ms, self._alarm_machine, ev.idx)

    def alarm(self, ev: Event) -> dict[str, Any]:
        """The ``list/alarm`` row of an event: the legacy row under the alarm's own id, plus alarm state.

        An alarm repeating an event is archived at random (an admin looked at it); the alarm-only
        kind is always archived and handled, the case where an alarm must not become a finding.
        """
        row = self.legacy(ev)
        row["_id"] = self.alarm_id(ev)
        archived = KINDS[ev.kind].alarm_only or bool(ev.rnd & 2)
        row["archived"] = archived
        if archived:
            # handled_time's format is assumed (ISO, like `datetime`): no public capture shows one.
            row["handled_admin_id"] = self.site.admins[0][0]
            row["handled_time"] = iso_utc(ev.time_ms + 25 * 60_000)
        dev = self.site.devices[ev.dev] if ev.dev >= 0 else None
        if dev is not None:
            row["device_name"] = dev.name
        return row

    def _lg_wifi_connect(self, ev: Event) -> LegacyParts:
        c, ap = self.site.clients[ev.cli], self.site.devices[self._ap_for(ev)]
        radio = "na" if ev.rnd & 2 else "ng"
        ch = (_CHANNELS_5 if radio == "na" else _CHANNELS_2)[(ev.rnd >> 2) % 3]
        ssid = _SSIDS[ev.rnd % 2]
        fields = {"user": c.mac, "ssid": ssid, "ap": ap.mac, "radio": radio, "channel": ch}
        if c.hostname:
            fields["hostname"] = c.hostname
        msg = f'User[{c.mac}] has connected to AP[{ap.mac}] with SSID "{ssid}" on "channel {ch}({radio})"'
        return "EVT_WU_Connected", "wlan", msg, fields

    def _lg_wifi_disconnect(self, ev: Event) -> LegacyParts:
        c, ap = self.site.clients[ev.cli], self.site.devices[self._ap_for(ev)]
        ssid = _SSIDS[ev.rnd % 2]
        secs = 30 + (ev.rnd >> 4) % 20000
        nbytes = (ev.rnd >> 2) * 3
        fields: dict[str, Any] = {
            "user": c.mac,
            "ssid": ssid,
            "ap": ap.mac,
            "duration": secs,
            "bytes": nbytes,
        }
        if c.hostname:
            fields["hostname"] = c.hostname
        msg = (
            f'User[{c.mac}] disconnected from "{ssid}" ({_duration_text(secs)} connected, '
            f"{_bytes_text(nbytes)} bytes, last AP[{ap.mac}])"
        )
        return "EVT_WU_Disconnected", "wlan", msg, fields

    def _lg_roam(self, ev: Event) -> LegacyParts:
        s = self.site
        c = s.clients[ev.cli]
        a = self._ap_for(ev)
        others = [i for i in s.aps if i != a]
        b = others[(ev.rnd >> 5) % len(others)]
        ap_from, ap_to = s.devices[a], s.devices[b]
        ch_from, ch_to = _CHANNELS_5[ev.rnd % 5], _CHANNELS_5[(ev.rnd >> 3) % 5]
        radio_to = "na" if ev.rnd & 64 else "ng"
        if radio_to == "ng":
            ch_to = _CHANNELS_2[(ev.rnd >> 3) % 3]
        fields: dict[str, Any] = {
            "user": c.mac,
            "ssid": _SSIDS[ev.rnd % 2],
            "ap_from": ap_from.mac,
            "ap_to": ap_to.mac,
            "channel_from": ch_from,
            "channel_to": ch_to,
            "radio_from": "na",
            "radio_to": radio_to,
        }
        if c.hostname:
            fields["hostname"] = c.hostname
        msg = (
            f'User[{c.mac}] roams from AP[{ap_from.mac}] to AP[{ap_to.mac}] from "channel {ch_from}(na)" '
            f'to "channel {ch_to}({radio_to})"'
        )
        return "EVT_WU_Roam", "wlan", msg, fields

    def _lg_wired(self, ev: Event) -> LegacyParts:
        c = self.site.clients[ev.cli]
        sw = self.site.devices[ev.dev]
        fields: dict[str, Any] = {
            "user": c.mac,
            "sw": sw.mac,
            "sw_name": sw.name,
            "port": 2 + ev.rnd % 6,
            "network": "Default",
        }
        if c.hostname:
            fields["hostname"] = c.hostname
        return "EVT_LU_Connected", "lan", f'User[{c.mac}] has connected to "Default"', fields

    def _lg_device(self, ev: Event) -> LegacyParts:
        d = self.site.devices[ev.dev]
        p, label = d.legacy_prefix, d.msg_label
        field = p.lower()
        fields: dict[str, Any] = {field: d.mac, f"{field}_name": d.name, f"{field}_model": d.model}
        subsystem = "wlan" if d.type == "uap" else "lan"
        if ev.kind in (Kind.DEVICE_UNREACHABLE, Kind.ARCHIVED_ALARM):
            return f"EVT_{p}_Lost_Contact", subsystem, f"{label}[{d.mac}] was disconnected", fields
        if ev.kind == Kind.DEVICE_RECONNECTED:
            return f"EVT_{p}_Connected", subsystem, f"{label}[{d.mac}] was connected", fields
        # The upgrade ended on the version stat/device reports now.
        old, new = ("6.6.77.15402" if d.type == "uap" else "7.1.26.15869"), d.version
        fields.update(version_from=old, version_to=new)
        return (
            f"EVT_{p}_Upgraded",
            subsystem,
            f'{label}[{d.mac}] was upgraded from "{old}" to "{new}"',
            fields,
        )

    def _lg_wan(self, ev: Event) -> LegacyParts:
        # A failover is assumed to show as the backup interface (stat/device wan2) turning active:
        # legacy controllers have no failover key, and this key's template names only iface and state.
        # The backup stays up as a standby after the failback, so that leaves no legacy trace.
        gw = self.site.devices[self.site.gateway]
        spec_iface = gw.record["wan2" if ev.kind == Kind.WAN_FAILOVER else "wan1"]["ifname"]
        state = "inactive" if ev.kind == Kind.WAN_FAILED else "active"
        fields = {"gw": gw.mac, "gw_name": gw.name, "iface": spec_iface, "state": state}
        return (
            "EVT_GW_WANTransition",
            "wan",
            f"Gateway[{gw.mac}] WAN iface {spec_iface} transition to state {state}",
            fields,
        )

    def _lg_pending(self, ev: Event) -> LegacyParts:
        """The legacy row of a device waiting for adoption."""
        d = self.site.devices[ev.dev]
        fields = {"ap": d.mac, "ap_name": d.name, "ap_model": d.model}
        msg = f"AP[{d.mac}] was discovered and waiting for adoption"
        return "EVT_AP_DiscoveredPending", "wlan", msg, fields

    def _lg_admin(self, ev: Event) -> LegacyParts:
        _, admin, ip = self._admin(ev)
        if ev.kind == Kind.ADMIN_LOGIN:
            return "EVT_AD_Login", "lan", f"Admin[{admin}] log in from {ip}", {"admin": admin, "ip": ip}
        return (
            "EVT_AD_LoginFailed",
            "lan",
            f"Admin[{admin}] failed to log in from {ip}",
            {"admin": admin, "ip": ip},
        )

    def _lg_rf(self, ev: Event) -> LegacyParts:
        d = self.site.devices[ev.dev]
        base: dict[str, Any] = {"ap": d.mac, "ap_name": d.name}
        if ev.kind == Kind.RADAR:
            ch = _RADAR_CHANNELS[ev.rnd % 3]
            base.update(channel=ch, radio="na")
            return "EVT_AP_RadarDetected", "wlan", f"AP[{d.mac}] detected radar on channel {ch}", base
        ch_from, ch_to = _RADAR_CHANNELS[ev.rnd % 3], _CLEAR_CHANNELS[(ev.rnd >> 2) % 3]
        base.update(radio="na", channel_from=ch_from, channel_to=ch_to)
        return (
            "EVT_AP_ChannelChanged",
            "wlan",
            f"AP[{d.mac}] changed channel from {ch_from} to {ch_to}",
            base,
        )

    def _poe_port(self, ev: Event) -> int:
        """The overloaded port: one of the core switch's AP ports (3-6)."""
        return 3 + ev.rnd % 4

    def _lg_poe(self, ev: Event) -> LegacyParts:
        d = self.site.devices[ev.dev]
        port = self._poe_port(ev)
        return (
            "EVT_SW_PoeOverload",
            "lan",
            f"Switch[{d.mac}] PoE overload on port {port}",
            {"sw": d.mac, "sw_name": d.name, "port": port},
        )

    def _lg_unknown(self, ev: Event) -> LegacyParts:
        gw = self.site.devices[self.site.gateway]
        return (
            "EVT_GW_SDWANTunnelDegraded",
            "wan",
            f"Gateway[{gw.mac}] SD-WAN tunnel to hub-1 is degraded",
            {"gw": gw.mac, "gw_name": gw.name},
        )

    def _lg_ips(self, ev: Event) -> LegacyParts:
        return "EVT_IPS_IpsAlert", "www", self._ips_msg(ev), self._ips_fields(ev)

    def _ips_msg(self, ev: Event) -> str:
        f = self._ips_facts(ev)
        return (
            f"IPS Alert {f['sev']}: {f['category']}. Signature {f['sig']}. "
            f"From: {f['src_ip']}:{f['src_port']}, "
            f"to: {f['dst_ip']}:{f['dst_port']}, protocol: {f['proto']}"
        )

    def _ips_fields(self, ev: Event) -> dict[str, Any]:
        f = self._ips_facts(ev)
        gw = self.site.devices[self.site.gateway]
        cc, cname, cont, city, lat, lon, asn, org = f["country"]
        ext_geo: dict[str, Any] = {
            "continent_code": cont,
            "country_code": cc,
            "country_name": cname,
            "city": city,
            "latitude": lat,
            "longitude": lon,
            "asn": asn,
            "organization": org,
        }
        # Geo of the private side is empty; real payloads mix {}, [] and false (reference §7.15).
        empty_geo: Any = ({}, [], False)[ev.rnd % 3]
        src_geo, dst_geo = (ext_geo, empty_geo) if f["inbound"] else (empty_geo, ext_geo)
        client = f["client"]
        us = (ev.time_ms % 1000) * 1000 + ev.rnd % 1000
        return {
            "timestamp": ev.time_ms // 1000,
            "flow_id": (ev.rnd << 19) | (ev.idx & 0x7FFFF),
            "in_iface": gw.record["wan1"]["ifname"] if f["inbound"] else "br0",
            "event_type": "alert",
            "src_ip": f["src_ip"],
            "src_mac": gw.mac if f["inbound"] else client.mac,
            "src_port": f["src_port"],
            "dest_ip": f["dst_ip"],
            "dst_mac": client.mac if f["inbound"] else gw.mac,
            "dest_port": f["dst_port"],
            "proto": f["proto"],
            "app_proto": f["app_proto"],
            "host": gw.mac,
            "usgip": self.site.wan_ip,
            "unique_alertid": f"{ev.rnd}-{iso_utc(ev.time_ms)[:-1]}.{us:06d}+0000",
            "srcipCountry": cc if f["inbound"] else False,
            "dstipCountry": False if f["inbound"] else cc,
            "srcipASN": f"AS{asn} {org}" if f["inbound"] else "",
            "dstipASN": "" if f["inbound"] else f"AS{asn} {org}",
            "srcipGeo": src_geo,
            "dstipGeo": dst_geo,
            "catname": f["catname"],
            "inner_alert_action": "blocked" if f["blocked"] else "allowed",
            "inner_alert_gid": 1,
            "inner_alert_signature_id": f["sid"],
            "inner_alert_rev": 2 + ev.rnd % 20,
            "inner_alert_signature": f["sig"],
            "inner_alert_category": f["category"],
            "inner_alert_severity": f["sev"],
        }

    def ips(self, ev: Event) -> dict[str, Any]:
        """The ``stat/ips/event`` row of an IPS event (``timestamp`` in seconds, ``time`` in ms)."""
        row = self.legacy(ev)
        row["archived"] = False
        return row

    # ---- v2 traffic flows

    def flow(self, ev: Event) -> dict[str, Any]:
        """The ``traffic-flows`` row of an IPS event, with the signature in ``ips.advanced_information``."""
        f = self._ips_facts(ev)
        client = f["client"]
        cc = f["country"][0]
        inside = {"ip": client.ip, "mac": client.mac, "client_name": client.display, "region": None}
        outside = {"ip": f["ext"], "mac": None, "client_name": None, "region": cc}
        src, dst = (outside, inside) if f["inbound"] else (inside, outside)
        src = {**src, "port": f["src_port"]}
        dst = {**dst, "port": f["dst_port"]}
        wan = {"network_id": "wan1", "network_name": "Internet 1"}
        lan = {"network_id": "lan1", "network_name": "Default"}
        return {
            "id": self.event_id(ev),
            "time": ev.time_ms,
            "risk": {1: "high", 2: "medium"}.get(f["sev"], "low"),
            "action": "blocked" if f["blocked"] else "allowed",
            "direction": "incoming" if f["inbound"] else "outgoing",
            "protocol": f["proto"],
            "service": f["app_proto"].upper() if f["app_proto"] != "failed" else "OTHER",
            "policy_type": "INTRUSION_PREVENTION",
            "in": wan if f["inbound"] else lan,
            "out": lan if f["inbound"] else wan,
            "source": src,
            "destination": dst,
            "ips": {
                "advanced_information": f["sig"],
                "signature_id": f["sid"],
                "category_name": f["category"],
                "ips_category": f["catname"] if isinstance(f["catname"], str) else f["catname"][0],
            },
            "count": 1 + ev.rnd % 5,
            "bytes_total": 60 + ev.rnd % 9000,
        }


# --------------------------------------------------------------------------------------------------
# Controller-level state documents


def health(site: Site, now_ms: int) -> list[dict[str, Any]]:
    """``stat/health`` rows shaped like the sample; every subsystem is ``ok`` (the VPN has no tunnel).

    The disconnected counts follow the devices' current states.
    """
    gw = site.devices[site.gateway]
    aps = [site.devices[i] for i in (*site.aps, site.offline_ap)]
    sws = [site.devices[i] for i in site.switches]
    wifi = len(site.wifi_clients)
    stats = gw.record["system-stats"]
    return [
        {
            "subsystem": "wlan",
            "num_user": wifi - 3,
            "num_guest": 1,
            "num_iot": 2,
            "tx_bytes-r": 48_211,
            "rx_bytes-r": 9_804,
            "status": "ok",
            "num_ap": len(aps),
            "num_adopted": len(aps),
            "num_disabled": 0,
            "num_disconnected": sum(1 for a in aps if a.state == 0),
            "num_pending": int(site.pending_ap is not None),  # the AP waiting for adoption
        },
        {
            "subsystem": "wan",
            "num_gw": 1,
            "num_adopted": 1,
            "num_disconnected": int(gw.state == 0),
            "num_pending": 0,
            "status": "ok",
            "wan_ip": site.wan_ip,
            "gateways": ["203.0.113.1"],
            "netmask": "255.255.255.0",
            "nameservers": ["1.1.1.1", "8.8.8.8"],
            "num_sta": len(site.clients),
            "tx_bytes-r": 34_263,
            "rx_bytes-r": 19_465,
            "gw_mac": gw.mac,
            "gw_name": gw.name,
            "gw_system-stats": dict(stats),
            "gw_version": gw.version,
            "isp_name": site.isp_name,
            "isp_organization": f"{site.isp_name}, Inc.",
            "uptime_stats": {
                "WAN": {
                    "alerting_monitors": [
                        {
                            "availability": 100.0,
                            "latency_average": 9,
                            "target": "ping.ui.com",
                            "type": "icmp",
                        },
                        {"availability": 99.2, "latency_average": 34, "target": "1.1.1.1", "type": "dns"},
                    ],
                    "availability": 99.6,
                    "latency_average": 12,
                    "monitors": [
                        {
                            "availability": 100.0,
                            "latency_average": 15,
                            "target": "www.microsoft.com",
                            "type": "icmp",
                        },
                        {"availability": 99.6, "latency_average": 13, "target": "google.com", "type": "icmp"},
                        {"availability": 99.6, "latency_average": 9, "target": "1.1.1.1", "type": "icmp"},
                    ],
                    "time_period": 86400,
                    "uptime": int(stats.get("uptime") or 0),
                }
            },
        },
        {
            "subsystem": "www",
            "status": "ok",
            "tx_bytes-r": 34_263,
            "rx_bytes-r": 19_465,
            "latency": 12,
            "uptime": int(stats.get("uptime") or 0),
            "drops": 3,
            "xput_up": 41.2,
            "xput_down": 938.6,
            "speedtest_status": "Success",
            "speedtest_lastrun": now_ms // 1000 - 6 * 3600,
            "speedtest_ping": 11,
            "gw_mac": gw.mac,
        },
        {
            "subsystem": "lan",
            "lan_ip": None,
            "status": "ok",
            "num_user": len(site.wired_clients),
            "num_guest": 0,
            "num_iot": 0,
            "tx_bytes-r": 0,
            "rx_bytes-r": 0,
            "num_sw": len(sws),
            "num_adopted": len(sws),
            "num_disconnected": sum(1 for sw in sws if sw.state == 0),
            "num_pending": 0,
        },
        {
            "subsystem": "vpn",
            "status": "ok",
            "remote_user_enabled": False,
            "site_to_site_enabled": False,
            "site_to_site_num_active": 0,
            "site_to_site_num_inactive": 0,
            "site_to_site_rx_bytes": 0,
            "site_to_site_tx_bytes": 0,
            "site_to_site_rx_packets": 0,
            "site_to_site_tx_packets": 0,
        },
    ]


def rogue_aps(site: Site, seed: int, now_ms: int) -> list[dict[str, Any]]:
    """Neighbouring APs heard by the site's APs over the last two days (``stat/rogueap``)."""
    rng = seeded_rng(site_label(f"rogue:{seed}", site.name))
    now_s = now_ms // 1000
    rows = []
    for n, (essid, oui, is_ubnt) in enumerate(
        (
            ("xfinitywifi", "3c:37:86", False),
            ("NETGEAR-5G", "a0:40:a0", False),
            ("DIRECT-7F-HP M404", "fa:5a:0f", False),
            ("FreeWiFi", "0a:12:77", False),
            ("Neighbor-UniFi", "74:83:c2", True),
            ("TP-Link_8C2A", "b0:be:76", False),
            ("", "0e:11:22", False),
            ("CoffeeShop", "d8:07:b6", False),
            ("Northwind-5G-Cafe", "0a:44:19", False),
        )
    ):
        channel = rng.choice((1, 6, 11, 36, 44, 149))
        last_seen = now_s - rng.randrange(60, 40 * 3600)
        ap = site.devices[site.aps[n % len(site.aps)]]
        rssi = rng.randrange(5, 40)
        rows.append(
            {
                "_id": _hex_id(rng),
                "site_id": site.site_id,
                "bssid": _mac(rng, oui),
                "essid": essid,
                "ap_mac": ap.mac,
                "channel": channel,
                "freq": 2412 + 5 * (channel - 1) if channel < 14 else 5000 + 5 * channel,
                "band": "ng" if channel < 14 else "na",
                "radio": "ng" if channel < 14 else "na",
                "rssi": rssi,
                "signal": rssi - 95,
                "noise": -95,
                "security": rng.choice(("wpapsk", "open", "wpa2", "wpa3")),
                "is_rogue": False,  # neighbours only: nothing imitates the site's own SSIDs
                "is_ubnt": is_ubnt,
                "is_adhoc": False,
                "oui": "Ubiquiti Inc" if is_ubnt else "",
                "last_seen": last_seen,
                "age": now_s - last_seen,
            }
        )
    return rows


ANOMALY_TYPES = (
    "USER_HIGH_TCP_LATENCY",
    "USER_LOW_PHY_RATE",
    "USER_SLEEPY_CLIENT",
    "USER_DNS_TIMEOUT",
    "USER_HIGH_WIFI_RETRIES",
    "USER_POOR_STREAM_EFF",
)


def anomalies(site: Site, seed: int, lo_ms: int, hi_ms: int) -> list[tuple[str, str, list[int]]]:
    """Hourly anomaly timestamps per (anomaly, client MAC) over [lo_ms, hi_ms): a few, on two clients."""
    rng = seeded_rng(site_label(f"anomalies:{seed}", site.name))
    out = []
    first_hour = (lo_ms // HOUR_MS + 1) * HOUR_MS
    hours = list(range(first_hour, hi_ms, HOUR_MS))
    for n in range(2):
        client = site.clients[site.wifi_clients[(n * 3) % len(site.wifi_clients)]]
        stamps = sorted(rng.sample(hours, min(len(hours), rng.randrange(1, 6)))) if hours else []
        out.append((ANOMALY_TYPES[n % len(ANOMALY_TYPES)], client.mac, stamps))
    return out


def derive_token(seed: int, label: str, length: int = 32) -> str:
    """A stable random-looking alphanumeric token (API key, secrets) derived from the seed."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    digest = hashlib.sha256(f"{seed}:{label}".encode()).digest() * 2
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])
