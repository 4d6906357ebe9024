"""`fleet.plan`: the controllers list, its entries' settings and secrets, --controller and --shard."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unifi_scanner.errors import ConfigError
from unifi_scanner.fleet.plan import covers_many, plan, select, sites_of
from unifi_scanner.settings import Settings


def test_without_a_list_the_global_settings_are_the_one_default_controller():
    (only,) = plan(Settings(host="192.168.1.1", site="branch"))
    assert (only.name, only.position, only.sites) == ("default", 0, ("branch",))
    assert only.settings.host == "192.168.1.1"
    assert not covers_many(Settings(site="branch"))
    assert covers_many(Settings(sites="default,branch")) and covers_many(Settings(sites="all"))
    assert sites_of(Settings(sites="all")) is None and sites_of(Settings(sites="a,b,a")) == ("a", "b")


def test_entries_take_the_global_settings_as_defaults_and_read_secrets_from_files(tmp_path):
    (tmp_path / "hq").write_text("hq-secret\n")
    (tmp_path / "key").write_text("api-key")
    settings = Settings(username="reporter", timezone="Europe/Berlin", email_to="ops@example.com",
                        controllers=[
        {"name": "hq", "host": "192.168.1.1", "password_file": str(tmp_path / "hq"), "sites": "all"},
        {"name": "shop", "host": "shop.example.net", "port": 8443, "api_key_file": str(tmp_path / "key"),
         "sites": ["default"], "email_to": ["shop@example.com"], "tls_fingerprint": "AB" * 32},
    ])
    hq, shop = plan(settings)
    assert hq.settings.password.get_secret_value() == "hq-secret" and hq.settings.username == "reporter"
    assert hq.sites is None and hq.settings.timezone == "Europe/Berlin"
    assert hq.settings.email_to == ["ops@example.com"]
    assert shop.settings.api_key.get_secret_value() == "api-key" and shop.settings.port == 8443
    assert shop.sites == ("default",) and shop.settings.email_to == ["shop@example.com"]
    assert shop.settings.tls_fingerprint == "ab" * 32 and shop.position == 1


def test_every_problem_of_every_entry_is_reported_at_once(tmp_path):
    settings = Settings(controllers=[
        {"host": "no-name"},
        {"name": "../escape"},
        {"name": "hq", "password": "inline", "bogus": 1, "port": 70000, "state_dir": "/x",
         "api_key_file": str(tmp_path / "missing")},
        {"name": "hq"},
    ])
    with pytest.raises(ConfigError) as error:
        plan(settings)
    lines = str(error.value).splitlines()
    assert lines[0].startswith("controllers[0]: name is required")
    assert lines[1].startswith("controllers[1] (../escape): name is required")
    assert ("controllers[2] (hq): password: give secrets as password_file (a path), not in the config "
            "file") in lines
    assert "controllers[2] (hq): unknown setting 'bogus'" in lines
    assert "controllers[2] (hq): state_dir: applies to the whole run, not to one controller" in lines
    assert any(line.startswith("controllers[2] (hq): api_key_file: cannot read") for line in lines)
    assert any(line.startswith("controllers[2] (hq): UNIFI_PORT:") for line in lines)
    assert "controllers[3] (hq): the name hq is used twice" in lines


def test_controller_names_pick_and_unknown_names_are_refused():
    plans = plan(Settings(controllers=[{"name": name} for name in ("a", "b", "c")]))
    assert [item.name for item in select(plans, ["c", "a"])] == ["a", "c"]
    with pytest.raises(ConfigError, match="--controller: no controller named x"):
        select(plans, ["x"])
    with pytest.raises(ConfigError, match="--shard"):
        select(plans, shard="3/3")


@given(count=st.integers(1, 40), shards=st.integers(1, 8))
def test_the_shards_together_cover_every_controller_exactly_once(count, shards):
    plans = plan(Settings(controllers=[{"name": f"c{n}"} for n in range(count)]))
    covered = [item.name for index in range(shards) for item in select(plans, shard=f"{index}/{shards}")]
    assert sorted(covered) == sorted(item.name for item in plans)
