"""Who we are to the controller: type detection, login per controller type, API keys, logout.

A one-shot CLI logs in once per run. Consoles rate-limit logins (successful ones included), so a failed
login is never retried; it becomes one `ControllerAuthError` line that says what to do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import requests

from unifi_scanner.errors import (
    ConfigError,
    ControllerAuthError,
    ControllerError,
    ControllerProtocolError,
    ControllerUnreachable,
)
from unifi_scanner.logs import register_secrets
from unifi_scanner.models import ControllerInfo
from unifi_scanner.settings import Settings

from .http import NOT_READY, Http, Target, error_code, parse_target

log = logging.getLogger(__name__)

Kind = Literal["unifi_os", "legacy"]
DEFAULT_PORTS: dict[str, list[int]] = {"unifi_os": [443], "legacy": [8443], "auto": [443, 8443]}

WRONG_CREDENTIALS = "Login rejected: wrong username or password. Use a local admin account."
MFA_REQUIRED = (
    "This account needs MFA (usually a UI.com cloud account). Create a local-only admin, or use an API key "
    "on UniFi OS."
)
API_KEY_REJECTED = "API key rejected, or not allowed here. Keys work only on UniFi OS."
NO_KEYS_ON_LEGACY = (
    "The self-hosted Network Application does not support API keys; use a username and password."
)
_INVALID_CREDENTIALS = {"AUTHENTICATION_FAILED_INVALID_CREDENTIALS", "api.err.Invalid"}


@dataclass
class Connection:
    """A logged-in session to one site of one controller, with the path builders for its API flavours."""

    http: Http
    kind: Kind
    auth: Literal["password", "api_key"]
    site: str

    @property
    def url(self) -> str:
        """The controller's base URL (never with credentials)."""
        return self.http.base_url

    @property
    def _network(self) -> str:
        # UniFi OS serves the Network application behind its proxy; the self-hosted app serves it at /.
        return "/proxy/network" if self.kind == "unifi_os" else ""

    def site_path(self, endpoint: str) -> str:
        """A legacy site endpoint, e.g. `stat/device` -> `/proxy/network/api/s/default/stat/device`."""
        return f"{self._network}/api/s/{quote(self.site, safe='')}/{endpoint}"

    def v2_path(self, endpoint: str) -> str:
        """A v2 site endpoint, e.g. `system-log/all`."""
        return f"{self._network}/v2/api/site/{quote(self.site, safe='')}/{endpoint}"

    def api_path(self, endpoint: str) -> str:
        """A controller-wide legacy endpoint, e.g. `self/sites`."""
        return f"{self._network}/api/{endpoint}"

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a data endpoint; returns the decoded JSON body."""
        return self.http.request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        """POST a data endpoint with a JSON body; returns the decoded JSON body."""
        return self.http.request("POST", path, body)

    def post_ahead(self, path: str, body: Any) -> None:
        """Send a POST now whose answer the next `post(path, body)` takes up (see `Http.send_ahead`)."""
        self.http.send_ahead("POST", path, body)

    def info(self, **fields: Any) -> ControllerInfo:
        """ControllerInfo for this connection plus what sysinfo told us."""
        return ControllerInfo(url=self.url, type=self.kind, auth=self.auth, **fields)

    def close(self) -> None:
        """Log out (best effort: the run's result never depends on it) and close the connections."""
        if self.auth == "password":
            path = "/api/auth/logout" if self.kind == "unifi_os" else "/api/logout"
            try:
                self.http.probe("POST", path, {})
            except ControllerError as exc:
                log.debug("logout failed: %s", exc)
        self.http.close()


def connect(settings: Settings, **http_options: Any) -> Connection:
    """Find the controller, detect its type and log in (or set up the API key). Raises ControllerError.

    `http_options` go to `Http` (tests pass a recording `sleep`).
    """
    target = parse_target(settings)
    password = settings.password.get_secret_value() if settings.password else ""
    api_key = settings.api_key.get_secret_value() if settings.api_key else ""
    if api_key and settings.controller_type == "legacy" and not (settings.username and password):
        raise ControllerAuthError(NO_KEYS_ON_LEGACY)
    use_key = bool(api_key) and settings.controller_type != "legacy"
    register_secrets([api_key, password])
    if not use_key and not (settings.username and password):
        raise ConfigError("UNIFI_USERNAME and UNIFI_PASSWORD are required (or UNIFI_API_KEY on UniFi OS)")
    # A key implies UniFi OS, so there is nothing to detect and nothing to log in to.
    mode = "unifi_os" if use_key else settings.controller_type
    ports = [target.port] if target.port else DEFAULT_PORTS[mode]
    http, kind = _reach(settings, target, ports, mode, http_options)
    if use_key:
        http.session.headers["X-API-KEY"] = api_key
        http.unauthorized_message = API_KEY_REJECTED
        return Connection(http, "unifi_os", "api_key", settings.site)
    kind = login(http, kind, settings.username or "", password)
    http.relogin = lambda: _relogin(http, kind, settings.username or "", password)
    return Connection(http, kind, "password", settings.site)


def _reach(settings: Settings, target: Target, ports: list[int], mode: str,
           http_options: dict[str, Any]) -> tuple[Http, Kind | None]:
    """Open a session on the first port that answers; detect the type when `mode` is auto.

    Returns the session and the controller type, or None when detection could not tell (the login
    then decides: a 404 from the UniFi OS login means legacy). The last port's failure is raised.
    """
    for index, port in enumerate(ports):
        http = Http(settings, target.url(port), **http_options)
        try:
            response = http.probe("GET", "/")
        except ControllerUnreachable:
            http.close()
            if index == len(ports) - 1:
                raise
            continue
        # aiounifi clears cookies after the probe: they belong to no session of ours.
        http.clear_session()
        if mode != "auto":
            return http, mode  # type: ignore[return-value]
        if response.status_code == 200:
            return http, "unifi_os"
        if response.is_redirect:
            return http, "legacy"
        return http, None
    raise AssertionError("no port to try")  # unreachable: ports is never empty


def login(http: Http, kind: Kind | None, username: str, password: str) -> Kind:
    """Log in once; return the controller type that accepted the login. Never retries a refusal."""
    if kind in (None, "unifi_os"):
        response = http.probe("POST", "/api/auth/login",
                              {"username": username, "password": password, "rememberMe": True})
        if response.status_code == 404 and kind is None:
            kind = "legacy"  # no UniFi OS login endpoint: a self-hosted Network Application
        else:
            _check_login(http, "unifi_os", response)
            return "unifi_os"
    response = http.probe("POST", "/api/login",
                          {"username": username, "password": password, "remember": True})
    _check_login(http, "legacy", response)
    return "legacy"


def _relogin(http: Http, kind: Kind, username: str, password: str) -> None:
    """Start a fresh session after the old one expired (the expired cookie must not be sent along)."""
    http.clear_session()
    login(http, kind, username, password)


def _check_login(http: Http, kind: Kind, response: requests.Response) -> None:
    """Turn a login answer into success (session secrets registered) or one clear ControllerError."""
    status = response.status_code
    if response.is_redirect:
        raise http.redirect_error("POST", response.request.path_url, response)
    if status == 404:
        raise ControllerProtocolError(
            f"{http.base_url} has no {'UniFi OS' if kind == 'unifi_os' else 'legacy'} login endpoint; check "
            "the port and UNIFI_CONTROLLER_TYPE."
        )
    try:
        body = response.json() if response.content else None
    except ValueError:
        if status in (401, 403):
            raise ControllerProtocolError(NOT_READY) from None  # the console proxy while it boots
        raise http.not_json("POST", response.request.path_url, response) from None
    code, message = error_code(body)
    if status == 499 or code == "api.err.Ubic2faTokenRequired":
        raise ControllerAuthError(MFA_REQUIRED)
    if status == 429 or (code and "LIMIT" in code.upper()):
        wait = response.headers.get("Retry-After")
        seconds = wait if wait and wait.strip().isdigit() else "60"
        raise ControllerAuthError(
            f"The controller is refusing logins (too many attempts). Wait {seconds} s before running again."
        )
    if code in _INVALID_CREDENTIALS or (message and "invalid username or password" in message.lower()):
        raise ControllerAuthError(WRONG_CREDENTIALS)
    if status in (401, 403):
        raise ControllerAuthError(
            f"Login rejected (HTTP {status}{f', {code}' if code else ''}): wrong username or password, or "
            "too many recent logins. Use a local admin account."
        )
    if status in (502, 503, 504):
        raise ControllerProtocolError(NOT_READY)
    if status != 200 or code:
        raise ControllerAuthError(f"Login failed: HTTP {status}{f' ({code})' if code else ''}")
    http.take_session_secrets()
    log.debug("logged in to %s (%s)", http.base_url, "UniFi OS" if kind == "unifi_os" else "legacy")
