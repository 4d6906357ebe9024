"""The rule catalogue: loading and validating `rules.yaml`, and matching events against it.

The catalogue is data, not code: each entry says which events (by exact key, key prefix, key pattern,
record kind, legacy subsystem, v2 category/subcategory and attribute values) or which device/health
state it covers, how to group them into findings, when a group escalates (N events in M minutes, or a
total), and the words of the finding. A malformed catalogue fails loudly at load time, naming the entry,
so a typo never silently disables a rule.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from unifi_scanner.analyzer.normalize import EVENT_FIELDS, Event, field_reader
from unifi_scanner.analyzer.state_checks import CHECKS
from unifi_scanner.errors import ConfigError
from unifi_scanner.models import Category, RecordKind, Severity

GROUP_FIELDS = {
    "device": "device",
    "client": "client",
    "admin": "admin",
    "ip": "ip",
    "src": "ip",
    "dst": "ip",
    "remote": "ip",
    "threat": "signature",
    "network": "network",
    "bssid": "network",
    "subsystem": "subsystem",
    "key": None,
    "port": None,
    "trigger": None,
    "anomaly": None,
}
"""Fields a rule may group by, and the `Affected` kind each one becomes (None: grouping only)."""

TEMPLATE_FIELDS = frozenset({
    # computed for every finding
    "count", "times", "between", "first", "last", "keys", "peak",
    # entities, resolved to names at the end
    "device", "device_desc", "Device_desc", "client", "admin", "admins", "ip", "src", "dst",
    "network", "bssid", "subsystem", "port", "trigger", "anomaly", "sources", "clients", "devices",
    # IPS
    "threat", "signature_plain", "ips_mode_note", "signature_note", "remote", "internal", "direction",
    # the controller's own words (v2 rows no rule knows)
    "title_raw", "message", "controller_severity",
    # baselines
    "outliers", "median_rate", "outlier_count",
    # event attributes (latest event of the group)
    "essid", "ssid", "channel", "channel_from", "channel_to", "radio", "version_from", "version_to",
    "state", "iface", "proto", "src_country", "dst_country", "ips_category",
    # state checks
    "cpu", "mem", "temp", "version", "upgrade_to", "meaning", "latency", "drops", "availability",
    "poe_used", "poe_budget", "device_state", "limit", "device_ip",
    # admin logins
    "new_meaning",
    # alarms an admin acknowledged
    "handled_time",
})
"""Every `{name}` a title, explanation, remediation or problem text may use."""

_FINALIZERS = frozenset({"new_admin_address"})

Condition = tuple[Callable[[Event], str | None], frozenset[str] | None]
"""One `where` condition, as `Match.conditions` holds it: the field's reader and the allowed values in
lower case (None for `*`, any value)."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Spec):
    """Which events a rule takes. Any of keys/prefixes/patterns/kinds selects; the rest restrict."""

    keys: list[str] = Field(default_factory=list, description="Exact event keys.")
    prefixes: list[str] = Field(default_factory=list, description="Key prefixes (v2 keys grow suffixes).")
    patterns: list[str] = Field(default_factory=list, description="Regular expressions searched in the key.")
    kinds: list[RecordKind] = Field(default_factory=list, description="Every record of these kinds.")
    subsystems: list[str] = Field(default_factory=list, description="Legacy subsystem must be one of these.")
    categories: list[str] = Field(default_factory=list, description="v2 category must be one of these.")
    subcategories: list[str] = Field(default_factory=list, description="v2 subcategory must be one of these.")
    where: dict[str, list[str]] = Field(
        default_factory=dict, description="Event field/attribute -> allowed values (case-insensitive)."
    )

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        """Reject patterns that are not valid regular expressions."""
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _selects_something(self) -> Match:
        """Reject selectors that could never take an event."""
        if not (self.keys or self.prefixes or self.patterns or self.kinds):
            raise ValueError("match needs at least one of keys, prefixes, patterns or kinds")
        return self

    @cached_property
    def _regex(self) -> re.Pattern[str] | None:
        """All patterns as one compiled alternation (searched once per event key)."""
        return re.compile("|".join(f"(?:{p})" for p in self.patterns)) if self.patterns else None

    def selects(self, event: Event) -> bool:
        """True when the event's key (or a v2 row's family) or kind is one this rule takes, and the
        restrictions hold.

        `where` is left out: it depends on per-event values, see `accepts`.
        """
        picked = event.kind in self.kinds or any(
            name in self.keys
            or name.startswith(tuple(self.prefixes))
            or (self._regex is not None and self._regex.search(name) is not None)
            for name in (event.key, event.family) if name
        )
        return (
            picked
            and (not self.subsystems or event.subsystem in self.subsystems)
            and (not self.categories or event.category in self.categories)
            and (not self.subcategories or event.subcategory in self.subcategories)
        )

    @cached_property
    def conditions(self) -> tuple[Condition, ...]:
        """`where` as (reader of the field, allowed values in lower case, or None for `*`), built once,
        not per event; empty when there is no `where`."""
        return tuple(
            (field_reader(name), None if "*" in allowed else frozenset(item.lower() for item in allowed))
            for name, allowed in self.where.items()
        )

    def accepts(self, event: Event) -> bool:
        """True when every `where` condition holds (`*` accepts any present value)."""
        return conditions_hold(self.conditions, event)


