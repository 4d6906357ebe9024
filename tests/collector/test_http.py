"""Unit tests of the controller client's HTTP behaviour: request shapes, headers, CSRF, retries, re-login.

`responses` stands in for the controller here; the end-to-end tests use the real fake controller.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import ssl
import threading

import pytest
import requests
import responses
from hypothesis import given
from hypothesis import strategies as st
from responses import matchers

from tests.hardening.hostile import receiver
from unifi_scanner.collector.auth import connect
from unifi_scanner.collector.http import ApiError, Http, parse_json
from unifi_scanner.collector.sources import rows_of
from unifi_scanner.errors import (
    ConfigError,
    ControllerAuthError,
    ControllerProtocolError,
    ControllerTLSError,
    ControllerUnreachable,
)
from unifi_scanner.fake import Behaviours, FakeController
from unifi_scanner.settings import Settings

BASE = "https://ctrl.test:443"
NET = f"{BASE}/proxy/network"


def settings(**overrides) -> Settings:
    """Settings for a console at ctrl.test:443 with a password login."""
    values = {"host": "ctrl.test", "port": 443, "username": "admin", "password": "hunter2-secret"}
    values.update(overrides)
    return Settings(**values)


def jwt(claims: dict) -> str:
    """A fake unsigned JWT carrying `claims`."""
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJub25lIn0.{payload}.sig"


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def console(mock, *, csrf: str | None = "csrf-1", token: str = "tok-AAAA") -> None:
    """A UniFi OS console: GET / answers 200 and the login sets TOKEN (and a CSRF header if given)."""
    mock.get(f"{BASE}/", body="<html>console</html>", status=200, content_type="text/html")
    headers = {"Set-Cookie": f"TOKEN={token}; Path=/; Secure; HttpOnly"}
    if csrf:
        headers["X-CSRF-Token"] = csrf
    mock.post(f"{BASE}/api/auth/login", json={"unique_id": "u1", "username": "admin"}, headers=headers)
    mock.post(f"{BASE}/api/auth/logout", json={})


class Sleeps(list):
    """Records requested sleeps instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# ----------------------------------------------------------------------------------------- login shapes


def test_unifi_os_login_body_cookie_and_csrf_on_every_request(mock):
    console(mock)
    mock.get(f"{NET}/api/s/default/stat/health", json={"meta": {"rc": "ok"}, "data": []},
             headers={"X-Updated-CSRF-Token": "csrf-2"})
    mock.get(f"{NET}/api/s/default/stat/device", json={"meta": {"rc": "ok"}, "data": []})

    conn = connect(settings())
    conn.get(conn.site_path("stat/health"))
    conn.get(conn.site_path("stat/device"))
    conn.close()

    login = next(call for call in mock.calls if call.request.url.endswith("/api/auth/login"))
    assert json.loads(login.request.body) == {"username": "admin", "password": "hunter2-secret",
                                              "rememberMe": True}
    health, device, logout = mock.calls[-3:]
    assert health.request.headers["X-CSRF-Token"] == "csrf-1"
    assert "TOKEN=tok-AAAA" in health.request.headers["Cookie"]
    # The rotated token from the health answer is the one sent next.
    assert device.request.headers["X-CSRF-Token"] == "csrf-2"
    assert logout.request.url == f"{BASE}/api/auth/logout"
    assert logout.request.headers["X-CSRF-Token"] == "csrf-2"
    assert conn.kind == "unifi_os" and conn.auth == "password"


def test_csrf_comes_from_the_jwt_when_the_login_sends_no_header(mock):
    console(mock, csrf=None, token=jwt({"csrfToken": "from-jwt-123", "userId": "u1"}))
    mock.get(f"{NET}/api/s/default/stat/sta", json={"meta": {"rc": "ok"}, "data": []})
    conn = connect(settings())
    conn.get(conn.site_path("stat/sta"))
    assert mock.calls[-1].request.headers["X-CSRF-Token"] == "from-jwt-123"


