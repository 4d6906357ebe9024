"""Trends against earlier reports (`memory.trends`) and which channels a report goes to (`memory.notify`)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.memory.factories import T0, finding, report
from unifi_scanner.memory.model import TREND_REPORTS
from unifi_scanner.memory.notify import decide
from unifi_scanner.memory.trends import compare, summarize
from unifi_scanner.models import Category, Changes, ResolvedIncident, Severity
from unifi_scanner.settings import Settings

ALL = {"email", "file", "webhook"}


def daily(days: int, blocks: int = 240, events: int = 2400):
    """Summaries of `days` earlier daily reports with `blocks` IPS blocks each."""
    return [summarize(report([], day=-days + n, events=events, per_rule={"ips_threat_blocked": blocks}))
            for n in range(days)]


def test_the_first_report_has_nothing_to_compare_with():
    trends = compare(summarize(report([finding("a")])), [])
    assert trends.lines == [] and len(trends.history) == 1 and trends.history[0].counts.medium == 1


def test_a_measure_four_times_the_usual_is_listed_with_the_previous_report():
    current = summarize(report([], events=2400 + 720, per_rule={"ips_threat_blocked": 960}))
    trends = compare(current, daily(5))
    total, blocks = trends.lines
    assert total.measure == "events" and total.text.startswith("Events: 130/h, 1.3× the usual")
    assert blocks.label == "IPS blocks" and blocks.ratio == 4.0
    assert blocks.text == ("IPS blocks: 40/h, 4.0× the usual (10/h over the last 5 reports); "
                           "previous report 10/h")
    assert trends.compared == 5


def test_rates_are_per_hour_so_a_short_window_compares_with_long_ones():
    hourly = summarize(report([], hours=1, events=100, per_rule={"ips_threat_blocked": 10}))
    trends = compare(hourly, daily(5))
    assert [line.measure for line in trends.lines] == ["events"]  # 10 blocks in an hour is the usual rate
    assert trends.lines[0].ratio == 1.0


def test_small_or_steady_measures_are_not_listed_and_the_usual_needs_three_reports():
    current = summarize(report([], per_rule={"ips_threat_blocked": 250, "wan_down": 3}))
    earlier = daily(2) + [summarize(report([], day=-1, per_rule={"ips_threat_blocked": 240, "wan_down": 1}))]
    lines = compare(current, earlier).lines
    assert [line.measure for line in lines] == ["events"]  # wan_down tripled, but 3 events are noise
    two = compare(current, daily(2))
    assert two.compared == 0 and two.lines[0].usual_per_hour is None
    assert "the usual" not in two.lines[0].text and "previous report" in two.lines[0].text


def test_a_measure_that_stops_is_listed_as_a_drop():
    current = summarize(report([], events=2400, per_rule={}))
    (_, blocks) = compare(current, daily(5)).lines
    assert blocks.per_hour == 0 and blocks.text.startswith("IPS blocks: 0/h, 0% of the usual")


def test_the_chart_history_holds_the_last_reports_with_this_one_last():
    trends = compare(summarize(report([finding("a")], day=1)), daily(40))
    assert len(trends.history) == TREND_REPORTS
    assert trends.history[-1].until == T0 + timedelta(days=1) and trends.history[-1].counts.medium == 1
    assert trends.compared == TREND_REPORTS


def _with_changes(findings, **changes):
    return report(findings).model_copy(update={"changes": Changes(**changes)})


@pytest.mark.parametrize("notify,changes,expected", [
    ("always", {}, ALL),
    ("changes", {}, {"file"}),
    ("changes", {"new": 1}, ALL),
    ("changes", {"resolved": 1}, ALL),
    ("changes", {"severity_changed": 1}, ALL),
    ("severe", {"new": 2}, {"file"}),
    ("severe", {"ongoing_severe": 1}, ALL),
    ("severe", {"new_severe": 1}, ALL),
])
def test_notify_decides_which_channels_a_report_goes_to(notify, changes, expected):
    decision = decide(_with_changes([finding("a")], **changes), Settings(notify=notify), ALL)
    assert decision.channels == expected
    assert (decision.held_back is None) is (expected == ALL)
    if decision.held_back:
        assert decision.held_back.startswith(f"UNIFI_NOTIFY={notify} and ")


def test_a_report_without_memory_is_always_sent_and_an_empty_one_never_without_send_empty():
    assert decide(report([finding("a")]), Settings(notify="changes"), ALL).channels == ALL
    empty = decide(_with_changes([]), Settings(), ALL)
    assert empty.channels == set() and empty.held_back == "no findings at or above low"
    assert decide(_with_changes([]), Settings(send_empty=True), ALL).channels == ALL
    low = decide(_with_changes([finding("a", severity=Severity.LOW)], new=1), Settings(min_severity="medium"),
                 ALL)
    assert low.channels == set()


def test_a_resolved_incident_alone_is_worth_sending():
    resolved = _with_changes([], resolved=1)
    resolved.resolved = [ResolvedIncident(
        id="x", rule_id="device_outage", title="t", severity=Severity.SEVERE, category=Category.CONNECTIVITY,
        since=T0, resolved_at=T0, reports=2, how="back online")]
    assert decide(resolved, Settings(notify="changes"), ALL).channels == ALL
