"""Unit tests of the sources and the collection run against scripted answers (`responses`).

These pin the decisions the end-to-end tests cannot provoke at will: window edges, narrowing when a
server stops before its own count, fallbacks only on 404, truncation marks, and the unknown-site list.
"""

from __future__ import annotations

import gc
import io
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import responses

from unifi_scanner.collector import check_controller, collect
from unifi_scanner.collector.sources import device_item, record_id
from unifi_scanner.document import CollectionWriter, iter_collection
from unifi_scanner.errors import ControllerProtocolError
from unifi_scanner.models import Device, Footer, Header, Record, SourceStatus, Window
from unifi_scanner.settings import Settings
from unifi_scanner.timeutil import to_ms

BASE = "https://ctrl.test:443"
NET = f"{BASE}/proxy/network"
SITE = f"{NET}/api/s/default"
V2 = f"{NET}/v2/api/site/default"
UNTIL = datetime(2026, 5, 7, 12, 0, tzinfo=UTC)
SINCE = UNTIL - timedelta(hours=24)
WINDOW = Window(since=SINCE, until=UNTIL)


NOT_FOUND = {"meta": {"rc": "error", "msg": "api.err.NotFound"}, "data": []}


def ok(rows, **meta):
    return {"meta": {"rc": "ok", **meta}, "data": rows}


