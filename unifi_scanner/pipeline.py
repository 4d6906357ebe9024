"""The run cycle that cron calls: lock, checkpoint, collect, analyze, render, deliver, commit.

The promise is that every event is reported and none twice, whatever crashes. Three rules keep it:
the window always starts at the last *delivered* checkpoint (minus an overlap for events the controller
stores late), events already reported inside that overlap are dropped by id, and the checkpoint moves
only after every enabled channel has delivered. A crash before the commit repeats the window next time;
a crash after it loses nothing.
"""

from __future__ import annotations

import contextlib
import logging
import resource
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from unifi_scanner.errors import ConfigError, ControllerError, ScannerError
from unifi_scanner.memory.model import Memory
from unifi_scanner.memory.notify import decide
from unifi_scanner.models import (
    EVENT_KINDS,
    ChannelResult,
    CollectionItem,
    Footer,
    Record,
    RecordKind,
    RenderedReport,
    Report,
    SeverityCounts,
    SourceOutcome,
    SourceStatus,
    Window,
)
from unifi_scanner.settings import Settings
from unifi_scanner.state import (
    Checkpoint,
    LogTail,
    Pinger,
    RunHistory,
    RunLock,
    RunRecord,
    StateStore,
    bounded_ids,
    volume_warning,
)
from unifi_scanner.timeutil import iso_z, utcnow

log = logging.getLogger(__name__)

INTERRUPTED = 130  # the CLI's exit status for an interrupted run (128 + SIGINT)
DEMO_EVENTS = 400
DEMO_SEED = 7


class RunResult(BaseModel):
    """What one run did; the CLI maps it to output and an exit code."""

    run_id: str
    exit_code: int = 0
    dry_run: bool = False
    window: Window
    first_run: bool = False
    events: int = Field(0, description="New events in the window (already reported ones not counted).")
    duplicates_dropped: int = Field(0, description="Events dropped because an earlier report had them.")
    counts: SeverityCounts = Field(default_factory=SeverityCounts)
    sent: bool = Field(False, description="A report was handed to the delivery channels.")
    held_back: str | None = Field(None, description="Why email and webhooks were not sent, if not.")
    channels: list[ChannelResult] = Field(default_factory=list)
    checkpoint_advanced: bool = False
    checkpoint: datetime | None = Field(None, description="The checkpoint after this run.")
    fallback_paths: list[str] = Field(default_factory=list, description="Undelivered report kept here.")
    notes: list[str] = Field(default_factory=list)
    error: str | None = None
    subject: str | None = None
    rendered: RenderedReport | None = Field(None, description="The rendered report (dry runs).")

    @property
    def report_paths(self) -> list[str]:
        """Every report file this run wrote, delivered or kept after a failure."""
        return [path for result in self.channels for path in result.paths] + self.fallback_paths

    @property
    def summary(self) -> str:
        """One line for `--verbose` and terminals."""
        window = f"{iso_z(self.window.since)} .. {iso_z(self.window.until)}"
        counts = f"{self.counts.severe} severe, {self.counts.medium} medium, {self.counts.low} low"
        if self.dry_run:
            outcome = "dry run: nothing sent, checkpoint unchanged"
        elif self.exit_code:
            outcome = "delivery failed, checkpoint not advanced"
        else:
            outcome = "report sent" if self.sent else "nothing to send"
            if self.held_back:
                outcome = f"{'report files only' if self.sent else 'nothing sent'} ({self.held_back})"
        return f"{window}: {self.events} new events, {counts}; {outcome}"


STATE_KINDS = frozenset({RecordKind.ROGUE_AP})
"""Record kinds that describe current state, read again by every run on purpose: never de-duplicated."""


