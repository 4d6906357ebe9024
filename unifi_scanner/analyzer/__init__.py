"""The analyzer stage: a collection document in, a `Report` of findings out.

Events from every source are normalised into one model (`normalize`), matched against the data-driven
rule catalogue (`rules.yaml`, loaded by `rules`), and folded into bounded aggregates (`engine`), so a
site with a million events costs no more memory than one with a hundred.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from unifi_scanner.analyzer.engine import Engine
from unifi_scanner.analyzer.rules import load_catalogue
from unifi_scanner.gcutil import long_lived_objects_frozen
from unifi_scanner.models import CollectionItem, Report
from unifi_scanner.settings import Settings
from unifi_scanner.timeutil import ensure_utc, utcnow

__all__ = ["analyze"]


def analyze(
    items: Iterable[CollectionItem],
    settings: Settings,
    *,
    generated_at: datetime | None = None,
    first_run: bool = False,
    lookback_hours: float | None = None,
    notes: Sequence[str] = (),
    known_admin_ips: set[str] | None = None,
) -> Report:
    """Analyse a collection (as `document.iter_collection` yields it) into a `Report`, in one pass.

    `known_admin_ips`, when given, is the set of addresses admins normally log in from (e.g. kept by
    the run pipeline); logins from other addresses become findings. Without it, "new" means new within
    this collection's window. Raises ConfigError when the items hold no collection header.
    """
    engine = Engine(load_catalogue(), settings, known_admin_ips=known_admin_ips)
    with long_lived_objects_frozen():
        for item in items:
            engine.feed(item)
    return engine.report(
        generated_at=ensure_utc(generated_at) if generated_at else utcnow(),
        first_run=first_run,
        lookback_hours=lookback_hours,
        notes=notes,
    )
