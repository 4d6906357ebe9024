"""`memory.recall`: statuses across reports, what counts as resolved, and the bounds of what is kept."""

from __future__ import annotations

from datetime import timedelta

from tests.memory.factories import T0, finding, report
from unifi_scanner.memory import model
from unifi_scanner.memory.model import IncidentRecord, Memory
from unifi_scanner.memory.recall import recall
from unifi_scanner.models import Category, DeviceHealth, Severity
from unifi_scanner.settings import Settings

SETTINGS = Settings()
MAC = "aa:bb:cc:00:00:01"


def outage(open_: bool = True, **extra) -> object:
    """The device outage of MAC, as correlation builds it."""
    return finding("outage", rule_id="device_outage", incident="device_outage", ends="recovery", open_=open_,
                   device=MAC, severity=Severity.SEVERE if open_ else Severity.MEDIUM, **extra)


def connected(uptime: int | None = 7200) -> DeviceHealth:
    """MAC in the device list, connected for `uptime` seconds."""
    return DeviceHealth(mac=MAC, name="Core", state="connected", uptime_seconds=uptime)


def sequence(*reports):
    """Recall each report after the one before it was delivered; the recalled reports and final memory."""
    memory, out = Memory(), []
    for item in reports:
        recalled = recall(item, memory, SETTINGS)
        out.append(recalled.report)
        memory = recalled.memory
    return out, memory


def test_the_first_report_calls_everything_new_and_remembers_it():
    (first,), memory = sequence(report([finding("a"), outage()]))
    assert [f.status.kind for f in first.findings] == ["new", "new"]
    assert first.changes.first_report and first.changes.new == 2 and first.changes.new_severe == 1
    assert memory.incidents["outage"].open and memory.incidents["outage"].reports == 1
    assert memory.incidents["outage"].subjects == [f"device:{MAC}"]
    assert len(memory.reports) == 1


def test_a_finding_in_the_next_report_is_ongoing_since_it_began_with_its_severity_change():
    began = T0 - timedelta(hours=5)
    reports, memory = sequence(
        report([finding("a", at=began)]),
        report([finding("a", at=T0 + timedelta(hours=20), severity=Severity.SEVERE)], day=1),
        report([finding("a", at=T0 + timedelta(hours=44), severity=Severity.SEVERE)], day=2),
    )
    second, third = reports[1].findings[0].status, reports[2].findings[0].status
    assert (second.kind, second.since, second.report, second.previous_severity) == (
        "ongoing", began, 2, Severity.MEDIUM)
    assert (third.kind, third.report, third.previous_severity) == ("ongoing", 3, None)
    assert reports[1].changes.severity_changed == 1 and not reports[1].changes.new
    assert reports[2].changes.ongoing_severe == 1 and not reports[2].changes.any
    assert memory.incidents["a"].reports == 3


def test_an_outage_absent_once_the_device_is_back_is_resolved_once_then_forgotten():
    reports, memory = sequence(
        report([outage()]),
        report([outage()], day=1),
        report([], day=2, devices=[connected()]),
        report([], day=3, devices=[connected()]),
    )
    assert [f.status.kind for r in reports[:2] for f in r.findings] == ["new", "ongoing"]
    (resolved,) = reports[2].resolved
    assert resolved.how == "back online (up for 2 h)" and resolved.reports == 2
    assert resolved.since == T0 and resolved.severity is Severity.SEVERE
    assert reports[2].changes.resolved == 1
    assert reports[3].resolved == [] and reports[3].findings == []
    assert not memory.incidents["outage"].open


def test_a_device_no_longer_on_the_controller_or_still_not_connected_is_said_so():
    (_, gone), _ = sequence(report([outage()]), report([], day=1))
    assert gone.resolved[0].how == "the device is no longer on the controller"
    upgrading = DeviceHealth(mac=MAC, name="Core", state="upgrading")
    (_, other), _ = sequence(report([outage()]), report([], day=1, devices=[upgrading]))
    assert other.resolved[0].how == "no longer reported as offline (its state: upgrading)"


def test_a_reconnect_about_an_open_outage_is_its_end_not_a_finding_of_its_own():
    back = T0 + timedelta(hours=30)
    reconnect = finding("reconnect", rule_id="device_reconnected", severity=Severity.LOW, device=MAC, at=back,
                        title="Switch “Core” reconnected to the controller")
    (_, second), memory = sequence(report([outage()]), report([reconnect, finding("b")], day=2))
    assert [f.id for f in second.findings] == ["b"] and second.counts.low == 0 and second.counts.total == 1
    (resolved,) = second.resolved
    assert resolved.id == "outage" and resolved.resolved_at == back
    assert resolved.how == "Switch “Core” reconnected to the controller"
    assert "reconnect" not in memory.incidents


