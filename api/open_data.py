"""Open data under /api/v1: public incidents (GeoJSON, CSV), active warnings (CAP 1.2 in
Atom) and staple prices (CSV), each filtered by time, kind, category and area.

Incidents and prices are read from the history store, read-only; warnings from the
live store. Every record passes through engine.public (the one owner of what is
public) before it is written out. Every parameter is typed and bounded
(api/params.py): a bad one answers 400 with a JSON error naming it, never 500;
an unreachable store answers 503. Bodies are computed at most once per
`public.cache_seconds` for all clients (api/cache.py) and sent with
`Cache-Control: public, max-age` and an ETag (a matching If-None-Match gets 304).
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import orjson
from flask import Blueprint, Response, jsonify, request
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from api import cap, openapi, params
from api.cache import PublicCache, digest
from api.public_summary import public_config
from damamaya import runtime
from engine.analytics.export import neutralize
from engine.history import records
from engine.public import (PublicConfig, area_matches, public_incident, public_place, public_price,
                           public_warning, warning_is_active)
from engine.records import OPEN_STATUSES, Severity

blueprint = Blueprint("open_data", __name__, url_prefix="/api/v1")

# ---- routes ---------------------------------------------------------------------------------

@blueprint.get("/incidents.geojson")
def incidents_geojson():
    return _serve("incidents.geojson", "application/geo+json", lambda q, r, cfg: _geojson(_incidents(q, r, cfg)))


@blueprint.get("/incidents.csv")
def incidents_csv():
    return _serve("incidents.csv", "text/csv; charset=utf-8",
                  lambda q, r, cfg: _csv(_incidents(q, r, cfg), params.INCIDENT_COLUMNS))


@blueprint.get("/warnings.cap.xml")
def warnings_cap():
    return _serve("warnings.cap.xml", "application/atom+xml; charset=utf-8", _warnings_feed)


@blueprint.get("/prices.csv")
def prices_csv():
    return _serve("prices.csv", "text/csv; charset=utf-8", lambda q, r, cfg: _csv(_prices(q, r, cfg), params.PRICE_COLUMNS))


@blueprint.get("/openapi.json")
def openapi_json():
    cfg = public_config()
    body = orjson.dumps(openapi.document(cfg))
    response = Response(body, mimetype="application/json")
    response.set_etag(digest(body))
    return _cacheable(response, cfg)


@blueprint.route("/<path:rest>")
def not_found(rest: str):
    return _error(404, "not_found", None, "no such open data endpoint; see /api/v1/openapi.json")


# ---- serving ----------------------------------------------------------------------------------

def _serve(name: str, mimetype: str, build):
    cfg = public_config()
    now = datetime.now(timezone.utc)
    try:
        query = params.parse_query(request.args, params.endpoint_params(name, cfg))
        span = params.time_range(query, now, params.DEFAULT_DAYS[name], cfg.max_days)
    except params.BadParameter as exc:
        return _error(400, "bad_parameter", exc.name, exc.message)
    key = f"{name}:{digest(orjson.dumps(sorted((k, str(v)) for k, v in query.values.items())))}"
    try:
        body, etag = PublicCache(runtime.live(), cfg).get(key, lambda: build(query, span, cfg))
    except (SQLAlchemyError, RedisError, OSError) as exc:
        return _error(503, "unavailable", None, f"the data store cannot be reached now ({type(exc).__name__}); try again")
    response = Response(body, mimetype=mimetype)
    response.set_etag(etag)
    if mimetype.startswith("text/csv"):
        response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    return _cacheable(response, cfg)


def _cacheable(response: Response, cfg: PublicConfig) -> Response:
    response.cache_control.public = True
    response.cache_control.max_age = cfg.cache_seconds
    response.headers["Access-Control-Allow-Origin"] = "*"  # open data: any site may read it
    return response.make_conditional(request)


def _error(status: int, code: str, parameter: str | None, message: str):
    body = {"error": code, "message": message}
    if parameter is not None:
        body["parameter"] = parameter
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


# ---- incidents -------------------------------------------------------------------------------

def _area_terms(c, area: str | None) -> list:
    if area is None:
        return []
    if area.count(".") == 3:
        return [c.desa_code == area]
    return [c.desa_code.like(area + ".%")]


def _incidents(query: params.Query, span, cfg: PublicConfig) -> list[dict]:
    return incident_rows(runtime.history().engine, query, span, cfg, runtime.config().language)


def incident_rows(engine: Engine, query: params.Query, span, cfg: PublicConfig, language: str) -> list[dict]:
    """Public incidents from the history store, newest first, read-only."""
    since, until = span
    c = records.c
    kinds = [query.get("kind")] if query.get("kind") else params.public_kinds(cfg)
    stmt = select(c.payload).where(c.kind == "incident", c.domain.in_(kinds), c.event_time >= since,
                                   c.event_time < until, *_area_terms(c, query.get("area")))
    if cfg.sources is not None:
        stmt = stmt.where(c.source.in_(cfg.sources))
    if query.get("category"):
        stmt = stmt.where(c.category == query.get("category"))
    status = query.get("status")
    if status == "open":
        stmt = stmt.where(c.status.in_(sorted(OPEN_STATUSES)))
    elif status:
        stmt = stmt.where(c.status == status)
    stmt = stmt.order_by(c.event_time.desc(), c.source, c.record_id).limit(query.get("limit", params.DEFAULT_LIMIT))
    with engine.connect() as conn:
        rows = [orjson.loads(r.payload) for r in conn.execute(stmt)]
    out = (public_incident(rec, cfg, language) for rec in rows)
    return [p for p in out if p is not None]


def _geojson(rows: list[dict]) -> bytes:
    features = []
    for row in rows:
        geometry = {"type": "Point", "coordinates": [row["lon"], row["lat"]]} if row["lat"] is not None else None
        features.append({"type": "Feature", "id": row["id"], "geometry": geometry,
                         "properties": {k: v for k, v in row.items() if k not in ("lat", "lon")}})
    return orjson.dumps({"type": "FeatureCollection", "features": features})


def _csv(rows: list[dict], columns: tuple[str, ...]) -> bytes:
    """CSV with every text cell neutralised against spreadsheet formulas (engine.analytics.export's rule)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([neutralize(row[k]) for k in columns])
    return buf.getvalue().encode()


# ---- warnings ---------------------------------------------------------------------------------

def _warnings(query: params.Query, span, cfg: PublicConfig) -> list[dict]:
    since, until = span
    live = runtime.live()
    language = runtime.config().language
    now = datetime.now(timezone.utc)
    described = live.sources()
    out = []
    for source in sorted(s for s in live.versions() if cfg.source_allowed(s)):
        kinds = described.get(source, {}).get("kinds")
        if kinds is not None and "incident" not in kinds:
            continue
        for rec in live.raw_records(source):
            if not warning_is_active(rec, now) or not _warning_matches(rec, query, since, until):
                continue
            warning = public_warning(rec, cfg, language)
            if warning is not None:
                out.append(warning)
    return sorted(out, key=lambda w: (-Severity[w["severity"]], w["reported_at"], w["id"]))


def _warning_matches(rec: dict, query: params.Query, since, until) -> bool:
    if query.get("kind") and rec.get("domain") != query.get("kind"):
        return False
    if query.get("category") and rec.get("category") != query.get("category"):
        return False
    if not area_matches(public_place(rec), query.get("area")):
        return False
    reported = datetime.fromisoformat(rec["reported_at"].replace("Z", "+00:00"))
    return (since is None or reported >= since) and (until is None or reported < until)


def _warnings_feed(query: params.Query, span, cfg: PublicConfig) -> bytes:
    warnings = _warnings(query, span, cfg)
    language = runtime.config().language
    title = "Peringatan aktif - Damamaya Denpasar" if language == "id" else "Active warnings - Damamaya Denpasar"
    updated = max((datetime.fromisoformat(w["updated_at"].replace("Z", "+00:00")) for w in warnings),
                  default=datetime(2000, 1, 1, tzinfo=timezone.utc))
    return cap.atom_feed(warnings, cfg.cap_sender, "urn:damamaya:warnings", title, updated, language)


# ---- prices -----------------------------------------------------------------------------------

def _prices(query: params.Query, span, cfg: PublicConfig) -> list[dict]:
    return price_rows(runtime.history().engine, query, span, cfg)


def price_rows(engine: Engine, query: params.Query, span, cfg: PublicConfig) -> list[dict]:
    """Public prices from the history store, newest first, read-only."""
    since, until = span
    c = records.c
    stmt = select(c.payload).where(c.kind == "price", c.event_time >= since, c.event_time < until,
                                   *_area_terms(c, query.get("area")))
    if cfg.sources is not None:
        stmt = stmt.where(c.source.in_(cfg.sources))
    if query.get("category"):
        stmt = stmt.where(c.category == query.get("category"))
    if query.get("market"):
        stmt = stmt.where(c.title == query.get("market"))
    stmt = stmt.order_by(c.event_time.desc(), c.category, c.title, c.source).limit(query.get("limit", params.DEFAULT_LIMIT))
    with engine.connect() as conn:
        rows = [orjson.loads(r.payload) for r in conn.execute(stmt)]
    out = (public_price(rec, cfg) for rec in rows)
    return [p for p in out if p is not None]
