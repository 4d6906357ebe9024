"""The HTTP transport to a UniFi controller: one `requests.Session`, TLS policy, retries, CSRF, re-login.

Everything that is about *how* to talk to a controller lives here; what to ask for lives in `sources`,
and who we are (login, controller type) in `auth`. Every failure leaves this module as a
`ControllerError` subclass with a one-line message fit for the user:

* `ApiError` when the controller answered but refused the request (HTTP status or `meta.rc: error`);
  sources decide whether that is fatal (most are not: the source is marked failed or unsupported);
* `ControllerUnreachable`, `ControllerTLSError`, `ControllerAuthError` and `ControllerProtocolError`
  for conditions that end the run.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from pydantic_core import from_json
from requests.adapters import HTTPAdapter
from requests.utils import get_netrc_auth

from unifi_scanner.errors import (
    ConfigError,
    ControllerAuthError,
    ControllerProtocolError,
    ControllerTLSError,
    ControllerUnreachable,
)
from unifi_scanner.logs import register_secrets
from unifi_scanner.settings import Settings
from unifi_scanner.timeutil import retry_after_seconds

log = logging.getLogger(__name__)

PORT_HINT = "443 console, 8443 self-hosted, 11443 UniFi OS Server"
NOT_READY = "The Network application is not ready (starting up?). Try again later."
# Longest Retry-After we are willing to sleep through inside one cron run; longer waits fail the request.
MAX_RETRY_AFTER = 60.0
# How many times a run may log in again after its session expired. Consoles rate-limit logins, so the
# budget is small and a request is re-sent at most once after a re-login.
MAX_RELOGINS = 3
# The largest answer read from a controller. Our biggest pages (3000 legacy events, a large site's
# device list) are a few MiB; anything far beyond is a misbehaving server or proxy, and holding it (plus
# its parsed form) would break the 256 MB memory budget.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
_READ_CHUNK = 64 * 1024
SITE_ERRORS = frozenset({"api.err.InvalidObject", "api.err.NoSiteContext"})
"""Legacy error codes that mean "no such site" rather than "no session"."""


class ApiError(ControllerProtocolError):
    """The controller answered a request with an error: an HTTP status, `meta.rc: error` or a v2 error."""

    def __init__(self, method: str, path: str, status: int, code: str | None, message: str | None = None):
        self.method, self.path, self.status, self.code = method, path, status, code
        if code == "api.err.NoPermission":
            super().__init__(f"Account lacks permission for {path}")
            return
        reason = f" ({code})" if code else ""
        if message and message != code:
            reason += f": {message}"
        super().__init__(f"{method} {path} answered HTTP {status}{reason}")

    @property
    def not_found(self) -> bool:
        """True when the endpoint does not exist on this controller (404 or `api.err.NotFound`)."""
        return self.status == 404 or self.code == "api.err.NotFound"


# ----------------------------------------------------------------------------------------- addresses


@dataclass(frozen=True)
class Target:
    """Where the controller lives: scheme, host (IPv6 unbracketed) and, when the user gave one, a port."""

    scheme: str
    host: str
    port: int | None

    def url(self, port: int | None = None) -> str:
        """The base URL (no trailing slash) using `port`, else the configured one, else the scheme's."""
        port = port or self.port
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + (f":{port}" if port else "")


def parse_target(settings: Settings) -> Target:
    """Read UNIFI_HOST (a name, an IP, `host:port` or an http(s) URL) and UNIFI_PORT into a Target."""
    raw = (settings.host or "").strip()
    if not raw:
        raise ConfigError("UNIFI_HOST: required (the controller's hostname, IP or https:// URL)")
    parts = urlsplit(raw if "://" in raw else f"https://{raw}")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"UNIFI_HOST: {raw!r} is not a hostname, IP or https:// URL")
    try:
        url_port = parts.port
    except ValueError:
        raise ConfigError(f"UNIFI_HOST: {raw!r} has an invalid port") from None
    if parts.scheme == "http":
        log.warning("UNIFI_HOST uses http://: the login and every answer travel unencrypted")
    return Target(parts.scheme, parts.hostname, url_port or settings.port)


