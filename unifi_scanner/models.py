"""The pydantic models the pipeline stages speak.

Two documents cross stage boundaries:

* the **collection** (collector → analyzer): a JSON Lines stream. Its first line is a `Header`, then
  current state (`Device`, `Client`, `Health`), then every `Record` (events, system-log rows, threats,
  alarms, ...) as it arrives from the controller, and last a `Footer` with each source's outcome. One
  line per item lets the collector write and the analyzer read without holding the whole site in
  memory. `CollectionItem` parses any line.
* the **report** (analyzer → renderer → delivery): one `Report` object, small whatever the site size.

Delivery answers with `DeliveryOutcome`, which the checkpoint logic trusts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from unifi_scanner.timeutil import ensure_utc

COLLECTION_SCHEMA_VERSION = 1
REPORT_SCHEMA_VERSION = 1

UtcDatetime = Annotated[AwareDatetime, AfterValidator(ensure_utc)]
"""An aware datetime, normalised to UTC on validation."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- collection document


class Window(_Model):
    """A half-open time window [since, until) in UTC."""

    since: UtcDatetime
    until: UtcDatetime


class ControllerInfo(_Model):
    """What was learned about the controller: never credentials, never raw sysinfo (it holds secrets)."""

    url: str
    type: Literal["unifi_os", "legacy"]
    auth: Literal["password", "api_key"]
    version: str | None = Field(None, description="Network application version from stat/sysinfo.")
    name: str | None = Field(None, description="Console or controller hostname.")
    ips_mode: str | None = Field(None, description="`ips` (blocks), `ids` (detects only) or `disabled`.")


class SourceStatus(StrEnum):
    """How one collection source ended."""

    OK = "ok"
    EMPTY = "empty"
    UNSUPPORTED = "unsupported"  # 404 or not offered by this controller type/version
    TRUNCATED = "truncated"  # the server held more than it would give us
    FAILED = "failed"


class SourceOutcome(_Model):
    """The outcome of one source (e.g. `system_log`, `legacy_events`, `alarms`, `devices`)."""

    name: str
    status: SourceStatus
    count: int = 0
    detail: str | None = None
    skipped: int = Field(0, ge=0, description="Malformed records the source left out (wrong shape or types).")


SOURCE_WORDS = {
    "system_log": "the v2 system log",
    "legacy_events": "the legacy event list",
    "traffic_flows": "traffic flows (IPS signatures)",
    "legacy_ips": "the legacy IPS/threat list",
    "alarms": "the alarm list",
    "anomalies": "anomalies",
    "rogue_aps": "rogue/neighbouring access points",
    "devices": "the device list",
    "clients": "the client list",
    "health": "site health",
}
"""Each collection source in plain words, for report headers."""

SOURCE_ALTERNATIVES = {
    "system_log": "legacy_events",
    "legacy_events": "system_log",
    "traffic_flows": "legacy_ips",
    "legacy_ips": "traffic_flows",
}
"""Sources that stand in for each other: one missing loses nothing while the other worked."""


def source_gaps(sources: list[SourceOutcome]) -> list[str]:
    """One plain sentence per source whose data is missing from a report: unsupported with no working
    stand-in, failed, or truncated. Empty and ok sources are normal and say nothing."""
    worked = {s.name for s in sources if s.status in (SourceStatus.OK, SourceStatus.EMPTY)}
    gaps = []
    for source in sources:
        what = SOURCE_WORDS.get(source.name, source.name)
        detail = f" ({source.detail})" if source.detail else ""
        if source.status is SourceStatus.UNSUPPORTED and SOURCE_ALTERNATIVES.get(source.name) not in worked:
            gaps.append(f"This controller does not provide {what}{detail}; related findings may be missing.")
        elif source.status is SourceStatus.FAILED:
            gaps.append(f"Reading {what} failed{detail}; findings from it are missing in this report.")
        elif source.status is SourceStatus.TRUNCATED:
            gaps.append(
                f"The controller held more {what} than it would return{detail}; the oldest may be missing."
            )
        elif source.skipped:
            gaps.append(f"{source.skipped} malformed record(s) in {what} could not be read and were left "
                        "out.")
    return gaps


