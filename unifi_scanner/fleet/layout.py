"""Where each site's state lives when a run covers several: `<state dir>/<controller>/<site>/`.

Each site directory holds that site's checkpoint (with its incident memory), backup, lock and run
history, and nothing in it refers to another site. A state directory used by the single-site form
(`UNIFI_SITE`, state at its top) is adopted as `default/<site>` the first time a run covers several
sites, so its checkpoint, memory and history carry over.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pydantic import BaseModel, Field

from unifi_scanner.errors import ConfigError, ScannerError
from unifi_scanner.fleet.plan import DEFAULT_CONTROLLER, NAME
from unifi_scanner.fsutil import fsync_dir
from unifi_scanner.models import UtcDatetime
from unifi_scanner.state import RunHistory, RunLock, StateStore
from unifi_scanner.state.history import HISTORY_FILE
from unifi_scanner.state.store import BACKUP_FILE, STATE_FILE

log = logging.getLogger(__name__)

ADOPTED = (BACKUP_FILE, HISTORY_FILE, STATE_FILE)
"""The single-site files that move, the checkpoint last: a crash midway leaves it in place to retry."""


def site_directory(root: Path, controller: str, site: str) -> Path:
    """The state directory of one site; ConfigError for a site name that cannot be a directory name.

    Site names come from the controller's site list (`all`), so they are checked like any controller
    string: no separators, no `..`.
    """
    if not NAME.match(controller):
        raise ConfigError(f"controller name {controller!r} cannot name a state directory")
    if not NAME.match(site):
        raise ConfigError(f"site name {site!r} of controller {controller} cannot name a state directory")
    return Path(root) / controller / site


def adopt_single_site_state(root: Path, site: str) -> str | None:
    """Move a single-site state directory's checkpoint, backup and history into `default/<site>`.

    Runs under the top directory's lock, so no single-site run writes there meanwhile. Returns what was
    done, in one line, or None when there was nothing to adopt.
    """
    root = Path(root)
    target = site_directory(root, DEFAULT_CONTROLLER, site)
    if not (root / STATE_FILE).exists() or (target / STATE_FILE).exists():
        return None
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    with RunLock(root):
        for name in ADOPTED:
            if (root / name).exists():
                os.replace(root / name, target / name)
        fsync_dir(target)
        fsync_dir(root)
    done = f"adopted the single-site state of {root} as {target} (its checkpoint and history carry over)"
    log.warning(done)
    return done


class SiteState(BaseModel):
    """One site directory of a run over many sites, in one line (for `state show`)."""

    label: str
    checkpoint: UtcDatetime | None = None
    open_incidents: int = 0
    last_exit: int | None = None
    last_error: str | None = None
    problem: str | None = Field(None, description="Why the directory could not be read.")


def site_states(root: Path) -> list[SiteState]:
    """Every `<controller>/<site>` state directory under `root`, read without changing anything."""
    lines = []
    for path in sorted(Path(root).glob(f"*/*/{STATE_FILE}")):
        directory = path.parent
        line = SiteState(label=f"{directory.parent.name}/{directory.name}")
        try:
            loaded = StateStore(directory).load().checkpoint
        except ScannerError as exc:
            line.problem = str(exc)
        else:
            if loaded is not None:
                line.checkpoint = loaded.last_successful_run
                line.open_incidents = len(loaded.memory.open_incidents)
        last = RunHistory(directory).last(1)
        if last:
            line.last_exit, line.last_error = last[0].exit_code, last[0].error
        lines.append(line)
    return lines
