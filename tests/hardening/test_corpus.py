"""The hostile-controller corpus: broken and malicious answers, each through the real CLI over TLS.

Each case ends in one clear line and a documented exit code (never a traceback), and a `run` that
meets it never moves the checkpoint past events it did not deliver. tests/hardening/README.md has the
table of cases and what unifi-scanner does with each.
"""

from __future__ import annotations

import gzip
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.hardening.hostile import (
    LOCATION_SECRET,
    PORTAL,
    SYSTEM_LOG,
    Switch,
    answer,
    assert_fails_cleanly,
    checkpoint,
    env_for,
    error_line,
    hex_id,
    now_ms,
    raw,
    receiver,
    redirect,
    v2_pages,
    v2_row,
)
from unifi_scanner.document import iter_collection
from unifi_scanner.fake import Behaviours, FakeController, Response
from unifi_scanner.models import Footer, Record

MB = 1024 * 1024
NO_SITE = json.dumps({"meta": {"rc": "error", "msg": "api.err.NoSiteContext"}, "data": []}).encode()


def collected(path: Path) -> tuple[list[Record], Footer]:
    """The records and the footer of a collection document (framing checked by iter_collection)."""
    items = list(iter_collection(io.StringIO(path.read_text(encoding="utf-8"))))
    assert isinstance(items[-1], Footer)
    return [item for item in items if isinstance(item, Record)], items[-1]


def outcome(footer: Footer, name: str):
    """One source's outcome from the footer."""
    return next(source for source in footer.sources if source.name == name)


def collect_and_run(cli, tmp: Path, hooks, **env: str):
    """`collect` the last hour into tmp/collection.jsonl, then `run`, against a fake with `hooks`.

    Returns both results; reports are JSON unless `env` says otherwise.
    """
    with FakeController(events=50, behaviours=Behaviours(hooks=hooks)) as fc:
        settings = env_for(fc, tmp, **{"UNIFI_FILE_FORMAT": "json", **env})
        collect = cli("collect", "--since", "1h", "-o", str(tmp / "collection.jsonl"), env=settings)
        run = cli("run", env=settings)
    assert collect.returncode == 0 and "Traceback" not in collect.stderr, collect.stderr
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    return collect, run


def json_report(tmp: Path) -> dict:
    """The JSON report the file channel wrote."""
    return json.loads(next((tmp / "reports").glob("unifi-report-*.json")).read_text(encoding="utf-8"))


def gzip_bomb(size: int) -> Response:
    """A small gzip answer that inflates to `size` bytes: the size limit must count decoded bytes."""
    body = gzip.compress(b'{"data": [' + b" " * size + b"]}", compresslevel=9)
    return Response(200, body, headers=[("Content-Encoding", "gzip")])


# ------------------------------------------------------------------ answers that end the run (exit 3)

FATAL = {
    # case id: (behaviours, phrase expected in the error line)
    "portal-everywhere": (Behaviours(html_instead_of_json=True), "did not answer like a UniFi controller"),
    "html-on-login": (Behaviours(hooks=[answer("/api/auth/login", Response.html(200, PORTAL))]),
                      "proxy login page"),
    "truncated-json-on-login": (Behaviours(hooks=[answer("/api/auth/login", raw(200, b'{"unique_id": "ab'))]),
                                "malformed JSON"),
    "redirect-on-login": (Behaviours(hooks=[answer("/api/auth/login", redirect("https://portal.example"))]),
                          "redirect (HTTP 302) to https://portal.example"),
    # requests reads a redirect's body to prepare Response.next even when not following it: this one's
    # never ends (and a huge one would be read whole, past the 32 MiB cap).
    "endless-redirect-on-login": (
        Behaviours(hooks=[answer("/api/auth/login", Response(
            302, b" " * MB, "text/html", redirect("https://portal.example").headers, trickle=0.05))]),
        "redirect (HTTP 302) to https://portal.example"),
    "50mb-on-login": (Behaviours(hooks=[answer("/api/auth/login", raw(200, b" " * (50 * MB)))]),
                      "larger than 32 MiB"),
    "no-site-context": (Behaviours(hooks=[answer("/api/s/", raw(200, NO_SITE))]), "Site 'default' not found"),
    "empty-body-on-sysinfo": (Behaviours(hooks=[answer("stat/sysinfo", raw(200, b""))]), "empty body"),
    "non-json-bytes-on-sysinfo": (
        Behaviours(hooks=[answer("stat/sysinfo", raw(200, b"\xff\xfe\x00garbage"))]), "malformed JSON"),
}


