"""The Rich view `report` shows on a terminal: a summary panel, the sites of a report that covers
several, what needs attention, what was resolved, the comparison with earlier reports, what is still
going on, the findings and the device health.

Cells are built as `rich.text.Text`, never as markup strings, so a device called `[bold]x` prints
literally. Rich itself honours NO_COLOR and plain output when stdout is not a terminal.
"""

from __future__ import annotations

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from unifi_scanner.renderer.view import AttentionView, OverviewView, ReportView, TrendsView

_STYLES = {"severe": "bold white on red", "medium": "bold black on yellow", "low": "bold white on blue"}


def print_view(view: ReportView, console: Console) -> None:
    """Print the summary panel, the sites overview, the needs-attention list, what was resolved, the
    trends, what is still going on, the findings table and the device health table."""
    console.print(_summary(view))
    if view.overview:
        console.print(_overview(view.overview))
    if not view.quiet:  # the summary already says all is quiet
        console.print(_attention(view))
    if view.resolved:
        console.print(_resolved(view))
    if view.trends:
        console.print(_trends(view.trends))
    if view.ongoing:
        console.print(_ongoing(view))
    if view.findings:
        console.print(_findings(view))
    if view.devices:
        console.print(_devices(view))
    if view.unknown:
        other = ", ".join(f"{key} ×{count}" for key, count, _ in view.unknown)
        console.print(Text(f"Other events ({view.unknown_events}): {other}", style="dim"))


def _summary(view: ReportView) -> Panel:
    """Site, window, counts, and what the reader should know about this run."""
    lines = [
        Text(f"{view.window} ({view.timezone})"),
        Text.assemble(
            (f" {view.severe} SEVERE ", _STYLES["severe"]), "  ",
            (f" {view.medium} MEDIUM ", _STYLES["medium"]), "  ",
            (f" {view.low} LOW ", _STYLES["low"]), f"   {view.total_events} events",
        ),
        Text("All quiet: no findings in this window." if view.quiet else view.summary),
    ]
    if view.first_run:
        lines.append(Text(f"First run: looked back {view.lookback}."))
    if view.hidden_by_detail:
        lines.append(Text(f"{view.hidden_by_detail} low findings not shown (detail: low).", style="dim"))
    if view.muted:
        lines.append(Text(f"{view.muted} findings muted by your settings.", style="dim"))
    lines.extend(Text(f"Note: {note}") for note in view.notes)
    if view.missing_sources:
        lines.append(Text("Missing from this report: " + " ".join(view.missing_sources)))
    subtitle = view.overview.line if view.overview else view.controller
    return Panel(Group(*lines), title=Text(f"UniFi Report · {view.site}"), subtitle=Text(subtitle))


