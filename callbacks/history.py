"""/history callbacks: URL <-> filter state, five views that cross-filter, and the exports.

One callback owns the filter state: it reads the URL on load (and on back/forward),
and every control or click writes the new state back to the URL. The views only
listen to that state (`hist-state`: the query string plus the instant `at` that
fixes "now", so the table, the charts and an export all see the same rows).
"""
from __future__ import annotations

import logging
from functools import lru_cache
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import dash
import orjson
import plotly.graph_objects as go
from dash import ALL, Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate
from flask import Response, request, stream_with_context
from shapely.geometry import MultiPolygon, mapping, shape
from shapely.geometry.polygon import orient
from sqlalchemy.exc import SQLAlchemyError

from damamaya import runtime
from engine.analytics import export as X
from engine.analytics import queries as Q
from callbacks import inputs as I
from callbacks.inputs import parsed
from callbacks.refusal import refuse
from engine.analytics.filters import HistoryFilter, clean_text
from engine.analytics.service import unreachable
from engine.geo import boundaries, kecamatan_code
from engine.records import WITA
from engine.taxonomy import category_label
from layouts.messages import t
from layouts.parts.analytics import service
from layouts.parts.colours import colour, severity_colour
from layouts.parts.history import TOPOJSON_URL, desa_options

log = logging.getLogger(__name__)

PAGE = "history"  # security.guard: this module's callbacks are the history page's
UTC = timezone.utc
CONTROLS = ("range", "kind", "source", "category", "severity", "status", "kecamatan", "desa", "q")
LIST_CONTROLS = ("source", "category", "severity", "status", "kecamatan", "desa")
CLICKABLE = ("timeline", "category", "area", "heatmap", "map")


def _lang() -> str:
    return runtime.config().language


# ---- state ------------------------------------------------------------------------------
def state_of(data) -> tuple[HistoryFilter, datetime]:
    state = parsed(I.HistoryState, data or {}, "history state")
    now = datetime.fromtimestamp(state.at, UTC) if state.at else datetime.now(UTC).replace(microsecond=0)
    return HistoryFilter.from_query(state.q), now


def _from_controls(current: HistoryFilter, values: dict, trigger: str) -> HistoryFilter:
    given = parsed(I.Controls, values, "history filter")
    changes = {name: tuple(getattr(given, name) or ()) for name in LIST_CONTROLS}
    changes["kind"] = given.kind or "incident"
    changes["q"] = clean_text(given.q or "")
    rng = given.range or "30d"
    start, end = current.start, current.end
    if trigger == "hist-dates":
        if not (given.start_date and given.end_date):
            raise PreventUpdate  # the picker is half-way through a choice
        start = datetime.combine(given.start_date, datetime.min.time(), WITA)
        end = datetime.combine(given.end_date, datetime.min.time(), WITA) + timedelta(days=1)
        if end <= start:
            refuse("history filter", ValueError("the end date is before the start date"))
        rng = "custom"
    elif rng == "custom" and not (start and end):
        today = datetime.now(WITA).replace(hour=0, minute=0, second=0, microsecond=0)
        start, end = today - timedelta(days=6), today + timedelta(days=1)
    if rng != "custom":
        start = end = None
    if changes["kecamatan"] != current.kecamatan and changes["kecamatan"]:
        # a desa outside the chosen kecamatan would silently empty the view
        changes["desa"] = tuple(d for d in changes["desa"] if kecamatan_code(d) in changes["kecamatan"])
    return current.with_(range=rng, start=start, end=end, **changes)


def _toggle(values: tuple, value) -> tuple:
    return tuple(v for v in values if v != value) if value in values else (*values, value)


def _first(data):
    return data[0] if isinstance(data, list) and data else data


