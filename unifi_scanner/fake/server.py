"""A fake UniFi Network controller served over real HTTP(S) on loopback.

The fake follows the shared API reference: UniFi OS consoles (Network 9.x and 10.x) and the legacy
self-hosted Network Application, with their login flows, cookies, CSRF tokens, path prefixes, error
envelopes and HTTP status codes. Hostile behaviour (CSRF rotation, session expiry, rate limits, MFA,
injected failures, events that arrive while a client pages, HTML instead of JSON, a handler that never
answers) is switched on through :class:`Behaviours`. Only the standard library is used at run time.

Semantics a client can rely on (where the reference leaves a question open, the fake picks the
stricter answer):

* Every underlying event has one 24-hex id, shared by its v2 row (``id``), legacy row and IPS row
  (``_id``) and traffic flow (``id``). ``FakeController.event_ids(since, until)`` is the ground truth
  over ``[since, until)``. An alarm repeating an event has an ``_id`` of its own (same key, device and
  time), as on real controllers; alarms are not events and are not in ``event_ids``.
* ``FakeController.ground_truth`` lists the findings the scenario must produce on the profile, and
  ``FakeController.routine_rules`` the rules the routine background may add as LOW findings.
* A controller serves one or more sites (``sites=``), each with its own devices, clients, health and
  event log under ``/api/s/<site>/…`` and ``/v2/api/site/<site>/…``; ``self/sites`` and ``stat/sites``
  list them all. The first site plays the whole scenario, every other one only its own offline AP
  (``ground_truth_for(site)``). No two sites share a MAC or a record id.
* The sites can change while the fake serves, so that several runs see one story unfold:
  ``add_events`` appends background events, ``device_down`` and ``device_up`` change a device's
  ``stat/device`` row and append its lost-contact or reconnect event to every feed of the profile.
  Responses are built from the current state on every request.
* Time filters are inclusive at both ends: v2 ``timestampFrom``/``timestampTo``, ``stat/ips/event``
  ``start``/``end``, and ``stat/event`` ``[now - within hours, now]``.
* ``system-log/all`` and ``traffic-flows``: newest first, ``pageSize`` capped (default 100, missing
  means 10), ``total_page_count = ceil(total / capped size)``, pages past the end are empty.
* ``stat/event`` and ``stat/ips/event``: newest first (``"_sort": "time"`` gives oldest first),
  ``_start`` offsets, ``_limit`` capped for ``stat/event`` (default 3000), ``meta.count`` is the
  total number of matching events, so ``count > len(data)`` shows truncation.
* ``list/alarm``: the oldest alarms up to the cap, oldest first; every filter is ignored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import select
import socket
import ssl
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from unifi_scanner.fake import data
from unifi_scanner.fake.data import (
    HOUR_MS,
    V2_CATEGORIES,
    V2_SEVERITIES,
    VIEW_ALARM,
    VIEW_IPS,
    VIEW_LEGACY,
    VIEW_V2,
    Event,
    EventLog,
    Kind,
    Renderer,
)

CERT_DIR = Path(__file__).resolve().parent / "certs"
CERT_PATH = CERT_DIR / "localhost.pem"
KEY_PATH = CERT_DIR / "localhost-key.pem"

_MAX_BODY = 8 * 1024 * 1024
_IDLE_TIMEOUT = 30.0  # seconds a kept-alive connection may sit idle before its thread gives up


# --------------------------------------------------------------------------------------------------
# Profiles


class Profile(StrEnum):
    """The controller flavours the fake can impersonate."""

    UNIFI_OS_10 = "unifi_os_10"
    UNIFI_OS_9 = "unifi_os_9"
    LEGACY = "legacy"

    @property
    def is_unifi_os(self) -> bool:
        """True for UniFi OS consoles (``/api/auth/login``, ``/proxy/network`` prefix, API keys)."""
        return self is not Profile.LEGACY

    @property
    def network_version(self) -> str:
        """The Network application version reported by ``stat/sysinfo``."""
        return {"unifi_os_10": "10.0.160", "unifi_os_9": "9.0.114", "legacy": "8.6.9"}[self.value]

    @property
    def build(self) -> str:
        """The ``stat/sysinfo`` build string."""
        return {
            "unifi_os_10": "atag_10.0.160_30104",
            "unifi_os_9": "atag_9.0.114_27601",
            "legacy": "atag_8.6.9_24263",
        }[self.value]

    @property
    def serves_v2(self) -> bool:
        """Whether the v2 API (system log, traffic flows) exists."""
        return self.is_unifi_os

    @property
    def serves_legacy_events(self) -> bool:
        """Whether ``stat/event``, ``stat/ips/event`` and alarms answer (they 404 on Network 10.x)."""
        return self is not Profile.UNIFI_OS_10

    @property
    def gateway(self) -> data.GatewaySpec:
        """The gateway model that a site of this profile has."""
        return data.GATEWAYS[
            {"unifi_os_10": "ucg_ultra", "unifi_os_9": "udm_pro", "legacy": "usg_3p"}[self.value]
        ]

    @property
    def prefix(self) -> str:
        """Path prefix of the Network application's API."""
        return "/proxy/network" if self.is_unifi_os else ""

    def event_kinds(self) -> list[Kind]:
        """Kinds of events a site of this profile produces: only what its primary feed can serve.

        Where the v2 system log exists it carries every event (on Network 9 the legacy list is a second
        view of the same events), so a v2 profile produces only kinds with a v2 form. Alarm-only kinds
        exist wherever alarms are served.
        """
        return [kind for kind, spec in data.KINDS.items()
                if (spec.v2 is not None if self.serves_v2 else spec.legacy)
                or (spec.alarm_only and self.serves_legacy_events)]

    def event_views(self) -> list[str]:
        """The event feeds (views of the event log) this profile serves."""
        views = []
        if self.serves_v2:
            views.append(VIEW_V2)
        if self.serves_legacy_events:
            views += [VIEW_LEGACY, VIEW_ALARM]
        views.append(VIEW_IPS)  # traffic flows on UniFi OS, stat/ips/event where legacy feeds exist
        return views


# --------------------------------------------------------------------------------------------------
# Requests, responses, behaviours


