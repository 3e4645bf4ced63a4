"""The wall's poll: one read of the version hash; nothing is sent when nothing changed.

Ages, staleness and the clock are computed in the browser every second from
timestamps (assets/wall.js), so they stay live without any server traffic.
"""
from __future__ import annotations

import time

from dash import ALL, Input, Output, State, callback_context, no_update
from dash.exceptions import PreventUpdate

from callbacks import wall_data
from damamaya import runtime
from layouts.wall import push_store

HEALTH = "health"


def poll(state: dict, language: str, list_size: int):
    """Return (state, points, shapes, tiles, health, grid_changes) or raise PreventUpdate."""
    live = runtime.live()
    if state.get("screen"):
        live.screen_seen(state["screen"], time.time())  # the wall's heartbeat, even when nothing changed
    versions = live.versions()
    minute = wall_data.current_minute()
    old = state.get("versions", {})
    if versions == old and minute == state.get("minute"):
        raise PreventUpdate
    changed = {s for s, v in versions.items() if old.get(s) != v and s != HEALTH}
    changed |= {s for s in old if s not in versions and s != HEALTH}
    new_state = {**state, "versions": versions, "minute": minute}

    out_ids = callback_context.outputs_list
    updates = {source: wall_data.layer_update(source, old.get(source), versions.get(source, 0), language)
               for source in changed}
    points = [updates[o["id"]["source"]][0] if o["id"]["source"] in updates else no_update for o in out_ids[1]]
    shapes = [updates[o["id"]["source"]][1] if o["id"]["source"] in updates else no_update for o in out_ids[2]]

    tiles = wall_data.tiles(versions, minute, language)
    digest = wall_data.tiles_digest(tiles)
    tiles_out = tiles if digest != state.get("tiles") else no_update
    new_state["tiles"] = digest

    health_out = {"health": live.health(), "sources": live.sources()} if versions.get(HEALTH) != old.get(HEALTH) else no_update

    grid_out = no_update
    if changed:
        entries, newest, complete = live.changes_since(state.get("stream", "0-0"))
        new_state["stream"] = newest
        if not complete:
            grid_out = {"full": wall_data.incident_rows(versions, list_size, language)}
        elif entries:
            pairs = list(dict.fromkeys((e["s"], e["i"]) for e in entries))
            upsert, remove = wall_data.rows_for(pairs, language)
            if upsert or remove:
                grid_out = {"upsert": upsert, "remove": remove, "limit": list_size}
    return new_state, points, shapes, tiles_out, health_out, grid_out


def register(app) -> None:
    config = runtime.config

    @app.callback(
        Output("wall-state", "data"),
        Output({"type": "pts", "source": ALL}, "data"),
        Output({"type": "shp", "source": ALL}, "data"),
        Output("wall-tiles", "data"),
        Output("wall-health", "data"),
        Output("wall-grid-changes", "data"),
        Input("wall-poll", "n_intervals"),
        Input("wall-wake", "data"),  # the push stream's wake-up: poll now rather than at the next interval
        State("wall-state", "data"),
        prevent_initial_call=True,
    )
    def _poll(_n, _wake, state):
        cfg = config()
        return poll(state or {}, cfg.language, cfg.wall.incident_list_size)

    @app.callback(Output("wall-push", "data"), Input("wall-push-renew", "n_intervals"), State("wall-state", "data"),
                  prevent_initial_call=True)
    def _renew_push_token(_n, state):
        if not (state or {}).get("screen"):
            raise PreventUpdate
        return push_store(config(), state["screen"])

    app.clientside_callback(
        "function(push) { return window.dmy.push.configure(push); }",
        Output("wall-push", "id"),
        Input("wall-push", "data"),
    )

    app.clientside_callback(
        "function(changes) { return window.dmy.wall.applyGridChanges(changes); }",
        Output("wall-incidents", "id"),
        Input("wall-grid-changes", "data"),
        prevent_initial_call=True,
    )

    app.clientside_callback(
        "function(n, tiles, health, messages) { return window.dmy.wall.tick(tiles, health, messages); }",
        Output({"type": "tile-value", "key": ALL}, "children"),
        Output({"type": "tile-detail", "key": ALL}, "children"),
        Output({"type": "tile-age", "key": ALL}, "children"),
        Output({"type": "tile", "key": ALL}, "className"),
        Output("wall-sources", "children"),
        Output("wall-summary", "children"),
        Output("wall-clock", "children"),
        Input("wall-tick", "n_intervals"),
        Input("wall-tiles", "data"),
        Input("wall-health", "data"),
        State("wall-messages", "data"),
    )
