"""`unifi-scanner send` through the real CLI (subprocess) and in-process for the output forms."""

from __future__ import annotations

import json
import os
from email import message_from_bytes, policy

import pytest
from typer.testing import CliRunner

from tests.delivery.factories import SENDER, make_rendered, make_report
from unifi_scanner.cli.app import app
from unifi_scanner.models import RenderedReport


@pytest.fixture
def report_json(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(make_report(site="Büro").model_dump_json())
    return path


def email_env(port: int, reports) -> dict[str, str]:
    return {
        "UNIFI_EMAIL_ENABLED": "true",
        "UNIFI_SMTP_HOST": "127.0.0.1",
        "UNIFI_SMTP_PORT": str(port),
        "UNIFI_SMTP_TLS": "none",
        "UNIFI_EMAIL_FROM": SENDER,
        "UNIFI_EMAIL_TO": "admin@example.com",
        "UNIFI_EMAIL_BCC": "hidden@example.com",
        "UNIFI_REPORTS_DIR": str(reports),
        "UNIFI_FILE_ENABLED": "false",
    }


def test_send_through_the_real_cli_to_a_real_smtp_server(cli, smtp_server, report_json, tmp_path):
    port, inbox = smtp_server("none")
    result = cli("send", str(report_json.parent), "--json", env=email_env(port, tmp_path / "reports"))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is True and [r["channel"] for r in data["results"]] == ["email"]
    (received,) = inbox.messages
    assert received.rcpt_tos == ["admin@example.com", "hidden@example.com"]
    msg = message_from_bytes(received.content.replace(b"\r\n", b"\n"), policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative" and "Bcc" not in msg
    assert "UniFi Report" in msg["Subject"]


def test_send_failure_exits_1_keeps_the_report_and_it_can_be_resent(cli, smtp_server, report_json, tmp_path):
    port, inbox = smtp_server("none", replies=["554 5.7.1 rejected"])
    reports = tmp_path / "reports"
    result = cli("send", str(report_json), env=email_env(port, reports))
    assert result.returncode == 1, result.stderr
    assert "email\tFAILED" in result.stdout and "554 5.7.1 rejected" in result.stdout
    assert "fallback\tsaved" in result.stdout
    assert sorted(os.listdir(reports)) == [".archive.lock", "archive.json", "index.html"] + [
        f"unifi-report-Buro-20261122T060000Z.{ext}" for ext in ("html", "json", "txt")
    ]
    assert inbox.messages == []

    # The kept report can be sent again from the reports directory once the server accepts it.
    again = cli("send", str(reports), env=email_env(port, reports))
    assert again.returncode == 0, again.stderr
    (received,) = inbox.messages
    assert (
        "Büro"
        in message_from_bytes(received.content, policy=policy.default).get_body(("plain",)).get_content()
    )


def test_send_with_no_enabled_channel_is_a_config_error(cli, report_json):
    result = cli("send", str(report_json), "--channel", "webhook")
    assert result.returncode == 2
    assert result.stderr.strip() == "unifi-scanner: error: channel webhook is not enabled in the settings"
    result = cli("send", str(report_json), env={"UNIFI_FILE_ENABLED": "false"})
    assert result.returncode == 2 and "no delivery channel is enabled" in result.stderr


def test_send_missing_report_is_a_config_error(cli, tmp_path):
    result = cli("send", str(tmp_path / "nope.json"))
    assert result.returncode == 2 and "cannot read" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def fake_renderer(monkeypatch):
    """render_all replaced by the hand-made rendering, so these tests only exercise `send` itself."""
    import unifi_scanner.renderer as renderer

    def render_all(report, settings) -> RenderedReport:
        return make_rendered(report)

    monkeypatch.setattr(renderer, "render_all", render_all, raising=False)


def test_send_dry_run_prints_plain_lines_and_writes_nothing(fake_renderer, report_json, tmp_path):
    reports = tmp_path / "reports"
    result = CliRunner().invoke(
        app, ["send", str(report_json), "--dry-run"], env={"UNIFI_REPORTS_DIR": str(reports)}
    )
    assert result.exit_code == 0, result.output
    channel, status, detail = result.output.strip().split("\t")
    assert (channel, status) == ("file", "ok") and detail.startswith("dry run: would write")
    assert not reports.exists()


def test_send_help_has_an_example():
    result = CliRunner().invoke(app, ["send", "--help"])
    assert result.exit_code == 0 and "unifi-scanner send" in result.output and "--dry-run" in result.output


def test_send_reads_the_report_from_stdin(cli, report_json, tmp_path):
    reports = tmp_path / "reports"
    env = {"UNIFI_FILE_ENABLED": "true", "UNIFI_FILE_FORMAT": "json", "UNIFI_REPORTS_DIR": str(reports)}
    result = cli("send", "-", env=env, input=report_json.read_text())
    assert result.returncode == 0, result.stderr
    (written,) = reports.glob("unifi-report-*.json")
    assert json.loads(written.read_text())["site"] == "Büro"
    bad = cli("send", "-", env=env, input='{"x": 1}')
    assert bad.returncode == 2
    assert bad.stderr.startswith("unifi-scanner: error: stdin: not a unifi-scanner report")


def test_send_table_prints_server_words_literally(monkeypatch, capsys):
    from unifi_scanner.cli import send as send_cli
    from unifi_scanner.models import ChannelResult, DeliveryOutcome

    monkeypatch.setattr(send_cli, "stdout_is_tty", lambda: True)
    detail = "550 [/red] rejected [bold]x"
    send_cli._print_table(DeliveryOutcome(results=[ChannelResult(channel="email", ok=False, detail=detail)]))
    assert detail in capsys.readouterr().out
