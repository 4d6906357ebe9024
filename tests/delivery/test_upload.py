"""The upload channel against real servers on loopback: moto's S3 server and an asyncssh SFTP server.

What lands where (`<site>/<YYYY>/<MM>/<file name>`), atomic writes on SFTP, retention of our own old
files only, the target's archive page, retries and failures without a credential in sight, `check`'s
probe file, and the missing extra found before anything is collected.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from tests.delivery.factories import make_rendered, make_report, make_settings
from tests.delivery.upload_servers import (
    AWS_ENV,
    KEY_USER,
    PASSWORD,
    PASSWORD_USER,
    moto_server,
    s3_target,
    sftp_server,
    sftp_target,
)
from unifi_scanner.checks import run_checks
from unifi_scanner.delivery import archive, deliver, select_channels
from unifi_scanner.delivery.files import content_for, report_filename
from unifi_scanner.delivery.upload import classify, deliver_uploads
from unifi_scanner.errors import ConfigError, ExitCode
from unifi_scanner.logs import REDACTED, redact
from unifi_scanner.memory.notify import decide
from unifi_scanner.models import Changes

MONTH = "default/2026/11"
OLD = "default/2025/01/unifi-report-default-20250101T000000Z.html"
FOREIGN = "default/2025/01/notes.txt"


@pytest.fixture(scope="module")
def endpoint():
    """One moto S3 server for the module; each test makes its own bucket."""
    with moto_server() as server:
        yield server.endpoint


@pytest.fixture
def s3(endpoint, monkeypatch):
    """A fresh bucket and the target `s3://<bucket>/unifi/`, with fake AWS credentials in the env."""
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    return s3_target(endpoint, f"test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def sftp(tmp_path, isolated_env, monkeypatch):
    """An SFTP server serving tmp_path/sftp; the test's home trusts its host key and holds the key."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)  # the developer's agent keys are not the test's
    with sftp_server(tmp_path / "sftp", isolated_env) as server:
        yield server


def settings_for(tmp_path, target, **values):
    """File channel off, uploads to `target` (its S3 endpoint when it has one)."""
    endpoint = target.env.get("UNIFI_S3_ENDPOINT_URL")
    return make_settings(tmp_path / "reports", file_enabled=False, upload_urls=target.url,
                         s3_endpoint_url=endpoint, **values)


def at(hour: int, day: int = 22, month: int = 11, year: int = 2026):
    """The factory's report, generated at the given time (UTC)."""
    return make_report().model_copy(update={"generated_at": datetime(year, month, day, hour, tzinfo=UTC)})


def names_of(report, formats=("html", "json", "text")):
    """Where `report`'s files go in a target."""
    return {f"{MONTH}/{report_filename(report, fmt)}" for fmt in formats}


@pytest.fixture(params=["s3", "sftp"])
def target(request, tmp_path):
    """Each back end in turn: S3 and SFTP (key authentication)."""
    if request.param == "s3":
        return request.getfixturevalue("s3")
    return sftp_target(request.getfixturevalue("sftp"), KEY_USER)


def test_the_report_lands_under_site_year_month_with_its_file_names(tmp_path, target):
    report = make_report()
    rendered = make_rendered(report)
    [result] = deliver_uploads(report, rendered, settings_for(tmp_path, target), dry_run=False)
    assert result.ok, result.detail
    assert result.channel == f"upload:{target.label}"
    assert names_of(report) <= target.files()
    for fmt in ("html", "json", "text"):
        assert target.read(f"{MONTH}/{report_filename(report, fmt)}") == content_for(rendered, fmt)


def test_retention_deletes_only_our_old_files_by_the_time_in_their_names(tmp_path, target):
    target.seed(OLD, b"old report")
    target.seed(FOREIGN, b"someone else's")
    outside = "unifi-report-default-20250101T000000Z.html"  # our name, but not in our layout
    target.seed(outside, b"not in a month directory")
    report = make_report()
    [result] = deliver_uploads(report, make_rendered(report), settings_for(tmp_path, target), dry_run=False)
    assert result.ok and "deleted 1 report file(s) older than 30 days" in result.detail
    files = target.files()
    assert OLD not in files and {FOREIGN, outside} <= files and names_of(report) <= files


