"""A self-hosted (legacy, Network 8.x) controller that replays the real public payloads in `samples/`.

It answers exactly what `samples/SOURCES.md` allows a replay to answer, and nothing else:

* every event, IPS and alarm record is served `copies` times; all copies of all records are spread
  evenly (with jitter, in a seeded order) over the 23 hours before start-up, the newest 5 minutes
  old, and `time` (ms), `datetime` (ISO, UTC) and, where present, `timestamp` (s) are set to that
  moment. The first copy keeps its `_id`; later copies, and any record whose `_id` an earlier record
  already used, get a new ObjectId-style id; a record without `_id` stays without one;
* `stat/sysinfo` reports `version` (default 8.0.24), with the old value in `previous_version`, a
  matching `build`, and without the UniFi-OS-only keys;
* `stat/anomalies`, `stat/rogueap` and `rest/setting/ips` are empty lists (no real legacy sample).

The controller behaves like the self-hosted application as the API reference describes it: `GET /`
redirects to `/manage`, login is `POST /api/login` with a `unifises` cookie, the UniFi OS login and
every v2 path are Tomcat 404 pages, `stat/event` pages by `_start`/`_limit` within `within` hours and
reports `meta.count`, `stat/ips/event` filters on `start`/`end`, and `list/alarm` ignores every
filter and answers oldest first.

`served` holds the records per endpoint exactly as they are answered; a test may add to it before a
run (a derived case) and compares what the collector wrote with it afterwards.
"""

from __future__ import annotations

import copy
import json
import random
import secrets
import ssl
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from unifi_scanner.fake.server import CERT_PATH, KEY_PATH, fingerprint

SAMPLES = Path(__file__).resolve().parent / "samples"
HOUR_MS = 3_600_000
SPREAD_MS = 23 * HOUR_MS
NEWEST_AGE_MS = 5 * 60_000
DEFAULT_VERSION = "8.0.24"
# Endpoint -> sample file. The event files are stamped and copied; the state files are served as published.
EVENT_FILES = {"stat/event": "stat_event.json", "stat/ips/event": "stat_ips_event.json",
               "list/alarm": "list_alarm.json"}
STATE_FILES = {"stat/device": "stat_device.json", "stat/sta": "stat_sta.json",
               "stat/health": "stat_health.json", "stat/sysinfo": "stat_sysinfo.json",
               "self/sites": "self_sites.json"}
EMPTY_ENDPOINTS = ("stat/anomalies", "stat/rogueap", "rest/setting/ips")
UNIFI_OS_ONLY_KEYS = ("console_display_version", "udm_version", "ubnt_device_type")
LEGACY_LIMIT_CAP = 3000  # what the legacy event list returns at most per page (reference §3.3)
TOMCAT_404 = ("<!doctype html><html lang=\"en\"><head><title>HTTP Status 404 – Not Found</title></head>"
              "<body><h1>HTTP Status 404 – Not Found</h1></body></html>")

Answer = tuple[int, Any, list[tuple[str, str]]]
"""HTTP status, body (a JSON value, or a str served as HTML) and extra headers."""


def load_sample(name: str, samples: Path = SAMPLES) -> list[dict[str, Any]]:
    """One sample file: its list of `{"source", "record"[, "copies"]}` entries."""
    return json.loads((samples / name).read_text(encoding="utf-8"))


