"""The wall's poll: one read of the version hash; nothing is sent when nothing changed.

The read model (engine/wall/model.py) says what changed since the screen's state; this
module turns that into `no_update`, grid transactions and, per map layer, a small message
(engine/wall/layers.py): the new version's URLs, and the edits of the features that changed
when the browser holds the layer whole; assets/map.js fetches and applies them. Ages and the
clock are rendered in the browser every second from the times the server sent
(assets/wall.js), so they stay live without any server traffic.
"""
from __future__ import annotations

import time
from typing import Annotated

from dash import ALL, Input, Output, Patch, State, callback_context, no_update
from dash.exceptions import PreventUpdate
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.wall.layers import layer_update
from engine.wall.state import WallState
from callbacks.refusal import refuse
from layouts.parts import wall as parts
from security import screen_identity

PAGE = "wall"  # security.guard: this module's callbacks are the wall page's

Counter = Annotated[int, Field(ge=0, le=2**62)]


class OpVersions(BaseModel):
    """The `wall-opversions` store: the alarms' and operator actions' counters the screen saw."""

    model_config = ConfigDict(extra="forbid", strict=True)
    alarms: Counter = 0
    ops: Counter = 0


def health_patch(view: dict, ops: list[tuple] | None, lang: str):
    """The health store as sent: only the fields that moved (`ops`, see model.health_ops), else whole."""
    if ops is None:
        return parts.for_screen(view, lang)
    patch = Patch()
    for op in ops:
        *parents, last = op[1]
        target = patch
        for key in parents:
            target = target[key]
        if op[0] == "del":
            del target[last]
        else:
            target[last] = parts.for_screen(op[2], lang)
    return patch


def read_state(data) -> WallState:
    try:
        return WallState.model_validate(data)
    except ValidationError as exc:
        refuse("wall state", exc)


def read_opversions(data) -> dict[str, int]:
    try:
        return OpVersions.model_validate(data or {}).model_dump()
    except ValidationError as exc:
        refuse("wall operator versions", exc)


def poll(data, opv_data=None):
    """Return (state, layers, tiles, health, grid_changes, opversions) or raise PreventUpdate.

    `opversions` (the alarms' and operator actions' change counters) moves only when they
    changed: the wall's alarm and event-mode callbacks are triggered by it, and its panels
    by the state, so an idle tick is this one request."""
    state = read_state(data)
    held_opv = read_opversions(opv_data)
    model = parts.model()
    identity = screen_identity()  # the server's name for this wall, never one the browser sends
    if identity:
        model.live.screen_seen(identity, time.time())  # the wall's heartbeat, even when nothing changed
    changes = model.changes(state)
    opv = parts.opversions()
    opv_out = no_update if opv == held_opv else opv
    if changes is None:
        if opv_out is no_update:
            raise PreventUpdate
        return no_update, [no_update] * len(callback_context.outputs_list[1]), no_update, no_update, no_update, opv_out
    out_ids = callback_context.outputs_list
    layers = [no_update if (m := layer_update(model, state.versions, changes, o["id"]["source"])) is None else m
              for o in out_ids[1]]
    lang = model.language
    tiles = no_update if changes.tiles is None else parts.for_screen(changes.tiles, lang)
    health = no_update if changes.health is None else health_patch(changes.health, changes.health_ops, lang)
    grid = no_update if changes.grid is None else changes.grid
    return changes.state.model_dump(), layers, tiles, health, grid, opv_out


def register(app) -> None:
    @app.callback(
        Output("wall-state", "data"),
        Output({"type": "layer", "source": ALL}, "data"),
        Output("wall-tiles", "data"),
        Output("wall-health", "data"),
        Output("wall-grid-changes", "data"),
        Output("wall-opversions", "data"),
        # woken by the idle check (assets/idle.js: something is newer than the wall holds) and by
        # the push stream (assets/push.js); an idle tick is a 304 of GET /wall/idle, not this request
        Input("wall-wake", "data"),
        State("wall-state", "data"),
        State("wall-opversions", "data"),
        prevent_initial_call=True,
    )
    def _poll(_wake, state, opv):
        return poll(state, opv)

    app.clientside_callback(
        "function(n, state, opv) { return window.dmy.idle.tick(n, state, opv); }",
        Output("wall-idle", "data"),
        Input("wall-poll", "n_intervals"),
        State("wall-state", "data"),
        State("wall-opversions", "data"),
        prevent_initial_call=True,
    )

    @app.callback(Output("wall-push", "data"), Input("wall-push-renew", "n_intervals"), State("wall-state", "data"),
                  prevent_initial_call=True)
    def _renew_push_token(_n, state):
        return parts.push_store(read_state(state).screen)

    app.clientside_callback(
        "function(push) { return window.dmy.push.configure(push); }",
        Output("wall-push", "id"),
        Input("wall-push", "data"),
    )

    # the map's data: map.js fetches each layer's URL, applies the poll's feature edits, and
    # refetches a server-clustered layer's clusters when the viewport moves
    app.clientside_callback(
        "function(layers) { return window.dmy.mapdata.receive(layers, dash_clientside.callback_context.inputs_list[0]); }",
        Output("wall-map-loader", "data"),
        Input({"type": "layer", "source": ALL}, "data"),
    )
    app.clientside_callback(
        "function(zoom, bounds, center) { return window.dmy.mapdata.viewport(zoom, bounds, center); }",
        Output("wall-map-loader", "data", allow_duplicate=True),
        Input("wall-map", "zoom"),
        Input("wall-map", "bounds"),
        Input("wall-map", "center"),
        prevent_initial_call="initial_duplicate",
    )

    app.clientside_callback(
        "function(cell) { return window.dmy.wall.openIncident(cell && cell.rowId); }",
        Output("wall-incidents", "className"),
        Input("wall-incidents", "cellClicked"),
        prevent_initial_call=True,
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