def test_retention_zero_keeps_everything(tmp_path, s3):
    s3.seed(OLD, b"old report")
    report = make_report()
    settings = settings_for(tmp_path, s3, file_retention_days=0)
    [result] = deliver_uploads(report, make_rendered(report), settings, dry_run=False)
    assert result.ok and OLD in s3.files()


def test_text_only_when_the_file_format_includes_it(tmp_path, s3):
    report = make_report()
    settings = settings_for(tmp_path, s3, file_format="html")
    deliver_uploads(report, make_rendered(report), settings, dry_run=False)
    assert {name for name in s3.files() if name.startswith(MONTH)} == names_of(report, ("html", "json"))


def test_each_target_keeps_an_archive_page_of_what_it_still_holds(tmp_path, target):
    old = at(0, 1, 1, 2025)
    target.seed(OLD, b"old report")
    target.seed(archive.MANIFEST, archive.dump_manifest([archive.entry_for(old, {"html": OLD})]))
    settings = settings_for(tmp_path, target)
    first, second = at(6), at(7)
    for report in (first, second):
        [result] = deliver_uploads(report, make_rendered(report), settings, dry_run=False)
        assert result.ok, result.detail
    entries = archive.load_manifest(target.read(archive.MANIFEST))
    assert [entry.files["html"] for entry in entries] == [
        f"{MONTH}/{report_filename(second, 'html')}", f"{MONTH}/{report_filename(first, 'html')}"]
    page = target.read(archive.INDEX).decode("utf-8")
    assert f"{MONTH}/{report_filename(second, 'html')}" in page and OLD not in page
    assert not any(".tmp-" in name for name in target.files())


def test_sftp_writes_leave_no_temporary_file(tmp_path, sftp):
    target = sftp_target(sftp, KEY_USER)
    report = make_report()
    [result] = deliver_uploads(report, make_rendered(report), settings_for(tmp_path, target), dry_run=False)
    assert result.ok
    assert target.files() == names_of(report) | {archive.MANIFEST, archive.INDEX}


def test_a_failed_rename_leaves_neither_a_temporary_file_nor_the_report(tmp_path, sftp, monkeypatch):
    def refuse(self, source, destination, **kwargs):
        raise PermissionError("rename refused")

    monkeypatch.setattr("sshfs.SSHFileSystem.mv", refuse)
    target = sftp_target(sftp, KEY_USER)
    report = make_report()
    [result] = deliver_uploads(report, make_rendered(report), settings_for(tmp_path, target), dry_run=False)
    assert not result.ok and result.attempts == 1 and "rename refused" in result.detail
    assert target.files() == set()


def test_sftp_password_authentication_and_no_secret_in_results_or_logs(tmp_path, sftp, caplog):
    caplog.set_level(logging.DEBUG)
    target = sftp_target(sftp, PASSWORD_USER)
    report = make_report()
    settings = settings_for(tmp_path, target, sftp_password=PASSWORD)
    [result] = deliver_uploads(report, make_rendered(report), settings, dry_run=False)
    assert result.ok and names_of(report) <= target.files()

    wrong = settings_for(tmp_path, target, sftp_password="not-the-password")
    [failed] = deliver_uploads(report, make_rendered(report), wrong, dry_run=False)
    assert not failed.ok and failed.attempts == 1 and "SSH authentication failed" in failed.detail
    everything = f"{result} {failed} {caplog.text}"
    assert PASSWORD not in everything and "not-the-password" not in everything