def test_legacy_detected_by_redirect_uses_api_login_and_unprefixed_paths(mock):
    mock.get("https://ctrl.test:8443/", status=302, headers={"Location": "/manage"})
    mock.post("https://ctrl.test:8443/api/login", json={"meta": {"rc": "ok"}, "data": []},
              headers={"Set-Cookie": "unifises=sess-legacy-1; Path=/"})
    mock.get("https://ctrl.test:8443/api/s/default/stat/sysinfo",
             json={"meta": {"rc": "ok"}, "data": [{"version": "8.6.9"}]})
    conn = connect(settings(port=8443))
    body = conn.get(conn.site_path("stat/sysinfo"))
    assert body["data"][0]["version"] == "8.6.9"
    login = mock.calls[1].request
    assert login.url == "https://ctrl.test:8443/api/login"
    assert json.loads(login.body) == {"username": "admin", "password": "hunter2-secret", "remember": True}
    assert "unifises=sess-legacy-1" in mock.calls[-1].request.headers["Cookie"]
    assert conn.kind == "legacy"
    assert not any("/api/auth/login" in call.request.url for call in mock.calls)


def test_auto_detection_falls_back_to_legacy_when_unifi_os_login_is_404(mock):
    mock.get(f"{BASE}/", status=401, json={})
    mock.post(f"{BASE}/api/auth/login", status=404, body="not found")
    mock.post(f"{BASE}/api/login", json={"meta": {"rc": "ok"}, "data": []})
    conn = connect(settings())
    assert conn.kind == "legacy"
    assert conn.site_path("stat/event") == "/api/s/default/stat/event"


def test_auto_without_port_tries_443_then_8443(mock):
    mock.get(f"{BASE}/", body=requests.exceptions.ConnectionError("[Errno 111] Connection refused"))
    mock.get("https://ctrl.test:8443/", status=302, headers={"Location": "/manage"})
    mock.post("https://ctrl.test:8443/api/login", json={"meta": {"rc": "ok"}, "data": []})
    conn = connect(settings(port=None))
    assert conn.url == "https://ctrl.test:8443" and conn.kind == "legacy"


def test_host_given_as_url_with_port(mock):
    mock.get("https://10.0.0.1:11443/", body="<html/>", content_type="text/html")
    mock.post("https://10.0.0.1:11443/api/auth/login", json={"unique_id": "u"})
    conn = connect(settings(host="https://10.0.0.1:11443/", port=None))
    assert conn.url == "https://10.0.0.1:11443" and conn.kind == "unifi_os"


def test_api_key_skips_login_and_sends_the_key(mock):
    mock.get(f"{BASE}/", body="<html/>", content_type="text/html")
    mock.get(f"{NET}/api/s/default/stat/sysinfo", json={"meta": {"rc": "ok"}, "data": [{}]},
             match=[matchers.header_matcher({"X-API-KEY": "key-123456"})])
    conn = connect(settings(username=None, password=None, api_key="key-123456"))
    conn.get(conn.site_path("stat/sysinfo"))
    conn.close()
    assert conn.auth == "api_key"
    assert not any("login" in call.request.url or "logout" in call.request.url for call in mock.calls)


def test_rejected_api_key(mock):
    mock.get(f"{BASE}/", body="<html/>", content_type="text/html")
    mock.get(f"{NET}/api/s/default/stat/sysinfo", status=401,
             json={"statusCode": 401, "code": "api.authentication.missing-credentials"})
    conn = connect(settings(username=None, password=None, api_key="key-123456"))
    with pytest.raises(ControllerAuthError, match="API key rejected"):
        conn.get(conn.site_path("stat/sysinfo"))


def test_api_key_on_a_legacy_controller_is_refused():
    with pytest.raises(ControllerAuthError, match="self-hosted .* does not support API keys"):
        connect(settings(username=None, password=None, api_key="key-123456", controller_type="legacy"))


def test_missing_credentials_and_host_are_configuration_errors():
    with pytest.raises(ConfigError, match="UNIFI_USERNAME and UNIFI_PASSWORD"):
        connect(settings(password=None))
    with pytest.raises(ConfigError, match="UNIFI_HOST"):
        connect(settings(host=None))


