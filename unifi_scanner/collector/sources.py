"""What the collector asks for: one generator per source, each yielding the items of one page at a time.

A source never holds more than the page it is converting. It de-duplicates by record id (pages shift
while new events arrive), filters exactly on the run's window [since, until), converts the
controller's millisecond/second fields to UTC at the edge, and records how it ended on its
`SourceRun` (ok, empty, unsupported, truncated, failed, with a detail for the report).

Order and fallbacks follow the reference: the v2 system log first; the legacy event list only when v2
answered 404; IPS detail from v2 traffic flows and the legacy IPS list where they still exist; alarms
best-effort; anomalies and rogue APs for the window; current device, client and health state.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from unifi_scanner.errors import ControllerProtocolError
from unifi_scanner.models import (
    Client,
    Device,
    Health,
    Record,
    RecordBatch,
    RecordKind,
    SourceOutcome,
    SourceStatus,
    Window,
)
from unifi_scanner.settings import Settings
from unifi_scanner.timeutil import ensure_utc, from_epoch, to_ms, utcnow

from .auth import Connection
from .http import SITE_ERRORS, ApiError

V2_PAGE_SIZE = 100  # the cap PHeonix25 observed; larger requests are silently cut
LEGACY_PAGE_SIZE = 3000
IPS_LIMIT = 3000  # the server allows 10,000, but a page that size costs ~50 MB parsed
ALARM_CAP = 3000  # list/alarm returns at most this many, oldest first, and ignores every filter
# Re-walks of a whole range after its row count changed under us; each must see a stable count.
MAX_REWALKS = 3
V2_CATEGORIES = [
    "SECURITY", "UNIFI_DEVICES", "SOFTWARE_UPDATES", "VPN", "POWER", "UNIFI_ETHERNET_PORTS",
    "CLIENT_DEVICES", "UNKNOWN", "AUDIT", "INTERNET_AND_WAN",
]
V2_SEVERITIES = ["LOW", "MEDIUM", "HIGH", "VERY_HIGH"]
# Every filter array the console's own UI sends with traffic-flows (unifi-toolkit); which are required
# is unknown, so all are sent empty.
_FLOW_FILTERS = [
    "risk", "action", "direction", "protocol", "policy", "service",
    *(f"{side}_{what}" for side in ("source", "destination")
      for what in ("host", "mac", "ip", "port", "network_id", "domain", "zone_id", "region")),
    "in_network_id", "out_network_id", "next_ai_query", "except_for",
]
DEVICE_STATES = {
    0: "disconnected", 1: "connected", 2: "pending", 3: "firmware mismatch", 4: "upgrading",
    5: "provisioning", 6: "heartbeat missed", 7: "adopting", 8: "deleting", 9: "inform error",
    10: "adoption failed", 11: "isolated",
}

Item = Record | Device | Client | Health
Items = list[Item] | RecordBatch
"""What a source yields per page: its current-state items, or a page of records."""


@dataclass
class Context:
    """What every source of one run shares: the connection, the window and what earlier sources learned."""

    conn: Connection
    window: Window
    settings: Settings
    version: str | None = None
    v2_log: bool | None = None  # True: v2 system log exists; False: it answered 404; None: not asked
    pages: int = 0

    @property
    def since_ms(self) -> int:
        """Window start in epoch ms."""
        return to_ms(self.window.since)

    @property
    def until_ms(self) -> int:
        """Window end (exclusive) in epoch ms."""
        return to_ms(self.window.until)

    def count_page(self, run: SourceRun) -> None:
        """Count one fetched page, for the source's page cap and the run's statistics."""
        run.pages += 1
        self.pages += 1

    @property
    def network(self) -> str:
        """`Network <version>` for details, or a neutral phrase when the version is unknown."""
        return f"Network {self.version}" if self.version else "this controller"


@dataclass
class SourceRun:
    """One source's progress: ids already seen (never payloads), records written, and its outcome."""

    name: str
    count: int = 0
    pages: int = 0
    status: SourceStatus | None = None
    detail: str | None = None
    # id -> number of the walk that last saw it; doubles as the de-duplication set.
    marks: dict[str, int] = field(default_factory=dict)
    malformed: int = 0  # rows skipped because their shape or types made no sense

    def mark(self, status: SourceStatus | None, detail: str | None = None) -> None:
        """Record the outcome (a failure or truncation is never overwritten by a milder status)."""
        if self.status in (SourceStatus.FAILED, SourceStatus.TRUNCATED) and status not in (
            SourceStatus.FAILED,
        ):
            return
        self.status, self.detail = status, detail

    def outcome(self) -> SourceOutcome:
        """The SourceOutcome for the footer: ok or empty unless something else was marked."""
        status = self.status or (SourceStatus.OK if self.count else SourceStatus.EMPTY)
        skipped = f"{self.malformed} malformed records skipped" if self.malformed else None
        detail = "; ".join(filter(None, [self.detail, skipped])) or None
        return SourceOutcome(name=self.name, status=status, count=self.count, detail=detail,
                             skipped=self.malformed)