class RecordKind(StrEnum):
    """Which family a collected record belongs to; the analyzer normalises each family differently."""

    SYSTEM_LOG = "system_log"  # v2 system-log/all row
    EVENT = "event"  # legacy stat/event EVT_* row
    THREAT = "threat"  # legacy stat/ips/event row (EVT_IPS_IpsAlert shape)
    TRAFFIC_FLOW = "traffic_flow"  # v2 traffic-flows row with IPS detail
    ALARM = "alarm"  # legacy list/alarm row
    ANOMALY = "anomaly"  # stat/anomalies, one record per timestamp
    ROGUE_AP = "rogue_ap"  # stat/rogueap row


EVENT_KINDS = frozenset({RecordKind.SYSTEM_LOG, RecordKind.EVENT, RecordKind.THREAT})
"""Kinds whose ids make up the "every event exactly once" promise and the checkpoint de-duplication."""


class Header(_Model):
    """First line of a collection document."""

    type: Literal["header"] = "header"
    schema_version: int = COLLECTION_SCHEMA_VERSION
    generator: str
    collected_at: UtcDatetime
    controller: ControllerInfo
    site: str
    window: Window


class Record(_Model):
    """One record from the controller, with its stable id, its time and its untouched payload."""

    type: Literal["record"] = "record"
    kind: RecordKind
    source: str = Field(description="Name of the SourceOutcome this record came from.")
    id: str
    time: UtcDatetime
    raw: dict[str, Any]


_RECORD_FIELDS = frozenset(Record.model_fields)
_set_slot = object.__setattr__


def new_record(kind: RecordKind, source: str, rid: str, moment: datetime, raw: dict[str, Any]) -> Record:
    """The Record that `Record.model_construct` builds from these values, built three times faster.

    For values already checked (the collector's, and its own stream read back from the child process),
    where no validation is wanted; model_construct still walks every field's aliases and defaults on
    each call: 2 µs, as much as all the rest of a row's conversion. A Record has no aliases, no
    private attributes and every field given, so its instance state is just the four slots below
    (tests/test_models.py pins them to model_construct's).
    """
    record = Record.__new__(Record)
    _set_slot(record, "__dict__", {"type": "record", "kind": kind, "source": source, "id": rid,
                                   "time": moment, "raw": raw})
    _set_slot(record, "__pydantic_fields_set__", set(_RECORD_FIELDS))
    _set_slot(record, "__pydantic_extra__", None)
    _set_slot(record, "__pydantic_private__", None)
    return record


class RecordBatch:
    """One page's new records of one kind from one source, held as columns of ids, times and payloads.

    A pager yields one per page. Its Records are built only when something iterates it (the JSON Lines
    writer, tests); the collector's pipe to the analyzer pickles the three columns as they are, which
    saves building and taking apart a Record per row (a fifth of the collector's CPU at 100k events).
    """

    __slots__ = ("kind", "source", "ids", "times", "raws")

    def __init__(self, kind: RecordKind, source: str) -> None:
        self.kind = kind
        self.source = source
        self.ids: list[str] = []
        self.times: list[datetime] = []
        self.raws: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[Record]:
        kind, source = self.kind, self.source
        for rid, moment, raw in zip(self.ids, self.times, self.raws, strict=True):
            yield new_record(kind, source, rid, moment, raw)


class Device(_Model):
    """A UniFi device's current state, extracted from stat/device at the collector's edge."""

    type: Literal["device"] = "device"
    mac: str
    name: str | None = None
    model: str | None = None
    device_type: str | None = Field(None, description="uap, usw, ugw, udm, uxg, ...")
    ip: str | None = None
    state: str = Field("unknown", description="connected, disconnected, pending, upgrading, ... or unknown")
    adopted: bool | None = None
    uptime_seconds: int | None = None
    last_seen: UtcDatetime | None = None
    version: str | None = None
    upgradable: bool = False
    upgrade_to: str | None = None
    cpu_percent: float | None = None
    mem_percent: float | None = None
    temperature_c: float | None = Field(None, description="Hottest reported sensor.")
    overheating: bool | None = None
    num_clients: int | None = None
    raw: dict[str, Any] = Field(default_factory=dict)


