"""`unifi-scanner send`: deliver a saved report again, through some or all channels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unifi_scanner.cli.common import get_settings, print_json, stdout_is_tty
from unifi_scanner.errors import ExitCode
from unifi_scanner.models import DeliveryOutcome


def send(
    ctx: typer.Context,
    source: Annotated[
        Path,
        typer.Argument(
            help="report.json, or a directory holding report.json (else its newest unifi-report-*.json).",
            metavar="REPORT_DIR_OR_JSON",
        ),
    ],
    channel: Annotated[
        str | None,
        typer.Option(
            "--channel",
            help="Only these channels, comma-separated: email,file,upload,webhook "
                 "(default: every enabled one).",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Build every message and show what would be sent; send and write nothing."
        ),
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the per-channel results as JSON.")
    ] = False,
) -> None:
    """Deliver a saved report through the enabled channels and print what each channel did.

    Exits 0 when every selected channel delivered, 1 when any failed (an undelivered email is kept in
    the reports directory), 2 for a usage or configuration error such as no enabled channel.

    Example:

        unifi-scanner send /var/lib/unifi-scanner/report.json --channel email --dry-run
    """
    from unifi_scanner.delivery import deliver, load_report, parse_channels, select_channels
    from unifi_scanner.renderer import render_all

    settings = get_settings(ctx)
    selected = select_channels(settings, parse_channels(channel))
    report = load_report(source)
    outcome = deliver(report, render_all(report, settings), settings, channels=selected, dry_run=dry_run)
    if json_output:
        print_json({"ok": outcome.ok, **outcome.model_dump(mode="json")})
    else:
        _print_table(outcome)
    raise typer.Exit(ExitCode.OK if outcome.ok else ExitCode.DELIVERY_FAILED)


def _print_table(outcome: DeliveryOutcome) -> None:
    """A Rich table on a terminal, one plain `channel<TAB>ok|FAILED<TAB>detail` line otherwise."""
    rows = [(result.channel, "ok" if result.ok else "FAILED", result.detail) for result in outcome.results]
    rows += [("fallback", "saved", path) for path in outcome.fallback_paths]
    if not stdout_is_tty():
        for row in rows:
            print("\t".join(row))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table("Channel", "Result", "Detail")
    for name, status, detail in rows:
        # Text, not markup: details quote SMTP and webhook servers, whose words may hold brackets.
        table.add_row(name, Text(status, style="green" if status == "ok" else "red"), Text(detail))
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add `send` to the app."""
    app.command("send")(send)
