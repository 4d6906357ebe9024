"""Command-line entry point: parse, call a stage, map the typed result to output and an exit code.

`main()` runs a command: it catches the `ScannerError` family once and prints one line per problem on
stderr, so no command ever ends in a traceback for a condition a user can cause. `entry()`, the
console script, runs it and ends the process.
"""

from __future__ import annotations

import os
import sys


def entry() -> None:
    """The console script (and `python -m unifi_scanner`): run `main()`, then end the process at once.

    Everything a command writes is complete when `main()` returns: files are closed by their `with`
    blocks and the checkpoint is synced and renamed into place. Python's own shutdown would then free
    every object of the run one by one and collect the garbage a last time, which took a run on 100k
    events 0.13 s, about as long as rendering its report. Log handlers and the standard streams are
    flushed first; a reader that went away (`unifi-scanner report ... | head`) is not an error.
    """
    code = main()
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return (as the process exit status) one of the documented exit codes."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        # Answer before importing Typer, Rich and pydantic: cron wrappers call this to probe the install.
        from unifi_scanner import __version__

        print(f"unifi-scanner {__version__}")
        return 0

    from unifi_scanner.cli.app import build_command
    from unifi_scanner.errors import ScannerError

    command = build_command()
    try:
        # Standalone mode lets Typer report usage errors itself (exit 2); our own failures come out
        # of it as ScannerError and are reported here, once.
        command.main(args=args, prog_name="unifi-scanner", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except ScannerError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"unifi-scanner: error: {line}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("unifi-scanner: interrupted", file=sys.stderr)
        return 130
    return 0
