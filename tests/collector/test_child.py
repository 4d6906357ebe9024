"""The collector in a child process: same items as in-process, its errors and logs reach the parent,
and it never outlives the run (killed on early exit, on the parent's death, and without the lock)."""

from __future__ import annotations

import io
import logging
import os
import select
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from pydantic import SecretStr

from unifi_scanner.collector.child import collection_stream
from unifi_scanner.document import CollectionWriter
from unifi_scanner.errors import ControllerAuthError, ControllerError, ExitCode
from unifi_scanner.fake import FakeController
from unifi_scanner.models import ControllerInfo, Footer, Header, Record, Window
from unifi_scanner.settings import Settings
from unifi_scanner.timeutil import utcnow


def settings_for(fc: FakeController, **changes) -> Settings:
    """Settings that reach the in-process fake over TLS, pinned by fingerprint."""
    values = {"host": fc.url, "username": fc.username, "password": SecretStr(fc.password),
              "tls_fingerprint": fc.cert_sha256, "site": fc.site}
    values.update(changes)
    return Settings(**values)


def window() -> Window:
    """The last day."""
    now = utcnow()
    return Window(since=now - timedelta(hours=24), until=now)


def header(settings: Settings, span: Window) -> Header:
    """A header for stub collectors."""
    return Header(generator="stub", collected_at=span.until, site=settings.site, window=span,
                  controller=ControllerInfo(url="https://127.0.0.1", type="unifi_os", auth="password"))


def test_the_stream_holds_what_an_in_process_collection_writes() -> None:
    from unifi_scanner.collector import collect
    from unifi_scanner.document import iter_collection

    span = window()
    with FakeController(events=1500, seed=3) as fc:
        settings = settings_for(fc)
        buffer = io.StringIO()
        collect(settings, span, CollectionWriter(buffer))
        direct = list(iter_collection(io.StringIO(buffer.getvalue())))
        with collection_stream(settings, span) as items:
            streamed = list(items)
    records = [item for item in streamed if isinstance(item, Record)]
    assert len(records) > 1500 and len({(record.kind, record.id) for record in records}) == len(records)
    # Read back without validation (the child's stream is trusted), yet equal to the validated reading.
    assert records == [item for item in direct if isinstance(item, Record)]
    assert isinstance(streamed[0], Header) and isinstance(streamed[-1], Footer)
    assert streamed[-1].sources == direct[-1].sources


def test_the_childs_controller_error_is_raised_in_the_parent_with_its_exit_code() -> None:
    with FakeController(events=10) as fc:
        settings = settings_for(fc, password=SecretStr("wrong-password"))
        with pytest.raises(ControllerAuthError) as raised, collection_stream(settings, window()) as items:
            list(items)
    assert raised.value.exit_code == ExitCode.CONTROLLER
    assert "password" in str(raised.value).lower() and "wrong-password" not in str(raised.value)


def test_the_childs_log_lines_reach_the_parents_handlers(caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="unifi_scanner")
    with FakeController(events=50) as fc, collection_stream(settings_for(fc), window()) as items:
        list(items)
    lines = [(record.name, record.getMessage()) for record in caplog.records]
    assert any(name == "unifi_scanner.collector.collect" and message.startswith("system_log: ok")
               for name, message in lines), lines
    assert any(message.startswith("collector process: ") and "not shared" in message for _, message in lines)


@pytest.mark.parametrize(("end", "phrase"), [
    (lambda: os.kill(os.getpid(), signal.SIGKILL), "was killed by signal 9"),  # the OOM killer's way
    (lambda: os._exit(7), "exited with status 7"),
])
def test_a_child_that_ends_without_a_word_is_an_error_not_a_short_report(monkeypatch, end, phrase) -> None:
    def dies(settings, span, writer, *, progress=None):
        writer.write(header(settings, span))
        writer.flush()
        end()

    monkeypatch.setattr("unifi_scanner.collector.collect", dies)
    settings = Settings(host="127.0.0.1", username="u", password=SecretStr("p" * 8))
    with pytest.raises(ControllerError, match=phrase) as raised, \
            collection_stream(settings, window()) as items:
        list(items)
    assert raised.value.exit_code == ExitCode.CONTROLLER


def test_leaving_early_kills_the_child_which_never_holds_the_parents_files(
        monkeypatch, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="unifi_scanner")
    held = open(tmp_path / "lock", "w")  # noqa: SIM115 - stands for the state directory's lock
    fd = held.fileno()

    def blocks(settings, span, writer, *, progress=None):
        try:
            os.fstat(fd)
            logging.getLogger("unifi_scanner.test").info("inherited descriptor is open")
        except OSError:
            logging.getLogger("unifi_scanner.test").info("inherited descriptor is closed")
        writer.write(header(settings, span))
        writer.flush()
        signal.pause()  # a controller that never answers again

    monkeypatch.setattr("unifi_scanner.collector.collect", blocks)
    settings = Settings(host="127.0.0.1", username="u", password=SecretStr("p" * 8))
    with pytest.raises(RuntimeError, match="analyzer gave up"), \
            collection_stream(settings, window()) as items:
        assert isinstance(next(items), Header)
        raise RuntimeError("analyzer gave up")
    held.close()
    assert "inherited descriptor is closed" in caplog.messages
    with pytest.raises(ChildProcessError):  # reaped: no collector left running, not even a zombie
        os.waitpid(-1, os.WNOHANG)


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_the_child_dies_with_its_parent(tmp_path) -> None:
    script = textwrap.dedent("""
        import os, signal, sys
        from pydantic import SecretStr
        from unifi_scanner.collector.child import collection_stream
        from unifi_scanner.settings import Settings
        from unifi_scanner.timeutil import utcnow
        from unifi_scanner.models import Window
        import unifi_scanner.collector as collector

        def blocks(settings, span, writer, *, progress=None):
            print(os.getpid(), flush=True)
            signal.pause()

        collector.collect = blocks
        now = utcnow()
        settings = Settings(host="127.0.0.1", username="u", password=SecretStr("p" * 8))
        with collection_stream(settings, Window(since=now.replace(year=now.year - 1), until=now)) as items:
            list(items)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    child = int(parent.stdout.readline())
    watch = os.pidfd_open(child)
    try:
        parent.kill()
        parent.wait(timeout=30)
        # The pidfd becomes readable when the child exits; the timeout only bounds a failure.
        assert select.select([watch], [], [], 30)[0] == [watch]
    finally:
        os.close(watch)
        parent.stdout.close()