# ----------------------------------------------------------------------------------------- helpers


def rows_of(body: Any, run: SourceRun | None = None) -> list[dict[str, Any]]:
    """The record list of a legacy (`data`), v2 (`data`) or bare-array answer.

    An answer whose record list is not a list is a protocol error (reading it as "no records" would
    report a quiet window that was not); rows that are not objects are skipped and counted on `run`.
    """
    rows = body.get("data", []) if isinstance(body, dict) else body
    if not isinstance(rows, list):
        kind = "null" if rows is None else "an object" if isinstance(rows, dict) else type(rows).__name__
        raise ControllerProtocolError(f"the controller's answer has no record list (its data is {kind})")
    records = [row for row in rows if isinstance(row, dict)]
    if run is not None:
        run.malformed += len(rows) - len(records)
    return records


def meta_count(body: Any) -> int | None:
    """`meta.count` of a legacy answer: more than was returned means the server truncated."""
    meta = body.get("meta") if isinstance(body, dict) else None
    count = meta.get("count") if isinstance(meta, dict) else None
    return _int(count)


def _int(value: Any) -> int | None:
    """An int from an int or a numeric string (firmware sends both), else None."""
    number = _number(value)
    return None if number is None else int(number)


def _number(value: Any) -> float | None:
    """A float from a number or a numeric string; None for empty strings, bools and garbage."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    """A display string from a string or number (firmware mixes them); None for empty and other types."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value) or None


def record_time(raw: dict[str, Any], *keys: str) -> datetime | None:
    """The first of `keys` holding an epoch (ms or s, by magnitude); then `datetime` (ISO) as a fallback."""
    try:
        for key in keys:
            value = raw.get(key)
            if type(value) is int:  # the usual epoch (bool, a subclass, is not one): no checks needed
                return from_epoch(value)
            number = _number(value)
            if number is not None:
                return from_epoch(number)
        text = raw.get("datetime")
        if isinstance(text, str):
            return ensure_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
        return None
    except (ValueError, OverflowError, OSError):  # out-of-range epochs and malformed ISO strings
        return None


def record_id(raw: dict[str, Any], key: str) -> str:
    """The record's own id; for the rare row without one, a digest of its content (stable across runs)."""
    value = raw.get(key)
    if type(value) is str and value:  # the usual id, tested first because it is the cheapest test
        return value
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
        return str(value)
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
    return f"sha256:{digest[:32]}"


@dataclass
class Shape:
    """How to read one family of records: its kind, id field and time fields."""

    kind: RecordKind
    id_key: str
    time_keys: tuple[str, ...]


SYSTEM_LOG = Shape(RecordKind.SYSTEM_LOG, "id", ("timestamp",))
LEGACY_EVENT = Shape(RecordKind.EVENT, "_id", ("time",))
THREAT = Shape(RecordKind.THREAT, "_id", ("time", "timestamp"))  # `timestamp` is in seconds here
TRAFFIC_FLOW = Shape(RecordKind.TRAFFIC_FLOW, "id", ("time",))
ALARM = Shape(RecordKind.ALARM, "_id", ("time",))


