"""The open data's history queries on SQLite and PostgreSQL alike: filters, order, limit, public rows only."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from api.open_data import incident_rows, price_rows
from api.params import Query
from engine.public import PublicConfig
from tests.public.conftest import CALLER, live_records

NOW = datetime.now(timezone.utc).replace(microsecond=0)
SPAN = (NOW - timedelta(days=60), NOW + timedelta(minutes=1))


def _filled(history):
    for source, recs in live_records(NOW).items():
        history.apply(source, recs)
    return history.engine


def test_incident_filters_on_both_databases(history):
    engine = _filled(history)
    cfg = PublicConfig()
    every = incident_rows(engine, Query(), SPAN, cfg, "id")
    assert {r["source"] for r in every} == {"pro-denpasar", "flood-reports", "bmkg-nowcast"}, "112 calls are not public"
    assert [r["reported_at"] for r in every] == sorted((r["reported_at"] for r in every), reverse=True)
    assert CALLER not in str(every)
    opened = incident_rows(engine, Query({"status": "open", "kind": "complaint"}), SPAN, cfg, "id")
    assert opened and all(r["open"] and r["domain"] == "complaint" for r in opened)
    selatan = incident_rows(engine, Query({"area": "51.71.01"}), SPAN, cfg, "id")
    assert selatan and all(r["kecamatan_code"] == "51.71.01" for r in selatan)
    assert len(incident_rows(engine, Query({"limit": 2}), SPAN, cfg, "id")) == 2
    assert incident_rows(engine, Query({"category": "fire"}), SPAN, cfg, "id") == []
    only_floods = incident_rows(engine, Query(), SPAN, PublicConfig(sources=["flood-reports"]), "id")
    assert only_floods and {r["source"] for r in only_floods} == {"flood-reports"}


def test_price_filters_on_both_databases(history):
    engine = _filled(history)
    rows = price_rows(engine, Query({"category": "beras_medium", "market": "Pasar Kreneng"}), SPAN, PublicConfig())
    assert len(rows) == 36 and {(r["commodity"], r["market"]) for r in rows} == {("beras_medium", "Pasar Kreneng")}
    assert [r["date"] for r in rows] == sorted((r["date"] for r in rows), reverse=True)
    week = price_rows(engine, Query({"category": "beras_medium"}), (NOW - timedelta(days=7), NOW), PublicConfig())
    assert 12 <= len(week) <= 16  # two markets, seven or eight market days
