"""Sessions, cookies, CSRF, headers, request size, wall screen tokens and sign-in, on the real app."""
from __future__ import annotations

import re
import uuid

from secure_client import ROLE_USERS, callback_body, client_as, csrf_of, post_callback, sign_in, wall_state


def _wall_poll(app):
    key = next(k for k in app.callback_map if "wall-state.data" in k)
    return callback_body(app, key, {("wall-state", "data"): wall_state()})


# ---- CSRF ---------------------------------------------------------------------------------------

def test_a_callback_without_or_with_a_wrong_csrf_token_is_refused(secured):
    app_module, _ = secured
    client = client_as(app_module, "operator")
    body = _wall_poll(app_module.app)
    missing = post_callback(client, body, csrf=None)
    assert missing.status_code == 403 and missing.headers["X-Damamaya-Denied"] == "csrf"
    wrong = post_callback(client, body, csrf="not-the-token")
    assert wrong.status_code == 403 and wrong.headers["X-Damamaya-Denied"] == "csrf"
    other_session = client_as(app_module, "operator")  # a valid token, of another session
    stolen = post_callback(client, body, csrf=csrf_of(other_session))
    assert stolen.status_code == 403
    right = post_callback(client, body)
    assert right.status_code in (200, 204)


def test_sign_in_form_needs_the_csrf_field(secured):
    app_module, _ = secured
    client = app_module.server.test_client()
    client.get("/login")
    response = client.post("/login", data={"username": ROLE_USERS["admin"], "password": "x" * 12})
    assert response.status_code == 403
    assert client.get("/wall").status_code == 302


def test_sign_out_ends_the_session(secured):
    app_module, _ = secured
    client = client_as(app_module, "operator")
    assert client.get("/wall").status_code == 200
    assert client.post("/logout", headers={"X-CSRFToken": csrf_of(client)}).status_code == 200
    assert client.get("/wall").status_code == 302
    assert post_callback(client, _wall_poll(app_module.app)).headers["X-Damamaya-Denied"] == "signed-out"


def test_a_session_cookie_once_verified_is_still_refused_when_expired_or_tampered(secured, monkeypatch):
    import time
    from types import SimpleNamespace

    import security.cookies as cookies

    app_module, _ = secured
    client = client_as(app_module, "operator")
    assert client.get("/wall").status_code == 200
    assert client.get("/wall").status_code == 200  # the second time from the verified cookies it remembers
    value = client.get_cookie("dmy_session").value
    forged = app_module.server.test_client()
    forged.set_cookie("dmy_session", value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB"))
    assert forged.get("/wall").status_code == 302
    later = time.time() + 400 * 24 * 3600  # past any auth.session_hours
    monkeypatch.setattr(cookies, "time", SimpleNamespace(time=lambda: later))
    assert client.get("/wall").status_code == 302


# ---- cookies and headers ------------------------------------------------------------------------

def _set_cookies(response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}


def test_cookies_are_httponly_samesite_and_secure_over_https(secured):
    app_module, _ = secured
    client = app_module.server.test_client()
    page = client.get("/login", base_url="https://damamaya.test")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post("/login", base_url="https://damamaya.test",
                           data={"username": ROLE_USERS["analyst"], "password": "correct horse battery staple",
                                 "csrf_token": token})
    assert response.status_code == 303
    cookies = _set_cookies(response)
    session = cookies["dmy_session"]
    assert "Secure" in session and "HttpOnly" in session and "SameSite=Lax" in session
    csrf = _set_cookies(page)["_csrf_token"]
    assert "Secure" in csrf and "SameSite=Strict" in csrf and "HttpOnly" not in csrf  # dash-renderer reads it
    plain = app_module.server.test_client().get("/login")
    assert "Secure" not in _set_cookies(plain)["_csrf_token"]  # auto: plain http on a LAN keeps working


def test_security_headers_on_pages_and_callbacks(secured):
    app_module, _ = secured
    client = client_as(app_module, "operator")
    for response in (client.get("/wall"), client.get("/login"), post_callback(client, _wall_poll(app_module.app))):
        csp = response.headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert "'unsafe-inline'" not in directives["script-src"] and "'unsafe-eval'" not in directives["script-src"]
        assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
    import base64
    import hashlib

    page = client.get("/wall")
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>(.*?)</script>",
                        re.sub(r"<!--.*?-->", "", page.text, flags=re.S), re.S)  # (Dash's IE warning sits in a comment)
    policy = page.headers["Content-Security-Policy"]
    assert inline
    for script in inline:  # every inline script Dash writes runs by its hash, no other
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy, script[:80]


