"""`python -m unifi_scanner` runs the CLI."""

from unifi_scanner.cli import entry

entry()
