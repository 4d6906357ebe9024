"""The report archive: `index.html` and `archive.json` beside the reports, rewritten after each report.

Serve a reports directory (or an upload target) with any web server and `index.html` is the team's
report history: every report still kept, newest first, with its date, window, findings per severity,
what changed and a link to each format, under a chart of the findings per report. The page is a single
self-contained file: one <style> block, no scripts (its Content-Security-Policy forbids them too), no
images or fonts, only relative links, so it also works straight off the disk and survives a move.

`archive.json` (the manifest) holds one `ArchiveEntry` per report, newest first and bounded, so the page
is rebuilt without reading every report: each run adds its entry and drops those whose files retention
deleted. A reports directory without a usable manifest (an installation from before the archive, or a
damaged file) gets one rebuilt from its JSON reports. Everything here is UTC; only the page shows times
in the display timezone.

The upload channel keeps the same two files in each upload target through `load_manifest`,
`only_present`, `update_manifest`, `dump_manifest` and `render_index`; `update_local_archive` does it for
the reports directory, under a lock, since shards of one fleet share that directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from unifi_scanner.delivery.files import (
    DIR_MODE,
    EXTENSIONS,
    FILE_MODE,
    REPORT_NAME,
    REPORT_STEM,
    report_scope,
    report_stem,
)
from unifi_scanner.fsutil import atomic_write
from unifi_scanner.models import Report, SeverityCounts, UtcDatetime, Window
from unifi_scanner.renderer.templating import environment
from unifi_scanner.renderer.view import (
    NAME_MAX,
    SEVERITY_COLOURS,
    Chart,
    bounded,
    clean,
    format_day,
    format_time,
    format_when,
    stacked_chart,
)
from unifi_scanner.settings import Settings

log = logging.getLogger(__name__)

MANIFEST = "archive.json"
INDEX = "index.html"
LOCK = ".archive.lock"
TITLE = "UniFi reports"
MANIFEST_VERSION = 1
MANIFEST_MAX = 5000
"""Most reports the manifest remembers: hourly reports of half a dozen sites for a month. Older ones
leave the page (their files stay until retention deletes them)."""
ROWS_MAX = 500
"""Most rows the page lists, newest first; the manifest has the rest. The page stays near 0.5 MB at most,
even with long site names."""
CHART_REPORTS = 60
"""Reports in the chart, one bar each: still a few pixels per bar on a phone."""
FORMAT_LABELS = {"html": "HTML", "text": "Text", "json": "JSON"}
SEVERITIES = ("severe", "medium", "low")

# Relative paths of plain segments ending in a report's file name: no scheme, no leading slash, no dot
# segment, nothing to quote, so an href built from one stays inside the archive even when a manifest
# was tampered with.
_RELATIVE_PATH = rf"^(?:[A-Za-z0-9_][A-Za-z0-9._-]{{0,63}}/){{0,8}}{REPORT_STEM}\.(?:html|txt|json)$"
_STEM_MAX = len("unifi-report-") + 64 + len("-20261207T080000Z")
RelativePath = Annotated[str, Field(pattern=_RELATIVE_PATH, max_length=700)]


class ArchiveEntry(BaseModel):
    """One report in the archive: what its row shows, and where its files are, relative to the archive's
    root (`{"html": "unifi-report-….html"}` in a reports directory, `{"html": "default/2026/12/…"}` in
    an upload target). `new` and `resolved` are None when the report was made without a memory."""

    # Unknown keys are ignored, so a manifest written by a newer version still loads.
    model_config = ConfigDict(extra="ignore")

    stem: str = Field(pattern=rf"^{REPORT_STEM}$", max_length=_STEM_MAX)
    site: str = Field(max_length=4 * NAME_MAX)
    generated_at: UtcDatetime
    window: Window
    counts: SeverityCounts
    new: int | None = Field(None, ge=0)
    resolved: int | None = Field(None, ge=0)
    files: dict[Literal["html", "text", "json"], RelativePath]


def entry_for(report: Report, files: dict[str, str]) -> ArchiveEntry:
    """The archive entry of `report`, whose files (format → path relative to the archive) are `files`.

    The site reads as in the report's file name: `hq/default` for a site of a named controller, the
    report's own label (`3 sites`) for a report of several sites.
    """
    changes = report.changes
    return ArchiveEntry(
        stem=report_stem(report),
        site=clean("/".join(report_scope(report))),
        generated_at=report.generated_at,
        window=report.window,
        counts=report.counts,
        new=changes.new if changes else None,
        resolved=changes.resolved if changes else None,
        files=files,
    )


def load_manifest(data: bytes | None) -> list[ArchiveEntry]:
    """The entries of a manifest's bytes; [] for None or anything that is not a manifest.

    An entry that does not validate is left out rather than losing the others: the next update writes
    the manifest back without it.
    """
    if data is None:
        return []
    try:
        document = json.loads(data)
    except ValueError:
        return []
    reports = document.get("reports") if isinstance(document, dict) else None
    if not isinstance(reports, list):
        return []
    entries = []
    for item in reports[:MANIFEST_MAX]:
        try:
            entries.append(ArchiveEntry.model_validate(item))
        except ValueError:
            continue
    return entries


def update_manifest(
    entries: list[ArchiveEntry], new: ArchiveEntry | None, kept: Callable[[ArchiveEntry], bool]
) -> list[ArchiveEntry]:
    """`entries` with `new` added (replacing an entry of the same stem: a re-sent report), without the
    entries `kept` rejects (retention deleted their files) or a repeated stem; newest first, at most
    MANIFEST_MAX.

    `new` is not put to `kept`: its files were just written.
    """
    seen = {new.stem} if new else set()
    result = [new] if new else []
    for entry in entries:
        if entry.stem not in seen and kept(entry):
            seen.add(entry.stem)
            result.append(entry)
    return newest_first(result)[:MANIFEST_MAX]


def dump_manifest(entries: list[ArchiveEntry]) -> bytes:
    """The manifest's bytes: `{"schema_version": 1, "reports": [entry, ...]}`, compact JSON."""
    document = {
        "schema_version": MANIFEST_VERSION,
        "reports": [entry.model_dump(mode="json") for entry in entries[:MANIFEST_MAX]],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def newest_first(entries: list[ArchiveEntry]) -> list[ArchiveEntry]:
    """`entries` sorted newest first (by generation time, then stem, so the order is stable)."""
    return sorted(entries, key=lambda entry: (entry.generated_at, entry.stem), reverse=True)


@dataclass(frozen=True)
class CountView:
    """One severity count of a row: coloured as in the reports when not zero (`colour` None at zero)."""

    text: str
    colour: str | None


@dataclass(frozen=True)
class RowView:
    """One report's row: `href` (its HTML, else its first format) is where the date links to."""

    anchor: str
    date: str
    site: str
    window: str
    changes: str
    counts: list[CountView]
    href: str | None
    links: list[tuple[str, str]]


@dataclass(frozen=True)
class PageView:
    """The archive page: rows newest first and bounded (`more` left out), and the chart of the latest
    reports (None below two)."""

    title: str
    timezone: str
    summary: str
    rows: list[RowView]
    more: int
    chart: Chart | None
    colours: dict[str, str]


def render_index(entries: list[ArchiveEntry], *, title: str, timezone: str) -> str:
    """The archive page of `entries`, times shown in `timezone` (an IANA name)."""
    zone = ZoneInfo(timezone)
    ordered = newest_first(entries)
    shown, more = bounded(ordered, ROWS_MAX)
    rows = [_row(entry, zone) for entry in shown]
    if ordered:
        oldest, newest = (entry.generated_at.astimezone(zone) for entry in (ordered[-1], ordered[0]))
        noun = "report" if len(ordered) == 1 else "reports"
        days = format_day(oldest) if oldest.date() == newest.date() else (
            f"{format_day(oldest)} to {format_day(newest)}")
        summary = f"{len(ordered):,} {noun}, {days}, newest first"
    else:
        summary = "No reports yet"
    page = PageView(title=clean(title), timezone=clean(timezone), summary=summary, rows=rows, more=more,
                    chart=_chart(ordered[:CHART_REPORTS][::-1], zone), colours=dict(SEVERITY_COLOURS))
    return environment("html").get_template("archive.html").render(page=page)


def _row(entry: ArchiveEntry, zone: ZoneInfo) -> RowView:
    """One row; its links are quoted again although the entry's paths are plain by validation."""
    links = [(FORMAT_LABELS[fmt], quote(path)) for fmt, path in sorted(
        entry.files.items(), key=lambda item: list(FORMAT_LABELS).index(item[0]))]
    changes = [f"{count:,} {word}" for count, word in ((entry.new, "new"), (entry.resolved, "resolved"))
               if count is not None]
    return RowView(
        anchor=entry.stem,
        date=format_time(entry.generated_at.astimezone(zone)),
        site=clean(entry.site),
        window=format_when(entry.window.since.astimezone(zone), entry.window.until.astimezone(zone)),
        changes=", ".join(changes),
        counts=[_count(entry.counts, name) for name in SEVERITIES],
        href=quote(entry.files["html"]) if "html" in entry.files else (links[0][1] if links else None),
        links=links,
    )


def _count(counts: SeverityCounts, name: str) -> CountView:
    """One severity's count, coloured when there is any."""
    count = getattr(counts, name)
    return CountView(text=f"{count:,}", colour=SEVERITY_COLOURS[name] if count else None)


def _chart(entries: list[ArchiveEntry], zone: ZoneInfo) -> Chart | None:
    """Findings per report, one bar each, oldest first; None below two reports (nothing to compare)."""
    if len(entries) < 2:
        return None
    times = [format_time(entry.generated_at.astimezone(zone)) for entry in entries]
    labels = [f"{moment} ({clean(entry.site)})" for moment, entry in zip(times, entries, strict=True)]
    sums = [{name: getattr(entry.counts, name) for name in SEVERITIES} for entry in entries]
    return stacked_chart(labels, sums, times[0], times[-1])


def update_local_archive(directory: Path, report: Report | None, written: list[Path], settings: Settings
                         ) -> list[Path]:
    """Rewrite `archive.json` and `index.html` in the reports `directory`; return the paths written.

    `report` (when given) joins the archive with the files `written` for it; entries whose files are all
    gone leave it, and an entry links only to the files still there. Both files are written atomically,
    0640 like the reports. Raises OSError when the directory cannot be read or written: the caller
    decides what that means (the report itself is already delivered).
    """
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    manifest, index = directory / MANIFEST, directory / INDEX
    with _locked(directory / LOCK):
        present = _report_files(directory)
        try:
            data = manifest.read_bytes()
        except FileNotFoundError:
            data = None
        known = load_manifest(data) or _rebuild(directory, present)
        entries = [only_present(entry, present) for entry in known]
        new = None
        if report is not None:
            names = present | {path.name for path in written}
            new = entry_for(report, _files_of(report_stem(report), names))
        entries = update_manifest(entries, new, kept=lambda entry: bool(entry.files))
        atomic_write(manifest, dump_manifest(entries), mode=FILE_MODE)
        page = render_index(entries, title=TITLE, timezone=settings.timezone)
        atomic_write(index, page.encode("utf-8"), mode=FILE_MODE)
    return [manifest, index]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on `path` for the block: shards of one fleet share a reports directory,
    and two of them updating the manifest at once would lose one's entry. The block is short, so
    waiting for the lock is fine; the kernel releases it however its holder ends."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _report_files(directory: Path) -> set[str]:
    """The names of this tool's report files in `directory` (regular files only)."""
    with os.scandir(directory) as listing:
        return {item.name for item in listing
                if REPORT_NAME.match(item.name) and item.is_file(follow_symlinks=False)}


def _files_of(stem: str, names: set[str]) -> dict[str, str]:
    """Format → file name of the report `stem`, for the formats among `names`."""
    return {fmt: f"{stem}.{ext}" for fmt, ext in EXTENSIONS.items() if f"{stem}.{ext}" in names}


def only_present(entry: ArchiveEntry, present: set[str]) -> ArchiveEntry:
    """`entry` with only its files among `present` (paths relative to the archive's root), so its row
    links to nothing that retention deleted; an entry left without files is for `update_manifest` to
    drop."""
    files = {fmt: path for fmt, path in entry.files.items() if path in present}
    return entry if files == entry.files else entry.model_copy(update={"files": files})


def _rebuild(directory: Path, present: set[str]) -> list[ArchiveEntry]:
    """Entries for the JSON reports among `present`, the newest MANIFEST_MAX by the time in their names.

    This reads whole reports, once: afterwards the manifest carries what the page needs. A file that is
    not a readable report is skipped.
    """
    stems = sorted((name[: -len(".json")] for name in present if name.endswith(".json")),
                   key=lambda stem: stem[-len("20261207T080000Z"):], reverse=True)[:MANIFEST_MAX]
    entries = []
    for stem in stems:
        try:
            report = Report.model_validate_json((directory / f"{stem}.json").read_bytes())
        except (OSError, ValueError) as exc:
            log.info("archive: skipping %s.json, not a readable report (%s)", stem, type(exc).__name__)
            continue
        entries.append(entry_for(report, _files_of(stem, present)))
    if entries:
        log.info("archive: rebuilt %s from %d JSON report(s) in %s", MANIFEST, len(entries), directory)
    return entries
