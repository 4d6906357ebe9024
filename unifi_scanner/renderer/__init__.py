"""Renderer stage: a `Report` as HTML email, plain text, Markdown, JSON, a subject line, or a Rich view.

    rendered = render_all(report, settings)        # what delivery needs, at once
    html = render(report, "html", settings)          # one format
    subject = render_subject(report, settings)       # one safe line for the mail header

All formats are rendered from one cleaned, bounded view of the report (see `view.py`), so escaping and
size limits are decided in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from unifi_scanner.models import RenderedReport, Report
from unifi_scanner.renderer.subject import render_subject
from unifi_scanner.renderer.templating import environment, inline_css
from unifi_scanner.renderer.view import LIMITS, ReportView, build_view
from unifi_scanner.settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["FORMATS", "FILE_NAMES", "print_terminal", "render", "render_all", "render_subject", "report_json"]

Format = Literal["html", "text", "md", "json"]
FORMATS: tuple[Format, ...] = ("html", "text", "md", "json")
FILE_NAMES: dict[str, str] = {
    "html": "report.html", "text": "report.txt", "md": "report.md", "json": "report.json",
}
"""The file each format is written to in a report directory (what `send` reads back)."""

_TEMPLATES = {"html": "report.html", "text": "report.txt", "md": "report.md"}
HTML_BUDGET = 95_000


def render(report: Report, fmt: Format, settings: Settings) -> str:
    """Render `report` in one format: `html`, `text`, `md` or `json` (the Report model itself)."""
    if fmt == "json":
        return report_json(report)
    if fmt not in _TEMPLATES:
        raise ValueError(f"unknown report format {fmt!r}")
    subject = render_subject(report, settings)
    if fmt == "html":
        return _render_html(report, settings, subject)
    return _render_view(build_view(report, settings), fmt, subject)


def render_all(report: Report, settings: Settings) -> RenderedReport:
    """Render every format delivery may need (HTML, text, JSON), building the view once."""
    view = build_view(report, settings)
    subject = render_subject(report, settings)
    return RenderedReport(
        subject=subject,
        preheader=view.summary,
        text=_render_view(view, "text", subject),
        html=_render_html(report, settings, subject, view),
        json_text=report_json(report),
    )


_FINDINGS_SLOT = '\n  "findings": []'


def report_json(report: Report) -> str:
    """`report.model_dump_json(indent=2)`, character for character, at about half its peak memory.

    A busy site's report holds thousands of findings (megabytes of JSON); serialising it in one call
    holds pydantic's byte buffer, the bytes and the decoded string at once. Here each finding is
    serialised alone, indented one level deeper, and the pieces are joined once into the slot the
    findings occupy in the dump of the rest of the report. JSON strings never hold a raw newline, so
    re-indenting by newline is exact.
    """
    if not report.findings:
        return report.model_dump_json(indent=2)
    head, slot, tail = report.model_copy(update={"findings": []}).model_dump_json(indent=2).partition(
        _FINDINGS_SLOT)
    pieces = [head, '\n  "findings": [\n']
    for number, finding in enumerate(report.findings):
        if number:
            pieces.append(",\n")
        pieces.append("    " + finding.model_dump_json(indent=2).replace("\n", "\n    "))
    pieces += ["\n  ]", tail]
    return "".join(pieces)


def print_terminal(report: Report, settings: Settings, console: Console) -> None:
    """Print the Rich view of `report` (summary panel, findings, device health) on `console`."""
    from unifi_scanner.renderer.terminal import print_view  # Rich: only the terminal needs it

    print_view(build_view(report, settings), console)


def _render_html(report: Report, settings: Settings, subject: str, view: ReportView | None = None) -> str:
    """The HTML email, with lists shortened step by step until it fits HTML_BUDGET bytes.

    Gmail clips messages over ~102 KB and hides the rest behind a link; a shorter report that shows
    fewer findings in detail (the rest counted per rule) and ends lists in "… and N more" reads
    better than a clipped one.
    """
    for limits in LIMITS:
        if view is None or limits is not LIMITS[0]:
            view = build_view(report, settings, limits)
        html = _render_view(view, "html", subject)
        if len(html.encode("utf-8")) <= HTML_BUDGET:
            break
    return html


def _render_view(view: ReportView, fmt: str, subject: str) -> str:
    """Fill one template; HTML then gets its CSS inlined."""
    output = environment(fmt).get_template(_TEMPLATES[fmt]).render(view=view, subject=subject)
    return inline_css(output) if fmt == "html" else output
