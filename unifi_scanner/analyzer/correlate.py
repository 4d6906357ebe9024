"""The correlation step: findings about one subject become one incident, routine volume one digest.

The rules (`engine`) produce one finding per rule and subject: for one switch outage a "lost contact"
and a "reconnected" finding, for one WAN outage four. This step, run after the rules and before mutes
and the minimum severity, merges them into the story an admin reads: one incident per subject with a
short timeline, the rule ids it was built from and a severity that follows the impact (something down
now is severe). Quiet blocked scans from many internet addresses fold into one digest per site.

It is a pure function of the window's findings and the current device state (`Situation`): no I/O,
no settings beyond the catalogue (`incidents.yaml`), so it is tested against a scored corpus. Which
rules merge into which incident, and the words, are data; the story of each kind is a builder below.
"""

from __future__ import annotations

import hashlib
import string
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from unifi_scanner.analyzer.normalize import GATEWAY_TYPES
from unifi_scanner.analyzer.wording import Clock, duration, times
from unifi_scanner.errors import ConfigError
from unifi_scanner.models import Affected, Device, Finding, Severity, TimelineEntry, Window

MAX_TIMELINE = 12
"""Entries in one incident's timeline (the catalogue may ask for fewer): an outage that dropped 200
times tells its first drops and then how many more, so a finding stays a few hundred bytes."""
OVERFLOW = "(many)"
"""The engine's name for the group that took a rule's subjects past its cap."""

FIELDS: dict[str, frozenset[str]] = {
    "device_outage": frozenset({
        "desc", "Desc", "drops", "drops_title", "each", "now", "between", "between_back", "peak", "state",
        "since_title", "lost_phrase", "state_word", "extra", "after_title", "after_text", "reconnects"}),
    "wan_incident": frozenset({
        "desc", "Desc", "networks", "downs", "between", "since_title", "after_title", "failover_text",
        "failover_at", "restored_text", "quality_text"}),
    "threat_campaign": frozenset({
        "remote", "origin", "hits", "times", "targets", "targets_short", "internal", "internal_short",
        "not_blocked_title", "between", "peak", "outcome", "signatures", "meaning", "family", "first",
        "blocked_word", "ips_mode_note"}),
    "admin_brute_force": frozenset({
        "ip", "failures", "between", "peak", "admins", "success_title", "success_text"}),
    "ips_digest": frozenset({"hits", "sources", "between", "top_sources", "top_targets", "top_signatures"}),
    "firewall_digest": frozenset({"hits", "between", "policies", "per_policy"}),
}
"""The fields each kind's texts may use (checked when the catalogue loads)."""


# --------------------------------------------------------------------------- catalogue


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Texts(_Spec):
    """The words of one variant of an incident."""

    title: str
    explanation: str
    remediation: list[str] | None = None
    over: bool = Field(False, description="The variant tells an incident that ended inside the window.")
    ends: Literal["recovery", "quiet"] | None = Field(None, description="Overrides the kind's `ends`.")


class IncidentSpec(_Spec):
    """Which findings one kind of incident merges, by which subject, and its words per variant."""

    subject: str
    members: list[str]
    ends: Literal["recovery", "quiet"] = Field(
        description="How a later report knows the incident is over (`Finding.ends`).")
    attach: dict[str, dict[str, str]] = Field(default_factory=dict)
    texts: dict[str, Texts]


class DigestSpec(_Spec):
    """The per-site digest of routine blocked threats."""

    members: list[str]
    top: int = Field(5, ge=1, le=10)
    title: str
    explanation: str
    remediation: list[str]


class IncidentCatalogue(_Spec):
    """The whole of `incidents.yaml`."""

    version: int
    timeline_max: int = Field(MAX_TIMELINE, ge=1, le=MAX_TIMELINE)
    incidents: dict[str, IncidentSpec]
    companions: dict[str, str] = Field(default_factory=dict)
    digests: dict[str, DigestSpec]

    @model_validator(mode="after")
    def _known_fields(self) -> IncidentCatalogue:
        """Every text uses only the fields its builder fills, and every kind has a builder."""
        texts: list[tuple[str, str]] = []
        for kind, spec in self.incidents.items():
            if kind not in FIELDS:
                raise ValueError(f"incident kind {kind!r} has no builder")
            for variant in spec.texts.values():
                texts += [(kind, text) for text in (variant.title, variant.explanation,
                                                    *(variant.remediation or []))]
        for kind, digest in self.digests.items():
            if kind not in FIELDS:
                raise ValueError(f"digest {kind!r} has no builder")
            texts += [(kind, text) for text in (digest.title, digest.explanation, *digest.remediation)]
        for kind, text in texts:
            used = {name for _, name, _, _ in string.Formatter().parse(text) if name}
            unknown = used - FIELDS[kind]
            if unknown:
                raise ValueError(f"{kind}: text {text!r} uses unknown field(s) {', '.join(sorted(unknown))}")
        return self

    @property
    def rule_ids(self) -> frozenset[str]:
        """The rule ids an incident or digest may carry (for validating mutes and overrides)."""
        return frozenset({"device_outage", "wan_incident", "threat_campaign", "ips_digest"})


