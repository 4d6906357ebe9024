"""The checkpoint: where the last delivered window ended, and which events near that end were reported.

The checkpoint lives in `<state dir>/.last_run.json` and is only ever replaced whole (temporary file,
fsync, rename, fsync of the directory), so a crash at any moment leaves either the old or the new
file. Before each replacement the current good file is copied to `.last_run.json.bak`; a corrupt or
unreadable checkpoint falls back to that copy, then to a first run, and says so in the log and in the
report header. A checkpoint written by a newer release is refused rather than overwritten.

The same file carries the site's memory (`memory.model`: incidents, report summaries, admin
addresses), so the window's end and what the delivered reports said move in one atomic replace and
can never disagree. The file format is versioned (`SCHEMA_VERSION`); an older version is upgraded as
it is read (`MIGRATIONS`) and written in the new version by the next committed run.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import shutil
import tempfile
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer

from unifi_scanner.errors import StateError
from unifi_scanner.fsutil import atomic_write
from unifi_scanner.memory.model import Memory
from unifi_scanner.models import UtcDatetime
from unifi_scanner.settings import Settings
from unifi_scanner.timeutil import iso_z, utcnow

log = logging.getLogger(__name__)

STATE_FILE = ".last_run.json"
BACKUP_FILE = ".last_run.json.bak"
SCHEMA_VERSION = 2
MAX_REPORTED_IDS = 50_000
STATE_MODE = 0o600
# Leftovers of a run killed mid-way: its collection directory and atomic_write's temporary files.
# `.collect-*`: where runs before the streaming collector (commit b58c6c2) kept their collection; a
# run of those killed mid-way left up to gigabytes behind, still worth cleaning after an upgrade.
_LEFTOVER_PATTERNS = (".collect-*", ".write-test-*", f".{STATE_FILE}.*.tmp", f".{BACKUP_FILE}.*.tmp")


class Checkpoint(BaseModel):
    """The content of `.last_run.json`."""

    model_config = ConfigDict(extra="ignore")

    schema_version: int = SCHEMA_VERSION
    last_successful_run: UtcDatetime | None = Field(
        None, description="End of the last delivered window (exclusive); None until a first delivery."
    )
    pending_since: UtcDatetime | None = Field(
        None, description="Start of the first window, fixed before anything was delivered, so that a first "
        "run that fails or is killed is retried from the same start instead of a sliding lookback.",
    )
    last_report_count: int = Field(0, description="Findings in the last delivered report.")
    last_event_count: int = Field(0, description="Events in the last delivered report.")
    reported_ids: list[str] = Field(
        default_factory=list,
        description="Ids of events already reported that the next window's overlap will read again.",
    )
    memory: Memory = Field(
        default_factory=Memory,
        description="Incidents, report summaries and admin addresses of the delivered reports (`memory`).")
    updated_at: UtcDatetime = Field(default_factory=utcnow)

    @field_serializer("last_successful_run", "pending_since", "updated_at")
    def _iso(self, moment: datetime | None) -> str | None:
        return None if moment is None else iso_z(moment)

    @property
    def label(self) -> str:
        """The checkpoint in words: its time, or the pending first window's start."""
        if self.last_successful_run is not None:
            return iso_z(self.last_successful_run)
        if self.pending_since is not None:
            return f"none yet (the first window, from {iso_z(self.pending_since)}, is not delivered yet)"
        return "none"


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 keeps what the runs remember (incidents, trends, admin addresses) in `memory`."""
    memory = {"admin_addresses": data.pop("admin_addresses", None) or {}}
    return {**data, "schema_version": 2, "memory": memory}


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}
"""Version N's document → version N+1's. A migrated checkpoint is written in the new version by the
next committed run (the older file stays as the backup until then, and after it)."""


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """Bring a checkpoint document of an older schema version up to `SCHEMA_VERSION`, step by step."""
    version = data.get("schema_version", 1)
    while isinstance(version, int) and version in MIGRATIONS and version < SCHEMA_VERSION:
        data = MIGRATIONS[version](data)
        version = data["schema_version"]
    return data


class _Version(BaseModel):
    """Only the version of a checkpoint file (the rest is skipped unparsed)."""

    model_config = ConfigDict(extra="ignore")

    schema_version: int = 1


class _AdminAddresses(BaseModel):
    """A memory's admin addresses only (the rest skipped unparsed)."""

    model_config = ConfigDict(extra="ignore")

    admin_addresses: dict[str, UtcDatetime] = Field(default_factory=dict)


