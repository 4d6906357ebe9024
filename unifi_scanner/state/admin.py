"""What `state show` and `state reset` do: describe the state directory, move the checkpoint."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from unifi_scanner.settings import Settings
from unifi_scanner.state.history import RunHistory, RunRecord
from unifi_scanner.state.lock import RunLock
from unifi_scanner.state.store import Checkpoint, StateStore
from unifi_scanner.timeutil import iso_z


class StateDescription(BaseModel):
    """Everything `state show` prints: the checkpoint in use, the backup, and the last runs."""

    directory: str
    checkpoint: Checkpoint | None
    source: str = Field(description="Where the checkpoint came from: state, backup or none.")
    notes: list[str] = Field(default_factory=list)
    backup: str
    runs: list[RunRecord] = Field(default_factory=list)


def describe_state(settings: Settings, *, runs: int = 10, directory: Path | None = None) -> StateDescription:
    """Read the state directory (or one site's, `directory`) without changing it (a newer release's
    checkpoint raises StateError)."""
    store = StateStore(directory or settings.effective_state_dir)
    loaded = store.load()
    return StateDescription(
        directory=str(store.directory), checkpoint=loaded.checkpoint, source=loaded.source,
        notes=loaded.notes, backup=store.backup_status(), runs=RunHistory(store.directory).last(runs),
    )


def reset_checkpoint(settings: Settings, to: datetime | None, *, checkpoint: bool = True,
                     forget_incidents: bool = False, directory: Path | None = None) -> str:
    """Move the checkpoint to `to`, or remove it (next run is a first run), and/or forget the incidents.

    The memory (incidents, trends, admin addresses) outlives a moved or removed checkpoint unless
    `forget_incidents`, which forgets the incidents only: the next report calls everything new.
    `checkpoint=False` leaves the window where it is. The previous file is kept as the backup. Takes
    the run lock, so it never races a run (LockHeldError, exit 4). `directory` picks one site's state
    in a run over many sites. Returns what was done, in one line.
    """
    store = StateStore(directory or settings.effective_state_dir)
    store.ensure_writable()
    with RunLock(store.directory):
        current = store.load().checkpoint or Checkpoint()
        memory = current.memory
        done = []
        if forget_incidents:
            done.append(f"{len(memory.incidents)} remembered incidents forgotten")
            memory = memory.model_copy(update={"incidents": {}})
        if not checkpoint:
            kept = current
        elif to is None:
            kept = Checkpoint()
            done.append("checkpoint removed: the next run is a first run")
        else:
            kept = Checkpoint(last_successful_run=to)
            done.append(f"checkpoint set to {iso_z(to)}: the next run reports from there (minus the overlap)")
        store.save(kept.model_copy(update={"memory": memory}))
    return f"{'; '.join(done)}; the previous state is kept as {store.backup_path}"