def conditions_hold(conditions: tuple[Condition, ...], event: Event) -> bool:
    """True when the event meets every condition (`Match.accepts`, for callers holding the conditions)."""
    for read, allowed in conditions:
        value = (read(event) or "").lower()
        if allowed is None:
            if not value:
                return False
        elif value not in allowed:
            return False
    return True


class StateCheck(_Spec):
    """A check over current state (a `Device` or `Health` item), with its thresholds."""

    check: str
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("check")
    @classmethod
    def _known(cls, value: str) -> str:
        """Reject checks the registry does not have."""
        if value not in CHECKS:
            raise ValueError(f"unknown state check {value!r} (known: {', '.join(sorted(CHECKS))})")
        return value


class Escalation(_Spec):
    """When a group becomes more serious: N events within M minutes, N in total, or one of some keys."""

    rule_id: str | None = Field(None, description="Rule id of the escalated finding (default: unchanged).")
    count: int = Field(ge=1)
    window_minutes: float | None = Field(None, gt=0, description="None: count over the whole window.")
    keys: list[str] = Field(default_factory=list, description="Any of these keys escalates at once.")
    severity: Severity
    title: str | None = None
    explanation: str | None = None
    remediation: list[str] | None = None


class Baseline(_Spec):
    """Flag only the groups far above the site's own distribution in this window, as one finding.

    Each group's rate (events per hour) is compared with the median rate of all the rule's groups: an
    outlier is at least `factor` times the median and `mads` scaled median absolute deviations above
    it, with at least `min_count` events. Rates make the rule work on any window length; the median
    and MAD make it follow what is normal for this site.
    """

    min_count: int = Field(30, ge=1)
    factor: float = Field(3.0, ge=1)
    mads: float = Field(6.0, ge=0)
    top: int = Field(5, ge=1, le=10, description="Outliers named in the finding.")


class Rule(_Spec):
    """One catalogue entry."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    category: Category
    severity: Severity
    explanation: str
    remediation: list[str] = Field(min_length=1)
    problem: str | None = Field(None, description="Short text for the device health table.")
    match: list[Match] | None = Field(None, description="One selector, or a list of alternatives.")
    state: StateCheck | None = None
    group_by: list[str] = Field(default_factory=list)
    min_count: int = Field(1, ge=1, description="Smaller groups produce no finding.")
    escalate: Escalation | None = None
    finalize: str | None = None
    milder_families: list[str] = Field(
        default_factory=list,
        description="IPS signature families that are usually benign: one severity level lower.")
    track: list[str] = Field(
        default_factory=list,
        description="Event fields whose first few distinct values a finding lists (e.g. src, local).")
    baseline: Baseline | None = None
    samples: int = Field(
        5, ge=1, le=5,
        description="Sample events each finding keeps: fewer for rules with hundreds of busy groups.")
    routine: bool = Field(
        False, description="Background volume (firewall blocks, churn): remembered across reports as "
                           "new or ongoing, but never announced as resolved.")

    @field_validator("match", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        """Accept one selector as shorthand for a list of one."""
        return [value] if isinstance(value, dict) else value

    @field_validator("group_by")
    @classmethod
    def _group_fields(cls, value: list[str]) -> list[str]:
        """Reject grouping fields the engine cannot read."""
        unknown = [name for name in value if name not in GROUP_FIELDS]
        if unknown:
            raise ValueError(f"cannot group by {', '.join(unknown)} (known: {', '.join(GROUP_FIELDS)})")
        return value

    @field_validator("track")
    @classmethod
    def _trackable(cls, value: list[str]) -> list[str]:
        """Reject tracked fields an event does not have."""
        unknown = [name for name in value if name not in EVENT_FIELDS]
        if unknown:
            raise ValueError(f"cannot track {', '.join(unknown)}")
        return value

    @field_validator("finalize")
    @classmethod
    def _finalizer(cls, value: str | None) -> str | None:
        """Reject finalize steps the engine does not have."""
        if value is not None and value not in _FINALIZERS:
            raise ValueError(f"unknown finalize step {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        """A rule takes events or state, and all its texts use known fields."""
        if self.match is None and self.state is None:
            raise ValueError("a rule needs match (events) or state (device/health checks), or both")
        texts = [self.title, self.explanation, *self.remediation, self.problem or ""]
        if self.escalate is not None:
            esc = self.escalate
            texts += [esc.title or "", esc.explanation or "", *(esc.remediation or [])]
        for text in texts:
            _check_template(text)
        return self

    @cached_property
    def group_fields(self) -> tuple[str, ...]:
        """`group_by` without repeats: the fields whose values make up a group's key, in order."""
        return tuple(dict.fromkeys(self.group_by))

    @property
    def ids(self) -> list[str]:
        """Every rule id this entry can emit: its own and its escalation's."""
        extra = self.escalate.rule_id if self.escalate and self.escalate.rule_id else None
        return [self.id] + ([extra] if extra else [])