class Deduplicator:
    """Drops records an earlier report already had, and remembers those the next window will read again.

    Every time-stamped record takes part except current state (`STATE_KINDS`), keyed by kind and id:
    one underlying event can arrive through several feeds under one id (a threat is a system-log row
    and a traffic flow carrying its signature), and each copy in the overlap was reported already, but
    within one window both copies belong in the report (the analyzer merges them). Keys are remembered
    for every such record at or after `remember_from` (the start of the next overlap), including dropped
    ones, because the next window re-reads them too. `events` counts the new event records
    (`EVENT_KINDS`), and the footer's per-source counts are reduced by what was dropped, so the
    report's source counts describe what the report contains.
    """

    def __init__(self, reported: Iterable[str], remember_from: datetime) -> None:
        self.reported = set(reported)
        self.remember_from = remember_from
        self.seen: dict[str, datetime] = {}
        self.events = 0
        self.dropped = 0
        self.dropped_by_source: dict[str, int] = {}

    def filter(self, items: Iterable[CollectionItem]) -> Iterator[CollectionItem]:
        """Yield the collection's items without the already-reported records."""
        for item in items:
            if isinstance(item, Record) and item.kind not in STATE_KINDS:
                key = f"{item.kind.value}:{item.id}"
                repeat = key in self.reported or key in self.seen
                if item.time >= self.remember_from:
                    self.seen[key] = item.time
                if repeat:
                    self.dropped += 1
                    self.dropped_by_source[item.source] = self.dropped_by_source.get(item.source, 0) + 1
                    continue
                self.events += item.kind in EVENT_KINDS
            elif isinstance(item, Footer) and self.dropped_by_source:
                item = item.model_copy(update={"sources": [self._net(source) for source in item.sources]})
            yield item

    def _net(self, source: SourceOutcome) -> SourceOutcome:
        """A source's outcome with the records already reported taken off its count."""
        dropped = self.dropped_by_source.get(source.name, 0)
        if not dropped:
            return source
        detail = "; ".join(filter(None, [source.detail, f"{dropped} already reported, left out"]))
        return source.model_copy(update={"count": source.count - dropped, "detail": detail})


def collect_and_analyze(
    settings: Settings, window: Window, *, require_event_feed: bool = False,
    transform: Callable[[Iterator[CollectionItem]], Iterable[CollectionItem]] = lambda items: items,
    stream: contextlib.AbstractContextManager[Iterator[CollectionItem]] | None = None,
    **analyze_options: Any,
) -> Report:
    """Collect `window` and analyse the collection as it arrives, in one pass and flat memory.

    The collector runs in a child process (`collector.child`) that streams the collection document to
    the analyzer here, so the two work at the same time and nothing is written to disk: its own child,
    or `stream`, a site of a controller session already logged in (many sites, one login).
    `transform` sits between the stream and the analyzer (the run's de-duplication);
    `require_event_feed` refuses the report when the event log failed (see `_require_event_feed`).
    `analyze_options` go to `analyze`.
    """
    from unifi_scanner.collector.child import collection_stream

    with stream or collection_stream(settings, window) as items:
        # Imported here, while the collector logs in: the child needs none of it.
        from unifi_scanner.analyzer import analyze

        report = analyze(transform(items), settings, **analyze_options)
    if require_event_feed:
        _require_event_feed(report.sources)
    return report


def _require_event_feed(sources: list[SourceOutcome]) -> None:
    """Stop the run when the controller's event log could not be read completely.

    Delivering and committing would advance the checkpoint past events nobody saw. Failing here (exit 3)
    keeps the checkpoint, so the next run reports the whole window once the controller answers again.
    Best-effort sources (alarms, anomalies, IPS detail) only add a note to the report.
    """
    from unifi_scanner.collector import EVENT_FEEDS

    for source in sources:
        if source.name in EVENT_FEEDS and source.status is SourceStatus.FAILED:
            raise ControllerError(
                f"the controller's event log could not be read ({source.name}: {source.detail}); "
                "nothing was delivered and the checkpoint did not move, so the next run covers this window"
            )


def _window_start(settings: Settings, checkpoint: Checkpoint | None, since: datetime | None,
                  until: datetime) -> datetime:
    """Where the window begins: `--since`, else the checkpoint minus the overlap, else the start fixed by
    an undelivered first run, else the first-run lookback."""
    if since is not None:
        start = since
    elif checkpoint is not None and checkpoint.last_successful_run is not None:
        start = checkpoint.last_successful_run - timedelta(minutes=settings.overlap_minutes)
    elif checkpoint is not None and checkpoint.pending_since is not None:
        start = checkpoint.pending_since
    else:
        start = until - timedelta(hours=settings.lookback_hours)
    if start >= until:
        raise ConfigError(f"the window would start at {iso_z(start)}, not before now ({iso_z(until)})")
    return start


