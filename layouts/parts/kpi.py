"""Rendering of KPIs shared by the /kpi layout and its callbacks: numbers, trends, tiles.
Pure functions of a computed Kpi and the registry entry that says how to show it."""
from __future__ import annotations

from datetime import datetime

from dash import html

from engine.analytics.kpi import Kpi
from engine.analytics.registry import KPIS
from engine.records import WITA
from layouts.messages import t


def number(value: float, lang: str, decimals: int = 0) -> str:
    text = f"{value:,.{decimals}f}"
    if lang == "id":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def value_text(kpi: Kpi, lang: str, value: float | None = None) -> str:
    value = kpi.value if value is None else value
    if value is None:
        return "—"
    decimals = _decimals(kpi)
    if kpi.unit == "level":
        return t(f"kpi.siaga.{min(int(value), 3)}", lang)
    if kpi.unit == "%":
        return f"{number(value, lang, decimals)} %"
    if kpi.unit == "s":
        return f"{number(value / 60, lang, decimals)} {t('kpi.unit.min', lang)}"
    if kpi.unit == "h":
        return f"{number(value, lang, decimals)} {t('kpi.unit.h', lang)}"
    return number(value, lang, decimals)


def _decimals(kpi: Kpi) -> int:
    entry = KPIS.get(kpi.id)
    return entry.decimals if entry else 0


def trend_text(kpi: Kpi, target, lang: str) -> tuple[str, str]:
    """('▲ +1,2 pp', 'trend-bad'): the change against the previous period and whether it is good."""
    delta = kpi.delta
    if delta is None:
        return t("kpi.no_trend", lang), "trend-none"
    arrow = "▲" if delta > 0 else "▼" if delta < 0 else "■"
    sign, decimals = "+" if delta >= 0 else "", _decimals(kpi)
    if kpi.unit == "%":
        amount = f"{sign}{number(delta, lang, decimals)} pp"
    elif kpi.unit == "s":
        amount = f"{sign}{number(delta / 60, lang, decimals)} {t('kpi.unit.min', lang)}"
    elif kpi.unit == "h":
        amount = f"{sign}{number(delta, lang, decimals)} {t('kpi.unit.h', lang)}"
    else:
        amount = f"{sign}{number(delta, lang, decimals)}"
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


def period_text(start: datetime, end: datetime, lang: str) -> str:
    a, b = start.astimezone(WITA), end.astimezone(WITA)
    return t("kpi.range", lang, start=a.strftime("%d %b %H:%M"), end=b.strftime("%d %b %Y %H:%M"))