# ----------------------------------------------------------------------------------------- login errors


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "message"),
    [
        (403, {"code": "AUTHENTICATION_FAILED_INVALID_CREDENTIALS", "message": "Invalid username or password"
               }, {}, ControllerAuthError, "wrong username or password"),
        (401, {"message": "Invalid username or password"}, {}, ControllerAuthError, "wrong username"),
        (499, {"data": {"mfaCookie": "UBIC_2FA=x"}, "meta": {}}, {}, ControllerAuthError, "needs MFA"),
        (429, {"code": "AUTHENTICATION_FAILED_LIMIT_REACHED"}, {"Retry-After": "120"}, ControllerAuthError,
         "refusing logins .* Wait 120 s"),
        (503, None, {}, ControllerProtocolError, "not ready"),
    ],
)
def test_unifi_os_login_failures_are_one_clear_error_and_never_retried(mock, status, body, headers, error,
                                                                      message):
    mock.get(f"{BASE}/", body="<html/>", content_type="text/html")
    if body is None:
        mock.post(f"{BASE}/api/auth/login", status=status, body="<html>starting</html>",
                  content_type="text/html")
    else:
        mock.post(f"{BASE}/api/auth/login", status=status, json=body, headers=headers)
    with pytest.raises(error, match=message):
        connect(settings())
    logins = [call for call in mock.calls if "login" in call.request.url]
    assert len(logins) == 1


@pytest.mark.parametrize(
    ("msg", "message"),
    [("api.err.Invalid", "wrong username or password"), ("api.err.Ubic2faTokenRequired", "needs MFA")],
)
def test_legacy_login_failures(mock, msg, message):
    mock.post("https://ctrl.test:8443/api/login", status=400,
              json={"meta": {"rc": "error", "msg": msg}, "data": []})
    mock.get("https://ctrl.test:8443/", status=302, headers={"Location": "/manage"})
    with pytest.raises(ControllerAuthError, match=message):
        connect(settings(port=8443, controller_type="legacy"))


def test_html_instead_of_json_on_login(mock):
    mock.get(f"{BASE}/", body="<html/>", content_type="text/html")
    mock.post(f"{BASE}/api/auth/login", status=200, body="<html>proxy login</html>", content_type="text/html")
    with pytest.raises(ControllerProtocolError, match="did not answer like a UniFi controller"):
        connect(settings())


def test_unreachable_host_is_one_line(mock):
    mock.get(f"{BASE}/", body=requests.exceptions.ConnectionError(
        "HTTPSConnectionPool(host='ctrl.test', port=443): Max retries exceeded with url: / (Caused by "
        "NewConnectionError('<urllib3.connection.HTTPSConnection object>: Failed to establish a new "
        "connection: [Errno 111] Connection refused'))"))
    with pytest.raises(ControllerUnreachable) as info:
        connect(settings())
    assert str(info.value).startswith("Cannot reach https://ctrl.test:443 (Connection refused). Check host")
    assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------------------- data requests


def test_retries_5xx_and_429_with_backoff_and_retry_after(mock):
    console(mock)
    url = f"{NET}/api/s/default/stat/device"
    mock.get(url, status=503, body="")
    mock.get(url, status=429, json={}, headers={"Retry-After": "7"})
    mock.get(url, body=requests.exceptions.ConnectionError("[Errno 104] Connection reset by peer"))
    mock.get(url, json={"meta": {"rc": "ok"}, "data": [{"mac": "aa"}]})
    sleeps = Sleeps()
    conn = connect(settings(), sleep=sleeps, backoff=1.0)
    assert conn.get(conn.site_path("stat/device"))["data"] == [{"mac": "aa"}]
    assert len(sleeps) == 3
    assert 0.5 <= sleeps[0] <= 1.0  # first backoff, jittered in [base/2, base]
    assert sleeps[1] == 7  # Retry-After honoured
    assert 2.0 <= sleeps[2] <= 4.0  # third backoff, doubled twice


def test_retries_give_up_after_the_attempt_budget(mock):
    console(mock)
    url = f"{NET}/api/s/default/stat/device"
    mock.get(url, status=500, json={"errorCode": 500, "message": "boom"})
    sleeps = Sleeps()
    conn = connect(settings(), sleep=sleeps, attempts=3)
    with pytest.raises(ApiError, match="HTTP 500 .*boom"):
        conn.get(conn.site_path("stat/device"))
    assert len([c for c in mock.calls if c.request.url == url]) == 3 and len(sleeps) == 2


def test_a_long_retry_after_is_not_slept_through(mock):
    console(mock)
    url = f"{NET}/api/s/default/stat/device"
    mock.get(url, status=429, json={}, headers={"Retry-After": "3600"})
    sleeps = Sleeps()
    conn = connect(settings(), sleep=sleeps)
    with pytest.raises(ApiError, match="HTTP 429"):
        conn.get(conn.site_path("stat/device"))
    assert sleeps == []