def _from_click(current: HistoryFilter, which: str, click) -> HistoryFilter:
    """A click on a chart adds its bar, cell or area to the filter; the click's data is checked first."""
    points = parsed(I.Click, click or {}, f"{which} click").points
    if not points:
        raise PreventUpdate
    point = points[0]
    data = point.customdata
    what = f"{which} click"
    if which == "timeline" and data:
        bar = parsed(I.TimelineBar, {"start": _first(data), "end": data[1] if isinstance(data, list) and len(data) > 1 else None}, what)
        if bar.start.tzinfo is None or bar.end.tzinfo is None or bar.end <= bar.start:
            refuse(what, ValueError("a bar is an interval of two zoned times"))
        return current.with_(range="custom", start=bar.start, end=bar.end)
    if which == "category" and data:
        category = parsed(I.CategoryClick, {"category": _first(data)}, what).category
        return current.with_(category=_toggle(current.category, category))
    if which in ("area", "map"):
        code = point.location or _first(data)
        if not code:
            raise PreventUpdate
        code = parsed(I.AreaClick, {"code": code}, what).code
        if code.count(".") == 3:
            return current.with_(desa=_toggle(current.desa, code))
        return current.with_(kecamatan=_toggle(current.kecamatan, code), desa=())
    if which == "heatmap" and data:
        cell = parsed(I.HeatCell, {"weekday": _first(data), "hour": data[1] if isinstance(data, list) and len(data) > 1 else None}, what)
        return current.with_(weekday=(cell.weekday,), hour=(cell.hour,))
    raise PreventUpdate


def _chips(f: HistoryFilter, lang: str):
    chips = []
    if f.weekday:
        chips.append(("weekday", t("hist.chip.weekday", lang, v=", ".join(t(f"weekday.{d}", lang) for d in f.weekday))))
    if f.hour:
        chips.append(("hour", t("hist.chip.hour", lang, v=", ".join(f"{h:02d}" for h in f.hour))))
    return [html.Span([label, html.Button("×", id={"type": "hist-chip", "key": key}, className="chip-x", n_clicks=0)],
                      className="hist-chip") for key, label in chips]


def sync(search, rng, start_date, end_date, kind, source, category, severity, status, kecamatan, desa, q,
         _reset, _prev, _next, c_timeline, c_category, c_area, c_heatmap, c_map, _chip_clicks, data):
    trigger = ctx.triggered_id
    lang = _lang()
    current, _ = state_of(data)
    if trigger is None or trigger == "hist-loc" or data is None:
        if search is not None and not isinstance(search, str):
            refuse("history URL", ValueError("the query string must be text"))
        f = HistoryFilter.from_query(search)
    elif trigger == "hist-reset":
        f = HistoryFilter()
    elif trigger == "hist-prev":
        f = current.with_(page=max(1, current.page - 1))
    elif trigger == "hist-next":
        f = current.with_(page=current.page + 1)
    elif isinstance(trigger, dict) and trigger.get("type") == "hist-chip":
        if trigger.get("key") not in I.CHIPS:
            refuse("history chip", ValueError(f"unknown chip {str(trigger.get('key'))[:40]!r}"))
        if not any(_chip_clicks or []):
            raise PreventUpdate
        f = current.with_(**{trigger["key"]: ()})
    elif isinstance(trigger, str) and trigger.startswith("hist-") and trigger[5:] in CLICKABLE and \
            ctx.triggered[0]["prop_id"].endswith("clickData"):
        clicks = dict(zip(CLICKABLE, (c_timeline, c_category, c_area, c_heatmap, c_map)))
        f = _from_click(current, trigger[5:], clicks[trigger[5:]])
    else:
        values = dict(zip(CONTROLS, (rng, kind, source, category, severity, status, kecamatan, desa, q)))
        f = _from_controls(current, {**values, "start_date": start_date, "end_date": end_date}, trigger)
    query = f.to_query()
    at = int(datetime.now(UTC).timestamp())
    new_search = no_update if (search or "").lstrip("?") == query.lstrip("?") else (query or "?")
    if f.range == "custom" and f.start and f.end:
        d0 = f.start.astimezone(WITA).date().isoformat()
        d1 = (f.end.astimezone(WITA) - timedelta(seconds=1)).date().isoformat()
    else:
        d0 = d1 = None
    return (new_search, {"q": query, "at": at}, f.range, d0, d1, f.kind, list(f.source), list(f.category),
            list(f.severity), list(f.status), list(f.kecamatan), list(f.desa), f.q,
            desa_options(list(f.kecamatan)), _chips(f, lang))


# ---- figures ------------------------------------------------------------------------------
def _style(fig: go.Figure, **kw) -> go.Figure:
    fig.update_layout(template="plotly_dark", paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      margin={"l": 8, "r": 8, "t": 8, "b": 8}, font={"color": colour("text"), "size": 12},
                      showlegend=False, clickmode="event", **kw)
    return fig


