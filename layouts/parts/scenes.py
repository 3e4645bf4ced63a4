"""The wall's scenes on screen: which scene or playlist a screen shows (from its URL),
what the browser needs to switch scenes on its own (assets/scenes.js), and the panels
beyond the map, tiles and incident list (gauges chart, camera grid, prices).

Every panel a screen may show is in its page from the start, hidden unless its scene
shows it, so a playlist or an event switches scenes in the browser without asking the
server for anything.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dash import dcc, html

from engine.wall.scenes import PANELS, ScenesConfig, city_bounds, opening_bounds, scene_bounds, shown_sources, valid_name
from layouts.messages import t

MAX_QUERY = 100  # characters of a scene or playlist name kept for the message that says it is unknown


@dataclass
class Home:
    """What a screen shows when no event calls up a scene: one scene, or a playlist's steps."""

    steps: list[tuple[str, float]] = field(default_factory=list)  # (scene, seconds); one step: no rotation
    unknown: str | None = None   # the message key when the URL named no known scene or playlist
    name: str = ""

    @property
    def first(self) -> str:
        return self.steps[0][0]


def _last(value) -> str:
    """A URL value as one bounded string (a key given twice comes as a list: the last one counts)."""
    return str((value[-1] if value else "") if isinstance(value, list) else (value or ""))[:MAX_QUERY]


def home_of(scenes: ScenesConfig, scene=None, playlist=None) -> Home:
    scene, playlist = _last(scene).strip(), _last(playlist).strip()
    if playlist:
        if valid_name(playlist) and playlist in scenes.playlists:
            return Home([(s.scene, s.seconds) for s in scenes.playlists[playlist]], name=playlist)
        return Home(unknown="wall.scene.unknown_playlist", name=playlist)
    if scene:
        if valid_name(scene) and scene in scenes.scenes:
            return Home([(scene, 0)], name=scene)
        return Home(unknown="wall.scene.unknown_scene", name=scene)
    return Home([("overview", 0)], name="overview")


def event_scenes(config) -> set[str]:
    return {r.scene for r in config.alerts.enabled_rules().values() if r.scene}


def panels_needed(config, home: Home) -> list[str]:
    """The panels this screen may show: its own scenes' and those alarms may call up."""
    names = {s for s, _ in home.steps} | event_scenes(config)
    wanted = {p for n in names if n in config.scenes.scenes for p in config.scenes.scenes[n].panels}
    return [p for p in PANELS if p in wanted]


def opening_view(scenes: ScenesConfig, shown: str, event: dict | None) -> dict:
    """The wall map's first view, as dl.Map props: fitted to the bounds the first scene fits to
    when that scene shows the map (so the map never moves to them afterwards); else their centre,
    since a hidden map has no size to fit anything to (assets/scenes.js fits it once it shows)."""
    (south, west), (north, east) = bounds = opening_bounds(scenes, shown, event)
    if "map" in scenes.scenes[shown].panels:
        return {"bounds": bounds, "boundsOptions": {"padding": [8, 8]}}
    return {"center": [(south + north) / 2, (west + east) / 2], "zoom": 13}


def client_scenes(scenes: ScenesConfig, overlay_sources: list[str]) -> dict:
    """Each scene as scenes.js applies it: panels, overlay indexes shown, bounds, categories."""
    out = {}
    for name, scene in scenes.scenes.items():
        every = "*" in scene.map.layers  # all layers: the page's own choice (`?layers=`) stands
        shown = set(shown_sources(scene.map.layers, overlay_sources))
        out[name] = {"panels": list(scene.panels), "overlays": None if every else [s in shown for s in overlay_sources],
                     "bounds": scene_bounds(scene), "categories": list(scene.categories)}
    return out


def main_class(panels) -> str:
    return "wall-main " + " ".join(f"show-{p}" for p in panels)


def unknown_screen(home: Home, scenes: ScenesConfig, lang: str):
    known = sorted(scenes.playlists) if home.unknown.endswith("playlist") else sorted(scenes.scenes)
    return html.Div([
        html.H1(t(home.unknown, lang, name=home.name)),
        html.P(t("wall.scene.known", lang, names=", ".join(known) or "-")),
    ], className="wall-unknown", id="wall-unknown")


def gauges_panel(lang: str):
    return html.Div([
        html.H2(t("wall.scene.gauges", lang)),
        html.Div(html.Canvas(id="wall-gauge-chart", className="gauge-chart"), className="gauge-box"),
        html.Div(id="wall-gauge-legend", className="gauge-legend"),
    ], className="panel panel-gauges")


def cctv_panel(lang: str):
    return html.Div([
        html.H2(t("wall.scene.cctv", lang)),
        html.Div(html.Div(id="wall-cctv", className="cctv-grid"), className="autoscroll scroll-box"),
    ], className="panel panel-cctv")


def prices_panel(lang: str):
    head = html.Div([html.Span(t(f"wall.scene.prices.{k}", lang), className=f"price-{k}")
                     for k in ("commodity", "market", "value", "change")], className="price-row price-head")
    return html.Div([
        html.H2(t("wall.scene.prices", lang)),
        head,
        html.Div(html.Div(id="wall-prices", className="price-rows"), className="autoscroll scroll-box"),
    ], className="panel panel-prices")


def stores(config, home: Home, overlay_sources: list[str], event: dict | None, alarms_version: int):
    scenes = config.scenes
    return [
        dcc.Store(id="wall-scenes", data={
            "scenes": client_scenes(scenes, overlay_sources),
            "home": [[s, sec] for s, sec in home.steps],
            "city": city_bounds(),
        }),
        # event mode: fed by callbacks/wall_scenes.py, applied by assets/scenes.js
        dcc.Store(id="wall-event", data=event),
        dcc.Store(id="wall-event-seen", data={"alarms": alarms_version}),
        dcc.Store(id="wall-panels"),
        dcc.Store(id="wall-panels-tick"),  # set by assets/scenes.js while a scene with data panels shows
        dcc.Store(id="wall-panels-seen", data={"panels": [p for p in panels_needed(config, home)
                                                          if p in ("cctv", "prices", "gauges")], "versions": None}),
        dcc.Store(id="wall-scene-applied"),
    ]


def current_event(config) -> tuple[dict | None, int]:
    """(the event scene now, the alarms' change counter) for a screen's first state."""
    from damamaya import runtime
    from engine.alerts.live import OpsLive
    from engine.wall.event import alarms_version, event_now

    ops = OpsLive(runtime.redis_client(), config.redis.prefix)
    version = alarms_version(ops)  # before the alarms: a change in between is seen at the next poll
    return event_now(ops, runtime.live(), config.scenes.scenes), version
