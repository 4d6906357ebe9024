"""Collecting in a child process, so the analyzer can work while the collector waits on the controller.

`run` and a live `report` need the collection only as a stream into the analyzer. Both halves cost
about the same CPU per record, and Python runs one thread's code at a time, so the collector runs in a
forked child that writes the collection document into a pipe (the same items as `collect -o`, as
one pickle per page: `document.PageWriter`), and the parent analyses the pages as they arrive: on a
two-core machine a run takes little more than the slower half instead of the sum of both, and no
collection file touches the disk.

A second pipe carries everything else from the child to the parent, pickled: its log records (which
the parent hands to its own handlers, so the lines keep one format, stay redacted and reach the ping's
log tail) and, at the end, either its statistics or the error that stopped it, which the
parent raises as its own. The child never outlives the run: it is killed when the parent stops reading
early, and, on Linux, when the parent dies.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import queue
import resource
import select
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

from unifi_scanner.document import IncompleteDocument, PageWriter, iter_pages
from unifi_scanner.errors import ControllerError, ExitCode, ScannerError
from unifi_scanner.gcutil import long_lived_objects_frozen
from unifi_scanner.models import CollectionItem, Window
from unifi_scanner.settings import Settings

log = logging.getLogger(__name__)

PIPE_BYTES = 1 << 20
"""Requested size of the data pipe: lets the collector run a few pages ahead of the analyzer."""
_F_SETPIPE_SZ = 1031  # Linux fcntl command; the fcntl module names it only from Python 3.10 on Linux
_PR_SET_PDEATHSIG = 1


@contextlib.contextmanager
def collection_stream(settings: Settings, window: Window) -> Iterator[Iterator[CollectionItem]]:
    """Collect `window` in a child process and yield an iterator over the collection's items.

    The body must consume the iterator (the analyzer does). On leaving the block the child is waited
    for, and a failure of the child is raised here as the ScannerError it raised there (exit 3 for
    the controller's failures), also when it shows first as a truncated document in the body. Leaving
    early (an exception, an interrupt) kills the child.
    """
    pid, data_read, listener, _ = _fork(lambda control: (
        lambda writer, send: _collect_one(settings, window, writer)), control=False)
    stream = open(data_read, "rb")  # noqa: SIM115 - closed after the checks
    try:
        yield iter_pages(stream, name="the collection from the collector process")
    except BaseException:
        _stop(pid, listener, ended=_at_end(data_read), complete=False)
        raise
    else:
        _stop(pid, listener, ended=_at_end(data_read), complete=True)
    finally:
        stream.close()
    if listener.stats is not None:
        # Both processes grow while collecting, so their sum peaks about now: the figure a container's
        # memory limit has to hold (benchmarks/run.py reads this line).
        log.debug("collector process: %d requests, %d pages, CPU %.2f s, peak RSS %.1f MiB, of which %.1f "
                  "MiB not shared with this process (at %.1f MiB now)", *listener.stats, _resident_mib())


class Session:
    """The parent's side of a collector process logged in to one controller (`controller_session`)."""

    def __init__(self, listener: _Listener, data: IO[bytes], control: IO[bytes]) -> None:
        """Bind the child's status listener, its data stream and the control stream to it."""
        self.listener, self.data, self.control = listener, data, control
        self.raised: BaseException | None = None
        """The child's own error once a call here raised it (not raised again when the session ends)."""
        self.abandoned = False

    def sites(self) -> list[str]:
        """The sites the child will collect: those asked for, or every site the account can see.

        Raises the child's error (exit 3: unreachable, TLS, login refused) when it could not log in.
        """
        kind, payload = self.listener.messages.get()
        if kind != "sites":
            raise self._gone()
        return list(payload)

    def request(self, site: str, window: Window) -> None:
        """Ask for one site's `window`; the child collects the sites in the order they were asked for.

        Asking for every site at once lets the child collect the next site while this process still
        analyzes the last one (the data pipe's size keeps it from running far ahead).
        """
        pickle.dump((site, window), self.control)
        self.control.flush()

    def abandon(self) -> None:
        """Give up the sites still asked for: the session ends by killing the child, not waiting for it."""
        self.abandoned = True

    @contextlib.contextmanager
    def site(self, site: str) -> Iterator[Iterator[CollectionItem]]:
        """The next site asked for (`request`), as items, like `collection_stream` yields one site's.

        The body must consume them. A site the child could not collect raises its error here (the
        document cut short is only the symptom), and the child goes on to the next site.
        """
        try:
            yield iter_pages(self.data, name=f"the collection of site {site} from the collector process")
        except IncompleteDocument:
            raise self._site_error() or self._gone() from None
        error = self._site_error()
        if error is not None:
            raise error

    def _site_error(self) -> BaseException | None:
        """Wait for the child's word on the site it just ended: its error, or None."""
        kind, payload = self.listener.messages.get()
        if kind != "site_done":
            raise self._gone()
        return None if payload is None else _rebuild(*payload)

    def _gone(self) -> BaseException:
        """What to raise when the child ended (or failed) instead of answering."""
        self.raised = self.listener.error or ControllerError(
            "the collector process ended before its sites were done")
        return self.raised


@contextlib.contextmanager
def controller_session(settings: Settings, sites: Sequence[str] | None) -> Iterator[Session]:
    """A collector process that logs in to the controller once and collects its sites one by one.

    `sites` None means every site the account can see (`UNIFI_SITES=all`). The child answers with
    the site names (`Session.sites`), then collects each site the parent asks for (`Session.site`) over
    the same login, each as a whole document followed by an end mark on the data pipe. Leaving the
    block ends the child (killing it after an exception), as `collection_stream` does.
    """
    pid, data_read, listener, control_write = _fork(lambda control: (
        lambda writer, send: _serve_sites(settings, sites, os.fdopen(control, "rb"), writer, send)),
        control=True)
    stream = open(data_read, "rb")  # noqa: SIM115 - closed after the checks
    control = open(control_write, "wb")  # noqa: SIM115 - closed to tell the child it is done
    session = Session(listener, stream, control)
    try:
        yield session
    except BaseException:
        _stop(pid, listener, ended=False, complete=False)
        raise
    else:
        if session.abandoned:
            _stop(pid, listener, ended=False, complete=False)
        else:
            with contextlib.suppress(BrokenPipeError):
                control.close()  # no more sites: the child logs out and reports
            try:
                _stop(pid, listener, ended=True, complete=True)
            except BaseException as exc:
                if exc is not session.raised:
                    raise
    finally:
        stream.close()
        with contextlib.suppress(BrokenPipeError):
            control.close()
    if listener.stats is not None:
        log.debug("collector process: %d requests, %d pages, CPU %.2f s, peak RSS %.1f MiB, of which %.1f "
                  "MiB not shared with this process (at %.1f MiB now)", *listener.stats, _resident_mib())


Work = Callable[[PageWriter, Callable[[str, Any], None]], tuple[int, int]]
"""What a collector child does: write into the data pipe, send on the status pipe; its counts."""


def _fork(work_for: Callable[[int | None], Work], *, control: bool) -> tuple[int, int, _Listener, int | None]:
    """Fork a collector child doing `work_for(its end of the control pipe)`.

    Returns the child's pid, the parent's end of the data pipe, the listener on the status pipe
    (started), and the parent's end of the control pipe when `control`.
    """
    data_read, data_write = os.pipe()
    status_read, status_write = os.pipe()
    control_read, control_write = os.pipe() if control else (None, None)
    with contextlib.suppress(OSError):  # only a hint: a smaller pipe is merely slower
        import fcntl

        fcntl.fcntl(data_write, _F_SETPIPE_SZ, PIPE_BYTES)
    # Frozen for both processes at the fork: the child never touches (so never copies) the pages the
    # parent's long-lived objects sit on, and its collection skips them in full collections.
    with long_lived_objects_frozen():
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected; its effects are tested
            os.close(data_read)
            os.close(status_read)
            if control_write is not None:
                os.close(control_write)
            _child(work_for(control_read), data_write, status_write,
                   *(() if control_read is None else (control_read,)))
    os.close(data_write)
    os.close(status_write)
    if control_read is not None:
        os.close(control_read)
    listener = _Listener(os.fdopen(status_read, "rb"))
    listener.start()
    return pid, data_read, listener, control_write


def _collect_one(settings: Settings, window: Window, writer: PageWriter) -> tuple[int, int]:
    """The single-site child's work: collect the window; its request and page counts."""
    from unifi_scanner.collector import collect

    stats = collect(settings, window, writer)
    return stats.requests, stats.pages


def _serve_sites(settings: Settings, sites: Sequence[str] | None, control: IO[bytes], writer: PageWriter,
                 send: Callable[[str, Any], None]) -> tuple[int, int]:
    """The session child's work: log in, name the sites, collect each one asked for until told to stop.

    A failure of one site (its document ends early) is sent as that site's word, and the next site is
    tried on the same login; a failure to log in ends the child with the error, as for one site.
    """
    from unifi_scanner.collector import collect_site, site_names
    from unifi_scanner.collector.auth import connect

    conn = connect(settings)
    requests = pages = 0
    try:
        send("sites", list(sites) if sites is not None else site_names(conn))
        while True:
            try:
                site, window = pickle.load(control)  # noqa: S301 - our own parent
            except EOFError:
                break
            try:
                stats = collect_site(conn, settings.model_copy(update={"site": site, "sites": []}), window,
                                     writer)
                requests, pages = stats.requests, pages + stats.pages
                send("site_done", None)
            except ScannerError as exc:
                send("site_done", (type(exc), exc.message, int(exc.exit_code)))
            writer.end_document()
    finally:
        conn.close()
    return requests, pages


def _at_end(fd: int) -> bool:
    """True when the child has closed the data pipe and everything in it was read."""
    readable, _, _ = select.select([fd], [], [], 0)
    return bool(readable) and not os.read(fd, 1)


def _stop(pid: int, listener: _Listener, *, ended: bool, complete: bool) -> None:
    """Reap the child (killed first unless its document `ended`) and raise what went wrong there.

    The child's reported error wins over whatever the parent saw (a document cut short is only the
    symptom); so does a child that ended its document without a word, whether killed by a signal (the
    kernel's out-of-memory killer) or not. A child still writing when the parent gave up is killed:
    the parent's own exception is the story then. After a `complete` document a missing word is only
    worth a warning (the child may have died logging out).
    """
    if not ended:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    listener.join()
    if listener.error is not None:
        raise listener.error
    if ended and listener.stats is None:
        if not complete:
            raise ControllerError(
                f"the collector process {_how(status)} before finishing (out of memory?); the collection "
                "is incomplete, so no report was made"
            )
        log.warning("the collector process ended without its statistics (%s)", _how(status))


def _resident_mib() -> float:
    """This process's resident memory now, in MiB (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _private_mib(fallback: float) -> float:
    """This process's memory not shared with its parent (copied or new pages), in MiB; Linux only.

    Its peak RSS counts the parent's pages it still shares; what a container's memory limit sees of
    the child is this.
    """
    try:
        with open("/proc/self/smaps_rollup", encoding="ascii") as smaps:
            return sum(int(line.split()[1]) for line in smaps if line.startswith("Private_")) / 1024
    except (OSError, ValueError, IndexError):
        return fallback


def _how(status: int) -> str:
    """How a child ended, in words, from its wait status."""
    code = os.waitstatus_to_exitcode(status)
    return f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"


class _Listener(threading.Thread):
    """Reads the child's status pipe: re-emits its log records and keeps its outcome."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(name="collector-status", daemon=True)
        self.stream = stream
        self.stats: tuple[int, int, float, float, float] | None = None
        self.error: BaseException | None = None
        self.messages: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        """A session child's answers (`sites`, `site_done`), then `gone` when the pipe closes."""

    def run(self) -> None:
        """Handle messages until the child closes the pipe (it exits, or is killed)."""
        with self.stream:
            while True:
                try:
                    kind, payload = pickle.load(self.stream)  # noqa: S301 - our own forked child
                except (EOFError, pickle.UnpicklingError):
                    self.messages.put(("gone", None))
                    return  # the child is gone; the caller judges a missing outcome
                if kind == "log":
                    record = logging.makeLogRecord(payload)
                    logging.getLogger(record.name).handle(record)
                elif kind == "done":
                    self.stats = payload
                elif kind == "error":
                    self.error = _rebuild(*payload)
                else:
                    self.messages.put((kind, payload))


def _rebuild(cls: type[BaseException] | None, message: str, exit_code: int) -> BaseException:
    """The child's exception, as nearly as it can be rebuilt: ScannerErrors keep class and exit code."""
    if cls is not None and issubclass(cls, ScannerError):
        try:
            return cls(message, exit_code=ExitCode(exit_code))
        except TypeError:
            return ScannerError(message, exit_code=ExitCode(exit_code))
    return RuntimeError(f"the collector process failed: {message}")


class _Forwarder(logging.Handler):
    """The child's only log handler: sends each record to the parent, already formatted."""

    def __init__(self, send: Callable[[str, Any], None]) -> None:
        super().__init__()
        self.send = send

    def emit(self, record: logging.LogRecord) -> None:
        """Send the record's fields with the message rendered (arguments may not pickle)."""
        # Plain values only: an `extra` object might not pickle, and the parent only formats it anyway.
        fields = {key: value if isinstance(value, str | int | float | bool | None) else str(value)
                  for key, value in record.__dict__.items()}
        fields["msg"], fields["args"] = record.getMessage(), None
        if record.exc_info:
            fields["exc_text"] = logging.Formatter().formatException(record.exc_info)
        fields["exc_info"] = None
        self.send("log", fields)


def _child(work: Work, data_fd: int, status_fd: int, *keep_fds: int) -> None:
    """The child's whole life: do `work` into the data pipe, report on the status pipe, exit."""
    code = 1
    try:
        # The parent handles Ctrl-C and SIGTERM and kills this process; the CLI's SIGTERM handler,
        # inherited through fork, would only start a slow logout here.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if sys.platform == "linux":
            import ctypes

            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        # Drop every inherited descriptor but stdio and the pipes: above all the state directory's
        # lock, which must die with the parent, not live on in an orphaned collector.
        keep = sorted((data_fd, status_fd, *keep_fds))
        os.closerange(3, keep[0])
        for low, high in zip(keep, keep[1:], strict=False):
            os.closerange(low + 1, high)
        os.closerange(keep[-1] + 1, os.sysconf("SC_OPEN_MAX"))
        status = os.fdopen(status_fd, "wb")
        lock = threading.Lock()

        def send(kind: str, payload: Any) -> None:
            """One message to the parent (whole, flushed, never interleaved)."""
            with lock:
                pickle.dump((kind, payload), status)
                status.flush()

        logger = logging.getLogger("unifi_scanner")
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.addHandler(_Forwarder(send))
        # The data pipe is closed only after the outcome is sent: the parent, seeing the document end
        # early, must find the reason already waiting on the status pipe.
        stream = open(data_fd, "wb")  # noqa: SIM115
        try:
            writer = PageWriter(stream)
            requests, pages = work(writer, send)
            writer.flush()  # what was written since the last page
            stream.close()
            usage = resource.getrusage(resource.RUSAGE_SELF)
            peak = usage.ru_maxrss / 1024
            cpu = usage.ru_utime + usage.ru_stime
            send("done", (requests, pages, cpu, peak, _private_mib(peak)))
            code = 0
        except ScannerError as exc:
            send("error", (type(exc), exc.message, int(exc.exit_code)))
            code = int(exc.exit_code)
        except BrokenPipeError:
            code = 1  # the parent stopped reading; it knows why
        except Exception as exc:  # a bug: the parent reports it as an internal error
            logging.getLogger(__name__).exception("collector process failed")
            send("error", (None, f"{type(exc).__name__}: {exc}", 1))
        status.close()
    except BaseException:  # noqa: BLE001,S110 - nothing may escape a forked child: it must exit here
        pass
    finally:
        os._exit(code)
