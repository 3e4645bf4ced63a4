"""Pieces of /publik shared by its layout and its refresh callback: the page's data and its
rendering, section by section. Plain module: it registers no page."""
from __future__ import annotations

from datetime import datetime

import orjson
from dash import html
from plotly.io.json import to_json_plotly
from redis.exceptions import RedisError

from api.public_summary import summary_for
from engine.records import WITA
from layouts.messages import t

LANGUAGES = ("id", "en")
COMPLAINT_ROWS = 12
SEVERITY_CLASS = {s: f"pb-sev-{s}" for s in ("critical", "high", "medium", "low", "info")}
SIAGA_CLASS = {0: "pb-siaga-0", 1: "pb-siaga-3", 2: "pb-siaga-2", 3: "pb-siaga-1", 4: "pb-siaga-1"}
OPEN_DATA = [("incidents.csv", "/api/v1/incidents.csv"), ("incidents.geojson", "/api/v1/incidents.geojson"),
             ("warnings.cap.xml", "/api/v1/warnings.cap.xml"), ("prices.csv", "/api/v1/prices.csv"),
             ("openapi.json", "/api/v1/openapi.json")]


def page_language(lang) -> str:
    return lang if isinstance(lang, str) and lang in LANGUAGES else "id"


def load(language: str) -> dict | None:
    """The page's data, None while the live store cannot be reached."""
    try:
        return summary_for(language)
    except RedisError:
        return None


_RENDERED: dict[tuple[str, str], list] = {}


def rendered_body(data: dict | None, language: str) -> list:
    """The page body as plain component JSON, built once per data version and language in this
    process: a crowd's refreshes after a change then cost a dictionary lookup, not a render."""
    if data is None:
        return body(None, language)
    key = (data["etag"], language)
    if key not in _RENDERED:
        if len(_RENDERED) >= 8:
            _RENDERED.clear()
        _RENDERED[key] = orjson.loads(to_json_plotly(body(data, language)))
    return _RENDERED[key]


def body(data: dict | None, language: str) -> list:
    if data is None:
        return [html.P(t("publik.unavailable", language), className="pb-unavailable")]
    return [
        html.P(t("publik.as_of", language, time=_wita(data["as_of"], "%d/%m/%Y %H:%M")), className="pb-asof"),
        warnings_section(data["warnings"], language),
        floods_section(data["gauges"], data["floods"], language),
        complaints_section(data["complaints"], language),
        prices_section(data["prices"], language),
    ]


def _wita(iso: str, fmt: str) -> str:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(WITA).strftime(fmt)


def _section(section_id: str, title: str, children) -> html.Section:
    return html.Section([html.H2(title), *children], id=section_id, className="pb-section")


def warnings_section(warnings: list[dict], language: str) -> html.Section:
    if not warnings:
        return _section("pb-warnings", t("publik.warnings", language), [html.P(t("publik.warnings.none", language), className="pb-none")])
    cards = []
    for w in warnings:
        meta = [t(f"severity.{w['severity']}", language), w["event"] or w["category_label"], w["area"] or w["desa"] or ""]
        if w.get("expires_at"):
            meta.append(t("publik.warnings.until", language, time=_wita(w["expires_at"], "%d/%m %H:%M")))
        cards.append(html.Article([
            html.H3(w["headline"]),
            html.P(" · ".join(m for m in meta if m), className="pb-meta"),
            html.P(w["description"][:280], className="pb-desc") if w["description"] else None,
            html.P(w["instruction"][:200], className="pb-instr") if w["instruction"] else None,
        ], className=f"pb-warning {SEVERITY_CLASS.get(w['severity'], '')}"))
    return _section("pb-warnings", t("publik.warnings", language), cards)