@pytest.mark.parametrize("case", list(FATAL))
def test_controller_trouble_ends_the_run_with_exit_3(cli, tmp_path, case):
    behaviours, phrase = FATAL[case]
    assert_fails_cleanly(cli, tmp_path, behaviours, phrase)


# ------------------------------------------------------- a broken event log: recorded, run refuses (exit 3)

FEED_FAILURES = {
    "html-on-the-event-log": (Response.html(200, PORTAL), "did not answer like a UniFi controller"),
    "truncated-json": (raw(200, b'{"data": [{"id": "6b03", "timestamp": 17'), "malformed JSON"),
    "empty-body": (raw(200, b""), "empty body"),
    "data-not-a-list": (Response.json(200, {"data": {"rows": []}, "total_element_count": 0}),
                        "no record list (its data is an object)"),
    "data-null": (Response.json(200, {"data": None}), "no record list (its data is null)"),
    "redirect-to-another-host": (redirect("https://collector.example:8443"),
                                 "redirect (HTTP 302) to https://collector.example:8443"),
    "50mb-answer": (raw(200, b'{"data": [' + b" " * (50 * MB) + b"]}"), "larger than 32 MiB"),
    "50mb-gzip-bomb": (gzip_bomb(50 * MB), "larger than 32 MiB"),
    "deeply-nested-json": (raw(200, b"[" * 100_000 + b"]" * 100_000), "nested too deeply"),
    "api-error-envelope": (Response.json(200, {"meta": {"rc": "error", "msg": "api.err.NoSiteContext"}}),
                           "api.err.NoSiteContext"),
}


@pytest.mark.parametrize("case", list(FEED_FAILURES))
def test_a_broken_event_log_is_recorded_and_the_run_keeps_its_checkpoint(cli, tmp_path, case):
    response, phrase = FEED_FAILURES[case]
    switch = Switch(on=False)
    out = tmp_path / "collection.jsonl"
    with FakeController(events=200, behaviours=Behaviours(hooks=[answer(SYSTEM_LOG, response, switch=switch)])
                        ) as fc:
        env = env_for(fc, tmp_path)
        good = cli("run", env=env)
        assert good.returncode == 0, good.stderr
        before = checkpoint(tmp_path)
        switch.on = True
        collect = cli("collect", "--since", "1h", "-o", str(out), env=env)
        run = cli("run", env=env)

    # `collect` writes what it could and names the failed source in the footer.
    assert collect.returncode == 0, collect.stderr
    assert "Traceback" not in collect.stderr
    _, footer = collected(out)
    log = outcome(footer, "system_log")
    assert log.status == "failed" and phrase in (log.detail or "")
    assert LOCATION_SECRET not in (log.detail or "") + collect.stderr
    # `run` refuses to deliver a window whose event log it could not read.
    assert run.returncode == 3
    assert "event log could not be read" in error_line(run) and phrase in error_line(run)
    assert before is not None and before["last_successful_run"] is not None
    assert checkpoint(tmp_path) == before, "the checkpoint moved past events nobody saw"


# ------------------------------------------------------------- odd records inside a good page: tolerated


