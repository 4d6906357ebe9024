"""The run history: one JSON line per run in `<state dir>/runs.jsonl`, the last 1,000 runs.

Each run appends its line with a single write, then flush and fsync; a run killed mid-append can leave
at most one torn last line, which readers skip and the next append starts a fresh line after. When the
file holds more than the limit, it is rewritten atomically with only the newest lines.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from unifi_scanner.fsutil import atomic_write
from unifi_scanner.models import ChannelResult, SeverityCounts, UtcDatetime, Window

log = logging.getLogger(__name__)

HISTORY_FILE = "runs.jsonl"
MAX_RUNS = 1_000
HISTORY_MODE = 0o600


class RunRecord(BaseModel):
    """One line of the run history."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    started_at: UtcDatetime
    ended_at: UtcDatetime | None = None
    window: Window | None = None
    first_run: bool = False
    events: int = Field(0, description="New events in the window (already reported ones not counted).")
    duplicates_dropped: int = 0
    findings: SeverityCounts = Field(default_factory=SeverityCounts)
    sent: bool = Field(False, description="Whether a report was handed to the delivery channels.")
    held_back: str | None = Field(
        None, description="Why email and webhooks were not sent (UNIFI_NOTIFY, nothing to report), if not.")
    channels: list[ChannelResult] = Field(default_factory=list)
    checkpoint_advanced: bool = False
    exit_code: int = 0
    error: str | None = None


class RunHistory:
    """Appends to and reads the run history of one state directory."""

    def __init__(self, directory: Path, *, limit: int = MAX_RUNS) -> None:
        self.path = Path(directory) / HISTORY_FILE
        self.limit = limit

    def append(self, record: RunRecord) -> None:
        """Append one run durably, then trim the file to the newest `limit` runs if it grew past them."""
        line = record.model_dump_json().encode() + b"\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, HISTORY_MODE)
        try:
            size = os.fstat(fd).st_size
            # A torn last line (a run killed mid-append) must not swallow this one.
            if size and _last_byte(self.path, size) != b"\n":
                line = b"\n" + line
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        lines = self.path.read_bytes().splitlines(keepends=True)
        if len(lines) > self.limit:
            atomic_write(self.path, b"".join(lines[-self.limit:]), mode=HISTORY_MODE)

    def last(self, count: int) -> list[RunRecord]:
        """The newest `count` runs, oldest first; torn or foreign lines are skipped."""
        try:
            lines = self.path.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        records = []
        for line in lines[-count:] if count else []:
            try:
                records.append(RunRecord.model_validate_json(line))
            except ValidationError:
                log.debug("skipping an unreadable line of %s", self.path)
        return records


def _last_byte(path: Path, size: int) -> bytes:
    """The file's last byte (the append descriptor cannot read)."""
    with open(path, "rb") as handle:
        handle.seek(size - 1)
        return handle.read(1)
