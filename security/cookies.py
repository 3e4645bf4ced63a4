"""Cookies: the signed session (key shared by all workers), the CSRF double-submit token.

The session cookie is SameSite=Lax so that the return from a city's SSO (a
cross-site top-level GET) still carries the sign-in state; everything that changes
state is a POST guarded by the CSRF token, whose cookie is SameSite=Strict.
"""
from __future__ import annotations

import copy
import hmac
import os
import secrets
import threading
import time
from collections import OrderedDict
from datetime import timedelta
from functools import lru_cache

from flask import Flask, Response, abort, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

CSRF_COOKIE = "_csrf_token"  # the name dash-renderer reads and echoes as X-CSRFToken
CSRF_HEADER = "X-CSRFToken"
CSRF_FIELD = "csrf_token"  # the sign-in form's hidden field
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
VERIFIED_COOKIES = 2048  # session cookies remembered as verified, per process


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
    environment are known then, not at import) and Secure following the request.

    A cookie whose signature checked out is remembered per process (with the key it was
    checked with, and when it was signed): a wall sends the same cookie with every check,
    and verifying it again was a tenth of the check's time. Its age is still checked on
    every request; a new key checks every cookie again."""

    def __init__(self):
        self._serializer: tuple[tuple, object] = ((), None)
        self._verified: OrderedDict[tuple[str, str], tuple[dict, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get_signing_serializer(self, app: Flask):
        app.secret_key = session_secret()
        key = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        held_key, held = self._serializer
        if held_key != key:
            held = super().get_signing_serializer(app)
            self._serializer = (key, held)
        return held

    def open_session(self, app: Flask, request):
        serializer = self.get_signing_serializer(app)
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        key = (app.secret_key, value)
        with self._lock:
            hit = self._verified.get(key)
        if hit is None:
            try:
                data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
            except BadSignature:
                return self.session_class()
            hit = (data, signed_at.timestamp())
            with self._lock:
                self._verified[key] = hit
                while len(self._verified) > VERIFIED_COOKIES:
                    self._verified.popitem(last=False)
        elif time.time() - hit[1] > max_age:
            return self.session_class()  # expired since it was checked: as itsdangerous would say
        return self.session_class(copy.deepcopy(hit[0]))

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