def floods_section(gauges: list[dict], floods: list[dict], language: str) -> html.Section:
    gauge_rows = [html.Li([
        html.Span([html.Strong(g["station_name"]), html.Small(g["desa"] or "")], className="pb-name"),
        html.Span(f"{g['value']:g} {g['unit']}".strip(), className="pb-num"),
        html.Span(g["siaga"], className=f"pb-badge {SIAGA_CLASS.get(g['alert_level'], '')}"),
    ], className="pb-row pb-gauge") for g in gauges]
    flood_chips = [html.Li([html.Strong(f["desa"]), html.Span(t("publik.reports", language, n=f["total"]))],
                           className=f"pb-chip {SEVERITY_CLASS.get(f['worst'], '')}") for f in floods]
    return _section("pb-floods", t("publik.floods", language), [
        html.H3(t("publik.gauges", language)),
        html.Ul(gauge_rows, className="pb-list") if gauges else html.P(t("publik.gauges.none", language), className="pb-none"),
        html.H3(t("publik.flood_areas", language)),
        html.Ul(flood_chips, className="pb-chips") if floods else html.P(t("publik.flood_areas.none", language), className="pb-none"),
    ])


def complaints_section(rows: list[dict], language: str) -> html.Section:
    if not rows:
        return _section("pb-complaints", t("publik.complaints", language), [html.P(t("publik.complaints.none", language), className="pb-none")])
    total = sum(r["total"] for r in rows)
    items = [html.Li([
        html.Span([html.Strong(r["desa"]), html.Small(r["kecamatan"])], className="pb-name"),
        html.Span([html.Span(f"{t(f'status.{s}', language)} {n}", className=f"pb-status pb-st-{s}")
                   for s, n in sorted(r["statuses"].items())], className="pb-statuses"),
        html.Span(str(r["total"]), className="pb-num"),
    ], className="pb-row") for r in rows[:COMPLAINT_ROWS]]
    more = len(rows) - COMPLAINT_ROWS
    return _section("pb-complaints", t("publik.complaints", language), [
        html.P(t("publik.complaints.total", language, n=total, d=len(rows)), className="pb-lead"),
        html.Ul(items, className="pb-list"),
        html.P(t("publik.complaints.more", language, n=more), className="pb-none") if more > 0 else None,
    ])


def rupiah(value: float, language: str) -> str:
    text = f"{value:,.0f}"
    return "Rp" + (text.replace(",", ".") if language == "id" else text)


def _change(pct: float | None, label: str, language: str) -> html.Span:
    if pct is None:
        return html.Span(f"{label} –", className="pb-chg flat")
    arrow, cls = ("▲", "up") if pct > 0 else ("▼", "down") if pct < 0 else ("=", "flat")
    number = f"{abs(pct):.1f}%"
    return html.Span(f"{label} {arrow}{number.replace('.', ',') if language == 'id' else number}", className=f"pb-chg {cls}")


def prices_section(prices: list[dict], language: str) -> html.Section:
    if not prices:
        return _section("pb-prices", t("publik.prices", language), [html.P(t("publik.prices.none", language), className="pb-none")])
    rows = [html.Li([
        html.Span([html.Strong(p["label"]),
                   html.Small(t("publik.prices.per", language, unit=p["unit"], day=datetime.fromisoformat(p["day"]).strftime("%d/%m")))],
                  className="pb-name"),
        html.Span(rupiah(p["value"], language), className="pb-num"),
        html.Span([_change(p["change_day_pct"], t("publik.prices.day", language), language),
                   _change(p["change_week_pct"], t("publik.prices.week", language), language),
                   _change(p["change_month_pct"], t("publik.prices.month", language), language)], className="pb-changes"),
    ], className="pb-row pb-price") for p in prices]
    return _section("pb-prices", t("publik.prices", language), [
        html.P(t("publik.prices.change", language), className="pb-lead"), html.Ul(rows, className="pb-list")])


def footer(language: str) -> list:
    return [
        html.P(t("publik.privacy", language)),
        html.P([html.Strong(t("publik.open_data", language) + ": "),
                *[html.A(name, href=href, className="pb-api") for name, href in OPEN_DATA]]),
    ]
