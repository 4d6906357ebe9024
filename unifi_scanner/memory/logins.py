"""The admin addresses a site's runs remember, so that "a login from a new address" means new over the
last weeks, not new in this report's window.

Each delivered report's successful admin logins (`Report.admin_logins`, which leaves out any address
that also failed to log in) are merged into the checkpoint beside the window's end, in the same atomic
write, so a run that fails or is killed remembers nothing it did not report.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

KNOWN_ADMIN_DAYS = 90
"""How long an address an admin logged in from stays known, in days since its latest login."""
MAX_ADMIN_ADDRESSES = 200
"""Addresses remembered, the most recently used kept: an office, homes, phones and a VPN of a team of
admins are a few dozen; 200 keep the state file under 20 KiB."""


def remember_logins(known: Mapping[str, datetime], seen: Mapping[str, datetime],
                    now: datetime) -> dict[str, datetime]:
    """The known admin addresses after a delivered report: each with its latest login, those unused for
    `KNOWN_ADMIN_DAYS` forgotten, at most `MAX_ADMIN_ADDRESSES`, the most recently used first."""
    merged = dict(known)
    for address, moment in seen.items():
        if address not in merged or moment > merged[address]:
            merged[address] = moment
    horizon = now - timedelta(days=KNOWN_ADMIN_DAYS)
    recent = sorted(((moment, address) for address, moment in merged.items() if moment >= horizon),
                    reverse=True)[:MAX_ADMIN_ADDRESSES]
    return {address: moment for moment, address in recent}
