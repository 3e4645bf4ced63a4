"""/wall: the operators' video wall. Dark, full screen, no controls, readable from 5 m.

`/wall?controls=1` shows the map's zoom and layer controls; `?layers=a,b` limits
the layers shown at start.
"""
from __future__ import annotations

import uuid

import dash_ag_grid as dag
import dash_leaflet as dl
from dash import dcc, html
from dash_extensions.javascript import Namespace

from callbacks import wall_data
from damamaya import runtime
from push.browser import wall_push
from engine.config import AppConfig
from engine.geo import boundaries
from engine.records import SEVERITIES
from layouts.messages import CATALOG, t

js = Namespace("dmy", "map")
TILE_KEYS = ["open_incidents", "calls_hour", "gauges_alert", "complaints_overdue", "price_change", "latest_quake"]


def _client_messages(lang: str) -> dict:
    keys = [k for k in CATALOG if k.startswith(("age.", "stale.", "wall.sources.", "status.", "severity.", "wall.connection", "wall.tile.no_source"))]
    return {k: t(k, lang) for k in keys}


def base_layers(config: AppConfig) -> list:
    b = boundaries()
    layers = []
    if config.map.tile_url:
        layers.append(dl.TileLayer(url=config.map.tile_url, attribution=config.map.tile_attribution))
    layers += [
        dl.Pane(dl.GeoJSON(data=b.desa_geojson(), id="base-desa", style=js("desaStyle"), onEachFeature=js("desaLabel"),
                           hideout={"tiles": bool(config.map.tile_url)}, interactive=False),
                name="boundaries", style={"zIndex": 250}),
        dl.Pane(dl.GeoJSON(data=b.kecamatan_geojson(), id="base-kecamatan", style=js("kecamatanStyle"),
                           onEachFeature=js("kecamatanLabel"), interactive=False), name="kecamatan", style={"zIndex": 260}),
    ]
    return layers


def source_overlays(config: AppConfig, sources: dict[str, dict], versions: dict[str, int], shown: set[str] | None):
    overlays = []
    for name, meta in sources.items():
        if not meta.get("enabled", True) or meta.get("kinds") == ["price"]:
            continue
        data = wall_data.layer(name, versions.get(name, 0), config.language)
        points, shapes = data["points"], data["shapes"]
        group = dl.LayerGroup([
            dl.GeoJSON(data=shapes, id={"type": "shp", "source": name}, style=js("shapeStyle"), onEachFeature=js("bindPopup")),
            dl.GeoJSON(data=points, id={"type": "pts", "source": name}, cluster=True, zoomToBoundsOnClick=True,
                       pointToLayer=js("pointToLayer"), clusterToLayer=js("clusterToLayer"), onEachFeature=js("bindPopup"),
                       superClusterOptions={"radius": 50, "maxZoom": 16}),
        ])
        overlays.append(dl.Overlay(group, name=meta.get("title") or name, checked=shown is None or name in shown))
    return overlays


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
            col("time", "wall.col.time", width=82, sort="desc", comparator={"function": "dmyByTs"}),
            col("category", "wall.col.category", flex=2, tooltipField="title"),
            col("severity", "wall.col.severity", width=92, cellClass={"function": "'sev sev-' + params.value"},
                valueFormatter={"function": "dmyLabel('severity.' + params.value)"}),
            col("desa", "wall.col.desa", flex=2),
            col("ts", "wall.col.age", width=112, valueFormatter={"function": "dmyAge(params.value)"}, colId="age"),
            col("status", "wall.col.status", width=104, valueFormatter={"function": "dmyLabel('status.' + params.value)"}),
        ],
        defaultColDef={"sortable": False, "resizable": False, "suppressMovable": True},
        dashGridOptions={"animateRows": False, "suppressCellFocus": True, "rowHeight": 38, "headerHeight": 36},
        className="ag-theme-alpine-dark dmy-grid wall-grid",
        style={"height": "100%", "width": "100%"},
    )


def initial_state(config: AppConfig):
    live = runtime.live()
    stream = live.stream_head()  # before the versions: a change in between is replayed, never missed
    versions = live.versions()
    minute = wall_data.current_minute()
    tiles = wall_data.tiles(versions, minute, config.language)
    rows = wall_data.incident_rows(versions, config.wall.incident_list_size, config.language)
    state = {"versions": versions, "minute": minute, "tiles": wall_data.tiles_digest(tiles), "stream": stream,
             "screen": uuid.uuid4().hex[:12]}
    return live, versions, tiles, rows, state


def push_store(config: AppConfig, screen: str) -> dict | None:
    """The wall's push settings (stream URL, a fresh token): assets/push.js opens the stream."""
    from flask import has_request_context, request

    page_url = request.url if has_request_context() else f"http://{config.web.host}:{config.web.port}/wall"
    return wall_push(config, runtime.redis_client(), screen, page_url, page_id="wall", poll_id="wall-poll", wake_id="wall-wake")


def layout(config: AppConfig, controls: bool = False, layers: set[str] | None = None):
    lang = config.language
    live, versions, tiles, rows, state = initial_state(config)
    sources = live.sources()
    overlays = source_overlays(config, sources, versions, layers)
    the_map = dl.Map(
        [*base_layers(config), dl.LayersControl(overlays, id="wall-layers", position="topright", collapsed=False),
         *( [dl.ZoomControl(position="bottomleft")] if controls else [])],
        id="wall-map", center=list(config.map.center), zoom=config.map.zoom, zoomControl=False,
        attributionControl=False, zoomSnap=0.25, trackViewport=True, style={"height": "100%", "width": "100%"},
    )
    return html.Div([
        dcc.Interval(id="wall-poll", interval=int(config.wall.poll_seconds * 1000)),
        dcc.Interval(id="wall-tick", interval=1000),
        dcc.Store(id="wall-state", data=state),
        dcc.Store(id="wall-push", data=push_store(config, state["screen"])),
        dcc.Store(id="wall-wake"),  # set by assets/push.js when the push stream says something changed
        dcc.Interval(id="wall-push-renew", interval=config.push.token_seconds * 1000 // 3, disabled=not config.push.enabled),
        dcc.Store(id="wall-tiles", data=tiles),
        dcc.Store(id="wall-health", data={"health": live.health(), "sources": sources}),
        dcc.Store(id="wall-grid-changes"),
        dcc.Store(id="wall-messages", data={"lang": lang, "m": _client_messages(lang), "severities": SEVERITIES}),
        html.Header([
            html.Div([html.Span("DAMAMAYA", className="brand"), html.Span(config.wall.title, className="title")]),
            html.Div(id="wall-summary", className="summary"),
            html.Div([html.Span(t("wall.live", lang), className="live-dot"), html.Span(id="wall-clock", className="clock")]),
        ], className="wall-header"),
        html.Main([
            html.Section(the_map, className="wall-map"),
            html.Aside([
                html.Div([_tile(k, lang) for k in TILE_KEYS], className="tiles"),
                html.Div([html.H2(t("wall.list.title", lang)), html.Div(incident_grid(lang, rows), className="grid-box")],
                         className="incident-list"),
            ], className="wall-side"),
        ], className="wall-main"),
        html.Footer(id="wall-sources", className="wall-sources"),
    ], className="wall" + ("" if controls else " kiosk"), id="wall")