def iso_utc(ms: int) -> str:
    """Epoch ms as the controller's `datetime`: ISO-8601 UTC, whole seconds, with a `Z`."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LegacyReplay:
    """The replay controller on 127.0.0.1 over HTTPS (the fake controller's bundled certificate).

    Built (and stamped) at construction; served from `start()` (or `with`) until `stop()`.
    """

    host = "127.0.0.1"
    username = "replay-admin"
    password = "replay-password"  # noqa: S105 - the replay's public test credential

    def __init__(self, seed: int = 17, version: str = DEFAULT_VERSION, samples: Path = SAMPLES,
                 now_ms: int | None = None) -> None:
        """Load the samples and stamp every copy relative to `now_ms` (default: now), seeded by `seed`."""
        self.started_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        self._rng = random.Random(seed)
        self.served: dict[str, list[dict[str, Any]]] = {
            endpoint: [entry["record"] for entry in load_sample(name, samples)]
            for endpoint, name in STATE_FILES.items()
        }
        self.served["stat/sysinfo"] = [_as_self_hosted(info, version) for info in self.served["stat/sysinfo"]]
        self.served.update(self._stamped(samples))
        self.served.update({endpoint: [] for endpoint in EMPTY_ENDPOINTS})
        self.site = str(self.served["self/sites"][0]["name"])
        self._sessions: set[str] = set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- the records

    def new_id(self, moment_ms: int) -> str:
        """An ObjectId-style id: 4 bytes of the moment's epoch seconds, then 8 seeded random bytes."""
        return f"{moment_ms // 1000:08x}{self._rng.getrandbits(64):016x}"

    def _stamped(self, samples: Path) -> dict[str, list[dict[str, Any]]]:
        """Every copy of every event, IPS and alarm record, re-stamped and re-identified, per endpoint."""
        copies = [(endpoint, number, entry["record"])
                  for endpoint, name in EVENT_FILES.items()
                  for entry in load_sample(name, samples)
                  for number in range(int(entry.get("copies", 1)))]
        # One seeded order over all copies, so records interleave as on a real site.
        ranks = list(range(len(copies)))
        self._rng.shuffle(ranks)
        slot = (SPREAD_MS - NEWEST_AGE_MS) / max(1, len(copies) - 1)
        newest = self.started_ms - NEWEST_AGE_MS
        moments = [0] * len(copies)
        for rank, index in enumerate(ranks):
            # Jitter only towards the present, so the newest stays 5 minutes and the oldest 23 hours old.
            jitter = self._rng.uniform(0, 0.8) * slot if rank else 0
            moments[index] = int(newest - rank * slot + jitter)
        used: set[str] = set()
        served: dict[str, list[dict[str, Any]]] = {endpoint: [] for endpoint in EVENT_FILES}
        for (endpoint, number, original), moment in zip(copies, moments, strict=True):
            record = copy.deepcopy(original)
            record["time"] = moment
            record["datetime"] = iso_utc(moment)
            if "timestamp" in record:
                record["timestamp"] = moment // 1000
            if "_id" in record:
                if number or record["_id"] in used:
                    record["_id"] = self.new_id(moment)
                used.add(record["_id"])
            served[endpoint].append(record)
        for rows in served.values():
            rows.sort(key=lambda row: row["time"])
        return served

    # ---- what a test needs

    @property
    def url(self) -> str:
        """Base URL, e.g. `https://127.0.0.1:PORT` (after start)."""
        if self._server is None:
            raise RuntimeError("the replay is not running")
        return f"https://{self.host}:{self._server.server_address[1]}"

    @property
    def fingerprint(self) -> str:
        """SHA-256 fingerprint of the certificate served (what UNIFI_TLS_FINGERPRINT pins)."""
        return fingerprint(CERT_PATH)

    def env(self) -> dict[str, str]:
        """The UNIFI_* variables that point the CLI at this replay, pinned, as a legacy controller."""
        return {"UNIFI_HOST": self.url, "UNIFI_USERNAME": self.username, "UNIFI_PASSWORD": self.password,
                "UNIFI_TLS_FINGERPRINT": self.fingerprint, "UNIFI_SITE": self.site}

    # ---- lifecycle

    def start(self) -> LegacyReplay:
        """Bind a free port on 127.0.0.1 and serve HTTPS in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the replay is already running")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(CERT_PATH, KEY_PATH)
        self._server = _Server((self.host, 0), self, context)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="legacy-replay", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wait for the server thread."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> LegacyReplay:
        """Start serving for the `with` block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop serving at the end of the `with` block."""
        self.stop()

    # ---- the controller's answers

    def answer(self, method: str, target: str, cookie_header: str, body: bytes) -> Answer:
        """The answer to one request, as the self-hosted Network application gives it."""
        path = urlsplit(target).path
        if path == "/":
            return 302, "", [("Location", "/manage")]
        if path == "/status":
            return 200, {"meta": {"rc": "ok", "up": True, "server_version": self._version()}, "data": []}, []
        if path == "/api/login":
            return self._login(method, body)
        if path in ("/api/logout", "/logout"):
            return self._logout(cookie_header)
        if not path.startswith("/api/") or path.startswith("/api/auth/"):
            return 404, TOMCAT_404, []
        if _cookies(cookie_header).get("unifises") not in self._sessions:
            return 401, _meta_error("api.err.LoginRequired"), []
        if path in ("/api/self/sites", "/api/stat/sites"):
            return 200, _meta_ok(self.served["self/sites"]), []
        prefix = f"/api/s/{self.site}/"
        if path.startswith("/api/s/") and not path.startswith(prefix):
            return 400, _meta_error("api.err.NoSiteContext"), []
        return self._site_endpoint(method, path.removeprefix(prefix), body)

    def _version(self) -> str:
        """The Network version this replay claims (sysinfo's `version`)."""
        return str(self.served["stat/sysinfo"][0]["version"])

    def _login(self, method: str, body: bytes) -> Answer:
        """`POST /api/login`: a `unifises` cookie for the right credentials, `api.err.Invalid` otherwise."""
        if method != "POST":
            return 405, _meta_error("api.err.MethodNotAllowed"), []
        request = _json_object(body)
        if request is None:
            return 400, _meta_error("api.err.InvalidPayload"), []
        if (request.get("username"), request.get("password")) != (self.username, self.password):
            return 400, _meta_error("api.err.Invalid"), []
        cookie = secrets.token_urlsafe(24)
        with self._lock:
            self._sessions.add(cookie)
        return 200, _meta_ok([]), [("Set-Cookie", f"unifises={cookie}; Path=/; Secure; HttpOnly")]

    def _logout(self, cookie_header: str) -> Answer:
        """`POST /api/logout`: the session ends and its cookie expires."""
        with self._lock:
            self._sessions.discard(_cookies(cookie_header).get("unifises", ""))
        return 200, _meta_ok([]), [("Set-Cookie", "unifises=; Path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT")]

    def _site_endpoint(self, method: str, endpoint: str, body: bytes) -> Answer:
        """One `/api/s/<site>/<endpoint>` answer."""
        if endpoint == "stat/event":
            return self._event_list(body)
        if endpoint == "stat/ips/event":
            return self._ips_list(body)
        if endpoint == "list/alarm":
            # Every filter, limit and sort is ignored: the oldest records first (reference §3.5).
            return 200, _meta_ok(self.served["list/alarm"][:LEGACY_LIMIT_CAP]), []
        if endpoint in self.served and endpoint != "self/sites":
            return 200, _meta_ok(self.served[endpoint]), []
        return 404, _meta_error("api.err.NotFound"), []

    def _event_list(self, body: bytes) -> Answer:
        """`stat/event`: the records of the last `within` hours, sorted, paged by `_start`/`_limit`."""
        request = _json_object(body)
        try:
            if request is None:
                raise ValueError("not an object")
            within = float(request.get("within") or 720)
            start = max(0, int(request.get("_start") or 0))
            limit = max(0, min(int(request.get("_limit") or LEGACY_LIMIT_CAP), LEGACY_LIMIT_CAP))
        except (TypeError, ValueError):
            return 400, _meta_error("api.err.InvalidPayload"), []
        cutoff = time.time() * 1000 - within * HOUR_MS
        rows = _sorted([row for row in self.served["stat/event"] if row["time"] >= cutoff], request)
        return 200, {"meta": {"rc": "ok", "count": len(rows)}, "data": rows[start:start + limit]}, []

    def _ips_list(self, body: bytes) -> Answer:
        """`stat/ips/event`: the records with `start <= time <= end`, sorted, at most `_limit`."""
        request = _json_object(body)
        now = int(time.time() * 1000)
        try:
            if request is None:
                raise ValueError("not an object")
            lo = int(request.get("start") or now - 24 * HOUR_MS)
            hi = int(request.get("end") or now)
            start = max(0, int(request.get("_start") or 0))
            limit = max(0, int(request.get("_limit") or 10_000))
        except (TypeError, ValueError):
            return 400, _meta_error("api.err.InvalidPayload"), []
        rows = _sorted([row for row in self.served["stat/ips/event"] if lo <= row["time"] <= hi], request)
        return 200, {"meta": {"rc": "ok", "count": len(rows)}, "data": rows[start:start + limit]}, []


def _as_self_hosted(info: dict[str, Any], version: str) -> dict[str, Any]:
    """sysinfo of a self-hosted controller at `version`: the old version kept as `previous_version`."""
    info = {key: value for key, value in info.items() if key not in UNIFI_OS_ONLY_KEYS}
    info["previous_version"] = info.get("version")
    info["version"] = version
    info["build"] = f"atag_{version}_00000"
    return info


def _sorted(rows: list[dict[str, Any]], request: dict[str, Any]) -> list[dict[str, Any]]:
    """`rows` in the order `_sort` asks for: newest first for `-time` (the default), else oldest first."""
    newest_first = str(request.get("_sort", "-time")).startswith("-")
    return sorted(rows, key=lambda row: row["time"], reverse=newest_first)


def _json_object(body: bytes) -> dict[str, Any] | None:
    """A request body as a JSON object; an empty body is an empty object, anything else None."""
    if not body:
        return {}
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _cookies(header: str) -> dict[str, str]:
    """The cookies of one `Cookie` request header."""
    pairs = (part.strip().partition("=") for part in header.split(";"))
    return {name: value for name, sep, value in pairs if sep}


def _meta_ok(rows: list[Any]) -> dict[str, Any]:
    """A legacy success body."""
    return {"meta": {"rc": "ok"}, "data": rows}


def _meta_error(message: str) -> dict[str, Any]:
    """A legacy error body (the HTTP status travels separately)."""
    return {"meta": {"rc": "error", "msg": message}, "data": []}


class _Server(ThreadingHTTPServer):
    """A threading HTTPS server whose TLS handshakes run on the connection threads, not in accept()."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], replay: LegacyReplay, context: ssl.SSLContext) -> None:
        """Bind `address` for `replay`, wrapping each accepted socket with `context`."""
        self.replay = replay
        self.context = context
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[Any, Any]:
        """Accept a connection and wrap it for TLS without handshaking yet."""
        sock, addr = super().get_request()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients that go away mid-connection are normal here."""


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to `LegacyReplay.answer` and writes its answer with keep-alive."""

    protocol_version = "HTTP/1.1"
    timeout = 10  # idle keep-alive connections of a finished CLI must not hold a thread for long
    server: _Server

    def _serve(self) -> None:
        """Read the request body, ask the replay, write status, headers and body."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        status, payload, headers = self.server.replay.answer(
            self.command, self.path, self.headers.get("Cookie") or "", body)
        if isinstance(payload, str):
            content, kind = payload.encode(), "text/html;charset=utf-8"
        else:
            content, kind = json.dumps(payload).encode(), "application/json;charset=UTF-8"
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Silence the access log on stderr."""
