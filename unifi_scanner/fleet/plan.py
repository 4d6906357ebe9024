"""Which controllers and sites a run covers: the config file's `controllers:` list, `UNIFI_SITES`,
`--controller NAME` and `--shard I/N`.

Each entry of `controllers:` takes the same keys as the global settings, which act as its defaults,
and a `name` used in state paths, subjects and report titles. Secrets come from files
(`password_file`, `api_key_file`, `smtp_password_file`, ...), never inline in a shared config. Every
problem of every entry is reported at once, each line naming its entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from unifi_scanner.errors import ConfigError
from unifi_scanner.settings import Settings, _is_secret, format_validation_error, parse_shard

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
"""Controller and site names become directory names: letters, digits, `_`, `.`, `-`, no leading dot."""
DEFAULT_CONTROLLER = "default"
"""The name of the controller the global settings describe when there is no `controllers:` list."""
_RUN_WIDE = frozenset({"controllers", "shard", "report_per", "state_dir", "reports_dir", "log_level",
                       "log_format", "ping_url", "ping_send_log"})
"""Settings of the run as a whole: an entry cannot change them."""


@dataclass(frozen=True)
class ControllerPlan:
    """One controller of the run: its name, its place in the list (for sharding), settings and sites."""

    name: str
    position: int
    settings: Settings
    sites: tuple[str, ...] | None
    """The site names to report, or None for every site the account can see (`all`)."""


def sites_of(settings: Settings) -> tuple[str, ...] | None:
    """The sites the settings ask for: `UNIFI_SITES` (None for `all`), else `UNIFI_SITE` alone."""
    if settings.sites == ["all"]:
        return None
    return tuple(dict.fromkeys(settings.sites)) if settings.sites else (settings.site,)


def covers_many(settings: Settings) -> bool:
    """True when the run goes beyond one site of one controller (and so uses per-site state)."""
    return bool(settings.controllers) or sites_of(settings) != (settings.site,)


def plan(settings: Settings) -> list[ControllerPlan]:
    """The controllers the settings describe, in list order; ConfigError listing every problem."""
    if not settings.controllers:
        return [ControllerPlan(DEFAULT_CONTROLLER, 0, settings, sites_of(settings))]
    plans: list[ControllerPlan] = []
    problems: list[str] = []
    seen: set[str] = set()
    base = settings.model_dump()
    for position, entry in enumerate(settings.controllers):
        name = str(entry.get("name", ""))
        where = f"controllers[{position}]" + (f" ({name})" if name else "")
        if not NAME.match(name):
            problems.append(f"{where}: name is required: letters, digits, '_', '.' or '-' (it names the "
                            "state directory)")
            continue
        if name in seen:
            problems.append(f"{where}: the name {name} is used twice")
            continue
        seen.add(name)
        values, entry_problems = _entry_values(entry)
        problems += [f"{where}: {problem}" for problem in entry_problems]
        try:
            merged = Settings.model_validate({**base, **values, "controllers": []})
        except ValidationError as exc:
            problems += [f"{where}: {line}" for line in format_validation_error(exc).splitlines()]
            continue
        plans.append(ControllerPlan(name, position, merged, sites_of(merged)))
    if problems:
        raise ConfigError("\n".join(problems))
    from unifi_scanner.logs import register_secrets

    for item in plans:
        register_secrets(item.settings.secret_values())
    return plans


def _entry_values(entry: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """An entry's settings values, with `<secret>_file` keys read; and what is wrong with it."""
    fields = Settings.model_fields
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in entry.items():
        key = str(key).lower()
        if key == "name":
            continue
        secret = key.removesuffix("_file")
        if key.endswith("_file") and secret in fields and _is_secret(fields[secret]):
            try:
                text = Path(str(value)).read_text(encoding="utf-8")
            except OSError as exc:
                problems.append(f"{key}: cannot read {value}: {exc.strerror}")
                continue
            values[secret] = SecretStr(text[:-1] if text.endswith("\n") else text)
        elif key in _RUN_WIDE:
            problems.append(f"{key}: applies to the whole run, not to one controller")
        elif key not in fields:
            problems.append(f"unknown setting {key!r}")
        elif _is_secret(fields[key]):
            problems.append(f"{key}: give secrets as {key}_file (a path), not in the config file")
        else:
            values[key] = value
    return values, problems


def select(plans: list[ControllerPlan], names: list[str] | None = None,
           shard: str | None = None) -> list[ControllerPlan]:
    """The controllers `--controller NAME` (any of them) and `--shard I/N` leave in the run.

    A shard takes the controllers whose position in the list is I modulo N, so N shards together cover
    each controller exactly once however the list grows.
    """
    known = {item.name for item in plans}
    unknown = sorted(set(names or ()) - known)
    if unknown:
        raise ConfigError(f"--controller: no controller named {', '.join(unknown)} "
                          f"(configured: {', '.join(sorted(known))})")
    chosen = [item for item in plans if not names or item.name in names]
    if shard is not None:
        try:
            index, count = parse_shard(shard)
        except ValueError as exc:
            raise ConfigError(f"--shard: {exc}") from None
        chosen = [item for item in chosen if item.position % count == index]
    return chosen