def test_wrong_types_in_every_field_are_skipped_or_coerced_and_counted(cli, tmp_path):
    stamp = now_ms(10)
    good = [v2_row(hex_id(n), stamp - n) for n in range(1, 4)]
    odd = [
        v2_row(12345, str(stamp)),  # a numeric id and a string timestamp: coerced
        v2_row(hex_id(5), stamp, parameters="not a dict", key=5, category=[], severity={}, title_raw=7,
               message_raw=None, event=None, subcategory=3.5),
        v2_row(hex_id(6), stamp, parameters={"ADMIN": "a string", "DEVICE": [1, 2], "SRC_CLIENT": None}),
        {key: None for key in v2_row("x", 0)},  # null everywhere: no time, skipped
        v2_row(["a", "list"], "yesterday"),  # no usable time: skipped
        v2_row(hex_id(9), {"nested": True}),  # a timestamp object: skipped
        "a string where a record belongs", 42, None, [1, 2, 3],  # not records: skipped
    ]
    devices = [
        {"mac": "f4:92:bf:00:00:01", "name": 5, "model": ["UDM"], "state": "1", "uptime": "ages",
         "last_seen": "never", "temperatures": "hot", "system-stats": [], "num_sta": None, "type": {}},
        {"mac": None, "name": None, "state": None, "adopted": "yes", "upgradable": "true",
         "last_seen": 10**30},
        "not a device",
    ]
    hooks = [
        answer(SYSTEM_LOG, v2_pages([good + odd], total="9")),  # the count as a string, too
        answer("stat/device", Response.json(200, {"meta": {"rc": "ok"}, "data": devices})),
        answer("stat/sta", Response.json(200, {"meta": {"rc": "ok"}, "data": [
            {"mac": 7, "name": {"x": 1}, "ip": 10, "is_wired": "no", "hostname": []}, None]})),
        answer("stat/health", Response.json(200, {"meta": {"rc": "ok"}, "data": [
            {"subsystem": ["wan"], "status": None}, {"subsystem": "www", "status": 1}]})),
    ]
    collect_and_run(cli, tmp_path, hooks)
    records, footer = collected(tmp_path / "collection.jsonl")
    ids = {record.id for record in records if record.source == "system_log"}
    assert ids == {hex_id(1), hex_id(2), hex_id(3), "12345", hex_id(5), hex_id(6)}
    assert outcome(footer, "system_log").detail == "7 malformed records skipped"
    assert "1 malformed records skipped" in (outcome(footer, "devices").detail or "")
    assert "1 malformed records skipped" in (outcome(footer, "clients").detail or "")
    assert outcome(footer, "health").count == 2

    details = {source["name"]: source.get("detail") for source in json_report(tmp_path)["sources"]}
    assert details["system_log"] == "7 malformed records skipped"
    text = cli("report", "-i", str(tmp_path / "collection.jsonl"), "-f", "text").stdout
    assert "7 malformed record(s) in the v2 system log could not be read and were left out" in text
    assert checkpoint(tmp_path)["last_successful_run"] is not None