class Page:
    """Converts one page of raw rows into new, in-window Records and notes what the walk needs."""

    def __init__(self, ctx: Context, run: SourceRun, shape: Shape, rows: list[dict[str, Any]], walk: int):
        self.records = RecordBatch(shape.kind, run.name)
        self.unique = 0  # ids this walk had not seen before (in-window or not)
        self.times: list[int] = []  # epoch ms of every row, for narrowing and paging decisions
        # Runs once per record (100k+ per run): attribute lookups are hoisted out of the loop.
        marks, since, until = run.marks, ctx.window.since, ctx.window.until
        id_key, time_keys = shape.id_key, shape.time_keys
        kept = self.records
        keep_id, keep_time, keep_raw = kept.ids.append, kept.times.append, kept.raws.append
        for raw in rows:
            rid = record_id(raw, id_key)
            moment = record_time(raw, *time_keys)
            previous = marks.get(rid)
            marks[rid] = walk
            if previous != walk:
                self.unique += 1
            if moment is not None:
                self.times.append(to_ms(moment))
            elif previous is None:
                run.malformed += 1  # no usable time: it cannot be placed in any window
            if previous is not None or moment is None:
                continue
            if since <= moment < until:
                keep_id(rid)
                keep_time(moment)
                keep_raw(raw)
        ctx.count_page(run)


def _page_budget(ctx: Context, run: SourceRun) -> bool:
    """False (and the source marked truncated) once the source has used settings.max_pages pages."""
    if run.pages < ctx.settings.max_pages:
        return True
    run.mark(SourceStatus.TRUNCATED, f"stopped after {run.pages} pages (UNIFI_MAX_PAGES); older records "
             "in the window were not collected")
    return False


def _room_for_next_page(ctx: Context, run: SourceRun) -> bool:
    """True when `_page_budget` will allow another page after the one being converted (not yet counted),
    so that page may be asked for ahead."""
    return run.pages + 1 < ctx.settings.max_pages


# ----------------------------------------------------------------------------------------- v2 paging


@dataclass
class Walk:
    """The result of walking one time range page by page."""

    unique: int = 0
    first_total: int | None = None
    last_total: int | None = None
    first_time: int | None = None
    last_time: int | None = None
    oldest: int | None = None
    newest: int | None = None
    capped: bool = False


def v2_walk(ctx: Context, run: SourceRun, path: str, shape: Shape,
            body: Callable[[int, int, int], dict[str, Any]]) -> Iterator[RecordBatch]:
    """Walk a v2 paged endpoint over the window until every row in it was seen once.

    `timestampTo` is fixed at the run's `until`, so events arriving during the run fall outside the
    range. A walk by `pageNumber` still meets shifting pages when rows appear *inside* the range
    (late-stored events): rows move across page boundaries, showing duplicates (de-duplicated by id)
    and hiding others. Each walk therefore counts the distinct ids it saw against the server's
    `total_element_count`:

    * all seen, count stable: done;
    * the count changed during the walk: walk the range again (ids already written are skipped);
    * the server stopped before its own count (a depth cap): narrow the range to the part not yet
      reached (older than the oldest row seen, for newest-first order) and walk that.
    """
    ranges = [(ctx.since_ms, ctx.until_ms)]
    walk_no = rewalks = 0
    while ranges:
        lo, hi = ranges.pop()
        walk_no += 1
        walk = Walk()
        yield from _walk_range(ctx, run, path, shape, body, lo, hi, walk_no, walk)
        if walk.capped:
            return
        total = walk.last_total
        if total is None or (walk.unique >= total and walk.first_total == total):
            continue
        if walk.first_total != total or walk.oldest is None or walk.newest is None:
            rewalks += 1
            if rewalks > MAX_REWALKS:
                run.mark(SourceStatus.TRUNCATED, "records kept changing while paging; some may be missing")
                return
            ranges.append((lo, hi))
            continue
        newest_first = (walk.first_time or 0) >= (walk.last_time or 0)
        narrowed = (lo, walk.oldest) if newest_first else (walk.newest, hi)
        if narrowed == (lo, hi):
            run.mark(SourceStatus.TRUNCATED,
                     f"the controller gave {walk.unique} of {total} records for one time range")
            return
        ranges.append(narrowed)