class Client(_Model):
    """An active client from stat/sta (names for the report; MACs stay the fallback)."""

    type: Literal["client"] = "client"
    mac: str
    name: str | None = None
    hostname: str | None = None
    ip: str | None = None
    is_wired: bool | None = None
    is_guest: bool | None = None
    essid: str | None = None
    blocked: bool | None = None

    @property
    def display_name(self) -> str:
        """The friendliest name known for this client, falling back to its MAC."""
        return self.name or self.hostname or self.mac


class Health(_Model):
    """One stat/health subsystem row (wan, www, lan, wlan, vpn)."""

    type: Literal["health"] = "health"
    subsystem: str
    status: str
    raw: dict[str, Any] = Field(default_factory=dict)


class Footer(_Model):
    """Last line of a collection document: what each source gave, so the report can say what it missed."""

    type: Literal["footer"] = "footer"
    sources: list[SourceOutcome]
    counts: dict[str, int] = Field(default_factory=dict, description="Records written, per RecordKind.")


CollectionItem = Annotated[Header | Record | Device | Client | Health | Footer, Field(discriminator="type")]
collection_item = TypeAdapter(CollectionItem)
"""Parses one line of a collection document: `collection_item.validate_json(line)`."""


# --------------------------------------------------------------------------- report


class Severity(StrEnum):
    """Finding severity, in the words the design notes use."""

    SEVERE = "severe"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Larger is more serious: compare severities with this, never with string order."""
        return {"severe": 3, "medium": 2, "low": 1}[self.value]


class Category(StrEnum):
    """What part of the network a finding concerns."""

    SECURITY = "security"
    CONNECTIVITY = "connectivity"
    INFRASTRUCTURE = "infrastructure"
    WIRELESS = "wireless"
    CLIENTS = "clients"
    ADMINISTRATION = "administration"


class Affected(_Model):
    """Something a finding is about: a device, client, IP, admin account, network or signature."""

    kind: Literal["device", "client", "ip", "admin", "network", "signature", "subsystem"]
    id: str = Field(description="Stable identifier: MAC, IP, account or signature id.")
    name: str | None = Field(None, description="Human name resolved from the device/client lists.")

    @property
    def label(self) -> str:
        """`name (id)` when a name is known, else the id."""
        return f"{self.name} ({self.id})" if self.name and self.name != self.id else self.id


class EventSample(_Model):
    """One underlying event, kept as evidence (bounded number per finding)."""

    id: str
    time: UtcDatetime
    key: str
    message: str


class TimelineEntry(_Model):
    """One step of an incident's story: when it happened and what happened, in plain words."""

    time: UtcDatetime
    text: str


class FindingStatus(_Model):
    """What earlier delivered reports knew of a finding, set by `memory.recall` (None without memory)."""

    kind: Literal["new", "ongoing"] = Field(
        description="new: no earlier report listed it open; ongoing: the last report listed it, it goes on.")
    since: UtcDatetime = Field(description="When it began: its start as first reported.")
    report: int = Field(1, ge=1, description="The how-many-th delivered report listing it (1 when new).")
    previous_severity: Severity | None = Field(
        None, description="Its severity in the last report, when that differs from today's.")
    recurred_after: UtcDatetime | None = Field(
        None, description="For a new finding: when an earlier occurrence of it was resolved.")


class Finding(_Model):
    """One problem worth an admin's attention, built from one or many events or from device state.

    Correlation (`analyzer.correlate`) may merge several rule findings about one subject into one
    incident: `incident` then names its kind, `rule_ids` the rules it was built from and `timeline`
    tells its story.
    """

    id: str = Field(description="Stable across runs for the same underlying problem.")
    rule_id: str
    severity: Severity
    category: Category
    title: str
    explanation: str
    remediation: list[str]
    affected: list[Affected] = Field(default_factory=list)
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    count: int = 1
    event_ids: list[str] = Field(default_factory=list, description="A bounded sample of event ids.")
    samples: list[EventSample] = Field(default_factory=list, description="A bounded sample of events.")
    details: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    incident: str | None = Field(
        None, description="Incident kind when correlation built this finding (device_outage, wan_incident, "
                          "threat_campaign, admin_brute_force) or a digest of routine volume (ips_digest).")
    rule_ids: list[str] = Field(
        default_factory=list, description="The rules whose findings this one was built from.")
    timeline: list[TimelineEntry] = Field(
        default_factory=list, description="The incident's story, oldest first (bounded).")
    open: bool = Field(
        True, description="Still going on when the report was made: a state seen now, or events that may "
                          "go on. False for an outage that ended inside the window.")
    ends: Literal["recovery", "quiet", "routine"] = Field(
        "quiet", description="How a later report knows it is over. recovery: the state that raised it "
                             "(device list, site health) no longer does; quiet: its events stop for a whole "
                             "window and UNIFI_QUIET_HOURS; routine: background volume, never announced as "
                             "resolved.")
    status: FindingStatus | None = Field(None, description="New or ongoing, from the incident memory.")
    site: str | None = Field(
        None, description="`controller/site` when the report covers several sites (UNIFI_REPORT_PER).")


