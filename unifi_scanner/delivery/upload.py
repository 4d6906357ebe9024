"""Upload channel (`pip install 'unifi-scanner[upload]'`): the report to S3, SFTP or any fsspec URL.

Each URL of `UNIFI_UPLOAD_URLS` is a target, reported as its own `ChannelResult` named
`upload:<scheme>://<host>`: never a user, password or path, which may hold secrets. Per target the
report goes to `<root>/<site>/<YYYY>/<MM>/<file name>` (the site and time as in the file name, UTC) in
HTML and JSON, and as text too when `UNIFI_FILE_FORMAT` includes text. Readers never see half a file:
an object store's put is whole, and elsewhere (SFTP, local paths) each file is written under a
temporary dot-name and renamed into place. Then retention deletes this tool's report files older than
`UNIFI_FILE_RETENTION_DAYS`, judged by the time in their names (S3 does not let a client set a
modification time), and the target's archive page (`archive.json`, `index.html` at its root) is
rewritten the same way.

Credentials come from each back end's usual places: the AWS variables, profiles and instance roles
for S3 (`UNIFI_S3_ENDPOINT_URL` for S3-compatible services); SSH keys (`~/.ssh/id_*`, an agent,
`~/.ssh/config`) or `UNIFI_SFTP_PASSWORD` for SFTP, whose host key must be in `~/.ssh/known_hosts`.
A refused or reset connection, a timeout or a server error is retried with the shared backoff; the
whole target is tried again, which is safe because every write replaces a file of the same name.

fsspec and the back ends are imported only when an upload runs (`ensure_installed` merely looks for
them, before collecting), so the default install never needs them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import posixpath
import re
import secrets
import socket
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from unifi_scanner.delivery import retry
from unifi_scanner.delivery.files import (
    ALL_FORMATS,
    FORMATS_BY_SETTING,
    REPORT_NAME,
    content_for,
    report_filename,
    report_scope,
    safe_site,
)
from unifi_scanner.errors import ConfigError
from unifi_scanner.logs import redact, register_secrets
from unifi_scanner.models import ChannelResult, RenderedReport, Report
from unifi_scanner.settings import Settings
from unifi_scanner.text import single_line
from unifi_scanner.timeutil import utcnow

log = logging.getLogger(__name__)

CHANNEL = "upload"
INSTALL = "pip install 'unifi-scanner[upload]'"
BACK_ENDS = {"s3": "s3fs", "s3a": "s3fs", "sftp": "sshfs", "ssh": "sshfs"}
"""The back ends the upload extra installs, by URL scheme; any other fsspec scheme needs its own."""
WHOLE_PUTS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "memory"})
"""Protocols whose writes appear whole or not at all: no temporary name and rename needed."""
PROBE_PREFIX = ".unifi-scanner-probe-"
SSH_CONNECT_TIMEOUT = 30.0
_LAYOUT = re.compile(r"^[^/]+/\d{4}/\d{2}/(?P<name>[^/]+)$")
_STAMP = re.compile(r"-(\d{8}T\d{6}Z)\.[a-z]+$")
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_REASON_MAX = 200


@dataclass(frozen=True)
class Target:
    """One upload URL, and the name it goes by in results and logs (`s3://bucket`, `sftp://host:22`)."""

    url: str
    scheme: str
    label: str

    @classmethod
    def parse(cls, url: str) -> Target:
        """The target of `url`; a password in it is registered with the log redactor at once."""
        if "://" not in url:
            return cls(url=url, scheme="file", label="file://")
        parts = urlsplit(url)
        if parts.password:
            register_secrets([parts.password])
        host = parts.netloc.rpartition("@")[2]
        return cls(url=url, scheme=parts.scheme.lower(), label=f"{parts.scheme}://{host}")

    @property
    def channel(self) -> str:
        """The result's channel name: `upload:<scheme>://<host>`."""
        return f"{CHANNEL}:{self.label}"


@dataclass(frozen=True)
class UploadFailure:
    """Why an attempt at a target failed, in one line, and whether trying again could help."""

    reason: str
    temporary: bool


def ensure_installed(urls: list[str]) -> None:
    """Raise ConfigError (exit 2) with the install command when a URL's back end is not installed.

    Only looks for the modules: importing s3fs brings in botocore, which the run should not carry
    through collecting when the upload comes last.
    """
    for url in urls:
        target = Target.parse(url)
        needed = BACK_ENDS.get(target.scheme)
        for module in ("fsspec", needed):
            if module and importlib.util.find_spec(module) is None:
                raise ConfigError(
                    f"UNIFI_UPLOAD_URLS needs the upload extra ({module}, for {target.scheme}://, "
                    f"is not installed): {INSTALL}"
                )
        if needed is None:
            _ensure_other_back_end(target)