# ----------------------------------------------------------------------------------------- TLS


def colon_fingerprint(hexdigits: str) -> str:
    """Lower-case hex to the `AA:BB:...` form that `openssl x509 -fingerprint` prints."""
    return ":".join(hexdigits[i : i + 2] for i in range(0, len(hexdigits), 2)).upper()


def server_fingerprint(host: str, port: int, timeout: float) -> str | None:
    """The SHA-256 fingerprint of the certificate the server presents, without verifying it.

    Used only to put the real fingerprint into a TLS error message, so the user can check and pin it.
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            with context.wrap_socket(sock, server_hostname=host) as tls:
                der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None
    return hashlib.sha256(der).hexdigest() if der else None


_sending = threading.local()
"""`sent`: called by this thread's connection once a request is on the wire (see `Http.send_ahead`)."""


class _SignallingHTTPConnection(urllib3.connection.HTTPConnection):
    """A connection that tells its thread's `_sending.sent` when it starts waiting for an answer."""

    def getresponse(self) -> Any:  # type: ignore[override]
        """Signal that the request was sent, then read the answer's status and headers."""
        sent = getattr(_sending, "sent", None)
        if sent is not None:
            sent()
        return super().getresponse()


class _SignallingHTTPSConnection(_SignallingHTTPConnection, urllib3.connection.HTTPSConnection):
    """The HTTPS flavour of `_SignallingHTTPConnection`."""


class _SignallingHTTPPool(urllib3.HTTPConnectionPool):
    """urllib3's pool of plain connections, with signalling connections."""

    ConnectionCls = _SignallingHTTPConnection


class _SignallingHTTPSPool(urllib3.HTTPSConnectionPool):
    """urllib3's pool of TLS connections, with signalling connections."""

    ConnectionCls = _SignallingHTTPSConnection


class SignallingAdapter(HTTPAdapter):
    """requests' adapter, with connections that signal when a request has been sent (direct only:
    through a proxy nothing signals, and `send_ahead` then waits for the answer's headers instead)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Create the pool manager as requests does, with the signalling connection pools."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _SignallingHTTPPool, "https": _SignallingHTTPSPool}


class PinnedAdapter(SignallingAdapter):
    """Trusts exactly one certificate, identified by its SHA-256 fingerprint (urllib3 checks it).

    Chain and hostname verification are off on purpose: the pin is the trust anchor, which is what makes
    a console's self-signed certificate safe to use.
    """

    def __init__(self, fingerprint: str, **kwargs: Any) -> None:
        self._fingerprint = fingerprint
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Create the pool manager with the pin applied to every HTTPS connection pool."""
        kwargs["assert_fingerprint"] = self._fingerprint
        # One context for every connection, without the system's CA store: the pin is the only check,
        # and urllib3's default context loads the store for each new connection (15 ms of CPU each,
        # the first of them on the way to the login).
        kwargs["ssl_context"] = urllib3.util.ssl_.create_urllib3_context(cert_reqs=ssl.CERT_NONE)
        super().init_poolmanager(*args, **kwargs)


_insecure_warned = False


def configure_tls(session: requests.Session, settings: Settings) -> None:
    """Apply the TLS policy: pin, CA bundle, system trust, or (with one warning) no verification."""
    global _insecure_warned
    if settings.tls_fingerprint:
        session.verify = False  # the pin replaces chain verification; urllib3 still checks the pin
        # Settings already normalised it to 64 lower-case hex digits.
        session.mount("https://", PinnedAdapter(settings.tls_fingerprint))
    elif not settings.verify_ssl:
        session.verify = False
        import urllib3

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        if not _insecure_warned:
            log.warning(
                "TLS verification is off (UNIFI_VERIFY_SSL=false): anyone on the path can read the "
                "session. Prefer UNIFI_TLS_FINGERPRINT."
            )
            _insecure_warned = True
    elif settings.ca_bundle:
        session.verify = str(settings.ca_bundle)
    else:
        session.verify = True


