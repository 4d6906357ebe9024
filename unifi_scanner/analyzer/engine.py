"""Streaming aggregation of events into findings.

`Engine.feed` takes collection items one at a time. Each event is normalised, matched against the
catalogue and folded into its rule's group (one group per rule and grouping key), which keeps only a
count, first/last time, a bounded sample of ids and events, per-hour counts and, for rules that escalate
on bursts, counts per slice of the burst window. Memory therefore follows the number of distinct
problems (capped per rule), never the number of events. Device and health items run the state checks
and feed their result into the same groups. `Engine.report` resolves names (device and client lists may
arrive in any order), applies escalation, overrides, mutes and the minimum severity, and builds the
`Report`.
"""

from __future__ import annotations

import re
import statistics
import sys
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from unifi_scanner.analyzer.correlate import RuleFinding, Situation, correlate, load_incidents, stable_id
from unifi_scanner.analyzer.normalize import (
    DEVICE_TYPE_WORDS,
    GATEWAY_TYPES,
    MAX_TEXT,
    Event,
    clean,
    field_reader,
    is_internal_address,
    norm_mac,
    normalize,
)
from unifi_scanner.analyzer.rules import (
    GROUP_FIELDS,
    Catalogue,
    Condition,
    Escalation,
    Rule,
    conditions_hold,
)
from unifi_scanner.analyzer.state_checks import CHECKS
from unifi_scanner.analyzer.wording import Clock, device_phrase, times
from unifi_scanner.errors import ConfigError
from unifi_scanner.memory.logins import KNOWN_ADMIN_DAYS
from unifi_scanner.models import (
    Affected,
    Client,
    Device,
    DeviceHealth,
    EventSample,
    Finding,
    Footer,
    Header,
    Health,
    HourBucket,
    Record,
    Report,
    Severity,
    SeverityCounts,
    UnknownEvent,
    severity_at_least,
)
from unifi_scanner.settings import Settings

MAX_EVENT_IDS = 20
"""Event ids a finding keeps (fewer when its rule keeps fewer samples)."""
MAX_DENSE_HOURS = 24 * 8
"""The longest window (in hours) whose per-hour counts a group keeps in a list made at once (8 bytes
an hour: at most 1.5 KiB a group); a longer window counts in a dict, as events come."""
MAX_SAMPLES = 5
"""Sample events a finding keeps, unless its rule asks for fewer (`Rule.samples`)."""
MAX_SET = 10
SET_LIMITS = {"signatures": 5, "locals": 5, "clients": 5}
"""Smaller bounds for the sets each IPS group fills, one group per internet address: a campaign names
its first three signatures and targets, the digest ranks them across all sources, and with hundreds of
groups the extra entries cost more memory than they tell."""
MAX_GROUPS_PER_RULE = 500
MAX_UNKNOWN_KEYS = 500
MAX_NAMES = 20_000
MAX_MATCH_CACHE = 5_000
DEDUPE_MEMORY = 20_000
DEDUPE_SECONDS = 2
MAX_LOCAL_ADDRESSES = 20_000
"""The site's own addresses remembered from the device, client and health lists (a few KiB each)."""
MAX_ACKNOWLEDGED = 500
"""Archived alarms remembered as context for the findings other records open (under 100 KiB)."""
MAX_LOGINS = 500
"""Addresses whose successful admin logins are remembered for the brute-force incident (under 100 KiB)."""
MAX_HOURS = 24 * 62
MAX_TIME_SLOTS = 10_000
OVERFLOW = "(many)"
OTHER_KEYS = "(other keys)"
_MILDER = {Severity.SEVERE: Severity.MEDIUM, Severity.MEDIUM: Severity.LOW, Severity.LOW: Severity.LOW}
_MAC_IN_TEXT = re.compile(r"\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b", re.IGNORECASE)