class V2Log:
    """A scripted v2 system log: rows newest first, paged like the console, with optional quirks."""

    def __init__(self, times_ms, *, depth_cap=None, insert_after_first_page=()):
        self.rows = [{"id": f"v2-{i}", "timestamp": t, "key": "CLIENT_CONNECTED"}
                     for i, t in enumerate(times_ms)]
        self.depth_cap = depth_cap  # a server that refuses to page deeper than this many rows
        self.pending = list(insert_after_first_page)
        self.bodies = []

    def __call__(self, request):
        body = json.loads(request.body)
        self.bodies.append(body)
        lo, hi = body["timestampFrom"], body["timestampTo"]
        size, number = body["pageSize"], body["pageNumber"]
        matching = sorted((r for r in self.rows if lo <= r["timestamp"] <= hi), key=lambda r: -r["timestamp"])
        total = len(matching)
        start = number * size
        page = [] if self.depth_cap and start >= self.depth_cap else matching[start:start + size]
        if self.pending:
            self.rows.extend(self.pending)
            self.pending = []
        return 200, {}, json.dumps({"data": page, "page_number": number, "total_element_count": total,
                                    "total_page_count": -(-total // size)})


def console(mock, *, version="10.0.160", v2=None, v2_status=None, legacy_events=None, ips=None,
            alarms=None):
    """Register a UniFi OS console with empty state lists; pass callables or bodies for the feeds."""
    mock.get(f"{BASE}/", body="<html/>", content_type="text/html")
    mock.post(f"{BASE}/api/auth/login", json={}, headers={"Set-Cookie": "TOKEN=tok-123456; Path=/",
                                                          "X-CSRF-Token": "csrf-123456"})
    mock.post(f"{BASE}/api/auth/logout", json={})
    mock.get(f"{SITE}/stat/sysinfo", json=ok([{"version": version, "hostname": "UCG-Ultra",
                                                "sso_app_sec": "do-not-copy"}]))
    mock.get(f"{SITE}/rest/setting/ips", json=ok([{"key": "ips", "ips_mode": "ips"}]))
    mock.get(f"{SITE}/stat/device", json=ok([{"mac": "aa:00:00:00:00:01", "name": "Gateway", "state": 1,
                                               "system-stats": {"cpu": "12.5", "mem": ""}, "uptime": "3600",
                                               "temperatures": [{"name": "CPU", "value": 61.5},
                                                                {"name": "PHY", "value": "70.25"}],
                                               "last_seen": 1778150000, "upgradable": True,
                                               "upgrade_to_firmware": "4.1.13"}]))
    mock.get(f"{SITE}/stat/sta", json=ok([{"mac": "bb:00:00:00:00:01", "hostname": "laptop"}]))
    mock.get(f"{SITE}/stat/health", json=ok([{"subsystem": "wan", "status": "ok"}]))
    if v2_status is not None:
        mock.post(f"{V2}/system-log/all", status=v2_status, json={"errorCode": v2_status, "message": "x"})
    else:
        mock.add_callback(responses.POST, f"{V2}/system-log/all", callback=v2 or V2Log([]))
    mock.post(f"{V2}/traffic-flows", status=404, json={"errorCode": 404, "message": "Not Found"})
    if legacy_events is not None:
        mock.add_callback(responses.POST, f"{SITE}/stat/event", callback=legacy_events)
    else:
        mock.post(f"{SITE}/stat/event", status=404, json=NOT_FOUND)
    if ips is not None:
        mock.add_callback(responses.POST, f"{SITE}/stat/ips/event", callback=ips)
    else:
        mock.post(f"{SITE}/stat/ips/event", status=404, json=NOT_FOUND)
    mock.get(f"{SITE}/list/alarm", json=alarms if alarms is not None else
             {"meta": {"rc": "error", "msg": "api.err.InvalidObject"}, "data": []}, status=200)
    stamps = [to_ms(SINCE) - 1, to_ms(SINCE) + 3_600_000]
    mock.get(f"{SITE}/stat/anomalies",
             json=ok([{"anomaly": "USER_HIGH_TCP_LATENCY", "mac": "bb:00:00:00:00:01",
                       "timestamps": stamps}]))
    mock.post(f"{SITE}/stat/rogueap", json=ok([{"bssid": "cc:00:00:00:00:01", "ap_mac": "aa:00:00:00:00:02",
                                                "essid": "Neigh", "last_seen": to_ms(UNTIL) // 1000 - 60}]))


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def run(**overrides):
    """Collect WINDOW into memory and return the parsed items and the stats."""
    values = {"host": "ctrl.test", "port": 443, "username": "admin", "password": "pw-123456"}
    values.update(overrides)
    buffer = io.StringIO()
    stats = collect(Settings(**values), WINDOW, CollectionWriter(buffer))
    buffer.seek(0)
    return list(iter_collection(buffer)), stats


def outcomes(items):
    footer = items[-1]
    assert isinstance(footer, Footer)
    return {outcome.name: outcome for outcome in footer.sources}


def records(items, source):
    return [item for item in items if isinstance(item, Record) and item.source == source]


# ----------------------------------------------------------------------------------------- document


def test_document_order_window_edges_and_outcomes(mock):
    since_ms, until_ms = to_ms(SINCE), to_ms(UNTIL)
    console(mock, v2=V2Log([since_ms - 1, since_ms, since_ms + 5, until_ms - 1, until_ms, until_ms + 9]))
    items, stats = run()

    assert isinstance(items[0], Header)
    assert items[0].controller.version == "10.0.160" and items[0].controller.ips_mode == "ips"
    assert "do-not-copy" not in items[0].model_dump_json()
    kinds = [item.type for item in items]
    state = [i for i, kind in enumerate(kinds) if kind in ("device", "client", "health")]
    assert kinds.index("record") > max(state)
    # [since, until): the row at since is in, the row at until is out.
    times = sorted(to_ms(record.time) for record in records(items, "system_log"))
    assert times == [since_ms, since_ms + 5, until_ms - 1]
    assert all(record.kind == "system_log" for record in records(items, "system_log"))
    result = outcomes(items)
    assert result["system_log"].status == SourceStatus.OK and result["system_log"].count == 3
    assert result["legacy_events"].status == SourceStatus.UNSUPPORTED
    assert result["legacy_events"].detail == "legacy stat/event not used: v2 system log available"
    assert result["traffic_flows"].detail == "traffic-flows not available on Network 10.0.160"
    assert result["alarms"].status == SourceStatus.UNSUPPORTED
    assert [to_ms(r.time) for r in records(items, "anomalies")] == [since_ms + 3_600_000]
    assert len(records(items, "rogue_aps")) == 1
    assert items[-1].counts["system_log"] == 3
    assert stats.header == items[0] and stats.pages >= 4 and stats.requests > stats.pages


def test_v2_request_body(mock):
    log = V2Log([to_ms(SINCE) + 1])
    console(mock, v2=log)
    run()
    body = log.bodies[0]
    assert body["timestampFrom"] == to_ms(SINCE) and body["timestampTo"] == to_ms(UNTIL)
    assert body["pageSize"] == 100 and body["pageNumber"] == 0
    assert set(body["categories"]) == {"SECURITY", "UNIFI_DEVICES", "SOFTWARE_UPDATES", "VPN", "POWER",
                                       "UNIFI_ETHERNET_PORTS", "CLIENT_DEVICES", "UNKNOWN", "AUDIT",
                                       "INTERNET_AND_WAN"}


def test_device_parsing_is_defensive():
    device = device_item({"mac": "aa", "state": "4", "system-stats": {"cpu": "5.6", "mem": ""},
                          "temperatures": None, "general_temperature": 48, "uptime": "492633",
                          "last_seen": 1778150000})
    assert isinstance(device, Device)
    assert device.state == "upgrading" and device.cpu_percent == 5.6 and device.mem_percent is None
    assert device.temperature_c == 48 and device.uptime_seconds == 492633
    assert device.last_seen == datetime.fromtimestamp(1778150000, UTC)
    assert device_item({"mac": "bb", "state": 42}).state == "unknown"


def test_state_items_are_parsed(mock):
    console(mock)
    items, _ = run()
    device = next(item for item in items if isinstance(item, Device))
    assert device.temperature_c == 70.25 and device.cpu_percent == 12.5 and device.upgradable
    assert device.upgrade_to == "4.1.13" and device.state == "connected"


# ----------------------------------------------------------------------------------------- v2 walking


def test_every_row_once_when_rows_arrive_inside_the_window_while_paging(mock):
    base = to_ms(SINCE) + 1000
    old = [base + i * 1000 for i in range(450)]
    # Late-stored rows land in the middle of the window after the first page was served.
    late = [{"id": f"late-{i}", "timestamp": base + 100_500 + i, "key": "X"} for i in range(7)]
    log = V2Log(old, insert_after_first_page=late)
    console(mock, v2=log)
    items, _ = run()
    ids = [record.id for record in records(items, "system_log")]
    assert len(ids) == len(set(ids)) == 457
    assert {f"late-{i}" for i in range(7)} <= set(ids)
    assert outcomes(items)["system_log"].status == SourceStatus.OK


def test_a_depth_capped_server_is_walked_by_narrowing_the_window(mock):
    times = [to_ms(SINCE) + 10 + i * 500 for i in range(1050)]
    log = V2Log(times, depth_cap=300)
    console(mock, v2=log)
    items, _ = run()
    ids = {record.id for record in records(items, "system_log")}
    assert len(ids) == 1050
    assert outcomes(items)["system_log"].status == SourceStatus.OK
    # Later walks asked for an older slice of the window, not the whole window again.
    assert min(body["timestampTo"] for body in log.bodies) < to_ms(UNTIL)


def test_max_pages_marks_the_source_truncated(mock):
    console(mock, v2=V2Log([to_ms(SINCE) + i for i in range(350)]))
    items, _ = run(max_pages=2)
    outcome = outcomes(items)["system_log"]
    assert outcome.status == SourceStatus.TRUNCATED and outcome.count == 200
    assert "UNIFI_MAX_PAGES" in outcome.detail


def test_v2_404_falls_back_to_legacy_events(mock):
    since_ms = to_ms(SINCE)
    calls = []

    def legacy(request):
        body = json.loads(request.body)
        calls.append(body)
        rows = [{"_id": f"e{i}", "key": "EVT_WU_Connected", "time": since_ms + 10_000 - i} for i in range(5)]
        rows.append({"_id": "old", "key": "EVT_WU_Connected", "time": since_ms - 1})
        return 200, {}, json.dumps(ok(rows, count=6))

    console(mock, v2_status=404, legacy_events=legacy)
    items, _ = run()
    result = outcomes(items)
    assert result["system_log"].status == SourceStatus.UNSUPPORTED
    assert "using the legacy event list" in result["system_log"].detail
    assert [r.id for r in records(items, "legacy_events")] == ["e0", "e1", "e2", "e3", "e4"]
    assert all(r.kind == "event" for r in records(items, "legacy_events"))
    assert calls[0]["_sort"] == "-time" and calls[0]["_start"] == 0 and calls[0]["_limit"] == 3000
    assert calls[0]["within"] >= 24


def test_other_v2_errors_never_fall_back(mock):
    legacy_calls = []
    console(mock, v2_status=400, legacy_events=lambda r: legacy_calls.append(r) or (200, {}, "{}"))
    items, _ = run()
    result = outcomes(items)
    assert result["system_log"].status == SourceStatus.FAILED and "HTTP 400" in result["system_log"].detail
    assert result["legacy_events"].status == SourceStatus.UNSUPPORTED
    assert legacy_calls == []


def test_legacy_meta_count_beyond_what_the_server_gives_is_truncation(mock):
    since_ms = to_ms(SINCE)

    def legacy(request):
        start = json.loads(request.body)["_start"]
        rows = [] if start else [{"_id": f"e{i}", "time": since_ms + 100_000 - i} for i in range(2000)]
        return 200, {}, json.dumps(ok(rows, count=4818))

    console(mock, v2_status=404, legacy_events=legacy)
    items, _ = run()
    outcome = outcomes(items)["legacy_events"]
    assert outcome.status == SourceStatus.TRUNCATED and outcome.count == 2000
    assert "2000 of 4818" in outcome.detail


def test_legacy_ips_halves_a_truncated_range(mock):
    since_ms, until_ms = to_ms(SINCE), to_ms(UNTIL)
    rows = [{"_id": f"ips{i}", "time": since_ms + i * 1000, "timestamp": (since_ms + i * 1000) // 1000}
            for i in range(60)]
    ranges = []

    def ips(request):
        body = json.loads(request.body)
        ranges.append((body["start"], body["end"]))
        inside = [r for r in rows if body["start"] <= r["time"] <= body["end"]]
        return 200, {}, json.dumps(ok(inside[:50], count=len(inside)))

    console(mock, ips=ips)
    items, _ = run()
    assert ranges[0] == (since_ms, until_ms) and len(ranges) > 1
    assert sorted(r.id for r in records(items, "legacy_ips")) == sorted(r["_id"] for r in rows)
    assert outcomes(items)["legacy_ips"].status == SourceStatus.OK


def test_empty_legacy_ips_on_a_v2_controller_is_not_proof_of_nothing(mock):
    console(mock, ips=lambda request: (200, {}, json.dumps(ok([]))))
    items, _ = run()
    outcome = outcomes(items)["legacy_ips"]
    assert outcome.status == SourceStatus.EMPTY and "proves nothing" in outcome.detail


def test_alarms_are_filtered_on_the_client_and_marked_truncated_at_the_cap(mock):
    since_ms = to_ms(SINCE)
    rows = [{"_id": f"a{i}", "time": since_ms - 2999 + i, "key": "EVT_GW_WANTransition"} for i in range(3000)]
    console(mock, alarms=ok(rows))
    items, _ = run()
    outcome = outcomes(items)["alarms"]
    assert outcome.status == SourceStatus.TRUNCATED and "at most 3000" in outcome.detail
    assert [r.id for r in records(items, "alarms")] == ["a2999"]  # the only one at or after since


# ----------------------------------------------------------------------------------------- site errors


def test_unknown_site_lists_the_available_sites(mock):
    console(mock)
    mock.replace(responses.GET, f"{SITE}/stat/sysinfo", status=400,
                 json={"meta": {"rc": "error", "msg": "api.err.NoSiteContext"}, "data": []})
    mock.get(f"{NET}/api/s/branch/stat/sysinfo", status=400,
             json={"meta": {"rc": "error", "msg": "api.err.NoSiteContext"}, "data": []})
    mock.get(f"{NET}/api/self/sites", json=ok([{"name": "default", "desc": "Default"},
                                                {"name": "237o6pz4", "desc": "Branch"}]))
    with pytest.raises(ControllerProtocolError) as info:
        check_controller(Settings(host="ctrl.test", port=443, username="a", password="pw-123456",
                                  site="branch"))
    assert str(info.value) == (
        "Site 'branch' not found. Use the site name (e.g. default), not its description or id. "
        "Available: default (Default), 237o6pz4 (Branch)."
    )


def test_check_controller_logs_in_reads_sysinfo_and_logs_out(mock):
    console(mock)
    info = check_controller(Settings(host="ctrl.test", port=443, username="a", password="pw-123456"))
    assert info.version == "10.0.160" and info.name == "UCG-Ultra" and info.type == "unifi_os"
    assert mock.calls[-1].request.url == f"{BASE}/api/auth/logout"


def test_a_stale_csrf_token_is_refreshed_and_the_request_retried_once(mock):
    console(mock)
    mock.replace(responses.GET, f"{SITE}/stat/sysinfo", status=403,
                 json={"code": "INVALID_CSRF_TOKEN", "message": "Invalid CSRF Token"},
                 headers={"X-CSRF-Token": "fresh-token-9"})
    mock.add(responses.GET, f"{SITE}/stat/sysinfo", json=ok([{"version": "9.0.114"}]))
    info = check_controller(Settings(host="ctrl.test", port=443, username="a", password="pw-123456"))
    assert info.version == "9.0.114"
    sysinfo = [c for c in mock.calls if c.request.url.endswith("/stat/sysinfo")]
    assert len(sysinfo) == 2 and sysinfo[1].request.headers["X-CSRF-Token"] == "fresh-token-9"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"time": 1592386923851}, datetime(2020, 6, 17, 9, 42, 3, 851000, tzinfo=UTC)),  # ms
        ({"time": "1592386923851"}, datetime(2020, 6, 17, 9, 42, 3, 851000, tzinfo=UTC)),  # ms as a string
        ({"time": None, "timestamp": 1562646211}, datetime(2019, 7, 9, 4, 23, 31, tzinfo=UTC)),  # seconds
        ({"datetime": "2020-06-17T09:42:03Z"}, datetime(2020, 6, 17, 9, 42, 3, tzinfo=UTC)),
        ({"datetime": "2020-06-17T09:42:03"}, datetime(2020, 6, 17, 9, 42, 3, tzinfo=UTC)),  # naive = UTC
        ({"time": 1e30}, None),
        ({"time": 10**400}, None),  # an int too large for any clock
        # A bool is no time (it is an int to Python): the next key counts.
        ({"time": True, "timestamp": 1562646211}, datetime(2019, 7, 9, 4, 23, 31, tzinfo=UTC)),
        ({"time": "soon", "datetime": "yesterday"}, None),
    ],
)
def test_record_times_are_converted_at_the_edge(raw, expected):
    from unifi_scanner.collector.sources import record_time

    assert record_time(raw, "time", "timestamp") == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"_id": "6b0365df7acbb80000017e68"}, "6b0365df7acbb80000017e68"),
        ({"_id": 42}, "42"),  # some firmware numbers its rows
        ({"_id": ""}, None),
        ({"_id": True}, None),
        ({"_id": ["6b03"]}, None),
        ({"key": "EVT_AP_Lost_Contact"}, None),
    ],
)
def test_record_ids_fall_back_to_a_stable_content_digest(raw, expected):
    rid = record_id(raw, "_id")
    if expected is not None:
        assert rid == expected
    else:
        assert rid.startswith("sha256:") and len(rid) == 39
        assert record_id(dict(reversed(list(raw.items()))), "_id") == rid  # key order does not matter


