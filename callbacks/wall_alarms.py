"""The wall's alarms: when the wall's poll says `{p}:opversions` moved (its `wall-opversions`
store; and once when the page loads), the active alarms and the incident overlays as a wall may see them
(engine/alerts/wall.py) go to the `wall-alarms` store. assets/alarms.js draws the banner,
flashes the tiles, pulses the markers and sounds the tone from it."""
from __future__ import annotations

from dash import Input, Output, State
from dash.exceptions import PreventUpdate
from pydantic import ValidationError
from redis.exceptions import RedisError

from callbacks.refusal import refuse
from callbacks.wall import OpVersions
from damamaya import runtime
from engine.alerts.live import OpsLive
from engine.alerts.wall import wall_alarm_view

PAGE = "wall"  # security.guard: this module's callbacks are the wall page's


def read_seen(data) -> dict[str, int] | None:
    if data is None:
        return None  # a screen's first poll: send what there is
    try:
        return OpVersions.model_validate(data).model_dump()  # the same counters the wall's poll holds
    except ValidationError as exc:
        refuse("wall alarms seen", exc)


def poll(seen_data) -> tuple[dict, dict]:
    """(the alarm store, the versions it holds), or PreventUpdate when nothing moved."""
    seen = read_seen(seen_data)
    cfg = runtime.config()
    try:
        versions, view = wall_alarm_view(OpsLive(runtime.redis_client(), cfg.redis.prefix), runtime.live(),
                                         cfg.language, cfg.agencies, seen)
    except RedisError:
        raise PreventUpdate from None  # the wall's own poll says the live store is unreachable
    if view is None:
        raise PreventUpdate
    return view, versions


def register(app) -> None:
    @app.callback(
        Output("wall-alarms", "data"),
        Output("wall-alarms-seen", "data"),
        Input("wall-opversions", "data"),  # moved by the wall's poll when alarms or operator actions changed
        State("wall-alarms-seen", "data"),
    )
    def _alarms(_opv, seen):
        return poll(seen)

    app.clientside_callback(
        "function(data) { return window.dmy.alarms.pulseLayer(data); }",
        Output("wall-alarm-pulse", "data"),
        Input("wall-alarms", "data"),
        prevent_initial_call=True,
    )

    app.clientside_callback(
        "function(n, data, words) { return window.dmy.alarms.render(data, words); }",
        Output("wall-alarm-banner", "children"),
        Output("wall-alarm-banner", "className"),
        Output("wall-sound-notice", "children"),
        Output("wall-sound-notice", "className"),
        Input("wall-tick", "n_intervals"),
        Input("wall-alarms", "data"),
        State("wall-alarm-words", "data"),
    )