def test_credentials_in_a_url_never_reach_a_result_or_a_log(tmp_path, sftp, caplog):
    caplog.set_level(logging.DEBUG)
    url = f"sftp://{PASSWORD_USER}:{PASSWORD}@127.0.0.1:{sftp.port}/srv/unifi/"
    report = make_report()
    settings = make_settings(tmp_path / "reports", file_enabled=False, upload_urls=url)
    [result] = deliver_uploads(report, make_rendered(report), settings, dry_run=False)
    assert result.ok and result.channel == f"upload:sftp://127.0.0.1:{sftp.port}"
    sftp.stop()
    [failed] = deliver_uploads(report, make_rendered(report), settings, dry_run=False)
    assert not failed.ok and failed.channel == result.channel
    everything = f"{result} {failed} {caplog.text}"
    assert PASSWORD not in everything and f"{PASSWORD_USER}:" not in everything
    # The password is known to the log redactor, should any library quote the URL.
    assert redact(f"quoting {url}") == f"quoting {url.replace(PASSWORD, REDACTED)}"


def test_an_untrusted_host_key_fails_at_once(tmp_path, sftp, isolated_env):
    (isolated_env / ".ssh" / "known_hosts").write_text("", encoding="ascii")
    report = make_report()
    settings = settings_for(tmp_path, sftp_target(sftp, KEY_USER))
    [result] = deliver_uploads(report, make_rendered(report), settings, dry_run=False)
    assert not result.ok and result.attempts == 1
    assert "host key is not trusted" in result.detail and "known_hosts" in result.detail


def test_a_server_that_is_down_is_retried_then_fails(tmp_path, sftp, waits):
    target = sftp_target(sftp, KEY_USER)
    sftp.stop()
    report = make_report()
    [result] = deliver_uploads(report, make_rendered(report), settings_for(tmp_path, target), dry_run=False)
    assert not result.ok and result.attempts == 3 and waits == [1.0, 2.0]
    assert result.detail == "connection refused (after 3 attempts)"


def test_s3_down_is_retried_then_fails(tmp_path, monkeypatch, waits):
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    with moto_server() as gone:
        pass
    settings = make_settings(tmp_path / "reports", file_enabled=False, upload_urls="s3://bucket/unifi/",
                             s3_endpoint_url=gone.endpoint)
    report = make_report()
    [result] = deliver_uploads(report, make_rendered(report), settings, dry_run=False)
    assert not result.ok and result.attempts == 3 and waits == [1.0, 2.0]
    assert result.channel == "upload:s3://bucket" and "connection refused" in result.detail


def test_a_failed_upload_keeps_the_report_locally_even_with_the_file_channel_off(tmp_path, sftp):
    target = sftp_target(sftp, KEY_USER)
    sftp.stop()
    report = make_report()
    outcome = deliver(report, make_rendered(report), settings_for(tmp_path, target))
    assert not outcome.ok
    kept = {path.rsplit("/", 1)[-1] for path in outcome.fallback_paths}
    assert kept == {report_filename(report, fmt) for fmt in ("html", "text", "json")}
    assert all((tmp_path / "reports" / name).is_file() for name in kept)


def test_dry_run_uploads_nothing(tmp_path, s3):
    report = make_report()
    [result] = deliver_uploads(report, make_rendered(report), settings_for(tmp_path, s3), dry_run=True)
    assert result.ok and result.detail.startswith("dry run: would upload") and s3.files() == set()