def test_long_lived_objects_are_frozen_only_while_collecting(mock):
    console(mock, v2=V2Log([to_ms(SINCE) + 5]))
    settings = Settings(host="ctrl.test", port=443, username="admin", password="pw-123456")
    during = []
    collect(settings, WINDOW, CollectionWriter(io.StringIO()),
            progress=lambda name, count: during.append(gc.get_freeze_count()))
    assert during and min(during) > 0
    assert gc.get_freeze_count() == 0  # the process gets its collector back as it was
    gc.freeze()  # a caller's own freeze (a forked child's, say) outlives the run
    try:
        collect(settings, WINDOW, CollectionWriter(io.StringIO()))
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


# ----------------------------------------------------------------------------------------- sending ahead


class Watched:
    """Wraps a scripted feed: notes each request as it reaches the server, for a writer to wait on."""

    def __init__(self, feed, key):
        self.feed, self.key = feed, key
        self.seen: list[int] = []
        self.changed = threading.Condition()

    def __call__(self, request):
        with self.changed:
            self.seen.append(json.loads(request.body)[self.key])
            self.changed.notify_all()
        return self.feed(request)

    def wait_for(self, value) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: value in self.seen, timeout=10)


class PageWatchingWriter(CollectionWriter):
    """Checks, as each page of `source` is written, that the server was already asked for the next one."""

    def __init__(self, watched: Watched, source: str, next_key) -> None:
        super().__init__(io.StringIO())
        self.watched, self.source, self.next_key = watched, source, next_key
        self.waited_for: list = []
        self.last = None

    def write(self, item) -> None:
        if isinstance(item, Record) and item.source == self.source:
            wanted = self.next_key(item)
            if wanted is not None and wanted != self.last:
                self.last = wanted
                self.waited_for.append((wanted, self.watched.wait_for(wanted)))
        super().write(item)


