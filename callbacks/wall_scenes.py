"""The wall's scenes: event mode and the data of the scene panels (camera grid, prices,
gauges chart). Both ride on the wall's poll and send nothing when nothing changed:
event mode reads the alarms' change counter (`{p}:opversions`) first, the panels the
live store's versions. Switching scenes happens in the browser (assets/scenes.js).
"""
from __future__ import annotations

from typing import Annotated, Literal

from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from callbacks.refusal import refuse
from damamaya import runtime
from engine.alerts.live import OpsLive
from engine.cache import RedisCache
from engine.wall.event import alarms_version, event_now
from engine.wall.model import digest
from engine.wall.panels import PanelModel

PAGE = "wall"  # security.guard: this module's callbacks are the wall page's


class EventSeen(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    alarms: Annotated[int, Field(ge=0)] = 0


class PanelsSeen(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    panels: list[Literal["cctv", "prices", "gauges"]] = Field(default_factory=list, max_length=3)
    versions: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")] | None = None  # of the live store
    data: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")] | None = None  # of what the screen holds


def _read(model, data, what: str):
    try:
        return model.model_validate(data or {})
    except ValidationError as exc:
        refuse(what, exc)


def _ops() -> OpsLive:
    cfg = runtime.config()
    return OpsLive(runtime.redis_client(), cfg.redis.prefix)


def event_poll(seen_data):
    """(event, seen) when the alarms changed since the screen last looked; else PreventUpdate."""
    seen = _read(EventSeen, seen_data, "wall event state")
    ops = _ops()
    version = alarms_version(ops)
    if version == seen.alarms:
        raise PreventUpdate
    return event_now(ops, runtime.live(), runtime.config().scenes.scenes), {"alarms": version}


def panels_poll(seen_data):
    """(panel data, seen) when the live store changed and the screen has scene panels."""
    seen = _read(PanelsSeen, seen_data, "wall panels state")
    if not seen.panels:
        raise PreventUpdate
    live = runtime.live()
    versions = live.versions()
    now_digest = digest(sorted(versions.items()))
    if now_digest == seen.versions:
        raise PreventUpdate
    cfg = runtime.config()
    hours = max((s.gauge_hours for s in cfg.scenes.scenes.values() if "gauges" in s.panels), default=6)
    model = PanelModel(live, RedisCache(runtime.redis_client(), cfg.redis.prefix), runtime.history().engine)
    data = model.data(seen.panels, versions, hours)
    data_digest = digest(data)
    held = {"panels": seen.panels, "versions": now_digest, "data": data_digest}
    # another source changed: the screen's panels are the same, only its note of the versions moves on
    return (no_update if data_digest == seen.data else data), held


def register(app) -> None:
    @app.callback(Output("wall-event", "data"), Output("wall-event-seen", "data"),
                  Input("wall-poll", "n_intervals"), Input("wall-wake", "data"), State("wall-event-seen", "data"),
                  prevent_initial_call=True)
    def _event(_n, _wake, seen):
        return event_poll(seen)

    @app.callback(Output("wall-panels", "data"), Output("wall-panels-seen", "data"),
                  Input("wall-poll", "n_intervals"), Input("wall-wake", "data"), State("wall-panels-seen", "data"))
    def _panels(_n, _wake, seen):
        return panels_poll(seen)

    # the scene to show: the event's, else the screen's own scene or playlist step
    app.clientside_callback(
        "function(event, scenes) { return window.dmy.scenes.update(event, scenes); }",
        Output("wall-scene-applied", "data"),
        Input("wall-event", "data"),
        Input("wall-scenes", "data"),
    )
    app.clientside_callback(
        "function(n, data, messages) { return window.dmy.scenes.panels(data, messages); }",
        Output("wall-cctv", "children"),
        Output("wall-prices", "children"),
        Output("wall-gauge-legend", "children"),
        Input("wall-tick", "n_intervals"),
        Input("wall-panels", "data"),
        State("wall-messages", "data"),
    )
