"""The open data under /api/v1 against real Redis and SQLite: filters, refusals, caching, no private data."""
from __future__ import annotations

import csv
import io
from datetime import timedelta, timezone

import pytest

from engine.records import WITA

from tests.public.conftest import ADDRESS, CALLER, POINTS


def _csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.data.decode())))


def test_incidents_geojson_are_public_records_at_desa_points(client, fresh_cache, public_env):
    from engine.public import desa_places

    r = client.get("/api/v1/incidents.geojson?limit=5000")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    features = r.get_json()["features"]
    assert len(features) > 100
    points = {(p.lon, p.lat) for p in desa_places().values()}
    for f in features:
        if f["geometry"] is not None:
            assert tuple(f["geometry"]["coordinates"]) in points
    sources = {f["properties"]["source"] for f in features}
    assert "pro-denpasar" in sources and "bmkg-nowcast" in sources
    assert not sources & {"ntpc-112", "seed-112", "seed-atcs-incidents"}, "112 calls and traffic are not public by default"
    body = r.data.decode()
    assert CALLER not in body and ADDRESS not in body and "PRO-0" not in body
    for lat, lon in POINTS:
        assert str(lat) not in body and str(lon) not in body


def test_public_ids_are_keyed_with_a_server_secret_and_stable(client, fresh_cache, public_env):
    """Knowing a source's record ids (ticket numbers) does not find their public records: the id is
    keyed with a secret of the server's, not a plain hash of source and id anyone could compute."""
    import hashlib

    _, by_source, _ = public_env
    first = client.get("/api/v1/incidents.geojson?limit=5000").get_json()["features"]
    again = client.get("/api/v1/incidents.geojson?limit=5000").get_json()["features"]
    assert [f["properties"]["id"] for f in first] == [f["properties"]["id"] for f in again]
    published = {f["properties"]["id"] for f in first}
    plain = {hashlib.blake2b(f"{s}:{r.id}".encode(), digest_size=8).hexdigest() for s, recs in by_source.items() for r in recs}
    assert published and not published & plain


@pytest.mark.parametrize("query,check", [
    ("kind=complaint", lambda row: row["domain"] == "complaint"),
    ("category=waste", lambda row: row["category"] == "waste"),
    ("status=open", lambda row: row["open"] == "true"),
    ("status=resolved", lambda row: row["status"] == "resolved"),
    ("area=51.71.01", lambda row: row["kecamatan_code"] == "51.71.01"),
    ("area=51.71.01.1004", lambda row: row["desa_code"] == "51.71.01.1004"),
])
def test_incident_filters(client, fresh_cache, public_env, query, check):
    since = (public_env[0] - timedelta(days=60)).date()
    rows = _csv(client.get(f"/api/v1/incidents.csv?{query}&since={since}&limit=5000"))
    assert rows, query
    assert all(check(row) for row in rows), query


