"""Report files: names, modes, atomic writes seen by a concurrent reader, and retention."""

from __future__ import annotations

import os
import stat
import threading
import time

from tests.delivery.factories import make_rendered, make_report, make_settings
from unifi_scanner.delivery import deliver
from unifi_scanner.delivery.files import (
    REPORT_NAME,
    apply_retention,
    report_filename,
    safe_site,
    write_reports,
)

DAY = 86400


def test_file_names_are_safe_for_hostile_site_names():
    assert safe_site("Büro") == "Buro"
    assert safe_site("../../etc/passwd\r\nX") == "etc_passwd_X"
    assert safe_site("...") == "site"
    assert len(safe_site("a" * 300)) == 64
    name = report_filename(make_report(site="../Zürich HQ\n"), "text")
    assert name == "unifi-report-Zurich_HQ-20261122T060000Z.txt"
    assert REPORT_NAME.match(name)


def test_file_channel_writes_each_format_0640_in_a_new_0750_dir(tmp_path):
    reports = tmp_path / "deep" / "reports"
    report = make_report(site="HQ")
    rendered = make_rendered(report)
    outcome = deliver(report, rendered, make_settings(reports, file_format="both"))
    (result,) = outcome.results
    assert result.ok and result.channel == "file"
    # The JSON report is always kept too: `send DIR` re-sends it (issue 16).
    # Beside them, the archive page, its manifest and the lock that guards them (archive.py).
    assert sorted(os.listdir(reports)) == [
        ".archive.lock",
        "archive.json",
        "index.html",
        "unifi-report-HQ-20261122T060000Z.html",
        "unifi-report-HQ-20261122T060000Z.json",
        "unifi-report-HQ-20261122T060000Z.txt",
    ]
    assert sorted(result.paths) == sorted(str(path) for path in reports.glob("unifi-report-*"))
    assert stat.S_IMODE(reports.stat().st_mode) & 0o027 == 0
    for path in reports.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert (reports / "unifi-report-HQ-20261122T060000Z.html").read_text() == rendered.html


def test_json_format(tmp_path):
    report = make_report()
    outcome = deliver(report, make_rendered(report), make_settings(tmp_path, file_format="json"))
    (path,) = outcome.results[0].paths
    assert path.endswith(".json") and open(path).read() == report.model_dump_json()


def test_unwritable_directory_fails_the_channel(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    report = make_report()
    outcome = deliver(report, make_rendered(report), make_settings(blocker / "reports"))
    (result,) = outcome.results
    assert not result.ok and "cannot write" in result.detail and not outcome.ok


def test_concurrent_reader_never_sees_a_partial_file(tmp_path):
    report = make_report()
    versions = [make_rendered(report, html=letter * 400_000) for letter in "AB"]
    complete = {version.html for version in versions}
    done = threading.Event()

    def writer() -> None:
        try:
            for number in range(60):
                write_reports(report, versions[number % 2], tmp_path, ("html",))
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    reads = 0
    for _ in range(1_000_000):  # bounded: the writer finishes long before this
        for name in os.listdir(tmp_path):
            if REPORT_NAME.match(name):
                try:
                    content = (tmp_path / name).read_text()
                except FileNotFoundError:
                    continue
                whole = content in complete
                assert whole, f"partial file seen: {len(content)} bytes"
                reads += 1
        if done.is_set():
            break
    thread.join()
    assert reads > 0
    assert [name for name in os.listdir(tmp_path)] == [report_filename(report, "html")]


def test_retention_deletes_only_old_own_files(tmp_path):
    now = time.time()
    old = now - 40 * DAY
    own_old = [
        "unifi-report-HQ-20200101T000000Z.html",
        "unifi-report-default-20200101T000000Z.json",
        "unifi-report-default-20200101T000000Z.txt",
    ]
    kept_old = [
        "notes.txt",
        "unifi-report-HQ.html",
        "unifi-report-HQ-20200101T000000Z.pdf",
        ".unifi-report-HQ-20200101T000000Z.html.abc123.tmp",
        "unifi-report-HQ-20200101T000000Z.html.bak",
    ]
    own_recent = "unifi-report-HQ-20261101T000000Z.html"
    for name in own_old + kept_old + [own_recent]:
        (tmp_path / name).write_text(name)
    for name in own_old + kept_old:
        os.utime(tmp_path / name, (old, old))
    os.utime(tmp_path / own_recent, (now - 5 * DAY, now - 5 * DAY))
    (tmp_path / "unifi-report-dir-20200101T000000Z.html").mkdir()
    report = make_report()
    outcome = deliver(report, make_rendered(report), make_settings(tmp_path, file_retention_days=30))
    (result,) = outcome.results
    assert result.ok and "deleted 3 report file(s) older than 30 days" in result.detail
    remaining = set(os.listdir(tmp_path))
    assert remaining.isdisjoint(own_old)
    assert set(kept_old) | {own_recent, "unifi-report-dir-20200101T000000Z.html"} <= remaining
    assert {os.path.basename(path) for path in result.paths} <= remaining


def test_retention_never_deletes_the_report_just_written(tmp_path):
    report = make_report()
    written = write_reports(report, make_rendered(report), tmp_path, ("html", "text"))
    deleted = apply_retention(tmp_path, 1, written, now=time.time() + 10 * DAY)
    assert deleted == [] and all(path.exists() for path in written)
    assert apply_retention(tmp_path, 1, [], now=time.time() + 10 * DAY) != []


def test_retention_zero_keeps_everything(tmp_path):
    path = tmp_path / "unifi-report-HQ-20000101T000000Z.html"
    path.write_text("x")
    os.utime(path, (0, 0))
    report = make_report()
    outcome = deliver(report, make_rendered(report), make_settings(tmp_path, file_retention_days=0))
    assert outcome.ok and path.exists()
