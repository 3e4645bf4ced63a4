"""Server-rendered pages of security: sign-in, sign-out, a wall screen's token link, refusals,
and one incident with its caller's private details (dispatcher and admin, audited).

Plain HTML, no script at all (the CSP allows none inline); labels from the message catalog.
"""
from __future__ import annotations

import json
from functools import lru_cache
from urllib.parse import quote, urlsplit

import orjson
from flask import Blueprint, Response, current_app, redirect, request, session
from flask_login import login_user, logout_user
from markupsafe import Markup
from sqlalchemy import select

from layouts.messages import t
from security import roles
from security.cookies import CSRF_FIELD, csrf_token, secure_wanted
from security.principal import SCREEN_COOKIE, Principal, SignedInUser, accounts, remote_address, resolve
from security.ratelimit import LimiterUnavailable, allow_login_attempt

bp = Blueprint("security", __name__)
incident_bp = Blueprint("incident", __name__)

SCREEN_COOKIE_DAYS = 400

_PAGE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title><link rel="stylesheet" href="/assets/style.css"><link rel="stylesheet" href="/assets/security.css"></head>
<body class="auth-page"><main class="auth-box">{{ body }}</main></body></html>"""

_LOGIN = """<h1>{{ t('auth.title') }}</h1>
{% if error %}<p class="auth-error" role="alert">{{ error }}</p>{% endif %}
{% if notice %}<p class="auth-notice">{{ notice }}</p>{% endif %}
<form method="post" action="/login" class="auth-form">
<input type="hidden" name="{{ field }}" value="{{ token }}"><input type="hidden" name="next" value="{{ next }}">
<label>{{ t('auth.username') }}<input name="username" autocomplete="username" required autofocus maxlength="80"></label>
<label>{{ t('auth.password') }}<input name="password" type="password" autocomplete="current-password" required maxlength="1000"></label>
<button type="submit">{{ t('auth.submit') }}</button></form>
{% if sso %}<p class="auth-or">{{ t('auth.or') }}</p>
<p><a class="auth-sso" href="/auth/oidc/login?next={{ next|urlencode }}">{{ t('auth.sso', label=sso) }}</a></p>{% endif %}
<p class="auth-alt"><a href="/publik">{{ t('auth.public_page') }}</a> · <a href="?lang={{ other }}">{{ other_label }}</a></p>"""

_FORBIDDEN = """<h1>{{ heading }}</h1>
{% if who %}<p>{{ t('auth.signed_in_as', name=who.name, role=who.role) }}</p>{% endif %}
{% if pages %}<p>{{ t('auth.your_pages') }}</p><ul>{% for p in pages %}<li><a href="{{ p }}">{{ p }}</a></li>{% endfor %}</ul>{% endif %}
{% if who %}<form method="post" action="/logout"><input type="hidden" name="{{ field }}" value="{{ token }}">
<button type="submit">{{ t('auth.logout') }}</button></form>{% endif %}"""

_INCIDENT = """<h1>{{ t('incident.title', uid=uid) }}</h1>
<table class="auth-table"><tr><th>{{ t('incident.field') }}</th><th>{{ t('incident.value') }}</th></tr>
{% for k, v in public %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}</table>
<h2>{{ t('incident.private') }}</h2>
{% if private %}<table class="auth-table private">{% for k, v in private %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}</table>
{% else %}<p>{{ t('incident.no_private') }}</p>{% endif %}"""


def language() -> str:
    from damamaya import runtime

    asked = request.args.get("lang")
    return asked if asked in ("id", "en") else runtime.config().language


def message(key: str, **values) -> str:
    return t(key, language(), **values)


@lru_cache(maxsize=16)
def _template(source: str):
    """Compiled once (Flask's render_template_string compiles on every call); autoescaped."""
    return current_app.jinja_env.from_string(source)


def _render(title: str, body_template: str, status: int = 200, **values) -> Response:
    lang = language()
    body = _template(body_template).render(t=lambda key, **v: t(key, lang, **v), field=CSRF_FIELD,
                                           token=csrf_token(), **values)
    html = _template(_PAGE).render(lang=lang, title=title, body=Markup(body))  # escaped when rendered above
    return Response(html, status, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"})


def _safe_next(target: str | None, role: str) -> str:
    """Only a path on this site (no scheme, no host, no //): an open redirect is refused."""
    parts = urlsplit(target or "")
    if not target or parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return roles.HOME.get(role, "/")
    return target


def login_page(status: int = 200, error: str = "", notice: str = "") -> Response:
    from damamaya import runtime

    oidc = runtime.config().auth.oidc
    lang = language()
    other = "en" if lang == "id" else "id"
    return _render(message("auth.title"), _LOGIN, status, error=error, notice=notice,
                   next=request.values.get("next", ""), sso=oidc.label if oidc else "",
                   other=other, other_label="English" if other == "en" else "Bahasa Indonesia")


@bp.get("/login")
def login_form():
    return login_page()


@bp.post("/login")
def login_submit():
    from damamaya import runtime

    cfg = runtime.config()
    try:
        if not allow_login_attempt(cfg.redis.url, cfg.auth.login_rate, remote_address()):
            return login_page(429, message("auth.rate_limited"))
    except LimiterUnavailable:
        return login_page(503, message("auth.unavailable"))
    name = request.form.get("username", "")[:80]
    user = accounts().authenticate(name, request.form.get("password", "")[:1000])
    if user is None:
        return login_page(401, message("auth.wrong"))
    sign_in(user.name, user.role)
    return redirect(_safe_next(request.form.get("next"), user.role), 303)


def sign_in(name: str, role: str) -> None:
    """A fresh session for a person who proved who they are (no fixation of an old one)."""
    session.clear()
    login_user(SignedInUser(name, role))
    session.permanent = True  # ends after auth.session_hours (set per request in security.install)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    logout_user()
    session.clear()
    return login_page(notice=message("auth.signed_out"))


@bp.get("/screen/<token>")
def screen_link(token: str):
    """An unattended wall opens its link once: the token becomes a cookie and leaves the URL."""
    screen = accounts().screen_for_token(token[:200])
    if screen is None or screen.revoked_at is not None:
        return _render(message("auth.screen_unknown"), "<h1>{{ t('auth.screen_unknown') }}</h1>", 403)
    response = redirect("/wall", 303)
    response.set_cookie(SCREEN_COOKIE, token, max_age=SCREEN_COOKIE_DAYS * 86400, secure=secure_wanted(),
                        httponly=True, samesite="Strict", path="/")
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def forbidden_page(who) -> Response:
    pages = [path for path, page in roles.PAGE_PATHS.items() if roles.may_open(who.role, page) and page != "insiden"]
    return _render(message("auth.forbidden"), _FORBIDDEN, 403, heading=message("auth.forbidden"), who=who, pages=pages)


def screen_revoked_page() -> Response:
    response = _render(message("auth.screen_revoked"), _FORBIDDEN, 403, heading=message("auth.screen_revoked"),
                       who=None, pages=[])
    response.headers["X-Damamaya-Denied"] = "screen-revoked"
    return response


# ---- refusals -------------------------------------------------------------------------------

def denied_json(who: Principal, reason: str = "forbidden") -> Response:
    """403 for a callback: a marker the screens' JS turns into a message."""
    if who.screen_revoked:
        reason = "screen-revoked"
    elif not who.signed_in:
        reason = "signed-out"
    text = {"screen-revoked": message("auth.screen_revoked"), "signed-out": message("auth.session_ended")}.get(
        reason, message("auth.forbidden"))
    body = json.dumps({"error": reason, "message": text})
    return Response(body, 403, {"Content-Type": "application/json", "X-Damamaya-Denied": reason, "Cache-Control": "no-store"})


def denied_page(who: Principal) -> Response:
    """A page or export: the public goes to sign-in, a signed-in role without it gets 403."""
    if who.screen_revoked:
        return screen_revoked_page()
    if not who.signed_in:
        target = request.full_path.rstrip("?") if request.query_string else request.path
        return redirect(f"/login?next={quote(target, safe='/')}", 302)
    return forbidden_page(who)


# ---- one incident with its private details ----------------------------------------------------------

@incident_bp.get("/insiden")
def incident():
    """Dispatcher and admin: one record, its caller's details included; every view is an audit row."""
    from damamaya import runtime
    from engine.history import records

    who = resolve()
    if not roles.may(who.role, "incident.private"):  # the guard refused already; the route checks again
        return denied_page(who)
    uid = request.args.get("uid", "")[:400]
    source, _, record_id = uid.partition(":")
    with runtime.history().engine.connect() as conn:
        payload = conn.execute(select(records.c.payload).where(records.c.source == source,
                                                               records.c.record_id == record_id)).scalar()
    if payload is None:
        return _render(message("incident.not_found"), "<h1>{{ t('incident.not_found') }}</h1>", 404)
    record = orjson.loads(payload)
    details = dict(record.pop("details", None) or {})
    private = details.pop("private", None) or {}
    private = private if isinstance(private, dict) else {"private": private}
    accounts().audit(f"{who.kind}:{who.name}", "incident.private", uid, sorted(private), remote_address())
    public = [(k, _show(v)) for k, v in record.items()] + [(f"details.{k}", _show(v)) for k, v in details.items()]
    return _render(message("incident.title", uid=uid), _INCIDENT, uid=uid, public=public,
                   private=[(k, _show(v)) for k, v in sorted(private.items())])


def _show(value) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()