def _overview(overview: OverviewView) -> Table:
    """One row per site, failed and busiest first; a failed site shows why in place of its counts."""
    table = Table(title="Sites", box=box.SIMPLE_HEAVY, expand=True)
    table.add_column("Site", ratio=2)
    for name in ("Severe", "Medium", "Low", "New"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("Worst finding", ratio=3)
    for row in overview.rows:
        if row.error:
            table.add_row(Text(row.label), "", "", "", "",
                          Text.assemble((" FAILED ", _STYLES["severe"]), f" {row.error}"))
            continue
        worst = (Text.assemble((f" {row.worst_label} ", _STYLES[row.worst_severity]), f" {row.worst}")
                 if row.worst else Text("no findings", "green"))
        table.add_row(Text(row.label), str(row.severe), str(row.medium), str(row.low), str(row.new), worst)
    if overview.more:
        more = f"… and {overview.more} more sites, none busier than those above"
        table.add_row(Text(more), "", "", "", "", "")
    return table


def _attention(view: ReportView) -> Table | Text:
    """Every severe and medium finding on one line, with the number of its row in the findings table."""
    if not view.attention:
        return Text("Nothing needs attention: no severe or medium findings.", style="green")
    table = Table(title="Needs attention", box=box.SIMPLE, expand=True, show_header=False)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Finding", ratio=3)
    table.add_column("When", no_wrap=True)
    table.add_column("#", no_wrap=True)
    for line in view.attention:
        pointer = "→ still going on" if line.brief else "not in detail"
        table.add_row(
            Text(f" {line.severity_label} ", _STYLES[line.severity]),
            _titled(line),
            Text(line.when, "dim"),
            Text(f"→ #{line.number}" if line.number else pointer, "dim"),
        )
    if view.attention_more:
        table.add_row("", Text(f"… and {view.attention_more} more severe or medium findings"), "", "")
    return table


def _titled(line: AttentionView) -> Text:
    """A line's title, led by its status word when the run has a memory and by its site in a report
    that covers several."""
    status = (f"{line.status.word} ", "bold") if line.status else ""
    return Text.assemble(status, _site(line.site), line.title)


def _site(label: str) -> tuple[str, str] | str:
    """The site label leading a line about a finding, dimmed; nothing in a single-site report."""
    return (f"{label}: ", "dim") if label else ""


def _resolved(view: ReportView) -> Table:
    """Incidents of the last report that are over, one line each."""
    table = Table(title="Resolved since the last report", box=box.SIMPLE, expand=True, show_header=False)
    table.add_column("Incident", ratio=3)
    for item in view.resolved:
        table.add_row(Text.assemble(_site(item.site), (item.title, "bold"), f" — {item.how}\n",
                                    (item.facts, "dim")))
    if view.resolved_more:
        table.add_row(Text(f"… and {view.resolved_more} more resolved"))
    return table


def _trends(trends: TrendsView) -> Text:
    """The trend lines and, from two reports on, the findings per report as a sparkline."""
    lines = Text("Compared with earlier reports", style="bold")
    for line in trends.lines:
        lines.append(f"\n  {line}")
    if trends.lines_more:
        lines.append(f"\n  … and {trends.lines_more} more", "dim")
    if trends.chart:
        lines.append(f"\n  Findings per report (oldest first): |{trends.chart.spark}|", "dim")
    return lines


def _ongoing(view: ReportView) -> Table:
    """Findings already explained in earlier reports, one line each (UNIFI_ONGOING=brief)."""
    table = Table(title="Still going on", box=box.SIMPLE, expand=True, show_header=False)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Finding", ratio=3)
    for line in view.ongoing:
        table.add_row(Text(f" {line.severity_label} ", _STYLES[line.severity]),
                      Text.assemble(_site(line.site), line.title, (f" · {line.status.detail}", "dim")))
    return table


def _findings(view: ReportView) -> Table:
    """One row per finding, most serious first, numbered as the needs-attention list points at them."""
    table = Table(title="Findings", box=box.SIMPLE_HEAVY, expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Finding", ratio=3)
    table.add_column("Count", justify="right")
    table.add_column("Affected", ratio=2)
    table.add_column("Seen", ratio=1)
    for finding in view.findings:
        affected = "\n".join(finding.affected)
        if finding.affected_more:
            affected += f"\n… and {finding.affected_more} more"
        story = Text()
        for entry in finding.timeline:
            story.append(f"\n  {entry.time}  {entry.text}", "dim")
        if finding.timeline_more:
            story.append(f"\n  … and {finding.timeline_more} more", "dim")
        status = Text(f"\n{finding.status.text}", "italic") if finding.status else ""
        table.add_row(
            str(finding.number),
            Text(f" {finding.severity_label} ", _STYLES[finding.severity]),
            Text.assemble(_site(finding.site), (finding.title, "bold"), status, "\n", finding.explanation,
                          story),
            str(finding.count),
            Text(affected),
            Text(finding.seen),
        )
    if view.folded:
        table.add_row("", "", Text(f"Also seen, not shown in detail: {view.folded_line}", "dim"), "", "", "")
    return table


def _devices(view: ReportView) -> Table:
    """Device health, problems first."""
    table = Table(title="Device health", box=box.SIMPLE_HEAVY, expand=True)
    for name in ("Device", "State", "Uptime", "Firmware", "Load", "Problems"):
        table.add_column(name)
    for device in view.devices:
        table.add_row(
            Text.assemble(device.name, "\n", (f"{device.model} {device.mac}".strip(), "dim")),
            Text(device.state, "green" if device.healthy else "bold red"),
            device.uptime,
            Text(" ".join(part for part in (device.version, device.upgrade) if part)),
            device.load,
            Text("\n".join(device.problems)),
        )
    if view.devices_more:
        table.add_row(Text(f"… and {view.devices_more} more"), "", "", "", "", "")
    return table
