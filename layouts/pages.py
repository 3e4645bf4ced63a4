"""Path -> screen. Each screen module exposes `layout(config)`."""
from __future__ import annotations

from dash import dcc, html
from redis.exceptions import RedisError

from engine.config import AppConfig
from layouts.messages import t


def _screens():
    from layouts import history, kpi, sources, wall

    return {"/wall": wall.layout, "/sources": sources.layout, "/kpi": kpi.layout, "/history": history.layout}


def render(pathname: str, search: str, config: AppConfig):
    from urllib.parse import parse_qs

    from layouts import wall

    screens = _screens()
    path = pathname.rstrip("/") or "/"
    if path == "/":
        return dcc.Location(id="redirect", pathname="/wall", refresh=False)
    try:
        if path == "/wall":
            query = parse_qs((search or "").lstrip("?"))
            layers = {n for v in query.get("layers", []) for n in v.split(",") if n} or None
            return wall.layout(config, controls=query.get("controls", ["0"])[0] in ("1", "true", "yes"), layers=layers)
        if path in screens:
            return screens[path](config)
    except RedisError as exc:
        return unavailable(config, f"Redis: {exc}")
    return html.Div([html.H1(t("page.not_found", config.language)), nav(config)], className="page-missing")


def unavailable(config: AppConfig, reason: str):
    """The screen while the live store cannot be reached: says so and retries by itself."""
    lang = config.language
    return html.Div([
        html.H1(t("page.unavailable", lang)),
        html.P(reason, className="unavailable-reason"),
        html.P(t("page.retrying", lang)),
        dcc.Interval(id="retry-page", interval=5000, max_intervals=1),
    ], className="page page-unavailable")


def nav(config: AppConfig, current: str = ""):
    lang = config.language
    links = [("/wall", "nav.wall"), ("/sources", "nav.sources"), ("/kpi", "nav.kpi"), ("/history", "nav.history")]
    return html.Nav([dcc.Link(t(key, lang), href=href, className="active" if href == current else "")
                     for href, key in links], className="nav")
