"""/sources polls the live store; it sends rows only when the health or the rejects changed."""
from __future__ import annotations

import hashlib
import time

import orjson
from dash import Input, Output, State
from dash.exceptions import PreventUpdate

from damamaya import runtime
from engine.records import utcnow
from engine.source_health import reject_rows, screen_rows, source_rows

PAGE = "sources"  # security.guard: this module's callbacks are the sources page's

REJECTS_PER_SOURCE = 20


def snapshot() -> tuple[dict, dict, dict, dict]:
    live = runtime.live()
    sources, health = live.sources(), live.health()
    rejects = {name: live.rejects(name, REJECTS_PER_SOURCE) for name in sources}
    return sources, health, rejects, live.screens_seen_since(time.time() - 86400)


def register(app) -> None:
    @app.callback(
        Output("sources-grid", "rowData"),
        Output("rejects-grid", "rowData"),
        Output("screens-grid", "rowData"),
        Output("sources-state", "data"),
        Input("sources-poll", "n_intervals"),
        State("sources-state", "data"),
    )
    def _poll(_n, state):
        sources, health, rejects, screens = snapshot()
        now = utcnow()
        rows = source_rows(sources, health, now)
        screen_list = screen_rows(screens, now.timestamp(), runtime.config().wall.poll_seconds)
        # statuses depend on the clock (late, silent), so they are part of the digest
        digest = hashlib.blake2b(orjson.dumps([rows, rejects, [(s["screen"], s["status"]) for s in screen_list]]),
                                 digest_size=8).hexdigest()
        if state and state.get("digest") == digest:
            raise PreventUpdate
        return rows, reject_rows(rejects), screen_list, {"digest": digest}

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