def collect_with(writer: CollectionWriter):
    settings = Settings(host="ctrl.test", port=443, username="admin", password="pw-123456")
    return collect(settings, WINDOW, writer)


def test_the_next_v2_page_is_asked_for_before_this_one_is_written(mock):
    base = to_ms(UNTIL) - 10_000_000
    watched = Watched(V2Log([base + i for i in range(350)]), "pageNumber")
    console(mock, v2=watched)
    order = {f"v2-{i}": 349 - i for i in range(350)}  # newest first: row i of the answer is on page i // 100

    def next_page(record):
        """The page after the record's own, unless its own is the last."""
        return 1 + order[record.id] // 100 if order[record.id] < 300 else None

    writer = PageWatchingWriter(watched, "system_log", next_page)
    collect_with(writer)
    # Pages 0-2 each found the next page already requested; page 3 (the last) asked for nothing more.
    assert writer.waited_for == [(1, True), (2, True), (3, True)]
    assert watched.seen == [0, 1, 2, 3]


def test_the_next_legacy_page_is_asked_for_ahead_and_no_page_is_fetched_for_nothing(mock):
    since_ms = to_ms(SINCE)
    newest = to_ms(UNTIL) - 1000
    rows = [{"_id": f"e{i}", "key": "EVT_WU_Connected", "time": newest - i * 10_000} for i in range(7000)]

    def legacy(request):
        body = json.loads(request.body)
        page = rows[body["_start"]:body["_start"] + body["_limit"]]
        return 200, {}, json.dumps(ok(page, count=len(rows)))

    watched = Watched(legacy, "_start")
    console(mock, v2_status=404, legacy_events=watched)
    writer = PageWatchingWriter(watched, "legacy_events",
                                lambda record: (int(record.id[1:]) // 3000 + 1) * 3000
                                if int(record.id[1:]) < 6000 else None)
    stats = collect_with(writer)
    assert writer.waited_for == [(3000, True), (6000, True)]
    assert watched.seen == [0, 3000, 6000]  # the short last page ended the walk: nothing was sent ahead
    assert stats.footer.counts["event"] == len([r for r in rows if r["time"] >= since_ms])

    # A page reaching past the window's start ends the walk too, and is known before it is converted.
    watched.seen.clear()
    rows[:] = [{"_id": f"o{i}", "key": "EVT_WU_Connected", "time": since_ms + 5_000_000 - i * 1000}
               for i in range(9000)]
    collect_with(CollectionWriter(io.StringIO()))
    assert watched.seen == [0, 3000]