def _check_template(text: str) -> None:
    """Raise ValueError when a catalogue text uses a field the engine does not fill."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise ValueError(f"bad template {text!r}: {exc}") from None
    unknown = [name for name in fields if name not in TEMPLATE_FIELDS]
    if unknown:
        raise ValueError(f"template {text!r} uses unknown field(s) {', '.join(unknown)}")


class Catalogue(_Spec):
    """The whole rule file: rules in match order, and the IPS signature families in plain words."""

    version: Literal[1]
    signature_families: dict[str, str]
    subsystem_meanings: dict[str, str] = Field(default_factory=dict)
    rules: list[Rule]

    @model_validator(mode="after")
    def _unique_ids(self) -> Catalogue:
        """Every rule id, escalations included, is used once."""
        seen: set[str] = set()
        for rule in self.rules:
            for rule_id in rule.ids:
                if rule_id in seen:
                    raise ValueError(f"rule id {rule_id!r} is used twice")
                seen.add(rule_id)
        return self

    @cached_property
    def rule_ids(self) -> frozenset[str]:
        """Every rule id a finding may carry (for validating overrides and mutes)."""
        return frozenset(rule_id for rule in self.rules for rule_id in rule.ids)

    @cached_property
    def event_rules(self) -> list[Rule]:
        """Rules that take events, in catalogue (first match wins) order."""
        return [rule for rule in self.rules if rule.match is not None]

    def candidates(self, event: Event) -> list[tuple[Rule, list[Match]]]:
        """Event rules, each with its alternatives whose key/kind selection and restrictions fit.

        The answer depends only on the event's key, kind, subsystem, category and subcategory, so the
        engine caches it; the per-event `where` conditions are applied afterwards (`Match.accepts`).
        """
        found = []
        for rule in self.event_rules:
            alternatives = [alt for alt in rule.match or [] if alt.selects(event)]
            if alternatives:
                found.append((rule, alternatives))
        return found

    def plain_signature(self, signature: str | None) -> str | None:
        """The signature family in plain words (longest matching family prefix), or None."""
        if not signature:
            return None
        upper = signature.upper()
        best = max((family for family in self.signature_families if upper.startswith(family.upper())),
                   key=len, default=None)
        return self.signature_families[best] if best else None


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load and validate a catalogue; without `path`, the one shipped in the package.

    Raises ConfigError naming the entry and the problem when the file is not a valid catalogue.
    """
    if path is None:
        return _packaged()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"rule catalogue {path}: {exc.strerror}") from None
    return parse_catalogue(text, str(path))


@lru_cache(maxsize=1)
def _packaged() -> Catalogue:
    """The catalogue shipped in the package, parsed once per process."""
    text = resources.files("unifi_scanner.analyzer").joinpath("rules.yaml").read_text(encoding="utf-8")
    return parse_catalogue(text, "rules.yaml")


def parse_catalogue(text: str, origin: str = "catalogue") -> Catalogue:
    """Parse catalogue YAML text; raise ConfigError with one line per problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin} is not valid YAML: {exc}") from None
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = list(error.get("loc", ()))
            where = ".".join(str(part) for part in loc)
            if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
                rules = data.get("rules") if isinstance(data, dict) else None
                entry = rules[loc[1]] if isinstance(rules, list) and len(rules) > loc[1] else None
                if isinstance(entry, dict) and "id" in entry:
                    where = f"rule {entry['id']}: " + ".".join(str(part) for part in loc[2:])
            problems.append(f"{origin}: {where}: {error['msg'].removeprefix('Value error, ')}")
        raise ConfigError("\n".join(problems)) from None
