"""Shared phrases (analyzer/wording.py) and the internal-address test (normalize.is_internal_address)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from unifi_scanner.analyzer.normalize import is_internal_address
from unifi_scanner.analyzer.wording import UTC_CLOCK, Clock, device_phrase, duration


@pytest.mark.parametrize(
    ("kind", "name", "model", "expected"),
    [
        # The name already says what it is: it stands alone, no stutter.
        ("switch", "Switch 16", None, "Switch 16"),
        ("access point", "Lobby-AP", None, "Lobby-AP"),
        ("gateway", "UDM-Pro", None, "UDM-Pro"),
        ("switch", "USW Flex Mini", None, "USW Flex Mini"),
        # The name is the device's model: the model names the kind (no kind word matches "UAL6" itself).
        ("access point", "UAL6", "UAL6", "UAL6"),
        ("access point", "UAL6", None, "access point “UAL6”"),
        # Otherwise the kind comes first and the name is quoted.
        ("access point", "Lobby", None, "access point “Lobby”"),
        ("switch", "is offline", None, "switch “is offline”"),
        (None, "Thing", None, "device “Thing”"),
        # A short form must be a word of its own: "Apple" does not say "AP".
        ("access point", "Apple Room", None, "access point “Apple Room”"),
        # A bare MAC cannot be misread as words: no quotes.
        ("access point", "b4:fb:e4:d2:74:39", None, "access point b4:fb:e4:d2:74:39"),
    ],
)
def test_device_phrase_does_not_stutter_and_quotes_plain_names(kind, name, model, expected):
    desc, capitalised = device_phrase(kind, name, model)
    assert desc == expected
    assert capitalised == expected[:1].upper() + expected[1:]


def test_a_model_that_differs_from_the_name_does_not_make_the_name_stand_alone():
    expected = ("access point “Lobby”", "Access point “Lobby”")
    assert device_phrase("access point", "Lobby", "U6-Lite") == expected


BERLIN = Clock.named("Europe/Berlin")


def test_clock_speaks_the_display_zone_with_its_abbreviation():
    winter = datetime(2026, 1, 24, 13, 5, tzinfo=UTC)
    summer = datetime(2026, 7, 24, 13, 5, tzinfo=UTC)
    assert UTC_CLOCK.at(winter) == "13:05 UTC"
    assert BERLIN.at(winter) == "14:05 CET"
    assert BERLIN.at(summer) == "15:05 CEST"
    assert BERLIN.between(winter, winter + timedelta(seconds=30)) == "at 14:05 CET"
    assert BERLIN.between(winter, winter + timedelta(hours=2)) == "between 14:05 and 16:05 CET"


def test_clock_adds_the_date_when_the_local_day_differs():
    # 22:30 and 23:30 UTC are one day in UTC but two in Berlin (23:30 and 00:30 CET).
    first = datetime(2026, 1, 24, 22, 30, tzinfo=UTC)
    last = first + timedelta(hours=1)
    assert UTC_CLOCK.between(first, last) == "between 22:30 and 23:30 UTC"
    assert BERLIN.between(first, last) == "between Jan 24 23:30 and Jan 25 00:30 CET"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (45, "45 seconds"),
        (89, "89 seconds"),
        (12 * 60, "12 minutes"),
        (3 * 3600 + 20 * 60, "3 h 20 min"),
        (5 * 3600, "5 h"),
        (2 * 86400 + 4 * 3600, "2 days 4 h"),
        (3 * 86400, "3 days"),
        (-5, "0 seconds"),
    ],
)
def test_duration_reads_at_a_glance(seconds, expected):
    assert duration(timedelta(seconds=seconds)) == expected


@pytest.mark.parametrize(
    "address",
    ["10.1.2.3", "172.16.0.1", "172.31.255.254", "192.168.1.23", "100.64.0.1", "100.127.255.254",
     "169.254.1.1", "127.0.0.1", "fd12:3456::1", "fe80::1", "::1"],
)
def test_internal_addresses_are_the_site_side_ranges(address):
    assert is_internal_address(address)


@pytest.mark.parametrize(
    "address",
    # Documentation and benchmark ranges stand for internet hosts in examples and the fake controller,
    # though `ipaddress.is_private` counts them private.
    ["192.0.2.1", "198.51.100.7", "203.0.113.9", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2001:db8::1",
     "2606:4700::1111", "not an address", "", None, "aa:bb:cc:00:00:02"],
)
def test_internet_and_unparsable_addresses_are_not_internal(address):
    assert not is_internal_address(address)