@dataclass
class Request:
    """One HTTP request as the fake sees it (hooks receive this)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    cookies: dict[str, str]
    number: int  # 1-based count of requests this controller has received

    def header(self, name: str) -> str | None:
        """A request header, case-insensitively."""
        return self.headers.get(name)

    def json(self) -> Any:
        """The body parsed as JSON; an empty body is ``{}``. Raises ValueError on bad JSON."""
        if not self.body.strip():
            return {}
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    """What the fake sends back. ``body`` is sent verbatim, so hooks can send broken payloads."""

    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False  # close the connection after this response
    # Seconds between single bytes of the body: a server that answers, but too slowly ever to finish.
    trickle: float = 0.0

    @classmethod
    def json(cls, status: int, obj: Any, headers: Sequence[tuple[str, str]] = ()) -> Response:
        """A JSON response."""
        return cls(status, json.dumps(obj, separators=(",", ":")).encode(), headers=list(headers))

    @classmethod
    def html(cls, status: int, text: str, headers: Sequence[tuple[str, str]] = ()) -> Response:
        """An HTML response."""
        return cls(status, text.encode(), "text/html; charset=utf-8", list(headers))


# A hook sees every request first and may answer it; returning None lets the fake carry on.
Hook = Callable[[Request], Response | None]


@dataclass(frozen=True)
class InjectStatus:
    """Answer some requests with an error status instead of serving them.

    Requests whose path contains ``path_contains`` are counted; the ``nth`` of them (1-based) and the
    ``times - 1`` that follow get ``status``. ``nth=None`` hits every matching request. The body follows
    the path's API style; 502/503/504 come back as the console proxy's HTML page.
    """

    path_contains: str
    status: int
    nth: int | None = 1
    times: int = 1
    retry_after: int | None = None

    def hits(self, count: int) -> bool:
        """Whether the ``count``-th matching request is to be answered with the error."""
        return self.nth is None or self.nth <= count < self.nth + self.times


InjectSpec = InjectStatus | tuple[str, int | None, int, int | None]


@dataclass(frozen=True)
class Behaviours:
    """Switches for realistic misbehaviour; everything is off by default.

    ``inject_status`` accepts :class:`InjectStatus` items, tuples ``(path_substring, nth_call, status,
    retry_after)``, or a mapping ``{request_number: status}`` (any path) / ``{path_substring: status}``
    (every matching request).
    """

    csrf_rotation: bool = False
    session_expiry_after: int | None = None
    login_rate_limit: bool = False
    logins_before_rate_limit: int = 0
    login_retry_after: int = 60
    mfa_required: bool = False
    stale_cookie_breaks_login: bool = False
    inject_status: Sequence[InjectSpec] | Mapping[int | str, int] = ()
    new_events_while_paging: int = 0
    v2_page_size_cap: int = 100
    legacy_limit_cap: int = 3000
    html_instead_of_json: bool = False
    slow_forever: bool | str = False
    slow_max_seconds: float = 120.0
    hooks: Sequence[Hook] = ()

    def injections(self) -> list[InjectStatus]:
        """``inject_status`` normalised to :class:`InjectStatus` items."""
        spec = self.inject_status
        if isinstance(spec, Mapping):
            return [
                InjectStatus("", status, nth=key)
                if isinstance(key, int)
                else InjectStatus(key, status, nth=None)
                for key, status in spec.items()
            ]
        out = []
        for item in spec:
            if isinstance(item, InjectStatus):
                out.append(item)
            else:
                path, nth, status, retry_after = item
                out.append(InjectStatus(path, status, nth=nth, retry_after=retry_after))
        return out


@dataclass(frozen=True)
class Stats:
    """A snapshot of what the fake has served."""

    logins: int
    login_failures: int
    logouts: int
    requests: dict[str, int]  # path (without query) -> count
    statuses: dict[int, int]  # HTTP status -> count
    internal_errors: int  # exceptions inside the fake itself (should stay 0)

    @property
    def total_requests(self) -> int:
        """All requests received."""
        return sum(self.requests.values())

    def requests_to(self, path_contains: str) -> int:
        """Requests whose path contains ``path_contains``."""
        return sum(n for p, n in self.requests.items() if path_contains in p)


@dataclass
class _Session:
    cookie: str
    csrf: str
    requests: int = 0


class _Slow:
    """Marker response: hold the connection without answering."""


_SLOW = _Slow()


@dataclass
class _SiteState:
    """One site the controller serves: its generated identity, its renderer, its event log and the
    generator that adds to that log."""

    site: data.Site
    render: Renderer
    log: EventLog
    gen: data.Generator


# What real controllers accept as a site name in a URL (reference §7.18: "default", "237o6pz4").
_SITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


# --------------------------------------------------------------------------------------------------
# The controller


class FakeController:
    """A fake UniFi controller on 127.0.0.1, started and stopped as a context manager.

    ``events`` underlying events are spread over ``[now - span_hours, now)``. ``now`` fixes the fake's
    clock; left as None, the clock is the wall clock and the events end at construction time. ``mix``
    names the background mix (``data.MIXES``: default, ips, roam).

    ``sites`` names the sites the controller serves (``site`` is the first); each has ``events`` events
    of its own, derived from the seed and its name, so the site "default" of a single-site controller
    is the same for a seed whatever else changes. The first site plays the scripted scenario; every
    other site is calm but for one incident, its Patio AP offline since early in the span.

    The scenario is fixed at construction (``ground_truth`` and ``ground_truth_for(site)`` list what it
    must produce); a test that spans several runs changes the sites between them, from any thread, while
    the fake serves: ``add_events(n, at, site)`` appends background events, ``device_down(mac, at)`` and
    ``device_up(mac, at)`` take a device of any site off the controller or bring it back (its
    ``stat/device`` row, its switch port and a lost-contact or reconnect event in every feed of the
    profile), and ``offline_device`` names the first site's scripted device that is already offline
    (the Patio AP). ``at`` defaults to the fake's now.
    """

    host = "127.0.0.1"
    username = "admin"
    password = "fake-password"  # noqa: S105 - the fake's public test credential

    def __init__(
        self,
        profile: Profile | str = Profile.UNIFI_OS_10,
        events: int = 10_000,
        seed: int = 1,
        tls: bool = True,
        behaviours: Behaviours | None = None,
        now: datetime | None = None,
        span_hours: float = 24,
        port: int = 0,
        mix: str = "default",
        sites: Sequence[str] = ("default",),
    ) -> None:
        """Build the sites and their event logs; the server starts with :meth:`start` or ``with``.

        Raises ValueError when ``sites`` is empty, repeats a name, or holds a name that is not a
        plain URL segment (letters, digits, ``_``, ``.``, ``-``).
        """
        self.sites: tuple[str, ...] = tuple(sites)
        bad = [name for name in self.sites if not _SITE_NAME.fullmatch(name)]
        if not self.sites or bad or len(set(self.sites)) < len(self.sites):
            raise ValueError(f"sites must be distinct plain names, got {list(self.sites)!r}")
        self.site = self.sites[0]
        self.profile = Profile(profile)
        self.seed = seed
        self.tls = tls
        self.behaviours = behaviours or Behaviours()
        self._fixed_now = _aware(now) if now is not None else None
        self._requested_port = port
        self.api_key = data.derive_token(seed, "api-key", 32)
        self._jwt_secret = data.derive_token(seed, "jwt-secret", 48).encode()
        self._lock = threading.RLock()

        anchor_ms = _ms(self._fixed_now or datetime.now(UTC))
        span_ms = int(span_hours * HOUR_MS)
        self._span = (anchor_ms - span_ms, anchor_ms)
        # Every log is built up front: 20 sites of 5,000 events take about 0.2 s and a few MiB.
        taken: set[str] = set()
        self._sites: dict[str, _SiteState] = {}
        for position, name in enumerate(self.sites):
            site = data.build_site(
                seed, self.profile.gateway, anchor_ms, span_ms, name=name,
                desc=data.site_desc(name, position), scripted=position == 0, taken=taken,
            )
            log = EventLog(self.profile.event_views())
            initial, gen = data.generate(
                site, seed, self.profile.event_kinds(), events, anchor_ms - span_ms, anchor_ms, mix
            )
            log.extend_sorted(initial)
            self._sites[name] = _SiteState(site, Renderer(site), log, gen)
        self._cache: dict[tuple[Any, ...], Sequence[int]] = {}

        self._sessions: dict[str, _Session] = {}
        self._injections = self.behaviours.injections()
        self._inject_counts = [0] * len(self._injections)
        self._paged_once: set[tuple[str, str]] = set()  # (site, feed)
        self._request_number = 0
        self._login_attempts = 0
        self._logins = self._login_failures = self._logouts = 0
        self._requests: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self.errors: list[str] = []

        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle

    def start(self) -> FakeController:
        """Bind the port and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakeController already started")
        ctx = None
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(CERT_PATH, KEY_PATH)
        self._server = _Server((self.host, self._requested_port), self, ctx)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-unifi-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop every open connection and wait for all server threads to end."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stopping.set()
        server.shutdown()
        server.close_all_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> FakeController:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- public facts

    @property
    def port(self) -> int:
        """The bound TCP port (after start)."""
        if self._server is None:
            raise RuntimeError("FakeController is not running")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """Base URL, e.g. ``https://127.0.0.1:PORT``."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def cert_path(self) -> Path:
        """The bundled self-signed certificate (usable as a CA bundle)."""
        return CERT_PATH

    @property
    def cert_sha256(self) -> str:
        """SHA-256 fingerprint of the served certificate, ``AB:CD:…`` upper-case."""
        return fingerprint(CERT_PATH)

    @property
    def now(self) -> datetime:
        """The fake's clock."""
        return self._fixed_now or datetime.now(UTC)

    @property
    def site_id(self) -> str:
        """The Mongo-style ``_id`` of the first site (what legacy records carry as ``site_id``)."""
        return self._state().site.site_id

    @property
    def stats(self) -> Stats:
        """Counters of what has been served so far."""
        with self._lock:
            return Stats(
                self._logins,
                self._login_failures,
                self._logouts,
                dict(self._requests),
                dict(self._statuses),
                len(self.errors),
            )

    def event_ids(self, since: datetime, until: datetime, site: str | None = None) -> set[str]:
        """Ids of every event record this profile serves for ``site`` (default: the first) with a time
        in ``[since, until)``.

        One underlying event has one id in every feed (v2 row, legacy row, IPS row, alarm, flow).
        """
        lo, hi = _ms(_aware(since)), _ms(_aware(until))
        st = self._state(site)
        with self._lock:
            numbers: set[int] = set()
            for view in (VIEW_V2, VIEW_LEGACY):
                if view in st.log.views:
                    a, b = st.log.span(view, lo, hi - 1)
                    numbers.update(st.log.numbers(view, a, b))
            return {data.make_id(st.log.times[i], st.site.machine, i) for i in numbers}

    @property
    def ground_truth(self) -> list[data.Expected]:
        """The findings an analyzer must make from the first site's scenario, for this profile.

        Each `data.Expected` names a rule id, the exact severity (severe, medium, low), the subject
        its finding's affected ids must include (a lower-case MAC with colons, or an IP), further ids
        it must include (``also``) and a label. On every profile: the flapping Warehouse AP
        (device_flapping, severe); the Patio AP offline at report time (device_outage, severe); the
        desk switch's 95 s outage (device_outage, medium); the WAN failover, with ISP latency and
        loss during it where the profile has those keys (wan_incident, medium, the gateway); an IPS
        burst from one source (threat_campaign, severe, that IP); a client beaconing to a C2 address
        (threat_campaign, severe, the C2 IP, with the client's MAC in ``also``); twelve failed admin
        logins then a success (admin_brute_force, severe, the guesser's IP); a known admin from a new
        address (admin_login_new_ip, medium); a PoE overload on the core switch (poe_overload,
        medium); DFS radar on the Lobby AP (dfs_radar, low); the Flex Mini, whose name is very long,
        below its required firmware (firmware_outdated, medium); the overheating core switch
        (device_overheating, severe); the AP waiting for adoption (device_pending_adoption, low). On
        v2 profiles only: an IP conflict (client_ip_conflict, medium, the client) and a HIGH alert of
        an unknown key about the gateway (controller_alert, medium). The LOW unknown SD-WAN key and
        the archived alarm (`archived_alarm_device`) must produce no finding. Needs the whole
        scenario, so ``events`` of at least about 220.
        """
        return self.ground_truth_for(self.site)

    def ground_truth_for(self, site: str) -> list[data.Expected]:
        """The findings an analyzer must make from the scenario of ``site``, for this profile.

        The first site's is :attr:`ground_truth`. Any other site's is its one incident: its Patio AP,
        offline since early in the span and at report time (device_outage, severe). Raises ValueError
        for a site the controller does not serve, RuntimeError when ``events`` was too small for the
        site's scenario.
        """
        st = self._state(site)
        if st.gen.truncated:
            raise RuntimeError("the scenario was cut short (too few events): no ground truth")
        return data.expected_findings(st.site, self.profile.event_kinds())

    @property
    def routine_rules(self) -> frozenset[str]:
        """Rule ids whose LOW findings the routine background may produce beside the ground truth.

        ips_digest (blocked inbound scans from many sources), firewall_block, firmware_upgradable,
        firmware_upgraded, admin_config_change, channel_changed and anomaly (the controller's client
        anomalies). Reconnects belong to outages and the background has no client-churn outlier, so
        device_reconnected and client_churn are not routine.
        """
        return data.ROUTINE_RULES

    @property
    def archived_alarm_device(self) -> str:
        """MAC of the first site's device whose only trouble is an alarm an admin archived: it must get
        no finding."""
        site = self._state().site
        return site.devices[site.archived_ap].mac

    @property
    def offline_device(self) -> str:
        """MAC of the first site's scripted device that is offline at report time: the Patio AP.

        It lost contact early in the span (``data.OFFLINE_AT``) and never came back, so ``ground_truth``
        expects a severe device_outage for it; :meth:`device_up` ends that outage.
        """
        site = self._state().site
        return site.devices[site.offline_ap].mac

    def add_events(self, n: int, at: datetime | None = None, site: str | None = None) -> list[str]:
        """Append ``n`` events of the profile's usual mix to ``site`` (default: the first) at ``at``
        (default: the fake's now); returns their ids."""
        t = self._at_ms(at)
        return self._add_generated(self._state(site), n, t, t + 1)

    def device_down(self, mac: str, at: datetime | None = None) -> list[str]:
        """Take the device with ``mac``, of whichever site holds it, off the controller at ``at``
        (default: the fake's now).

        Its ``stat/device`` row turns disconnected (state 0, ``last_seen`` at ``at``, no uptime, load or
        clients) and the switch port it hangs off goes down; one lost-contact event at ``at`` joins every
        event feed of the profile: ``DEVICE_UNREACHABLE`` in the v2 system log, ``EVT_AP_Lost_Contact``
        (``EVT_SW_…``, ``EVT_GW_…`` by device type) in ``stat/event`` and as an alarm where those are
        served (archived or not at random, like the scenario's alarms). Returns the new event's id.
        The device's current state is not checked. Raises ValueError when no site has the device.
        """
        return self._set_connected(mac, False, at)

    def device_up(self, mac: str, at: datetime | None = None) -> list[str]:
        """Bring the device with ``mac``, of whichever site holds it, back to the controller at ``at``
        (default: the fake's now).

        Its row turns connected (state 1, up since ``at``, last seen at the later of ``at`` and the
        fake's now, fresh load figures) and its switch port comes up; one reconnect event at ``at``
        joins the event feeds: ``DEVICE_RECONNECTED`` in the v2 system log, ``EVT_AP_Connected``
        (``EVT_SW_…``, ``EVT_GW_…``) in ``stat/event``. Returns the new event's id. Raises ValueError
        when no site has the device.
        """
        return self._set_connected(mac, True, at)

    def expire_sessions(self) -> None:
        """Invalidate every login session at once, as a controller restart would."""
        with self._lock:
            self._sessions.clear()

    def _state(self, site: str | None = None) -> _SiteState:
        """The served site called ``site`` (None: the first); ValueError for a site not served."""
        st = self._sites.get(self.site if site is None else site)
        if st is None:
            raise ValueError(f"the fake controller has no site {site!r}; it serves {', '.join(self.sites)}")
        return st

    def _add_generated(self, st: _SiteState, n: int, lo_ms: int, hi_ms: int) -> list[str]:
        """Append ``n`` background events to a site at random times in ``[lo_ms, hi_ms)``; returns ids."""
        with self._lock:  # the generator's RNG is shared with device changes
            return self._append(st, st.gen.background(n, lo_ms, hi_ms))

    def _set_connected(self, mac: str, connected: bool, at: datetime | None) -> list[str]:
        """Change a device's connection and tell it in its site's event feeds (see :meth:`device_down`)."""
        wanted = mac.lower()
        found = next(((st, i) for st in self._sites.values()
                      for i, d in enumerate(st.site.devices) if d.mac == wanted), None)
        if found is None:
            raise ValueError(f"the fake has no device with MAC {mac!r} on any site")
        st, dev = found
        t = self._at_ms(at)
        kind = Kind.DEVICE_RECONNECTED if connected else Kind.DEVICE_UNREACHABLE
        with self._lock:
            data.set_connected(st.site, dev, connected, t, self._now_ms(), st.gen.rng)
            return self._append(st, [st.gen.event(t, kind, dev)])

    def _append(self, st: _SiteState, events: list[tuple[int, int, int, int, int]]) -> list[str]:
        """Add event tuples to a site's log, drop cached query results, and return the new ids."""
        with self._lock:
            new = st.log.add(sorted(events))
            self._cache.clear()
            return [data.make_id(st.log.times[i], st.site.machine, i) for i in new]

    def _at_ms(self, at: datetime | None) -> int:
        """``at`` in epoch ms; None means the fake's now (its fixed clock, else the wall clock)."""
        return _ms(_aware(at)) if at is not None else self._now_ms()

    def _now_ms(self) -> int:
        return _ms(self.now)

    # ---- request pipeline (called from handler threads)

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response | _Slow:
        """Answer one request: hooks, global behaviours, injections, then authentication and routing."""
        parts = urlsplit(target)
        with self._lock:
            self._request_number += 1
            number = self._request_number
            self._requests[parts.path] += 1
        req = Request(method, parts.path, parse_qs(parts.query), headers, body, _cookies(headers), number)
        try:
            resp = self._pipeline(req)
        except Exception:  # noqa: BLE001 - a bug in the fake must reach the tests, not kill the thread
            with self._lock:
                self.errors.append(traceback.format_exc())
            resp = Response.json(500, {"fake_internal_error": True})
        if isinstance(resp, Response):
            with self._lock:
                self._statuses[resp.status] += 1
        return resp

    def _pipeline(self, req: Request) -> Response | _Slow:
        b = self.behaviours
        for hook in b.hooks:
            hooked = hook(req)
            if hooked is not None:
                return hooked
        if b.slow_forever is True or (isinstance(b.slow_forever, str) and b.slow_forever in req.path):
            return _SLOW
        if b.html_instead_of_json:
            return Response.html(200, _PORTAL_HTML)
        injected = self._injected(req)
        if injected is not None:
            return injected
        return self._route(req)

    def _injected(self, req: Request) -> Response | None:
        with self._lock:
            hit = None
            for n, inj in enumerate(self._injections):
                if inj.path_contains in req.path:
                    self._inject_counts[n] += 1
                    if hit is None and inj.hits(self._inject_counts[n]):
                        hit = inj
        if hit is None:
            return None
        headers = [("Retry-After", str(hit.retry_after))] if hit.retry_after is not None else []
        return self._error_response(req.path, hit.status, headers)

    def _error_response(self, path: str, status: int, headers: list[tuple[str, str]]) -> Response:
        reason = {
            429: "Too Many Requests",
            500: "Internal Server Error",
            502: "Bad Gateway",
            503: "Service Unavailable",
            504: "Gateway Timeout",
        }.get(status, "Error")
        if status in (502, 503, 504):
            # The console's nginx answers for the Network app while it is down or booting.
            page = (
                f"<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}"
                f"</h1></center><hr><center>nginx</center></body></html>"
            )
            return Response.html(status, page, headers)
        if "/v2/api/" in path:
            return Response.json(status, {"errorCode": status, "message": reason}, headers)
        if "/api/auth/" in path:
            return Response.json(
                status, {"code": reason.upper().replace(" ", "_"), "message": reason}, headers
            )
        msg = {429: "api.err.TooManyRequests", 500: "api.err.ServerError"}.get(
            status, f"api.err.Http{status}"
        )
        return Response.json(status, _meta_error(msg), headers)

    # ---- routing

    def _route(self, req: Request) -> Response:
        p = self.profile
        path = req.path
        if path == "/":
            if p.is_unifi_os:
                return Response.html(200, _UNIFI_OS_HTML)
            return Response(302, b"", "text/html", [("Location", "/manage")])
        if not p.is_unifi_os and path in ("/manage", "/manage/account/login"):
            return Response.html(200, _LEGACY_LOGIN_HTML)
        if p.is_unifi_os:
            if path == "/api/auth/login":
                return self._login(req)
            if path == "/api/auth/logout":
                return self._logout(req)
            if path == "/api/system":
                return self._system(req)
            if path.startswith("/proxy/network/"):
                return self._authed(req, path[len("/proxy/network") :])
            return Response.json(404, {"code": "NOT_FOUND", "message": "Not Found"})
        if path == "/api/login":
            return self._login(req)
        if path in ("/api/logout", "/logout"):
            return self._logout(req)
        if path.startswith("/api/auth/"):
            # The detection fallback clients rely on: no UniFi OS login here (reference §1).
            return Response.html(404, _TOMCAT_404)
        if path == "/status":
            return Response.json(
                200,
                {
                    "meta": {
                        "rc": "ok",
                        "up": True,
                        "server_version": p.network_version,
                        "uuid": self._uuid("server"),
                    },
                    "data": [],
                },
            )
        if path.startswith(("/api/", "/v2/")):
            return self._authed(req, path)
        return Response.html(404, _TOMCAT_404)

    def _authed(self, req: Request, path: str) -> Response:
        """Authenticate, then dispatch a Network application path (``path`` has no console prefix)."""
        session, denied = self._authenticate(req)
        if denied is not None:
            return denied
        resp = self._network(req, path)
        if session is not None:
            resp.headers += self._csrf_headers(session)
        return resp

    def _authenticate(self, req: Request) -> tuple[_Session | None, Response | None]:
        p, b = self.profile, self.behaviours
        key = req.header("X-API-KEY")
        if p.is_unifi_os and key is not None:
            if _same(key, self.api_key):
                return None, None
            return None, Response.json(401, {"code": "UNAUTHORIZED", "message": "Invalid API key"})
        cookie = req.cookies.get("TOKEN" if p.is_unifi_os else "unifises")
        with self._lock:
            session = self._sessions.get(cookie or "")
            if (
                session is not None
                and b.session_expiry_after is not None
                and session.requests >= b.session_expiry_after
            ):
                del self._sessions[session.cookie]
                session = None
            if session is None:
                return None, self._unauthorized()
            sent = req.header("X-CSRF-Token")
            needs = req.method not in ("GET", "HEAD") and p.is_unifi_os
            if (sent is not None or needs) and not _same(sent or "", session.csrf):
                return None, self._csrf_rejected(session)
            session.requests += 1
            return session, None

    def _unauthorized(self) -> Response:
        if self.profile.is_unifi_os:
            return Response.json(401, {"code": "UNAUTHORIZED", "message": "Unauthorized"})
        return Response.json(401, _meta_error("api.err.LoginRequired"))

    def _csrf_rejected(self, session: _Session) -> Response:
        # The current token rides along so a client can refresh and retry once.
        headers = [("X-CSRF-Token", session.csrf)]
        if self.profile.is_unifi_os:
            return Response.json(
                403, {"code": "INVALID_CSRF_TOKEN", "message": "Invalid CSRF Token"}, headers
            )
        return Response.json(
            403, _meta_error("api.err.InvalidCSRFToken", message="Invalid CSRF Token"), headers
        )

    def _csrf_headers(self, session: _Session) -> list[tuple[str, str]]:
        with self._lock:
            if self.behaviours.csrf_rotation:
                session.csrf = str(uuid.uuid4())
                return [("X-CSRF-Token", session.csrf), ("X-Updated-CSRF-Token", session.csrf)]
            return [("X-CSRF-Token", session.csrf)] if self.profile.is_unifi_os else []

    # ---- login / logout

    def _login(self, req: Request) -> Response:
        if req.method != "POST":
            return Response.json(405, {"code": "METHOD_NOT_ALLOWED", "message": "Method Not Allowed"})
        with self._lock:
            self._login_attempts += 1
            attempts = self._login_attempts
        resp = self._login_outcome(req, attempts)
        with self._lock:
            if resp.status == 200:
                self._logins += 1
            else:
                self._login_failures += 1
        return resp

    def _login_outcome(self, req: Request, attempts: int) -> Response:
        p, b = self.profile, self.behaviours
        if b.login_rate_limit and attempts > b.logins_before_rate_limit:
            headers = [("Retry-After", str(b.login_retry_after))]
            if p.is_unifi_os:
                return Response.json(
                    429,
                    {
                        "code": "AUTHENTICATION_FAILED_LIMIT_REACHED",
                        "message": "Authentication failed: too many attempts",
                    },
                    headers,
                )
            return Response.json(429, _meta_error("AUTHENTICATION_FAILED_LIMIT_REACHED"), headers)
        if b.stale_cookie_breaks_login and p.is_unifi_os:
            old = req.cookies.get("TOKEN")
            with self._lock:
                stale = old is not None and old not in self._sessions
            if stale:
                return Response.json(401, {"code": "UNAUTHORIZED", "message": "Unauthorized"})
        try:
            body = req.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            if p.is_unifi_os:
                return Response.json(400, {"code": "BAD_REQUEST", "message": "Invalid request body"})
            return Response.json(400, _meta_error("api.err.InvalidPayload"))
        user, password = body.get("username"), body.get("password")
        if not (
            isinstance(user, str)
            and isinstance(password, str)
            and _same(user, self.username)
            and _same(password, self.password)
        ):
            if p.is_unifi_os:
                return Response.json(
                    403,
                    {
                        "code": "AUTHENTICATION_FAILED_INVALID_CREDENTIALS",
                        "message": "Invalid username or password",
                        "level": "debug",
                    },
                )
            return Response.json(400, _meta_error("api.err.Invalid"))
        if b.mfa_required and not (body.get("token") or body.get("ubic_2fa_token")):
            authenticators = [
                {"id": self._uuid("mfa"), "type": "email", "email": "a***@example.com", "default": True}
            ]
            if p.is_unifi_os:
                mfa = {
                    "mfaCookie": f"UBIC_2FA={secrets.token_urlsafe(24)}; path=/; samesite=none; secure; "
                    f"httponly",
                    "authenticators": authenticators,
                }
                return Response.json(
                    499, {"meta": {"rc": "error", "msg": "api.err.Ubic2faTokenRequired"}, "data": mfa}
                )
            return Response.json(
                400,
                {
                    "meta": {"rc": "error", "msg": "api.err.Ubic2faTokenRequired"},
                    "data": [{"authenticators": authenticators}],
                },
            )
        remember = bool(body.get("rememberMe") if p.is_unifi_os else body.get("remember"))
        csrf = str(uuid.uuid4())
        secure = "; secure" if self.tls else ""
        if p.is_unifi_os:
            cookie = self._jwt(csrf, remember)
            max_age = 30 * 86400 if remember else 7200
            with self._lock:
                self._sessions[cookie] = _Session(cookie, csrf)
            headers = [
                ("Set-Cookie", f"TOKEN={cookie}; path=/; max-age={max_age}; samesite=none{secure}; httponly"),
                ("X-CSRF-Token", csrf),
            ]
            return Response.json(200, self._user_object(), headers)
        cookie = secrets.token_urlsafe(24)
        with self._lock:
            self._sessions[cookie] = _Session(cookie, csrf)
        headers = [
            ("Set-Cookie", f"unifises={cookie}; Path=/{secure}; HttpOnly"),
            ("Set-Cookie", f"csrf_token={csrf}; Path=/{secure}"),
            ("X-CSRF-Token", csrf),
        ]
        return Response.json(200, {"meta": {"rc": "ok"}, "data": []}, headers)

    def _logout(self, req: Request) -> Response:
        p = self.profile
        if req.method != "POST":
            return Response.json(405, {"code": "METHOD_NOT_ALLOWED", "message": "Method Not Allowed"})
        name = "TOKEN" if p.is_unifi_os else "unifises"
        with self._lock:
            session = self._sessions.pop(req.cookies.get(name, ""), None)
            if session is not None:
                self._logouts += 1
        expired = [("Set-Cookie", f"{name}=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT")]
        if p.is_unifi_os:
            return Response.json(200, {}, expired)
        return Response.json(200, {"meta": {"rc": "ok"}, "data": []}, expired)

    def _jwt(self, csrf: str, remember: bool) -> str:
        now_s = int(time.time())
        header = {"alg": "HS256", "typ": "JWT"}
        payload = {
            "userId": self._uuid("user"),
            "passwordRevision": 1_700_000_000,
            "isRememberMe": remember,
            "csrfToken": csrf,
            "iat": now_s,
            "exp": now_s + (30 * 86400 if remember else 7200),
            "jti": str(uuid.uuid4()),
        }
        head, claims = (
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload)
        )
        signing = f"{head}.{claims}"
        sig = hmac.new(self._jwt_secret, signing.encode(), hashlib.sha256).digest()
        return f"{signing}.{_b64url(sig)}"

    def _user_object(self) -> dict[str, Any]:
        uid = self._uuid("user")
        return {
            "unique_id": uid,
            "id": uid,
            "username": self.username,
            "first_name": "",
            "last_name": "",
            "full_name": self.username,
            "email": "",
            "email_status": "UNVERIFIED",
            "status": "ACTIVE",
            "local_account_exist": True,
            "sso_account": "",
            "sso_uuid": "",
            "isOwner": False,
            "isSuperAdmin": True,
            "roles": [
                {
                    "role_id": self._uuid("role"),
                    "name": "Super Administrator",
                    "system_role": True,
                    "system_key": "super_administrator",
                    "level": 1,
                }
            ],
            "permissions": {"network.management": ["admin"], "system.management.location": ["admin"]},
            "scopes": ["view:controller:network", "manage:controller:network"],
            "create_time": 1_700_000_000,
            "update_time": 1_700_000_000,
            "groups": [],
            "extras": {},
        }

    def _system(self, req: Request) -> Response:
        """``/api/system`` of a UniFi OS console: the console's hardware and state."""
        # The console is the first site's gateway; its sysinfo names the same device.
        site = self._state().site
        gw = site.devices[site.gateway]
        return Response.json(
            200,
            {
                "hardware": {"shortname": gw.model},
                "name": gw.name,
                "mac": gw.mac.replace(":", ""),
                "isSetup": True,
                "deviceState": "setup",
                "ucoreVersion": gw.version.rsplit(".", 1)[0],
            },
        )

    # ---- Network application endpoints

    def _network(self, req: Request, path: str) -> Response:
        """Route a Network application path: controller-wide documents, else a served site's endpoint."""
        p = self.profile
        if path == "/status":
            meta: dict[str, Any] = {"rc": "ok", "up": True, "uuid": self._uuid("server")}
            if p is not Profile.UNIFI_OS_10:
                meta["server_version"] = p.network_version
            return Response.json(200, {"meta": meta, "data": []})
        if path in ("/api/self/sites", "/api/stat/sites"):
            health = path.endswith("stat/sites")
            return Response.json(200, _meta_ok([self._site_row(st, health) for st in self._sites.values()]))
        if path == "/api/self":
            return Response.json(
                200,
                _meta_ok(
                    [
                        {
                            "admin_id": self._state().site.admins[0][0],
                            "name": self.username,
                            "is_super": True,
                            "site_role": "admin",
                        }
                    ]
                ),
            )
        m = re.fullmatch(r"/api/s/([^/]+)/(.+)", path)
        if m:
            st = self._sites.get(m[1])
            if st is None:
                return Response.json(400, _meta_error("api.err.NoSiteContext"))
            return self._legacy_endpoint(req, m[2], st)
        m = re.fullmatch(r"/v2/api/site/([^/]+)/(.+)", path)
        if m and p.serves_v2:
            st = self._sites.get(m[1])
            if st is None:
                return Response.json(404, {"errorCode": 404, "message": f"Site {m[1]} not found"})
            return self._v2_endpoint(req, m[2], st)
        if path.startswith("/v2/"):
            if p.is_unifi_os:
                return Response.json(404, {"errorCode": 404, "message": "Not Found"})
            return Response.html(404, _TOMCAT_404)
        return Response.json(404, _meta_error("api.err.NotFound"))

    def _legacy_endpoint(self, req: Request, rest: str, st: _SiteState) -> Response:
        """Answer ``/api/s/<site>/<rest>`` for a served site."""
        p = self.profile
        handlers: dict[str, Callable[[Request, _SiteState], Response]] = {
            "stat/device": self._stat_device,
            "stat/sta": lambda r, st: Response.json(200, _meta_ok([c.record for c in st.site.clients])),
            "stat/health": lambda r, st: Response.json(200, _meta_ok(self._health(st))),
            "stat/sysinfo": lambda r, st: self._sysinfo(),
            "stat/rogueap": self._rogueap,
            "stat/anomalies": self._anomalies,
        }
        if p.serves_legacy_events:
            handlers.update(
                {
                    "stat/event": self._stat_event,
                    "stat/ips/event": self._stat_ips_event,
                    "list/alarm": self._alarms,
                    "stat/alarm": self._alarms,
                }
            )
        else:
            # Network 10.x: legacy event feeds are gone; list/alarm answers InvalidObject (reference §3.1).
            handlers["list/alarm"] = lambda r, st: Response.json(400, _meta_error("api.err.InvalidObject"))
        handler = handlers.get(rest)
        if handler is None:
            return Response.json(404, _meta_error("api.err.NotFound"))
        return handler(req, st)

    def _v2_endpoint(self, req: Request, rest: str, st: _SiteState) -> Response:
        """Answer ``/v2/api/site/<site>/<rest>`` for a served site: POST with a JSON object only."""
        handlers = {
            "system-log/all": self._system_log_all,
            "system-log/count": self._system_log_count,
            "system-log/critical": self._system_log_critical,
            "traffic-flows": self._traffic_flows,
        }
        handler = handlers.get(rest)
        if handler is None:
            return Response.json(404, {"errorCode": 404, "message": "Not Found"})
        if req.method != "POST":
            return Response.json(
                405, {"errorCode": 405, "message": f"Request method '{req.method}' is not supported"}
            )
        try:
            body = req.json()
        except ValueError as exc:
            return Response.json(400, {"errorCode": 400, "message": f"JSON parse error: {exc}"})
        if not isinstance(body, dict):
            return Response.json(400, {"errorCode": 400, "message": "JSON parse error: expected an object"})
        return handler(body, st)

    # ---- state documents

    def _site_row(self, st: _SiteState, with_health: bool) -> dict[str, Any]:
        """A site's row in ``self/sites`` (and, with its health, in ``stat/sites``)."""
        site = st.site
        row: dict[str, Any] = {"_id": site.site_id, "name": site.name, "desc": site.desc, "role": "admin",
                               "role_hotspot": False}
        if site.name == "default":
            # Only the site a controller is installed with is marked so, and cannot be deleted.
            row.update(attr_hidden_id="default", attr_no_delete=True)
        row["anonymous_id"] = self._uuid(data.site_label("site", site.name))
        row["device_count"] = len(site.devices)
        if self.profile.is_unifi_os:
            row["external_id"] = self._uuid(data.site_label("site-external", site.name))
        if with_health:
            row["health"] = self._health(st)
        return row

    def _health(self, st: _SiteState) -> list[dict[str, Any]]:
        """A site's ``stat/health`` rows, counted while no device changes state."""
        with self._lock:
            return data.health(st.site, self._now_ms())

    def _stat_device(self, req: Request, st: _SiteState) -> Response:
        """A site's ``stat/device`` rows, all of them or those a POST names by MAC."""
        wanted: set[str] = set()
        if req.method == "POST":
            try:
                body = req.json()
            except ValueError:
                return Response.json(400, _meta_error("api.err.InvalidPayload"))
            macs = body.get("macs") if isinstance(body, dict) else None
            wanted = {str(m).lower() for m in macs or ()}
        # device_down/device_up change the rows in place: serialise them under the lock.
        with self._lock:
            rows = [d.record for d in st.site.devices if not wanted or d.mac in wanted]
            return Response.json(200, _meta_ok(rows))

    def _sysinfo(self) -> Response:
        """``stat/sysinfo``: the controller's facts, the same under every site."""
        p = self.profile
        site = self._state().site
        gw = site.devices[site.gateway]
        info: dict[str, Any] = {
            "timezone": "UTC",
            "autobackup": True,
            "build": p.build,
            "version": p.network_version,
            "previous_version": {"unifi_os_10": "9.5.21", "unifi_os_9": "8.6.9", "legacy": "8.5.6"}[p.value],
            "data_retention_days": 90,
            "data_retention_time_in_hours_for_5minutes_scale": 24,
            "data_retention_time_in_hours_for_hourly_scale": 168,
            "update_available": False,
            "update_downloaded": False,
            "hostname": gw.name.replace(" ", "-") if p.is_unifi_os else "unifi",
            "name": gw.name if p.is_unifi_os else "unifi",
            "ip_addrs": ["192.168.1.1"],
            "inform_port": 8080,
            "https_port": 8443,
            "override_inform_host": False,
            "uptime": 1_209_600,
            "anonymous_controller_id": self._uuid("controller"),
            "unsupported_device_count": 0,
            "unsupported_device_list": [],
            "is_cloud_console": False,
            # Secret-looking fields real controllers return; a report must never dump them.
            "sso_app_id": data.derive_token(self.seed, "sso-app-id", 24),
            "sso_app_sec": data.derive_token(self.seed, "sso-app-sec", 40),
        }
        if p.is_unifi_os:
            info.update(
                ubnt_device_type=gw.model,
                udm_version=gw.version,
                console_display_version=".".join(gw.version.split(".")[:3]),
            )
        return Response.json(200, _meta_ok([info]))

    def _rogueap(self, req: Request, st: _SiteState) -> Response:
        """The neighbouring APs a site's APs heard ``within`` hours (``stat/rogueap``)."""
        try:
            body = req.json()
            within = float(body.get("within", 24)) if isinstance(body, dict) else 24.0
        except (ValueError, TypeError):
            return Response.json(400, _meta_error("api.err.InvalidPayload"))
        cutoff = self._now_ms() // 1000 - within * 3600
        rows = [r for r in data.rogue_aps(st.site, self.seed, self._span[1]) if r["last_seen"] >= cutoff]
        return Response.json(200, _meta_ok(rows))

    def _anomalies(self, req: Request, st: _SiteState) -> Response:
        """A site's client anomalies with a timestamp in ``[start, end]`` (``stat/anomalies``)."""
        now = self._now_ms()
        try:
            lo = int(req.query.get("start", [now - 24 * HOUR_MS])[0])
            hi = int(req.query.get("end", [now])[0])
        except ValueError:
            return Response.json(400, _meta_error("api.err.InvalidPayload"))
        rows = []
        for anomaly, mac, stamps in data.anomalies(st.site, self.seed, *self._span):
            inside = [t for t in stamps if lo <= t <= hi]
            if inside:
                rows.append({"anomaly": anomaly, "mac": mac, "timestamps": inside})
        return Response.json(200, _meta_ok(rows))

    # ---- legacy event feeds

    def _legacy_body(self, req: Request) -> dict[str, Any] | None:
        try:
            body = req.json() if req.method != "GET" else {}
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _stat_event(self, req: Request, st: _SiteState) -> Response:
        """A site's legacy event list (``stat/event``), paged by ``_start`` and ``_limit``."""
        body = self._legacy_body(req)
        try:
            if body is None:
                raise ValueError
            within = float(body.get("within") or 720)
            start = max(0, int(body.get("_start") or 0))
            limit = int(body.get("_limit") or self.behaviours.legacy_limit_cap)
        except (ValueError, TypeError):
            return Response.json(400, _meta_error("api.err.InvalidPayload"))
        limit = max(0, min(limit, self.behaviours.legacy_limit_cap))
        now = self._now_ms()
        lo = now - int(within * HOUR_MS)
        newest_first = str(body.get("_sort", "-time")).startswith("-")
        total, events = self._page(st, VIEW_LEGACY, lo, now, start, limit, newest_first)
        rows = [st.render.legacy(e) for e in events]
        if start == 0:
            self._maybe_add_while_paging(st, "stat/event", lo, now)
        return Response.json(200, {"meta": {"rc": "ok", "count": total}, "data": rows})

    def _stat_ips_event(self, req: Request, st: _SiteState) -> Response:
        """A site's legacy IPS events in ``[start, end]`` (``stat/ips/event``)."""
        body = self._legacy_body(req)
        now = self._now_ms()
        try:
            if body is None:
                raise ValueError
            lo = int(body.get("start") or now - 24 * HOUR_MS)
            hi = int(body.get("end") or now)
            start = max(0, int(body.get("_start") or 0))
            limit = max(0, int(body.get("_limit") or 10_000))
        except (ValueError, TypeError):
            return Response.json(400, _meta_error("api.err.InvalidPayload"))
        newest_first = str(body.get("_sort", "-time")).startswith("-")
        total, events = self._page(st, VIEW_IPS, lo, hi, start, limit, newest_first)
        return Response.json(
            200, {"meta": {"rc": "ok", "count": total}, "data": [st.render.ips(e) for e in events]}
        )

    def _alarms(self, req: Request, st: _SiteState) -> Response:
        """A site's alarm list (``list/alarm``, ``stat/alarm``)."""
        # Filters, limits and sort are ignored on purpose: the oldest records, capped (reference §3.5).
        _, events = self._page(
            st, VIEW_ALARM, -(2**62), 2**62, 0, self.behaviours.legacy_limit_cap, newest_first=False
        )
        return Response.json(200, _meta_ok([st.render.alarm(e) for e in events]))

    # ---- v2 feeds

    def _v2_filters(
        self, body: dict[str, Any]
    ) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None] | Response:
        cats, sevs = body.get("categories"), body.get("severities")
        for name, values, enum, cls in (
            ("categories", cats, V2_CATEGORIES, "SystemLogCategory"),
            ("severities", sevs, V2_SEVERITIES, "SystemLogSeverity"),
        ):
            if values is None:
                continue
            if not isinstance(values, list):
                return _v2_parse_error(f"Cannot deserialize value of type `java.util.List` from {name}")
            for v in values:
                if v not in enum:
                    return _v2_parse_error(
                        f"Cannot deserialize value of type `com.ubnt.usp.system.log.model.{cls}` from String "
                        f'"{v}": not one of the values accepted for Enum class: [{", ".join(enum)}]'
                    )
        return (tuple(cats) if cats else None, tuple(sevs) if sevs else None)

    def _v2_window(self, body: dict[str, Any]) -> tuple[int, int, int, int]:
        lo = int(body.get("timestampFrom") or 0)
        hi = int(body.get("timestampTo") or self._now_ms())
        page = max(0, int(body.get("pageNumber") or 0))
        size = int(body.get("pageSize") or 10)
        size = max(1, min(size, self.behaviours.v2_page_size_cap))
        return lo, hi, page, size

    def _system_log_all(self, body: dict[str, Any], st: _SiteState) -> Response:
        """A page of a site's v2 system log, newest first, after the body's filters."""
        filters = self._v2_filters(body)
        if isinstance(filters, Response):
            return filters
        try:
            lo, hi, page, size = self._v2_window(body)
        except (ValueError, TypeError) as exc:
            return _v2_parse_error(str(exc))
        cats, sevs = filters
        search = str(body.get("searchText") or "").strip().lower()
        bucket = body.get("type") if body.get("type") in ("GENERAL", "AUDIT") else None
        with self._lock:
            selection = self._v2_selection(st, lo, hi, cats, sevs, search, bucket)
            total = len(selection)
            top = total - page * size
            positions = range(top - 1, max(0, top - size) - 1, -1) if top > 0 else range(0)
            events = [st.log.event(VIEW_V2, selection[i]) for i in positions]
        rows = [st.render.v2(e) for e in events]
        if page == 0:
            self._maybe_add_while_paging(st, "system-log/all", lo, min(hi, self._now_ms()))
        return Response.json(
            200,
            {
                "data": rows,
                "page_number": page,
                "total_element_count": total,
                "total_page_count": math.ceil(total / size),
            },
        )

    def _v2_selection(
        self,
        st: _SiteState,
        lo: int,
        hi: int,
        cats: tuple[str, ...] | None,
        sevs: tuple[str, ...] | None,
        search: str,
        bucket: str | None,
    ) -> Sequence[int]:
        """Positions in a site's v2 view matching the filters, oldest first (cached while the log is
        unchanged)."""
        start, stop = st.log.span(VIEW_V2, lo, hi)
        kinds_ok = self._v2_kind_filter(cats, sevs, bucket)
        if kinds_ok is None and not search:
            return range(start, stop)
        key = (st.site.name, st.log.version, start, stop, cats, sevs, search, bucket)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        kinds, numbers = st.log.kinds, st.log.views[VIEW_V2][1]
        picked = [pos for pos in range(start, stop) if kinds_ok is None or kinds_ok[kinds[numbers[pos]]]]
        if search:
            picked = [
                pos
                for pos in picked
                if search in _rendered_text(st.render.v2(st.log.event(VIEW_V2, pos)))
            ]
        if len(self._cache) > 16:
            self._cache.clear()
        self._cache[key] = picked
        return picked

    def _v2_kind_filter(
        self, cats: tuple[str, ...] | None, sevs: tuple[str, ...] | None, bucket: str | None
    ) -> list[bool] | None:
        """Per-kind admission table, or None when every kind passes."""
        table = []
        for kind in Kind:
            meta = data.KINDS[kind].v2
            ok = (
                meta is not None
                and (cats is None or meta.category in cats)
                and (sevs is None or meta.severity in sevs)
                and (bucket is None or data.v2_type_bucket(kind) == bucket)
            )
            table.append(ok)
        present = [k for k in Kind if data.KINDS[k].v2 is not None]
        return None if all(table[k] for k in present) else table

    def _system_log_count(self, body: dict[str, Any], st: _SiteState) -> Response:
        """A site's v2 system-log counts per category, event and type bucket."""
        lo = int(body.get("timestampFrom") or 0)
        hi = int(body.get("timestampTo") or self._now_ms())
        with self._lock:
            start, stop = st.log.span(VIEW_V2, lo, hi)
            kinds = Counter(st.log.kinds[i] for i in st.log.numbers(VIEW_V2, start, stop))
        cats: Counter[str] = Counter()
        events: Counter[str] = Counter()
        types: Counter[str] = Counter()
        for k, n in kinds.items():
            meta = data.KINDS[Kind(k)].v2
            assert meta is not None
            cats[meta.category] += n
            events[meta.event] += n
            types[data.v2_type_bucket(Kind(k))] += n
        return Response.json(
            200,
            {
                "categories": [{"count": n, "name": c} for c, n in cats.most_common()],
                "events": [{"count": n, "name": e} for e, n in events.most_common()],
                "type": [{"count": n, "name": t} for t, n in types.most_common()],
            },
        )

    def _system_log_critical(self, body: dict[str, Any], st: _SiteState) -> Response:
        """``system-log/critical``: always empty."""
        # Observed empty on 10.3.58 while the log had events (reference §3.2); never a complete source.
        return Response.json(200, [])

    def _traffic_flows(self, body: dict[str, Any], st: _SiteState) -> Response:
        """A page of a site's IPS traffic flows, newest first."""
        try:
            lo, hi, page, size = self._v2_window(body)
        except (ValueError, TypeError) as exc:
            return _v2_parse_error(str(exc))
        policy = body.get("policy_type") or []
        if not isinstance(policy, list):
            return _v2_parse_error("Cannot deserialize value of type `java.util.List` from policy_type")
        with self._lock:
            if policy and "INTRUSION_PREVENTION" not in policy:
                total, events = 0, []
            else:
                total, events = self._page(st, VIEW_IPS, lo, hi, page * size, size, newest_first=True)
        out: dict[str, Any] = {
            "data": [st.render.flow(e) for e in events],
            "has_next": (page + 1) * size < total,
            "page_number": page,
        }
        if not body.get("skip_count"):
            out.update(total_element_count=total, total_page_count=math.ceil(total / size))
        return Response.json(200, out)

    # ---- shared paging

    def _page(
        self, st: _SiteState, view: str, lo: int, hi: int, offset: int, limit: int, newest_first: bool
    ) -> tuple[int, list[Event]]:
        """Count a site's events of the view in [lo, hi]; return ``limit`` of them from ``offset``, in
        order."""
        with self._lock:
            start, stop = st.log.span(view, lo, hi)
            total = stop - start
            if newest_first:
                top = stop - offset
                positions = range(top - 1, max(start, top - limit) - 1, -1) if top > start else range(0)
            else:
                first = start + offset
                positions = range(first, min(stop, first + limit))
            return total, [st.log.event(view, pos) for pos in positions]

    def _maybe_add_while_paging(self, st: _SiteState, feed: str, lo: int, hi: int) -> None:
        """After the first page of a site's feed, slip new events into the window once (behaviour)."""
        n = self.behaviours.new_events_while_paging
        lo = max(lo, self._span[0])  # an open-ended query must not scatter events back to 1970
        with self._lock:
            if n <= 0 or (st.site.name, feed) in self._paged_once or hi <= lo:
                return
            self._paged_once.add((st.site.name, feed))
        self._add_generated(st, n, lo, hi)

    def _uuid(self, label: str) -> str:
        return str(uuid.UUID(hashlib.md5(f"{self.seed}:{label}".encode()).hexdigest()))  # noqa: S324 - an id


