"""/wall: the operators' video wall. Dark, full screen, no controls, readable from 5 m.

`/wall?controls=1` shows the map's zoom and layer controls; `?layers=a,b` limits
the layers shown at start. `?scene=NAME` shows one scene of config.yaml's `scenes:`,
`?playlist=NAME` rotates a playlist's scenes (layouts/parts/scenes.py).
"""
from __future__ import annotations

import html as html_text

import dash
import dash_ag_grid as dag
import dash_leaflet as dl
from dash import dcc, html
from dash_extensions.javascript import Namespace

from damamaya import runtime
from engine.records import SEVERITIES
from engine.wall.layers import boundary_url, gone_message, layer_message
from engine.wall.state import new_screen_id
from engine.wall.views import TILE_ORDER
from layouts.messages import t
from layouts.pages import needs_live_store
from layouts.parts import scenes as scene_parts
from layouts.parts import wall as parts
from layouts.parts import wall_alarms as alarm_parts

dash.register_page(__name__, path="/wall", name="wall", nav="nav.wall", order=0)

js = Namespace("dmy", "map")


def base_layers(config) -> list:
    """The boundaries, static: fetched from long-cached URLs named by their content hash."""
    layers = []
    if config.map.tile_url:
        layers.append(dl.TileLayer(url=config.map.tile_url, attribution=config.map.tile_attribution))
    layers += [
        dl.Pane(dl.GeoJSON(url=boundary_url("desa"), id="base-desa", style=js("desaStyle"), onEachFeature=js("desaLabel"),
                           hideout={"tiles": bool(config.map.tile_url)}, interactive=False),
                name="boundaries", style={"zIndex": 250}),
        dl.Pane(dl.GeoJSON(url=boundary_url("kecamatan"), id="base-kecamatan", style=js("kecamatanStyle"),
                           onEachFeature=js("kecamatanLabel"), interactive=False), name="kecamatan", style={"zIndex": 260}),
    ]
    return layers


def source_overlays(sources: dict[str, dict], layers: dict[str, dict], shown: set[str] | None):
    """Per source: its shapes, its points clustered in the browser (`pts`) and the clusters the
    server made of a big layer (`cls`). They start empty: assets/map.js fills them from the
    URLs of the source's layer store."""
    overlays = []
    for name in layers:
        group = dl.LayerGroup([
            dl.GeoJSON(id={"type": "shp", "source": name}, style=js("shapeStyle"), onEachFeature=js("bindPopup")),
            dl.GeoJSON(id={"type": "pts", "source": name}, cluster=True, zoomToBoundsOnClick=True,
                       pointToLayer=js("pointToLayer"), clusterToLayer=js("clusterToLayer"), onEachFeature=js("bindPopup"),
                       superClusterOptions={"radius": 50, "maxZoom": 16}),
            dl.GeoJSON(id={"type": "cls", "source": name}, pointToLayer=js("serverPointToLayer"),
                       onEachFeature=js("serverFeature")),
        ])
        # Leaflet's layer control writes overlay names as HTML: a configured title is text
        title = html_text.escape(sources[name].get("title") or name)
        overlays.append(dl.Overlay(group, name=title, checked=shown is None or name in shown))
    return overlays


def layer_stores(layers: dict[str, dict], clustered) -> list:
    """Each source's layer store: what to fetch, then the poll's small updates (callbacks/wall.py).
    The largest layers first: assets/map.js asks for the layers in this order, so the one that
    takes longest is not queued behind the requests and the drawing of all the small ones."""
    biggest_first = sorted(layers.items(), key=lambda item: -item[1]["points"])
    stores = [dcc.Store(id={"type": "layer", "source": name},
                        data=layer_message(name, info, clustered(info)) if info["v"] else gone_message())
              for name, info in biggest_first]
    return [*stores, dcc.Store(id="wall-map-loader")]  # the output of map.js's loader callbacks (nothing in it)


def _tile(key: str, lang: str):
    return html.Div(
        [html.Div(t(f"wall.tile.{key}", lang), className="tile-label"),
         html.Div(id={"type": "tile-value", "key": key}, className="tile-value"),
         html.Div(id={"type": "tile-detail", "key": key}, className="tile-detail"),
         html.Div(id={"type": "tile-age", "key": key}, className="tile-age")],
        id={"type": "tile", "key": key}, className="tile")


def incident_grid(lang: str, rows: list[dict]):
    col = lambda field, key, **kw: {"field": field, "headerName": t(key, lang), **kw}  # noqa: E731
    return dag.AgGrid(
        id="wall-incidents",
        rowData=rows,
        getRowId="params.data.uid",
        columnDefs=[
            col("time", "wall.col.time", flex=0.87, sort="desc", comparator={"function": "dmyByTs"}),
            col("category", "wall.col.category", flex=2, tooltipField="title"),
            col("severity", "wall.col.severity", flex=0.98, cellClass={"function": "'sev sev-' + params.value"},
                valueFormatter={"function": "dmyLabel('severity.' + params.value)"}),
            col("desa", "wall.col.desa", flex=2, valueFormatter={"function": "dmyPlace(params.value, params.data)"}),
            col("ts", "wall.col.age", flex=1.19, valueFormatter={"function": "dmyAge(params.value)"}, colId="age"),
            col("status", "wall.col.status", flex=1.1, valueFormatter={"function": "dmyLabel('status.' + params.value)"}),
            *alarm_parts.grid_columns(lang),
        ],
        defaultColDef={"sortable": False, "resizable": False, "suppressMovable": True},
        dashGridOptions={"animateRows": False, "suppressCellFocus": True, "rowHeight": 38, "headerHeight": 36,
                         # a scene may list only some categories (assets/scenes.js)
                         "isExternalFilterPresent": {"function": "dmySceneFilterOn()"},
                         "doesExternalFilterPass": {"function": "dmySceneFilterPass(params)"}},
        className="ag-theme-alpine-dark dmy-grid wall-grid",
        style={"height": "100%", "width": "100%"},
    )