class _Group:
    """What one finding-to-be remembers: bounded whatever the number of events."""

    __slots__ = ("key", "entities", "count", "first", "last", "event_ids", "samples", "hours",
                 "recent", "burst", "burst_start", "attrs", "sets", "forced", "severity_hint", "device_kind",
                 "events", "tracked", "learned", "max_samples", "max_ids", "dense")

    def __init__(self, key: tuple[str, ...], entities: dict[str, str],
                 extra: tuple[tuple[str, str], ...] = (), window: int | None = None,
                 max_samples: int = MAX_SAMPLES, span_hours: int = 0) -> None:
        """An empty group for one grouping key; `add` fills it. `extra` are the (set name, event field)
        pairs the rule asks to track beyond the usual ones (`Rule.track`); `window` is the burst
        window of the rule's escalation, in seconds; `max_samples` the rule's bound on samples (event
        ids are kept in proportion); `span_hours` the report window's hours."""
        self.max_samples = max_samples
        self.max_ids = MAX_EVENT_IDS * max_samples // MAX_SAMPLES
        # Counts per hour of the window in one list made at once, rather than a dict that grows an
        # entry at a time as the stream goes by: with hundreds of groups, the growing tables were
        # scattered through memory the stream's pages had used, and kept it from being reused.
        self.dense: list[int] | None = [0] * span_hours if 0 < span_hours <= MAX_DENSE_HOURS else None
        self.key = key
        self.entities = entities
        self.count = 0
        self.events = 0  # real events, as opposed to state-check hits
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.event_ids: list[str] = []
        # (id, time, key, message) of the first events: each becomes an EventSample only once its
        # message has names filled in (`_named_sample`), so no model is built and then copied.
        self.samples: list[tuple[str, datetime, str, str]] = []
        self.hours: dict[int, int] = {}  # hours outside the window (or all, for a long window)
        # The times of the events within one burst window of the latest (`add`), and the most events
        # ever seen within one window with the time the first of them happened.
        self.recent: deque[int] | None = deque() if window else None
        self.burst = 0
        self.burst_start = 0
        self.attrs: dict[str, str] = {}
        self.sets: dict[str, dict[str, None]] = {}
        self.forced = False
        self.learned = False  # took the attributes of a copy from another source (`Engine._duplicate`)
        self.severity_hint: Severity | None = None
        self.device_kind: str | None = None
        # (set name, event field) pairs `add` remembers; devices and clients only when they do not
        # already name the group. Fixed per group, so it is worked out once here, not per event.
        self.tracked = (("keys", "key"), ("admins", "admin"), ("signatures", "signature")) + tuple(
            (f"{field}s", field) for field in ("device", "client") if field not in entities) + extra

    def add(self, event: Event, stamp: int, *, real: bool, window: int | None, hour: int = 0) -> None:
        """Fold one event in; `stamp` is its time in whole Unix seconds and `hour` its hour counted from
        the window's first (both worked out once per event).

        With a burst `window` (seconds), the most events within any window is kept exactly, in memory
        that follows the events of one window rather than the whole stream: a source's records arrive
        in time order (newest or oldest first), so the times kept are those within a window of the
        latest, and any kept earlier that fall outside it can never join a later one.
        """
        self.count += 1
        moment = event.time
        if self.first is None or moment < self.first:
            self.first = moment
        if self.last is None or moment >= self.last:
            self.last = moment
            self.attrs.update(event.settled_attrs())
        if len(self.event_ids) < self.max_ids:
            self.event_ids.append(event.id)
        if len(self.samples) < self.max_samples:
            self.samples.append((event.id, moment, event.key, event.message))
        if real:  # state checks are not events: they stay off the hourly chart
            self.events += 1
            dense = self.dense
            if dense is not None and 0 <= hour < len(dense):
                dense[hour] += 1
            else:
                _tally(self.hours, hour)
        if window:
            recent = self.recent
            assert recent is not None
            while recent and abs(stamp - recent[0]) > window:
                recent.popleft()
            recent.append(stamp)
            if len(recent) > self.burst:
                self.burst = len(recent)
                self.burst_start = min(stamp, recent[0])
        self.device_kind = self.device_kind or event.device_kind
        sets = self.sets
        for name, field in self.tracked:
            value = getattr(event, field)
            # Most events repeat a value the group already holds: skip the call for those.
            if value and value not in sets.get(name, ()):
                self.remember(name, value)

    def absorb(self, other: _Group) -> None:
        """Take in another group of the same rule (the same problem, learned late to be the same)."""
        self.count += other.count
        self.events += other.events
        firsts = [moment for moment in (self.first, other.first) if moment is not None]
        self.first = min(firsts) if firsts else None
        if other.last is not None and (self.last is None or other.last > self.last):
            self.last = other.last
            self.attrs.update(other.attrs)
        self.event_ids = (self.event_ids + other.event_ids)[: self.max_ids]
        self.samples = (self.samples + other.samples)[: self.max_samples]
        for index, count in other.hour_counts().items():
            dense = self.dense
            if dense is not None and 0 <= index < len(dense):
                dense[index] += count
            else:
                self.hours[index] = self.hours.get(index, 0) + count
        if other.burst > self.burst:  # bursts of the two are not combined: each kept its own best
            self.burst, self.burst_start = other.burst, other.burst_start
        for name, values in other.sets.items():
            for value in values:
                self.remember(name, value)
        self.forced = self.forced or other.forced
        self.device_kind = self.device_kind or other.device_kind

    def hour_counts(self) -> dict[int, int]:
        """Events per hour (counted from the window's first), for the chart."""
        counts = {hour: count for hour, count in enumerate(self.dense or ()) if count}
        for hour, count in self.hours.items():
            counts[hour] = counts.get(hour, 0) + count
        return counts

    def remember(self, name: str, value: str | None) -> None:
        """Add `value` to a small set of extra facts (first MAX_SET distinct values).

        The value is interned: the same signature or address comes back in many groups, and each kept
        copy would be a string read from a different page of records, keeping that page's memory from
        being reused for as long as the analysis runs.
        """
        if value:
            bucket = self.sets.setdefault(name, {})
            if len(bucket) < SET_LIMITS.get(name, MAX_SET):
                bucket[sys.intern(value)] = None


