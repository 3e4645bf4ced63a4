"""/kpi callbacks: one call of the analytics service per view (the KPI report, the
comparison by area), turned into tiles, tables and figures."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import plotly.graph_objects as go
from dash import Input, Output, dcc, html
from sqlalchemy.exc import SQLAlchemyError

from callbacks.history import plotly_geojson
from callbacks.refusal import refuse
from damamaya import runtime
from engine.analytics import kpis as KP
from engine.analytics.registry import AREA_METRICS, DEFAULT_PERIOD, PILLARS, SECTIONS
from engine.analytics.service import BadInput
from engine.geo import boundaries
from engine.records import WITA
from engine.taxonomy import category_label
from layouts.messages import t
from layouts.parts.analytics import service
from layouts.parts.colours import colour
from layouts.parts.kpi import number, period_text, tile, value_text

PAGE = "kpi"  # security.guard: this module's callbacks are the kpi page's

log = logging.getLogger(__name__)
UTC = timezone.utc
STATUS_DOT = {"good": "●", "warn": "●", "bad": "●", "incomplete": "◌", "none": "○"}


def _as_of() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


# ---- rendering ------------------------------------------------------------------------------
def scorecard(report: KP.Report, lang: str):
    cards = []
    for pillar in PILLARS:
        status, ids = report.pillars.get(pillar, ("none", []))
        items = [html.Li([html.Span(STATUS_DOT[report.kpis[i].status], className=f"dot dot-{report.kpis[i].status}"),
                          html.Span(t(f"kpi.{i}", lang)),
                          html.Span(t("kpi.incomplete", lang) if report.kpis[i].incomplete
                                    else value_text(report.kpis[i], lang), className="kpi-pillar-value")])
                 for i in ids if i in report.kpis]
        cards.append(html.Div([
            html.Div(t(f"pillar.{pillar}", lang), className="kpi-pillar-name"),
            html.Div(t(f"kpi.status.{status}", lang) if ids else t("kpi.pillar_empty", lang),
                     className=f"kpi-pillar-status status-{status}"),
            html.Div(t("kpi.pillar_rests_on", lang), className="kpi-muted") if items else None,
            html.Ul(items),
        ], className=f"kpi-pillar pillar-{status}", id=f"kpi-pillar-{pillar}"))
    return cards


def _calls_chart(report: KP.Report, lang: str):
    rows = report.calls_by_category[::-1]
    fig = go.Figure([
        go.Bar(y=[category_label(c, lang) for c, _, _ in rows], x=[b for _, _, b in rows], orientation="h",
               name=t("kpi.vs_previous", lang), marker_color=colour("chart-previous")),
        go.Bar(y=[category_label(c, lang) for c, _, _ in rows], x=[n for _, n, _ in rows], orientation="h",
               name=t("kpi.period", lang), marker_color=colour("chart-bar")),
    ])
    fig.update_layout(template="plotly_dark", paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      barmode="group", margin={"l": 8, "r": 8, "t": 24, "b": 8}, height=300, showlegend=False,
                      title={"text": t("kpi.by_category", lang), "font": {"size": 13}}, yaxis={"automargin": True})
    return dcc.Graph(figure=fig, config={"displayModeBar": False}, className="kpi-chart")


def _backlog(report: KP.Report, lang: str):
    return html.Div([html.Div(t("kpi.backlog_aging", lang), className="kpi-muted"),
                     html.Div([html.Div([html.Div(k, className="kpi-muted"), html.Div(number(v, lang), className="kpi-bucket")],
                                        className="kpi-bucket-box") for k, v in report.backlog.items()],
                              className="kpi-buckets")])


def _gauges(report: KP.Report, lang: str):
    if not report.gauges:
        return None
    items = []
    for g in report.gauges:
        text = f"{g['gauge']}: {number(g['hours'], lang, 1)} {t('kpi.unit.h', lang)}"
        if g["max_alert"] is not None:
            text += " · " + t("kpi.siaga.%d" % min(g["max_alert"], 3), lang)
        items.append(html.Li(text))
    return html.Ul(items, className="kpi-gauges")


def _pct(value, lang, signed=True):
    if value is None:
        return "—"
    return f"{'+' if signed and value > 0 else ''}{number(value, lang, 1)} %"


def _prices(report: KP.Report, lang: str):
    if not report.prices:
        return None
    head = html.Thead(html.Tr([html.Th(t(f"kpi.price.{k}", lang)) for k in
                               ("commodity", "latest", "day", "week", "month", "ceiling", "cv")]))
    body = []
    for name, st in report.prices:
        body.append(html.Tr([
            html.Td(name.replace("_", " ")), html.Td(number(st.latest, lang), className="num"),
            html.Td(_pct(st.change_day, lang), className="num"), html.Td(_pct(st.change_week, lang), className="num"),
            html.Td(_pct(st.change_month, lang), className="num"),
            html.Td(_pct(st.vs_ceiling, lang, signed=False), className="num over" if st.above_ceiling else "num"),
            html.Td(_pct(st.cv30, lang, signed=False), className="num")]))
    return html.Table([head, html.Tbody(body)], className="an-table kpi-prices")


def sections(report: KP.Report, kcfg, as_of: datetime, lang: str):
    ptext = period_text(report.period.start, report.period.end, lang)
    extras = {
        "calls.volume": None,
        "complaints.backlog": _backlog(report, lang),
        "floods.active_spots": html.Div(t("kpi.reported", lang, n=number(report.kpis["floods.active_spots"].detail.get("reported", 0), lang)), className="kpi-note"),
        "floods.siaga_hours": _gauges(report, lang),
        "traffic.congested_segments": html.Div(t("kpi.active_now", lang, n=number(report.kpis["traffic.congested_segments"].detail.get("active", 0), lang)), className="kpi-note"),
    }
    out = []
    for section, ids in SECTIONS.items():  # the registry's sections, in its order
        tiles = [tile(report.kpis[i], kcfg.targets.get(i), as_of, ptext, lang, extras.get(i)) for i in ids]
        body = [html.Div(tiles, className="kpi-tiles")]
        if section == "calls" and report.calls_by_category:
            body.append(_calls_chart(report, lang))
        if section == "prices":
            body.append(_prices(report, lang))
        out.append(html.Section([html.H2(t(f"kpi.section.{section}", lang), className="an-section-title"), *body],
                                className=f"kpi-section kpi-section-{section}", id=f"kpi-section-{section}"))
    return out


def render(key, _tick):
    cfg = runtime.config()
    lang = cfg.language
    as_of = _as_of()
    try:
        report = service().kpi_report(key or DEFAULT_PERIOD, as_of)
    except BadInput as exc:
        refuse("/kpi", exc)
    except SQLAlchemyError:
        log.exception("KPI report failed")
        return "", [], [], t("kpi.error", lang)
    stamp = t("kpi.as_of", lang, time=as_of.astimezone(WITA).strftime("%d-%m-%Y %H:%M"))
    return stamp, scorecard(report, lang), sections(report, service().kpi_config, as_of, lang), ""


def area(metric, level, key, _tick):
    cfg = runtime.config()
    lang = cfg.language
    as_of = _as_of()
    try:
        values = service().area_values(metric, level, key or DEFAULT_PERIOD, as_of)
    except BadInput as exc:
        refuse("/kpi", exc)
    except SQLAlchemyError:
        log.exception("KPI area comparison failed")
        return html.P(t("kpi.error", lang), className="an-error"), go.Figure()
    b = boundaries()
    if level == "desa":
        names = {code: f"{desa} ({kec})" for code, desa, kec in b.desa_names()}
        geo = plotly_geojson("desa")
    else:
        names = b.kecamatan_names()
        geo = plotly_geojson("kecamatan")
    shown = AREA_METRICS[metric]
    better, scale, decimals = shown.better, shown.scale, shown.decimals
    rows = [(code, names[code], values.get(code)) for code in names]
    worst_first = sorted(rows, key=lambda r: (r[2] is None, -(r[2] or 0) if better == "lower" else (r[2] or 0)))
    table = html.Table([
        html.Thead(html.Tr([html.Th(t("kpi.area.rank", lang)), html.Th(t("kpi.area.name", lang)),
                            html.Th(t(f"kpi.metric.{metric}", lang))])),
        html.Tbody([html.Tr([html.Td(str(i + 1), className="num"), html.Td(name),
                             html.Td("—" if v is None else number(v * scale, lang, decimals), className="num")],
                            **{"data-area": code}) for i, (code, name, v) in enumerate(worst_first)]),
    ], className="an-table")
    codes = [f["properties"]["kode"] for f in geo["features"]]
    z = [None if values.get(c) is None else values[c] * scale for c in codes]
    good_to_bad = [[0, colour("ok")], [0.5, colour("sev-medium")], [1, colour("sev-critical")]]
    bad_to_good = [[0, colour("sev-critical")], [0.5, colour("sev-medium")], [1, colour("ok")]]
    fig = go.Figure(go.Choropleth(
        geojson=geo, featureidkey="properties.kode", locations=codes, z=z, text=[names.get(c, c) for c in codes],
        colorscale=good_to_bad if better == "lower" else bad_to_good,
        marker_line_color=colour("bg"), marker_line_width=0.8,
        colorbar={"thickness": 10, "tickfont": {"color": colour("text")}},
        hovertemplate="%{text}: %{z}<extra></extra>"))
    fig.update_geos(fitbounds="locations", visible=False, bgcolor="rgba(0,0,0,0)")
    fig.update_layout(template="plotly_dark", paper_bgcolor="rgba(0,0,0,0)", margin={"l": 0, "r": 0, "t": 0, "b": 0},
                      geo={"bgcolor": "rgba(0,0,0,0)"})
    return html.Div([html.Div(t("kpi.area.worst_first", lang), className="kpi-muted"), table]), fig


def register(app) -> None:
    app.callback(Output("kpi-asof", "children"), Output("kpi-scorecard", "children"), Output("kpi-sections", "children"),
                 Output("kpi-error", "children"),
                 Input("kpi-period", "value"), Input("kpi-tick", "n_intervals"))(render)
    app.callback(Output("kpi-area-table", "children"), Output("kpi-area-map", "figure"),
                 Input("kpi-area-metric", "value"), Input("kpi-area-level", "value"), Input("kpi-period", "value"),
                 Input("kpi-tick", "n_intervals"))(area)