def _walk_range(ctx: Context, run: SourceRun, path: str, shape: Shape,
                body: Callable[[int, int, int], dict[str, Any]], lo: int, hi: int, walk_no: int,
                walk: Walk) -> Iterator[RecordBatch]:
    """Fetch pages 0, 1, ... of one range, yielding each page's new records; fill in `walk`."""
    number = 0
    while True:
        if not _page_budget(ctx, run):
            walk.capped = True
            return
        answer = ctx.conn.post(path, body(lo, hi, number))
        rows = rows_of(answer, run)
        total = _int(answer.get("total_element_count")) if isinstance(answer, dict) else None
        pages = _int(answer.get("total_page_count")) if isinstance(answer, dict) else None
        last = not rows or (number + 1 >= pages if pages is not None else len(rows) < V2_PAGE_SIZE)
        if not last and _room_for_next_page(ctx, run):
            ctx.conn.post_ahead(path, body(lo, hi, number + 1))
        page = Page(ctx, run, shape, rows, walk_no)
        yield page.records
        walk.unique += page.unique
        if walk.first_total is None:
            walk.first_total = total
        walk.last_total = total
        if page.times:
            walk.first_time = page.times[0] if walk.first_time is None else walk.first_time
            walk.last_time = page.times[-1]
            walk.oldest = min(page.times + ([walk.oldest] if walk.oldest is not None else []))
            walk.newest = max(page.times + ([walk.newest] if walk.newest is not None else []))
        if last:
            return
        number += 1


def system_log(ctx: Context, run: SourceRun) -> Iterator[Items]:
    """v2 `system-log/all`, every category: the current feed. A 404 means this controller has no v2."""

    def body(lo: int, hi: int, number: int) -> dict[str, Any]:
        return {"timestampFrom": lo, "timestampTo": hi, "categories": V2_CATEGORIES,
                "severities": V2_SEVERITIES, "pageNumber": number, "pageSize": V2_PAGE_SIZE}

    try:
        yield from v2_walk(ctx, run, ctx.conn.v2_path("system-log/all"), SYSTEM_LOG, body)
    except ApiError as exc:
        if exc.not_found and run.pages == 0:
            ctx.v2_log = False
            run.mark(SourceStatus.UNSUPPORTED,
                     f"v2 system log not available on {ctx.network}; using the legacy event list")
            return
        ctx.v2_log = True  # it exists but failed: a legacy fallback would hide the failure
        raise
    ctx.v2_log = True


def traffic_flows(ctx: Context, run: SourceRun) -> Iterator[Items]:
    """v2 `traffic-flows` with an IPS policy filter: the only place current firmware names signatures."""

    def body(lo: int, hi: int, number: int) -> dict[str, Any]:
        return {"timestampFrom": lo, "timestampTo": hi, "pageNumber": number, "pageSize": V2_PAGE_SIZE,
                "skip_count": False, "policy_type": ["INTRUSION_PREVENTION"], "search_text": "",
                **{name: [] for name in _FLOW_FILTERS}}

    yield from v2_walk(ctx, run, ctx.conn.v2_path("traffic-flows"), TRAFFIC_FLOW, body)


# ----------------------------------------------------------------------------------------- legacy lists


