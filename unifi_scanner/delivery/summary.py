"""The short summary sent to chat services instead of the full report.

Chat messages carry counts, the most serious findings and a link (or path) to the full report; the
full report stays in email and files. With an incident memory (`run`), the headline leads with what
changed since the last report and new findings are marked NEW. A report that covers several sites adds
a line saying how many and which failed, and names each finding's site. With `webhook_redact`, MAC and
IP addresses are masked in everything that leaves for a third-party service.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from unifi_scanner.delivery.files import report_filename
from unifi_scanner.models import Changes, RenderedReport, Report, SeverityCounts
from unifi_scanner.renderer.view import (
    NAME_MAX,
    NOTE_MAX,
    SITES_MAX,
    bounded,
    changes_line,
    clean,
    finding_order,
    site_order,
    site_prefix,
    sites_line,
)
from unifi_scanner.settings import Settings

TOP_FINDINGS = 5
_MAC = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?![0-9A-Fa-f])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6_CANDIDATE = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")


def redact_addresses(text: str) -> str:
    """Mask MAC addresses as `[MAC]` and IPv4/IPv6 addresses as `[IP]`."""
    text = _MAC.sub("[MAC]", text)
    text = _IPV4.sub(lambda m: "[IP]" if _is_ip(m.group()) else m.group(), text)
    return _IPV6_CANDIDATE.sub(lambda m: "[IP]" if _is_ip(m.group()) else m.group(), text)


def _is_ip(candidate: str) -> bool:
    """True when `candidate` is a valid IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class TopFinding:
    """One line of the summary: severity, title, what it affects, with a memory `new` or `ongoing`,
    and its site in a report that covers several."""

    severity: str
    title: str
    affected: str = ""
    status: str | None = None
    site: str | None = None

    @property
    def line(self) -> str:
        """`[SEVERE] title (affected)`, `[SEVERE] NEW: title (affected)` for a new finding, and
        `[SEVERE] NEW: hq/branch: title (affected)` with its site."""
        suffix = f" ({self.affected})" if self.affected else ""
        mark = "NEW: " if self.status == "new" else ""
        return f"[{self.severity.upper()}] {mark}{site_prefix(self.site)}{self.title}{suffix}"


@dataclass(frozen=True)
class SiteSummary:
    """One site of a report that covers several, for the generic webhook: its label, its findings per
    severity, how many are new, and why it could not be reported when it failed."""

    label: str
    counts: SeverityCounts
    new: int
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"label": self.label, "counts": {**self.counts.model_dump(), "total": self.counts.total},
                "new": self.new, "error": self.error}


