"""Reports, rendered reports and settings built by hand for the delivery tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from unifi_scanner.models import (
    Affected,
    Category,
    ControllerInfo,
    Finding,
    RenderedReport,
    Report,
    Severity,
    SeverityCounts,
    Window,
)
from unifi_scanner.settings import Settings

GENERATED = datetime(2026, 11, 22, 6, 0, 0, tzinfo=UTC)
SENDER = "scanner@example.com"


def finding(
    number: int,
    severity: Severity = Severity.SEVERE,
    title: str | None = None,
    affected: list[Affected] | None = None,
) -> Finding:
    """One finding with a predictable id and title."""
    return Finding(
        id=f"f{number}",
        rule_id="rule",
        severity=severity,
        category=Category.SECURITY,
        title=title or f"Finding {number}",
        explanation="Why it matters.",
        remediation=["Fix it."],
        affected=affected or [],
        first_seen=GENERATED,
        last_seen=GENERATED,
    )


def make_report(site: str = "default", findings: list[Finding] | None = None, **extra: Any) -> Report:
    """A Report with the given findings and matching counts."""
    findings = findings if findings is not None else [finding(1), finding(2, Severity.MEDIUM)]
    counts = SeverityCounts(
        **{level.value: sum(1 for item in findings if item.severity == level) for level in Severity}
    )
    return Report(
        site=site,
        controller=ControllerInfo(url="https://unifi.example:443", type="unifi_os", auth="password"),
        window=Window(since=datetime(2026, 11, 21, 6, tzinfo=UTC), until=GENERATED),
        generated_at=GENERATED,
        findings=findings,
        counts=counts,
        total_events=42,
        **extra,
    )


def make_rendered(report: Report, subject: str | None = None, html: str | None = None) -> RenderedReport:
    """What the renderer would produce, in miniature: subject, text, HTML and the JSON."""
    return RenderedReport(
        subject=subject if subject is not None else f"UniFi Report - {report.site}",
        preheader="2 findings",
        text="UniFi report\n\nFinding 1\nFinding 2\n",
        html=html or "<html><body><h1>UniFi report</h1><p>Finding 1</p></body></html>",
        json_text=report.model_dump_json(),
    )


def make_settings(reports_dir: Path, **values: Any) -> Settings:
    """Settings with files in `reports_dir`, every other channel off unless given."""
    return Settings(reports_dir=reports_dir, **values)


def email_settings(reports_dir: Path, port: int, **values: Any) -> Settings:
    """Settings for email only, to a server on 127.0.0.1:`port`."""
    base: dict[str, Any] = {
        "email_enabled": True,
        "file_enabled": False,
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        "email_from": SENDER,
        "email_to": ["to@example.com"],
        "smtp_timeout": 10,
    }
    base.update(values)
    return make_settings(reports_dir, **base)