@lru_cache(maxsize=1)
def load_incidents() -> IncidentCatalogue:
    """The incident catalogue shipped in the package, parsed once per process."""
    text = resources.files("unifi_scanner.analyzer").joinpath("incidents.yaml").read_text(encoding="utf-8")
    try:
        return IncidentCatalogue.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as exc:
        raise ConfigError(f"incidents.yaml is not a valid incident catalogue: {exc}") from None


# --------------------------------------------------------------------------- inputs and outputs


@dataclass
class RuleFinding:
    """One rule's finding with what the engine knew of its group (subject values, facts, hours)."""

    finding: Finding
    entities: dict[str, str]
    hours: dict[int, int] = field(default_factory=dict)
    sets: dict[str, list[str]] = field(default_factory=dict)
    problem: str | None = None
    device_kind: str | None = None
    """What the events called the device (`access point` for an `EVT_AP_*` key), for a device the
    device list does not name."""

    @property
    def rule_id(self) -> str:
        """The finding's rule id (an escalation's, where one applied)."""
        return self.finding.rule_id


@dataclass(frozen=True)
class Situation:
    """What correlation reads besides the findings: current devices, the window, names and logins."""

    devices: Mapping[str, Device]
    window: Window
    generated_at: datetime
    clock: Clock
    resolve: Callable[[str], str | None]
    device_desc: Callable[[str, str | None], tuple[str, str]]
    logins: Mapping[str, tuple[datetime, str | None]] = field(default_factory=dict)
    ips_mode: str = ""
    plain_signature: Callable[[str | None], str | None] = lambda signature: None


@dataclass
class Correlated:
    """An output finding and the rule findings it was built from (for the chart and device table)."""

    finding: Finding
    members: list[RuleFinding]


def correlate(found: Iterable[RuleFinding], situation: Situation,
              catalogue: IncidentCatalogue | None = None) -> list[Correlated]:
    """Merge the rule findings of one window into incidents and digests; the rest pass unchanged."""
    catalogue = catalogue or load_incidents()
    found = _join_companions(list(found), catalogue.companions, situation.clock)
    rest: list[RuleFinding] = []
    buckets: dict[tuple[str, str], list[RuleFinding]] = {}
    membership = {rule_id: kind for kind, spec in catalogue.incidents.items() for rule_id in spec.members}
    for item in found:
        kind = membership.get(item.rule_id)
        subject = item.entities.get(catalogue.incidents[kind].subject) if kind else None
        if kind and subject and subject != OVERFLOW:
            buckets.setdefault((kind, subject), []).append(item)
        else:
            rest.append(item)
    rest = _attach(buckets, rest, catalogue, situation)
    builder = _Builder(catalogue, situation)
    out: list[Correlated] = []
    digestible: list[RuleFinding] = []
    for (kind, subject), members in buckets.items():
        if kind == "threat_campaign" and _routine_threat(members):
            digestible += members
            continue
        built = builder.build(kind, subject, members)
        if built is None:
            rest += members
        else:
            out.append(built)
    # The sources past the engine's cap per rule are quiet ones too (a burst would stand out): digested.
    overflowed = [item for item in rest if item.rule_id in catalogue.digests["ips_digest"].members
                  and item.entities.get("remote") == OVERFLOW]
    if digestible or overflowed:
        rest = [item for item in rest if item not in overflowed]
        out.append(builder.ips_digest(digestible + overflowed))
    policies = [item for item in rest if item.rule_id in catalogue.digests["firewall_digest"].members]
    if len(policies) > 1:
        rest = [item for item in rest if item not in policies]
        out.append(builder.firewall_digest(policies))
    return out + [Correlated(item.finding, [item]) for item in rest]


def _attach(buckets: dict[tuple[str, str], list[RuleFinding]], rest: list[RuleFinding],
            catalogue: IncidentCatalogue, situation: Situation) -> list[RuleFinding]:
    """Put subject-less findings (site health, ISP quality) into the incident they explain.

    Site health rating WLAN poorly while an AP is down says nothing new; nor does ISP quality during
    a WAN incident. Each joins the first incident of the kind and device type its catalogue entry
    names (one whose device is not connected now first), before the incident is told, so its words
    can say so; findings no incident explains are returned.
    """
    left: list[RuleFinding] = []
    for item in rest:
        target = None
        for kind, spec in catalogue.incidents.items():
            wanted = spec.attach.get(item.rule_id)
            device_type = (wanted.get(item.entities.get("subsystem", "*").lower()) or wanted.get("*")
                           if wanted else None)
            if device_type is None:
                continue
            candidates = [key for key in buckets if key[0] == kind
                          and _device_type(situation.devices.get(key[1]), kind) == device_type]
            candidates.sort(key=lambda key: _connected(situation.devices.get(key[1])))
            if candidates:
                target = candidates[0]
                break
        if target is None:
            left.append(item)
        else:
            buckets[target].append(item)
    return left


