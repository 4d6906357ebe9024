"""Fixtures shared by every test: an isolated environment for settings, state and reports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No UNIFI_* variable, config file or state from the developer's machine reaches a test.

    Every test gets its own XDG directories and secrets directory, and runs from an empty working
    directory (so ./unifi-scanner.yaml is never picked up by accident).
    """
    home = tmp_path_factory.mktemp("home")
    isolate(monkeypatch, home)
    monkeypatch.chdir(home)
    return home


def isolate(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Give the process `home` as its home, XDG and secrets directories and drop every UNIFI_*
    variable: what `isolated_env` does for each test, and module-scoped fixtures do for themselves."""
    for key in list(os.environ):
        if key.upper().startswith("UNIFI_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("UNIFI_SECRETS_DIR", str(home / "secrets"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("CRON_TZ", raising=False)


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for servers that cannot bind port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(*args: str, env: dict[str, str] | None = None, input: str | None = None,
            timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI as a subprocess (`python -m unifi_scanner ARGS`) and capture its output.

    The environment is the test's (already isolated) plus `env`.
    """
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "unifi_scanner", *args],
        env=full_env, input=input, capture_output=True, text=True, timeout=timeout, cwd=cwd,
    )


@pytest.fixture
def cli():
    """The `run_cli` helper as a fixture."""
    return run_cli