class SeverityCounts(_Model):
    """Findings per severity."""

    severe: int = 0
    medium: int = 0
    low: int = 0

    @property
    def total(self) -> int:
        """All findings."""
        return self.severe + self.medium + self.low

    @classmethod
    def of(cls, findings: Iterable[Finding]) -> SeverityCounts:
        """The counts of these findings."""
        counts = cls()
        for finding in findings:
            setattr(counts, finding.severity.value, getattr(counts, finding.severity.value) + 1)
        return counts

    @classmethod
    def added(cls, many: Iterable[SeverityCounts]) -> SeverityCounts:
        """Several reports' counts added up."""
        counts = cls()
        for item in many:
            counts.severe += item.severe
            counts.medium += item.medium
            counts.low += item.low
        return counts


class ResolvedIncident(_Model):
    """An incident open in the last delivered report that is over now: listed once, then forgotten."""

    id: str
    rule_id: str
    incident: str | None = None
    title: str = Field(description="The title it was last reported under.")
    severity: Severity = Field(description="Its severity in the last report.")
    category: Category
    since: UtcDatetime = Field(description="When it began.")
    resolved_at: UtcDatetime = Field(description="When it was over, as well as the report can tell.")
    reports: int = Field(description="Delivered reports that listed it open.")
    how: str = Field(description="How it ended, in plain words (`back online`, `no events for 26 hours`).")
    site: str | None = Field(None, description="`controller/site` when the report covers several sites.")


class Changes(_Model):
    """What changed since the last delivered report (`memory.recall`): what the subject and the notify
    decision lead with."""

    new: int = 0
    new_severe: int = 0
    ongoing: int = 0
    ongoing_severe: int = 0
    resolved: int = 0
    severity_changed: int = 0
    first_report: bool = Field(False, description="No delivered report came before: everything is new.")

    @property
    def any(self) -> bool:
        """True when something is new, resolved or changed severity."""
        return bool(self.new or self.resolved or self.severity_changed)


class TrendPoint(_Model):
    """One delivered report in the trend chart."""

    until: UtcDatetime
    hours: float
    events: int
    counts: SeverityCounts


class TrendLine(_Model):
    """One measure of this window against the previous report and the usual (median of the last 30)."""

    measure: str = Field(description="events, a category (security) or a rule id (ips_threat_blocked).")
    label: str
    per_hour: float
    previous_per_hour: float | None = None
    usual_per_hour: float | None = None
    ratio: float | None = Field(None, description="per_hour / usual_per_hour, when there is a usual.")
    text: str = Field(description="The line in words: `IPS blocks: 412/h, 4.1× the usual (84/h)`.")


class Trends(_Model):
    """This window against earlier delivered reports, normalized per hour."""

    compared: int = Field(0, description="Earlier delivered reports the usual is the median of (≤ 30).")
    lines: list[TrendLine] = Field(default_factory=list, description="Total first, then notable changes.")
    history: list[TrendPoint] = Field(
        default_factory=list, description="The last reports, this one last, oldest first (≤ 30).")


class SiteOverview(_Model):
    """One site's line in a report that covers several sites (`UNIFI_REPORT_PER=run` or `controller`)."""

    controller: str
    site: str
    label: str = Field(description="`controller/site`, as the site's findings name it.")
    counts: SeverityCounts = Field(default_factory=SeverityCounts)
    new: int = 0
    resolved: int = 0
    events: int = 0
    worst: str | None = Field(None, description="The title of its most serious finding.")
    worst_severity: Severity | None = None
    error: str | None = Field(
        None, description="Why the site could not be reported (unreachable, login refused); its checkpoint "
                          "stays, so the next run covers its window.")