def _device_type(device: Device | None, kind: str) -> str:
    """A device's family as the catalogue's `attach` names it (`uap`, `usw`, `gateway`)."""
    if device is None:
        return "gateway" if kind == "wan_incident" else ""
    family = (device.device_type or "").lower()
    return "gateway" if family in GATEWAY_TYPES else family


def _connected(device: Device | None) -> bool:
    """True when the device list says the device is connected now."""
    return device is not None and device.state == "connected"


def _join_companions(found: list[RuleFinding], companions: Mapping[str, str],
                     clock: Clock) -> list[RuleFinding]:
    """Fold each companion finding into the finding of its partner rule about the same device.

    The partner keeps its severity and words and gains the companion's events, rule id and a line
    in its details; a companion without a partner stays as it is.
    """
    if not companions:
        return found
    partners = {(item.rule_id, item.entities.get("device")): item for item in found
                if item.rule_id in companions.values() and item.entities.get("device")}
    kept: list[RuleFinding] = []
    for item in found:
        partner = partners.get((companions.get(item.rule_id, ""), item.entities.get("device")))
        if partner is None or partner is item:
            kept.append(item)
            continue
        host, guest = partner.finding, item.finding
        host.count += guest.count
        host.first_seen, host.last_seen = min(host.first_seen, guest.first_seen), max(host.last_seen,
                                                                                          guest.last_seen)
        host.event_ids = (host.event_ids + guest.event_ids)[:20]
        host.samples = sorted(host.samples + guest.samples, key=lambda sample: sample.time)[:10]
        host.rule_ids = sorted({*(host.rule_ids or [host.rule_id]), guest.rule_id})
        host.details[guest.rule_id] = f"{guest.title} ({clock.between(guest.first_seen, guest.last_seen)})"
        for hour, count in item.hours.items():
            partner.hours[hour] = partner.hours.get(hour, 0) + count
    return kept


def _routine_threat(members: list[RuleFinding]) -> bool:
    """True for a source whose hits were all blocked, came in no burst and were all inbound."""
    return all(
        item.rule_id == "ips_threat_blocked" and set(item.sets.get("directions", ())) <= {"inbound"}
        for item in members)


def stable_id(kind: str, *key: str) -> str:
    """A short hash of the incident kind and subject: the same incident keeps its id across runs."""
    text = "\x1f".join((kind, *key))
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:12]


# --------------------------------------------------------------------------- builders


class _Defaults(dict[str, str]):
    def __missing__(self, key: str) -> str:
        """A field a builder left out reads as empty (the catalogue check keeps names right)."""
        return ""


