"""The fake's background mixes (for benchmarks) and its request recorder."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import UTC, datetime

import pytest
import requests

from unifi_scanner.fake import FakeController
from unifi_scanner.fake.__main__ import recorder
from unifi_scanner.fake.data import GATEWAYS, HOUR_MS, KINDS, MIXES, Kind, build_site, generate

NOW_MS = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp() * 1000)
IPS = {Kind.THREAT_BLOCKED, Kind.THREAT_DETECTED}
ROAMING = {Kind.WIFI_ROAM, Kind.WIFI_CONNECT, Kind.WIFI_DISCONNECT}


def kinds_of(mix: str, n: int = 5000) -> Counter[Kind]:
    """Kinds of `n` generated events of every kind that an event feed shows, in the given mix."""
    site = build_site(1, GATEWAYS["udm_pro"], NOW_MS, 24 * HOUR_MS)
    kinds = [kind for kind in Kind if not KINDS[kind].alarm_only]
    events, _ = generate(site, 1, kinds, n, NOW_MS - 24 * HOUR_MS, NOW_MS, mix)
    assert len(events) == n
    return Counter(Kind(event[1]) for event in events)


@pytest.mark.parametrize(("mix", "heavy"), [("ips", IPS), ("roam", ROAMING)])
def test_a_mix_makes_its_kinds_dominant(mix: str, heavy: set[Kind]) -> None:
    default, mixed = kinds_of("default"), kinds_of(mix)
    share = sum(mixed[kind] for kind in heavy) / sum(mixed.values())
    assert share > 0.75
    assert share > sum(default[kind] for kind in heavy) / sum(default.values())


def test_the_default_mix_is_the_unchanged_generator() -> None:
    assert MIXES["default"] == {}
    assert kinds_of("default") == kinds_of("default")


def test_recorder_writes_every_request_and_lets_it_through() -> None:
    stream = io.StringIO()
    with FakeController(events=50, tls=False, behaviours=recorder(stream)) as fc:
        answer = requests.post(f"{fc.url}/api/auth/login?x=1",
                               json={"username": fc.username, "password": fc.password}, timeout=10)
    assert answer.status_code == 200
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines == [{"method": "POST", "target": "/api/auth/login?x=1",
                      "body": json.dumps({"username": fc.username, "password": fc.password})}]