class SiteCycle:
    """One site's share of a run: its state directory, lock, window, report, commit and history line.

    `run_once` drives one cycle; a run over many sites (`fleet`) drives one per site and delivers their
    reports together. Call `lock`, then `start`, `analyze` and (after a successful delivery) `commit`,
    and always `close`, which writes the history line (once locked) and releases the lock.
    """

    def __init__(self, settings: Settings, directory: Path, *, dry_run: bool = False,
                 since: datetime | None = None, check_volume: bool = True) -> None:
        """Bind the site's settings and state directory; nothing is touched before `lock`.

        `check_volume` off skips the warning about a state directory outside a container volume (state
        throwaway on purpose, or a run over many sites that checked their common root once).
        """
        self.settings = settings
        self.store = StateStore(directory)
        self.history = RunHistory(self.store.directory)
        self.dry_run = dry_run
        self.since = since
        self.check_volume = check_volume
        self.record = RunRecord(run_id=str(uuid.uuid4()), started_at=utcnow())
        self.notes: list[str] = []
        self._lock: RunLock | None = None
        self._closed = False

    def lock(self) -> None:
        """Prove the state directory writable (exit 5) and take its lock (exit 4); a dry run does neither."""
        if self.dry_run:
            return
        self.store.ensure_writable()
        self._lock = RunLock(self.store.directory).__enter__()

    def start(self) -> Window:
        """Load the checkpoint (its memory waits until after collecting) and pick the window.

        A first run fixes its window's start in the state file at once, so a retry never slides past
        events; the checkpoint falls back to its backup, then to a first run, with a note for the report.
        """
        store, settings = self.store, self.settings
        if not self.dry_run:
            store.remove_leftovers()
        self.loaded = loaded = store.load(memory=False)
        self.notes = list(loaded.notes)
        warning = volume_warning(store.directory) if self.check_volume else None
        if warning:
            log.warning(warning)
            self.notes.append(warning)
        self.now = now = utcnow()
        self.until = until = now.replace(microsecond=now.microsecond // 1000 * 1000)
        self.checkpoint = checkpoint = loaded.checkpoint
        self.window = Window(since=_window_start(settings, checkpoint, self.since, until), until=until)
        self.first_run = self.since is None and (checkpoint is None or checkpoint.last_successful_run is None)
        self.record.window, self.record.first_run = self.window, self.first_run
        self._memory: Memory | None = None
        if self.first_run and not self.dry_run and (checkpoint is None or checkpoint.pending_since is None):
            self._memory = store.read_memory(loaded.source)
            store.save(Checkpoint(pending_since=self.window.since, memory=self._memory))
        overlap = timedelta(minutes=settings.overlap_minutes)
        self.dedup = Deduplicator(checkpoint.reported_ids if checkpoint else (), until - overlap)
        return self.window

    def analyze(self, stream: contextlib.AbstractContextManager[Iterator[CollectionItem]] | None = None
                ) -> Report:
        """Collect and analyze the window (exit 3 when the event log failed), then recall the memory.

        `stream` is the site's collection from a controller session (else a collector of its own). The
        incidents are read only now, so the collector process never holds them; the report comes back
        with every finding new or ongoing and what ended since the last report.
        """
        from unifi_scanner.memory.recall import recall

        checkpoint, window = self.checkpoint, self.window
        log.debug("run phase: collect %s .. %s", iso_z(window.since), iso_z(window.until))
        known_admins = set(checkpoint.memory.admin_addresses) if checkpoint else set()
        report = collect_and_analyze(
            self.settings, window, require_event_feed=True, transform=self.dedup.filter,
            generated_at=self.now, first_run=self.first_run,
            lookback_hours=self.settings.lookback_hours if self.first_run else None, notes=self.notes,
            known_admin_ips=known_admins or None, stream=stream,
        )
        memory = self._memory if self._memory is not None else self.store.read_memory(self.loaded.source)
        self._memory = None  # the recalled memory replaces it
        recalled = recall(report, memory, self.settings)
        # Kept as compact JSON until the commit: a tenth of the objects' size, for runs that hold many
        # sites' cycles until their combined report is delivered.
        self._remembered = recalled.memory.model_dump_json().encode()
        # Only what the commit needs is kept (the record's counts, not the report): a run over many sites
        # holds a cycle per site until their combined report is delivered, and a report of hundreds of
        # findings is megabytes.
        self.record.events, self.record.duplicates_dropped = self.dedup.events, self.dedup.dropped
        self.record.findings = recalled.report.counts
        return recalled.report

    def commit(self) -> None:
        """Write the new checkpoint with the memory, in one atomic replace (after delivery succeeded)."""
        log.debug("run phase: commit")
        self.store.save(Checkpoint(
            last_successful_run=self.until, last_report_count=self.record.findings.total,
            last_event_count=self.dedup.events, reported_ids=bounded_ids(self.dedup.seen),
            memory=Memory.model_validate_json(self._remembered),
        ))
        log.debug("run phase: committed %s", iso_z(self.until))
        self.record.checkpoint_advanced = True

    def close(self, exit_code: int, error: str | None) -> None:
        """Record how the site's run ended, in its history when it held the lock, and release the lock.

        Only the first call counts: a cycle already closed is left as it was.
        """
        if self._closed:
            return
        self._closed = True
        self.record.exit_code, self.record.error = exit_code, error
        if self._lock is not None:
            try:
                self.record.ended_at = utcnow()
                self.history.append(self.record)
            finally:
                self._lock.__exit__(None, None, None)
                self._lock = None


class Delivered(BaseModel):
    """What delivering one report did (`deliver_report`)."""

    rendered: RenderedReport
    held_back: str | None = None
    sent: bool = False
    channels: list[ChannelResult] = Field(default_factory=list)
    fallback_paths: list[str] = Field(default_factory=list)
    error: str | None = Field(None, description="Which channels failed, when any did.")


def deliver_report(report: Report, settings: Settings, *, channels: set[str] | None = None,
                   dry_run: bool = False) -> Delivered:
    """Render the report and deliver it through the channels `memory.notify.decide` picks.

    None when nothing reached the delivery minimum and `send_empty` is off; the report files only when
    `UNIFI_NOTIFY` holds the report back; otherwise every selected channel. `error` names the
    channels that failed (the caller then keeps the checkpoint).
    """
    from unifi_scanner.delivery import deliver, select_channels

    log.debug("run phase: render")
    # Imported only now: its 5 MiB would otherwise sit in memory beside both processes
    # while collecting, when together they use the most.
    from unifi_scanner.renderer import render_all

    rendered = render_all(report, settings)
    decision = decide(report, settings, select_channels(settings, channels))
    done = Delivered(rendered=rendered, held_back=decision.held_back)
    if decision.held_back:
        log.info("%s: %s", decision.held_back, "report files only" if decision.channels else "nothing sent")
    if decision.channels:
        log.debug("run phase: deliver")
        outcome = deliver(report, rendered, settings, channels=decision.channels, dry_run=dry_run)
        done.sent = not dry_run
        done.channels, done.fallback_paths = outcome.results, outcome.fallback_paths
        if not outcome.ok:
            failed = [f"{r.channel}: {r.detail}" for r in outcome.results if not r.ok]
            done.error = "delivery failed (" + "; ".join(failed) + ")"
    return done


def run_once(settings: Settings, *, dry_run: bool = False, since: datetime | None = None,
             channels: set[str] | None = None, ephemeral_state_ok: bool = False) -> RunResult:
    """Run one complete cycle and return what happened; raise a ScannerError for what stops it early.

    Order: ping `/start`; check a delivery channel is enabled (exit 2); prove the state directory
    writable (exit 5) and take its lock (exit 4); load the checkpoint (falling back to its backup, then
    to a first run, with a note for the report); pick the window [checkpoint - overlap, now), or
    [--since, now) (a first run fixes its start in the state file at once, so a retry never slides
    past events); collect in a child process and stream the collection through the de-duplicating
    filter into the analyzer (never on disk, never whole in memory); stop with exit 3 if the event log
    could not be read; read the incident memory (only now, so the collector never holds it) and mark
    each finding new or ongoing (`memory.recall`); render and deliver (`deliver_report`; the
    checkpoint advances also when nothing is sent or `UNIFI_NOTIFY` holds the report back); commit
    the new checkpoint with the memory, in one write, only when every channel that ran succeeded
    (otherwise delivery keeps the report on disk and the result carries exit code 1); append a line
    to the run history; ping `/<exit code>`.

    An interruption (the CLI turns SIGTERM into KeyboardInterrupt) is recorded and pinged as 130 and
    leaves the checkpoint as it was, like any other failure before the commit.

    A dry run collects, analyzes and renders, asks each channel what it would do, and touches no
    state: no lock, no checkpoint, no history, no ping. `channels` restricts delivery (the demo uses
    files only); `ephemeral_state_ok` skips the container-volume warning for state that is throwaway
    on purpose (the demo's).
    """
    from unifi_scanner.delivery import select_channels

    cycle = SiteCycle(settings, settings.effective_state_dir, dry_run=dry_run, since=since,
                      check_volume=not ephemeral_state_ok)
    record = cycle.record
    with run_monitoring(settings, record.run_id, dry_run=dry_run) as monitor:
        select_channels(settings, channels)  # a configuration without channels fails before collecting
        cycle.lock()
        try:
            window = cycle.start()
            report = cycle.analyze()
            result = RunResult(
                run_id=record.run_id, dry_run=dry_run, window=window, first_run=cycle.first_run,
                events=cycle.dedup.events, duplicates_dropped=cycle.dedup.dropped, counts=report.counts,
                checkpoint=cycle.checkpoint and cycle.checkpoint.last_successful_run, notes=cycle.notes,
            )
            done = deliver_report(report, settings, channels=channels, dry_run=dry_run)
            result.subject = done.rendered.subject
            result.held_back = record.held_back = done.held_back
            result.sent = record.sent = done.sent
            result.channels = record.channels = done.channels
            result.fallback_paths, result.error = done.fallback_paths, done.error
            result.exit_code = 1 if done.error else 0
            if dry_run:
                result.rendered = done.rendered
            elif not done.error:
                cycle.commit()
                result.checkpoint_advanced, result.checkpoint = True, cycle.until
            else:
                log.error("%s; checkpoint not advanced: the next run reports this window again", done.error)
            cycle.close(result.exit_code, result.error)
        except ScannerError as exc:
            cycle.close(int(exc.exit_code), str(exc))
            raise
        except KeyboardInterrupt:
            when = "after" if record.checkpoint_advanced else "before"
            log.error("run interrupted %s the checkpoint commit", when)
            cycle.close(INTERRUPTED, "interrupted (SIGINT or SIGTERM)")
            raise
        except BaseException as exc:
            cycle.close(1, f"internal error: {type(exc).__name__}: {exc}")
            raise
        monitor.exit_code = result.exit_code
        return result


class Monitor:
    """The exit code a run's end ping reports (`run_monitoring`)."""

    exit_code: int = 1  # what the end ping reports if an unexpected exception escapes


@contextlib.contextmanager
def run_monitoring(settings: Settings, run_id: str, *, dry_run: bool) -> Iterator[Monitor]:
    """Ping `/start`, and on leaving `/<exit code>` (130 interrupted, a ScannerError's own code), with the
    log tail when asked; log the process's CPU and peak memory for sizing a container's limit."""
    ping_url = None if dry_run or settings.ping_url is None else settings.ping_url.get_secret_value()
    pinger = Pinger(ping_url, run_id)
    tail = LogTail() if ping_url and settings.ping_send_log else None
    if tail is not None:
        logging.getLogger("unifi_scanner").addHandler(tail)
    monitor = Monitor()
    pinger.start()
    try:
        yield monitor
    except ScannerError as exc:
        monitor.exit_code = int(exc.exit_code)
        raise
    except KeyboardInterrupt:
        monitor.exit_code = INTERRUPTED
        raise
    finally:
        # For sizing a container's memory limit (the collector process logs its own figures).
        usage = resource.getrusage(resource.RUSAGE_SELF)
        log.debug("run finished with exit code %d; CPU of this process %.2f s, peak RSS of this process "
                  "%.1f MiB", monitor.exit_code, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)
        if tail is not None:
            logging.getLogger("unifi_scanner").removeHandler(tail)
        pinger.finish(monitor.exit_code, tail.text() if tail is not None else None)


def run_demo(settings: Settings, reports_dir: Path | None = None) -> tuple[RunResult, Path]:
    """Run the real cycle against the bundled fake controller and return the result and the HTML report.

    The fake serves realistic data over TLS with its bundled self-signed certificate, which is pinned
    by fingerprint (verification stays on). State and reports go to `reports_dir`, or to a fresh
    temporary directory that is kept so the report can be opened; only the file channel runs, whatever
    the configuration says, so a demo never mails anyone.
    """
    from pydantic import SecretStr

    from unifi_scanner.fake import FakeController

    directory = Path(reports_dir) if reports_dir else Path(tempfile.mkdtemp(prefix="unifi-scanner-demo-"))
    directory.mkdir(parents=True, exist_ok=True)
    with FakeController(events=DEMO_EVENTS, seed=DEMO_SEED, tls=True) as fake:
        demo = settings.model_copy(update={
            "host": fake.url, "port": None, "username": fake.username,
            "password": SecretStr(fake.password), "api_key": None, "site": fake.site,
            "controller_type": "auto", "verify_ssl": True, "ca_bundle": None,
            "tls_fingerprint": fake.cert_sha256, "reports_dir": directory, "state_dir": None,
            "email_enabled": False, "file_enabled": True, "file_format": "both", "send_empty": True,
            "ping_url": None,
        })
        # The demo's state is throwaway by design: no "not on a mounted volume" warning in a container.
        result = run_once(demo, channels={"file"}, ephemeral_state_ok=True)
    html = next((Path(path) for path in result.report_paths if path.endswith(".html")), None)
    if html is None:
        raise ScannerError(f"the demo wrote no HTML report ({result.error or 'no file channel result'})")
    return result, html