def test_http_errors_are_temporary_only_for_429_and_5xx():
    def error(status: int) -> ClientError:
        answer = {"Error": {"Code": "X", "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return ClientError(answer, "PutObject")

    assert classify(error(503)).temporary and classify(error(429)).temporary
    assert not classify(error(403)).temporary and not classify(error(400)).temporary
    wrapped = OSError(5, "Internal Error")
    wrapped.__cause__ = error(500)
    assert classify(wrapped).temporary and "HTTP 500" in classify(wrapped).reason


def test_check_writes_and_deletes_a_probe_file_in_each_target(tmp_path, s3, sftp):
    down = sftp_target(sftp, KEY_USER)
    settings = make_settings(tmp_path / "reports", upload_urls=f"{s3.url},{down.url}",
                             s3_endpoint_url=s3.env["UNIFI_S3_ENDPOINT_URL"])
    results = {result.name: result for result in run_checks(settings)}
    assert results[f"upload:s3://{s3.bucket}"].status == "ok"
    assert results[f"upload:sftp://127.0.0.1:{sftp.port}"].status == "ok"
    assert s3.files() == set() and down.files() == set()  # the probes are gone again
    sftp.stop()
    failed = {result.name: result for result in run_checks(settings)}[f"upload:sftp://127.0.0.1:{sftp.port}"]
    assert failed.status == "failed" and failed.exit_code == ExitCode.DELIVERY_FAILED


@pytest.mark.parametrize(("url", "module"), [("s3://bucket/unifi/", "s3fs"), ("sftp://host/srv/", "sshfs"),
                                              ("s3://bucket/", "fsspec")])
def test_a_missing_back_end_is_a_config_error_naming_the_extra(tmp_path, monkeypatch, url, module):
    monkeypatch.setitem(sys.modules, module, None)  # what an absent package looks like to the import system
    settings = make_settings(tmp_path, upload_urls=url)
    with pytest.raises(ConfigError) as info:
        select_channels(settings)
    assert info.value.exit_code == ExitCode.USAGE
    scheme = url.split(":")[0]
    assert str(info.value) == (f"UNIFI_UPLOAD_URLS needs the upload extra ({module}, for {scheme}://, "
                               "is not installed): pip install 'unifi-scanner[upload]'")
    assert select_channels(settings, {"file"}) == {"file"}  # the upload is not asked for: no problem
    checks = {result.name: result for result in run_checks(settings)}
    assert checks["upload"].status == "failed" and checks["upload"].exit_code == ExitCode.USAGE


def test_an_unknown_protocol_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="fsspec knows no protocol 'nosuch'"):
        select_channels(make_settings(tmp_path, upload_urls="nosuch://somewhere/"))


def test_the_cli_stops_before_collecting_when_the_extra_is_missing(tmp_path, free_port):
    # The controller's port is closed: reaching it would end with exit 3, not 2.
    env = {"UNIFI_HOST": f"https://127.0.0.1:{free_port}", "UNIFI_USERNAME": "u", "UNIFI_PASSWORD": "p",
           "UNIFI_REPORTS_DIR": str(tmp_path), "UNIFI_UPLOAD_URLS": "s3://bucket/unifi/"}
    code = ("import sys; sys.modules['s3fs'] = None; sys.argv = ['unifi-scanner', 'run'];"
            "from unifi_scanner.cli import entry; entry()")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'unifi-scanner[upload]'" in lines[0] and "s3fs" in lines[0]


def test_manifest_json_is_valid_json_in_the_target(tmp_path, s3):
    report = make_report()
    deliver_uploads(report, make_rendered(report), settings_for(tmp_path, s3), dry_run=False)
    document = json.loads(s3.read(archive.MANIFEST))
    assert [item["stem"] for item in document["reports"]] == [report_filename(report, "html")[:-5]]


def test_a_plain_path_is_a_target_too(tmp_path):
    share = tmp_path / "share"
    report = make_report()
    settings = make_settings(tmp_path / "reports", file_enabled=False, upload_urls=str(share))
    [result] = deliver_uploads(report, make_rendered(report), settings, dry_run=False)
    assert result.ok and result.channel == "upload:file://"
    written = {path.relative_to(share).as_posix() for path in share.rglob("*") if path.is_file()}
    assert written == names_of(report) | {archive.MANIFEST, archive.INDEX}


def test_a_report_held_back_by_notify_is_not_uploaded(tmp_path):
    quiet = make_report(changes=Changes(ongoing=2))
    decision = decide(quiet, make_settings(tmp_path, notify="changes"), {"file", "upload"})
    assert decision.channels == {"file"} and decision.held_back
