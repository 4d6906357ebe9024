"""Report files in the reports directory: atomic writes, retention, and the fallback copy.

Names are `unifi-report-<site>-<YYYYmmddTHHMMSSZ>.<ext>` (`<controller>-<site>` for a named
controller of the config file's list), the timestamp being the report's generation
time in UTC, so a re-sent report overwrites its own files instead of piling up copies. Retention only
ever touches names matching that exact pattern: temp files (`.name.XXXX.tmp`), other tools' files and
the files just written are never deleted. After each write the directory's archive page (`index.html`
and `archive.json`, see `archive.py`) is brought up to date.
"""

from __future__ import annotations

import logging
import os
import re
import time
import unicodedata
from pathlib import Path

from unifi_scanner.fsutil import atomic_write
from unifi_scanner.models import ChannelResult, RenderedReport, Report
from unifi_scanner.settings import Settings

log = logging.getLogger(__name__)

FILE_MODE = 0o640
DIR_MODE = 0o750
EXTENSIONS = {"html": "html", "text": "txt", "json": "json"}
FORMATS_BY_SETTING = {"html": ("html",), "text": ("text",), "both": ("html", "text"), "json": ("json",)}
ALL_FORMATS = ("html", "text", "json")
REPORT_STEM = r"unifi-report-[A-Za-z0-9._-]{1,64}-\d{8}T\d{6}Z"
"""A report's file name without its extension, as a regular expression."""
REPORT_NAME = re.compile(rf"^{REPORT_STEM}\.(?:html|txt|json)$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_site(site: str) -> str:
    """The site name reduced to characters that are safe in a file name on every system.

    Accents are folded to ASCII first so `Büro` becomes `Buro` rather than `B_ro`; anything else
    (slashes, dots at the ends, CR/LF from a hostile controller) becomes `_` or is trimmed.
    """
    folded = unicodedata.normalize("NFKD", site).encode("ascii", "ignore").decode("ascii")
    cleaned = _UNSAFE.sub("_", folded).strip("._-")[:64].strip("._-")
    return cleaned or "site"


def report_scope(report: Report) -> list[str]:
    """What `report` covers, by name: `[controller, site]` for a site of a named controller, else
    `[site]` (a report of several sites names them in its `site`)."""
    if report.controller_name != "default" and not report.sites:
        return [report.controller_name, report.site]
    return [report.site]


def report_stem(report: Report) -> str:
    """The file name of `report` without its extension.

    A named controller's site reports carry its name (`hq-default`), so two controllers' `default`
    sites, reported one by one (`UNIFI_REPORT_PER=site`) at the same second, never share a file.
    """
    stamp = report.generated_at.strftime("%Y%m%dT%H%M%SZ")
    return f"unifi-report-{safe_site('-'.join(report_scope(report)))}-{stamp}"


def report_filename(report: Report, fmt: str) -> str:
    """The file name of `report` in format `fmt` (html, text or json)."""
    return f"{report_stem(report)}.{EXTENSIONS[fmt]}"


def content_for(rendered: RenderedReport, fmt: str) -> bytes:
    """The bytes written for format `fmt`."""
    text = {"html": rendered.html, "text": rendered.text, "json": rendered.json_text}[fmt]
    return text.encode("utf-8")


def write_reports(
    report: Report, rendered: RenderedReport, directory: Path, formats: tuple[str, ...]
) -> list[Path]:
    """Write the report in each of `formats` into `directory` atomically; return the paths written.

    The directory is created 0750 when missing; each file is 0640 from the moment it exists.
    """
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = directory / report_filename(report, fmt)
        atomic_write(path, content_for(rendered, fmt), mode=FILE_MODE)
        paths.append(path)
    return paths


def apply_retention(directory: Path, days: int, keep: list[Path], *, now: float | None = None) -> list[Path]:
    """Delete this tool's report files in `directory` last modified more than `days` days ago.

    `days == 0` keeps everything. Only regular files whose names match the report pattern qualify, and
    never a path in `keep`. A file that cannot be deleted is logged and skipped: retention is
    housekeeping, and the report itself was already delivered.
    """
    if days <= 0:
        return []
    cutoff = (time.time() if now is None else now) - days * 86400
    kept = {path.name for path in keep}
    deleted = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name in kept or not REPORT_NAME.match(entry.name):
                continue
            try:
                if (
                    not entry.is_file(follow_symlinks=False)
                    or entry.stat(follow_symlinks=False).st_mtime >= cutoff
                ):
                    continue
                os.unlink(entry.path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("retention: cannot delete %s: %s", entry.name, exc.strerror)
                continue
            deleted.append(Path(entry.path))
    return deleted


def deliver_files(
    report: Report, rendered: RenderedReport, settings: Settings, *, dry_run: bool
) -> ChannelResult:
    """The `file` channel: write the configured formats and the JSON report, then apply retention.

    The JSON report is always kept beside what `UNIFI_FILE_FORMAT` asks for: it is what
    `unifi-scanner send DIR` re-sends.
    """
    formats = tuple(dict.fromkeys([*FORMATS_BY_SETTING[settings.file_format], "json"]))
    directory = settings.reports_dir
    names = ", ".join(report_filename(report, fmt) for fmt in formats)
    if dry_run:
        return ChannelResult(channel="file", ok=True, detail=f"dry run: would write {names} to {directory}")
    try:
        paths = write_reports(report, rendered, directory, formats)
    except OSError as exc:
        return ChannelResult(
            channel="file", ok=False, detail=f"cannot write to {directory}: {exc.strerror or exc}"
        )
    deleted = apply_retention(directory, settings.file_retention_days, paths)
    detail = f"wrote {names} to {directory}"
    if deleted:
        detail += f"; deleted {len(deleted)} report file(s) older than {settings.file_retention_days} days"
    detail += update_archive(directory, report, paths, settings)
    return ChannelResult(channel="file", ok=True, detail=detail, paths=[str(path) for path in paths])


def save_fallback(report: Report, rendered: RenderedReport, settings: Settings) -> list[Path]:
    """Keep every format of a report whose email or upload failed, so nothing is lost; [] if even that
    fails."""
    try:
        paths = write_reports(report, rendered, settings.reports_dir, ALL_FORMATS)
    except OSError as exc:
        log.error(
            "could not save the undelivered report to %s: %s", settings.reports_dir, exc.strerror or exc
        )
        return []
    log.warning("the undelivered report was saved to %s", ", ".join(str(path) for path in paths))
    update_archive(settings.reports_dir, report, paths, settings)
    return paths


def update_archive(directory: Path, report: Report, written: list[Path], settings: Settings) -> str:
    """Add `report` to the archive page of `directory`; a note for the channel's detail when that failed.

    A failure is only a warning: the report itself was written, and the next report rewrites the page.
    """
    # The archive builds on this module's file names, so it is imported here, not at the top.
    from unifi_scanner.delivery.archive import update_local_archive

    try:
        update_local_archive(directory, report, written, settings)
    except OSError as exc:
        log.warning("could not update the archive page in %s: %s", directory, exc.strerror or exc)
        return f"; archive page not updated: {exc.strerror or exc}"
    return ""