def _ensure_other_back_end(target: Target) -> None:
    """For a scheme outside the upload extra: ConfigError unless fsspec knows it and can load it."""
    import fsspec

    try:
        fsspec.get_filesystem_class(target.scheme)
    except ImportError as exc:
        raise ConfigError(f"UNIFI_UPLOAD_URLS: {target.label}: its fsspec back end is not installed "
                          f"({single_line(str(exc))})") from None
    except ValueError:
        raise ConfigError(f"UNIFI_UPLOAD_URLS: {target.label}: fsspec knows no protocol "
                          f"{target.scheme!r}") from None


def upload_formats(settings: Settings) -> tuple[str, ...]:
    """HTML (what the archive page links to) and JSON (what `send` re-sends), plus text when
    UNIFI_FILE_FORMAT includes it; in ALL_FORMATS order."""
    wanted = {"html", "json", *FORMATS_BY_SETTING[settings.file_format]}
    return tuple(fmt for fmt in ALL_FORMATS if fmt in wanted)


def report_directory(report: Report) -> str:
    """`<site>/<YYYY>/<MM>`: where a target keeps `report`, the site and month as in its file name."""
    return f"{safe_site('-'.join(report_scope(report)))}/{report.generated_at:%Y/%m}"


def storage_options(target: Target, settings: Settings) -> dict[str, Any]:
    """The fsspec options for `target`: the S3 endpoint, the SFTP password and host-key checking."""
    options: dict[str, Any] = {"skip_instance_cache": True}
    if target.scheme in ("s3", "s3a"):
        # The shared backoff is the only retry policy: botocore's own would multiply its attempts.
        options["config_kwargs"] = {"retries": {"total_max_attempts": 1}}
        if settings.s3_endpoint_url:
            options["client_kwargs"] = {"endpoint_url": settings.s3_endpoint_url}
    elif BACK_ENDS.get(target.scheme) == "sshfs":
        # sshfs turns host-key checking off unless told otherwise; () is asyncssh's default:
        # ~/.ssh/known_hosts, or what ~/.ssh/config names.
        options.update(known_hosts=(), connect_timeout=SSH_CONNECT_TIMEOUT)
        if settings.sftp_password and not urlsplit(target.url).password:
            options["password"] = settings.sftp_password.get_secret_value()
    return options


def open_target(target: Target, settings: Settings) -> tuple[Any, str]:
    """Connect to `target`: its fsspec file system and the root path the URL names in it."""
    import fsspec.core

    with warnings.catch_warnings():
        # Importing asyncssh trips cryptography's deprecation warnings (DSA, TripleDES...): noise in cron
        # mail about algorithms an upload does not choose.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"asyncssh\.")
        return fsspec.core.url_to_fs(target.url, **storage_options(target, settings))


def _protocols(fs: Any) -> set[str]:
    """The protocol names of a file system (fsspec gives a string or a tuple)."""
    return {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)


def put_whole(fs: Any, path: str, data: bytes) -> None:
    """Write `data` to `path` so that no reader ever sees part of it.

    Object stores put whole objects; elsewhere the bytes go to `.<name>.tmp-<random>` beside `path`,
    which is then renamed over it, and a temporary file that could not be renamed is removed.
    """
    if _protocols(fs) & WHOLE_PUTS:
        fs.pipe_file(path, data)
        return
    parent, name = posixpath.split(path)
    fs.makedirs(parent, exist_ok=True)
    temporary = posixpath.join(parent, f".{name}.tmp-{secrets.token_hex(6)}")
    try:
        fs.pipe_file(temporary, data)
        fs.mv(temporary, path)
    except BaseException:
        # Best effort: the write already failed, and that failure is the one to report.
        with contextlib.suppress(Exception):
            fs.rm_file(temporary)
        raise


def _join(root: str, relative: str) -> str:
    """`relative` (a/b/c) inside the target's root path."""
    return posixpath.join(root, relative) if root else relative


def _relative(path: str, root: str) -> str | None:
    """`path` relative to `root`, or None when it is not inside it."""
    prefix = root.rstrip("/") + "/" if root.strip("/") else root
    return path[len(prefix):] if path.startswith(prefix) else None