def test_client_errors_are_not_retried(mock):
    console(mock)
    url = f"{NET}/v2/api/site/default/system-log/all"
    mock.post(url, status=400, json={"errorCode": 400, "message": "JSON parse error: category"})
    sleeps = Sleeps()
    conn = connect(settings(), sleep=sleeps)
    with pytest.raises(ApiError, match="HTTP 400"):
        conn.post(conn.v2_path("system-log/all"), {})
    assert sleeps == [] and len([c for c in mock.calls if c.request.url == url]) == 1


def test_legacy_error_on_http_200_is_an_error(mock):
    console(mock)
    mock.get(f"{NET}/api/s/default/stat/event", json={"meta": {"rc": "error", "msg": "api.err.NoPermission"},
                                                       "data": []})
    conn = connect(settings())
    with pytest.raises(ApiError, match="Account lacks permission for /proxy/network/api/s/default/stat/ev"):
        conn.get(conn.site_path("stat/event"))


def test_html_where_json_was_expected(mock):
    console(mock)
    mock.get(f"{NET}/api/s/default/stat/device", body="<html>login</html>", content_type="text/html")
    conn = connect(settings())
    with pytest.raises(ControllerProtocolError, match="did not answer like a UniFi controller"):
        conn.get(conn.site_path("stat/device"))


def test_401_mid_run_clears_cookies_logs_in_once_and_retries(mock):
    mock.get(f"{BASE}/", body="<html/>", content_type="text/html")
    mock.post(f"{BASE}/api/auth/login", json={}, headers={"Set-Cookie": "TOKEN=old-token-1; Path=/",
                                                          "X-CSRF-Token": "c1"})
    mock.post(f"{BASE}/api/auth/login", json={}, headers={"Set-Cookie": "TOKEN=new-token-2; Path=/",
                                                          "X-CSRF-Token": "c2"})
    url = f"{NET}/api/s/default/stat/sta"
    mock.get(url, status=401, json={"meta": {"rc": "error", "msg": "api.err.LoginRequired"}})
    mock.get(url, json={"meta": {"rc": "ok"}, "data": [{"mac": "bb"}]})
    conn = connect(settings())
    assert conn.get(conn.site_path("stat/sta"))["data"] == [{"mac": "bb"}]
    urls = [call.request.url for call in mock.calls]
    assert urls.count(f"{BASE}/api/auth/login") == 2
    relogin = mock.calls[3].request
    assert relogin.url.endswith("/api/auth/login")
    assert "Cookie" not in relogin.headers  # the expired TOKEN is not sent along
    assert "TOKEN=new-token-2" in mock.calls[4].request.headers["Cookie"]
    assert mock.calls[4].request.headers["X-CSRF-Token"] == "c2"


def test_a_second_401_after_relogin_fails_clearly(mock):
    console(mock)
    mock.get(f"{NET}/api/s/default/stat/sta", status=401, json={})
    conn = connect(settings())
    with pytest.raises(ControllerAuthError, match="Login expired and re-login failed"):
        conn.get(conn.site_path("stat/sta"))
    assert [call.request.url for call in mock.calls].count(f"{BASE}/api/auth/login") == 2


def test_session_secrets_are_redacted_from_logs(mock, caplog):
    from unifi_scanner.logs import RedactingFilter

    console(mock, token="TOKEN-VALUE-SECRET", csrf="CSRF-VALUE-SECRET")
    connect(settings())
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token %s csrf %s", (
        "TOKEN-VALUE-SECRET", "CSRF-VALUE-SECRET"), None)
    RedactingFilter().filter(record)
    assert "SECRET" not in record.getMessage()


def test_login_body_is_never_logged(mock, caplog):
    console(mock)
    with caplog.at_level(logging.DEBUG):
        connect(settings())
    assert "hunter2-secret" not in caplog.text
    assert "/api/auth/login" in caplog.text  # the request itself is logged, its body is not



