"""/kpi, for the mayor's office: the city's KPIs with period, trend, freshness and completeness,
a smart-city pillar scorecard, and a comparison by kecamatan and desa/kelurahan.

The content is filled by callbacks/kpi.py; this module also holds the pure
rendering helpers (numbers, trends, tiles) so they can be tested without a browser.
"""
from __future__ import annotations

from datetime import datetime

from dash import dcc, html

from engine.analytics.config import PILLARS, kpi_config
from engine.analytics.kpi import Kpi
from engine.analytics.kpis import AREA_METRICS, DEFAULT_PERIOD, PERIODS
from engine.records import WITA
from layouts.messages import t
from layouts.history import TOPOJSON_URL
from layouts.pages import nav

COUNT_UNITS = {"calls", "complaints", "spots", "segments", "incidents", "commodities", "level"}


def number(value: float, lang: str, decimals: int = 0) -> str:
    text = f"{value:,.{decimals}f}"
    if lang == "id":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def value_text(kpi: Kpi, lang: str, value: float | None = None) -> str:
    value = kpi.value if value is None else value
    if value is None:
        return "—"
    if kpi.unit == "level":
        return t(f"kpi.siaga.{min(int(value), 3)}", lang)
    if kpi.unit == "%":
        return f"{number(value, lang, 1)} %"
    if kpi.unit == "s":
        return f"{number(value / 60, lang, 1)} {t('kpi.unit.min', lang)}"
    if kpi.unit == "h":
        return f"{number(value, lang, 1)} {t('kpi.unit.h', lang)}"
    return number(value, lang)


def trend_text(kpi: Kpi, target, lang: str) -> tuple[str, str]:
    """('▲ +1,2 pp', 'trend-bad'): the change against the previous period and whether it is good."""
    delta = kpi.delta
    if delta is None:
        return t("kpi.no_trend", lang), "trend-none"
    arrow = "▲" if delta > 0 else "▼" if delta < 0 else "■"
    if kpi.unit == "%":
        amount = f"{'+' if delta >= 0 else ''}{number(delta, lang, 1)} pp"
    elif kpi.unit == "s":
        amount = f"{'+' if delta >= 0 else ''}{number(delta / 60, lang, 1)} {t('kpi.unit.min', lang)}"
    elif kpi.unit == "h":
        amount = f"{'+' if delta >= 0 else ''}{number(delta, lang, 1)} {t('kpi.unit.h', lang)}"
    else:
        amount = f"{'+' if delta >= 0 else ''}{number(delta, lang)}"
    mood = "trend-none"
    if target is not None and delta != 0:
        better = (delta < 0) == (target.better == "lower")
        mood = "trend-good" if better else "trend-bad"
    return f"{arrow} {amount}", mood


def age_text(newest: datetime | None, as_of: datetime, lang: str) -> str:
    if newest is None:
        return t("no_data", lang)
    seconds = max(0, int((as_of - newest).total_seconds()))
    if seconds < 60:
        return t("age.seconds", lang, n=seconds)
    if seconds < 3600:
        return t("age.minutes", lang, n=seconds // 60)
    if seconds < 86400:
        return t("age.hours", lang, n=seconds // 3600)
    return t("age.days", lang, n=seconds // 86400)


def tile(kpi: Kpi, target, as_of: datetime, period_text: str, lang: str, extra=None) -> html.Div:
    """One KPI: the number (or INCOMPLETE), its trend, period, freshness and completeness."""
    if kpi.incomplete:
        shown = html.Div(t("kpi.incomplete", lang), className="kpi-value kpi-incomplete-text")
        why = t("kpi.incomplete_why", lang, pct=f"{number(100 * (1 - kpi.completeness), lang, 1)} %")
    else:
        shown = html.Div(value_text(kpi, lang), className="kpi-value")
        why = None
    trend, mood = trend_text(kpi, target, lang)
    if kpi.completeness is None:
        complete = t("kpi.no_source", lang)
    else:
        complete = t("kpi.complete", lang, pct=f"{number(100 * kpi.completeness, lang, 1)} %")
    notes = []
    if kpi.detail.get("p50") is not None and not kpi.incomplete:
        notes.append(t("kpi.p50", lang, value=value_text(kpi, lang, kpi.detail["p50"])))
    if kpi.few_samples and not kpi.incomplete:
        notes.append(t("kpi.few_samples", lang, n=kpi.samples))
    if "judged" in kpi.detail and not kpi.incomplete:
        notes.append(t("kpi.judged", lang, met=number(kpi.detail["met"], lang), n=number(kpi.detail["judged"], lang)))
    return html.Div([
        html.Div(t(f"kpi.{kpi.id}", lang), className="kpi-label"),
        shown,
        html.Div(why, className="kpi-why") if why else None,
        html.Div(" · ".join(notes), className="kpi-note") if notes else None,
        html.Div([html.Span(trend, className=mood), html.Span(" " + t("kpi.vs_previous", lang), className="kpi-muted")],
                 className="kpi-trend"),
        extra,
        html.Div([html.Span(period_text), html.Span(t("kpi.fresh", lang, age=age_text(kpi.freshness, as_of, lang))),
                  html.Span(complete, className="kpi-complete-bad" if kpi.incomplete else "")], className="kpi-meta"),
    ], className=f"kpi-tile kpi-{kpi.status}", id={"type": "kpi-tile", "kpi": kpi.id})


def layout(config):
    lang = config.language
    kcfg = kpi_config(config)
    del kcfg  # the callbacks read it; nothing of it is static
    return html.Div([
        nav(config, "/kpi"),
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
        dcc.Loading(html.Div(id="kpi-sections"), type="dot", color="#4fc3f7"),
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


def period_text(start: datetime, end: datetime, lang: str) -> str:
    a, b = start.astimezone(WITA), end.astimezone(WITA)
    return t("kpi.range", lang, start=a.strftime("%d %b %H:%M"), end=b.strftime("%d %b %Y %H:%M"))
