"""client_churn's baseline: each client's rate compared with the site's own median (rules.Baseline)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.analyzer.payloads import AP_MAC, T0, client, collection, header, legacy
from unifi_scanner.analyzer import analyze
from unifi_scanner.models import Report, Window
from unifi_scanner.settings import Settings

BUSY = "06:00:00:00:00:00"


def churn_site(counts: list[int], hours: float) -> Report:
    """A site whose n-th client connected `counts[n]` times, evenly over a window of `hours`."""
    records = []
    for index, count in enumerate(counts):
        mac = f"06:00:00:00:00:{index:02x}"
        step = hours * 3600 / count
        records += [legacy("EVT_WU_Connected", T0 + timedelta(seconds=n * step), user=mac, ap=AP_MAC)
                    for n in range(count)]
    head = header()
    head.window = Window(since=T0, until=T0 + timedelta(hours=hours))
    head.collected_at = head.window.until
    items = [*records, client(BUSY, "Busy-Phone", ip="192.168.1.50")]
    return analyze(collection(items, head=head), Settings(), generated_at=head.window.until)


def churn(report: Report) -> list:
    """The client_churn findings."""
    return [f for f in report.findings if f.rule_id == "client_churn"]


def test_a_site_where_every_client_churns_a_lot_flags_nobody():
    # 200 reconnects an hour each: that is this site's normal, not a problem of one client.
    assert churn(churn_site([200] * 10, hours=1)) == []


def test_one_outlier_is_named_with_its_rate_against_the_median():
    [finding] = churn(churn_site([400] + [40] * 9, hours=1))
    assert (finding.severity, finding.count) == ("low", 400)
    assert finding.title == "Unusual connection churn: 1 client(s) far above this site's usual"
    assert "Busy-Phone (06:00:00:00:00:00) 400/h (400 times)" in finding.explanation
    assert "The site's median is 40/h per client" in finding.explanation
    assert [a.id for a in finding.affected if a.kind == "client"] == [BUSY]


@pytest.mark.parametrize("hours", [1, 72])
def test_the_same_site_is_judged_the_same_on_a_short_and_a_long_window(hours):
    # Rates, not counts: the same proportions flag the same client on 1 h and on 72 h.
    [finding] = churn(churn_site([400] + [40] * 9, hours=hours))
    assert [a.id for a in finding.affected if a.kind == "client"] == [BUSY]
    rate = "400/h" if hours == 1 else "5.6/h"
    assert f"Busy-Phone (06:00:00:00:00:00) {rate} (400 times)" in finding.explanation


def test_an_outlier_needs_its_minimum_count():
    # Ten times the median, but 29 events are below the baseline's min_count of 30.
    assert churn(churn_site([29] + [2] * 9, hours=24)) == []
    assert len(churn(churn_site([30] + [2] * 9, hours=24))) == 1


def test_too_few_clients_give_no_baseline():
    # Two clients say nothing about what is normal for the site.
    assert churn(churn_site([400, 10], hours=1)) == []


def test_several_outliers_make_one_finding_busiest_first():
    [finding] = churn(churn_site([300, 120] + [2] * 6, hours=24))
    assert finding.count == 420
    assert finding.title.startswith("Unusual connection churn: 2 client(s)")
    assert finding.explanation.index("Busy-Phone") < finding.explanation.index("06:00:00:00:00:01")