# ----------------------------------------------------------------------------------------- the client


def _reason(exc: BaseException) -> str:
    """A short human reason from a requests exception (its str() is a long nested repr)."""
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text) or re.search(r"\] ([^'\")\]]+)", text)
    return match[1].strip() if match else type(exc).__name__


def error_code(body: Any) -> tuple[str | None, str | None]:
    """(code, message) from the three error shapes: legacy meta, v2 errorCode and UniFi OS code."""
    if not isinstance(body, dict):
        return None, None
    meta = body.get("meta")
    if isinstance(meta, dict) and meta.get("rc") == "error":
        return str(meta.get("msg") or "error"), None
    code = body.get("code") or body.get("errorCode")
    message = body.get("message")
    return (str(code) if code is not None else None), (str(message) if message else None)


_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_json(content: bytes) -> Any:
    """Parse a controller's JSON answer; invalid UTF-8 and lone surrogates become U+FFFD.

    Controllers pass device-supplied text through unchecked. A lone surrogate (a `\\ud800` escape)
    parses fine but cannot be written as UTF-8 later, so strings are scrubbed when the bytes hold one.
    """
    escaped = _ESCAPED_SURROGATE.search(content)
    if not escaped:
        try:
            # pydantic-core's parser (already a dependency) reads controller pages 25-40 % faster than
            # json's and gives the same values for valid JSON; what it refuses (a byte-order mark,
            # invalid UTF-8, nesting past 200 levels, garbage) takes the careful way below.
            return from_json(content)
        except ValueError:
            pass
    value = json.loads(content.decode("utf-8-sig", errors="replace"))
    return _scrub(value) if escaped else value


def _scrub(value: Any) -> Any:
    """`value` with every lone surrogate in its strings (keys included) replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    return value


def _jwt_csrf(token: str) -> str | None:
    """The `csrfToken` claim from a UniFi OS TOKEN cookie (a JWT), when the login sent no header."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    value = claims.get("csrfToken") if isinstance(claims, dict) else None
    return value if isinstance(value, str) else None


def _settle_environment(session: requests.Session, base_url: str) -> tuple[dict[str, str], Any]:
    """Resolve once what requests would read from the environment on every request of a new `session`.

    With `trust_env` on, requests re-reads the proxy variables (walking all of os.environ), the
    CA bundle variables and ~/.netrc for every request (about 0.1 ms of CPU each). All of this
    depends only on the scheme, host and port, which are `base_url`'s for every request of an `Http`,
    so it is looked up here once and `trust_env` is switched off. Returns the proxies and the `verify`
    value to send with each request, exactly as requests would have merged them; a netrc login for the
    host becomes the session's auth, as requests would have applied it.
    """
    # REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE replace only verify=True (system trust), never a pin,
    # a CA bundle or verify=False: requests applies them to a request-level True, as before.
    merged = session.merge_environment_settings(base_url, {}, None, session.verify, None)
    session.auth = get_netrc_auth(base_url)
    session.trust_env = False
    return merged["proxies"], merged["verify"]


class _NoRedirects(requests.Session):
    """A session that treats every answer as final, redirects included.

    With `allow_redirects=False`, requests still reads a redirect's whole body to prepare
    `Response.next` (which we never use), before our reader can apply its size cap and deadline: a
    302 with an endless or huge body would hang or swell the run. `Response.is_redirect` looks at
    status and `Location` only, so redirects are still recognised (and refused).
    """

    def get_redirect_target(self, resp: requests.Response) -> None:
        """No answer ever leads anywhere."""
        return None


