"""`fleet.merge` (several sites' reports as one) and `fleet.layout` (per-site state, adoption)."""

from __future__ import annotations

import json

import pytest

from tests.memory.factories import T0, finding, report
from unifi_scanner.errors import ConfigError
from unifi_scanner.fleet.layout import adopt_single_site_state, site_directory
from unifi_scanner.fleet.merge import SitePart, merge
from unifi_scanner.models import Changes, DeviceHealth, HourBucket, Severity
from unifi_scanner.state import Checkpoint, RunHistory, RunRecord, StateStore


def _site(name: str, *findings, events: int = 10):
    item = report(list(findings), events=events).model_copy(update={
        "site": name, "changes": Changes(new=len(findings)), "notes": [f"note of {name}"],
        "device_health": [DeviceHealth(mac="aa:00:00:00:00:01", name="Core", state="connected")],
        "events_per_hour": [HourBucket(hour=T0, low=events)], "events_per_category": {"security": events},
    })
    return item


def test_a_merged_report_names_each_site_and_the_failed_ones_first():
    hq = SitePart("hq", "default", _site("default", finding("a", severity=Severity.SEVERE), finding("b")))
    branch = SitePart("hq", "branch", _site("branch", finding("a", severity=Severity.MEDIUM), events=5))
    shop = SitePart("shop", "default", error="Login rejected: wrong username or password.")
    merged = merge([hq, branch, shop])
    assert merged.site == "3 sites on 2 controllers" and merged.controller_name == "2 controllers"
    assert [line.label for line in merged.sites] == ["shop/default", "hq/default", "hq/branch"]
    assert merged.sites[0].error.startswith("Login rejected") and merged.sites[1].counts.severe == 1
    assert merged.sites[1].worst == "finding a" and merged.sites[1].worst_severity is Severity.SEVERE
    # Ids are unique only within a site: the merged report prefixes them with the site.
    assert [(f.site, f.id) for f in merged.findings] == [
        ("hq/default", "hq/default/a"), ("hq/branch", "hq/branch/a"), ("hq/default", "hq/default/b")]
    assert merged.counts.total == 3 and merged.changes.new == 3 and merged.total_events == 15
    assert merged.events_per_hour[0].low == 15 and merged.events_per_category == {"security": 15}
    assert [device.name for device in merged.device_health] == ["hq/default · Core", "hq/branch · Core"]
    assert "hq/branch: note of branch" in merged.notes
    json.loads(merged.model_dump_json())  # an ordinary report, for every renderer and channel


def test_a_merge_needs_a_site_with_a_report():
    with pytest.raises(ValueError, match="nothing to merge"):
        merge([SitePart("hq", "default", error="down")])


def test_site_directories_refuse_names_that_are_not_plain(tmp_path):
    assert site_directory(tmp_path, "hq", "branch") == tmp_path / "hq" / "branch"
    for hostile in ("..", "../etc", "a/b", ".hidden", ""):
        with pytest.raises(ConfigError, match="cannot name a state directory"):
            site_directory(tmp_path, "hq", hostile)


def test_a_single_site_state_directory_is_adopted_as_default_site_once(tmp_path):
    store = StateStore(tmp_path)
    store.save(Checkpoint(last_successful_run=T0))
    store.save(Checkpoint(last_successful_run=T0.replace(hour=8)))
    RunHistory(tmp_path).append(RunRecord(run_id="r1", started_at=T0))
    done = adopt_single_site_state(tmp_path, "branch")
    target = tmp_path / "default" / "branch"
    assert done and str(target) in done
    assert StateStore(target).load().checkpoint.last_successful_run == T0.replace(hour=8)
    assert StateStore(target).backup_status().startswith("backup of 2026-12-01T06:00")
    assert [run.run_id for run in RunHistory(target).last(5)] == ["r1"]
    assert not (tmp_path / ".last_run.json").exists()
    assert adopt_single_site_state(tmp_path, "branch") is None  # nothing left to adopt
