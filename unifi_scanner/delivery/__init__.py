"""Delivery stage: email, report files, uploads and webhooks, each reporting honestly whether it delivered.

`deliver()` runs the selected channels in a fixed order (files, email, uploads, webhooks) and returns
one `ChannelResult` per channel (per upload target); the checkpoint advances only when every result is
ok. When email or an upload fails the report is always kept in the reports directory
(`DeliveryOutcome.fallback_paths`), even with the file channel off, so a failed run never loses a report.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import ValidationError

from unifi_scanner.delivery import files, mail, upload, webhooks
from unifi_scanner.delivery.apprise import check_apprise, deliver_apprise
from unifi_scanner.delivery.mail import check_smtp
from unifi_scanner.delivery.summary import build_summary
from unifi_scanner.delivery.upload import check_uploads
from unifi_scanner.errors import ConfigError
from unifi_scanner.models import ChannelResult, DeliveryOutcome, RenderedReport, Report
from unifi_scanner.settings import Settings

__all__ = [
    "CHANNELS",
    "check_smtp",
    "check_uploads",
    "check_webhooks",
    "deliver",
    "enabled_channels",
    "load_report",
    "parse_channels",
    "select_channels",
]

CHANNELS = ("email", "file", "upload", "webhook")


def enabled_channels(settings: Settings) -> set[str]:
    """The channels the settings turn on: email, file, upload when any upload URL is set, and webhook
    when any webhook/Apprise URL is set."""
    enabled = set()
    if settings.email_enabled:
        enabled.add("email")
    if settings.file_enabled:
        enabled.add("file")
    if settings.upload_urls:
        enabled.add("upload")
    if webhooks.configured(settings) or settings.apprise_urls:
        enabled.add("webhook")
    return enabled


def parse_channels(text: str | None) -> set[str] | None:
    """Parse `--channel email,file,upload,webhook`; None when not given. ConfigError for an unknown name."""
    if text is None:
        return None
    names = {part.strip().lower() for part in text.split(",") if part.strip()}
    unknown = sorted(names - set(CHANNELS))
    if unknown or not names:
        raise ConfigError(
            f"--channel: unknown channel {', '.join(unknown) or repr(text)} "
            f"(choose from {', '.join(CHANNELS)})"
        )
    return names


def select_channels(settings: Settings, channels: set[str] | None = None) -> set[str]:
    """The channels to run: the enabled ones, restricted to `channels` when given.

    Asking for a channel that is not configured, or ending with none at all, is a configuration error;
    so is an upload whose back end is not installed, found here, before anything is collected.
    """
    enabled = enabled_channels(settings)
    if channels is None:
        if not enabled:
            raise ConfigError(
                "no delivery channel is enabled (set UNIFI_EMAIL_ENABLED, UNIFI_FILE_ENABLED, "
                "UNIFI_UPLOAD_URLS or a webhook URL)"
            )
        selected = enabled
    else:
        missing = sorted(set(channels) - enabled)
        if missing:
            raise ConfigError(f"channel {', '.join(missing)} is not enabled in the settings")
        if not channels:
            raise ConfigError("no delivery channel selected")
        selected = set(channels)
    if "upload" in selected:
        upload.ensure_installed(settings.upload_urls)
    return selected


def deliver(
    report: Report,
    rendered: RenderedReport,
    settings: Settings,
    *,
    channels: set[str] | None = None,
    dry_run: bool = False,
) -> DeliveryOutcome:
    """Deliver `report` through the selected channels and say, per channel, what really happened.

    Files and uploads go before webhooks so chat summaries can link to them. `dry_run` builds every
    message and reports what would be sent, sending, uploading and writing nothing.
    """
    selected = select_channels(settings, channels)
    outcome = DeliveryOutcome()
    written: list[Path] = []
    if "file" in selected:
        result = files.deliver_files(report, rendered, settings, dry_run=dry_run)
        written = [Path(path) for path in result.paths]
        outcome.results.append(result)
    if "email" in selected:
        result = mail.deliver_email(report, rendered, settings, dry_run=dry_run)
        outcome.results.append(result)
    if "upload" in selected:
        outcome.results.extend(upload.deliver_uploads(report, rendered, settings, dry_run=dry_run))
    # A failed email or upload keeps the report locally; a failed file channel could not write there.
    if any(not result.ok for result in outcome.results if result.channel != "file"):
        outcome.fallback_paths = [str(path) for path in files.save_fallback(report, rendered, settings)]
        written = written or [Path(path) for path in outcome.fallback_paths]
    if "webhook" in selected:
        summary = build_summary(report, rendered, settings, written)
        outcome.results.extend(webhooks.deliver_webhooks(summary, rendered, settings, dry_run=dry_run))
        if settings.apprise_urls:
            outcome.results.append(deliver_apprise(summary, settings, dry_run=dry_run))
    return outcome


def check_webhooks(settings: Settings) -> list[ChannelResult]:
    """Check every configured webhook (and Apprise) without posting a message; never names a URL."""
    results = [
        webhooks.check_webhook(service, url, settings) for service, url in webhooks.configured(settings)
    ]
    if settings.apprise_urls:
        results.append(check_apprise(settings))
    return results


def load_report(source: Path) -> Report:
    """Load a saved Report from a JSON file (`-`: stdin), or a directory's report.json (else its newest).

    Raises ConfigError when nothing usable is found.
    """
    path = source
    if str(source) == "-":
        return _parse_report(sys.stdin.buffer.read(), "stdin")
    if source.is_dir():
        path = source / "report.json"
        if not path.is_file():
            candidates = sorted(
                p for p in source.glob("unifi-report-*.json") if files.REPORT_NAME.match(p.name)
            )
            if not candidates:
                raise ConfigError(f"{source}: no report.json or unifi-report-*.json in this directory")
            path = max(candidates, key=lambda p: p.name[-21:])
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return _parse_report(data, str(path))


def _parse_report(data: bytes, name: str) -> Report:
    """Validate a saved report, or raise ConfigError saying where it is not one."""
    try:
        return Report.model_validate_json(data)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem.get("loc", ())) or "document"
        raise ConfigError(f"{name}: not a unifi-scanner report ({where}: {problem['msg']})") from None
