"""The Dash app. `server` is the WSGI app that gunicorn serves (`damamaya web`).

Screens: /wall for operators, /sources for source health, /kpi for the mayor's
office, /history for analysts. Every screen reads the live store (Redis); /kpi
and /history also read the history store, read-only.
"""
from __future__ import annotations

import dash
from dash import Input, Output, State, dcc, html

from api import open_data
from callbacks import register_all
from damamaya import runtime
from layouts import pages
from layouts import history, kpi, sources, wall  # noqa: F401 - Dash wants component libraries loaded before any callback
from layouts.cache import init_cache

app = dash.Dash(
    __name__,
    title="Damamaya",
    update_title=None,  # no "Updating..." flicker in the wall's tab title
    suppress_callback_exceptions=True,
    assets_folder="assets",
)
server = app.server
init_cache(server)
server.register_blueprint(open_data.blueprint)  # /api/v1 open data

app.layout = html.Div([dcc.Location(id="url"), html.Div(id="page")], id="root")


@app.callback(Output("page", "children"), Input("url", "pathname"), State("url", "search"))
def _route(pathname: str | None, search: str | None):
    return pages.render(pathname or "/", search or "", runtime.config())


register_all(app)

app.clientside_callback(  # the "cannot reach the live store" screen reloads itself
    "function(n) { if (n) { window.location.reload(); } return window.dash_clientside.no_update; }",
    Output("retry-page", "id"),
    Input("retry-page", "n_intervals"),
    prevent_initial_call=True,
)

# Set Dash up before the first real request: under gunicorn's threaded workers the
# first page load can otherwise race Dash's lazy setup and get 500s for its JS
# bundles ("... is not a registered library", plotly/dash#3971).
with server.test_client() as _warmup:
    _warmup.get("/")