def legacy_events(ctx: Context, run: SourceRun) -> Iterator[Items]:
    """Legacy `stat/event`, only where v2 answered 404 (on 10.0 it answers but no longer gets new rows).

    Newest first; pages by `_start` until a page reaches before the window, the server's count is
    exhausted, or a short page ends the list. `within` (hours back from now) is the only server filter,
    so the top of the list stays open: rows arriving during the walk shift the offsets. When
    `meta.count` changed during a walk, the list is walked again (ids already written are skipped)
    until a walk finds nothing new; that catches rows stored late inside the window.
    """
    if ctx.v2_log is not False:
        run.mark(SourceStatus.UNSUPPORTED, "legacy stat/event not used: v2 system log available")
        return
    within = max(1, math.ceil((utcnow() - ctx.window.since).total_seconds() / 3600))
    path = ctx.conn.site_path("stat/event")

    def page_body(start: int) -> dict[str, Any]:
        """The request for the page at offset `start`."""
        return {"_sort": "-time", "within": within, "type": None, "_start": start, "_limit": LEGACY_PAGE_SIZE}

    for walk_no in range(1, MAX_REWALKS + 2):
        counts: set[int | None] = set()
        found = start = 0
        while True:
            if not _page_budget(ctx, run):
                return
            answer = ctx.conn.post(path, page_body(start))
            rows, count = rows_of(answer, run), meta_count(answer)
            counts.add(count)
            start += len(rows)
            # The list ends with a short page that the server's count does not contradict.
            last = not rows or (len(rows) < LEGACY_PAGE_SIZE and (count is None or start >= count))
            # Newest first, so the last row tells whether the list reaches past the window (a guess
            # only: the page is checked in full below, and a page fetched for nothing is dropped).
            oldest = record_time(rows[-1], "time") if rows else None
            if not last and not (oldest and oldest < ctx.window.since) and _room_for_next_page(ctx, run):
                ctx.conn.post_ahead(path, page_body(start))
            page = Page(ctx, run, LEGACY_EVENT, rows, walk_no)
            found += len(page.records)
            yield page.records
            if page.times and min(page.times) < ctx.since_ms:
                break
            if last:
                if count is not None and start < count:
                    run.mark(SourceStatus.TRUNCATED,
                             f"the controller returned {start} of {count} events (meta.count)")
                break
            # Let this page go before the next is read: two 3,000-row pages at once would be the
            # collector's peak memory.
            answer = rows = page = None
        if len(counts) <= 1 or (walk_no > 1 and found == 0):
            return
    run.mark(SourceStatus.TRUNCATED, "events kept arriving inside the window while paging; some may be "
             "missing")


def legacy_ips(ctx: Context, run: SourceRun) -> Iterator[Items]:
    """Legacy `stat/ips/event` by start/end, halving the range whenever the server truncates it.

    An empty answer proves nothing on Network 9.3.45+ (the list stays empty while the UI shows threats).
    """
    yield from _ips_range(ctx, run, ctx.since_ms, ctx.until_ms)
    if run.count == 0 and run.status is None and ctx.v2_log:
        run.mark(SourceStatus.EMPTY, "empty, which proves nothing on Network 9.3.45+: threats are in the "
                 "system log's SECURITY rows")


