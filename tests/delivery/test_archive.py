"""The report archive: the manifest, the page, the reports directory's copy, and real runs that keep it."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.delivery.archive_factories import HOSTILE_SITE, local_files, many_entries, report_at
from tests.delivery.factories import make_rendered, make_settings
from tests.pipeline.e2e import run_env
from unifi_scanner.delivery import archive, deliver
from unifi_scanner.delivery.archive import (
    ArchiveEntry,
    dump_manifest,
    entry_for,
    load_manifest,
    render_index,
    update_local_archive,
    update_manifest,
)
from unifi_scanner.delivery.files import report_stem, save_fallback, write_reports
from unifi_scanner.fake import FakeController
from unifi_scanner.models import Changes
from unifi_scanner.renderer.view import NAME_MAX

DAY = 86400


class Page(HTMLParser):
    """What a browser would build from the page: its tags, each row's site text, and every href."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.rows: list[str] = []
        self.sites: list[str] = []
        self.hrefs: list[str] = []
        self._in_site = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if tag == "tr" and values.get("id"):
            self.rows.append(values["id"])
        if tag == "a":
            self.hrefs.append(values["href"])
        if tag == "span" and values.get("class") == "site":
            self._in_site = True
            self.sites.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_site = self._in_site and tag != "span"

    def handle_data(self, data: str) -> None:
        if self._in_site:
            self.sites[-1] += data


def page_of(entries: list[ArchiveEntry], **options: str) -> tuple[str, Page]:
    """The rendered page of `entries` and its parse."""
    html = render_index(entries, title=options.get("title", "UniFi reports"),
                        timezone=options.get("timezone", "Europe/Berlin"))
    return html, Page(html)


# --------------------------------------------------------------------------- manifest


def test_manifest_round_trip() -> None:
    entries = many_entries(12)
    data = dump_manifest(entries)
    assert json.loads(data)["schema_version"] == 1
    assert load_manifest(data) == entries


def test_a_report_sent_again_replaces_its_entry_and_entries_come_newest_first() -> None:
    first, second = report_at(0), report_at(1, "HQ")
    entries = [entry_for(first, local_files(first)), entry_for(second, local_files(second))]
    again = entry_for(first.model_copy(update={"changes": Changes(new=3)}), local_files(first, ("html",)))
    updated = update_manifest(entries, again, kept=lambda entry: True)
    assert [entry.stem for entry in updated] == [report_stem(second), report_stem(first)]
    assert updated[1] == again and updated[1].new == 3 and list(updated[1].files) == ["html"]


def test_entries_whose_files_are_gone_are_dropped_but_not_the_new_one() -> None:
    entries = many_entries(6)
    gone = {entries[1].stem, entries[4].stem}
    newest = report_at(100)
    new = entry_for(newest, local_files(newest))
    updated = update_manifest(entries, new, kept=lambda entry: entry.stem not in gone | {new.stem})
    assert [entry.stem for entry in updated] == [new.stem] + [
        entry.stem for entry in reversed(entries) if entry.stem not in gone]


def test_the_manifest_is_bounded() -> None:
    entries = many_entries(3) * 2  # a repeated stem is kept once
    assert len(update_manifest(entries, None, kept=lambda entry: True)) == 3
    many = [entry.model_copy(update={"stem": f"unifi-report-s{number}-20261122T060000Z"})
            for number in range(archive.MANIFEST_MAX + 5) for entry in entries[:1]]
    assert len(update_manifest(many, None, kept=lambda entry: True)) == archive.MANIFEST_MAX
    assert len(load_manifest(dump_manifest(many))) == archive.MANIFEST_MAX


@pytest.mark.parametrize("data", [None, b"", b"\xff\xfe garbage", b"[1, 2]", b'{"reports": 3}', b"null"])
def test_no_manifest_or_garbage_loads_as_empty(data: bytes | None) -> None:
    assert load_manifest(data) == []


@pytest.mark.parametrize("path", [
    "javascript:alert(1)", "/etc/passwd", "../unifi-report-x-20261122T060000Z.html", "notes.txt",
    "https://evil.example/unifi-report-x-20261122T060000Z.html",
    'unifi-report-x-20261122T060000Z.html"><script>',
])
def test_an_entry_with_a_path_that_could_leave_the_archive_is_left_out(path: str) -> None:
    good = many_entries(2)
    document = json.loads(dump_manifest(good))
    document["reports"].insert(1, {**document["reports"][0], "stem": "unifi-report-bad-20261122T060000Z",
                                   "files": {"html": path}})
    assert load_manifest(json.dumps(document).encode()) == good


def test_an_upload_targets_paths_are_relative_paths_with_folders() -> None:
    report = report_at(0)
    name = local_files(report)["html"]
    entry = entry_for(report, {"html": f"default/2026/11/{name}"})
    assert load_manifest(dump_manifest([entry])) == [entry]
    _, page = page_of([entry])
    assert f"default/2026/11/{name}" in page.hrefs


# --------------------------------------------------------------------------- the page