def test_debug_is_never_on(secured):
    """No Werkzeug debugger, no exceptions propagated to the server, no Dash dev tools UI."""
    app_module, _ = secured
    server = app_module.server
    assert server.debug is False and server.config["DEBUG"] is False and server.config["PROPAGATE_EXCEPTIONS"] is False
    assert not app_module.app._dev_tools.ui and not app_module.app._dev_tools.hot_reload


# ---- request size -------------------------------------------------------------------------------

def test_a_callback_over_the_size_limit_gets_413_unread(secured):
    app_module, _ = secured
    client = client_as(app_module, "operator")
    body = b'{"output": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = client.post("/_dash-update-component", data=body, content_type="application/json",
                           headers={"X-CSRFToken": csrf_of(client)})
    assert response.status_code == 413
    # what gunicorn hands the app for a 52 MB POST: a stream that must never be read
    class Unreadable:
        def read(self, *_):
            raise AssertionError("the body was read")

        readline = read

    environ = {"CONTENT_LENGTH": str(52 * 1024 * 1024), "wsgi.input": Unreadable()}
    response = client.post("/_dash-update-component", environ_overrides=environ, content_type="application/json",
                           headers={"X-CSRFToken": csrf_of(client)})
    assert response.status_code == 413


# ---- wall screens by token ----------------------------------------------------------------------

