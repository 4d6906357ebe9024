"""The checkpoint store: atomic writes with a backup, fallbacks on corruption, refusals."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from unifi_scanner.errors import ExitCode, StateError
from unifi_scanner.settings import Settings
from unifi_scanner.state import Checkpoint, StateStore, bounded_ids, check_state_dir
from unifi_scanner.state.store import BACKUP_FILE, STATE_FILE, mount_point, volume_warning

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _checkpoint(hours: int = 0, ids: list[str] | None = None) -> Checkpoint:
    return Checkpoint(last_successful_run=T0 + timedelta(hours=hours), reported_ids=ids or [])


def test_missing_file_is_a_first_run(tmp_path: Path) -> None:
    loaded = StateStore(tmp_path).load()
    assert (loaded.checkpoint, loaded.source, loaded.notes) == (None, "none", [])


def test_save_writes_utc_z_mode_0600_and_keeps_the_previous_state_as_backup(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save(_checkpoint(0, ["a"]))
    store.save(_checkpoint(1, ["b"]))
    data = json.loads((tmp_path / STATE_FILE).read_text())
    assert data["last_successful_run"] == "2026-11-01T13:00:00.000Z"
    assert data["schema_version"] == 2 and data["reported_ids"] == ["b"]
    assert stat.S_IMODE((tmp_path / STATE_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / BACKUP_FILE).stat().st_mode) == 0o600
    assert store.read(tmp_path / BACKUP_FILE).last_successful_run == T0
    assert store.load().checkpoint.last_successful_run == T0 + timedelta(hours=1)
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("garbage", [b"", b"{\"schema_version\": 1, \"last_succ", b"\xff\xfe", b"[]",
                                     b'{"schema_version": 1, "last_successful_run": "yesterday"}'])
def test_corrupt_state_falls_back_to_the_backup_with_a_note(tmp_path: Path, garbage: bytes, caplog) -> None:
    store = StateStore(tmp_path)
    store.save(_checkpoint(0))
    store.save(_checkpoint(1))
    (tmp_path / STATE_FILE).write_bytes(garbage)
    loaded = store.load()
    assert loaded.source == "backup"
    assert loaded.checkpoint.last_successful_run == T0
    assert "resumed from the backup checkpoint of 2026-11-01T12:00:00.000Z" in loaded.notes[0]
    assert any(record.levelname == "WARNING" for record in caplog.records)


def test_corrupt_state_and_backup_fall_back_to_a_first_run(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_text("{not json")
    (tmp_path / BACKUP_FILE).write_text("also not json")
    loaded = StateStore(tmp_path).load()
    assert loaded.checkpoint is None and loaded.source == "none"
    assert "first-run lookback" in loaded.notes[0]


def test_unreadable_state_falls_back(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save(_checkpoint(0))
    store.save(_checkpoint(1))
    (tmp_path / STATE_FILE).unlink()
    (tmp_path / STATE_FILE).mkdir()  # unreadable even for root: reading a directory fails
    loaded = store.load()
    assert loaded.source == "backup" and "unreadable or corrupt" in loaded.notes[0]


def test_a_corrupt_state_never_overwrites_a_good_backup(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save(_checkpoint(0))
    store.save(_checkpoint(1))
    (tmp_path / STATE_FILE).write_text("garbage")
    store.save(_checkpoint(2))
    assert store.read(tmp_path / BACKUP_FILE).last_successful_run == T0
    assert store.load().checkpoint.last_successful_run == T0 + timedelta(hours=2)


def test_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    newer = b'{"schema_version": 3, "last_successful_run": "2026-11-01T12:00:00Z", "what": 1}'
    (tmp_path / STATE_FILE).write_bytes(newer)
    store = StateStore(tmp_path)
    with pytest.raises(StateError) as error:
        store.load()
    assert "schema version 3" in str(error.value) and "Upgrade unifi-scanner" in str(error.value)
    assert error.value.exit_code == ExitCode.STATE
    with pytest.raises(StateError):
        store.save(_checkpoint(3))
    assert (tmp_path / STATE_FILE).read_bytes() == newer


def test_bounded_ids_keep_the_newest() -> None:
    seen = {f"id{i}": T0 + timedelta(seconds=i) for i in range(10)}
    assert bounded_ids(seen, limit=3) == ["id9", "id8", "id7"]
    assert bounded_ids(seen) == list(seen)


def test_leftovers_of_killed_runs_are_removed(tmp_path: Path) -> None:
    (tmp_path / ".collect-abc").mkdir()
    (tmp_path / ".collect-abc" / "collection.jsonl").write_text("x")
    (tmp_path / f".{STATE_FILE}.xyz.tmp").write_text("partial")
    (tmp_path / ".write-test-abc").write_text("")
    (tmp_path / "keep.html").write_text("report")
    StateStore(tmp_path).remove_leftovers()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["keep.html"]


def test_unwritable_directory_names_directory_owner_and_running_uid(tmp_path: Path) -> None:
    """Run as an unprivileged uid in a forked child (root can write anywhere)."""
    if os.getuid() != 0:
        pytest.skip("needs root to switch to another uid")
    base = Path(tempfile.mkdtemp(prefix="unwritable-", dir="/tmp"))  # pytest's tmp_path is 0700
    os.chmod(base, 0o755)
    state_dir = base / "state"
    state_dir.mkdir(mode=0o755)
    nobody = pwd.getpwnam("nobody").pw_uid
    settings = Settings(reports_dir=state_dir)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop privileges, try, report through the pipe
        os.close(read_end)
        try:
            os.setgid(nobody)
            os.setuid(nobody)
            try:
                message = "no error: " + check_state_dir(settings)
            except StateError as exc:
                message = f"{int(exc.exit_code)} {exc}"
            except BaseException as exc:
                message = f"unexpected {exc!r}"
            os.write(write_end, message.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    shutil.rmtree(base)
    assert message.startswith("5 state directory ")
    assert str(state_dir) in message
    assert "owned by uid 0 (root)" in message
    assert f"runs as uid {nobody} (nobody)" in message


def test_check_state_dir_describes_the_checkpoint(tmp_path: Path) -> None:
    settings = Settings(reports_dir=tmp_path / "new")
    assert "next run is a first run" in check_state_dir(settings)
    StateStore(tmp_path / "new").save(_checkpoint(0))
    line = check_state_dir(settings)
    assert "writable" in line and "checkpoint 2026-11-01T12:00:00.000Z" in line and "no backup" in line


MOUNTINFO = """\
22 1 0:21 / / rw,relatime - overlay overlay rw
23 22 0:22 / /proc rw - proc proc rw
40 22 8:1 /var/lib/docker/volumes/state/_data /var/lib/unifi-scanner rw - ext4 /dev/sda1 rw
41 22 8:1 /x /data\\040dir rw - ext4 /dev/sda1 rw
"""


def test_mount_point_finds_the_volume_holding_a_path() -> None:
    lines = MOUNTINFO.splitlines()
    assert mount_point(Path("/var/lib/unifi-scanner/sub"), lines) == "/var/lib/unifi-scanner"
    assert mount_point(Path("/var/lib/unifi-scanner-other"), lines) == "/"
    assert mount_point(Path("/data dir/x"), lines) == "/data dir"
    assert mount_point(Path("/tmp"), lines) == "/"


def test_volume_warning_only_in_a_container_off_a_volume(tmp_path: Path, monkeypatch) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(MOUNTINFO)
    monkeypatch.setattr("unifi_scanner.state.store.in_container", lambda: True)
    warning = volume_warning(Path("/srv/state"), mountinfo)
    assert "/srv/state is not on a mounted volume" in warning
    assert volume_warning(Path("/var/lib/unifi-scanner"), mountinfo) is None
    monkeypatch.setattr("unifi_scanner.state.store.in_container", lambda: False)
    assert volume_warning(Path("/srv/state"), mountinfo) is None


def test_a_version_1_checkpoint_is_read_and_upgraded_in_place_by_the_next_save(tmp_path: Path) -> None:
    version_1 = (b'{"schema_version": 1, "last_successful_run": "2026-11-01T12:00:00.000Z", '
                 b'"reported_ids": ["event:a"], '
                 b'"admin_addresses": {"192.168.1.20": "2026-10-30T08:00:00.000Z"}}')
    (tmp_path / STATE_FILE).write_bytes(version_1)
    store = StateStore(tmp_path)
    loaded = store.load().checkpoint
    assert loaded.schema_version == 2 and loaded.last_successful_run == T0
    assert loaded.reported_ids == ["event:a"]
    assert loaded.memory.admin_addresses == {"192.168.1.20": datetime(2026, 10, 30, 8, tzinfo=UTC)}
    assert loaded.memory.incidents == {} and loaded.memory.reports == []
    assert (tmp_path / STATE_FILE).read_bytes() == version_1  # reading changes nothing
    store.save(loaded.model_copy(update={"last_successful_run": T0 + timedelta(hours=1)}))
    data = json.loads((tmp_path / STATE_FILE).read_text())
    assert data["schema_version"] == 2 and "admin_addresses" not in data
    assert data["memory"]["admin_addresses"] == {"192.168.1.20": "2026-10-30T08:00:00.000Z"}
    assert (tmp_path / BACKUP_FILE).read_bytes() == version_1  # the old version stays as the backup
    assert store.read(tmp_path / BACKUP_FILE).memory.admin_addresses == loaded.memory.admin_addresses