def test_an_html_503_from_a_booting_console_is_retried_then_reported_as_not_ready(mock):
    console(mock)
    url = f"{NET}/api/s/default/stat/device"
    mock.get(url, status=503, body="<html>503 Service Unavailable</html>", content_type="text/html")
    mock.get(url, json={"meta": {"rc": "ok"}, "data": []})
    sleeps = Sleeps()
    conn = connect(settings(), sleep=sleeps)
    assert conn.get(conn.site_path("stat/device"))["data"] == []
    assert len(sleeps) == 1
    mock.replace(responses.GET, url, status=502, body="<html>502</html>", content_type="text/html")
    with pytest.raises(ControllerProtocolError, match="not ready"):
        conn.get(conn.site_path("stat/device"))
    assert len(sleeps) == 4


# ----------------------------------------------------------------------------------------- environment


@pytest.fixture
def proxy_env(monkeypatch):
    """No proxy variable from the machine running the tests (lower-case ones would win over ours)."""
    for key in list(os.environ):
        if key.lower().endswith("_proxy"):
            monkeypatch.delenv(key)
    return monkeypatch


def test_proxy_from_the_environment_carries_every_request(proxy_env):
    # The receiver plays the proxy: a request that came through it names the whole URL, not a path.
    with receiver() as (log, proxy):
        proxy_env.setenv("HTTP_PROXY", proxy)
        http = Http(settings(host="ctrl.invalid"), "http://ctrl.invalid")
        for _ in range(2):
            assert http.probe("GET", "/api/s/default/stat/health").status_code == 200
        http.close()
    assert [target for _, target, _ in log] == ["http://ctrl.invalid/api/s/default/stat/health"] * 2


def test_no_proxy_from_the_environment_is_honoured(proxy_env, free_port):
    with receiver() as (log, direct):
        # A proxy that would refuse the connection: only a bypass can make the request work.
        proxy_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port}")
        proxy_env.setenv("NO_PROXY", "127.0.0.1")
        http = Http(settings(host=direct), direct)
        assert http.probe("GET", "/api/s/default/stat/health").status_code == 200
        http.close()
    assert [target for _, target, _ in log] == ["/api/s/default/stat/health"]


def test_a_netrc_login_for_the_controller_is_sent(proxy_env, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login netrc-user password netrc-pass\n")
    proxy_env.setenv("NETRC", str(netrc))
    with receiver() as (log, direct):
        http = Http(settings(host=direct), direct)
        sent = http.probe("GET", "/api/s/default/stat/health").request
        http.close()
    assert len(log) == 1
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"netrc-user:netrc-pass").decode()


def test_ca_bundle_from_the_environment_replaces_system_trust_but_never_a_pin(monkeypatch):
    with FakeController(events=10) as fc:
        plain = settings(host=fc.url, username=fc.username, password=fc.password)
        with pytest.raises(ControllerTLSError):
            connect(plain)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fc.cert_path))
        conn = connect(plain)
        assert rows_of(conn.get(conn.site_path("stat/health")))
        conn.close()
        # With a pin the bundle is never read: a missing file would fail every request if it were.
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
        conn = connect(settings(host=fc.url, username=fc.username, password=fc.password,
                                tls_fingerprint=fc.cert_sha256))
        assert rows_of(conn.get(conn.site_path("stat/health")))
        conn.close()



def test_a_pinned_session_never_loads_the_system_trust_store(monkeypatch):
    loads = []
    real = ssl.SSLContext.load_default_certs
    monkeypatch.setattr(ssl.SSLContext, "load_default_certs",
                        lambda context, *args: loads.append(context) or real(context, *args))
    with FakeController(events=10) as fc:
        conn = connect(settings(host=fc.url, username=fc.username, password=fc.password,
                                tls_fingerprint=fc.cert_sha256))
        assert rows_of(conn.get(conn.site_path("stat/health")))
        conn.close()
        assert loads == []  # the pin is the only check: the store would cost 15 ms a connection
        # Without a pin, system trust is still what verifies (and refuses the fake's own certificate).
        with pytest.raises(ControllerTLSError):
            connect(settings(host=fc.url, username=fc.username, password=fc.password))
    assert loads

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)


@given(JSON_VALUES, st.booleans())
def test_the_fast_json_parser_gives_what_json_gives(value, ascii_only) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)  # NaN, Infinity, huge ints, any code point
    assert repr(parse_json(text.encode("utf-8", "surrogatepass"))) == repr(
        json.loads(text.encode("utf-8", "surrogatepass").decode("utf-8-sig", errors="replace")))