# --------------------------------------------------------------------------------------------------
# HTTP plumbing


class _Server(ThreadingHTTPServer):
    """Threading server that tracks its connections so :meth:`FakeController.stop` leaves no thread behind."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], controller: FakeController, ctx: ssl.SSLContext | None
    ) -> None:
        self.controller = controller
        self.ssl_context = ctx
        self.stopping = threading.Event()  # tells held (slow) handlers to let go
        self._conns: dict[socket.socket, threading.Thread] = {}
        # Every connection thread not known to have ended: one leaves `_conns` (shutdown_request) a
        # moment before it ends, and stop() must wait for that moment too.
        self._conn_threads: list[threading.Thread] = []
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        if self.ssl_context is not None:
            # The handshake happens on the connection's own thread, so a stalled client cannot block accept().
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="fake-unifi-conn",
            daemon=True,
        )
        with self._conns_lock:
            self._conns[request] = thread
            self._conn_threads = [*(alive for alive in self._conn_threads if alive.is_alive()), thread]
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.pop(request, None)
        super().shutdown_request(request)

    def close_all_connections(self) -> None:
        """Unblock every connection thread (idle keep-alive, slow handlers) and wait for it."""
        with self._conns_lock:
            socks, threads = list(self._conns), list(self._conn_threads)
        for sock in socks:
            try:
                # The plain-socket shutdown: it unblocks a reader without touching the TLS object.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in threads:
            thread.join(timeout=5)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that disconnect, time out or reject the certificate are normal here; stay quiet.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = _IDLE_TIMEOUT
    # Headers and body go out in separate writes; with Nagle on, keep-alive requests stall ~40 ms each.
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        fc = self.server.controller
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length > 0 else b""
        resp = fc.handle(self.command, self.path, _HeaderView(self.headers), body)
        if isinstance(resp, _Slow):
            self._hold(fc)
            return
        self.send_response(resp.status)
        for name, value in resp.headers:
            self.send_header(name, value)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        if resp.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command == "HEAD":
            return
        if resp.trickle <= 0:
            self.wfile.write(resp.body)
            return
        for index in range(len(resp.body)):
            if self.server.stopping.wait(resp.trickle):
                break
            try:
                self.wfile.write(resp.body[index : index + 1])
                self.wfile.flush()
            except OSError:  # the client gave up, as it should
                break
        self.close_connection = True

    def _hold(self, fc: FakeController) -> None:
        """Never answer: wait until the client goes away, the server stops, or the bound runs out."""
        deadline = time.monotonic() + fc.behaviours.slow_max_seconds
        while time.monotonic() < deadline and not self.server.stopping.wait(0.05):
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable:  # EOF (or unexpected bytes) from a client that gave up
                break
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

    def send_response(self, code: int, message: str | None = None) -> None:
        """Status line plus the headers a console's nginx (or the legacy app) sends."""
        self.log_request(code)
        self.send_response_only(code, message)
        if self.server.controller.profile.is_unifi_os:
            self.send_header("Server", "nginx")
        self.send_header("Date", self.date_time_string())

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default access log on stderr."""


class _HeaderView(Mapping[str, str]):
    """Case-insensitive read-only view of the request headers."""

    def __init__(self, msg: Any) -> None:
        self._msg = msg

    def __getitem__(self, key: str) -> str:
        value = self._msg.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        return self._msg.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._msg.keys())

    def __len__(self) -> int:
        return len(self._msg.keys())


# --------------------------------------------------------------------------------------------------
# Helpers


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _same(a: str, b: str) -> bool:
    """Constant-time string comparison that also accepts non-ASCII input."""
    return hmac.compare_digest(a.encode(), b.encode())


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _cookies(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (headers.get("Cookie") or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            out[name] = value
    return out


def _meta_ok(rows: list[Any]) -> dict[str, Any]:
    return {"meta": {"rc": "ok"}, "data": rows}


def _meta_error(msg: str, **extra: Any) -> dict[str, Any]:
    return {"meta": {"rc": "error", "msg": msg, **extra}, "data": []}


def _v2_parse_error(detail: str) -> Response:
    return Response.json(400, {"errorCode": 400, "message": f"JSON parse error: {detail}"})


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _rendered_text(row: dict[str, Any]) -> str:
    """The message a v2 row shows in the UI; what ``searchText`` matches (lower-cased)."""
    params = row.get("parameters") or {}

    def fill(m: re.Match[str]) -> str:
        p = params.get(m[1]) or {}
        return str(p.get("name") or p.get("id") or m[0])

    return _PLACEHOLDER.sub(fill, row.get("message_raw") or row.get("title_raw") or "").lower()


def fingerprint(pem_path: Path = CERT_PATH) -> str:
    """SHA-256 fingerprint of a PEM certificate as colon-separated upper-case hex."""
    der = ssl.PEM_cert_to_DER_cert(pem_path.read_text())
    return hashlib.sha256(der).digest().hex(":").upper()


_UNIFI_OS_HTML = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>UniFi OS</title>
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body><div id="root"></div><script src="/app-assets/main.js"></script></body></html>"""

_LEGACY_LOGIN_HTML = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>UniFi Network</title></head>
<body class="login"><div id="unifi-network-app-container"></div>
<script src="angular/g1a3b5c7/js/app.js"></script>
</body></html>"""

_PORTAL_HTML = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign in</title></head>
<body><h1>Sign in to continue</h1><form method="post" action="/login"><input name="username">
<input name="password" type="password"><button>Sign in</button></form></body></html>"""

_TOMCAT_404 = """<!doctype html><html lang="en"><head><title>HTTP Status 404 – Not Found</title></head>
<body><h1>HTTP Status 404 – Not Found</h1></body></html>"""