def timeline_figure(series, grain: str, lang: str) -> go.Figure:
    fmt = "%Y-%m-%d %H:%M" if grain == "hour" else "%Y-%m-%d"
    custom = [[a.isoformat(), Q.bucket_range(a, grain)[1].isoformat()] for a, _ in series]
    fig = go.Figure(go.Bar(x=[a.strftime(fmt) for a, _ in series], y=[n for _, n in series], customdata=custom,
                           marker_color=colour("chart-bar"), hovertemplate="%{x}: %{y}<extra></extra>"))
    return _style(fig, bargap=0.1, xaxis={"type": "category", "nticks": 12}, yaxis={"gridcolor": colour("chart-grid")})


def category_figure(rows, selected, lang: str) -> go.Figure:
    rows = rows[::-1]  # all of them: the bars must add up to the count
    fig = go.Figure(go.Bar(x=[n for _, n in rows], y=[category_label(k, lang) for k, _ in rows], orientation="h",
                           customdata=[k for k, _ in rows],
                           marker_color=[colour("chart-selected") if k in selected else colour("chart-bar") for k, _ in rows],
                           hovertemplate="%{y}: %{x}<extra></extra>"))
    return _style(fig, yaxis={"automargin": True}, xaxis={"gridcolor": colour("chart-grid")})


def _area_names() -> tuple[dict[str, str], dict[str, str]]:
    b = boundaries()
    return {code: name for code, name, _ in b.desa_names()}, b.kecamatan_names()


def area_figure(per_desa: dict[str, int], f: HistoryFilter, lang: str) -> go.Figure:
    desa_names, kec_names = _area_names()
    if f.kecamatan or f.desa:
        rows = [(code, desa_names.get(code, code), n) for code, n in per_desa.items() if code]
    else:
        rows = [(code, kec_names.get(code, code), n) for code, n in Q.fold_kecamatan(per_desa).items() if code]
    outside = per_desa.get("", 0)
    if outside:
        rows.append(("", t("hist.outside", lang), outside))
    rows = sorted(rows, key=lambda r: r[2])[-25:]
    selected = set(f.kecamatan) | set(f.desa)
    fig = go.Figure(go.Bar(x=[r[2] for r in rows], y=[r[1] for r in rows], orientation="h",
                           customdata=[r[0] for r in rows],
                           marker_color=[colour("chart-selected") if r[0] in selected else colour("chart-area") for r in rows],
                           hovertemplate="%{y}: %{x}<extra></extra>"))
    return _style(fig, yaxis={"automargin": True}, xaxis={"gridcolor": colour("chart-grid")})


def _scale() -> list:
    return [[0, colour("chart-scale-low")], [0.5, colour("chart-scale-mid")], [1, colour("chart-scale-high")]]


def heatmap_figure(grid, f: HistoryFilter, lang: str) -> go.Figure:
    days = [t(f"weekday.{d}", lang) for d in range(7)]
    custom = [[[d, h] for h in range(24)] for d in range(7)]
    fig = go.Figure(go.Heatmap(z=grid, x=[f"{h:02d}" for h in range(24)], y=days, customdata=custom,
                               colorscale=_scale(), showscale=False,
                               xgap=1, ygap=1, hovertemplate="%{y} %{x}:00 — %{z}<extra></extra>"))
    return _style(fig, yaxis={"autorange": "reversed"}, xaxis={"type": "category"})


@lru_cache(maxsize=2)
def plotly_geojson(level: str = "desa") -> dict:
    """Boundaries with clockwise outer rings: plotly's geo (d3) reads a counter-clockwise ring
    (the GeoJSON convention) as the whole globe minus the area, and draws nothing."""
    b = boundaries()
    geo = b.desa_geojson() if level == "desa" else b.kecamatan_geojson()
    features = []
    for f in geo["features"]:
        g = shape(f["geometry"])
        parts = list(g.geoms) if g.geom_type == "MultiPolygon" else [g]
        g = MultiPolygon([orient(p, sign=-1.0) for p in parts]) if len(parts) > 1 else orient(parts[0], sign=-1.0)
        features.append({**f, "geometry": mapping(g)})
    return {"type": "FeatureCollection", "features": features}


