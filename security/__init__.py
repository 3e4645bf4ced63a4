"""Who may see and do what, on the Flask side of the Dash app.

`install(app)` once, after every callback is registered:
- sessions (Flask-Login over a signed cookie), sign-in with local users or OpenID Connect;
- wall screens signed in by a token cookie;
- the guard: every page, callback, export and route checked against `security.roles`;
- CSRF double-submit on every POST (Dash's renderer already echoes the cookie);
- request size limit, Content-Security-Policy and hardening headers, debug off.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from security.cookies import check_csrf, install_session, secure_wanted, set_csrf_cookie
from security.guard import ROUTER, CallbackPages, check
from security.headers import add_headers
from security.principal import install_login, resolve, screen_identity
from security.roles import may, signed_route

__all__ = ["ROUTER", "install", "may", "may_open_path", "resolve", "screen_identity"]


def may_open_path(path: str) -> bool:
    """Whether the current request's principal may open the page at `path` (for links)."""
    from flask import has_request_context

    from security.roles import PAGE_PATHS, PUBLIC, may_open

    page = PAGE_PATHS.get(path.rstrip("/") or "/")
    role = resolve().role if has_request_context() else PUBLIC
    return page is not None and may_open(role, page)


def _config():
    from damamaya import runtime

    return runtime.config()


def install(app) -> CallbackPages:
    """Wire security into a Dash app whose callbacks are all registered. Returns the
    callback -> page map (its `undeclared` list names callbacks that every request refuses)."""
    server: Flask = app.server
    server.debug = False
    server.config.update(DEBUG=False, PROPAGATE_EXCEPTIONS=False)
    hops = _config().auth.proxy_hops
    if hops:
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    install_session(server)
    install_login(server)
    from security.oidc import install_oidc
    from security.views import bp, incident_bp

    server.register_blueprint(bp)
    server.register_blueprint(incident_bp)
    install_oidc(server)

    callback_pages = CallbackPages(app.callback_map)
    scripts = _ScriptHashes(app)

    @server.before_request
    def _guard():
        cfg = _config()
        limit = cfg.auth.max_request_kb * 1024
        server.permanent_session_lifetime = timedelta(hours=cfg.auth.session_hours)
        if signed_route(request.path) and request.method == "POST":
            return None  # it checks its HMAC signature and its own body limit before reading
        request.max_content_length = limit  # also bounds a body sent without Content-Length
        if request.content_length is not None and request.content_length > limit:
            return _too_large()
        check_csrf()
        return check(callback_pages)

    @server.after_request
    def _headers(response: Response):
        if response.status_code != 413:
            set_csrf_cookie(response)
        return add_headers(response, scripts.hashes(), _config(), secure_wanted())

    @server.errorhandler(RequestEntityTooLarge)
    def _413(_exc):
        return _too_large()

    return callback_pages


class _ScriptHashes:
    """The CSP hashes of Dash's inline scripts: taken after Dash's own setup (its first
    request registers more) and again whenever a callback is added."""

    def __init__(self, app):
        self.app, self.size, self.value = app, -1, ()

    def hashes(self) -> tuple[str, ...]:
        if len(self.app.callback_map) != self.size:
            self.size = len(self.app.callback_map)
            self.value = tuple(self.app.csp_hashes())
        return self.value


def _too_large() -> Response:
    """413 before the body is read (the guard looks at Content-Length only)."""
    return Response('{"error":"too-large","message":"request body over the limit"}', 413,
                    {"Content-Type": "application/json"})