def _ips_range(ctx: Context, run: SourceRun, lo: int, hi: int) -> Iterator[RecordBatch]:
    """One start/end query; when it came back truncated, split the range and query the parts.

    The number of parts follows `meta.count`, so one split usually suffices; ranges stop splitting at
    one second.
    """
    if not _page_budget(ctx, run):
        return
    answer = ctx.conn.post(ctx.conn.site_path("stat/ips/event"),
                           {"start": lo, "end": hi, "_limit": IPS_LIMIT, "_sort": "-time"})
    rows, count = rows_of(answer, run), meta_count(answer)
    truncated = len(rows) >= IPS_LIMIT or (count is not None and count > len(rows))
    if truncated and hi - lo > 1000:
        # Drop this page: the parts fetch the same rows again, complete.
        ctx.count_page(run)
        parts = max(2, math.ceil((count or 0) / (IPS_LIMIT * 0.7)))
        bounds = [lo + (hi - lo) * i // parts for i in range(parts)] + [hi]
        for start, end in itertools.pairwise(bounds):
            yield from _ips_range(ctx, run, start, end)
        return
    page = Page(ctx, run, THREAT, rows, 1)
    yield page.records
    if truncated:
        run.mark(SourceStatus.TRUNCATED, f"more than {len(rows)} IPS events within one second")


def alarms(ctx: Context, run: SourceRun) -> Iterator[Items]:
    """`list/alarm`, best-effort: the server ignores filters, so filter on `time` here."""
    try:
        answer = ctx.conn.get(ctx.conn.site_path("list/alarm"))
    except ApiError as exc:
        if exc.code not in SITE_ERRORS:
            raise
        # The site was already checked, so InvalidObject here means "alarms not offered" (10.5.67).
        run.mark(SourceStatus.UNSUPPORTED, f"alarms not available on {ctx.network}")
        return
    rows, count = rows_of(answer, run), meta_count(answer)
    yield Page(ctx, run, ALARM, rows, 1).records
    if len(rows) >= ALARM_CAP or (count is not None and count > len(rows)):
        run.mark(SourceStatus.TRUNCATED, f"the controller returns at most {ALARM_CAP} alarms, oldest first; "
                 "recent alarms may be missing")


def anomalies(ctx: Context, run: SourceRun) -> Iterator[Items]:
    """`stat/anomalies` for the window: one record per (anomaly, device, timestamp)."""
    answer = ctx.conn.get(ctx.conn.site_path("stat/anomalies"),
                          params={"scale": "hourly", "start": ctx.since_ms, "end": ctx.until_ms})
    rows: list[dict[str, Any]] = []
    for row in rows_of(answer, run):
        stamps = row.get("timestamps")
        base = {key: value for key, value in row.items() if key != "timestamps"}
        for stamp in stamps if isinstance(stamps, list) else [row.get("time")]:
            rows.append({**base, "time": stamp,
                         "id": f"{row.get('anomaly')}|{row.get('mac')}|{stamp}"})
    yield Page(ctx, run, Shape(RecordKind.ANOMALY, "id", ("time",)), rows, 1).records


def rogue_aps(ctx: Context, run: SourceRun) -> Iterator[Items]:
    """`stat/rogueap` for the window's hours: neighbouring APs heard by ours, by `last_seen`."""
    within = max(1, math.ceil((utcnow() - ctx.window.since).total_seconds() / 3600))
    answer = ctx.conn.post(ctx.conn.site_path("stat/rogueap"), {"within": within})
    rows = [{**row, "id": f"{row.get('bssid')}|{row.get('ap_mac')}"} for row in rows_of(answer, run)]
    # Neighbours without a usable last_seen are counted as malformed by the page and left out.
    yield Page(ctx, run, Shape(RecordKind.ROGUE_AP, "id", ("last_seen",)), rows, 1).records


# ----------------------------------------------------------------------------------------- current state


def device_item(raw: dict[str, Any]) -> Device:
    """A Device from one `stat/device` row, parsing the string-typed numbers defensively."""
    stats = raw.get("system-stats") if isinstance(raw.get("system-stats"), dict) else {}
    temperatures = [
        _number(sensor.get("value")) for sensor in raw.get("temperatures") or [] if isinstance(sensor, dict)
    ]
    readings = [value for value in temperatures if value is not None]
    general = _number(raw.get("general_temperature"))
    state = _int(raw.get("state"))
    return Device(
        mac=str(raw.get("mac") or ""),
        name=_text(raw.get("name")),
        model=_text(raw.get("model")),
        device_type=_text(raw.get("type")),
        ip=_text(raw.get("ip")),
        state=DEVICE_STATES.get(state, "unknown") if state is not None else "unknown",
        adopted=raw.get("adopted") if isinstance(raw.get("adopted"), bool) else None,
        uptime_seconds=_int(raw.get("uptime")),
        last_seen=record_time(raw, "last_seen") if raw.get("last_seen") else None,
        version=_text(raw.get("version")),
        upgradable=raw.get("upgradable") is True,
        upgrade_to=_text(raw.get("upgrade_to_firmware")),
        cpu_percent=_number(stats.get("cpu")),
        mem_percent=_number(stats.get("mem")),
        temperature_c=max(readings) if readings else general,
        overheating=raw.get("overheating") if isinstance(raw.get("overheating"), bool) else None,
        num_clients=_int(raw.get("num_sta")),
        raw=raw,
    )


def client_item(raw: dict[str, Any]) -> Client:
    """A Client from one `stat/sta` row."""

    def flag(key: str) -> bool | None:
        return raw[key] if isinstance(raw.get(key), bool) else None

    return Client(
        mac=str(raw.get("mac") or ""), name=_text(raw.get("name")), hostname=_text(raw.get("hostname")),
        ip=_text(raw.get("ip")), is_wired=flag("is_wired"), is_guest=flag("is_guest"),
        essid=_text(raw.get("essid")), blocked=flag("blocked"),
    )


def health_item(raw: dict[str, Any]) -> Health:
    """A Health row from one `stat/health` subsystem."""
    return Health(subsystem=str(raw.get("subsystem") or "unknown"),
                  status=str(raw.get("status") or "unknown"), raw=raw)


SourceFn = Callable[[Context, SourceRun], Iterator[Items]]


def _state_source(endpoint: str, build: Callable[[dict[str, Any]], Item]) -> SourceFn:
    """A source that reads one current-state list and converts each row."""

    def source(ctx: Context, run: SourceRun) -> Iterator[Items]:
        rows = rows_of(ctx.conn.get(ctx.conn.site_path(endpoint)), run)
        ctx.count_page(run)
        items = []
        for row in rows:
            try:
                items.append(build(row))
            except (TypeError, ValueError, OverflowError, OSError):  # pydantic's ValidationError too
                run.malformed += 1  # wrong types the model refuses: skip the row, keep the rest
        yield items

    source.__doc__ = f"Current state from `{endpoint}`."
    return source


devices = _state_source("stat/device", device_item)
clients = _state_source("stat/sta", client_item)
health = _state_source("stat/health", health_item)

SOURCES: list[tuple[str, SourceFn]] = [
    ("devices", devices),
    ("clients", clients),
    ("health", health),
    ("system_log", system_log),
    ("legacy_events", legacy_events),
    ("traffic_flows", traffic_flows),
    ("legacy_ips", legacy_ips),
    ("alarms", alarms),
    ("anomalies", anomalies),
    ("rogue_aps", rogue_aps),
]
"""Every source in collection order: current state first, then the event feeds."""

EVENT_FEEDS = ("system_log", "legacy_events")
"""The controller's primary event log (v2, or the legacy list where v2 is missing). When one of them
fails, the window cannot be reported completely; the other sources are best-effort."""


# ----------------------------------------------------------------------------------------- controller


def controller_facts(ctx: Context) -> dict[str, Any]:
    """Version and name from `stat/sysinfo` (also the run's site check), plus the IPS mode if readable.

    Never copies sysinfo itself: it holds secret-looking fields (`sso_app_sec`).
    """
    try:
        answer = ctx.conn.get(ctx.conn.site_path("stat/sysinfo"))
    except ApiError as exc:
        if exc.code in SITE_ERRORS:
            raise unknown_site(ctx.conn) from None
        raise
    info = (rows_of(answer) or [{}])[0]
    ctx.version = str(info["version"]) if info.get("version") else None
    facts: dict[str, Any] = {"version": ctx.version, "name": info.get("hostname") or info.get("name") or None}
    try:
        setting = rows_of(ctx.conn.get(ctx.conn.site_path("rest/setting/ips")))
    except (ApiError, ControllerProtocolError):
        setting = []
    mode = setting[0].get("ips_mode") if setting else None
    facts["ips_mode"] = str(mode) if mode else None
    return facts


def unknown_site(conn: Connection) -> ControllerProtocolError:
    """The unknown-site error, listing the site names this account can see."""
    try:
        sites = rows_of(conn.get(conn.api_path("self/sites")))
        names = ", ".join(
            f"{site.get('name')} ({site.get('desc')})" if site.get("desc") else str(site.get("name"))
            for site in sites if site.get("name")
        ) or "none"
    except ControllerProtocolError:
        names = "(the site list could not be read)"
    return ControllerProtocolError(
        f"Site '{conn.site}' not found. Use the site name (e.g. default), not its description or id. "
        f"Available: {names}."
    )