@dataclass(frozen=True)
class Summary:
    """What a chat message says about one report."""

    title: str
    site: str
    headline: str
    counts: SeverityCounts
    total_events: int
    top: list[TopFinding] = field(default_factory=list)
    more: int = 0
    link: str | None = None
    changes: Changes | None = None
    controller: str = "default"
    sites_line: str | None = None
    sites: list[SiteSummary] = field(default_factory=list)
    sites_more: int = 0

    @property
    def worst(self) -> str | None:
        """The most serious severity present, or None when there are no findings."""
        for name in ("severe", "medium", "low"):
            if getattr(self.counts, name):
                return name
        return None

    def lines(self) -> list[str]:
        """The sites line of a report that covers several (`3 sites, 1 failed: shop/default (login
        refused)`), then the finding lines, with an `... and N more` line when the list was cut."""
        lines = [self.sites_line] if self.sites_line else []
        lines += [item.line for item in self.top]
        if self.more:
            lines.append(f"... and {self.more} more")
        return lines

    def as_text(self) -> str:
        """Plain text: headline, findings, link."""
        parts = [self.headline, *(f"- {line}" for line in self.lines())]
        if self.link:
            parts.append(f"Full report: {self.link}")
        return "\n".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, the generic webhook's summary payload; `sites` only for a report that
        covers several."""
        payload = {
            "title": self.title,
            "controller": self.controller,
            "site": self.site,
            "summary": self.headline,
            "counts": {**self.counts.model_dump(), "total": self.counts.total},
            "total_events": self.total_events,
            "top_findings": [vars(item) for item in self.top],
            "more_findings": self.more,
            "changes": self.changes.model_dump() if self.changes else None,
            "report": self.link,
        }
        if self.sites:
            payload["sites"] = [site.as_dict() for site in self.sites]
            payload["more_sites"] = self.sites_more
        return payload


def report_link(report: Report, settings: Settings, written: list[Path]) -> str | None:
    """Where the full report can be read: a URL under report_base_url, else a local path.

    The HTML file is preferred; a file counts if it was written in this delivery or already exists.
    With report_base_url the link is a URL even without a local file (the file channel off): it then
    names the HTML file. With uploads on, the base URL is taken to serve an upload target, where the
    report lies under `<site>/<YYYY>/<MM>/`.
    """
    from unifi_scanner.delivery.upload import report_directory

    existing = {path.name for path in written}
    name = next((name for name in (report_filename(report, fmt) for fmt in ("html", "text", "json"))
                 if name in existing or (settings.reports_dir / name).is_file()), None)
    if settings.report_base_url:
        uploaded = bool(settings.upload_urls)
        name = report_filename(report, "html") if uploaded or name is None else name
        folder = f"{quote(report_directory(report))}/" if uploaded else ""
        return f"{settings.report_base_url.rstrip('/')}/{folder}{quote(name)}"
    return None if name is None else str(settings.reports_dir / name)


def build_summary(
    report: Report, rendered: RenderedReport, settings: Settings, written: list[Path]
) -> Summary:
    """Build the chat summary of `report`, redacted when settings.webhook_redact is on."""
    redact = redact_addresses if settings.webhook_redact else (lambda text: text)
    # Addresses are masked before a string is cut, so a cut never leaves half an address unmasked.
    site = clean(redact(report.site))
    counts = report.counts
    changed = changes_line(report.changes) if report.changes else ""
    if counts.total:
        headline = (
            f"{counts.severe} severe, {counts.medium} medium, {counts.low} low "
            f"({counts.total:,} findings from {report.total_events:,} events) on {site}"
        )
        if changed:
            headline = f"{changed} · {headline}"
    else:
        headline = f"All quiet on {site}: no findings from {report.total_events:,} events"
        if changed:
            headline += f"; {changed} since the last report"
    # The same order as the report: most serious first, and within a severity what is new.
    ranked = sorted(report.findings, key=finding_order)
    top = [
        TopFinding(
            severity=finding.severity.value,
            title=redact(" ".join(finding.title.split())),
            affected=redact(", ".join(item.label for item in finding.affected[:3])),
            status=finding.status.kind if finding.status else None,
            site=clean(redact(finding.site)) if finding.site else None,
        )
        for finding in ranked[:TOP_FINDINGS]
    ]
    masked = [site.model_copy(update={"label": redact(site.label),
                                      "error": site.error and redact(site.error)}) for site in report.sites]
    # Failed sites first, as in the report's overview, so a cut list still names them.
    sites, sites_more = bounded(sorted(masked, key=site_order), SITES_MAX)
    return Summary(
        title=redact(" ".join(rendered.subject.split())),
        site=site,
        headline=redact(" ".join(headline.split())),
        counts=counts,
        total_events=report.total_events,
        top=top,
        more=max(0, len(report.findings) - TOP_FINDINGS),
        link=report_link(report, settings, written),
        changes=report.changes,
        controller=clean(redact(report.controller_name)),
        sites_line=sites_line(masked) if masked else None,
        sites=[
            SiteSummary(label=clean(site.label, NAME_MAX), counts=site.counts, new=site.new,
                        error=clean(site.error, NOTE_MAX) if site.error else None)
            for site in sites
        ],
        sites_more=sites_more,
    )
