"""/publik's one callback: every `public.refresh_seconds` an open page asks for the data; it
gets the sections only when the data's etag moved, else nothing. The data comes from the
shared cache (api/public_summary.py), so a crowd of phones costs one computation per
`public.cache_seconds`."""
from __future__ import annotations

from dash import Input, Output, State, no_update

from layouts.parts import publik

PAGE = "publik"  # security.guard: this module's callbacks are the public page's (anyone)


def refresh(n_intervals, etag, lang):
    language = publik.page_language(lang)
    data = publik.load(language)
    if data is None:
        return publik.body(None, language), None
    if isinstance(etag, str) and etag == data["etag"]:
        return no_update, no_update
    return publik.rendered_body(data, language), data["etag"]


def register(app) -> None:
    app.callback(
        Output("publik-body", "children"), Output("publik-etag", "data"),
        Input("publik-refresh", "n_intervals"), State("publik-etag", "data"), State("publik-lang", "data"),
        prevent_initial_call=True,
    )(refresh)
