"""/history, for analysts: filter the event history, see it five ways, export it.

The URL holds the filter state (callbacks/history.py keeps it in step), so a
link reproduces the view. Every label comes from layouts/messages/analytics.py.
"""
from __future__ import annotations

import dash
from dash import dcc, html

from damamaya import runtime
from urllib.parse import urlencode

from engine.analytics.filters import RANGES, HistoryFilter
from engine.records import KINDS, SEVERITIES, STATUSES
from layouts.messages import t
from layouts.pages import nav
from layouts.parts.history import GRAPH_CONFIG, category_options, desa_options, kecamatan_options

dash.register_page(__name__, path="/history", name="history", nav="nav.history", order=3)


def _filter(label: str, control) -> html.Div:
    return html.Div([html.Label(label, className="an-label"), control], className="hist-filter")


def _dropdown(id_: str, options: list[dict], placeholder: str = "", multi: bool = True, **kw) -> dcc.Dropdown:
    return dcc.Dropdown(id=id_, options=options, multi=multi, placeholder=placeholder, className="an-dropdown", **kw)


def _panel(title_id: str, title: str, graph_id: str, height: int = 300, extra=None) -> html.Div:
    return html.Div([html.H2(title, id=title_id, className="an-panel-title"), extra,
                     dcc.Graph(id=graph_id, config=GRAPH_CONFIG, style={"height": f"{height}px"})],
                    className="an-panel")


def filter_of(query: dict) -> HistoryFilter:
    """The filter state a URL's query holds (Dash hands the query over as a dict)."""
    pairs = [(k, v) for k, values in query.items() for v in (values if isinstance(values, list) else [values])]
    return HistoryFilter.from_query(urlencode(pairs))


def layout(**query):
    """The controls start at the URL's filter state; callbacks/history.py keeps the two in step."""
    lang = runtime.config().language
    f = filter_of(query)
    filters = html.Div([
        _filter(t("hist.range", lang), _dropdown("hist-range", [{"label": t(f"hist.range.{r}", lang), "value": r}
                                                                  for r in RANGES], multi=False, clearable=False,
                                                 value=f.range)),
        _filter("\u00a0", dcc.DatePickerRange(id="hist-dates", display_format="YYYY-MM-DD", first_day_of_week=1,
                                              className="an-dates", minimum_nights=0,
                                              start_date_placeholder_text=t("hist.date_from", lang),
                                              end_date_placeholder_text=t("hist.date_to", lang))),
        _filter(t("hist.kind", lang), _dropdown("hist-kind", [{"label": t(f"hist.kind.{k}", lang), "value": k}
                                                               for k in KINDS if k != "position"],
                                                multi=False, clearable=False, value=f.kind)),
        _filter(t("hist.source", lang), _dropdown("hist-source", [])),
        _filter(t("hist.category", lang), _dropdown("hist-category", category_options(lang), value=list(f.category))),
        _filter(t("hist.severity", lang), _dropdown("hist-severity", [{"label": t(f"severity.{s}", lang), "value": s}
                                                                       for s in SEVERITIES], value=list(f.severity))),
        _filter(t("hist.status", lang), _dropdown("hist-status", [{"label": t(f"status.{s}", lang), "value": s}
                                                                   for s in STATUSES], value=list(f.status))),
        _filter(t("hist.kecamatan", lang), _dropdown("hist-kecamatan", kecamatan_options(lang), value=list(f.kecamatan))),
        _filter(t("hist.desa", lang), _dropdown("hist-desa", desa_options(), value=list(f.desa))),
        _filter("\u00a0", dcc.Input(id="hist-q", type="search", debounce=True, placeholder=t("hist.text", lang), value=f.q,
                                    className="an-input")),
        _filter("\u00a0", html.Button(t("hist.reset", lang), id="hist-reset", className="an-button")),
    ], className="hist-filters")
    header = html.Div([
        html.H1(t("hist.title", lang)),
        html.Span(id="hist-count", className="hist-count"),
        html.Span(t("hist.click_hint", lang), className="an-hint"),
        html.Div([html.A(t("hist.export_csv", lang), id="hist-csv", className="an-button", href="#"),
                  html.A(t("hist.export_geojson", lang), id="hist-geojson", className="an-button", href="#")],
                 className="hist-exports"),
    ], className="an-header")
    views = html.Div([
        _panel("hist-timeline-title", t("hist.over_time", lang, grain=t("hist.grain.day", lang)), "hist-timeline", 260),
        html.Div([_panel("hist-category-title", t("hist.by_category", lang), "hist-category", 420),
                  _panel("hist-area-title", t("hist.by_area", lang), "hist-area", 420),
                  _panel("hist-heatmap-title", t("hist.heatmap", lang), "hist-heatmap", 420)], className="an-row3"),
        html.Div([_panel("hist-map-title", t("hist.map", lang), "hist-map", 520,
                         extra=html.Span(id="hist-map-note", className="an-hint")),
                  html.Div([html.Div(id="hist-table", className="hist-table"),
                            html.Div([html.Button(t("hist.prev", lang), id="hist-prev", className="an-button"),
                                      html.Span(id="hist-page", className="hist-page"),
                                      html.Button(t("hist.next", lang), id="hist-next", className="an-button")],
                                     className="hist-pager")], className="an-panel hist-table-panel")],
                 className="an-row2"),
    ], className="hist-views")
    return html.Div([
        dcc.Location(id="hist-loc", refresh=False),
        dcc.Store(id="hist-state"),
        nav("/history"),
        header,
        filters,
        html.Div(id="hist-chips", className="hist-chips"),
        html.Div(id="hist-error", className="an-error"),
        views,
    ], className="analytics history-page")