NESTED_300: list = []
for _ in range(299):
    NESTED_300 = [NESTED_300]


@pytest.mark.parametrize(("content", "expected"), [
    ("\ufeff{\"a\": 1}".encode(), {"a": 1}),  # a byte-order mark
    (b'{"name": "caf\xe9"}', {"name": "caf\ufffd"}),  # Latin-1 where UTF-8 belongs
    (b'{"name": "x\\ud800y"}', {"name": "x\ufffdy"}),  # a lone surrogate escape
    (b"[" * 300 + b"]" * 300, NESTED_300),  # deeper than pydantic-core goes
])
def test_what_the_fast_parser_refuses_is_still_read_the_careful_way(content, expected) -> None:
    assert parse_json(content) == expected


def test_garbage_is_still_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_json(b"[1] trailing")


# ----------------------------------------------------------------------------------------- sending ahead


def test_a_request_sent_ahead_is_taken_up_once_by_the_same_request(mock):
    console(mock)
    url = f"{NET}/api/s/default/stat/event"
    mock.post(url, json={"meta": {"rc": "ok"}, "data": [{"page": 2}]},
              match=[matchers.json_params_matcher({"n": 2})])
    conn = connect(settings())
    conn.post_ahead(conn.site_path("stat/event"), {"n": 2})
    assert conn.post(conn.site_path("stat/event"), {"n": 2})["data"] == [{"page": 2}]
    assert [call.request.url for call in mock.calls].count(url) == 1
    assert mock.calls[-1].request.headers["X-CSRF-Token"] == "csrf-1"
    conn.close()


def test_a_request_sent_ahead_and_not_wanted_is_dropped(mock):
    console(mock)
    url = f"{NET}/api/s/default/stat/event"
    for n in (1, 2):
        mock.post(url, json={"meta": {"rc": "ok"}, "data": [{"page": n}]},
                  match=[matchers.json_params_matcher({"n": n})])
    conn = connect(settings())
    conn.post_ahead(conn.site_path("stat/event"), {"n": 1})
    assert conn.post(conn.site_path("stat/event"), {"n": 2})["data"] == [{"page": 2}]
    conn.post_ahead(conn.site_path("stat/event"), {"n": 1})
    conn.close()  # logs out and closes, with the second request sent ahead still unread
    bodies = [json.loads(call.request.body) for call in mock.calls if call.request.url == url]
    assert bodies == [{"n": 1}, {"n": 2}, {"n": 1}]


def test_a_request_sent_ahead_that_failed_is_retried_like_any_other(mock):
    console(mock)
    url = f"{NET}/api/s/default/stat/event"
    mock.post(url, body=requests.exceptions.ConnectionError("connection reset"))
    mock.post(url, status=503, body="busy")
    mock.post(url, json={"meta": {"rc": "ok"}, "data": [{"ok": True}]})
    sleeps = Sleeps()
    conn = connect(settings(), sleep=sleeps)
    conn.post_ahead(conn.site_path("stat/event"), {})
    assert conn.post(conn.site_path("stat/event"), {})["data"] == [{"ok": True}]
    assert len(sleeps) == 2
    assert [call.request.url for call in mock.calls].count(url) == 3


def test_sending_ahead_returns_once_the_request_is_on_the_wire_not_when_answered():
    arrived, release, answered = threading.Event(), threading.Event(), threading.Event()

    def hold_events(request):
        """Keep the event list's answer back until the test lets it go."""
        if "stat/event" in request.path:
            arrived.set()
            release.wait(10)
            answered.set()
        return None

    with FakeController(profile="legacy", events=10, behaviours=Behaviours(hooks=[hold_events])) as fc:
        conn = connect(settings(host=fc.url, username=fc.username, password=fc.password,
                                tls_fingerprint=fc.cert_sha256, site=fc.site))
        path = conn.site_path("stat/event")
        body = {"_sort": "-time", "_start": 0, "_limit": 10}
        conn.post_ahead(path, body)
        # The controller has the request, and is still working on it: the call did not wait for it.
        assert arrived.wait(10)
        assert not answered.is_set()
        release.set()
        assert len(conn.post(path, body)["data"]) == 10
        assert fc.stats.requests_to("stat/event") == 1  # the request sent ahead was taken up
        conn.close()