def test_the_page_lists_reports_newest_first_with_counts_changes_and_relative_links() -> None:
    old, new = report_at(0, severe=2, medium=0, low=5), report_at(1, "HQ", changes=Changes(new=2, resolved=1))
    entries = [entry_for(old, local_files(old)), entry_for(new, local_files(new, ("html", "json")))]
    html, page = page_of(entries)
    assert page.rows == [report_stem(new), report_stem(old)]
    assert page.sites == ["HQ", "default"]
    stem = report_stem(new)
    assert page.hrefs[:3] == [f"{stem}.html", f"{stem}.html", f"{stem}.json"]
    assert all(":" not in href and not href.startswith(("/", ".")) for href in page.hrefs)
    # Times in the display timezone; counts in the reports' colours; what changed when known.
    assert "Nov 22, 2026 08:00" in html and "Nov 22, 2026 07:00" in html and "Times in Europe/Berlin" in html
    assert 'style="background-color: #c5221f;">2</span>' in html and ">5</span>" in html
    assert "2 new, 1 resolved" in html
    assert "Findings per report" in html and "2 reports, Nov 22, 2026, newest first" in html


def test_the_page_needs_nothing_from_outside_and_runs_no_script() -> None:
    html, page = page_of(many_entries(40))
    assert "script" not in page.tags and "<script" not in html.lower()
    assert set(page.tags) <= {"html", "head", "meta", "title", "style", "body", "div", "h1", "h2", "p",
                              "table", "thead", "tbody", "tr", "th", "td", "span", "a", "br"}
    assert "http://" not in html and "https://" not in html and "src=" not in html and "@import" not in html
    assert "default-src 'none'" in html  # and a browser would refuse any script anyway


def test_a_hostile_site_name_is_escaped_and_bounded_and_cannot_break_out() -> None:
    entries = many_entries(8)
    html, page = page_of(entries)
    assert "script" not in page.tags
    assert len(page.rows) == 8 and page.tags.count("table") == 2 + 1 + sum(
        1 for entry in entries[-archive.CHART_REPORTS:] if entry.counts.total)  # chart, axis, rows, bars
    hostile = [site for site in page.sites if "alert(1)" in site]
    assert hostile and all(len(site) <= NAME_MAX and not {"\r", "\n"} & set(site) for site in hostile)
    assert hostile[0].startswith("</table><script>alert(1)</script>\"quoted\" 'single' Bcc:")
    assert "&lt;/table&gt;&lt;script&gt;" in html


def test_a_tampered_entry_is_cleaned_when_shown_and_its_links_stay_relative() -> None:
    entry = many_entries(1)[0]
    tampered = ArchiveEntry.model_construct(**{
        **dict(entry), "site": HOSTILE_SITE, "files": {"html": 'javascript:alert(1)"><script>x</script>'}})
    html, page = page_of([tampered], title="<b>Reports</b>\r\nX")
    assert "script" not in page.tags and "b" not in page.tags
    (site,) = page.sites
    assert len(site) <= NAME_MAX and site.startswith("</table><script>")
    assert page.hrefs == ["javascript%3Aalert%281%29%22%3E%3Cscript%3Ex%3C/script%3E"] * 2
    assert "<title>&lt;b&gt;Reports&lt;/b&gt; X</title>" in html


def test_the_page_and_its_chart_are_bounded() -> None:
    entries = [entry.model_copy(update={"stem": f"unifi-report-s{number}-20261122T060000Z"})
               for number, entry in enumerate(many_entries(4) * 150)]
    html, page = page_of(entries)
    assert len(page.rows) == archive.ROWS_MAX
    assert f"… and {600 - archive.ROWS_MAX} older reports" in html
    assert f"the latest {archive.CHART_REPORTS}." in html


def test_an_empty_archive_says_so() -> None:
    html, page = page_of([])
    assert page.rows == [] and "No reports yet" in html and "Findings per report" not in html


# --------------------------------------------------------------------------- the reports directory


def archived(directory: Path) -> list[ArchiveEntry]:
    """The entries of `directory`'s manifest."""
    return load_manifest((directory / "archive.json").read_bytes())


