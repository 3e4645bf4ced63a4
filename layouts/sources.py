"""Placeholder: the /sources page is built in issue 3."""
from dash import html

from layouts.pages import nav


def layout(config):
    return html.Div([nav(config, "/sources"), html.P("sources")])
