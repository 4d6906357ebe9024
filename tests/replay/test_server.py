"""The replay serves the real samples with exactly the changes `samples/SOURCES.md` allows, and no others."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime

import pytest

from tests.replay.server import (
    EMPTY_ENDPOINTS,
    EVENT_FILES,
    HOUR_MS,
    NEWEST_AGE_MS,
    SPREAD_MS,
    STATE_FILES,
    LegacyReplay,
    load_sample,
)

NOW_MS = 1_767_268_800_000  # 2026-01-01T12:00:00Z: a fixed start-up, so every assertion is exact
STAMPED = ("_id", "time", "datetime", "timestamp")
OBJECT_ID = re.compile(r"[0-9a-f]{24}")


@pytest.fixture(scope="module")
def replay() -> LegacyReplay:
    """One replay built (not started) at NOW_MS with the default seed."""
    return LegacyReplay(now_ms=NOW_MS)


def _content(record: dict) -> str:
    """A record without the fields a replay re-stamps, as canonical JSON."""
    return json.dumps({key: value for key, value in record.items() if key not in STAMPED}, sort_keys=True)


def _answer(replay: LegacyReplay, method: str, path: str, body: object = None, cookie: str = "") -> tuple:
    """`replay.answer` for a JSON body (None for no body)."""
    raw = b"" if body is None else json.dumps(body).encode()
    return replay.answer(method, path, cookie, raw)


def _login(replay: LegacyReplay) -> str:
    """Log in through `answer` and return the Cookie header a client would send."""
    status, _, headers = _answer(replay, "POST", "/api/login",
                                 {"username": replay.username, "password": replay.password, "remember": True})
    assert status == 200
    return dict(headers)["Set-Cookie"].split(";")[0]


def test_every_record_is_served_as_many_times_as_sources_md_says(replay) -> None:
    """Each event, IPS and alarm record is served `copies` times, unchanged apart from the stamps."""
    assert {endpoint: len(replay.served[endpoint]) for endpoint in EVENT_FILES} == {
        "stat/event": 264, "stat/ips/event": 5, "list/alarm": 2,
    }
    for endpoint, name in EVENT_FILES.items():
        expected = Counter()
        for entry in load_sample(name):
            expected[_content(entry["record"])] += entry["copies"]
        assert Counter(_content(row) for row in replay.served[endpoint]) == expected, endpoint


def test_state_records_are_served_as_published(replay) -> None:
    """Devices, clients, health and sites are served as published; the unsampled lists are empty."""
    for endpoint, name in STATE_FILES.items():
        if endpoint != "stat/sysinfo":
            assert replay.served[endpoint] == [entry["record"] for entry in load_sample(name)], endpoint
    assert all(replay.served[endpoint] == [] for endpoint in EMPTY_ENDPOINTS)


def test_sysinfo_is_a_self_hosted_controller(replay) -> None:
    """sysinfo claims Network 8.0.24 on a self-hosted controller, and nothing else changed."""
    original = load_sample("stat_sysinfo.json")[0]["record"]
    info = replay.served["stat/sysinfo"][0]
    assert (info["version"], info["previous_version"], info["build"]) == ("8.0.24", "7.4.162",
                                                                          "atag_8.0.24_00000")
    dropped = {"console_display_version", "udm_version", "ubnt_device_type"}
    assert set(original) - set(info) == dropped
    assert {key: info[key] for key in info if key not in ("version", "previous_version", "build")} == {
        key: value for key, value in original.items()
        if key not in dropped | {"version", "previous_version", "build"}
    }


def test_copies_are_spread_over_23_hours_newest_five_minutes_old(replay) -> None:
    """Copies cover every hour of the 23 before start-up; every time field names the same moment."""
    rows = [row for endpoint in EVENT_FILES for row in replay.served[endpoint]]
    times = sorted(row["time"] for row in rows)
    assert times[-1] == NOW_MS - NEWEST_AGE_MS
    assert times[0] >= NOW_MS - SPREAD_MS
    assert len(set(times)) == len(times)
    per_hour = Counter((NOW_MS - moment) // HOUR_MS for moment in times)
    assert sorted(per_hour) == list(range(23)) and min(per_hour.values()) >= 8
    for row in rows:
        moment = datetime.fromtimestamp(row["time"] / 1000, UTC)
        assert row["datetime"] == moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        if "timestamp" in row:
            assert row["timestamp"] == row["time"] // 1000


def test_first_copy_keeps_its_id_and_later_copies_and_repeats_get_new_ones(replay) -> None:
    """Ids are unique: originals kept once, new ones ObjectId-style, missing ones still missing."""
    served = [row for endpoint in EVENT_FILES for row in replay.served[endpoint]]
    originals = [entry["record"] for name in EVENT_FILES.values() for entry in load_sample(name)]
    ids = [row["_id"] for row in served if "_id" in row]
    assert len(ids) == len(set(ids))
    original_ids = Counter(record["_id"] for record in originals if "_id" in record)
    kept = [identifier for identifier in ids if identifier in original_ids]
    # aiounifi's SWITCH_16_UPGRADED reuses the id of SWITCH_16_LOST_CONTACT: only one of them keeps it.
    assert sorted(kept) == sorted(original_ids)
    assert original_ids["5eae7fe02ab79c00f9d38960"] == 2
    assert all(OBJECT_ID.fullmatch(identifier) for identifier in ids if identifier not in original_ids)
    without = sum(entry["copies"] for name in EVENT_FILES.values() for entry in load_sample(name)
                  if "_id" not in entry["record"])
    assert without == 60 and sum("_id" not in row for row in served) == without


def test_same_seed_same_replay_other_seed_other_spread() -> None:
    """The seed alone decides the stamps."""
    assert LegacyReplay(now_ms=NOW_MS).served == LegacyReplay(now_ms=NOW_MS).served
    assert LegacyReplay(seed=18, now_ms=NOW_MS).served["stat/event"] != LegacyReplay(
        now_ms=NOW_MS).served["stat/event"]


def test_answers_like_a_self_hosted_controller(replay) -> None:
    """Detection, login, session and site errors answer as the self-hosted application does."""
    status, _, headers = _answer(replay, "GET", "/")
    assert (status, headers) == (302, [("Location", "/manage")])
    assert _answer(replay, "POST", "/api/auth/login", {})[0] == 404
    assert _answer(replay, "POST", "/v2/api/site/default/system-log/all", {})[0] == 404
    wrong = _answer(replay, "POST", "/api/login", {"username": replay.username, "password": "nope"})
    assert wrong[:2] == (400, {"meta": {"rc": "error", "msg": "api.err.Invalid"}, "data": []})
    assert _answer(replay, "GET", "/api/s/default/stat/device")[1]["meta"]["msg"] == "api.err.LoginRequired"
    cookie = _login(replay)
    assert _answer(replay, "GET", "/api/s/elsewhere/stat/device", cookie=cookie)[1]["meta"]["msg"] == (
        "api.err.NoSiteContext")
    assert _answer(replay, "GET", "/api/s/default/stat/device", cookie=cookie)[1]["data"] == (
        replay.served["stat/device"])
    assert _answer(replay, "GET", "/api/s/default/stat/nothing", cookie=cookie)[0] == 404


def test_event_list_pages_newest_first_with_its_count() -> None:
    """`stat/event` pages newest first with `meta.count`; `stat/ips/event` filters on start/end."""
    replay = LegacyReplay()  # stamped now: stat/event filters `within` on the wall clock
    cookie = _login(replay)
    pages = [_answer(replay, "POST", "/api/s/default/stat/event",
                     {"_sort": "-time", "within": 24, "_start": start, "_limit": 100}, cookie)[1]
             for start in (0, 100, 200)]
    assert [page["meta"]["count"] for page in pages] == [264] * 3
    rows = [row for page in pages for row in page["data"]]
    assert rows == sorted(replay.served["stat/event"], key=lambda row: -row["time"])
    ips = _answer(replay, "POST", "/api/s/default/stat/ips/event",
                  {"start": replay.started_ms - 2 * HOUR_MS, "end": replay.started_ms}, cookie)[1]
    assert ips["meta"]["count"] == len(ips["data"]) == sum(
        row["time"] >= replay.started_ms - 2 * HOUR_MS for row in replay.served["stat/ips/event"])