def map_figure(per_desa: dict[str, int], pts: list[dict], lang: str) -> go.Figure:
    geo = plotly_geojson("desa")
    codes = [ft["properties"]["kode"] for ft in geo["features"]]
    names = {ft["properties"]["kode"]: ft["properties"]["nama"] for ft in geo["features"]}
    fig = go.Figure(go.Choropleth(
        geojson=geo, featureidkey="properties.kode", locations=codes, z=[per_desa.get(c, 0) for c in codes],
        text=[names[c] for c in codes], colorscale=_scale(),
        marker_line_color=colour("chart-outline"), marker_line_width=0.6, showscale=False,
        hovertemplate="%{text}: %{z}<extra></extra>"))
    if pts:
        fig.add_trace(go.Scattergeo(
            lat=[p["lat"] for p in pts], lon=[p["lon"] for p in pts], mode="markers",
            marker={"size": 4, "color": [severity_colour(p["severity"]) if p["severity"] else colour("chart-bar") for p in pts],
                    "opacity": 0.8},
            text=[f"{p['time'].astimezone(WITA):%Y-%m-%d %H:%M} {p['title']}" for p in pts],
            hovertemplate="%{text}<extra></extra>"))
    fig.update_geos(fitbounds="locations", visible=False, bgcolor="rgba(0,0,0,0)")
    return _style(fig, geo={"bgcolor": "rgba(0,0,0,0)"})


def _fmt_int(n: int, lang: str) -> str:
    text = f"{n:,}"
    return text.replace(",", ".") if lang == "id" else text


def table(rows: list[dict], lang: str):
    if not rows:
        return html.P(t("hist.empty", lang), className="an-empty")
    desa_names, kec_names = _area_names()
    head = html.Thead(html.Tr([html.Th(t(f"hist.col.{k}", lang)) for k in
                               ("time", "source", "category", "severity", "status", "area", "value", "title")]))
    body = []
    for r in rows:
        area = desa_names.get(r["desa_code"], "")
        if area:
            area = f"{area}, {kec_names.get(r['kecamatan_code'], '')}"
        value = "" if r["value"] is None else f"{r['value']:g}"
        body.append(html.Tr([
            html.Td(r["time"].astimezone(WITA).strftime("%Y-%m-%d %H:%M"), className="num"),
            html.Td(r["source"]), html.Td(category_label(r["category"], lang)),
            html.Td(t(f"severity.{r['severity']}", lang) if r["severity"] else "", className=f"sev-{r['severity']}"),
            html.Td(t(f"status.{r['status']}", lang) if r["status"] else ""), html.Td(area),
            html.Td(value, className="num"), html.Td(r["title"], className="title")], **{"data-id": r["id"]}))
    return html.Table([head, html.Tbody(body)], className="an-table")


# ---- views ----------------------------------------------------------------------------------
def summary(data):
    """The breakdowns, the table page and the map points: everything but time (one service call)."""
    if data is None:
        raise PreventUpdate
    f, now = state_of(data)
    lang = _lang()
    try:
        v = service().history_summary(f, now)
    except SQLAlchemyError as exc:
        log.warning("history summary failed: %s", str(exc).splitlines()[0][:200])
        message = t("hist.error" if unreachable(exc) else "hist.error.query", lang)
        return (no_update, "", t("hist.page", lang, page=0, pages=0), True, True, "#", "#", message,
                no_update, no_update, no_update, "")
    link = f.with_(page=1).to_query()
    suffix = ("&" if link else "?") + urlencode({"at": int(now.timestamp())})
    return (table(v.rows, lang), t("hist.count", lang, n=_fmt_int(v.total, lang)),
            t("hist.page", lang, page=v.page, pages=v.pages), v.page <= 1, v.page >= v.pages,
            f"/history/export.csv{link}{suffix}", f"/history/export.geojson{link}{suffix}", "",
            category_figure(v.by_category, set(f.category), lang), area_figure(v.by_desa, f, lang),
            map_figure(v.by_desa, v.points, lang), t("hist.map_note", lang, n=_fmt_int(len(v.points), lang)))


