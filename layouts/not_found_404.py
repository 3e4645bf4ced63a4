"""The page for a path no screen has (Dash shows the page of a module named not_found_404)."""
from __future__ import annotations

import dash
from dash import html

from layouts.messages import t
from layouts.pages import language, nav

dash.register_page(__name__, path="/404", name="not_found")


def layout(**_query):
    return html.Div([html.H1(t("page.not_found", language())), nav()], className="page-missing")
