"""/sources polls the live store; it sends rows only when the health or the rejects changed."""
from __future__ import annotations

import hashlib

import orjson
from dash import Input, Output, State
from dash.exceptions import PreventUpdate

from engine import runtime
from engine.records import utcnow
from engine.source_health import reject_rows, source_rows

REJECTS_PER_SOURCE = 20


def snapshot() -> tuple[dict, dict, dict]:
    live = runtime.live()
    sources, health = live.sources(), live.health()
    rejects = {name: live.rejects(name, REJECTS_PER_SOURCE) for name in sources}
    return sources, health, rejects


def register(app) -> None:
    @app.callback(
        Output("sources-grid", "rowData"),
        Output("rejects-grid", "rowData"),
        Output("sources-state", "data"),
        Input("sources-poll", "n_intervals"),
        State("sources-state", "data"),
    )
    def _poll(_n, state):
        sources, health, rejects = snapshot()
        now = utcnow()
        rows = source_rows(sources, health, now)
        # the status column depends on the clock (late), so it is part of the digest
        digest = hashlib.blake2b(orjson.dumps([rows, rejects]), digest_size=8).hexdigest()
        if state and state.get("digest") == digest:
            raise PreventUpdate
        return rows, reject_rows(rejects), {"digest": digest}

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
