"""The OpenAPI 3 document of the open data, built from the same parameter definitions the
handlers parse with (api/params.py), so it describes exactly what is served."""
from __future__ import annotations

from api.params import DEFAULT_LIMIT, INCIDENT_COLUMNS, PRICE_COLUMNS, endpoint_params
from engine.public import PublicConfig

ERROR = {"$ref": "#/components/schemas/Error"}
ENDPOINTS = {
    "incidents.geojson": ("Public incidents as GeoJSON",
                          "Incidents of the public domains, newest first. Each location is its desa's fixed point "
                          "(never the exact place); incidents outside the city or without a place have a null geometry.",
                          "application/geo+json", {"$ref": "#/components/schemas/FeatureCollection"}),
    "incidents.csv": ("Public incidents as CSV",
                      f"The same rows as incidents.geojson; columns: {', '.join(INCIDENT_COLUMNS)}. Text cells that a "
                      "spreadsheet would read as a formula start with an apostrophe.",
                      "text/csv", {"type": "string"}),
    "warnings.cap.xml": ("Active warnings as CAP 1.2",
                         "An Atom feed; each entry's content is one OASIS CAP 1.2 alert (urn:oasis:names:tc:emergency:cap:1.2). "
                         "Areas are desa codes (geocode BPS_KODE_WILAYAH) and the issuer's area text.",
                         "application/atom+xml", {"type": "string"}),
    "prices.csv": ("Staple prices as CSV",
                   f"Daily prices per commodity and market, newest first; columns: {', '.join(PRICE_COLUMNS)}. "
                   "Values are Rupiah per unit.",
                   "text/csv", {"type": "string"}),
}


def _parameter(p) -> dict:
    out = {"name": p.name, "in": "query", "required": False, "description": p.description.strip(),
           "schema": p.schema, "allowEmptyValue": False}
    if p.example is not None:
        out["example"] = int(p.example) if p.schema.get("type") == "integer" else p.example
    return out


def _operation(name: str, cfg: PublicConfig) -> dict:
    summary, description, media, schema = ENDPOINTS[name]
    return {"get": {
        "operationId": name.replace(".", "_"),
        "summary": summary,
        "description": description,
        "parameters": [_parameter(p) for p in endpoint_params(name, cfg)],
        "responses": {
            "200": {"description": summary, "headers": {
                "ETag": {"schema": {"type": "string"}},
                "Cache-Control": {"schema": {"type": "string"}, "description": f"public, max-age={cfg.cache_seconds}"}},
                "content": {media: {"schema": schema}}},
            "304": {"description": "Not modified (If-None-Match matched the ETag)"},
            "400": {"description": "A parameter is unknown, repeated or out of bounds",
                    "content": {"application/json": {"schema": ERROR}}},
            "503": {"description": "The data store cannot be reached now", "content": {"application/json": {"schema": ERROR}}},
        },
    }}


def document(cfg: PublicConfig) -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Damamaya Denpasar open data", "version": "1",
                 "description": "Public data of the Denpasar control room. No personal data; every location is rounded "
                                f"to its desa/kelurahan. Responses are cached for {cfg.cache_seconds} s. "
                                f"Default `limit` {DEFAULT_LIMIT}; a since..until range spans at most {cfg.max_days} days."},
        "servers": [{"url": "/api/v1"}],
        "paths": {f"/{name}": _operation(name, cfg) for name in ENDPOINTS},
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error", "message"], "properties": {
                "error": {"type": "string"}, "message": {"type": "string"}, "parameter": {"type": "string"}}},
            "FeatureCollection": {"type": "object", "required": ["type", "features"], "properties": {
                "type": {"type": "string", "enum": ["FeatureCollection"]},
                "features": {"type": "array", "items": {"type": "object", "required": ["type", "geometry", "properties"]}}}},
        }},
    }