def test_a_screen_link_becomes_a_cookie_and_leaves_the_url(secured):
    app_module, accounts = secured
    name = f"lobby-{uuid.uuid4().hex[:6]}"
    token = accounts.add_screen(name)
    assert len(token) >= 43
    client = app_module.server.test_client()
    response = client.get(f"/screen/{token}", base_url="https://damamaya.test")
    assert response.status_code == 303 and response.headers["Location"] == "/wall"
    cookie = _set_cookies(response)["dmy_screen"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    assert token not in str(accounts.screens())  # only a hash is stored
    assert client.get("/wall", base_url="https://damamaya.test").status_code == 200
    assert client.get("/kpi", base_url="https://damamaya.test").status_code == 403  # a screen is a wall, nothing else


def test_a_revoked_screen_is_told_at_its_next_poll(secured):
    app_module, accounts = secured
    name = f"hall-{uuid.uuid4().hex[:6]}"
    client = client_as(app_module, "screen", f"/screen/{accounts.add_screen(name)}")
    body = _wall_poll(app_module.app)
    assert post_callback(client, body).status_code in (200, 204)
    accounts.revoke_screen(name)
    refused = post_callback(client, body)
    assert refused.status_code == 403
    assert refused.headers["X-Damamaya-Denied"] == "screen-revoked"
    assert refused.get_json()["error"] == "screen-revoked" and "revoked" in refused.get_json()["message"]
    page = client.get("/wall")
    assert page.status_code == 403 and "revoked" in page.text
    assert app_module.server.test_client().get(f"/screen/{'x' * 43}").status_code == 403


def test_screen_identity_comes_from_the_server(secured):
    """The heartbeat key is the screen's registered name, or the user plus a server-made id:
    nothing the browser sends."""
    app_module, accounts = secured
    from security import screen_identity

    name = f"foyer-{uuid.uuid4().hex[:6]}"
    screen = client_as(app_module, "screen", f"/screen/{accounts.add_screen(name)}")
    with screen.application.test_request_context("/_dash-update-component", method="POST",
                                                 headers={"Cookie": f"dmy_screen={screen.get_cookie('dmy_screen').value}"}):
        assert screen_identity() == f"screen:{name}"
    with app_module.server.test_request_context("/_dash-update-component", method="POST"):
        assert screen_identity() is None  # the public is no wall


# ---- sign-in ------------------------------------------------------------------------------------

def test_wrong_password_unknown_user_and_disabled_user_cannot_sign_in(secured):
    app_module, accounts = secured
    client = app_module.server.test_client()
    assert sign_in(client, ROLE_USERS["operator"], "wrong password!").status_code == 401
    assert sign_in(client, "nobody-here").status_code == 401
    name = f"leaver-{uuid.uuid4().hex[:6]}"
    accounts.add_user(name, "operator", "a long enough password")
    signed = app_module.server.test_client()
    assert sign_in(signed, name, "a long enough password").status_code == 303
    assert signed.get("/wall").status_code == 200
    accounts.disable_user(name)
    assert signed.get("/wall").status_code == 302  # the session ends at its next request
    assert sign_in(app_module.server.test_client(), name, "a long enough password").status_code == 401


def test_sign_in_goes_back_only_to_a_path_of_this_site(secured):
    app_module, _ = secured
    ok = sign_in(app_module.server.test_client(), ROLE_USERS["analyst"], next_path="/kpi?period=30d")
    assert ok.headers["Location"] == "/kpi?period=30d"
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = sign_in(app_module.server.test_client(), ROLE_USERS["analyst"], next_path=evil)
        assert response.headers["Location"] == "/history"


def test_sign_in_page_has_no_inline_script_and_speaks_both_languages(secured):
    app_module, _ = secured
    client = app_module.server.test_client()
    english = client.get("/login").text
    assert "<script" not in english and "Sign in to Damamaya" in english
    assert "Masuk ke Damamaya" in client.get("/login?lang=id").text


def test_login_is_rate_limited_in_redis(tmp_path, embedded_redis_url, secured):
    import os

    import redis
    from secure_client import point_runtime_at, write_config

    app_module, _ = secured
    before = os.environ["DAMAMAYA_CONFIG"]
    point_runtime_at(write_config(tmp_path / "config.yaml", embedded_redis_url, f"sqlite:///{tmp_path}/h.sqlite",
                                  auth="  login_rate: 3/minute"))
    try:
        client = app_module.server.test_client()
        environ = {"REMOTE_ADDR": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"}
        codes = []
        for _ in range(4):
            page = client.get("/login", environ_overrides=environ)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            codes.append(client.post("/login", environ_overrides=environ,
                                     data={"username": "nobody", "password": "wrong password!!", "csrf_token": token}).status_code)
        assert codes == [401, 401, 401, 429]
        keys = [k.decode() for k in redis.Redis.from_url(embedded_redis_url).keys("*login*")]
        assert any(environ["REMOTE_ADDR"] in k for k in keys), keys  # counted in Redis: shared by every worker
    finally:
        point_runtime_at(before)


def test_what_the_visitor_sends_is_escaped_on_the_sign_in_page(secured):
    app_module, _ = secured
    page = app_module.server.test_client().get('/login?next="><script>alert(1)</script>').text
    assert "<script>" not in page and "&lt;script&gt;" in page or "%3Cscript%3E" in page


def test_signed_push_routes_need_no_session_or_csrf_but_every_other_route_does(secured):
    """/api/v1/ingest/ checks its own HMAC signature: the guard lets it through to that check
    (no role, no CSRF token); a route prefix nobody named is refused."""
    from security import roles

    assert roles.signed_route("/api/v1/ingest/calls-112")
    assert not roles.signed_route("/api/v1/incidents.csv") and not roles.signed_route("/wall")
    assert roles.route_allows("public", "/api/v1/ingest/x") is True
    assert roles.route_allows("admin", "/somewhere/else") is None


def test_the_wall_heartbeat_is_keyed_by_the_server_identity_not_the_posted_state(secured):
    """A poll carrying any screen id of its own counts only as the screen the server knows."""
    from damamaya import runtime

    app_module, accounts = secured
    live = runtime.live()
    name = f"atrium-{uuid.uuid4().hex[:6]}"
    screen = client_as(app_module, "screen", f"/screen/{accounts.add_screen(name)}")
    forged = {**wall_state(), "screen": "f" * 32}
    key = next(k for k in app_module.app.callback_map if "wall-state.data" in k)
    body = callback_body(app_module.app, key, {("wall-state", "data"): forged})
    assert post_callback(screen, body).status_code in (200, 204)
    operator = client_as(app_module, "operator")
    assert post_callback(operator, body).status_code in (200, 204)
    assert post_callback(app_module.server.test_client(), body).status_code == 403  # the public: no heartbeat
    seen = live.screens()
    assert f"screen:{name}" in seen
    assert any(k.startswith(f"{ROLE_USERS['operator']}@") for k in seen)
    assert "f" * 32 not in seen


def test_a_session_is_not_extended_by_every_request(secured):
    """It ends auth.session_hours after sign-in: polls and pages set no new session cookie."""
    app_module, _ = secured
    client = client_as(app_module, "operator")
    client.get("/wall")
    body = _wall_poll(app_module.app)
    post_callback(client, body)  # the first poll gives this browser its wall id
    again = post_callback(client, body)
    assert again.status_code in (200, 204)
    assert "dmy_session" not in _set_cookies(again) and "dmy_session" not in _set_cookies(client.get("/wall"))