def list_reports(fs: Any, root: str) -> set[str]:
    """This tool's report files in a target, relative to its root: `<site>/<YYYY>/<MM>/<report name>`."""
    found = set()
    for path in fs.find(root, maxdepth=4):
        relative = _relative(path, root)
        match = _LAYOUT.match(relative or "")
        if match and REPORT_NAME.match(match["name"]):
            found.add(relative)
    return found


def expired(relative: str, days: int, now: datetime) -> bool:
    """True when the report file `relative` was generated more than `days` days before `now`."""
    stamp = datetime.strptime(_STAMP.search(relative)[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return (now - stamp).total_seconds() > days * 86400


def apply_retention(fs: Any, root: str, present: set[str], keep: set[str], days: int,
                    now: datetime) -> set[str]:
    """Delete the report files among `present` older than `days` days (never one in `keep`); return
    those deleted (or already gone). `days == 0` keeps everything. A file the server refuses to delete
    is logged and kept; a lost connection is raised, for the attempt to be retried."""
    if days <= 0:
        return set()
    deleted = set()
    for relative in sorted(present - keep):
        if not expired(relative, days, now):
            continue
        try:
            fs.rm_file(_join(root, relative))
        except FileNotFoundError:
            pass
        except Exception as exc:  # noqa: BLE001 - classify() sorts it; temporary failures go up
            failure = classify(exc)
            if failure.temporary:
                raise
            log.warning("upload retention: cannot delete %s: %s", relative, failure.reason)
            continue
        deleted.add(relative)
    return deleted


def update_archive(fs: Any, root: str, report: Report, written: dict[str, str], present: set[str],
                   settings: Settings) -> None:
    """Rewrite the target's `archive.json` and `index.html`: this report added, and each older entry
    linking only to its files still there (gone when none is)."""
    from unifi_scanner.delivery import archive

    try:
        data = fs.cat_file(_join(root, archive.MANIFEST))
    except FileNotFoundError:
        data = None
    entries = [archive.only_present(entry, present) for entry in archive.load_manifest(data)]
    entries = archive.update_manifest(entries, archive.entry_for(report, written),
                                      kept=lambda entry: bool(entry.files))
    put_whole(fs, _join(root, archive.MANIFEST), archive.dump_manifest(entries))
    page = archive.render_index(entries, title=archive.TITLE, timezone=settings.timezone)
    put_whole(fs, _join(root, archive.INDEX), page.encode("utf-8"))


def upload_once(target: Target, report: Report, rendered: RenderedReport, settings: Settings) -> str:
    """One attempt at `target`: the report files, retention, the archive page; returns the detail.

    Raises whatever the back end raises. Retention and the archive page are housekeeping: a failure
    there that trying again cannot mend (a refused deletion, a read-only page) is a note in the detail
    and a warning, since the report itself is delivered; a connection lost there is retried like any.
    """
    fs, root = open_target(target, settings)
    directory = report_directory(report)
    written = {fmt: f"{directory}/{report_filename(report, fmt)}" for fmt in upload_formats(settings)}
    for fmt, relative in written.items():
        put_whole(fs, _join(root, relative), content_for(rendered, fmt))
    names = ", ".join(posixpath.basename(path) for path in written.values())
    detail = f"uploaded {names} under {directory}/"
    try:
        present = list_reports(fs, root) | set(written.values())
        deleted = apply_retention(fs, root, present, set(written.values()), settings.file_retention_days,
                                  utcnow())
        if deleted:
            detail += (f"; deleted {len(deleted)} report file(s) older than "
                       f"{settings.file_retention_days} days")
        update_archive(fs, root, report, written, present - deleted, settings)
    except Exception as exc:  # noqa: BLE001 - classify() sorts it; only lasting failures end up here
        failure = classify(exc)
        if failure.temporary:
            raise
        log.warning("upload to %s: the report is up, but housekeeping failed: %s",
                    target.label, failure.reason)
        detail += f"; retention or archive page not updated: {failure.reason}"
    return detail


def with_retries(target: Target, action: Callable[[], str]) -> ChannelResult:
    """Run `action` (which returns a detail) for `target` under the shared backoff; one result, whose
    channel names the target (its detail need not). Any back end's failure fails this target, not
    the run."""
    return retry.until_done(target.channel, action, classify, what=f"upload to {target.label}")


def deliver_uploads(report: Report, rendered: RenderedReport, settings: Settings, *,
                    dry_run: bool) -> list[ChannelResult]:
    """The `upload` channel: the report to every target of UNIFI_UPLOAD_URLS, one result each, ok only
    when the report is there (temporary failures retried)."""
    results = []
    for url in settings.upload_urls:
        target = Target.parse(url)
        if dry_run:
            names = ", ".join(report_filename(report, fmt) for fmt in upload_formats(settings))
            results.append(ChannelResult(
                channel=target.channel, ok=True,
                detail=f"dry run: would upload {names} under {report_directory(report)}/"))
        else:
            results.append(with_retries(target, partial(upload_once, target, report, rendered, settings)))
    return results


def probe(target: Target, settings: Settings) -> str:
    """Write a probe file at the target's root and delete it again; return what was verified."""
    fs, root = open_target(target, settings)
    path = _join(root, f"{PROBE_PREFIX}{secrets.token_hex(6)}")
    put_whole(fs, path, b"unifi-scanner check: safe to delete\n")
    fs.rm_file(path)
    return "wrote and deleted a probe file"


def check_uploads(settings: Settings) -> list[ChannelResult]:
    """`check` for every upload target: a probe file written and deleted, or why not (no secrets).

    ConfigError when a back end is not installed.
    """
    ensure_installed(settings.upload_urls)
    targets = [Target.parse(url) for url in settings.upload_urls]
    return [with_retries(target, partial(probe, target, settings)) for target in targets]


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the exceptions it was raised from or during, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _loaded(module: str, *names: str) -> tuple[type, ...]:
    """Classes of a back-end module, when it is imported at all (a back end not in use raised nothing)."""
    found = (getattr(sys.modules.get(module), name, None) for name in names)
    return tuple(cls for cls in found if isinstance(cls, type))


def _reason(exc: BaseException) -> str:
    """The exception as one short line, without registered secrets or credentials in URLs."""
    text = single_line(str(exc)) or type(exc).__name__
    return _USERINFO.sub("", redact(text))[:_REASON_MAX]


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status of a botocore ClientError (S3 answered with an error), else None."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None


def classify(exc: BaseException) -> UploadFailure:
    """A back end's exception as a one-line reason, temporary (worth another attempt) or not.

    Temporary: a refused, reset or lost connection, a timeout, an unresolved host name, an answer of
    HTTP 429 or 5xx. Lasting: failed authentication, an untrusted host key, missing credentials, any
    other HTTP error, permissions, anything else. The causes are searched too: back ends wrap.
    """
    chain = _chain(exc)

    def find(*types: type) -> BaseException | None:
        return next((link for link in chain if isinstance(link, types)), None)

    if host_key := find(*_loaded("asyncssh", "HostKeyNotVerifiable")):
        return UploadFailure(f"the SSH host key is not trusted ({_reason(host_key)}): add it to "
                             "~/.ssh/known_hosts (ssh-keyscan prints it)", temporary=False)
    if find(*_loaded("asyncssh", "PermissionDenied")):
        return UploadFailure("SSH authentication failed (no key of ~/.ssh or the agent accepted, "
                             "or a wrong UNIFI_SFTP_PASSWORD)", temporary=False)
    if find(*_loaded("botocore.exceptions", "NoCredentialsError")):
        return UploadFailure("no AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile "
                             "or an instance role)", temporary=False)
    status = next((code for link in chain if (code := _http_status(link)) is not None), None)
    if status is not None:
        return UploadFailure(f"HTTP {status}: {_reason(exc)}", temporary=status == 429 or status >= 500)
    if find(ConnectionRefusedError):
        return UploadFailure("connection refused", temporary=True)
    if find(TimeoutError, *_loaded("botocore.exceptions", "ConnectTimeoutError", "ReadTimeoutError")):
        return UploadFailure("timed out", temporary=True)
    if find(socket.gaierror):
        return UploadFailure("cannot resolve the host name", temporary=True)
    lost = find(ConnectionError, *_loaded("asyncssh", "ConnectionLost"),
                *_loaded("botocore.exceptions", "ConnectionError", "HTTPClientError"))
    if lost:
        return UploadFailure(f"connection failed ({type(lost).__name__})", temporary=True)
    if isinstance(exc, PermissionError):
        return UploadFailure(f"permission denied: {_reason(exc)}", temporary=False)
    if isinstance(exc, FileNotFoundError):
        return UploadFailure(f"not found: {_reason(exc)}", temporary=False)
    return UploadFailure(f"{type(exc).__name__}: {_reason(exc)}", temporary=False)