class DeviceHealth(_Model):
    """One row of the report's device health table."""

    mac: str
    name: str
    model: str | None = None
    device_type: str | None = None
    state: str
    uptime_seconds: int | None = None
    version: str | None = None
    upgradable: bool = False
    upgrade_to: str | None = None
    cpu_percent: float | None = None
    mem_percent: float | None = None
    temperature_c: float | None = None
    problems: list[str] = Field(default_factory=list)


class HourBucket(_Model):
    """Events in one UTC hour, by the severity of the finding they fed (`other`: no finding)."""

    hour: UtcDatetime
    severe: int = 0
    medium: int = 0
    low: int = 0
    other: int = 0

    @property
    def total(self) -> int:
        """All events in the hour."""
        return self.severe + self.medium + self.low + self.other


class UnknownEvent(_Model):
    """An event key no rule knew: never dropped, listed under "other events" with its count."""

    key: str
    count: int
    sample_message: str | None = None


class Report(_Model):
    """The analyzer's output: everything the renderer and delivery need, independent of event volume."""

    schema_version: int = REPORT_SCHEMA_VERSION
    site: str
    controller: ControllerInfo
    window: Window
    generated_at: UtcDatetime
    first_run: bool = False
    lookback_hours: float | None = None
    notes: list[str] = Field(default_factory=list, description="Header notes: fallbacks, gaps, warnings.")
    sources: list[SourceOutcome] = Field(default_factory=list)
    total_events: int = 0
    findings: list[Finding] = Field(default_factory=list)
    counts: SeverityCounts = Field(default_factory=SeverityCounts)
    muted_findings: int = 0
    device_health: list[DeviceHealth] = Field(default_factory=list)
    events_per_hour: list[HourBucket] = Field(default_factory=list)
    events_per_category: dict[str, int] = Field(default_factory=dict)
    unknown_events: list[UnknownEvent] = Field(default_factory=list)
    events_per_rule: dict[str, int] = Field(
        default_factory=dict, description="Events each rule took (findings or not), for trends.")
    resolved: list[ResolvedIncident] = Field(
        default_factory=list, description="Incidents open in the last delivered report that are over now.")
    changes: Changes | None = Field(None, description="What changed since the last delivered report.")
    trends: Trends | None = Field(None, description="This window against earlier delivered reports.")
    controller_name: str = Field(
        "default", description="The configured controller's name (`controllers:` in the config file).")
    sites: list[SiteOverview] = Field(
        default_factory=list, description="One line per site when the report covers several (else empty).")
    admin_logins: dict[str, UtcDatetime] = Field(
        default_factory=dict,
        description="Addresses admins logged in from successfully in this window, with the latest login "
                    "each (bounded; none that also failed to log in): the run remembers them as known.")


# --------------------------------------------------------------------------- rendering and delivery


class RenderedReport(_Model):
    """A report rendered in every format delivery may need (renderer → delivery)."""

    subject: str = Field(description="One line, no CR/LF, safe for a mail header.")
    preheader: str = Field("", description="One-line summary (email preheader, chat message lead).")
    text: str
    html: str
    json_text: str = Field(description="The Report as JSON.")


class ChannelResult(_Model):
    """What one delivery channel did. `ok` is true only when the channel really delivered."""

    channel: str = Field(
        description="email, file, upload:s3://bucket, webhook:slack, webhook:generic, apprise, ...")
    ok: bool
    detail: str = ""
    paths: list[str] = Field(default_factory=list, description="Files written, if any.")
    attempts: int = 1


class DeliveryOutcome(_Model):
    """Per-channel results of one delivery; the checkpoint advances only when `ok`."""

    results: list[ChannelResult] = Field(default_factory=list)
    fallback_paths: list[str] = Field(default_factory=list, description="Report kept after a failure.")

    @property
    def ok(self) -> bool:
        """True when every channel that ran succeeded."""
        return all(result.ok for result in self.results)


def severity_at_least(severity: Severity, minimum: Severity) -> bool:
    """True when `severity` is as serious as `minimum` or more."""
    return severity.rank >= minimum.rank