def test_an_open_incident_this_window_shows_over_is_resolved_with_how_it_ended():
    over = outage(open_=False, title="Switch “Core” lost contact and came back after 5 minutes")
    (_, second), memory = sequence(report([outage()]), report([over], day=1))
    assert second.findings == [] and second.resolved[0].how == over.title
    assert not memory.incidents["outage"].open


def test_an_incident_that_began_and_ended_in_one_window_is_new_once_and_never_resolved():
    over = outage(open_=False)
    (first, second), memory = sequence(report([over]), report([], day=1, devices=[connected()]))
    assert first.findings[0].status.kind == "new"
    assert second.resolved == [] and not memory.incidents["outage"].open


def test_events_that_stop_resolve_only_after_a_whole_window_and_the_quiet_hours():
    hourly = [report([finding("scan", at=T0 - timedelta(minutes=5))], hours=1)]
    hourly += [report([], hours=1, until=T0 + timedelta(hours=n)) for n in (1, 2, 23, 24)]
    reports, memory = sequence(*hourly)
    assert [r.resolved for r in reports[1:4]] == [[], [], []]  # a pause: it stays open, unreported
    assert [f.id for r in reports[1:4] for f in r.findings] == []
    (resolved,) = reports[4].resolved
    assert resolved.how == "no events for 24 h 5 min" and resolved.resolved_at == T0 - timedelta(minutes=5)


def test_routine_volume_is_forgotten_quietly():
    digest = finding("digest", rule_id="ips_digest", incident="ips_digest", ends="routine",
                     severity=Severity.LOW)
    (_, second), memory = sequence(report([digest]), report([], day=2))
    assert second.resolved == [] and not memory.incidents["digest"].open


def test_nothing_is_resolved_from_absence_while_a_source_failed():
    (_, second, third), memory = sequence(
        report([outage(), finding("scan")]),
        report([], day=2, failed="devices"),
        report([], day=3, devices=[connected()]),
    )
    assert second.resolved == [] and "2 incident(s) open in the last report could not be re-checked" in \
        second.notes[-1]
    assert {item.id for item in third.resolved} == {"outage", "scan"}


def test_a_recurrence_is_new_again_and_says_when_the_last_one_ended():
    reports, _ = sequence(report([outage()]), report([], day=1, devices=[connected()]),
                          report([outage()], day=2))
    status = reports[2].findings[0].status
    assert status.kind == "new" and status.recurred_after == T0 + timedelta(days=1)


def test_the_memory_keeps_the_newest_open_and_recently_resolved_within_its_bounds(monkeypatch):
    monkeypatch.setattr("unifi_scanner.memory.recall.MAX_OPEN", 3)
    monkeypatch.setattr("unifi_scanner.memory.recall.MAX_RESOLVED", 2)

    def record(n: int, open_: bool) -> IncidentRecord:
        moment = T0 - timedelta(hours=n)
        return IncidentRecord(rule_id="test", title=str(n), category=Category.SECURITY, severity=Severity.LOW,
                              open=open_, first_seen=moment, last_seen=moment, ends="quiet",
                              resolved_at=None if open_ else moment)

    incidents = {f"open{n}": record(n, True) for n in range(5)}
    incidents |= {f"closed{n}": record(n, False) for n in range(4)}
    kept = recall(report([]), Memory(incidents=incidents), Settings(quiet_hours=100)).memory.incidents
    assert sorted(kept) == ["closed0", "closed1", "open0", "open1", "open2"]


def test_summaries_are_kept_for_the_last_90_reports_and_admin_logins_are_remembered():
    memory = Memory()
    for day in range(model.MAX_SUMMARIES + 5):
        memory = recall(report([], day=day), memory, SETTINGS).memory
    assert len(memory.reports) == model.MAX_SUMMARIES
    assert memory.reports[-1].until == T0 + timedelta(days=model.MAX_SUMMARIES + 4)
    seen = report([]).model_copy(update={"admin_logins": {"192.168.1.20": T0}})
    assert recall(seen, Memory(), SETTINGS).memory.admin_addresses == {"192.168.1.20": T0}
