"""Two rough edges of delivery found when tried as a new user would (issue 16): a sender written as
`Name <address>`, and `send DIR` on the reports directory of an ordinary run. Both failed before."""

from __future__ import annotations

import json
from email import message_from_bytes, policy

from tests.delivery.factories import make_report
from tests.delivery.test_send_cli import email_env
from unifi_scanner.fake import FakeController


def test_a_sender_written_as_name_and_address_is_accepted_and_named(cli, smtp_server, tmp_path):
    port, inbox = smtp_server("none")
    report = tmp_path / "report.json"
    report.write_text(make_report().model_dump_json())
    env = {**email_env(port, tmp_path / "reports"), "UNIFI_EMAIL_FROM": 'UniFi Scanner <scanner@example.net>'}
    sent = cli("send", str(report), env=env)
    assert sent.returncode == 0, sent.stderr
    (received,) = inbox.messages
    assert received.mail_from == "scanner@example.net"
    msg = message_from_bytes(received.content.replace(b"\r\n", b"\n"), policy=policy.default)
    assert msg["From"].addresses[0].display_name == "UniFi Scanner"
    assert msg["From"].addresses[0].addr_spec == "scanner@example.net"
    # Only what is not an address is refused, in one line naming the setting.
    refused = cli("send", str(report), env={**env, "UNIFI_EMAIL_FROM": "UniFi Scanner <not-an-address>"})
    assert refused.returncode == 2
    assert refused.stderr.strip().endswith("'not-an-address' is not a valid email address")
    assert "UNIFI_EMAIL_FROM" in refused.stderr and "Traceback" not in refused.stderr


def test_send_re_sends_the_newest_report_of_an_ordinary_runs_directory(cli, smtp_server, tmp_path):
    reports = tmp_path / "reports"
    with FakeController(events=300, seed=7, tls=True) as fake:
        env = {"UNIFI_HOST": fake.url, "UNIFI_USERNAME": fake.username, "UNIFI_PASSWORD": fake.password,
               "UNIFI_TLS_FINGERPRINT": fake.cert_sha256, "UNIFI_REPORTS_DIR": str(reports),
               "UNIFI_SEND_EMPTY": "true"}  # the default file format, html and text
        ran = cli("run", env=env)
        assert ran.returncode == 0, ran.stderr
    (kept,) = reports.glob("unifi-report-*.json")
    port, inbox = smtp_server("none")
    env = {**email_env(port, tmp_path / "elsewhere"), "UNIFI_EMAIL_ATTACH": "json"}
    sent = cli("send", str(reports), env=env)
    assert sent.returncode == 0, sent.stderr
    (received,) = inbox.messages
    msg = message_from_bytes(received.content.replace(b"\r\n", b"\n"), policy=policy.default)
    attached = next(part for part in msg.iter_attachments() if part.get_content_type() == "application/json")
    assert json.loads(attached.get_content())["window"] == json.loads(kept.read_text())["window"]