class _WithoutMemory(Checkpoint):
    """A checkpoint read without the memory's incidents and summaries (`StateStore.read`)."""

    memory: _AdminAddresses = Field(default_factory=_AdminAddresses)  # type: ignore[assignment]


class LoadedState(BaseModel):
    """What `StateStore.load` found: the checkpoint to resume from (None: first run) and why."""

    checkpoint: Checkpoint | None
    source: Literal["state", "backup", "none"]
    notes: list[str] = Field(default_factory=list, description="Warnings for the report header.")


def bounded_ids(seen: dict[str, datetime], limit: int = MAX_REPORTED_IDS) -> list[str]:
    """The ids to remember, newest first, at most `limit` of them.

    When the overlap holds more events than the limit, the newest are kept: they are the ones the next
    window is sure to read again.
    """
    if len(seen) <= limit:
        return list(seen)
    return [event_id for event_id, _ in sorted(seen.items(), key=lambda item: item[1], reverse=True)[:limit]]


class StateStore:
    """Reads and writes the checkpoint files of one state directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / STATE_FILE
        self.backup_path = self.directory / BACKUP_FILE

    # ------------------------------------------------------------------ reading

    def read(self, path: Path, *, memory: bool = True) -> Checkpoint:
        """Parse one checkpoint file strictly; with `memory` False, leave out the incidents and summaries.

        Raises OSError or ValueError (pydantic's ValidationError among them) when the file is unreadable
        or corrupt, and StateError when it was written by a newer release (whose meaning this release
        cannot know). A file of this version is parsed straight into models: at the memory's bounds,
        going through Python dicts first would double the few MiB it takes.
        """
        raw = path.read_bytes()
        version = _Version.model_validate_json(raw).schema_version
        if version > SCHEMA_VERSION:
            raise StateError(
                f"{path} has schema version {version}; this release understands up to {SCHEMA_VERSION}. "
                "Upgrade unifi-scanner (the file is left untouched)."
            )
        if version < SCHEMA_VERSION:
            checkpoint = Checkpoint.model_validate(upgrade(json.loads(raw)))
        elif memory:
            return Checkpoint.model_validate_json(raw)
        else:
            # The parser skips the incidents and summaries without building a Python object for them.
            checkpoint = _WithoutMemory.model_validate_json(raw)
        fields = {name: getattr(checkpoint, name) for name in Checkpoint.model_fields}
        kept = checkpoint.memory if memory else Memory(admin_addresses=checkpoint.memory.admin_addresses)
        return Checkpoint.model_construct(**{**fields, "memory": kept})

    def load(self, *, memory: bool = True) -> LoadedState:
        """Return the checkpoint to resume from, falling back to the backup, then to a first run.

        With `memory` False the incidents and report summaries are left out (the admin addresses
        stay): a run reads them with `read_memory` only after collecting, so their few MiB are not held,
        and copied into the collector process, while it works.

        A missing file is an ordinary first run. Every fallback is logged as a warning and described
        in `notes`, which the run puts in the report header.
        """
        if not self.path.exists():
            log.info("no checkpoint at %s: first run", self.path)
            return LoadedState(checkpoint=None, source="none")
        try:
            return LoadedState(checkpoint=self.read(self.path, memory=memory), source="state")
        except (OSError, ValueError, ValidationError) as exc:
            problem = f"{self.path} is unreadable or corrupt ({_describe(exc)})"
        try:
            checkpoint = self.read(self.backup_path, memory=memory)
        except (OSError, ValueError, ValidationError) as exc:
            note = (
                f"{problem}, and so is its backup ({_describe(exc)}): this run starts over with the "
                "first-run lookback, so some events may be reported again."
            )
            log.warning(note)
            return LoadedState(checkpoint=None, source="none", notes=[note])
        note = (
            f"{problem}: resumed from the backup checkpoint of {checkpoint.label}, "
            "so some events may be reported again."
        )
        log.warning(note)
        return LoadedState(checkpoint=checkpoint, source="backup", notes=[note])

    def read_memory(self, source: Literal["state", "backup", "none"]) -> Memory:
        """The whole memory of the file a `load` used (`LoadedState.source`); empty for none."""
        if source == "none":
            return Memory()
        return self.read(self.path if source == "state" else self.backup_path).memory

    def backup_status(self) -> str:
        """One line about the backup file: missing, corrupt, or the checkpoint it holds."""
        if not self.backup_path.exists():
            return "no backup"
        try:
            return f"backup of {self.read(self.backup_path).label}"
        except (OSError, ValueError, ValidationError) as exc:
            return f"backup unusable ({_describe(exc)})"

    # ------------------------------------------------------------------ writing

    def save(self, checkpoint: Checkpoint) -> None:
        """Replace the checkpoint atomically and durably, first keeping the current good one as backup."""
        self._backup_current()
        # Compact: with the memory the file is a few hundred KiB, a third of it indentation when pretty.
        atomic_write(self.path, checkpoint.model_dump_json().encode() + b"\n", mode=STATE_MODE)

    def _backup_current(self) -> None:
        """Copy the current checkpoint to the backup file, if it is a good one.

        A corrupt current file is not copied over a good backup. A file from a newer release raises
        StateError (via `read`), so it is never overwritten or discarded.
        """
        try:
            current = self.path.read_bytes()
            self.read(self.path)
        except (OSError, ValueError, ValidationError):
            return
        atomic_write(self.backup_path, current, mode=STATE_MODE)

    def ensure_writable(self) -> None:
        """Create the state directory if needed and prove it writable, or raise StateError (exit 5).

        The message names the directory, its owner and the running user: the usual cause is a volume
        owned by another uid than the container's.
        """
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=self.directory)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise StateError(
                f"state directory {self.directory} is not writable ({exc.strerror}): "
                f"{_ownership(self.directory)}"
                "; fix its ownership or set UNIFI_STATE_DIR to a writable directory"
            ) from None

    def remove_leftovers(self) -> None:
        """Delete what runs killed mid-way left behind (call only while holding the run lock)."""
        for pattern in _LEFTOVER_PATTERNS:
            for leftover in self.directory.glob(pattern):
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)


def _describe(exc: BaseException) -> str:
    """A short reason for a failed read: the OS error, the JSON error, or the first validation error."""
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _user(uid: int) -> str:
    """`uid N (name)`, or just the number when the uid has no passwd entry (common in containers)."""
    try:
        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return f"uid {uid}"


def _ownership(directory: Path) -> str:
    """Who owns the directory (or its nearest existing parent) and who is running."""
    existing = next((path for path in (directory, *directory.parents) if path.exists()), Path("/"))
    info = existing.stat()
    where = "it is" if existing == directory else f"it does not exist and its parent {existing} is"
    return (
        f"{where} owned by {_user(info.st_uid)} with mode {info.st_mode & 0o777:04o}, "
        f"and unifi-scanner runs as {_user(os.getuid())}"
    )


# ---------------------------------------------------------------------- containers


def in_container() -> bool:
    """True inside a Docker or Podman container."""
    return Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()


def mount_point(path: Path, mountinfo: Iterable[str]) -> str:
    """The mount point holding `path`, from /proc/self/mountinfo lines (field 5 is the mount point)."""
    target = str(path)
    best = "/"
    for line in mountinfo:
        fields = line.split()
        if len(fields) < 5:
            continue
        point = fields[4].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best = point
    return best


def volume_warning(directory: Path, mountinfo: Path = Path("/proc/self/mountinfo")) -> str | None:
    """A warning when, inside a container, the state directory is not on a mounted volume.

    Without a volume the checkpoint vanishes with the container, and every run is a first run.
    """
    if not in_container():
        return None
    resolved = directory.resolve()
    try:
        with open(mountinfo, encoding="utf-8") as handle:
            on_volume = mount_point(resolved, handle) != "/"
    except OSError:
        existing = next(path for path in (resolved, *resolved.parents) if path.exists())
        on_volume = existing.stat().st_dev != Path("/").stat().st_dev
    if on_volume:
        return None
    return (
        f"state directory {directory} is not on a mounted volume: the checkpoint will vanish with the "
        "container and every run will be a first run (mount a volume there)"
    )


def check_state_dir(settings: Settings) -> str:
    """For `check`: prove the state directory writable and describe the checkpoint, in one line.

    Raises StateError (exit 5) when the directory is not writable or the checkpoint is from a newer
    release. Creates the directory if it is missing; otherwise writes only a probe file it removes.
    """
    store = StateStore(settings.effective_state_dir)
    store.ensure_writable()
    loaded = store.load()
    if loaded.checkpoint is None:
        summary = "no usable checkpoint: the next run is a first run"
    else:
        summary = f"checkpoint {loaded.checkpoint.label} (from the {loaded.source} file)"
    parts = [f"{store.directory} writable", summary, store.backup_status()]
    warning = volume_warning(store.directory)
    if warning:
        parts.append(f"WARNING: {warning}")
    return "; ".join(parts)
