"""`/` opens the wall."""
from __future__ import annotations

import dash
from dash import dcc

dash.register_page(__name__, path="/", name="home")


def layout(**_query):
    return dcc.Location(id="redirect", pathname="/wall", refresh=True)  # a full load of /wall
