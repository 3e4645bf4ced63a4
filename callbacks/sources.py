"""/sources polls the live store; it sends rows only when something shown changed, and
says so on the page while the live store cannot be reached (no 500 every poll)."""
from __future__ import annotations

from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate
from redis.exceptions import RedisError

from damamaya import runtime
from engine.records import utcnow
from engine.source_health import sources_view
from layouts.messages import t

PAGE = "sources"  # security.guard: this module's callbacks are the sources page's


def poll(state):
    cfg = runtime.config()
    try:
        view = sources_view(runtime.live(), utcnow(), cfg.wall.poll_seconds)
    except RedisError as exc:
        outage = f"{t('page.unavailable', cfg.language)} (Redis: {exc}). {t('page.retrying', cfg.language)}"
        return no_update, no_update, no_update, {"digest": None, "outage": True}, outage
    held = state if isinstance(state, dict) else {}
    if held.get("digest") == view["digest"] and not held.get("outage"):
        raise PreventUpdate
    return view["sources"], view["rejects"], view["screens"], {"digest": view["digest"]}, ""


def register(app) -> None:
    app.callback(
        Output("sources-grid", "rowData"),
        Output("rejects-grid", "rowData"),
        Output("screens-grid", "rowData"),
        Output("sources-state", "data"),
        Output("sources-outage", "children"),
        Input("sources-poll", "n_intervals"),
        State("sources-state", "data"),
        prevent_initial_call=True,
    )(lambda _n, state: poll(state))

    app.clientside_callback(
        """function(n, msgs) {
            window.dmy = window.dmy || {};
            window.dmy.messages = Object.assign(window.dmy.messages || {}, (msgs && msgs.m) || {});
            try { window.dash_ag_grid.getApi('sources-grid').refreshCells({columns: ['age'], force: true}); } catch (e) {}
            return window.dash_clientside.no_update;
        }""",
        Output("sources-tick", "id"),
        Input("sources-tick", "n_intervals"),
        State("sources-messages", "data"),
    )
