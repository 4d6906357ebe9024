"""One run over many sites and controllers: a `SiteCycle` per site, reports delivered per run,
controller or site (`UNIFI_REPORT_PER`), each site's checkpoint committed once its report is delivered.

Sites are collected one after another, so memory follows the largest site, not their number (only the
small finished reports wait for a combined delivery). A site or controller that fails (unreachable,
TLS, login, its event log) does not stop the others: they are reported, delivered and committed, the
failed one is named in the report and keeps its checkpoint. The run's exit code is the most serious
of the sites' outcomes.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from unifi_scanner.errors import (
    ControllerAuthError,
    ControllerError,
    ControllerTLSError,
    ControllerUnreachable,
    ExitCode,
    ScannerError,
)
from unifi_scanner.fleet.layout import adopt_single_site_state, site_directory
from unifi_scanner.fleet.merge import ALL_SITES, SitePart, merge, site_label
from unifi_scanner.fleet.plan import ControllerPlan, plan, select
from unifi_scanner.models import ChannelResult, RenderedReport, Report, SeverityCounts
from unifi_scanner.pipeline import INTERRUPTED, SiteCycle, deliver_report, run_monitoring
from unifi_scanner.settings import Settings
from unifi_scanner.state import RunRecord, StateStore, volume_warning

if TYPE_CHECKING:
    from unifi_scanner.collector.child import Session

log = logging.getLogger(__name__)

SERIOUSNESS = (ExitCode.OK, ExitCode.DELIVERY_FAILED, ExitCode.CONTROLLER, ExitCode.LOCKED, ExitCode.STATE,
               ExitCode.USAGE)
"""Per-site outcomes from the least to the most serious: the run exits with the most serious one."""
MERGED_FINDINGS_PER_SITE = 25
"""Findings a site keeps while it waits for a combined report, the most serious first (its overview
line and the report's counts count them all): as many as one report shows in detail, so a combined
report of twenty sites of scanning noise stays a few MB to render and mail. One report per site
(`UNIFI_REPORT_PER=site`) keeps every finding."""
WHOLE_CONTROLLER = (ControllerUnreachable, ControllerTLSError, ControllerAuthError)
"""Failures that no other site of the same controller can escape: its remaining sites are not tried."""


class SiteOutcome(BaseModel):
    """How one site's share of the run ended."""

    controller: str
    site: str
    exit_code: int = 0
    error: str | None = None
    events: int = 0
    counts: SeverityCounts = Field(default_factory=SeverityCounts)
    sent: bool = False
    held_back: str | None = None
    channels: list[ChannelResult] = Field(default_factory=list)
    checkpoint_advanced: bool = False

    @property
    def label(self) -> str:
        """`controller/site` (the controller alone when all its sites failed)."""
        return site_label(self.controller, self.site)

    @classmethod
    def of(cls, part: SitePart, record: RunRecord) -> SiteOutcome:
        """The outcome of a site that ran, as its closed cycle's history line tells it."""
        return cls(controller=part.controller, site=part.site, exit_code=record.exit_code, error=record.error,
                   events=record.events, counts=record.findings, sent=record.sent, held_back=record.held_back,
                   channels=record.channels, checkpoint_advanced=record.checkpoint_advanced)


class FleetResult(BaseModel):
    """What a run over many sites did; the CLI maps it to output and the exit code."""

    run_id: str
    exit_code: int = 0
    dry_run: bool = False
    sites: list[SiteOutcome] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    rendered: list[RenderedReport] = Field(default_factory=list, description="Rendered reports (dry runs).")

    @property
    def report_paths(self) -> list[str]:
        """Every report file the run wrote."""
        return list(dict.fromkeys(path for site in self.sites for result in site.channels
                                  for path in result.paths))

    @property
    def summary(self) -> str:
        """One line: sites reported, failed, findings, what was sent."""
        failed = [site for site in self.sites if site.exit_code]
        counts = SeverityCounts.added(site.counts for site in self.sites)
        events = sum(site.events for site in self.sites)
        line = (f"{len(self.sites)} sites, {len(failed)} failed; {events} new events, "
                f"{counts.severe} severe, {counts.medium} medium, {counts.low} low")
        if failed:
            line += "; failed: " + "; ".join(f"{site.label} ({site.error})" for site in failed)
        return line


@dataclass
class _Pending:
    """A site whose report waits for its group's delivery (or a site that failed, to be named in it)."""

    part: SitePart
    cycle: SiteCycle | None = None


@dataclass
class _Run:
    """The state of one fleet run: the settings, what waits for delivery, what is done."""

    settings: Settings
    dry_run: bool
    since: datetime | None
    outcomes: list[SiteOutcome] = field(default_factory=list)
    waiting: list[_Pending] = field(default_factory=list)
    opened: list[SiteCycle] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """The run's own notes (an adopted state directory, a state root not on a volume), in every report."""
    rendered: list[RenderedReport] = field(default_factory=list)


def run_fleet(settings: Settings, *, controllers: list[str] | None = None, dry_run: bool = False,
              since: datetime | None = None) -> FleetResult:
    """Run every selected controller's sites, deliver their reports, commit what was delivered.

    Order: plan the controllers (`--controller`, `--shard`; every config problem at once); adopt a
    single-site state directory as `default/<site>`; then per controller, per site (the `all` sites
    read from the controller): lock the site's directory, pick its window, collect and analyze it,
    recall its memory, and deliver as `UNIFI_REPORT_PER` says: each site alone, each controller's
    sites together, or every site in one report at the end. A delivered report commits the checkpoints
    of the sites in it; a failed delivery keeps them all.
    """
    from unifi_scanner.delivery import select_channels

    plans = select(plan(settings), controllers, settings.shard)
    run_id = str(uuid.uuid4())
    work = _Run(settings, dry_run, since)
    with run_monitoring(settings, run_id, dry_run=dry_run) as monitor:
        select_channels(settings)  # a configuration without channels fails before collecting
        if not dry_run:
            StateStore(settings.effective_state_dir).ensure_writable()
            adopted = adopt_single_site_state(settings.effective_state_dir, settings.site)
            work.notes += [adopted] if adopted else []
        # Once for the run, not once per site: the sites' directories all live under this one.
        warning = volume_warning(settings.effective_state_dir)
        if warning:
            log.warning(warning)
            work.notes.append(warning)
        try:
            for controller in plans:
                _run_controller(work, controller)
                if settings.report_per == "controller":
                    _deliver(work, controller.settings)
            if settings.report_per == "run":
                _deliver(work, settings)
        except BaseException as exc:
            # An interruption (or a bug) leaves every waiting site's checkpoint as it was.
            code = INTERRUPTED if isinstance(exc, KeyboardInterrupt) else 1
            for cycle in work.opened:
                cycle.close(code, f"run stopped: {type(exc).__name__}")  # the closed ones stay as they are
            raise
        exit_code = max((site.exit_code for site in work.outcomes), key=_seriousness, default=0)
        monitor.exit_code = exit_code
    return FleetResult(run_id=run_id, exit_code=exit_code, dry_run=dry_run, sites=work.outcomes,
                       notes=work.notes, rendered=work.rendered)


def _seriousness(code: int) -> int:
    """A per-site exit code's place in `SERIOUSNESS`."""
    return SERIOUSNESS.index(ExitCode(code)) if code in ExitCode._value2member_map_ else len(SERIOUSNESS)


def _run_controller(work: _Run, controller: ControllerPlan) -> None:
    """Collect and analyze each site of one controller over one login; deliver per site when asked.

    Every site's directory is locked and its window picked first, and all of them are asked for at
    once, so the collector fetches the next site while the last one is analyzed.
    """
    from unifi_scanner.collector.child import controller_session

    with controller_session(controller.settings, controller.sites) as session:
        try:
            sites = session.sites()
        except ControllerError as exc:
            _failed(work, controller.name, ALL_SITES, exc)
            return
        ready = [(site, cycle) for site in sites if (cycle := _open_site(work, controller, site)) is not None]
        for site, cycle in ready:
            session.request(site, cycle.window)
        for number, (site, cycle) in enumerate(ready):
            failure = _analyze_site(work, controller, site, cycle, session)
            if isinstance(failure, WHOLE_CONTROLLER):
                for rest, waiting in ready[number + 1:]:
                    waiting.close(int(failure.exit_code), str(failure))
                    _failed(work, controller.name, rest, failure)
                session.abandon()
                break
            if work.settings.report_per == "site":
                _deliver(work, controller.settings)


def _open_site(work: _Run, controller: ControllerPlan, site: str) -> SiteCycle | None:
    """Lock one site's state directory and pick its window; None (the failure recorded) if it cannot."""
    settings = controller.settings.model_copy(update={"site": site, "sites": []})
    cycle = None
    try:
        directory = site_directory(work.settings.effective_state_dir, controller.name, site)
        cycle = SiteCycle(settings, directory, dry_run=work.dry_run, since=work.since, check_volume=False)
        work.opened.append(cycle)
        cycle.lock()
        cycle.start()
    except ScannerError as exc:
        if cycle is not None:
            cycle.close(int(exc.exit_code), str(exc))
        _failed(work, controller.name, site, exc)
        return None
    return cycle


def _analyze_site(work: _Run, controller: ControllerPlan, site: str, cycle: SiteCycle,
                  session: Session) -> ScannerError | None:
    """Analyze one site's collection and recall its memory; its failure, if it failed (then recorded)."""
    try:
        report = _waiting(cycle.analyze(session.site(site)), controller.name, work.settings)
    except ScannerError as exc:
        cycle.close(int(exc.exit_code), str(exc))
        _failed(work, controller.name, site, exc)
        return exc
    log.info("%s/%s: %d new events, %d findings", controller.name, site, cycle.dedup.events,
             report.counts.total)
    work.waiting.append(_Pending(SitePart(controller.name, site, report), cycle))
    return None


def _waiting(report: Report, controller: str, settings: Settings) -> Report:
    """The site's report as it waits for its delivery: named by its controller and, when several sites
    share one report, cut to the `MERGED_FINDINGS_PER_SITE` most serious findings (with a note)."""
    update: dict[str, object] = {"controller_name": controller}
    if settings.report_per != "site" and len(report.findings) > MERGED_FINDINGS_PER_SITE:
        update["findings"] = report.findings[:MERGED_FINDINGS_PER_SITE]
        kept = (f"{len(report.findings):,} findings, the {MERGED_FINDINGS_PER_SITE} most serious shown here "
                "(UNIFI_REPORT_PER=site shows all)")
        update["notes"] = [*report.notes, kept]
    return report.model_copy(update=update)


def _failed(work: _Run, controller: str, site: str, exc: ScannerError) -> None:
    """Record a site (or, as ALL_SITES, a whole controller) that could not be reported; it waits to be
    named in the report."""
    log.error("%s: %s", site_label(controller, site), exc)
    outcome = SiteOutcome(controller=controller, site=site, exit_code=int(exc.exit_code), error=str(exc))
    work.outcomes.append(outcome)
    if work.settings.report_per != "site":  # a report of its own would say only that it failed
        work.waiting.append(_Pending(SitePart(controller, site, error=str(exc))))


def _deliver(work: _Run, settings: Settings) -> None:
    """Deliver the waiting sites' reports as one (merged when several or when a site failed), then
    commit each delivered site's checkpoint and close its cycle."""
    waiting, work.waiting = work.waiting, []
    reported = [pending for pending in waiting if pending.cycle is not None]
    if not reported:
        return  # every site failed: nothing to report, every checkpoint stays
    parts = [pending.part for pending in waiting]
    report = reported[0].part.report if len(parts) == 1 else merge(parts)
    report = report.model_copy(update={"notes": [*work.notes, *report.notes]})
    try:
        done = deliver_report(report, settings, dry_run=work.dry_run)
    except ScannerError as exc:
        for pending in reported:
            pending.cycle.close(int(exc.exit_code), str(exc))
        raise
    if work.dry_run:
        work.rendered.append(done.rendered)
    for pending in reported:
        cycle, record = pending.cycle, pending.cycle.record
        record.sent, record.held_back, record.channels = done.sent, done.held_back, done.channels
        if not done.error and not work.dry_run:
            cycle.commit()
        cycle.close(int(ExitCode.DELIVERY_FAILED) if done.error else 0, done.error)
        work.outcomes.append(SiteOutcome.of(pending.part, record))
    if done.error:
        log.error("%s; the checkpoints of %s did not move: the next run reports their windows again",
                  done.error, ", ".join(pending.part.label for pending in reported))
