"""Cookies: the signed session (key shared by all workers), the CSRF double-submit token.

The session cookie is SameSite=Lax so that the return from a city's SSO (a
cross-site top-level GET) still carries the sign-in state; everything that changes
state is a POST guarded by the CSRF token, whose cookie is SameSite=Strict.
"""
from __future__ import annotations

import hmac
import os
import secrets
from datetime import timedelta
from functools import lru_cache

from flask import Flask, Response, abort, request, session
from flask.sessions import SecureCookieSessionInterface

CSRF_COOKIE = "_csrf_token"  # the name dash-renderer reads and echoes as X-CSRFToken
CSRF_HEADER = "X-CSRFToken"
CSRF_FIELD = "csrf_token"  # the sign-in form's hidden field
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _config():
    from damamaya import runtime

    return runtime.config()


def secure_wanted() -> bool:
    mode = _config().auth.secure_cookies
    return mode == "always" or (mode == "auto" and request.is_secure)


def session_secret() -> str:
    """DAMAMAYA_SECRET_KEY, or a key made once in the history database (read once per process)."""
    from damamaya import runtime

    return os.environ.get("DAMAMAYA_SECRET_KEY") or _stored_secret(runtime.config().database.url)


@lru_cache(maxsize=8)
def _stored_secret(database_url: str) -> str:
    from security.principal import accounts

    return accounts().secret("session")


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed cookie session with the key read at request time (the database and
    environment are known then, not at import) and Secure following the request."""

    def get_signing_serializer(self, app: Flask):
        app.secret_key = session_secret()
        return super().get_signing_serializer(app)

    def get_cookie_secure(self, app: Flask) -> bool:
        return secure_wanted()


def install_session(app: Flask) -> None:
    app.session_interface = SessionCookies()
    # Not refreshed on every request: a session ends auth.session_hours after sign-in, not after
    # the last poll (a wall left signed in would otherwise never end), and polls set no cookie.
    app.config.update(SESSION_COOKIE_NAME="dmy_session", SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_REFRESH_EACH_REQUEST=False)
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=12)


def csrf_token() -> str:
    """This session's token (made on first need)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    """Refuse (403) a state-changing request whose token is missing or not this session's."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent and _is_form():
        sent = request.form.get(CSRF_FIELD)
    expected = session.get("csrf")
    if not sent or not expected or not hmac.compare_digest(str(sent), str(expected)):
        abort(Response('{"error":"csrf","message":"missing or wrong CSRF token"}', 403,
                       {"Content-Type": "application/json", "X-Damamaya-Denied": "csrf"}))


def _is_form() -> bool:
    return request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")


def set_csrf_cookie(response: Response) -> Response:
    """Give the browser this session's token where dash-renderer looks for it."""
    token = csrf_token()
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, secure=secure_wanted(), httponly=False, samesite="Strict", path="/")
    return response
