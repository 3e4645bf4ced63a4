"""Pieces of /history shared by its layout and its callbacks: the filter options and the graphs' config."""
from __future__ import annotations

from engine.geo import boundaries, kecamatan_code
from engine.taxonomy import CATEGORIES, category_label

# plotly fetches its base-map topology from the internet even when it is hidden; the app
# serves an empty one here instead (see callbacks/history.py), the boundaries carry the map.
TOPOJSON_URL = "/analytics/topojson/"

GRAPH_CONFIG = {"displaylogo": False, "responsive": True, "topojsonURL": TOPOJSON_URL,
                "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}


def kecamatan_options(lang: str) -> list[dict]:
    names = boundaries().kecamatan_names()
    return [{"label": name, "value": code} for code, name in sorted(names.items(), key=lambda x: x[1])]


def desa_options(kecamatan: list[str] | None = None) -> list[dict]:
    return [{"label": f"{desa} ({kec})", "value": code} for code, desa, kec in
            sorted(boundaries().desa_names(), key=lambda x: x[1])
            if not kecamatan or kecamatan_code(code) in kecamatan]


def category_options(lang: str, extra: list[str] = ()) -> list[dict]:
    keys = list(CATEGORIES) + [e for e in extra if e not in CATEGORIES]
    return [{"label": category_label(k, lang), "value": k} for k in keys]
