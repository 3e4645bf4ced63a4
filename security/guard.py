"""Every request checked on the server before it reaches a page, callback, export or route.

- `/_dash-update-component`: the callback is looked up by its output key in a map
  built once from `app.callback_map` after all callbacks are registered; each
  callbacks module declares `PAGE = "<page>"` (or `PAGE = ROUTER` for the callback
  that renders a page from the URL, whose page is then the URL's). A callback of no
  known page is refused: closed by default.
- Page paths (Dash's index for /wall, /kpi, ...): a redirect to sign-in for the
  public, 403 for a signed-in role without the page.
- Other server routes must be named in `roles.ROUTES` or be Dash's own static parts.
"""
from __future__ import annotations

import sys

from flask import Response, redirect, request

from security import roles
from security.principal import Principal, resolve
from security.views import denied_json, denied_page

ROUTER = "@router"  # PAGE of a callbacks module whose callback renders the page of the URL
DASH_PAGES_ROUTER_INPUT = "_pages_location"  # Dash pages' own routing callback reads this Location

DASH_STATIC_ENDPOINTS = frozenset({
    "static", "_dash_assets.static", "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",
    "/_dash-layout", "/_dash-dependencies", "/_reload-hash", "/_favicon.ico",
})
DASH_INDEX_ENDPOINTS = frozenset({"/", "/<path:path>"})
CALLBACK_ENDPOINT = "/_dash-update-component"
OPEN_BLUEPRINTS = frozenset({"security", "security_oidc"})  # sign-in, sign-out, screen link, SSO


class CallbackPages:
    """Output key of every server callback -> the page it belongs to (or ROUTER).

    Built from the app's callback map, and built again when that map grows: Dash pages
    registers its routing callback at the app's first request, after `install`."""

    def __init__(self, callback_map: dict):
        self.callback_map = callback_map
        self._build()

    def _build(self) -> None:
        self.size = len(self.callback_map)
        self.pages: dict[str, str] = {}
        self.undeclared: list[str] = []
        for key, spec in list(self.callback_map.items()):
            if "callback" not in spec:
                continue  # clientside: runs in the browser, never posts here
            page = _declared_page(spec, key)
            if page is None:
                self.undeclared.append(key)
            else:
                self.pages[key] = page

    def page_of(self, output_key: str) -> str | None:
        if len(self.callback_map) != self.size:
            self._build()
        return self.pages.get(output_key)


def _declared_page(spec: dict, key: str) -> str | None:
    func = spec.get("callback")
    module_name = getattr(func, "__module__", "") or ""  # functools.wraps in Dash keeps the module
    if any(i.get("id") == DASH_PAGES_ROUTER_INPUT for i in spec.get("inputs", [])):
        return ROUTER
    page = getattr(sys.modules.get(module_name), "PAGE", None)
    return page if page == ROUTER or page in roles.PAGES else None


# ---- the check ------------------------------------------------------------------------------

def check(callback_pages: CallbackPages) -> Response | None:
    """None to let the request through, else the refusal."""
    rule = request.url_rule
    endpoint = rule.endpoint if rule is not None else None
    if endpoint is None:
        return None  # 404 or 405 follows; nothing is served
    if endpoint in DASH_STATIC_ENDPOINTS or endpoint.partition(".")[0] in OPEN_BLUEPRINTS and "." in endpoint:
        return None
    who = resolve()
    if endpoint == CALLBACK_ENDPOINT:
        return _check_callback(who, callback_pages)
    if endpoint in DASH_INDEX_ENDPOINTS:
        return _check_page(who, request.path)
    allowed = roles.route_allows(who.role, request.path)
    if allowed:
        return None
    if allowed is None and request.path.rstrip("/") in roles.PAGE_PATHS:
        return _check_page(who, request.path)
    return denied_page(who)


def _check_page(who: Principal, path: str) -> Response | None:
    path = path.rstrip("/") or "/"
    if path == "/":
        return redirect(roles.HOME[who.role] if who.signed_in or not who.screen_revoked else "/login", 302)
    page = roles.PAGE_PATHS.get(path)
    if page is None:
        return None if who.signed_in else denied_page(who)  # Dash shows "page not found" to a signed-in user
    return None if roles.may_open(who.role, page) else denied_page(who)


def _check_callback(who: Principal, callback_pages: CallbackPages) -> Response | None:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("output"), str):
        return Response('{"error":"bad-request","message":"not a Dash callback request"}', 400,
                        {"Content-Type": "application/json"})
    page = callback_pages.page_of(body["output"])
    if page is None:
        return denied_json(who)
    if page == ROUTER:
        path = _routed_path(body)
        page = roles.PAGE_PATHS.get(path.rstrip("/") or "/") if path is not None else None
        if page is None:
            return None if who.signed_in or path in ("/", "") else denied_json(who)
    return None if roles.may_open(who.role, page) else denied_json(who)


def _routed_path(body: dict) -> str | None:
    for item in body.get("inputs") or []:
        if isinstance(item, dict) and item.get("property") == "pathname":
            value = item.get("value")
            return value if isinstance(value, str) else "/"
    return None
