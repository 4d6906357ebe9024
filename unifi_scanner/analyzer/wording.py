"""Small phrases shared by the rules and the correlation step: times in the display zone, durations,
and how a device is named in a sentence.

Every finding text is built from these, so a time reads the same in an explanation, a timeline and the
report header (all in `UNIFI_TIMEZONE`), and a device whose name already says what it is is not
introduced twice ("Switch 16 lost contact", not "Switch Switch 16 lost contact").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

# What a device kind may already be called inside a name: the kind's own words and the usual short
# forms and model prefixes (a name that is its model, "US-16-150W" or "UAP-AC-Pro", names its kind).
_KIND_WORDS = {
    "access point": ("access point", "ap", "uap", "wap", "wifi", "wi-fi", "u6", "u7", "nanohd", "ac pro",
                     "ac lite", "ac lr", "flexhd", "in-wall"),
    "switch": ("switch", "usw", "us", "us8", "us16", "us24", "us48", "flex mini", "switch flex"),
    "gateway": ("gateway", "router", "firewall", "usg", "ugw", "udm", "udr", "ucg", "uxg", "dream machine",
                "cloud gateway", "efg"),
    "building bridge": ("bridge", "ubb"),
    "power unit": ("pdu", "usp", "power", "plug", "strip", "rps"),
    "LTE backup": ("lte", "ulte"),
}
_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}", re.IGNORECASE)
_WORD_PATTERNS = {
    kind: re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(word) for word in words) + r")(?![a-z])",
                     re.IGNORECASE)
    for kind, words in _KIND_WORDS.items()
}


def device_phrase(kind: str | None, name: str, model: str | None = None) -> tuple[str, str]:
    """How a sentence names a device: (`desc`, `Desc`), the second for the start of a sentence.

    A name that already says what the device is (it contains the kind or a short form of it, or it is
    the device's model) stands alone. Otherwise the kind comes first and the name is quoted, so a name
    such as "is offline" cannot be read as part of the sentence; a bare MAC needs no quotes.
    """
    kind = kind or "device"
    if _MAC.fullmatch(name):
        desc = f"{kind} {name}"  # an unnamed device: its MAC cannot be misread as words
        return desc, desc[:1].upper() + desc[1:]
    pattern = _WORD_PATTERNS.get(kind)
    named = bool(model) and name.strip().lower() == (model or "").strip().lower()
    if named or (pattern is not None and pattern.search(name)):
        return name, name
    desc = f"{kind} “{name}”"
    return desc, desc[:1].upper() + desc[1:]


@dataclass(frozen=True)
class Clock:
    """Formats moments for finding texts in the report's display zone (times are UTC inside)."""

    zone: ZoneInfo

    @classmethod
    def named(cls, name: str) -> Clock:
        """A clock for an IANA zone name (settings have validated it)."""
        return cls(ZoneInfo(name))

    def label(self, moment: datetime) -> str:
        """The zone's abbreviation at that moment (`UTC`, `CET`, `CEST`)."""
        return moment.astimezone(self.zone).tzname() or "UTC"

    def clock(self, moment: datetime, other: datetime) -> str:
        """`HH:MM`, with the date when the other end of the range falls on another local day."""
        local = moment.astimezone(self.zone)
        if local.date() == other.astimezone(self.zone).date():
            # `strftime("%H:%M")` spelled out: the same text in a sixth of the time, four times a finding.
            return f"{local.hour:02d}:{local.minute:02d}"
        return local.strftime("%b %d %H:%M")  # the month's name as the C library spells it

    def at(self, moment: datetime, other: datetime | None = None) -> str:
        """`HH:MM ZONE` (with the date when `other` is on another day)."""
        return f"{self.clock(moment, other or moment)} {self.label(moment)}"

    def between(self, first: datetime, last: datetime) -> str:
        """`at HH:MM ZONE` for one moment, else `between HH:MM and HH:MM ZONE`."""
        start, end = self.clock(first, last), self.clock(last, first)
        if last - first < timedelta(minutes=1):
            return f"at {start} {self.label(last)}"
        return f"between {start} and {end} {self.label(last)}"


UTC_CLOCK = Clock(ZoneInfo("UTC"))
"""The clock of a report with the default zone."""


def times(count: int) -> str:
    """`once`, `twice` or `N times`."""
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def duration(span: timedelta) -> str:
    """A duration as a person reads it at a glance: `45 seconds`, `12 minutes`, `3 h 20 min`, `2 days 4 h`."""
    seconds = max(0, int(span.total_seconds()))
    if seconds < 90:
        return f"{seconds} seconds"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} minutes"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"
