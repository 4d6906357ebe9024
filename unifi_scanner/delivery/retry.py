"""Retry timing shared by the SMTP, upload and webhook senders, and the retry loop of the first two.

Temporary failures (a 4xx from the mail server, a reset connection, HTTP 429 or 5xx) are retried a few
times inside the run, with exponential backoff. The policy and the sleep function are module attributes
so tests can make the waits instant and record them instead of sleeping.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from unifi_scanner.models import ChannelResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """How many attempts to make and how long to wait between them."""

    attempts: int = 3
    base: float = 1.0
    cap: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based).

        A server's Retry-After wins over the exponential schedule, but never beyond `cap`: a one-shot
        cron job must not hang for an hour because a webhook asked it to.
        """
        wanted = retry_after if retry_after is not None else self.base * 2 ** (attempt - 1)
        return max(0.0, min(wanted, self.cap))


POLICY = Backoff()
sleep = time.sleep


class Failure(Protocol):
    """One failed attempt: a one-line reason and whether trying again could help."""

    reason: str
    temporary: bool


def until_done(channel: str, action: Callable[[], str], failure_of: Callable[[Exception], Failure | None], *,
               what: str, prefix: str = "") -> ChannelResult:
    """Run `action` (it returns the success detail) under `POLICY`; one result for the channel.

    `failure_of` tells what an exception means (None: not a delivery failure, raised as it is); a
    temporary failure is retried with backoff while attempts remain. `what` names the delivery in the
    log, `prefix` starts the failed result's detail (the server it went to).
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            detail = action()
        except Exception as exc:
            failure = failure_of(exc)
            if failure is None:
                raise
            if failure.temporary and attempt < POLICY.attempts:
                delay = POLICY.delay(attempt)
                log.warning("%s: attempt %d failed (%s); retrying in %.1fs", what, attempt, failure.reason,
                            delay)
                sleep(delay)
                continue
            suffix = f" (after {attempt} attempts)" if attempt > 1 else ""
            log.error("%s failed: %s%s", what, failure.reason, suffix)
            return ChannelResult(channel=channel, ok=False, attempts=attempt,
                                 detail=f"{prefix}{failure.reason}{suffix}")
        return ChannelResult(channel=channel, ok=True, detail=detail, attempts=attempt)