def _last(value) -> str:
    """A URL value as one string (a key given twice comes as a list: the last one counts)."""
    return str((value[-1] if value else "") if isinstance(value, list) else (value or ""))[:2000]


def _flag(value) -> bool:
    return _last(value).lower() in ("1", "true", "yes")


def _may_open_incidents() -> bool:
    """The signed-in person may open /insiden: the list's rows and the map's markers open it
    (assets/wall.js); never on a wall screen, whose role may not."""
    from security import resolve
    from security.roles import may_open

    return may_open(resolve().role, "insiden")


def _layer_names(value) -> set[str] | None:
    names = {n for n in _last(value).split(",") if n}
    return names or None


@needs_live_store
def layout(controls=None, layers=None, scene=None, playlist=None, **_query):
    config = runtime.config()
    lang = config.language
    home = scene_parts.home_of(config.scenes, scene, playlist)
    if home.unknown:
        return html.Div(scene_parts.unknown_screen(home, config.scenes, lang), className="wall kiosk", id="wall")
    model = parts.model()
    snap = model.snapshot(new_screen_id())
    event, alarms_version = scene_parts.current_event(config)
    shown = event["scene"] if event else home.first
    show_controls = _flag(controls)
    the_map = dl.Map(
        [*base_layers(config),
         dl.LayersControl(source_overlays(snap.sources, snap.layers, _layer_names(layers)), id="wall-layers",
                          position="topright", collapsed=False),
         alarm_parts.pulse_layer(),
         *([dl.ZoomControl(position="bottomleft")] if show_controls else [])],
        # opened where its first scene looks (assets/scenes.js), so it has one view from the
        # start: a large layer's clusters are fetched once, for that view
        id="wall-map", zoomControl=False, **scene_parts.opening_view(config.scenes, shown, event),
        attributionControl=False, zoomSnap=0.25, trackViewport=True, style={"height": "100%", "width": "100%"},
    )
    return html.Div([
        # each tick: the idle check (assets/idle.js), which wakes the wall's poll when something is newer
        dcc.Interval(id="wall-poll", interval=int(config.wall.poll_seconds * 1000)),
        dcc.Store(id="wall-idle"),  # the idle check's callback output (nothing in it)
        dcc.Interval(id="wall-tick", interval=1000),
        dcc.Store(id="wall-state", data=snap.state.model_dump()),
        dcc.Store(id="wall-push", data=parts.push_store(snap.state.screen)),
        dcc.Store(id="wall-wake"),  # set by assets/push.js and assets/idle.js: something changed, poll now
        dcc.Interval(id="wall-push-renew", interval=config.push.token_seconds * 1000 // 3, disabled=not config.push.enabled),
        dcc.Store(id="wall-tiles", data=parts.for_screen(snap.tiles, lang)),
        dcc.Store(id="wall-health", data=parts.for_screen(snap.health, lang)),
        dcc.Store(id="wall-grid-changes"),
        dcc.Store(id="wall-opversions", data=parts.opversions()),  # moved by the poll when alarms or actions change
        *layer_stores(snap.layers, model.clustered),  # the read model decides which layers the server clusters
        dcc.Store(id="wall-messages", data={"lang": lang, "m": parts.messages_for_screen(lang), "severities": SEVERITIES}),
        *scene_parts.stores(config, home, list(snap.layers), event, alarms_version),
        *alarm_parts.stores(lang),
        html.Header([
            html.Div([html.Span("DAMAMAYA", className="brand"), html.Span(config.wall.title, className="title")]),
            html.Div(id="wall-summary", className="summary"),
            html.Div([html.Span(t("wall.live", lang), className="live-dot"), html.Span(id="wall-clock", className="clock")]),
        ], className="wall-header"),
        alarm_parts.banner(),
        html.Main([
            html.Section([the_map, alarm_parts.sound_notice()], className="wall-map panel panel-map"),
            html.Aside([
                html.Div([_tile(k, lang) for k in TILE_ORDER], className="tiles panel panel-tiles"),
                html.Div([html.H2(t("wall.list.title", lang)), html.Div(incident_grid(lang, snap.rows), className="grid-box")],
                         className="incident-list panel panel-incidents"),
                scene_parts.gauges_panel(lang),
                scene_parts.cctv_panel(lang),
                scene_parts.prices_panel(lang),
            ], className="wall-side"),
        ], className=scene_parts.main_class(config.scenes.scenes[shown].panels), id="wall-main", **{"data-scene": shown}),
        html.Footer(id="wall-sources", className="wall-sources"),
    ], className="wall" + ("" if show_controls else " kiosk") + (" links" if _may_open_incidents() else ""), id="wall")