class Http:
    """One session to one controller: timeouts, TLS policy, retries with backoff, CSRF and re-login.

    `relogin` is installed by the auth layer once a password login succeeded; it is called (at most once
    per request, at most MAX_RELOGINS times per run) when a data request meets an expired session.
    """

    def __init__(
        self,
        settings: Settings,
        base_url: str,
        *,
        attempts: int = 4,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.base_url = base_url
        self.attempts = attempts
        self.backoff = backoff
        self.sleep = sleep
        self.session = _NoRedirects()
        for scheme in ("https://", "http://"):
            self.session.mount(scheme, SignallingAdapter())
        self.session.headers.update({"Accept": "application/json", "User-Agent": "unifi-scanner"})
        configure_tls(self.session, settings)
        self.proxies, self.verify = _settle_environment(self.session, base_url)
        self.csrf: str | None = None
        self.relogin: Callable[[], None] | None = None
        self.unauthorized_message = "Login expired and re-login failed."
        self.relogins = 0
        self.requests = 0
        self._helper: ThreadPoolExecutor | None = None
        self._ahead: tuple[tuple[str, str, Any, Any], Future[tuple[requests.Response, float]]] | None = None

    def close(self) -> None:
        """Close the underlying connections (and a request sent ahead that nobody took up)."""
        self.discard_ahead()
        if self._helper is not None:
            self._helper.shutdown()
        self.session.close()

    # -------------------------------------------------------------- secrets and CSRF

    def set_csrf(self, token: str | None) -> None:
        """Remember a CSRF token to send on every request (and keep it out of logs)."""
        if token and token != self.csrf:
            register_secrets([token])
            self.csrf = token

    def take_session_secrets(self) -> None:
        """Register every cookie value with the log redactor; derive CSRF from the TOKEN JWT if needed."""
        values = [cookie.value for cookie in self.session.cookies if cookie.value]
        register_secrets(values)
        token = self.session.cookies.get("TOKEN")
        if token and not self.csrf:
            self.set_csrf(_jwt_csrf(token))

    def _refresh_csrf(self, response: requests.Response) -> None:
        """Consoles rotate the token: take `X-Updated-CSRF-Token`, else `X-CSRF-Token`, from every reply."""
        self.set_csrf(response.headers.get("X-Updated-CSRF-Token") or response.headers.get("X-CSRF-Token"))

    # -------------------------------------------------------------- requests

    def _send(self, method: str, path: str, body: Any, params: dict[str, Any] | None,
              sent: Future[tuple[requests.Response, float]] | None = None) -> requests.Response:
        """One HTTP exchange, with transport failures turned into the user-facing error family.

        `sent` is the same request already sent by `send_ahead`: only its answer is read here.
        Redirects are never followed, and their bodies never read: callers refuse them from the status
        and `Location` alone, so an endless or huge redirect body costs nothing.
        """
        try:
            response, started = sent.result() if sent is not None else self._start(method, path, body, params)
            if response.is_redirect:
                response.close()
                response._content = b""  # noqa: SLF001 - requests' own cache of the read body
            else:
                self._read_body(method, path, response, started + self.settings.timeout)
        except requests.exceptions.SSLError as exc:
            raise self.tls_error(exc) from None
        log.debug("%s %s -> %s (%.0f ms)", method, path, response.status_code,
                  (time.monotonic() - started) * 1000)
        return response

    def _start(self, method: str, path: str, body: Any, params: dict[str, Any] | None
               ) -> tuple[requests.Response, float]:
        """Send a request and wait for the answer's status and headers (its body is left unread)."""
        headers = {"X-CSRF-Token": self.csrf} if self.csrf else {}
        self.requests += 1
        started = time.monotonic()
        response = self.session.request(
            method, self.base_url + path, json=body, params=params, headers=headers,
            timeout=self.settings.timeout, allow_redirects=False, stream=True,
            proxies=self.proxies, verify=self.verify,
        )
        return response, started

    def send_ahead(self, method: str, path: str, body: Any = None) -> None:
        """Send a data request now, whose answer a `request` with the same arguments will take up.

        A pager calls this before converting the page it holds, so the controller prepares the next page
        while we work on this one instead of after. A helper thread sends the request and waits for the
        answer's headers; this returns as soon as the request is on the wire. Waiting for that matters:
        the helper needs the GIL to send, and the caller, converting a page, would not let go of it for
        up to 5 ms (the interpreter's switch interval), longer than a small page takes. The body is read
        later by the caller. A request not taken up is closed unread by the next different one (or by
        `close`).
        """
        self.discard_ahead()
        if self._helper is None:
            self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="unifi-scanner-ahead")
        on_wire = threading.Event()
        sent = self._helper.submit(self._start_signalling, on_wire, method, path, body)
        self._ahead = ((method, path, body, None), sent)
        on_wire.wait()

    def _start_signalling(self, on_wire: threading.Event, method: str, path: str, body: Any
                          ) -> tuple[requests.Response, float]:
        """`_start`, setting `on_wire` once the request is sent (at the latest when `_start` ends)."""
        _sending.sent = on_wire.set
        try:
            return self._start(method, path, body, None)
        finally:
            _sending.sent = None
            on_wire.set()

    def discard_ahead(self) -> None:
        """Close the answer of a request sent ahead and not taken up (its connection is not reused)."""
        if self._ahead is None:
            return
        _, sent = self._ahead
        self._ahead = None
        with contextlib.suppress(Exception):  # its failure concerns nobody: nobody wants the answer
            sent.result()[0].close()

    def _take_ahead(self, method: str, path: str, body: Any, params: dict[str, Any] | None
                    ) -> Future[tuple[requests.Response, float]] | None:
        """The request sent ahead when it is this one; any other is discarded."""
        if self._ahead is not None and self._ahead[0] == (method, path, body, params):
            sent = self._ahead[1]
            self._ahead = None
            return sent
        self.discard_ahead()
        return None

    def _read_body(self, method: str, path: str, response: requests.Response, deadline: float) -> None:
        """Read the whole body into `response` by `deadline` (monotonic) and within MAX_RESPONSE_BYTES.

        requests' timeout bounds each socket read, so a server trickling a byte a second would never
        trip it; reading one socket read at a time and checking the clock between reads bounds the
        whole answer. Failures come out as requests exceptions (retried like any timeout or broken
        connection), or as a ControllerProtocolError for an oversized or undecodable answer.
        """
        import urllib3.exceptions as u3

        limit = f"{MAX_RESPONSE_BYTES // (1024 * 1024)} MiB"
        too_large = ControllerProtocolError(
            f"{method} {path}: the controller's answer is larger than {limit}, the most unifi-scanner reads "
            "from one request; refused (a proxy or misbehaving controller?)"
        )
        try:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
                raise too_large
            body = bytearray()
            while chunk := response.raw.read1(_READ_CHUNK, decode_content=True):
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise too_large
                if time.monotonic() > deadline:
                    raise requests.exceptions.ReadTimeout(f"no answer within {self.settings.timeout} s")
        except requests.exceptions.RequestException:
            raise  # the deadline above (requests' exceptions are OSErrors: keep them out of the next line)
        except u3.ReadTimeoutError as exc:
            raise requests.exceptions.ReadTimeout(str(exc)) from None
        except u3.SSLError as exc:
            raise requests.exceptions.SSLError(str(exc)) from None
        except (u3.ProtocolError, OSError) as exc:
            raise requests.exceptions.ConnectionError(str(exc)) from None
        except u3.DecodeError:
            raise ControllerProtocolError(
                f"{method} {path}: the controller's answer could not be decoded "
                f"({response.headers.get('Content-Encoding', 'unknown encoding')})"
            ) from None
        finally:
            response.close()
        response._content = bytes(body)  # noqa: SLF001 - requests' own cache of the read body

    def tls_error(self, exc: Exception) -> ControllerTLSError:
        """A one-line TLS failure that tells the user the server's real fingerprint and how to trust it."""
        parts = urlsplit(self.base_url)
        port = parts.port or 443
        actual = server_fingerprint(parts.hostname or "", port, min(self.settings.timeout, 10))
        text = str(exc)
        if "Fingerprints did not match" in text:
            problem = "the certificate does not match UNIFI_TLS_FINGERPRINT"
        else:
            match = re.search(r"certificate verify failed: ([^(')\]]+)", text)
            problem = f"certificate verify failed: {match[1].strip()}" if match else _reason(exc)
        if actual:
            advice = (f"The server's certificate SHA-256 fingerprint is {colon_fingerprint(actual)}; if that "
                      f"is your controller, pin it with UNIFI_TLS_FINGERPRINT={actual}, or give its CA with "
                      "UNIFI_CA_BUNDLE.")
        else:
            advice = "Pin its certificate with UNIFI_TLS_FINGERPRINT or give its CA with UNIFI_CA_BUNDLE."
        return ControllerTLSError(f"TLS failure talking to {self.base_url}: {problem}. {advice}")

    def unreachable(self, exc: Exception) -> ControllerUnreachable:
        """The one-line "cannot reach" error of the reference's error table."""
        return ControllerUnreachable(
            f"Cannot reach {self.base_url} ({_reason(exc)}). Check host and port ({PORT_HINT}) and the TLS "
            "verify/pinning options."
        )

    def probe(self, method: str, path: str, body: Any = None) -> requests.Response:
        """One raw request without retries, redirects, decoding or re-login (detection, login, logout)."""
        self.discard_ahead()
        try:
            response = self._send(method, path, body, None)
        except requests.exceptions.RequestException as exc:
            raise self.unreachable(exc) from None
        self._refresh_csrf(response)
        return response

    def decode(self, method: str, path: str, response: requests.Response) -> Any:
        """Parse the JSON body (None when empty); an HTML or garbled answer is a protocol error."""
        if not response.content:
            return None
        try:
            return parse_json(response.content)
        except RecursionError:
            raise ControllerProtocolError(
                f"{method} {path} gave HTTP {response.status_code} with JSON nested too deeply to read"
            ) from None
        except ValueError:
            if response.status_code == 404:
                raise ApiError(method, path, 404, None) from None
            raise self.not_json(method, path, response) from None

    def not_json(self, method: str, path: str, response: requests.Response) -> ControllerProtocolError:
        """The error for an answer that is not JSON: "not ready" from a booting proxy, else "not UniFi"."""
        if response.status_code in (502, 503, 504):
            return ControllerProtocolError(NOT_READY)
        if "json" in response.headers.get("Content-Type", "").lower():
            return ControllerProtocolError(
                f"{method} {path} gave HTTP {response.status_code} with malformed JSON "
                f"({len(response.content)} bytes; truncated or corrupted on the way?)"
            )
        return ControllerProtocolError(
            f"{self.base_url} did not answer like a UniFi controller (wrong port, or a proxy login page?): "
            f"{method} {path} gave HTTP {response.status_code} "
            f"{response.headers.get('Content-Type', 'without a content type')}"
        )

    def redirect_error(self, method: str, path: str, response: requests.Response) -> ControllerProtocolError:
        """A redirect is never followed on an API call: the session cookie, CSRF token or API key would go
        along (requests drops only Authorization when the host changes)."""
        target = urlsplit(urljoin(self.base_url + path, response.headers.get("Location", "")))
        # Scheme, host and port only: a Location's query or user part may carry tokens.
        where = f"{target.scheme}://{target.hostname}{f':{target.port}' if target.port else ''}"
        return ControllerProtocolError(
            f"{method} {path} answered with a redirect (HTTP {response.status_code}) to {where}, which "
            "unifi-scanner never follows on API calls; point UNIFI_HOST at the controller itself, not at "
            "a proxy or login portal"
        )

    def request(self, method: str, path: str, body: Any = None, *,
                params: dict[str, Any] | None = None) -> Any:
        """A data request: retried on connection errors, 429 and 5xx; re-login once on 401; JSON back.

        Returns the decoded JSON body. Raises ApiError when the controller refuses the request, and the
        fatal members of the ControllerError family otherwise.
        """
        attempt = 0
        relogged = csrf_retried = False
        sent = self._take_ahead(method, path, body, params)
        while True:
            try:
                ahead, sent = sent, None  # a retry sends afresh
                response = self._send(method, path, body, params, ahead)
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                attempt += 1
                if attempt >= self.attempts and isinstance(exc, requests.exceptions.Timeout):
                    raise ControllerUnreachable(
                        f"{method} {path} timed out {attempt} times (UNIFI_TIMEOUT="
                        f"{self.settings.timeout:g} s for the whole answer): the controller is overloaded or "
                        "stuck; try again later, or raise UNIFI_TIMEOUT if it is only slow"
                    ) from None
                if attempt >= self.attempts:
                    raise self.unreachable(exc) from None
                self._wait(attempt, None, f"{method} {path} failed ({_reason(exc)})")
                continue
            self._refresh_csrf(response)
            status = response.status_code
            if response.is_redirect:
                raise self.redirect_error(method, path, response)
            if status == 429 or status >= 500:
                attempt += 1
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                if attempt < self.attempts and (wait is None or wait <= MAX_RETRY_AFTER):
                    self._wait(attempt, wait, f"{method} {path} answered HTTP {status}")
                    continue
            answer = self.decode(method, path, response)
            if answer is None and status < 400:
                raise ControllerProtocolError(f"{method} {path} gave HTTP {status} with an empty body")
            code, message = error_code(answer)
            if self._session_expired(status, code) and not relogged:
                relogged = True
                self._relogin(method, path)
                continue
            if status == 401 and code not in SITE_ERRORS:
                raise ControllerAuthError(self.unauthorized_message)
            if status == 403 and "csrf" in f"{code} {message}".lower() and not csrf_retried:
                # The token was refreshed from this very answer; a second refusal is a real error.
                csrf_retried = True
                continue
            if status >= 400 or (code and isinstance(answer, dict) and "meta" in answer):
                raise ApiError(method, path, status, code, message)
            return answer

    def _wait(self, attempt: int, retry_after: float | None, what: str) -> None:
        """Sleep before retry `attempt` (1-based): Retry-After, else exponential backoff with jitter."""
        if retry_after is None:
            ceiling = self.backoff * 2 ** (attempt - 1)
            retry_after = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography
        log.info("%s; retrying in %.1f s", what, retry_after)
        self.sleep(retry_after)

    def _session_expired(self, status: int, code: str | None) -> bool:
        """401 (legacy: `api.err.LoginRequired`) on a password session: the cookie expired."""
        if self.relogin is None:
            return False
        return code == "api.err.LoginRequired" or (status == 401 and code not in SITE_ERRORS)

    def _relogin(self, method: str, path: str) -> None:
        """Clear the expired session and log in again, within the run's small re-login budget."""
        if self.relogins >= MAX_RELOGINS:
            raise ControllerAuthError(
                f"Login expired and re-login failed: the session expired {self.relogins + 1} times in one run"
            )
        self.relogins += 1
        log.info("session expired at %s %s; logging in again", method, path)
        assert self.relogin is not None  # noqa: S101 - guarded by _session_expired
        try:
            self.relogin()
        except ControllerAuthError as exc:
            raise ControllerAuthError(f"Login expired and re-login failed: {exc}") from None

    def clear_session(self) -> None:
        """Forget cookies and CSRF token (an expired TOKEN sent with a new login makes the login fail)."""
        self.session.cookies.clear()
        self.csrf = None
