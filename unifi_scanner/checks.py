"""`check`: verify every part of the configuration against the real services, without side effects
(an upload target's probe file is deleted again at once).

Each check returns one `CheckResult`; a failing check does not stop the others, so one `check` run shows
every problem at once (settings, state directory, controller login, SMTP login, upload targets,
webhooks).
"""

from __future__ import annotations

from pydantic import BaseModel

from unifi_scanner.errors import ExitCode, ScannerError
from unifi_scanner.models import ChannelResult
from unifi_scanner.settings import Settings


class CheckResult(BaseModel):
    """The outcome of one check: `ok`, `failed` or `skipped`, with a one-line detail."""

    name: str
    status: str
    detail: str
    exit_code: int = 0


def _attempt(name: str, action) -> CheckResult:  # noqa: ANN001 - a zero-argument callable returning text
    """Run one check, turning a ScannerError into a failed result that carries its exit code."""
    try:
        return CheckResult(name=name, status="ok", detail=action())
    except ScannerError as exc:
        return CheckResult(name=name, status="failed", detail=str(exc), exit_code=int(exc.exit_code))


def run_checks(settings: Settings) -> list[CheckResult]:
    """Check the state directory, the controller, SMTP, every upload target and every webhook configured.

    Settings have already loaded (a settings problem ends the command before this runs, with exit 2).
    """
    from unifi_scanner.delivery import check_smtp, check_uploads, check_webhooks
    from unifi_scanner.fleet.plan import plan
    from unifi_scanner.state import check_state_dir

    results = [CheckResult(name="settings", status="ok", detail="all settings valid")]
    results.append(_attempt("state", lambda: check_state_dir(settings)))
    named = bool(settings.controllers)
    for controller in plan(settings):
        results.append(_check_controller(controller.name, controller.settings, named=named))
    if settings.email_enabled:
        results.append(_attempt("smtp", lambda: check_smtp(settings)))
    else:
        results.append(CheckResult(name="smtp", status="skipped", detail="email delivery is off"))
    if settings.upload_urls:
        try:
            results += [_delivered(target) for target in check_uploads(settings)]
        except ScannerError as exc:
            results.append(CheckResult(name="upload", status="failed", detail=str(exc),
                                       exit_code=int(exc.exit_code)))
    results += [_delivered(webhook) for webhook in check_webhooks(settings)]
    return results


def _delivered(result: ChannelResult) -> CheckResult:
    """A channel's check (an upload target, a webhook) as a check result; failed means exit 1."""
    return CheckResult(
        name=result.channel,
        status="ok" if result.ok else "failed",
        detail=result.detail,
        exit_code=0 if result.ok else int(ExitCode.DELIVERY_FAILED),
    )


def _check_controller(name: str, settings: Settings, *, named: bool) -> CheckResult:
    """Log in to one controller and read its sysinfo (`controller`, or `controller hq` in a list)."""
    from unifi_scanner.collector import check_controller

    label = f"controller {name}" if named else "controller"
    if not settings.host:
        return CheckResult(name=label, status="failed", detail="UNIFI_HOST is not set",
                           exit_code=int(ExitCode.USAGE))

    def controller() -> str:
        info = check_controller(settings)
        version = f", Network {info.version}" if info.version else ""
        sites = ", ".join(settings.sites) if settings.sites else settings.site
        return f"logged in to {info.url} ({info.type}{version}, site {settings.site}; reports {sites})"

    return _attempt(label, controller)


def exit_code_for(results: list[CheckResult]) -> int:
    """0 when nothing failed, else the exit code of the first failed check."""
    return next((result.exit_code for result in results if result.status == "failed"), 0)
