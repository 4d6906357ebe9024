"""The email subject line, built from UNIFI_SUBJECT_TEMPLATE.

The result goes into a mail header, so it must be one line whatever the controller sends as its site
name: every value and the result are cleaned of CR/LF and control characters, and the length is
bounded. Only the documented variables are allowed; `{site.__class__}`-style lookups are refused.
"""

from __future__ import annotations

import string
from zoneinfo import ZoneInfo

from unifi_scanner.errors import ConfigError
from unifi_scanner.models import Changes, Report
from unifi_scanner.renderer.view import clean, format_day
from unifi_scanner.settings import Settings

SUBJECT_MAX = 200
# A name's share of the subject: two of them and the default text still fit SUBJECT_MAX.
SUBJECT_NAME_MAX = 80
SUBJECT_VARIABLES = ("site", "controller", "date", "severe", "medium", "low", "total", "severe_tag", "new",
                     "new_severe", "resolved", "new_tag")


def subject_values(report: Report, settings: Settings) -> dict[str, str | int]:
    """The template variables: the date is the window's end in the display timezone; `site` is the site,
    or what a report that covers several sites calls them (`3 sites on 2 controllers`), and `controller`
    the configured controller's name."""
    counts = report.counts
    severe_tag = f"[{counts.severe} SEVERE] " if counts.severe else ""
    changes = report.changes
    return {
        "site": clean(report.site, SUBJECT_NAME_MAX),
        "controller": clean(report.controller_name, SUBJECT_NAME_MAX),
        "date": format_day(report.window.until.astimezone(ZoneInfo(settings.timezone))),
        "severe": counts.severe,
        "medium": counts.medium,
        "low": counts.low,
        "total": counts.total,
        "severe_tag": severe_tag,
        "new": changes.new if changes else counts.total,
        "new_severe": changes.new_severe if changes else counts.severe,
        "resolved": changes.resolved if changes else 0,
        "new_tag": _new_tag(changes) if changes else severe_tag,
    }


def _new_tag(changes: Changes) -> str:
    """What leads the default subject: new severe, new and resolved findings, then severe ones still open.

    `[1 NEW SEVERE, 3 new, 1 resolved, 2 severe ongoing] ` (3 new besides the severe one), or nothing
    on a quiet day.
    """
    parts = []
    if changes.new_severe:
        parts.append(f"{changes.new_severe} NEW SEVERE")
    if changes.new > changes.new_severe:
        parts.append(f"{changes.new - changes.new_severe} new")
    if changes.resolved:
        parts.append(f"{changes.resolved} resolved")
    if changes.ongoing_severe:
        parts.append(f"{changes.ongoing_severe} severe ongoing")
    return f"[{', '.join(parts)}] " if parts else ""


def render_subject(report: Report, settings: Settings) -> str:
    """Fill the subject template; raise ConfigError naming UNIFI_SUBJECT_TEMPLATE when it is invalid."""
    template = settings.subject_template
    allowed = ", ".join("{" + name + "}" for name in SUBJECT_VARIABLES)
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ConfigError(f"UNIFI_SUBJECT_TEMPLATE: {exc} (use {allowed}; write {{{{ for a brace)") from None
    for name in fields:
        if name not in SUBJECT_VARIABLES:
            raise ConfigError(f"UNIFI_SUBJECT_TEMPLATE: unknown variable {{{name}}} (use {allowed})")
    try:
        text = template.format_map(subject_values(report, settings))
    except (ValueError, TypeError) as exc:  # a format spec that does not fit the value, e.g. {site:d}
        raise ConfigError(f"UNIFI_SUBJECT_TEMPLATE: {exc}") from None
    return clean(text, SUBJECT_MAX) or "UniFi Report"