def _fill(template: str, values: Mapping[str, str], limit: int) -> str:
    """Fill a catalogue text and fold its whitespace; values are cleaned controller strings."""
    text = " ".join(template.format_map(_Defaults(values)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plural(count: int, noun: str) -> str:
    """`1 hit`, `3 hits`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _join(items: list[str], more: int = 0) -> str:
    """`a, b and c` (and `… and N more`)."""
    if more:
        return ", ".join(items) + f" and {more} more"
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


class _Builder:
    """Builds one incident or digest at a time from the catalogue's words and the situation."""

    def __init__(self, catalogue: IncidentCatalogue, situation: Situation) -> None:
        """Bind the catalogue and the window's situation."""
        self.catalogue = catalogue
        self.situation = situation
        self.clock = situation.clock

    def build(self, kind: str, subject: str, members: list[RuleFinding]) -> Correlated | None:
        """The incident of `kind` about `subject`, or None when the members tell no more than themselves."""
        return getattr(self, f"_{kind}")(subject, members)

    # ---------------------------------------------------------------- shared pieces

    def _finding(self, kind: str, rule_id: str, subject: str, variant: str, values: dict[str, str],
                 members: list[RuleFinding], severity: Severity, timeline: list[TimelineEntry],
                 remediation: list[str] | None = None) -> Correlated:
        """One incident finding from its catalogue variant, members and story."""
        spec = self.catalogue.incidents[kind]
        texts = spec.texts[variant]
        steps = texts.remediation or remediation or _first_steps(members)
        built = self._assemble(kind, rule_id, stable_id(kind, subject), texts.title, texts.explanation,
                               steps, values, members, severity, timeline)
        built.finding.ends = texts.ends or spec.ends
        built.finding.open = not texts.over
        return built

    def _assemble(self, kind: str, rule_id: str, ident: str, title: str, explanation: str,
                  steps: list[str], values: dict[str, str], members: list[RuleFinding], severity: Severity,
                  timeline: list[TimelineEntry]) -> Correlated:
        """The finding itself: texts filled, affected, samples and facts merged from the members."""
        findings = [item.finding for item in members]
        affected: list[Affected] = []
        seen: set[tuple[str, str]] = set()
        for finding in findings:
            for entity in finding.affected:
                if (entity.kind, entity.id) not in seen:
                    seen.add((entity.kind, entity.id))
                    affected.append(entity)
        samples = sorted({sample.id: sample for f in findings for sample in f.samples}.values(),
                         key=lambda sample: sample.time)[:10]
        event_ids = list(dict.fromkeys(ident for f in findings for ident in f.event_ids))[:20]
        details: dict[str, str | int | float | bool | None] = {}
        for finding in findings:
            for name, value in finding.details.items():
                details.setdefault(name, value)
        details.pop("base_rule", None)
        attachable = {rule_id for spec in self.catalogue.incidents.values() for rule_id in spec.attach}
        timeline = sorted(timeline + [self._entry(item.finding.first_seen, item.finding.title)
                                      for item in members if item.rule_id in attachable],
                          key=lambda entry: entry.time)
        finding = Finding(
            id=ident, rule_id=rule_id, severity=severity, category=findings[0].category,
            title=_fill(title, values, 200), explanation=_fill(explanation, values, 2000),
            remediation=[_fill(step, values, 500) for step in steps],
            affected=affected,
            first_seen=min(f.first_seen for f in findings), last_seen=max(f.last_seen for f in findings),
            count=sum(f.count for f in findings), event_ids=event_ids, samples=samples, details=details,
            incident=kind, rule_ids=sorted({f.rule_id for f in findings}),
            timeline=timeline[: self.catalogue.timeline_max],
            ends="routine" if kind in self.catalogue.digests else "quiet",
        )
        return Correlated(finding, members)

    def _entry(self, moment: datetime, text: str) -> TimelineEntry:
        """One timeline entry (texts are built from cleaned values)."""
        return TimelineEntry(time=moment, text=text[:300])

    def _bounded(self, entries: list[TimelineEntry], left_out: int, first: datetime | None,
                 last: datetime | None) -> list[TimelineEntry]:
        """The story sorted and cut to the catalogue's length, saying how many events it leaves out.

        `left_out` events were never among the entries: a finding keeps a few sample events, the first
        the controller sent, which are the newest for a feed that pages newest first. The note goes
        where they are: before the entries when the story began earlier than its first entry, else
        after the last. Entries past the length are cut from the end and counted too.
        """
        entries.sort(key=lambda entry: entry.time)
        room = self.catalogue.timeline_max
        if len(entries) > room:
            left_out += len(entries) - (room - 1)
            entries = entries[: room - 1]
        if left_out <= 0 or first is None or last is None:
            return entries
        entries = entries[: room - 1]
        earliest = entries[0].time if entries else last
        if first < earliest:
            return [self._entry(first, f"{_plural(left_out, 'event')} before these, the first at "
                                       f"{self.clock.at(first)}"), *entries]
        return [*entries, self._entry(last, f"… {_plural(left_out, 'event')} more, the last at "
                                            f"{self.clock.at(last)}")]

    # ---------------------------------------------------------------- device outage

    def _device_outage(self, mac: str, members: list[RuleFinding]) -> Correlated | None:
        """Lost contact → back after N minutes, or still offline now; repeated drops are flapping."""
        by_rule = {item.rule_id: item for item in members}
        lost = by_rule.get("device_flapping") or by_rule.get("device_lost_contact")
        back = by_rule.get("device_reconnected")
        offline = by_rule.get("device_offline")
        desc, Desc = self.situation.device_desc(mac, _device_kind(members))
        device = self.situation.devices.get(mac)
        clock = self.clock
        values = {"desc": desc, "Desc": Desc}
        timeline: list[TimelineEntry] = []
        downs = sorted(s.time for s in lost.finding.samples) if lost else []
        ups = sorted(s.time for s in back.finding.samples) if back else []
        outages = _outages(downs, ups)
        longest = _longest(outages)
        for moment, returned in outages:
            timeline.append(self._entry(moment, "lost contact with the controller"))
            if returned is not None:
                timeline.append(self._entry(returned, f"back after {duration(returned - moment)}"))
        if lost is None and back is not None:
            timeline += [self._entry(up, "reconnected to the controller") for up in ups]
        state = (device.state if device is not None else None) or "unknown"
        connected_now = device is not None and state == "connected"
        last_down = lost.finding.last_seen if lost else None
        last_up = back.finding.last_seen if back else None
        open_now = offline is not None or (
            lost is not None and not connected_now and (last_up is None or last_up < last_down))
        if open_now:
            seen = device.last_seen if device is not None and device.last_seen else last_down
            note = ("still offline when the report was made" if state in {"disconnected", "unknown"}
                    else f"still not connected when the report was made (state: {state})")
            if seen is not None and seen < self.situation.generated_at:
                note += f" (last seen {clock.at(seen, self.situation.generated_at)})"
            timeline.append(self._entry(self.situation.generated_at, note))
        more = (lost.finding.count - len(downs)) if lost else 0
        timeline = self._bounded(timeline, more, lost.finding.first_seen if lost else None,
                                 lost.finding.last_seen if lost else None)
        for item in members:
            acknowledged = item.finding.details.get("acknowledged")
            if acknowledged:
                timeline.append(self._entry(item.finding.last_seen, f"acknowledged {acknowledged}"))
        if lost is not None:
            several = lost.finding.count > 1
            values.update(drops=times(lost.finding.count), each=" each time" if several else "",
                          drops_title="" if lost.finding.count == 1 else f"{lost.finding.count} times ",
                          between=clock.between(lost.finding.first_seen, lost.finding.last_seen))
            peak = lost.finding.details.get("peak")
            values["peak"] = f" ({peak})" if peak else ""
        if lost is not None and lost.rule_id == "device_flapping":
            values["now"] = ", offline now" if open_now else ", connected now" if connected_now else ""
            values["state"] = (" It was still out of contact when the report was made." if open_now else "")
            return self._finding("device_outage", "device_flapping", mac, "flapping", values, members,
                                 Severity.SEVERE, timeline, _first_steps([lost]))
        if open_now:
            since = last_down or (device.last_seen if device is not None else None)
            values["since_title"] = (
                f" since {clock.at(since, self.situation.generated_at)} "
                f"({duration(self.situation.generated_at - since)})" if since else "")
            values["lost_phrase"] = (f"lost contact with the controller at {clock.at(last_down)} "
                                     if last_down else "was offline for this whole report window ")
            values["state_word"] = f" (its state: {state})" if state != "unknown" else ""
            values["extra"] = self._attached_note(members)
            steps = _first_steps([offline] if offline else [lost] if lost else members)
            return self._finding("device_outage", "device_outage", mac, "open", values, members,
                                 Severity.SEVERE, timeline, steps)
        if lost is not None:
            single = longest is not None and lost.finding.count == 1
            values["after_title"] = f" after {duration(longest)}" if single and longest else ""
            values["after_text"] = f" (longest outage {duration(longest)})" if longest else ""
            values["extra"] = self._attached_note(members)
            return self._finding("device_outage", "device_outage", mac, "recovered", values, members,
                                 Severity.MEDIUM, timeline, _first_steps([lost]))
        if back is not None and len(members) == 1:
            return None  # a reconnect alone: the rule's own low finding says it all
        return None

    def _attached_note(self, members: list[RuleFinding]) -> str:
        """A sentence on the site-health findings an incident took in, if any."""
        notes = [item.finding.title for item in members if item.rule_id == "subsystem_unhealthy"]
        return (" " + "; ".join(notes) + ", which this explains.") if notes else ""

    # ---------------------------------------------------------------- WAN

    def _wan_incident(self, mac: str, members: list[RuleFinding]) -> Correlated | None:
        """Down → failover → restored, with the outage's length and the ISP's quality during it."""
        downs = [item for item in members if item.rule_id == "wan_down"]
        failovers = [item for item in members if item.rule_id == "wan_failover"]
        restores = [item for item in members if item.rule_id == "wan_recovered"]
        # The legacy event list has no failover key: it shows a failover as another uplink coming up
        # while the primary is down. Such a "came up" belongs with the failovers, not the recoveries.
        down_networks = {item.entities.get("network") for item in downs}
        first_down = min((item.finding.first_seen for item in downs), default=None)
        backups = [item for item in restores if first_down is not None and not failovers
                   and item.entities.get("network") not in down_networks
                   and item.finding.first_seen >= first_down]
        failovers += backups
        restores = [item for item in restores if item not in backups]
        if not (downs or failovers):
            return None  # a recovery alone: the rule's own low finding says it all
        clock = self.clock
        desc, Desc = self.situation.device_desc(mac, _device_kind(members))
        timeline: list[TimelineEntry] = []
        down_times = sorted(s.time for item in downs for s in item.finding.samples)
        failover_times = sorted(s.time for item in failovers for s in item.finding.samples)
        restore_times = sorted(s.time for item in restores for s in item.finding.samples)
        networks = _join(sorted({item.entities["network"] for item in downs or failovers
                                 if item.entities.get("network")})) or "(unnamed)"
        longest = _longest(_outages(down_times, restore_times))
        timeline += [self._entry(moment, "internet uplink went down") for moment in down_times]
        timeline += [self._entry(t, "switched to the backup connection") for t in failover_times]
        for sample in (sample for item in restores for sample in item.finding.samples):
            back_from_backup = "BACKUP" in sample.key.upper()
            timeline.append(self._entry(sample.time, "back on the primary connection" if back_from_backup
                                        else "connection restored"))
        sampled = len(timeline)
        last_down = max((item.finding.last_seen for item in downs), default=None)
        last_restore = max((item.finding.last_seen for item in restores), default=None)
        open_now = last_down is not None and (last_restore is None or last_restore < last_down)
        primary = downs or failovers
        first = min(item.finding.first_seen for item in primary)
        last = max(item.finding.last_seen for item in primary)
        total = sum(item.finding.count for item in downs + failovers + restores)
        timeline = self._bounded(timeline, total - sampled, first,
                                 max([last, *(item.finding.last_seen for item in restores)]))
        quality = [item for item in members if item.rule_id in {"isp_quality", "subsystem_unhealthy"}]
        values = {
            "desc": desc, "Desc": Desc, "networks": networks,
            "downs": times(sum(item.finding.count for item in downs)) if downs else "",
            "between": clock.between(first, last),
            "failover_at": f" at {clock.at(failover_times[0])}" if failover_times else "",
            "restored_text": (f"; the primary connection was back after {duration(longest)}" if longest
                              else f"; it was restored {clock.at(last_restore)}" if last_restore else ""),
            "after_title": f", back after {duration(longest)}" if longest else "",
            "failover_text": (" The gateway switched to the backup connection, so the site may still be "
                              "online on it." if failovers else " No backup connection took over."),
            "quality_text": (" During the incident: " + "; ".join(
                f"{item.finding.title.rstrip('.')} "
                f"({clock.between(item.finding.first_seen, item.finding.last_seen)})"
                for item in quality) + ".") if quality else "",
        }
        if open_now:
            values["since_title"] = (f" since {clock.at(last_down, self.situation.generated_at)}"
                                     if last_down else "")
            variant, severity = "open", Severity.SEVERE
        elif downs and failovers:
            variant, severity = "failover", Severity.MEDIUM
        elif downs:
            variant, severity = "outage", Severity.SEVERE
        else:
            variant, severity = "backup_only", Severity.MEDIUM
        return self._finding("wan_incident", "wan_incident", mac, variant, values, members, severity,
                             timeline, _first_steps(primary))

    # ---------------------------------------------------------------- threats

    def _threat_campaign(self, remote: str, members: list[RuleFinding]) -> Correlated:
        """Every hit from or to one internet address, across signatures and targets."""
        clock = self.clock
        findings = [item.finding for item in members]
        directions = Counter(direction for item in members for direction in item.sets.get("directions", ()))
        locals_ = list(dict.fromkeys(address for item in members for address in item.sets.get("locals", ())))
        signatures = list(dict.fromkeys(s for item in members for s in item.sets.get("signatures", ())))
        detected = [item for item in members if item.rule_id == "ips_threat_detected"]
        hits = sum(f.count for f in findings)
        not_blocked = sum(item.finding.count for item in detected)
        first = min(f.first_seen for f in findings)
        last = max(f.last_seen for f in findings)
        labels = [self._label(address) for address in locals_]
        if "outbound" in directions:
            variant = "outbound"
        elif "internal" in directions:
            variant = "internal"
        else:
            variant = "inbound"
        # The country and network of the internet end: the source of an inbound hit, the destination of
        # an outbound one; an internal hit has none.
        side = {"inbound": ("src_country",), "outbound": ("dst_country",)}.get(variant, ())
        country = next((str(f.details[name]) for f in findings for name in side if f.details.get(name)), "")
        asn = next((str(f.details["asn"]) for f in findings if f.details.get("asn")), "") if side else ""
        origin = ", ".join(part for part in (country, asn) if part)
        peak = next((str(f.details["peak"]) for f in findings if f.details.get("peak")), "")
        families = [self.situation.plain_signature(signature) for signature in signatures]
        meaning = _join(list(dict.fromkeys(f for f in families if f))) or (
            "traffic the gateway's threat management flagged as an intrusion attempt")
        milder = all(item.finding.severity.rank < Severity.MEDIUM.rank or (
            item.rule_id == "ips_threat_detected" and item.finding.severity is not Severity.SEVERE)
            for item in members)
        if not_blocked and any(item.finding.severity is Severity.SEVERE for item in detected):
            severity = Severity.SEVERE
        elif variant != "inbound" and not milder:
            severity = Severity.SEVERE
        else:
            severity = Severity.MEDIUM
        blocked = hits - not_blocked
        if not_blocked:
            outcome = (f"{_plural(not_blocked, 'hit')} {'was' if not_blocked == 1 else 'were'} detected but "
                       f"NOT blocked" + (f"; {blocked} blocked." if blocked else "."))
        else:
            outcome = "The gateway blocked every one of them."
        targets = _join(labels[:3], max(0, len(labels) - 3)) or "a host on your side"
        targets_short = _join(labels[:2], max(0, len(labels) - 2)) or "the targeted host"
        if variant == "internal":
            # Both ends are ours: the source (the subject) is the host that attacked the others.
            internal = internal_short = self._label(remote)
        else:
            internal, internal_short = targets, labels[0] if labels else "A host on your side"
        values = {
            "remote": remote, "origin": f" ({origin})" if origin else "",
            "hits": _plural(hits, "hit"), "times": times(hits), "targets": targets, "internal": internal,
            "targets_short": targets_short, "internal_short": internal_short,
            "not_blocked_title": f", {not_blocked} not blocked" if not_blocked else ", all blocked",
            "blocked_word": ", not blocked" if not_blocked == hits else ", blocked" if not not_blocked else
                            f", {not_blocked} not blocked",
            "between": clock.between(first, last), "peak": f" ({peak})" if peak else "",
            "outcome": outcome, "first": clock.at(first),
            "signatures": _join(signatures[:3], max(0, len(signatures) - 3)) or (
                "not named by the controller (its v2 system log carries none)"),
            "meaning": meaning, "family": _short_family(signatures),
            "ips_mode_note": (" Threat management runs in detection-only (IDS) mode."
                              if self.situation.ips_mode == "ids" else ""),
        }
        timeline: list[TimelineEntry] = [self._entry(first, f"first hit ({_short(signatures)})")]
        if peak:
            timeline.append(self._entry(first, f"burst: {peak}"))
        for item in detected:
            # Repeats of one alert say nothing new: the first of each message, then how many followed.
            seen: dict[str, int] = {}
            for sample in item.finding.samples:
                if sample.message not in seen:
                    seen[sample.message] = 0
                    timeline.append(self._entry(sample.time, f"NOT blocked: {sample.message}"))
            if item.finding.count > len(seen):
                timeline.append(self._entry(item.finding.last_seen, f"{item.finding.count} hits in all were "
                                                                    "NOT blocked, the last at "
                                                                    f"{clock.at(item.finding.last_seen)}"))
        if last > first:
            timeline.append(self._entry(last, "last hit"))
        timeline = self._bounded(timeline, 0, None, None)
        return self._finding("threat_campaign", "threat_campaign", remote, variant, values, members,
                             severity, timeline)

    def ips_digest(self, members: list[RuleFinding]) -> Correlated:
        """One finding for the blocked hits of every quiet internet source of the window."""
        spec = self.catalogue.digests["ips_digest"]
        findings = [item.finding for item in members]
        hits = sum(f.count for f in findings)
        known = [item for item in members if item.entities.get("remote") not in (None, OVERFLOW)]
        overflowed = len(known) < len(members)
        sources = f"{'more than ' if overflowed else ''}{_plural(len(known), 'source')}"
        top = spec.top
        ranked = sorted(known, key=lambda item: (-item.finding.count, item.entities["remote"]))[:top]
        top_sources = _join([self._source_label(item) for item in ranked]) or "not known"
        # A source's finding counts its hits, not how they split over its targets and signatures: the
        # tops count the sources that hit each target or used each signature, which is exact.
        targets: Counter[str] = Counter()
        kinds: Counter[str] = Counter()
        for item in members:
            targets.update(item.sets.get("locals", ()))
            kinds.update(item.sets.get("signatures") or [_threat_type(item.finding)])
        top_targets = _join([f"{self._label(address)} (from {_plural(count, 'source')})"
                             for address, count in targets.most_common(top)]) or "not known"
        top_signatures = _join([f"{signature} ({_plural(count, 'source')})"
                                for signature, count in kinds.most_common(top)])
        first = min(f.first_seen for f in findings)
        last = max(f.last_seen for f in findings)
        values = {"hits": _plural(hits, "attempt"), "sources": sources,
                  "between": self.clock.between(first, last), "top_sources": top_sources,
                  "top_targets": top_targets, "top_signatures": top_signatures}
        built = self._assemble("ips_digest", "ips_digest", stable_id("ips_digest"), spec.title,
                               spec.explanation, spec.remediation, values, members, Severity.LOW, [])
        finding = built.finding
        # The digest is about the site: it names only its top sources and targets, not every address.
        shown = {item.entities["remote"] for item in ranked} | set(list(targets)[:top])
        finding.affected = [entity for entity in finding.affected
                            if entity.kind != "ip" or entity.id in shown][:2 * top]
        finding.details = {"sources": len(known), "hits": hits}
        return built

    def firewall_digest(self, members: list[RuleFinding]) -> Correlated:
        """One finding for the blocks of every firewall policy, busiest policy first."""
        spec = self.catalogue.digests["firewall_digest"]
        ranked = sorted(members, key=lambda item: -item.finding.count)
        findings = [item.finding for item in members]
        shown = ranked[: spec.top]
        parts = []
        for item in shown:
            sources = ", ".join(self._label(src) for src in item.sets.get("srcs", [])[:3]) or "not reported"
            policy = item.entities.get("trigger", "(unnamed)")
            parts.append(f"“{policy}” {_plural(item.finding.count, 'time')} (sources include {sources})")
        if len(ranked) > len(shown):
            parts.append(f"and {len(ranked) - len(shown)} more policies")
        per_policy = "; ".join(parts)
        values = {"hits": _plural(sum(f.count for f in findings), "connection"),
                  "between": self.clock.between(min(f.first_seen for f in findings),
                                                max(f.last_seen for f in findings)),
                  "policies": f"{len(members)} firewall policies", "per_policy": per_policy}
        built = self._assemble("firewall_digest", "firewall_block", stable_id("firewall_digest"), spec.title,
                               spec.explanation, spec.remediation, values, members, Severity.LOW, [])
        built.finding.details = {"policies": len(members)}
        return built

    def _source_label(self, item: RuleFinding) -> str:
        """`203.0.113.7 (NL, AS60781) 3 hits` for the digest's list of sources."""
        details = item.finding.details
        extra = ", ".join(str(details[name]) for name in ("src_country", "asn") if details.get(name))
        where = f" ({extra})" if extra else ""
        return f"{item.entities['remote']}{where} {_plural(item.finding.count, 'hit')}"

    def _label(self, address: str) -> str:
        """`name (address)` when a name is known, else the address."""
        name = self.situation.resolve(address)
        return f"{name} ({address})" if name and name != address else address

    # ---------------------------------------------------------------- admin logins

    def _admin_brute_force(self, address: str, members: list[RuleFinding]) -> Correlated | None:
        """Failed logins from one address, and whether a successful login from it followed."""
        failures = next((item for item in members
                         if item.rule_id in {"admin_brute_force", "admin_login_failed"}), None)
        if failures is None:
            return None  # logins from a new address, with no failure: the rule's own finding
        clock = self.clock
        failed = failures.finding
        success = self.situation.logins.get(address)
        success_after = success if success is not None and success[0] >= failed.first_seen else None
        admins = ", ".join(failures.sets.get("admins", ())) or "not reported"
        peak = failed.details.get("peak")
        values = {"ip": self._label(address), "failures": times(failed.count),
                  "between": clock.between(failed.first_seen, failed.last_seen),
                  "peak": f", {peak}" if peak else "", "admins": admins}
        timeline = [self._entry(failed.first_seen, f"first failed login (accounts tried: {admins})")]
        if failed.count > 1:
            timeline.append(self._entry(failed.last_seen, f"{_plural(failed.count, 'failed login')} in all"))
        if success_after is not None:
            moment, admin = success_after
            who = f" as {admin}" if admin else ""
            values["success_title"] = f", then a successful login{who}"
            values["success_text"] = (
                f" Then {clock.at(moment)} a login{who} from the same address SUCCEEDED: if that was not a "
                "colleague who mistyped, treat the account as compromised.")
            timeline.append(self._entry(moment, f"successful login{who}"))
        guessing = failed.rule_id == "admin_brute_force"
        severity = Severity.SEVERE if guessing else Severity.MEDIUM
        steps = _first_steps([failures])
        if success_after is not None:
            steps = ["Confirm with the account's owner that the successful login was theirs; if not, change "
                     "its password, end its sessions and review recent configuration changes.", *steps]
        variant = "guessing" if guessing else "failures"
        return self._finding("admin_brute_force", failed.rule_id, address, variant, values, members, severity,
                             timeline, steps)


def _outages(downs: list[datetime], ups: list[datetime]) -> list[tuple[datetime, datetime | None]]:
    """Each time something went down, with the first time it was back at or after it (or None)."""
    return [(down, next((up for up in ups if up >= down), None)) for down in downs]


def _longest(outages: list[tuple[datetime, datetime | None]]) -> timedelta | None:
    """The longest of the outages that ended, or None when none did."""
    return max((up - down for down, up in outages if up is not None), default=None)


def _device_kind(members: list[RuleFinding]) -> str | None:
    """The device kind the members' events gave, if any."""
    return next((item.device_kind for item in members if item.device_kind), None)


def _first_steps(members: list[Any]) -> list[str]:
    """The remediation of the first member that has one (the most serious member comes first)."""
    for item in members:
        if item is not None and item.finding.remediation:
            return list(item.finding.remediation)
    return ["Look at the controller's dashboard for the devices named here."]


def _short(signatures: list[str]) -> str:
    """The first signature, or a word for none."""
    return signatures[0] if signatures else "no signature named"


def _short_family(signatures: list[str]) -> str:
    """The IPS family of the first signature (`ET MALWARE`), for titles."""
    if not signatures:
        return "a threat"
    words = signatures[0].split()
    return " ".join(words[:2]) if len(words) >= 2 and words[0] in {"ET", "GPL"} else words[0]


def _threat_type(finding: Finding) -> str:
    """What to call a blocked threat whose row named no signature: its controller key."""
    keys = str(finding.details.get("event_keys") or "").split(", ")
    return f"threat type {keys[0]}" if keys and keys[0] else "unnamed threat"


