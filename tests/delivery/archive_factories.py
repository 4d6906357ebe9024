"""Archive entries built by hand: a run of reports over several sites, one of them hostile."""

from __future__ import annotations

from datetime import timedelta

from tests.delivery.factories import finding, make_report
from unifi_scanner.delivery.archive import ArchiveEntry, entry_for
from unifi_scanner.delivery.files import EXTENSIONS, report_filename
from unifi_scanner.models import Changes, Report, Severity

HOSTILE_SITE = "</table><script>alert(1)</script>\"quoted\" 'single'\r\nBcc: x@example.com " + "W" * 500
SITES = ("default", "Branch office Zürich", "warehouse-" + "X" * 90, HOSTILE_SITE)


def report_at(hours: int, site: str = "default", *, severe: int = 1, medium: int = 1, low: int = 0,
              changes: Changes | None = None) -> Report:
    """A report generated `hours` after the factories' time, with that many findings per severity."""
    findings = [finding(number, severity) for severity, count in
                ((Severity.SEVERE, severe), (Severity.MEDIUM, medium), (Severity.LOW, low))
                for number in range(count)]
    report = make_report(site, findings, changes=changes)
    shift = timedelta(hours=hours)
    return report.model_copy(update={
        "generated_at": report.generated_at + shift,
        "window": report.window.model_copy(update={"since": report.window.since + shift,
                                                   "until": report.window.until + shift}),
    })


def local_files(report: Report, formats: tuple[str, ...] = tuple(EXTENSIONS)) -> dict[str, str]:
    """Format → file name of `report`, as in a reports directory."""
    return {fmt: report_filename(report, fmt) for fmt in formats}


def many_entries(count: int = 40) -> list[ArchiveEntry]:
    """`count` hourly reports over SITES (the hostile one among them), with varied findings, the
    later ones from a run with memory."""
    entries = []
    for hour in range(count):
        report = report_at(hour, SITES[hour % len(SITES)], severe=hour % 3, medium=(hour * 7) % 5,
                           low=(hour * 5) % 11,
                           changes=Changes(new=hour % 4, resolved=hour % 2) if hour > count // 2 else None)
        entries.append(entry_for(report, local_files(report)))
    return entries
