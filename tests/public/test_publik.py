"""/publik's layout and refresh callback, called as Dash calls them, on real Redis: every section,
both languages, nothing private, and a refresh that sends nothing while the data is unchanged."""
from __future__ import annotations

import orjson
import pytest
from dash import no_update

from tests.public.conftest import ADDRESS, CALLER, POINTS


def _text(component) -> str:
    """A component tree (or a list of them) as JSON text."""
    return orjson.dumps(component, default=lambda c: c.to_plotly_json()).decode()


def _find(component, component_id: str):
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if hasattr(child, "to_plotly_json") and (found := _find(child, component_id)) is not None:
            return found
    return None


@pytest.fixture
def publik(client):
    from layouts import publik  # registers the page: the app must exist first

    return publik


@pytest.mark.parametrize("lang,words", [
    (None, ["Peringatan aktif", "Banjir dan tinggi muka air", "Pengaduan terbuka per desa", "Harga pangan", "Siaga II"]),
    ("en", ["Active warnings", "Floods and water levels", "Open complaints by desa", "Staple prices", "Siaga II"]),
    ("xx", ["Peringatan aktif"]),
])
def test_layout_shows_every_section_in_its_language(publik, fresh_cache, lang, words):
    page = publik.layout(**({"lang": lang} if lang else {}))
    text = _text(page)
    for word in words:
        assert word in text
    assert "Hujan lebat disertai angin kencang" in text and "Peringatan yang sudah lewat" not in text
    assert "Beras medium" in text and "Rp" in text
    assert CALLER not in text and ADDRESS not in text
    for lat, lon in POINTS:
        assert str(lat) not in text and str(lon) not in text


def test_complaints_counted_by_desa_and_status(publik, fresh_cache):
    from api.public_summary import summary_for

    data = summary_for("id")
    rows = {r["desa"]: r for r in data["complaints"]}
    assert sum(r["total"] for r in data["complaints"]) >= 4  # the six hand-made complaints, less the resolved ones
    assert all(sum(r["statuses"].values()) == r["total"] for r in rows.values())
    assert all(status in ("new", "acknowledged", "dispatched", "in_progress") for r in rows.values() for status in r["statuses"])
    beras = next(p for p in data["prices"] if p["commodity"] == "beras_medium")
    assert beras["change_day_pct"] is not None and beras["change_month_pct"] is not None
    gauges = {g["station"]: g for g in data["gauges"]}
    assert gauges["tk-badung-pesanggaran"]["value"] == 267.0, "the newest reading of each gauge"


def test_refresh_sends_nothing_while_the_data_is_unchanged(publik, fresh_cache, public_env):
    from callbacks.publik import refresh
    etag = _find(publik.layout(), "publik-etag").data
    assert etag
    assert refresh(1, etag, "id") == (no_update, no_update)
    body, new_etag = refresh(1, "stale-etag", "id")
    assert new_etag == etag and "Harga pangan" in _text(body) and isinstance(body[0], dict)
    body, _ = refresh(1, None, ["not", "a", "language"])
    assert "Harga pangan" in _text(body)


def test_the_summary_is_computed_once_for_a_crowd(publik, fresh_cache, public_env, monkeypatch):
    from api import public_summary

    calls = []
    original = public_summary.build
    monkeypatch.setattr(public_summary, "build", lambda *a: calls.append(1) or original(*a))
    first = [public_summary.summary_for("id")["etag"] for _ in range(20)]
    assert len(calls) == 1 and len(set(first)) == 1
    _, by_source, live = public_env
    live.apply("pro-denpasar", by_source["pro-denpasar"][:1])  # versions move, but within cache_seconds nothing is recomputed
    public_summary.summary_for("id")
    assert len(calls) == 1
