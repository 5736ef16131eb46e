"""Console sign-in: the session cookie, its CSRF token, and what they authenticate (in process)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import orjson
import pytest
from starlette.testclient import TestClient

from switchboard.api.app import create_app
from switchboard.ops import ratelimits
from switchboard.service.runtime import Runtime
from switchboard.service.sessions import COOKIE, ConsoleSessions
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, START_MS

CSRF = "X-Switchboard-Csrf"


@pytest.fixture
def browser(runtime: Runtime) -> Iterator[TestClient]:
    """A client with no Basic credentials, as a browser is."""
    with TestClient(create_app(runtime), base_url="http://testserver") as client:
        yield client


def sign_in(browser: TestClient, username: str = ACCOUNT_SID,
            password: str = AUTH_TOKEN) -> str:
    reply = browser.post("/console/api/session", data={"username": username,
                                                       "password": password})
    assert reply.status_code == 200, reply.text
    assert reply.json()["account_sid"] == ACCOUNT_SID
    return str(reply.json()["csrf"])


def test_every_deep_link_serves_the_page(browser: TestClient) -> None:
    for path in ("/console/", "/console/workspaces/WS" + "0" * 32,
                 "/console/workspaces/WS1/tasks/WT1", "/console/workspaces/WS1/events"):
        reply = browser.get(path)
        assert reply.status_code == 200
        assert '<script type="module" src="/console/static/app.js">' in reply.text
        assert "default-src 'self'" in reply.headers["content-security-policy"]
    assert browser.get("/console/static/app.js").status_code == 200
    assert browser.get("/console", follow_redirects=False).headers["location"] == "/console/"
    assert browser.get("/console/static/nothing.js").status_code == 404
    assert browser.get("/console/api/nothing").json()["code"] == 20404


def test_sign_in_sets_an_http_only_strict_cookie(browser: TestClient) -> None:
    reply = browser.post("/console/api/session", data={"username": ACCOUNT_SID,
                                                       "password": AUTH_TOKEN})
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith(COOKIE + "=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on loopback


def test_a_wrong_token_is_refused(browser: TestClient) -> None:
    reply = browser.post("/console/api/session", data={"username": ACCOUNT_SID,
                                                       "password": "wrong"})
    assert reply.status_code == 401
    assert "set-cookie" not in reply.headers
    assert browser.get("/console/api/session").json()["account_sid"] is None


def test_the_cookie_and_its_csrf_header_authenticate_every_method(browser: TestClient) -> None:
    csrf = sign_in(browser)
    assert browser.get("/console/api/session").json()["csrf"] == csrf
    reply = browser.post("/v1/Workspaces", data={"FriendlyName": "console"},
                         headers={CSRF: csrf})
    assert reply.status_code == 201, reply.text
    assert browser.get("/v1/Workspaces", headers={CSRF: csrf}).json()["workspaces"]


def test_without_the_csrf_header_the_cookie_is_not_enough(browser: TestClient) -> None:
    csrf = sign_in(browser)
    assert browser.post("/v1/Workspaces", data={"FriendlyName": "x"}).status_code == 401
    assert browser.get("/v1/Workspaces").status_code == 401
    assert browser.post("/v1/Workspaces", data={"FriendlyName": "x"},
                        headers={CSRF: csrf[:-2] + "xx"}).status_code == 401


def test_rotating_the_token_ends_the_session(browser: TestClient, runtime: Runtime) -> None:
    csrf = sign_in(browser)
    runtime.accounts.rotate_auth_token(ACCOUNT_SID, START_MS)
    reply = browser.get("/v1/Workspaces", headers={CSRF: csrf})
    assert reply.status_code == 401
    assert "www-authenticate" not in reply.headers  # no password prompt in the browser
    assert browser.get("/console/api/session").json()["account_sid"] is None


def test_an_api_key_signs_in_and_deleting_it_ends_the_session(
        browser: TestClient, runtime: Runtime) -> None:
    key = runtime.accounts.create_key(ACCOUNT_SID, START_MS)
    csrf = sign_in(browser, key.sid, key.secret)
    assert browser.get("/v1/Workspaces", headers={CSRF: csrf}).status_code == 200
    runtime.accounts.delete_key(key.sid)
    assert browser.get("/v1/Workspaces", headers={CSRF: csrf}).status_code == 401


def test_sign_out_clears_the_cookie(browser: TestClient) -> None:
    csrf = sign_in(browser)
    assert browser.delete("/console/api/session").status_code == 401  # CSRF header needed
    assert browser.delete("/console/api/session", headers={CSRF: csrf}).status_code == 204
    assert browser.get("/console/api/session").json()["account_sid"] is None


def test_basic_credentials_still_work(client: TestClient) -> None:
    assert client.get("/console/api/session").json()["account_sid"] == ACCOUNT_SID
    assert client.get("/v1/Workspaces").status_code == 200
    assert client.get("/console/workspaces").status_code == 200
    # Basic credentials are read as they are, never as a session, CSRF header or not.
    assert client.get("/v1/Workspaces", headers={CSRF: "anything"}).status_code == 200
    reply = client.get("/v1/Workspaces", auth=(ACCOUNT_SID, "wrong"))
    assert reply.status_code == 401 and "www-authenticate" in reply.headers


def test_the_stream_of_another_accounts_workspace_is_not_found(
        client: TestClient, runtime: Runtime) -> None:
    other = runtime.accounts.create_account(START_MS)
    ws = client.post("/v1/Workspaces", data={"FriendlyName": "mine"}).json()["sid"]
    reply = client.get(f"/console/api/workspaces/{ws}/stream", auth=(other.sid,
                                                                     other.auth_token))
    assert reply.status_code == 404


def test_nodes_sharing_a_console_secret_accept_each_others_sessions(runtime: Runtime) -> None:
    one = create_app(runtime, console_secret="shared")
    other = create_app(runtime, console_secret="shared")
    stranger = create_app(runtime)
    with TestClient(one, base_url="http://testserver") as first:
        csrf = sign_in(first)
        cookies = {COOKIE: first.cookies[COOKIE]}
    for app, status in ((other, 200), (stranger, 401)):
        with TestClient(app, base_url="http://testserver", cookies=cookies) as client:
            assert client.get("/v1/Workspaces", headers={CSRF: csrf}).status_code == status


def test_another_sites_page_gets_no_session_nor_token(browser: TestClient) -> None:
    sign_in(browser)
    for site in ("same-site", "cross-site"):
        headers = {"Sec-Fetch-Site": site}
        assert browser.get("/console/api/session", headers=headers).status_code == 403
        assert browser.post("/console/api/session", headers=headers, data={
            "username": ACCOUNT_SID, "password": AUTH_TOKEN}).status_code == 403
    same = browser.get("/console/api/session", headers={"Sec-Fetch-Site": "same-origin"})
    assert same.json()["csrf"]


def test_a_session_expires(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    sessions = ConsoleSessions(runtime.accounts, lifetime_seconds=60)
    signed = sessions.sign_in(ACCOUNT_SID, AUTH_TOKEN)
    assert signed is not None
    _, cookie = signed
    csrf = sessions.csrf_token(cookie)
    assert sessions.account(cookie, csrf) is not None
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 61)
    assert sessions.account(cookie, csrf) is None


def test_a_tampered_cookie_is_refused(runtime: Runtime) -> None:
    sessions = ConsoleSessions(runtime.accounts)
    signed = sessions.sign_in(ACCOUNT_SID, AUTH_TOKEN)
    assert signed is not None
    payload, _, signature = signed[1].partition(".")
    other = runtime.accounts.create_account(START_MS)
    forged = base64.urlsafe_b64encode(orjson.dumps(
        {"u": other.sid, "h": "0" * 32, "e": 2**40})).rstrip(b"=").decode()
    # Its signature's first character changed (to another: it may have been an x already).
    altered = ("y" if signature[0] == "x" else "x") + signature[1:]
    for cookie in (f"{forged}.{signature}", f"{payload}.{altered}", payload, ""):
        assert sessions.account(cookie, sessions.csrf_token(cookie)) is None


def test_failed_sign_ins_are_slowed_but_never_a_signed_in_page(
        browser: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(ratelimits.asyncio, "sleep", fake_sleep)  # type: ignore[attr-defined]
    # Requests without credentials guess nothing: however many fail, none is held up.
    for _ in range(ratelimits.FREE_FAILURES + 3):
        assert browser.get("/v1/Workspaces").status_code == 401
    assert browser.get("/console/").status_code == 200
    assert slept == []
    # Guessing a secret through the sign-in form is slowed as through Basic credentials.
    for _ in range(ratelimits.FREE_FAILURES + 2):
        assert browser.post("/console/api/session", data={
            "username": ACCOUNT_SID, "password": "wrong"}).status_code == 401
    assert slept == [ratelimits.BASE_DELAY_SECONDS]
    csrf = sign_in(browser)
    assert len(slept) == 2  # the sign-in itself waited
    # The page and what it asks with its session are not (they carry no Basic credentials).
    for path in ("/console/workspaces", "/console/static/app.js", "/console/api/session"):
        assert browser.get(path).status_code == 200
    assert browser.get("/v1/Workspaces", headers={CSRF: csrf}).status_code == 200
    assert len(slept) == 2


def test_hostile_sign_in_bodies_get_a_4xx(browser: TestClient) -> None:
    json_type = {"content-type": "application/json"}
    for body, headers in (
            (b"username=" + b"A" * 2_000_000, {}),
            (b"[1, 2]", json_type), (b"5", json_type), (b"{", json_type),
            (b"[" * 100_000 + b"]" * 100_000, json_type),
            (b'{"username": {"a": 1}, "password": null}', json_type),
            (b"username=\xff\xfe&password=%00", {}),
            (b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\nb\r\n--x--\r\n",
             {"content-type": "multipart/form-data; boundary=x"})):
        reply = browser.post("/console/api/session", content=body, headers=headers)
        assert 400 <= reply.status_code < 500, (body[:20], reply.text)
        assert COOKIE not in reply.headers.get("set-cookie", "")
    # The sign-in's body is small: a larger one is refused before it is read or parsed.
    many_fields = b"&".join(b"f%d=x" % n for n in range(100_000))
    reply = browser.post("/console/api/session", content=many_fields)
    assert reply.status_code == 413 and reply.json()["code"] == 20413


def test_the_cookie_is_secure_over_https(runtime: Runtime) -> None:
    # Over https, or behind a proxy ending TLS (the request looks like http; --public-url
    # says https).
    for app, base in ((create_app(runtime), "https://testserver"),
                      (create_app(runtime, "https://switchboard.example"), "http://testserver")):
        with TestClient(app, base_url=base) as client:
            reply = client.post("/console/api/session", data={"username": ACCOUNT_SID,
                                                              "password": AUTH_TOKEN})
            cookie = reply.headers["set-cookie"]
            assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    with TestClient(create_app(runtime), base_url="http://testserver") as client:
        reply = client.post("/console/api/session", data={"username": ACCOUNT_SID,
                                                          "password": AUTH_TOKEN})
        assert "Secure" not in reply.headers["set-cookie"]  # plain http on loopback works


def test_the_stream_needs_a_session_or_credentials_and_is_bounded(
        client: TestClient, browser: TestClient) -> None:
    ws = client.post("/v1/Workspaces", data={"FriendlyName": "mine"}).json()["sid"]
    path = f"/console/api/workspaces/{ws}/stream"
    assert browser.get(path).status_code == 401  # no session
    sign_in(browser)
    assert browser.get(path).status_code == 401  # the cookie without its CSRF header
    feed = client.app.state.console_feed  # type: ignore[attr-defined]
    feed.streams[ACCOUNT_SID] = feed.max_streams  # as many pages as it may open
    reply = client.get(path)
    assert reply.status_code == 429 and reply.json()["code"] == 20429


def test_the_pages_files_are_revalidated_on_every_load(browser: TestClient) -> None:
    first = browser.get("/console/static/app.js")
    assert first.headers["cache-control"] == "no-cache"
    assert first.headers["x-content-type-options"] == "nosniff"
    again = browser.get("/console/static/app.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
