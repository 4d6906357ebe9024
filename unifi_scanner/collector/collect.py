"""The collection run: connect once, write the header, stream every source page by page, write the footer.

Fatal conditions (unreachable, TLS, authentication, unknown site) end the run with a ControllerError
and no footer, so a half-written document can never pass for a complete one. Anything a single source
meets (an endpoint missing on this version, an error answer) is recorded in that source's outcome and
the run goes on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from pydantic import BaseModel

from unifi_scanner import __version__
from unifi_scanner.document import CollectionWriter
from unifi_scanner.errors import ControllerProtocolError
from unifi_scanner.gcutil import long_lived_objects_frozen
from unifi_scanner.models import ControllerInfo, Footer, Header, SourceOutcome, SourceStatus, Window
from unifi_scanner.settings import Settings
from unifi_scanner.timeutil import utcnow

from .auth import Connection, connect
from .http import ApiError
from .sources import SOURCES, Context, SourceRun, controller_facts, rows_of

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]


class CollectStats(BaseModel):
    """What a collection run produced: the header and footer it wrote, and its request and page counts."""

    header: Header
    footer: Footer
    requests: int
    pages: int


def collect(settings: Settings, window: Window, writer: CollectionWriter, *,
            progress: Progress | None = None) -> CollectStats:
    """Collect everything in `window` from the configured controller and site into `writer`.

    Writes the Header, the Device/Client/Health items, every Record, and the Footer with each source's
    outcome, flushing after each page. `progress(source, records_so_far)` is called after every page.
    Raises ControllerError (exit 3) when the controller cannot be used at all.
    """
    with long_lived_objects_frozen():
        conn = connect(settings)
        try:
            return collect_site(conn, settings, window, writer, progress=progress)
        finally:
            conn.close()


def collect_site(conn: Connection, settings: Settings, window: Window, writer: CollectionWriter, *,
                 progress: Progress | None = None) -> CollectStats:
    """Collect `settings.site` over an open connection: the document of one site (header to footer).

    A run over several sites of one controller calls it once per site on one login. The statistics'
    request count is the connection's so far (its login included).
    """
    conn.site = settings.site
    ctx = Context(conn, window, settings)
    header = Header(
        generator=f"unifi-scanner {__version__}", collected_at=utcnow(),
        controller=conn.info(**controller_facts(ctx)), site=settings.site, window=window,
    )
    writer.write(header)
    writer.flush()
    outcomes = [_run_source(ctx, name, source, writer, progress) for name, source in SOURCES]
    footer = Footer(sources=outcomes, counts=dict(writer.counts))
    writer.write(footer)
    writer.flush()
    return CollectStats(header=header, footer=footer, requests=conn.http.requests, pages=ctx.pages)


def _run_source(ctx: Context, name: str, source: Callable, writer: CollectionWriter,
                progress: Progress | None) -> SourceOutcome:
    """Stream one source into the writer and return its outcome; source-level errors do not end the run."""
    run = SourceRun(name)
    try:
        for items in source(ctx, run):
            writer.write_all(items)
            run.count += len(items)
            writer.flush()
            if progress is not None:
                progress(name, run.count)
            del items  # not held while the source reads its next page
    except ApiError as exc:
        if exc.not_found:
            endpoint = re.sub(r"^.*?/(api/s|v2/api/site)/[^/]+/", "", exc.path)
            run.mark(SourceStatus.UNSUPPORTED, f"{endpoint} not available on {ctx.network}")
        else:
            run.mark(SourceStatus.FAILED, str(exc))
    except ControllerProtocolError as exc:
        run.mark(SourceStatus.FAILED, str(exc))
    outcome = run.outcome()
    log.info("%s: %s, %d records%s", name, outcome.status.value, outcome.count,
             f" ({outcome.detail})" if outcome.detail else "")
    return outcome


def check_controller(settings: Settings) -> ControllerInfo:
    """Log in, read sysinfo (which also checks the site) and log out; raises ControllerError subclasses."""
    conn = connect(settings)
    try:
        return conn.info(**controller_facts(Context(conn, Window(since=utcnow(), until=utcnow()), settings)))
    finally:
        conn.close()


def site_names(conn: Connection) -> list[str]:
    """The names (as in URLs) of every site the account can see, for `UNIFI_SITES=all`."""
    rows = rows_of(conn.get(conn.api_path("self/sites")))
    return [str(row["name"]) for row in rows if isinstance(row, dict) and row.get("name")]