def test_time_window_and_limit(client, fresh_cache, public_env):
    now, _, _ = public_env
    # three hours back, in Denpasar's time as a person types it (not midnight: just after it,
    # "since midnight" held nothing); the fixture has incidents on both sides of it
    since = (now - timedelta(hours=3)).astimezone(WITA).replace(second=0, microsecond=0)
    recent = _csv(client.get(f"/api/v1/incidents.csv?since={since:%Y-%m-%dT%H:%M}&limit=5000"))
    week = _csv(client.get("/api/v1/incidents.csv?limit=5000"))
    assert 0 < len(recent) < len(week)
    assert all(row["reported_at"] >= since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") for row in recent)
    assert len(_csv(client.get("/api/v1/incidents.csv?limit=3"))) == 3
    times = [row["reported_at"] for row in week]
    assert times == sorted(times, reverse=True)


def test_csv_cells_cannot_start_a_formula(client, fresh_cache, public_env):
    from engine.records import Price

    now, _, live = public_env
    from damamaya import runtime

    evil = Price(id="evil", source="pihps", commodity="beras_medium", market="=HYPERLINK(\"http://x\")", value=1000,
                 date=now)
    runtime.history().apply("pihps", [evil])
    rows = _csv(client.get("/api/v1/prices.csv?market=%3DHYPERLINK(%22http://x%22)"))
    assert [row["market"] for row in rows] == ["'=HYPERLINK(\"http://x\")"]


def test_prices_filters(client, fresh_cache):
    rows = _csv(client.get("/api/v1/prices.csv?category=cabai_rawit_merah&market=Pasar%20Kreneng&limit=10"))
    assert len(rows) == 10
    assert {(r["commodity"], r["market"]) for r in rows} == {("cabai_rawit_merah", "Pasar Kreneng")}
    assert [r["date"] for r in rows] == sorted((r["date"] for r in rows), reverse=True)
    barat = _csv(client.get("/api/v1/prices.csv?area=51.71.03&limit=10000"))
    assert barat and all(r["kecamatan_code"] == "51.71.03" for r in barat)


@pytest.mark.parametrize("path", [
    "/api/v1/incidents.csv?since=yesterday",
    "/api/v1/incidents.csv?since=2026-13-01",
    "/api/v1/incidents.csv?since=1999-12-31",
    "/api/v1/incidents.csv?since=2026-02-01&until=2026-01-01",
    "/api/v1/incidents.csv?since=2020-01-01&until=2026-01-01",
    "/api/v1/incidents.geojson?kind=emergency",
    "/api/v1/incidents.geojson?kind=complaint&kind=flood",
    "/api/v1/incidents.geojson?category=%00",
    "/api/v1/incidents.geojson?area=51.71.09",
    "/api/v1/incidents.geojson?area=99999999999999999999",
    "/api/v1/incidents.geojson?limit=0",
    "/api/v1/incidents.geojson?limit=100001",
    "/api/v1/incidents.geojson?limit=1e3",
    "/api/v1/incidents.geojson?status=lost",
    "/api/v1/incidents.geojson?q=drop%20table",
    "/api/v1/warnings.cap.xml?kind=complaint",
    "/api/v1/prices.csv?category=Beras%20Medium",
    "/api/v1/prices.csv?market=" + "x" * 500,
    "/api/v1/prices.csv?market=%0a",
])
def test_bad_parameters_get_a_clear_400(client, path):
    r = client.get(path)
    assert r.status_code == 400, path
    body = r.get_json()
    assert body["error"] == "bad_parameter" and body["parameter"] and body["message"]
    assert r.headers["Cache-Control"] == "no-store"


def test_cache_headers_etag_and_304(client, fresh_cache):
    first = client.get("/api/v1/incidents.geojson?kind=flood")
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "public, max-age=30"
    etag = first.headers["ETag"]
    again = client.get("/api/v1/incidents.geojson?kind=flood", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    other = client.get("/api/v1/incidents.geojson?kind=complaint", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["ETag"] != etag


def test_unknown_endpoint_is_a_json_404(client):
    r = client.get("/api/v1/secrets.json")
    assert r.status_code == 404 and r.get_json()["error"] == "not_found"


def test_openapi_lists_exactly_the_endpoints_and_their_parameters(client):
    from api.params import endpoint_params
    from damamaya import runtime

    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {"/incidents.geojson", "/incidents.csv", "/warnings.cap.xml", "/prices.csv"}
    for path, item in doc["paths"].items():
        names = [p["name"] for p in item["get"]["parameters"]]
        assert names == [p.name for p in endpoint_params(path[1:], runtime.config().public)]
        assert {"since", "until", "kind", "category", "area"} <= set(names)


def test_store_down_is_503_not_500(client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from damamaya import runtime

    class Down:
        @property
        def engine(self):
            raise OperationalError("select", {}, Exception("database is locked"))

    monkeypatch.setattr(runtime, "history", lambda: Down())
    r = client.get("/api/v1/incidents.csv?category=fire&limit=7")
    assert r.status_code == 503 and r.get_json()["error"] == "unavailable"


def test_bodies_hold_no_private_value(client, fresh_cache, public_env):
    since = (public_env[0] - timedelta(days=300)).date()
    for path in (f"/api/v1/incidents.geojson?since={since}&limit=10000",
                 "/api/v1/warnings.cap.xml", "/api/v1/prices.csv?limit=10000"):
        text = client.get(path).data.decode()
        assert CALLER not in text and ADDRESS not in text, path
