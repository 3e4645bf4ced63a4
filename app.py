"""The Dash app. `server` is the WSGI app that gunicorn serves (`damamaya web`).

Screens are the modules of layouts/ that register themselves as Dash pages (/wall,
/sources, /kpi, /history; `/` goes to /wall); their callbacks are in callbacks/.
"""
from __future__ import annotations


import dash
from dash import html
from flask import has_request_context, request

from api import open_data, wall_data, wall_idle
from api.ingest import ingest_api
import security
from callbacks import register_all

# What /wall's map waits for that the page only asks for once React has drawn the components
# that need it: the map layers' lazy chunk and the boundaries. Asked for while the bundles load
# instead. (Not the grid's lazy chunk: ready sooner, the grid's set-up only came sooner, before
# the map's data.)
WALL_PRELOADS = [("script", "/_dash-component-suites/dash_leaflet/async-GeoJSON.js")]


def wall_preloads() -> str:
    from engine.wall.layers import boundary_url

    links = [*WALL_PRELOADS, *(("fetch", boundary_url(kind)) for kind in ("kecamatan", "desa"))]
    # crossorigin: a same-origin fetch() (dash-leaflet's of a GeoJSON url) uses the preload only with it
    return "".join(f'<link rel="preload" as="{kind}" href="{url}"{" crossorigin" if kind == "fetch" else ""}>'
                   for kind, url in links)


class App(dash.Dash):
    def interpolate_index(self, **kwargs):
        if has_request_context() and request.path == "/wall":
            kwargs["css"] = wall_preloads() + kwargs.get("css", "")
        return super().interpolate_index(**kwargs)


app = App(
    __name__,
    use_pages=True,
    pages_folder="layouts",
    title="Damamaya",
    update_title=None,  # no "Updating..." flicker in the wall's tab title
    suppress_callback_exceptions=True,
    assets_folder="assets",
)
server = app.server
server.register_blueprint(open_data.blueprint)  # /api/v1 open data
app.layout = html.Div(dash.page_container, id="root")
server.register_blueprint(ingest_api)  # POST /api/v1/ingest/<source>
server.register_blueprint(wall_data.blueprint)  # /wall/data: the wall's map layers, fetched by its browser
server.register_blueprint(wall_idle.blueprint)  # /wall/idle: the wall's idle check (its Dash poll runs on a change)
register_all(app)

security.install(app)  # after every callback: the guard maps each one to its page

# Set Dash up before the first real request: under gunicorn's threaded workers the
# first page load can otherwise race Dash's lazy setup and get 500s for its JS
# bundles ("... is not a registered library", plotly/dash#3971).
with server.test_client() as _warmup:
    _warmup.get("/wall")