def timeline(data):
    """Counts over time and the hour x weekday grid (one service call)."""
    if data is None:
        raise PreventUpdate
    f, now = state_of(data)
    lang = _lang()
    try:
        v = service().history_timeline(f, now)
    except SQLAlchemyError:
        raise PreventUpdate
    return (timeline_figure(v.series, v.granularity, lang),
            t("hist.over_time", lang, grain=t(f"hist.grain.{v.granularity}", lang)), heatmap_figure(v.grid, f, lang))


# ---- exports ----------------------------------------------------------------------------------
def _export_scope():
    f = HistoryFilter.from_query(request.query_string.decode("utf-8", "replace"))
    try:
        at = datetime.fromtimestamp(int(request.args.get("at", "")), UTC)
    except (ValueError, OverflowError, OSError):  # not a number, or no instant a clock can hold
        at = datetime.now(UTC).replace(microsecond=0)
    return f, at


def _stream(kind: str):
    f, at = _export_scope()
    analytics = service()

    def rows():
        yield from analytics.export_rows(f, at)

    stamp = at.astimezone(WITA).strftime("%Y%m%d-%H%M")
    if kind == "csv":
        body = X.csv_chunks(rows())
        mimetype, name = "text/csv; charset=utf-8", f"damamaya-history-{stamp}.csv"
    else:
        body = X.geojson_chunks(rows())
        mimetype, name = "application/geo+json", f"damamaya-history-{stamp}.geojson"
    return Response(stream_with_context(body), mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


_LAYERS = ("coastlines", "land", "ocean", "lakes", "rivers", "countries", "subunits")


def _topojson(name: str):
    """An empty world for plotly's geo maps. Plotly fetches its base map from a CDN even when the
    base layers are hidden, and without it draws nothing: here the boundaries carry the map."""
    body = {"type": "Topology", "arcs": [], "transform": {"scale": [1, 1], "translate": [0, 0]},
            "objects": {k: {"type": "GeometryCollection", "geometries": []} for k in _LAYERS}}
    return Response(orjson.dumps(body), mimetype="application/json", headers={"Cache-Control": "max-age=86400"})


def register(app: dash.Dash) -> None:
    app.callback(
        Output("hist-loc", "search"), Output("hist-state", "data"),
        Output("hist-range", "value"), Output("hist-dates", "start_date"), Output("hist-dates", "end_date"),
        *[Output(f"hist-{name}", "value") for name in CONTROLS[1:]],
        Output("hist-desa", "options"), Output("hist-chips", "children"),
        Input("hist-loc", "search"),
        Input("hist-range", "value"), Input("hist-dates", "start_date"), Input("hist-dates", "end_date"),
        *[Input(f"hist-{name}", "value") for name in CONTROLS[1:]],
        Input("hist-reset", "n_clicks"), Input("hist-prev", "n_clicks"), Input("hist-next", "n_clicks"),
        *[Input(f"hist-{name}", "clickData") for name in CLICKABLE],
        Input({"type": "hist-chip", "key": ALL}, "n_clicks"),
        State("hist-state", "data"),
    )(sync)
    app.callback(Output("hist-table", "children"), Output("hist-count", "children"), Output("hist-page", "children"),
                 Output("hist-prev", "disabled"), Output("hist-next", "disabled"),
                 Output("hist-csv", "href"), Output("hist-geojson", "href"), Output("hist-error", "children"),
                 Output("hist-category", "figure"), Output("hist-area", "figure"), Output("hist-map", "figure"),
                 Output("hist-map-note", "children"),
                 Input("hist-state", "data"))(summary)
    app.callback(Output("hist-timeline", "figure"), Output("hist-timeline-title", "children"),
                 Output("hist-heatmap", "figure"), Input("hist-state", "data"))(timeline)
    app.callback(Output("hist-source", "options"), Input("hist-state", "data"))(_source_options)
    server = app.server
    if "analytics_topojson" not in server.view_functions:
        server.add_url_rule(f"{TOPOJSON_URL}<name>.json", "analytics_topojson", _topojson)
    if "history_export_csv" not in server.view_functions:
        server.add_url_rule("/history/export.csv", "history_export_csv", lambda: _stream("csv"))
        server.add_url_rule("/history/export.geojson", "history_export_geojson", lambda: _stream("geojson"))


def _source_options(data):
    try:
        names = service().source_names()
    except SQLAlchemyError:
        raise PreventUpdate
    return [{"label": n, "value": n} for n in names]