def test_timestamps_in_the_wrong_unit_far_future_and_negative(cli, tmp_path):
    base = now_ms(20)
    rows = [
        v2_row(hex_id(1), base // 1000),  # seconds where ms are expected
        v2_row(hex_id(2), float(base)),  # ms as a float
        v2_row(hex_id(3), str(base)),  # ms as a string
        v2_row(hex_id(4), 4_102_444_800_000),  # the year 2100: outside the window, not reported
        v2_row(hex_id(5), -86_400_000),  # 1969: outside the window
        v2_row(hex_id(6), 10**22),  # beyond any calendar: no usable time
        v2_row(hex_id(7), -(10**22)),
    ]
    threat = {"_id": hex_id(8), "time": base // 1000, "timestamp": base, "key": "EVT_IPS_IpsAlert",
              "inner_alert_signature": "ET SCAN test", "inner_alert_action": "blocked"}  # units swapped
    hooks = [answer(SYSTEM_LOG, v2_pages([rows])),
             answer("stat/ips/event", Response.json(200, {"meta": {"rc": "ok"}, "data": [threat]}))]
    out = tmp_path / "collection.jsonl"
    with FakeController(profile="unifi_os_9", events=50, behaviours=Behaviours(hooks=hooks)) as fc:
        collect = cli("collect", "--since", "1h", "-o", str(out), env=env_for(fc, tmp_path))
    assert collect.returncode == 0 and "Traceback" not in collect.stderr, collect.stderr
    records, footer = collected(out)
    times = {record.id: int(record.time.timestamp() * 1000) for record in records}
    assert times[hex_id(1)] == base // 1000 * 1000
    assert times[hex_id(2)] == times[hex_id(3)] == base
    assert times[hex_id(8)] // 1000 == base // 1000
    assert not {hex_id(4), hex_id(5), hex_id(6), hex_id(7)} & set(times)
    assert outcome(footer, "system_log").detail == "2 malformed records skipped"


def test_ids_duplicated_across_pages_are_reported_once(cli, tmp_path):
    stamp = now_ms(5)
    first = [v2_row(hex_id(n), stamp - n) for n in range(1, 4)]
    # Page 2 repeats two ids of page 1 (one with different content: the first copy wins).
    second = [v2_row(hex_id(2), stamp - 2), v2_row(hex_id(3), stamp - 30, key="OTHER"),
              v2_row(hex_id(4), stamp - 4)]
    collect_and_run(cli, tmp_path, [answer(SYSTEM_LOG, v2_pages([first, second], total=4))])
    records, _ = collected(tmp_path / "collection.jsonl")
    ids = [record.id for record in records if record.source == "system_log"]
    assert sorted(ids) == [hex_id(n) for n in range(1, 5)]
    assert next(r for r in records if r.id == hex_id(3)).raw["key"] == "ADMIN_ACCESS"
    assert next(s for s in json_report(tmp_path)["sources"] if s["name"] == "system_log")["count"] == 4


def test_non_utf8_bytes_and_lone_surrogates_are_replaced_not_fatal(cli, tmp_path):
    stamp = now_ms(5)
    page = json.dumps({"data": [v2_row(hex_id(1), stamp, message_raw="BAD"),
                                v2_row(hex_id(2), stamp, title_raw="\ud800 lone surrogate")],
                       "total_element_count": 2, "total_page_count": 1}).encode()
    page = page.replace(b"BAD", b"caf\xe9 \xff\xfe latin-1")
    collect_and_run(cli, tmp_path, [answer(SYSTEM_LOG, raw(200, page))], UNIFI_FILE_FORMAT="both")
    records, _ = collected(tmp_path / "collection.jsonl")
    assert {record.id for record in records if record.source == "system_log"} == {hex_id(1), hex_id(2)}
    html = next((tmp_path / "reports").glob("unifi-report-*.html")).read_bytes()
    html.decode("utf-8")  # the report is valid UTF-8 whatever the controller sent


def test_broken_best_effort_sources_are_reported_and_the_run_still_delivers(cli, tmp_path):
    hooks = [answer("stat/device", Response.html(200, PORTAL)),
             answer("traffic-flows", redirect("https://flows.example")),
             answer("stat/anomalies", raw(200, b'{"data": [{"anomaly": "x", "timestamps": [17'))]
    with FakeController(events=200, behaviours=Behaviours(hooks=hooks)) as fc:
        env = env_for(fc, tmp_path, UNIFI_FILE_FORMAT="json")
        run = cli("run", env=env)
        expected_ids = fc.event_ids(fc.now - timedelta(hours=24), fc.now)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    sources = {source["name"]: source for source in json_report(tmp_path)["sources"]}
    assert sources["devices"]["status"] == "failed" and "proxy login page" in sources["devices"]["detail"]
    assert sources["traffic_flows"]["status"] == "failed"
    assert "https://flows.example" in sources["traffic_flows"]["detail"]
    assert sources["anomalies"]["status"] == "failed" and "malformed JSON" in sources["anomalies"]["detail"]
    assert sources["system_log"]["status"] == "ok" and sources["system_log"]["count"] == len(expected_ids)
    assert checkpoint(tmp_path)["last_successful_run"] is not None


@pytest.mark.parametrize("status", [302, 307, 308])
@pytest.mark.parametrize(("auth", "path"), [("password", "/api/auth/login"), ("password", SYSTEM_LOG),
                                            ("api_key", SYSTEM_LOG)])
def test_no_request_ever_follows_a_redirect_to_another_host(cli, tmp_path, status, auth, path):
    with receiver("127.0.0.2") as (elsewhere, url):
        hook = answer(path, Response(status, b"", "text/html", [("Location", f"{url}/steal")]))
        with FakeController(events=50, behaviours=Behaviours(hooks=[hook])) as fc:
            env = env_for(fc, tmp_path)
            if auth == "api_key":
                env.update({"UNIFI_API_KEY": fc.api_key, "UNIFI_PASSWORD": ""})
            result = cli("run", env=env)
        reached = list(elsewhere)
    assert result.returncode == 3
    assert f"redirect (HTTP {status}) to {url}" in error_line(result)
    assert reached == [], "a request (with the session cookie, CSRF token or API key) went off-host"
    assert (checkpoint(tmp_path) or {}).get("last_successful_run") is None
