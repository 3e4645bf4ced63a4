"""What every screen shares: the nav (built from Dash's page registry), the
"live store unreachable, retrying" view and the guard that shows it.

Each screen is one module of layouts/ that registers itself with Dash and exposes
`layout(**query)`; nothing here lists the screens.
"""
from __future__ import annotations

import functools

import dash
from dash import dcc, html
from redis.exceptions import RedisError

from damamaya import runtime
from layouts.messages import t


def language() -> str:
    return runtime.config().language


def nav(current: str = ""):
    """Links to every screen registered with a `nav` message key that this session may open
    (security decides; the server refuses the others anyway), in their `order`, and sign-out."""
    from security import may_open_path

    lang = language()
    pages = sorted((p for p in dash.page_registry.values() if p.get("nav") and may_open_path(p["path"])),
                   key=lambda p: p["order"])
    links = [dcc.Link(t(p["nav"], lang), href=p["path"], className="active" if p["path"] == current else "")
             for p in pages]
    return html.Nav(links + [html.A(t("auth.logout", lang), href="/logout", className="nav-logout")], className="nav")


def unavailable(reason: str):
    """The screen while the live store cannot be reached: says so and reloads by itself."""
    lang = language()
    return html.Div([
        html.H1(t("page.unavailable", lang)),
        html.P(reason, className="unavailable-reason"),
        html.P(t("page.retrying", lang)),
        dcc.Interval(id="retry-page", interval=5000, max_intervals=1),
    ], className="page page-unavailable")


def needs_live_store(layout):
    """A screen's layout that shows `unavailable` instead of failing while Redis is down."""
    @functools.wraps(layout)
    def guarded(**query):
        try:
            return layout(**query)
        except RedisError as exc:
            return unavailable(f"Redis: {exc}")
    return guarded
