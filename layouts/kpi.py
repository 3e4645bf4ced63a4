"""/kpi, for the mayor's office: the city's KPIs with period, trend, freshness and completeness,
a smart-city pillar scorecard, and a comparison by kecamatan and desa/kelurahan.

The content is filled by callbacks/kpi.py; the rendering helpers are in layouts/parts/kpi.py.
"""
from __future__ import annotations

import dash
from dash import dcc, html

from damamaya import runtime
from engine.analytics.registry import AREA_METRICS, DEFAULT_PERIOD, PERIODS, PILLARS
from layouts.messages import t
from layouts.pages import nav
from layouts.parts.colours import colour
from layouts.parts.history import TOPOJSON_URL

dash.register_page(__name__, path="/kpi", name="kpi", nav="nav.kpi", order=2)


def layout(**_query):
    lang = runtime.config().language
    return html.Div([
        nav("/kpi"),
        html.Div([
            html.H1(t("kpi.title", lang)),
            html.Div([html.Span(t("kpi.period", lang), className="an-label"),
                      dcc.RadioItems(id="kpi-period", value=DEFAULT_PERIOD, inline=True, className="kpi-periods",
                                     options=[{"label": t(f"kpi.period.{k}", lang), "value": k} for k in PERIODS])]),
            html.Span(id="kpi-asof", className="an-hint"),
        ], className="an-header"),
        dcc.Interval(id="kpi-tick", interval=300_000),
        html.Div(id="kpi-error", className="an-error"),
        html.Section([html.H2(t("kpi.scorecard", lang), className="an-section-title"),
                      html.Div(id="kpi-scorecard", className="kpi-scorecard",
                               children=[html.Div(t(f"pillar.{p}", lang), className="kpi-pillar") for p in PILLARS])]),
        dcc.Loading(html.Div(id="kpi-sections"), type="dot", color=colour("chart-bar")),
        html.Section([
            html.H2(t("kpi.area.title", lang), className="an-section-title"),
            html.Div([
                html.Div([html.Label(t("kpi.area.metric", lang), className="an-label"),
                          dcc.Dropdown(id="kpi-area-metric", value="calls", clearable=False, className="an-dropdown",
                                       options=[{"label": t(f"kpi.metric.{m}", lang), "value": m} for m in AREA_METRICS])],
                         className="hist-filter wide"),
                html.Div([html.Label(t("kpi.area.level", lang), className="an-label"),
                          dcc.RadioItems(id="kpi-area-level", value="kecamatan", inline=True, className="kpi-periods",
                                         options=[{"label": t("kpi.area.kecamatan", lang), "value": "kecamatan"},
                                                  {"label": t("kpi.area.desa", lang), "value": "desa"}])],
                         className="hist-filter"),
            ], className="hist-filters"),
            html.Div([html.Div(id="kpi-area-table", className="kpi-area-table"),
                      dcc.Graph(id="kpi-area-map", config={"displaylogo": False, "topojsonURL": TOPOJSON_URL}, style={"height": "520px"},
                                className="kpi-area-map")], className="an-row2"),
        ], className="kpi-area"),
    ], className="analytics kpi-page")


