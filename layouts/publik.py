"""/publik: the public page, for anyone, phone first, Bahasa Indonesia first (`?lang=en` for English).

Active warnings, floods and river gauges, open complaints by desa and status, staple
prices and their change. Its data is engine.public's summary (no personal data, every
place a desa) computed at most once per `public.cache_seconds` for all visitors
(api/public_summary.py); an open page asks again every `public.refresh_seconds` (at
least 60) and gets nothing back unless the data changed. The rendering is in
layouts/parts/publik.py, shared with the refresh callback.
"""
from __future__ import annotations

import dash
from dash import dcc, html

from damamaya import runtime
from layouts.messages import t
from layouts.parts.publik import footer, load, page_language, rendered_body

dash.register_page(__name__, path="/publik", name="publik", title="Info Publik Kota Denpasar · Damamaya",
                   description="Pengaduan, banjir, peringatan dini dan harga pangan Kota Denpasar")


def layout(lang: str | None = None, **_query):
    language = page_language(lang)
    data = load(language)
    other = "en" if language == "id" else "id"
    return html.Div([
        html.Header([
            html.Div([html.H1(t("publik.title", language)), html.P(t("publik.subtitle", language), className="pb-sub")]),
            html.A(t("publik.other_language", language), href=f"/publik?lang={other}", className="pb-lang", hrefLang=other),
        ], className="pb-header"),
        html.Main(rendered_body(data, language), id="publik-body"),
        html.Footer(footer(language), className="pb-footer"),
        dcc.Store(id="publik-etag", data=data["etag"] if data else None),
        dcc.Store(id="publik-lang", data=language),
        dcc.Interval(id="publik-refresh", interval=runtime.config().public.refresh_seconds * 1000),
    ], className="publik", lang=language)