class Engine:
    """Consumes collection items once, in any order after the header, and builds a `Report`."""

    def __init__(self, catalogue: Catalogue, settings: Settings, *,
                 known_admin_ips: set[str] | None = None) -> None:
        """Start empty; `feed` fills it."""
        self.catalogue = catalogue
        self.settings = settings
        self.clock = Clock.named(settings.timezone)
        self.known_admin_ips = set(known_admin_ips) if known_admin_ips is not None else None
        # The site's own addresses (devices, clients, the gateway's WAN): with the private ranges, they
        # tell which end of an IPS hit is ours. The lists come before the records in a collection.
        self.local_addresses: set[str] = set()
        # (rule id, group key) -> when and by whom an archived alarm about it was handled.
        self.acknowledged: dict[tuple[str, tuple[str, ...]], str] = {}
        # address -> (latest successful admin login, admin), for "and then a login succeeded".
        self.logins: dict[str, tuple[datetime, str | None]] = {}
        self.header: Header | None = None
        self.footer: Footer | None = None
        self.groups: dict[str, dict[tuple[str, ...], _Group]] = {rule.id: {} for rule in catalogue.rules}
        self.devices: dict[str, Device] = {}
        self.clients: dict[str, Client] = {}
        self.names: dict[str, str] = {}
        self.unknown: dict[str, list[Any]] = {}
        self.other_hours: dict[int, int] = {}
        # Hours are counted from the window's first, so the tables of a day's events are keyed by the
        # small integers Python keeps once, not by a new integer object per hour and group that would
        # live as long as the analysis (scattered through the heap, they kept it from shrinking).
        self._hour_base = 0
        self._span_hours = 0
        self.per_category: dict[str, int] = {}
        self.total_events = 0
        self.ips_events = 0
        self.ips_signed = 0
        self.duplicates = 0
        self.overflowed: set[str] = set()
        self._match_cache: dict[tuple[Any, ...], tuple[tuple[Rule, tuple[Condition, ...]], ...]] = {}
        self._recent_ips: dict[tuple[Any, ...], tuple[str, _Group]] = {}
        # `_recent_ips`'s keys, oldest first, for forgetting the oldest: a plain dict with this queue
        # costs less per hit than an OrderedDict did (0.06 s less over the 170,000 hits of the IPS
        # benchmark), whose `popitem(last=False)` took half of `_remember_ips`.
        self._recent_order: deque[tuple[Any, ...]] = deque()
        # How many of the `_recent_ips` entries each source made (one key per source name), so that
        # `_duplicate` knows when no other source's hit is remembered.
        self._recent_sources: dict[str, int] = {}
        # What `_record` needs of a rule for every event it takes, worked out once per rule: the burst
        # window, the category name (an enum's `.value` is a Python-level property) and whether its
        # events are successful admin logins to remember.
        self._folding = {rule.id: (_window_seconds(rule.escalate), rule.category.value,
                                   rule.finalize == "new_admin_address")
                         for rule in catalogue.rules}
        self._group_keys = {rule.id: _key_reader(tuple(map(_group_reader, rule.group_fields)))
                            for rule in catalogue.rules}
        self._tracks = {rule.id: tuple((f"{name}s", name) for name in rule.track) for rule in catalogue.rules}

    # ------------------------------------------------------------------ input

    def feed(self, item: Any) -> None:
        """Take one collection item (Header, Device, Client, Health, Record or Footer)."""
        if isinstance(item, Record):
            self._record(item)
        elif isinstance(item, Device):
            self._device(item)
        elif isinstance(item, Client):
            mac = norm_mac(item.mac) or item.mac
            self.clients[mac] = item
            if item.ip:
                self._name(item.ip, item.display_name)
                self._local(item.ip)
        elif isinstance(item, Health):
            self._local(item.raw.get("wan_ip"))
            self._state(item, subsystem=clean(item.subsystem) or "unknown")
        elif isinstance(item, Header):
            self.header = item
            self._hour_base = int(item.window.since.timestamp()) // 3600
            self._span_hours = (int(item.window.until.timestamp()) - 1) // 3600 - self._hour_base + 1
        elif isinstance(item, Footer):
            self.footer = item

    def _device(self, device: Device) -> None:
        """Remember the device for names and the health table, and run its state checks."""
        mac = norm_mac(device.mac) or device.mac
        self.devices[mac] = device
        if device.ip and device.name:
            self._name(device.ip, device.name)
        self._local(device.ip)
        if (device.device_type or "").lower() in GATEWAY_TYPES:
            for uplink in ("wan1", "wan2", "uplink"):
                section = device.raw.get(uplink)
                if isinstance(section, dict):
                    self._local(section.get("ip"))
        self._state(device, device=mac)

    def _local(self, address: object) -> None:
        """Remember one of the site's own addresses (bounded)."""
        text = clean(address, 64)
        if text and len(self.local_addresses) < MAX_LOCAL_ADDRESSES:
            self.local_addresses.add(text)

    def _state(self, item: Device | Health, *, device: str | None = None,
               subsystem: str | None = None) -> None:
        """Run every state check that reads this kind of item; a hit feeds its rule like an event."""
        moment = self.header.collected_at if self.header else datetime.now(UTC)
        for rule in self.catalogue.rules:
            if rule.state is None:
                continue
            reads, check = CHECKS[rule.state.check]
            if not isinstance(item, reads):
                continue
            facts = check(item, rule.state.params)
            if facts is None:
                continue
            hint = facts.pop("severity", None)
            event = Event(
                id=f"state:{rule.id}:{device or subsystem}", time=moment, kind=None,
                source="devices" if device else "health", key=f"STATE_{rule.state.check.upper()}",
                message=f"{rule.state.check.replace('_', ' ')}: "
                        + ", ".join(f"{name} {value}" for name, value in facts.items()),
                device=device, subsystem=subsystem, attrs=facts,
            )
            group = self._group(rule, event)
            group.add(event, int(moment.timestamp()), real=False, window=None)
            if hint in Severity.__members__.values() and (
                group.severity_hint is None or Severity(hint).rank > group.severity_hint.rank
            ):
                group.severity_hint = Severity(hint)

    def _record(self, record: Record) -> None:
        """Normalise, match and fold one record; unmatched keys go to the unknown list."""
        # Attributes deferred: they are worked out only for the events that need them, the latest of
        # each group (`_Group.add`) and those whose `where` conditions or grouping read them.
        event = normalize(record, defer=True)
        self.total_events += 1
        # `_name` written out for the two or three names nearly every event carries: a method call each
        # cost more than the test itself.
        names = self.names
        if event.device and event.device_name and (event.device in names or len(names) < MAX_NAMES):
            names[event.device] = event.device_name
        if event.client and event.client_name and (event.client in names or len(names) < MAX_NAMES):
            names[event.client] = event.client_name
        for address, name in event.ip_names:
            if address in names or len(names) < MAX_NAMES:
                names[address] = name
        rule = self._match(event)
        if rule is None:
            self._unknown(event)
            return
        if event.archived:
            self._acknowledge(rule, event)
            return
        stamp = int(event.time.timestamp())
        if event.action is not None:
            if "remote" in rule.group_fields:  # IPS rules (firewall blocks name no signature by nature)
                self.ips_events += 1
                self.ips_signed += bool(event.signature)
            event.remote, event.local, event.direction = self._ends(event.src, event.dst)
            content = (event.src, event.dst) if event.src and event.dst else None
        else:
            # Alarms repeat device happenings of the event log under their own ids; client events
            # (nearly all of them) never come as alarms, so they are never remembered or looked up.
            subject = event.device or event.ip or event.admin
            content = (rule.id, subject) if subject and event.client is None else None
        if content is not None and self._duplicate(event, content, stamp):
            self.total_events -= 1  # one happening, already counted from the other source
            return
        window, category, logins = self._folding[rule.id]
        if logins and event.ip:
            self._login(event)
        group = self._group(rule, event)
        group.add(event, stamp, real=True, window=window, hour=stamp // 3600 - self._hour_base)
        escalation = rule.escalate
        if escalation is not None and event.key in escalation.keys:
            group.forced = True
        self.per_category[category] = self.per_category.get(category, 0) + 1
        if content is not None:
            self._remember(event, content, group, stamp)

    def _ends(self, src: str | None, dst: str | None) -> tuple[str | None, str | None, str]:
        """An IPS hit's (remote, local, direction): which end is on the internet and which is ours.

        Ours: the private, CGNAT and link-local ranges, the site's own addresses (devices, clients, the
        gateway's WAN) and clients named by MAC. Inbound when only the destination is ours, outbound
        when only the source is, internal when both are (the source is then the one to look at). When
        neither is known to be ours (the hit was aimed at a public address the lists do not name), the
        source is the remote end and the hit counts as inbound.
        """
        local = self.local_addresses
        # A v2 row names a client it knows by MAC only (no address): only our own clients are.
        src_ours = bool(src) and (src in local or is_internal_address(src)
                                  or (len(src) == 17 and norm_mac(src) is not None))
        dst_ours = bool(dst) and (dst in local or is_internal_address(dst)
                                  or (len(dst) == 17 and norm_mac(dst) is not None))
        if src_ours and dst_ours:
            return src, dst, "internal"
        if src_ours:
            return dst or src, src, "outbound"
        return src or dst, dst, "inbound"

    def _acknowledge(self, rule: Rule, event: Event) -> None:
        """Keep an archived alarm as context only: it opens no finding, but the finding other records
        open about the same subject says an admin handled it."""
        self._unknown_hour(event)
        attrs = event.settled_attrs()
        when = attrs.get("handled_time")
        text = "by an admin" + (f" ({when})" if when else "")
        key = (rule.id, self._group_keys[rule.id](event))
        if key in self.acknowledged or len(self.acknowledged) < MAX_ACKNOWLEDGED:
            self.acknowledged[key] = text

    def _login(self, event: Event) -> None:
        """Remember the latest successful admin login per address (bounded)."""
        address = event.ip
        assert address is not None
        seen = self.logins.get(address)
        if seen is None and len(self.logins) >= MAX_LOGINS:
            return
        if seen is None or event.time > seen[0]:
            self.logins[address] = (event.time, event.admin)

    def _match(self, event: Event) -> Rule | None:
        """The first catalogue rule that takes the event, or None."""
        cache_key = (event.kind, event.key, event.family, event.subsystem, event.category, event.subcategory)
        candidates = self._match_cache.get(cache_key)
        if candidates is None:
            # Each rule's fitting alternatives in turn, as (rule, `where` conditions) pairs: one flat
            # loop per event, and no attribute or method look-ups on the alternatives.
            candidates = tuple((rule, alternative.conditions)
                               for rule, alternatives in self.catalogue.candidates(event)
                               for alternative in alternatives)
            if len(self._match_cache) < MAX_MATCH_CACHE:
                self._match_cache[cache_key] = candidates
        for rule, conditions in candidates:
            # Most alternatives have no `where`: they take every event they select, no call needed.
            if not conditions or conditions_hold(conditions, event):
                return rule
        return None

    def _unknown(self, event: Event) -> None:
        """Count an event no rule knew, keeping its first message as the sample."""
        key = event.key
        if key not in self.unknown and len(self.unknown) >= MAX_UNKNOWN_KEYS:
            key = OTHER_KEYS
        entry = self.unknown.setdefault(key, [0, event.message or None])
        entry[0] += 1
        self._unknown_hour(event)

    def _unknown_hour(self, event: Event) -> None:
        """Chart an event that feeds no finding."""
        _tally(self.other_hours, int(event.time.timestamp()) // 3600 - self._hour_base)
        self.per_category["other"] = self.per_category.get("other", 0) + 1

    def _duplicate(self, event: Event, content: tuple[str, ...], second: int) -> bool:
        """True when another source already reported this happening (same content within ±2 s).

        `content` is what makes two records one happening: an IPS hit's source and destination (its
        key differs between the event log, the IPS list, alarms and flows), or the rule and subject of
        a device happening (an alarm repeats an event under another id and sometimes another key).
        Records from the same source are never merged: two identical alerts a second apart are two.
        The record kept learns what the copy adds (a signature, attributes it lacked).
        """
        sources = self._recent_sources
        if len(sources) - (event.source in sources) == 0:
            # Every remembered hit is from this event's own source, so none can be its copy. Sources are
            # collected one after the other, so this spares the five probes for most IPS events.
            return False
        probe = self._recent_ips.get
        for moment in range(second - DEDUPE_SECONDS, second + DEDUPE_SECONDS + 1):
            seen = probe((*content, moment))
            if seen is not None and seen[0] != event.source:
                self.duplicates += 1
                group = seen[1]
                if event.signature:
                    group.remember("signatures", event.signature)
                if not group.learned:
                    # What one copy adds (a flow's ports and risk to a system-log row) the next ones
                    # repeat: once per group spares their work and keeps no more of their strings.
                    group.learned = True
                    for name, value in event.settled_attrs().items():
                        group.attrs.setdefault(name, value)
                return True
        return False

    def _remember(self, event: Event, content: tuple[str, ...], group: _Group, second: int) -> None:
        """Remember a happening briefly so copies from other sources can be recognised."""
        recent, sources = self._recent_ips, self._recent_sources
        key = (*content, second)
        size = len(recent)
        recent[key] = (event.source, group)
        if len(recent) == size:
            # It replaced an entry under the same key, which `_duplicate` (having let this hit through)
            # knows to be of the same source: the counts stand, and the key keeps its place in the queue.
            return
        self._recent_order.append(key)
        sources[event.source] = sources.get(event.source, 0) + 1
        if len(recent) > DEDUPE_MEMORY:
            oldest, _ = recent.pop(self._recent_order.popleft())
            sources[oldest] -= 1
            if not sources[oldest]:
                del sources[oldest]

    def _group(self, rule: Rule, event: Event) -> _Group:
        """The group of this rule for the event's grouping key (the overflow group past the cap)."""
        key = self._group_keys[rule.id](event)
        groups = self.groups[rule.id]
        group = groups.get(key)
        if group is None:
            if len(groups) >= MAX_GROUPS_PER_RULE:
                self.overflowed.add(rule.id)
                key = (OVERFLOW,) * len(key)
                group = groups.get(key)
            if group is None:
                # The entities dict is built here, once per group, rather than for every event.
                entities = {name: value for name, value in zip(rule.group_fields, key, strict=True) if value}
                group = groups[key] = _Group(key, entities, self._tracks[rule.id],
                                             self._folding[rule.id][0], rule.samples, self._span_hours)
        return group

    def _name(self, ident: str, name: str) -> None:
        """Remember a name seen in an event for a MAC or IP (bounded; lists win at the end)."""
        if ident in self.names or len(self.names) < MAX_NAMES:
            self.names[ident] = name

    # ------------------------------------------------------------------ output

    def report(self, *, generated_at: datetime, first_run: bool, lookback_hours: float | None,
               notes: Sequence[str]) -> Report:
        """Turn the groups into the final `Report`; call once, as it consumes the groups."""
        if self.header is None:
            raise ConfigError("the collection has no header, so there is nothing to report on")
        settings = self.settings
        self._recent_ips.clear()  # it holds groups too, and no event comes after this
        self._recent_order.clear()
        self._recent_sources.clear()
        findings: list[Finding] = []
        hourly: dict[int, dict[str, int]] = {}
        for hour, count in self.other_hours.items():
            _bump(hourly, hour, "other", count)
        muted = 0
        problems: dict[str, list[tuple[int, str]]] = {}
        found: list[RuleFinding] = []
        per_rule: dict[str, int] = {}
        for rule in self.catalogue.rules:
            if rule.state is None and self.groups[rule.id]:
                per_rule[rule.id] = sum(group.count for group in self.groups[rule.id].values())
            groups = self._finalists(rule)
            used = groups
            extra: dict[str, str] = {}
            if rule.baseline is not None:
                groups, extra, used = self._outliers(rule, groups)
            # Events of groups that open no finding (too few, or normal for this site) are still charted.
            chosen = {id(group) for group in used}
            for group in self.groups[rule.id].values():
                if id(group) not in chosen:
                    for hour, count in group.hour_counts().items():
                        _bump(hourly, hour, "other", count)
            for group in groups:
                finding, context = self._finding(rule, group, extra)
                problem = _fill(rule.problem, context, 120) if rule.problem is not None else None
                sets = {name: list(values) for name, values in group.sets.items()}
                item = RuleFinding(finding, dict(group.entities), group.hour_counts(), sets, problem,
                                   group.device_kind)
                if self._muted_signatures(finding):
                    muted += 1
                    for hour, count in item.hours.items():
                        _bump(hourly, hour, "other", count)
                else:
                    found.append(item)
            # A rule's groups are spent once its findings exist: letting them go now keeps the peak near
            # the size of the report instead of the report plus every group (thousands on a busy site).
            self.groups[rule.id] = {}
        suspicious: set[str] = set()  # addresses with failed logins: never vouched for as an admin's
        for correlated in correlate(found, self._situation(generated_at)):
            finding = correlated.finding
            if finding.incident == "admin_brute_force":
                suspicious.update(item.id for item in finding.affected if item.kind == "ip")
            override = settings.severity_overrides.get(finding.rule_id)
            if override is not None:
                finding.severity = override
            hidden = self._muted(finding) or not severity_at_least(finding.severity, settings.min_severity)
            muted += hidden
            for member in correlated.members:
                for hour, count in member.hours.items():
                    _bump(hourly, hour, "other" if hidden else finding.severity.value, count)
            if hidden:
                continue
            findings.append(finding)
            for member in correlated.members:
                if member.problem is None:
                    continue
                for item in member.finding.affected:
                    if item.kind == "device":
                        problems.setdefault(item.id, []).append((finding.severity.rank, member.problem))
        findings.sort(key=lambda f: (-f.severity.rank, -f.count, -f.last_seen.timestamp(), f.title))
        counts = SeverityCounts.of(findings)
        return Report(
            site=self.header.site,
            controller=self.header.controller,
            window=self.header.window,
            generated_at=generated_at,
            first_run=first_run,
            lookback_hours=lookback_hours,
            notes=[*notes, *self._notes()],
            sources=list(self.footer.sources) if self.footer else [],
            total_events=self.total_events,
            findings=findings,
            counts=counts,
            muted_findings=muted,
            device_health=self._device_health(problems),
            events_per_hour=self._hour_buckets(hourly),
            events_per_category=dict(sorted(self.per_category.items(), key=lambda kv: (-kv[1], kv[0]))),
            events_per_rule=dict(sorted(per_rule.items(), key=lambda kv: (-kv[1], kv[0]))),
            unknown_events=[
                UnknownEvent(key=key, count=count, sample_message=sample)
                for key, (count, sample) in sorted(self.unknown.items(), key=lambda kv: (-kv[1][0], kv[0]))
            ],
            admin_logins={address: moment for address, (moment, _) in self.logins.items()
                          if address not in suspicious},
        )

    def _situation(self, generated_at: datetime) -> Situation:
        """What the correlation step reads besides the findings."""
        assert self.header is not None
        return Situation(
            devices=self.devices, window=self.header.window, generated_at=generated_at, clock=self.clock,
            resolve=self._resolve, device_desc=lambda mac, kind: self._device_words(mac, kind)[:2],
            logins=self.logins,
            ips_mode=(self.header.controller.ips_mode or "").lower(),
            plain_signature=self.catalogue.plain_signature,
        )

    def _outliers(self, rule: Rule,
                  groups: list[_Group]) -> tuple[list[_Group], dict[str, str], list[_Group]]:
        """The groups far above the site's own rate merged into one group, the words naming them, and
        the outlier groups themselves.

        Rates are events per hour of the window, so a threshold means the same on a 1-hour and a 72-hour
        window; the median and the median absolute deviation of all the rule's groups describe what is
        normal on this site, so a site where every client reconnects often flags no one.
        """
        baseline = rule.baseline
        assert baseline is not None and self.header is not None
        window = self.header.window
        hours = max((window.until - window.since).total_seconds() / 3600, 1 / 60)
        real = [group for group in groups if group.key != (OVERFLOW,) * len(group.key)]
        if len(real) < 3:
            return [], {}, []  # too few to know what is normal here
        rates = sorted(group.count / hours for group in real)
        median = statistics.median(rates)
        spread = statistics.median(abs(rate - median) for rate in rates) * 1.4826  # MAD as a std. dev.
        floor = max(baseline.factor * median, median + baseline.mads * spread)
        outliers = sorted((group for group in real
                           if group.count >= baseline.min_count and group.count / hours >= floor),
                          key=lambda group: -group.count)
        if not outliers:
            return [], {}, []
        merged = _Group((), {}, self._tracks[rule.id])
        for group in outliers:
            merged.absorb(group)
        names = []
        for group in outliers[: baseline.top]:
            subject = next(iter(group.entities.values()), "")
            merged.remember(f"{next(iter(group.entities), 'client')}s", subject)
            names.append(f"{self._label(subject, subject)} {_rate(group.count / hours)} "
                         f"({times(group.count)})")
        more = len(outliers) - len(names)
        extra = {
            "outliers": "; ".join(names) + (f"; and {more} more" if more else ""),
            "median_rate": _rate(median),
            "outlier_count": str(len(outliers)),
        }
        return [merged], extra, outliers

    def _finalists(self, rule: Rule) -> list[_Group]:
        """The groups of a rule big enough (and, for new-address logins, new enough) to report."""
        if "threat" in rule.group_by:
            self._rekey_learned_signatures(rule)
        if rule.baseline is not None:
            return list(self.groups[rule.id].values())  # the baseline needs the quiet groups too
        groups = [g for g in self.groups[rule.id].values() if g.count >= rule.min_count]
        if rule.finalize == "new_admin_address":
            groups = self._new_addresses(groups)
        return groups

    def _rekey_learned_signatures(self, rule: Rule) -> None:
        """Move threat groups keyed by a v2 threat key under the signature a duplicate revealed.

        The v2 system log names no signature; when a traffic flow or legacy alert of the same hit did,
        the group belongs with the other hits of that signature, and gets the id a run that saw the
        signature first would give it.
        """
        groups = self.groups[rule.id]
        position = rule.group_by.index("threat")
        for key, group in list(groups.items()):
            signatures = list(group.sets.get("signatures", {}))
            if not signatures or key[position] in signatures:
                continue
            del groups[key]
            new_key = key[:position] + (signatures[0],) + key[position + 1:]
            group.entities["threat"] = signatures[0]
            target = groups.get(new_key)
            if target is None:
                group.key = new_key
                groups[new_key] = group
            else:
                target.absorb(group)

    def _new_addresses(self, groups: list[_Group]) -> list[_Group]:
        """Keep the (admin, address) login groups whose address counts as new.

        With a set of known admin addresses, new means "not in that set". Without one, the scanner has no
        login history, so new means "not the address of the admin's earliest login in this window".
        """
        if self.known_admin_ips is not None:
            known = self.known_admin_ips
            return [g for g in groups if g.entities.get("ip") and g.entities["ip"] not in known]
        earliest: dict[str, _Group] = {}
        for group in groups:
            admin = group.entities.get("admin", "")
            if admin not in earliest or (group.first or group.last) < (earliest[admin].first or group.last):
                earliest[admin] = group
        return [g for g in groups if g.entities.get("ip") and g is not earliest[g.entities.get("admin", "")]]

    def _escalation(self, rule: Rule, group: _Group) -> tuple[Escalation | None, str]:
        """The escalation that applies to the group (or None) and the burst phrase for `{peak}`."""
        escalation = rule.escalate
        if escalation is None:
            return None, ""
        if group.forced:
            return escalation, "the controller itself reported it as repeated"
        if escalation.window_minutes is None:
            return (escalation if group.count >= escalation.count else None), ""
        if group.burst < escalation.count:
            return None, ""
        start = datetime.fromtimestamp(group.burst_start, UTC)
        minutes = _number(escalation.window_minutes)
        return escalation, f"{group.burst} of them within {minutes} minutes from {self.clock.at(start)}"

    def _finding(self, rule: Rule, group: _Group, extra: dict[str, str]) -> tuple[Finding, dict[str, str]]:
        """The finding a group becomes, with the values its texts were filled with (`extra` adds some)."""
        escalation, peak = self._escalation(rule, group)
        rule_id = (escalation.rule_id if escalation and escalation.rule_id else None) or rule.id
        severity = escalation.severity if escalation else rule.severity
        if group.severity_hint is not None and group.severity_hint.rank > severity.rank:
            severity = group.severity_hint
        signature = next(iter(group.sets.get("signatures", {})), "").upper()
        if signature and signature.startswith(tuple(family.upper() for family in rule.milder_families)):
            severity = _MILDER[severity]
        override = self.settings.severity_overrides.get(rule_id)
        severity = override or severity
        affected = self._affected(group)
        context = self._context(group, peak)
        context.update(extra)
        title = (escalation and escalation.title) or rule.title
        explanation = (escalation and escalation.explanation) or rule.explanation
        steps = (escalation and escalation.remediation) or rule.remediation
        first, last = group.first, group.last
        assert first is not None and last is not None  # a group exists only once an event was added
        details: dict[str, str | int | float | bool | None] = {"base_rule": rule.id}
        for name in ("signature_id", "ips_category", "catname", "proto", "src_port", "dst_port", "risk",
                     "src_country", "dst_country", "asn", "version_from", "version_to", "channel", "state"):
            if name in group.attrs:
                details[name] = group.attrs[name]
        if group.sets.get("keys"):
            details["event_keys"] = ", ".join(group.sets["keys"])
        if peak:
            details["peak"] = peak
        acknowledged = self.acknowledged.get((rule.id, group.key))
        if acknowledged:
            details["acknowledged"] = acknowledged
        return Finding(
            id=stable_id(rule.id, *group.key),
            rule_id=rule_id,
            severity=severity,
            category=rule.category,
            title=_fill(title, context, 200),
            explanation=_fill(explanation, context, 2000),
            remediation=[_fill(step, context, 500) for step in steps],
            affected=affected,
            first_seen=first,
            last_seen=last,
            count=group.count,
            event_ids=list(group.event_ids),
            samples=sorted((self._named_sample(s) for s in group.samples), key=lambda s: s.time),
            details=details,
            # Seen in the device list or site health now (a state check's hit): over once that recovers.
            ends="routine" if rule.routine else "recovery" if group.count > group.events else "quiet",
        ), context

    def _resolve(self, ident: str) -> str | None:
        """The best human name for a MAC or IP: device list, client list, then names seen in events."""
        device = self.devices.get(ident)
        if device is not None and device.name:
            return clean(device.name)
        client = self.clients.get(ident)
        if client is not None and (client.name or client.hostname):
            return clean(client.display_name)
        return clean(self.names.get(ident))

    def _affected(self, group: _Group) -> list[Affected]:
        """The entities a finding is about, from its grouping key and extra devices/clients."""
        affected: list[Affected] = []
        seen: set[tuple[str, str]] = set()

        def add(kind: str, ident: str | None) -> None:
            """Append one affected entity, once, with its resolved name."""
            if not ident or ident == OVERFLOW:
                return
            if kind in {"client", "ip"} and norm_mac(ident):
                # Anomaly MACs may be devices; v2 threat rows name a client's MAC where the IP is unknown.
                kind = "device" if ident in self.devices else "client"
            if (kind, ident) in seen:
                return
            seen.add((kind, ident))
            name = self._resolve(ident) if kind in {"device", "client", "ip"} else None
            affected.append(Affected(kind=kind, id=ident, name=name))  # type: ignore[arg-type]

        for field, value in group.entities.items():
            kind = GROUP_FIELDS[field]
            if kind is not None:
                add(kind, value)
        for field, kind in (("device", "device"), ("client", "client"), ("local", "ip"),
                            ("signature", "signature")):
            for value in group.sets.get(f"{field}s", {}):
                add(kind, value)
        return affected

    def _label(self, ident: str | None, default: str) -> str:
        """`name (id)` for a MAC or IP when a name is known, else the id or `default`."""
        if not ident:
            return default
        if ident == OVERFLOW:
            return "many different ones"
        name = self._resolve(ident)
        return f"{name} ({ident})" if name and name != ident else ident

    def _device_words(self, device: str | None, event_kind: str | None = None) -> tuple[str, str, str]:
        """How texts name a device: (`desc`, `Desc`, bare name); see `wording.device_phrase`."""
        if not device:
            return "an unidentified device", "An unidentified device", "an unidentified device"
        if device == OVERFLOW:
            return "several devices", "Several devices", "several devices"
        known = self.devices.get(device)
        kind = DEVICE_TYPE_WORDS.get((known.device_type or "").lower()) if known is not None else None
        name = self._resolve(device) or device
        desc, Desc = device_phrase(kind or event_kind or "device", name, known.model if known else None)
        return desc, Desc, name

    def _context(self, group: _Group, peak: str) -> dict[str, str]:
        """The values a finding's texts are filled with."""
        entities = group.entities
        device = entities.get("device") or next(iter(group.sets.get("devices", {})), None)
        device_desc, Device_desc, device_name = self._device_words(device, group.device_kind)
        clock = self.clock
        first, last = group.first, group.last
        assert first is not None and last is not None
        threat = entities.get("threat") or ""
        signatures = list(group.sets.get("signatures", {}))
        signed = bool(signatures)
        if not signed and threat:
            threat = f"threat type {threat}"
        elif signatures and threat not in signatures:
            threat = signatures[0]
        plain = self.catalogue.plain_signature(signatures[0] if signed else None)
        ips_mode = (self.header.controller.ips_mode or "").lower() if self.header else ""
        remote = entities.get("remote")
        locals_ = [self._label(address, address) for address in group.sets.get("locals", {})]
        directions = list(group.sets.get("directions", {}))
        context = dict(group.attrs)
        context.update({
            "count": str(group.count),
            "times": times(group.count) if group.events else "",
            "between": (clock.between(first, last) if group.events
                        else f"at collection time ({clock.at(last)})"),
            "first": clock.at(first, last),
            "last": clock.at(last, first),
            "peak": peak,
            "keys": ", ".join(group.sets.get("keys", {})),
            "device": device_name,
            "device_desc": device_desc,
            "Device_desc": Device_desc,
            "remote": self._label(remote, "an unknown address"),
            "internal": ", ".join(locals_) or "a host on your side",
            "direction": "/".join(directions) or "unknown direction",
            "sources": self._labels(group.sets.get("srcs", {})) or "not reported",
            "clients": self._labels(group.sets.get("clients", {})) or "none named",
            "devices": ", ".join(self._resolve(mac) or mac for mac in group.sets.get("devices", {}))
                       or "none named",
            "message": group.samples[-1][3] if group.samples else "",
            "controller_severity": group.attrs.get("severity", "not reported"),
            "client": self._label(entities.get("client"), "an unidentified client"),
            "admin": entities.get("admin") or "an administrator",
            "admins": ", ".join(group.sets.get("admins", {})) or "not reported",
            "ip": self._label(entities.get("ip"), "an unknown address"),
            "src": self._label(entities.get("src"), "an unknown source"),
            "dst": self._label(entities.get("dst"), "an unknown destination"),
            "network": entities.get("network") or group.attrs.get("network") or "(unnamed)",
            "bssid": entities.get("bssid") or "(unknown BSSID)",
            "subsystem": entities.get("subsystem") or "unknown",
            "port": entities.get("port") or group.attrs.get("port") or "(unknown)",
            "trigger": entities.get("trigger") or "(unnamed)",
            "anomaly": entities.get("anomaly") or "(unnamed)",
            "threat": threat or "an unnamed threat",
            "signature_plain": plain or (
                "an attack pattern of an unclassified family" if signed
                else "traffic the gateway's threat management flagged as an intrusion attempt"),
            "ips_mode_note": (
                " Threat management runs in detection-only (IDS) mode." if ips_mode == "ids" else ""),
            "signature_note": "" if signed else (
                " The controller did not provide the IPS signature for these events (its v2 system log "
                "carries none), so they are grouped by threat type."),
            "meaning": self.catalogue.subsystem_meanings.get(
                (entities.get("subsystem") or "").lower(), "a part of the site reports a problem"),
            "new_meaning": (
                "not among the addresses admins logged in from in earlier reports (the last "
                f"{KNOWN_ADMIN_DAYS} days)" if self.known_admin_ips is not None else
                "different from the address of this admin's first login in this report window "
                "(unifi-scanner keeps no login history between runs)"),
        })
        for unit_name, unit in (("latency", " ms"), ("availability", "%")):
            if unit_name in group.attrs:
                context[unit_name] = group.attrs[unit_name] + unit
        return context

    def _labels(self, idents: Iterable[str]) -> str:
        """`name (id)` of each MAC or address, comma-separated."""
        return ", ".join(self._label(ident, ident) for ident in idents)

    def _named_sample(self, sample: tuple[str, datetime, str, str]) -> EventSample:
        """The sample, with raw MACs in its message replaced by `name (mac)` where a name is known."""
        ident, moment, key, message = sample

        def name(match: re.Match[str]) -> str:
            """Replace one MAC with `name (mac)` when a name is known."""
            mac = match[0].lower()
            resolved = self._resolve(mac)
            return f"{resolved} ({mac})" if resolved else match[0]

        named = _MAC_IN_TEXT.sub(name, message)[: MAX_TEXT * 2]
        return EventSample(id=ident, time=moment, key=key, message=named)

    @cached_property
    def _mutes(self) -> tuple[set[str], set[str], set[str], list[str]]:
        """The muted rules, devices, clients and signatures, in lower case: worked out once per report,
        not once per finding."""
        settings = self.settings
        return (
            {name.strip().lower() for name in settings.mute_rules},
            {(norm_mac(name) or name).strip().lower() for name in settings.mute_devices},
            {(norm_mac(name) or name).strip().lower() for name in settings.mute_clients},
            [name.strip().lower() for name in settings.mute_signatures if name.strip()],
        )

    def _muted(self, finding: Finding) -> bool:
        """True when the finding is muted by rule, device or client.

        A rule's mute covers its escalations (`base_rule`); an incident is muted by its own id or
        kind, or when every rule it was built from is muted. Signatures are muted earlier, before
        correlation (`_muted_signatures`).
        """
        rules, devices, clients, _ = self._mutes
        if rules and (
            finding.rule_id in rules or finding.incident in rules or finding.details.get("base_rule") in rules
            or (finding.rule_ids and rules.issuperset(finding.rule_ids))
        ):
            return True
        if not (devices or clients):
            return False  # nothing else is muted (the usual case): no need to look at what it is about
        for item in finding.affected:
            labels = {item.id.lower(), (item.name or "").lower()}
            if item.kind == "device" and labels & devices:
                return True
            if item.kind == "client" and labels & clients:
                return True
        return False

    def _muted_signatures(self, finding: Finding) -> bool:
        """True when every IPS signature of a rule's finding is muted (by id, or by part of its name).

        Applied to the rules' findings before correlation, so a muted signature's hits neither make
        nor enlarge a threat campaign or the digest, while the same address's other signatures still do.
        """
        mutes = self._mutes[3]
        named = [item.id.lower() for item in finding.affected if item.kind == "signature"]
        if not mutes or not named:
            return False
        signature_id = str(finding.details.get("signature_id") or "").lower()
        return all(any(mute in name or (len(named) == 1 and mute == signature_id) for mute in mutes)
                   for name in named)

    def _device_health(self, problems: dict[str, list[tuple[int, str]]]) -> list[DeviceHealth]:
        """One row per device in the device list, with the problems of the delivered findings about it."""
        rows = []
        for mac, device in self.devices.items():
            row_problems = [text for _, text in sorted(problems.get(mac, []), key=lambda p: -p[0])]
            rows.append(DeviceHealth(
                mac=mac, name=clean(device.name) or mac, model=clean(device.model),
                device_type=clean(device.device_type), state=clean(device.state) or "unknown",
                uptime_seconds=device.uptime_seconds, version=clean(device.version),
                upgradable=device.upgradable, upgrade_to=clean(device.upgrade_to),
                cpu_percent=device.cpu_percent, mem_percent=device.mem_percent,
                temperature_c=device.temperature_c, problems=row_problems,
            ))
        rows.sort(key=lambda row: (not row.problems, row.name.lower()))
        return rows

    def _hour_buckets(self, hourly: dict[int, dict[str, int]]) -> list[HourBucket]:
        """One bucket per UTC hour from the window's start to its end (and any event outside it).

        `hourly` counts hours from the window's first (`_hour_base`).
        """
        assert self.header is not None
        window = self.header.window
        base = self._hour_base
        start = 0
        end = (int(window.until.timestamp()) - 1) // 3600 - base
        if hourly:
            start, end = min(start, min(hourly)), max(end, max(hourly))
        hours = range(start, end + 1) if end - start < MAX_HOURS else sorted(hourly)
        return [
            HourBucket(hour=datetime.fromtimestamp((base + hour) * 3600, UTC), **hourly.get(hour, {}))
            for hour in hours
        ]

    def _notes(self) -> list[str]:
        """Plain-words notes on missing signatures, merged duplicates and limits.

        Missing sources are not repeated here: `Report.sources` carries them and the renderer states them
        (`models.source_gaps`), so a report built by any producer says the same.
        """
        notes = []
        sources = self.footer.sources if self.footer else []
        if self.footer is None:
            notes.append("The collection ended without its footer, so it may be incomplete.")
        flows = next((s for s in sources if s.name == "traffic_flows"), None)
        if self.ips_events and not self.ips_signed:
            why = ("traffic flows were not collected" if flows is None
                   else f"traffic flows were {flows.status.value}")
            notes.append(
                "IPS signatures were not available from this controller: its system log names no signature "
                f"and {why}. Threats are grouped by threat type instead."
            )
        if self.duplicates:
            notes.append(
                f"{self.duplicates} record(s) reported by more than one source (an alarm repeating an "
                "event, an IPS alert in several lists) were counted once.")
        for rule_id in sorted(self.overflowed):
            notes.append(
                f"Rule {rule_id} saw more than {MAX_GROUPS_PER_RULE} distinct devices/clients/addresses; "
                "the rest are combined into one finding."
            )
        configured = [*self.settings.severity_overrides, *self.settings.mute_rules]
        for rule_id in sorted(set(configured) - self.catalogue.rule_ids - load_incidents().rule_ids):
            notes.append(f"Settings name the rule {clean(rule_id)!r}, which does not exist; "
                         "it has no effect.")
        if OTHER_KEYS in self.unknown:
            notes.append(f"More than {MAX_UNKNOWN_KEYS} unknown event keys; the rest are counted together.")
        return notes


def _group_reader(name: str) -> Callable[[Event], str | None]:
    """What reads one grouping field of an event for `_group`, made once per rule (`field_reader`)."""
    # Plain functions rather than a `partial` with a keyword: that builds a keyword dict on every call,
    # and every IPS event is grouped by threat.
    if name == "threat":
        return _threat
    if name == "port":
        return _port
    return field_reader(name)


def _key_reader(readers: tuple[Callable[[Event], str | None], ...]) -> Callable[[Event], tuple[str, ...]]:
    """What reads an event's grouping key (its grouping fields' values, "" for none), made once per rule.

    Most rules group by one field: for those, a tuple of one value without the comprehension's own call
    and list, which cost as much as reading the value.
    """
    if len(readers) == 1:
        [read] = readers
        return lambda event: (read(event) or "",)
    return lambda event: tuple([read(event) or "" for read in readers])


def _threat(event: Event) -> str:
    """The `threat` an event is grouped by: its signature, else the signature's id, else its key."""
    return event.signature or event.signature_id or event.key


def _port(event: Event) -> str:
    """The `port` an event is grouped by: the port, else its index."""
    attrs = event.settled_attrs()
    return attrs.get("port") or attrs.get("port_idx") or ""


def _window_seconds(escalation: Escalation | None) -> int | None:
    """The escalation's burst window in whole seconds, or None when it counts the whole report window."""
    if escalation is None or escalation.window_minutes is None:
        return None
    return max(1, int(escalation.window_minutes * 60))


def _tally(table: dict[int, int], index: int) -> None:
    """Count one event in a time slot; beyond MAX_TIME_SLOTS distinct slots (timestamps scattered over
    years by a broken controller clock) new slots are not charted, so memory stays bounded."""
    if index in table:
        table[index] += 1
    elif len(table) < MAX_TIME_SLOTS:
        table[index] = 1


def _bump(hourly: dict[int, dict[str, int]], hour: int, bucket: str, count: int) -> None:
    """Add `count` events of one kind (`severe`, ..., `other`) to an hour of the chart."""
    slot = hourly.setdefault(hour, {})
    slot[bucket] = slot.get(bucket, 0) + count


def _rate(per_hour: float) -> str:
    """A rate in events per hour, with the precision a glance needs."""
    return f"{per_hour:.1f}/h" if per_hour < 10 else f"{per_hour:.0f}/h"


def _number(value: float) -> str:
    """A number without a pointless `.0`."""
    return f"{value:.0f}" if value == int(value) else f"{value:g}"


class _Defaults(dict[str, str]):
    def __missing__(self, key: str) -> str:
        """Fields an event did not report read as `not reported`."""
        return "not reported"


def _fill(template: str, context: dict[str, str], limit: int) -> str:
    """Fill a catalogue text; values are controller strings, so the result is cleaned and bounded."""
    text = " ".join(template.format_map(_Defaults(context)).split())
    return clean(text, limit) or ""