def test_the_file_channel_keeps_the_archive_atomically_and_privately(tmp_path: Path) -> None:
    stems = []
    for hour in range(3):
        report = report_at(hour)
        stems.append(report_stem(report))
        settings = make_settings(tmp_path, file_format="html")
        (result,) = deliver(report, make_rendered(report), settings).results
        assert result.ok and "archive page not updated" not in result.detail
    assert [entry.stem for entry in archived(tmp_path)] == stems[::-1]
    assert archived(tmp_path)[0].files == {"html": f"{stems[-1]}.html", "json": f"{stems[-1]}.json"}
    assert Page((tmp_path / "index.html").read_text()).rows == stems[::-1]
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    for name in ("index.html", "archive.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640


def test_a_missing_or_damaged_manifest_is_rebuilt_from_the_json_reports(tmp_path: Path) -> None:
    reports = [report_at(hour, site) for hour, site in enumerate(("default", "HQ", "default"))]
    for report in reports:
        write_reports(report, make_rendered(report), tmp_path, ("html", "json"))
    write_reports(reports[0], make_rendered(reports[0]), tmp_path, ("text",))
    (tmp_path / "unifi-report-broken-20261122T050000Z.json").write_text("{not json")
    settings = make_settings(tmp_path)
    update_local_archive(tmp_path, None, [], settings)
    rebuilt = archived(tmp_path)
    assert [entry.stem for entry in rebuilt] == [report_stem(report) for report in reversed(reports)]
    assert set(rebuilt[-1].files) == {"html", "text", "json"}
    assert rebuilt[1].site == "HQ" and rebuilt[1].counts == reports[1].counts

    (tmp_path / "archive.json").write_bytes(b"\x00garbage")
    newest = report_at(5)
    written = write_reports(newest, make_rendered(newest), tmp_path, ("html", "json"))
    update_local_archive(tmp_path, newest, written, settings)
    assert [entry.stem for entry in archived(tmp_path)] == [report_stem(newest)] + [
        entry.stem for entry in rebuilt]


def test_an_entry_leaves_with_its_files_and_links_only_to_what_is_left(tmp_path: Path) -> None:
    reports = [report_at(hour) for hour in range(3)]
    settings = make_settings(tmp_path)
    for report in reports:
        update_local_archive(tmp_path, report, write_reports(report, make_rendered(report), tmp_path,
                                                             ("html", "json")), settings)
    first, second = (report_stem(report) for report in reports[:2])
    for ext in ("html", "json"):
        (tmp_path / f"{first}.{ext}").unlink()
    (tmp_path / f"{second}.html").unlink()
    update_local_archive(tmp_path, None, [], settings)
    entries = archived(tmp_path)
    assert [entry.stem for entry in entries] == [report_stem(reports[2]), second]
    assert entries[1].files == {"json": f"{second}.json"}
    assert f'href="{second}.html"' not in (tmp_path / "index.html").read_text()


def test_shards_updating_one_directory_at_once_lose_no_entry(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    errors = []

    def shard(site: str) -> None:
        try:
            for hour in range(10):
                report = report_at(hour, site)
                update_local_archive(tmp_path, report, write_reports(report, make_rendered(report), tmp_path,
                                                                     ("json",)), settings)
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=shard, args=(site,)) for site in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(archived(tmp_path)) == 30


def test_a_failed_archive_is_a_warning_not_a_failed_channel(tmp_path: Path, caplog) -> None:
    (tmp_path / "index.html").mkdir()  # the page cannot be renamed over a directory
    report = report_at(0)
    (result,) = deliver(report, make_rendered(report), make_settings(tmp_path)).results
    assert result.ok and "archive page not updated" in result.detail
    assert "could not update the archive page" in caplog.text
    assert (tmp_path / f"{report_stem(report)}.html").is_file()
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_a_dry_run_writes_no_archive(tmp_path: Path) -> None:
    report = report_at(0)
    deliver(report, make_rendered(report), make_settings(tmp_path), dry_run=True)
    assert not (tmp_path / "index.html").exists() and not (tmp_path / "archive.json").exists()


def test_a_report_kept_after_a_failed_email_joins_the_archive(tmp_path: Path) -> None:
    report = report_at(0)
    paths = save_fallback(report, make_rendered(report), make_settings(tmp_path, file_enabled=False))
    (entry,) = archived(tmp_path)
    assert entry.stem == report_stem(report) and set(entry.files.values()) == {path.name for path in paths}


# --------------------------------------------------------------------------- real runs


@pytest.fixture
def fake():
    """A small fake controller over TLS."""
    with FakeController(events=120, seed=11, tls=True) as controller:
        yield controller


def test_real_runs_keep_the_page_and_retention_takes_old_reports_off_it(cli, fake, tmp_path: Path) -> None:
    env = run_env(fake, tmp_path, None, UNIFI_FILE_ENABLED="true", UNIFI_SEND_EMPTY="true")
    stems = []
    for _ in range(2):
        time.sleep(1.05)  # report names carry the second they were made in; two runs must not share one
        fake.add_events(3)
        result = cli("run", env=env)
        assert result.returncode == 0, result.stderr
        stems.append(archived(tmp_path)[0].stem)
    entries = archived(tmp_path)
    assert [entry.stem for entry in entries] == stems[::-1]
    assert entries[0].new is not None and set(entries[0].files) == {"html", "text", "json"}
    page = Page((tmp_path / "index.html").read_text())
    assert page.rows == stems[::-1] and f"{stems[0]}.html" in page.hrefs

    old = time.time() - 3 * DAY
    for path in tmp_path.glob(f"{stems[0]}.*"):
        os.utime(path, (old, old))
    time.sleep(1.05)
    result = cli("run", env={**env, "UNIFI_FILE_RETENTION_DAYS": "1"})
    assert result.returncode == 0, result.stderr
    entries = archived(tmp_path)
    assert len(entries) == 2 and stems[0] not in {entry.stem for entry in entries}
    page = Page((tmp_path / "index.html").read_text())
    assert stems[0] not in page.rows and stems[1] in page.rows and len(page.rows) == 2
