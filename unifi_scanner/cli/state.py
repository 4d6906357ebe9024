"""`unifi-scanner state show|reset`: look at or move the checkpoint."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from unifi_scanner.cli.common import get_settings, print_json
from unifi_scanner.errors import ConfigError
from unifi_scanner.settings import Settings
from unifi_scanner.timeutil import parse_duration, utcnow

app = typer.Typer(help="Show or reset the checkpoint and the incident memory.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    runs: Annotated[int, typer.Option("--runs", min=0, help="How many recent runs to list.")] = 10,
    incidents_shown: Annotated[
        int, typer.Option("--incidents", min=0, help="How many open incidents to list.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    site: Annotated[str | None, typer.Option(
        "--site", help="CONTROLLER/SITE: one site's state in a run over many sites.")] = None,
) -> None:
    """Show the checkpoint, its backup, the open incidents and the last runs.

    Over many sites (UNIFI_SITES, a controllers: list) without --site: one line per site.

    Example: unifi-scanner state show --runs 20
    """
    from rich.console import Console
    from rich.table import Table

    from unifi_scanner.fleet.layout import site_states
    from unifi_scanner.fleet.plan import covers_many
    from unifi_scanner.state import describe_state

    settings = get_settings(ctx)
    zone = ZoneInfo(settings.timezone)

    def when(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "-"

    # No markup: paths and recorded errors (controller and server words) may hold brackets.
    console = Console(markup=False)
    if site is None and covers_many(settings):
        lines = site_states(settings.effective_state_dir)
        if as_json:
            print_json([line.model_dump(mode="json") for line in lines])
            return
        sites = Table(title=f"Sites in {settings.effective_state_dir} (--site CONTROLLER/SITE for one)")
        for column in ("Site", "Checkpoint", "Open incidents", "Last exit", "Last error"):
            sites.add_column(column)
        for line in lines:
            last_exit = "-" if line.last_exit is None else str(line.last_exit)
            sites.add_row(line.label, when(line.checkpoint), str(line.open_incidents), last_exit,
                          line.problem or line.last_error or "")
        console.print(sites)
        return
    state = describe_state(settings, runs=runs, directory=_site_directory(settings, site))
    if as_json:
        print_json(state.model_dump(mode="json"))
        return
    console.print(f"State directory: {state.directory}")
    checkpoint = state.checkpoint
    if checkpoint is None or checkpoint.last_successful_run is None:
        pending = f", retrying the first window from {when(checkpoint.pending_since)}" \
            if checkpoint and checkpoint.pending_since else ""
        console.print(f"Checkpoint: none (the next run is a first run{pending})")
    else:
        age = utcnow() - checkpoint.last_successful_run
        console.print(
            f"Checkpoint: {when(checkpoint.last_successful_run)} ({age.total_seconds() / 3600:.1f} h ago, "
            f"from the {state.source} file); last report: {checkpoint.last_report_count} findings, "
            f"{checkpoint.last_event_count} events; {len(checkpoint.reported_ids)} event ids remembered"
        )
    memory = checkpoint.memory if checkpoint else None
    if memory is not None:
        known = list(memory.admin_addresses.items())
        if known:
            shown = ", ".join(f"{address} (last login {when(moment)})" for address, moment in known[:5])
            more = f" and {len(known) - 5} more" if len(known) > 5 else ""
            console.print(f"Known admin addresses: {shown}{more}")
        opened = memory.open_incidents
        console.print(f"Incidents remembered: {len(opened)} open, {len(memory.incidents) - len(opened)} "
                      f"resolved; {len(memory.reports)} report summaries for trends")
        if opened:
            incidents = Table(title=f"Open incidents ({min(len(opened), incidents_shown)} of {len(opened)})")
            for column in ("Severity", "Since", "Reports", "Last seen", "Incident"):
                incidents.add_column(column)
            for _, record in opened[:incidents_shown]:
                incidents.add_row(record.severity.value, when(record.first_seen), str(record.reports),
                                  when(record.last_seen), record.title)
            console.print(incidents)
    for note in state.notes:
        console.print(f"Warning: {note}")
    console.print(f"Backup: {state.backup}")
    table = Table(title=f"Last {len(state.runs)} runs")
    for column in ("Started", "Window from", "Events", "Severe/Med/Low", "Channels", "Exit", "Error"):
        table.add_column(column)
    for record in state.runs:
        channels = ", ".join(f"{c.channel} {'ok' if c.ok else 'FAILED'}" for c in record.channels)
        if record.held_back:
            channels = f"{channels or 'nothing sent'} (held back: {record.held_back})"
        table.add_row(
            when(record.started_at), when(record.window.since if record.window else None),
            str(record.events), f"{record.findings.severe}/{record.findings.medium}/{record.findings.low}",
            channels or ("-" if record.exit_code else "nothing sent"), str(record.exit_code),
            record.error or "",
        )
    console.print(table)


@app.command("reset")
def reset(
    ctx: typer.Context,
    to: Annotated[str | None, typer.Option(help="New checkpoint: ISO-8601 time (UTC if no offset).")] = None,
    lookback: Annotated[str | None, typer.Option(help="New checkpoint this long ago (24h, 7d).")] = None,
    forget_incidents: Annotated[bool, typer.Option(
        "--forget-incidents", help="Forget the remembered incidents: the next report calls everything new. "
                                   "Alone, it keeps the checkpoint; with --to/--lookback it moves it too.")]
    = False,
    site: Annotated[str | None, typer.Option(
        "--site", help="CONTROLLER/SITE: one site's state in a run over many sites.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (required without a terminal).")]
    = False,
) -> None:
    """Move the checkpoint, or remove it so the next run is a first run; the old one is kept as backup.

    The incident memory and trends stay unless --forget-incidents.

    Example: unifi-scanner state reset --lookback 48h --yes
    """
    from unifi_scanner.state import reset_checkpoint
    from unifi_scanner.timeutil import parse_moment

    if to and lookback:
        raise ConfigError("give --to or --lookback, not both")
    try:
        moment = parse_moment(to) if to else (utcnow() - parse_duration(lookback) if lookback else None)
    except ValueError as exc:
        raise ConfigError(f"{'--to' if to else '--lookback'}: {exc}") from None
    settings = get_settings(ctx)
    directory = _site_directory(settings, site)
    move = not forget_incidents or bool(to or lookback)
    if not yes:
        if not sys.stdin.isatty():
            raise ConfigError("state reset changes what the next run reports: pass --yes "
                              "(there is no terminal to ask on)")
        target = moment.isoformat() if moment else "nothing (the next run becomes a first run)"
        where = directory or settings.effective_state_dir
        question = f"Set the checkpoint in {where} to {target}" if move else f"Keep the checkpoint in {where}"
        if forget_incidents:
            question += " and forget the remembered incidents"
        if not typer.confirm(f"{question}?"):
            typer.echo("Nothing changed.")
            return
    typer.echo(reset_checkpoint(settings, moment, checkpoint=move, forget_incidents=forget_incidents,
                                directory=directory))


def _site_directory(settings: Settings, site: str | None) -> Path | None:
    """`--site CONTROLLER/SITE` as that site's state directory (None without the option)."""
    from unifi_scanner.fleet.layout import site_directory

    if site is None:
        return None
    controller, slash, name = site.partition("/")
    if not slash or not controller or not name:
        raise ConfigError(f"--site: {site!r} is not CONTROLLER/SITE (e.g. hq/default)")
    try:
        return site_directory(settings.effective_state_dir, controller, name)
    except ConfigError as exc:
        raise ConfigError(f"--site: {exc}") from None
