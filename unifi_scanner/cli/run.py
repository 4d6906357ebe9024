"""`unifi-scanner run`: the checkpointed cycle cron and Ofelia call (and `--demo`)."""

from __future__ import annotations

import signal
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from unifi_scanner.cli.common import get_settings, parse_time_option, print_json, stdout_is_tty
from unifi_scanner.errors import ConfigError, DeliveryError
from unifi_scanner.settings import Settings


def run(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Collect, analyze and render; print what would "
                                          "be sent; deliver nothing; leave the checkpoint alone.")] = False,
    since: Annotated[str | None, typer.Option("--since", help="Start the window here, not at the checkpoint: "
                                              "ISO-8601 time or a duration ago (24h, 7d).")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Run against the bundled fake controller, write the "
                                       "report to files and print the HTML report's path.")] = False,
    reports_dir: Annotated[Path | None, typer.Option("--reports-dir", help="Reports directory (for --demo: "
                                                     "instead of a fresh temporary directory).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print a summary line even when "
                                          "stdout is not a terminal.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run's result as JSON.")] = False,
    controller: Annotated[list[str] | None, typer.Option(
        "--controller", help="Run only this controller of the config file's list (repeatable).")] = None,
    shard: Annotated[str | None, typer.Option(
        "--shard", help="I/N: run only the controllers at list positions where position % N == I.")] = None,
) -> None:
    """Report what happened since the last delivered report, then move the checkpoint.

    Silent on success under cron; --verbose prints a summary line.

    Exit codes: 0 delivered or nothing to send; 1 delivery failed (report kept, checkpoint unchanged);
    2 configuration; 3 controller; 4 another run holds the lock; 5 state directory unusable. Over
    several sites or controllers: the most serious of the sites' outcomes (3 before 1).

    Example: unifi-scanner run --demo
    """
    from unifi_scanner.fleet.plan import covers_many
    from unifi_scanner.pipeline import run_demo, run_once

    # Schedulers stop an overrunning job with SIGTERM (Ofelia after max-runtime, Docker on stop): make it
    # unwind like Ctrl-C, so the run's history line and end ping are still written.
    signal.signal(signal.SIGTERM, _interrupt)
    if demo and (dry_run or since):
        raise ConfigError("--demo cannot be combined with --dry-run or --since")
    settings = get_settings(ctx, reports_dir=reports_dir, shard=shard)
    if not demo and (controller or covers_many(settings) or settings.shard):
        _run_fleet(settings, controller, dry_run, parse_time_option(since, "--since"), verbose, as_json)
        return
    if demo:
        result, html = run_demo(settings, reports_dir)
    else:
        result = run_once(settings, dry_run=dry_run, since=parse_time_option(since, "--since"))
        html = None
    if as_json:
        data = result.model_dump(mode="json", exclude={"rendered"})
        data["report_paths"] = result.report_paths
        if html is not None:
            data["html_report"] = str(html)
        print_json(data)
    elif html is not None:
        typer.echo(html)
    elif dry_run:
        if result.rendered is not None:
            typer.echo(f"Subject: {result.rendered.subject}\n\n{result.rendered.text}")
        for channel in result.channels:
            typer.echo(f"{channel.channel}: {channel.detail}")
        if not result.channels:
            typer.echo("nothing at or above the delivery minimum: nothing would be sent")
    elif verbose or stdout_is_tty():
        typer.echo(result.summary)
    if result.exit_code:
        kept = f"; report kept at {', '.join(result.fallback_paths)}" if result.fallback_paths else ""
        raise DeliveryError(f"{result.error}{kept}; checkpoint not advanced")


def _run_fleet(settings: Settings, controllers: list[str] | None, dry_run: bool, since: datetime | None,
               verbose: bool, as_json: bool) -> None:
    """The run over several sites or controllers, its output, and its exit code."""
    from unifi_scanner.errors import ExitCode, ScannerError
    from unifi_scanner.fleet.run import run_fleet

    result = run_fleet(settings, controllers=controllers, dry_run=dry_run, since=since)
    if as_json:
        data = result.model_dump(mode="json", exclude={"rendered"})
        data["report_paths"] = result.report_paths
        print_json(data)
    elif dry_run:
        for rendered in result.rendered:
            typer.echo(f"Subject: {rendered.subject}\n\n{rendered.text}")
    elif verbose or stdout_is_tty():
        typer.echo(result.summary)
    if result.exit_code:
        failed = "; ".join(f"{site.label}: {site.error}" for site in result.sites if site.exit_code)
        raise ScannerError(failed, exit_code=ExitCode(result.exit_code))


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM handler: raise KeyboardInterrupt in the main thread (the CLI exits 130)."""
    raise KeyboardInterrupt


def register(app: typer.Typer) -> None:
    """Add `run` to the app."""
    app.command("run")(run)
