"""Uploads through the real CLI: `unifi-scanner run` against the fake controller over TLS, uploading to
moto's S3 server and to an asyncssh SFTP server on loopback.

For each back end: a first run uploads the report (the very bytes of the local report files) under
`default/<YYYY>/<MM>/` and deletes only our old file, a second run adds its own, the target's archive
page lists both, and with the server gone a run fails the channel: exit 1, the checkpoint as it was,
the report kept in the reports directory, nothing secret in the output.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.delivery.upload_servers import (
    KEY_USER,
    PASSWORD,
    PASSWORD_USER,
    moto_server,
    s3_target,
    sftp_server,
    sftp_target,
)
from tests.pipeline.e2e import run_env
from unifi_scanner.delivery import archive
from unifi_scanner.delivery.files import REPORT_NAME
from unifi_scanner.fake import FakeController
from unifi_scanner.state.store import STATE_FILE

OLD = "default/2025/01/unifi-report-default-20250101T000000Z.html"
FOREIGN = "default/2025/01/notes.txt"


@pytest.fixture
def fake():
    """A small fake controller over TLS."""
    with FakeController(events=200, seed=7, tls=True) as controller:
        yield controller


@pytest.fixture
def no_agent(monkeypatch):
    """The developer's SSH agent stays out of the CLI's way: the test's keys are the only keys."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


def environment(fake, tmp_path: Path, target, **extra: str) -> dict[str, str]:
    """A scheduled run: report files and uploads to `target`, state apart from the reports."""
    return run_env(fake, tmp_path / "state", None, UNIFI_STATE_DIR=str(tmp_path / "state"),
                   UNIFI_REPORTS_DIR=str(tmp_path / "reports"), UNIFI_FILE_ENABLED="true",
                   UNIFI_SEND_EMPTY="true", UNIFI_UPLOAD_URLS=target.url, **target.env, **extra)


def uploaded_stems(target) -> set[str]:
    """The report stems (file names without extension) in `target`'s month directories."""
    return {name.rsplit("/", 1)[1].rsplit(".", 1)[0] for name in target.files()
            if name.count("/") == 3 and REPORT_NAME.match(name.rsplit("/", 1)[1])}


def local_files(reports: Path, stem: str) -> dict[str, bytes]:
    """The local report files of `stem`, by file name."""
    return {path.name: path.read_bytes() for path in reports.glob(f"{stem}.*")}


def month_of(stem: str) -> str:
    """`default/<YYYY>/<MM>` of a report stem (its time is its last 16 characters)."""
    stamp = stem[-16:]
    return f"default/{stamp[:4]}/{stamp[4:6]}"


def after_the_second_of(stem: str) -> None:
    """Let the clock leave the second `stem` was generated in, when it has not yet: report file names
    have one-second resolution, and a run within that second would replace its files, not add to them."""
    generated = datetime.strptime(stem[-16:], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    time.sleep(max(0.0, generated + 1 - time.time()))


def scenario(cli, fake, tmp_path: Path, target, stop) -> None:
    """Two runs that upload, then one with the server gone (see the module's docstring)."""
    target.seed(OLD, b"an old report of ours")
    target.seed(FOREIGN, b"someone else's file")
    env = environment(fake, tmp_path, target)
    reports, state = tmp_path / "reports", tmp_path / "state"

    first = cli("run", env=env)
    assert first.returncode == 0, first.stderr
    [stem] = uploaded_stems(target)
    local = local_files(reports, stem)
    assert sorted(local) == [f"{stem}.html", f"{stem}.json", f"{stem}.txt"]
    for name, data in local.items():
        assert target.read(f"{month_of(stem)}/{name}") == data
    assert OLD not in target.files() and target.read(FOREIGN) == b"someone else's file"
    assert "DeprecationWarning" not in first.stderr  # asyncssh's import is quiet

    after_the_second_of(stem)
    second = cli("run", env=env)
    assert second.returncode == 0, second.stderr
    stems = uploaded_stems(target)
    assert len(stems) == 2 and stem in stems
    manifest = json.loads(target.read(archive.MANIFEST))
    newest_first = sorted(stems, key=lambda name: name[-16:], reverse=True)
    assert [entry["stem"] for entry in manifest["reports"]] == newest_first
    page = target.read(archive.INDEX).decode("utf-8")
    assert all(f"{month_of(name)}/{name}.html" in page for name in stems)

    checkpoint = (state / STATE_FILE).read_bytes()
    stop()
    failed = cli("run", env={**env, "UNIFI_FILE_ENABLED": "false"})
    assert failed.returncode == 1, failed.stderr
    assert f"upload:{target.label}" in failed.stderr and "checkpoint not advanced" in failed.stderr
    assert (state / STATE_FILE).read_bytes() == checkpoint
    # The report nobody received is in the reports directory, in every format, though files are off.
    [fallback] = {path.name.rsplit(".", 1)[0] for path in reports.glob("unifi-report-*")} - stems
    assert sorted(local_files(reports, fallback)) == [f"{fallback}.{ext}" for ext in ("html", "json", "txt")]
    assert "report kept at" in failed.stderr


def test_s3_runs_upload_add_retain_and_a_server_down_fails_the_channel(cli, fake, tmp_path):
    with moto_server() as server:
        target = s3_target(server.endpoint, "reports-bucket")
        scenario(cli, fake, tmp_path, target, server.stop)


def test_sftp_runs_upload_add_retain_and_a_server_down_fails_the_channel(cli, fake, tmp_path, isolated_env,
                                                                         no_agent):
    with sftp_server(tmp_path / "sftp", isolated_env) as server:
        scenario(cli, fake, tmp_path, sftp_target(server, KEY_USER), server.stop)


def test_sftp_with_a_password_and_check(cli, fake, tmp_path, isolated_env, no_agent):
    with sftp_server(tmp_path / "sftp", isolated_env) as server:
        target = sftp_target(server, PASSWORD_USER)
        env = environment(fake, tmp_path, target, UNIFI_SFTP_PASSWORD=PASSWORD)
        checked = cli("check", env=env)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert f"upload:{target.label}" in checked.stdout
        assert "wrote and deleted a probe file" in checked.stdout
        done = cli("run", env=env)
        assert done.returncode == 0, done.stderr
        assert len(uploaded_stems(target)) == 1
        assert not any(".tmp-" in name or ".unifi-scanner-probe-" in name for name in target.files())
        for output in (checked.stdout, checked.stderr, done.stdout, done.stderr):
            assert PASSWORD not in output
