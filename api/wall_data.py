"""The wall's map data, fetched by the wall's browser (assets/map.js) instead of riding in the page:

- `/wall/data/points/<source>/<version>-<tag>.json` and `.../shapes/...`: a layer's
  FeatureCollection at one version; the tag is a digest of its content, so the URL never
  changes meaning and is sent `private, immutable` with an ETag, gzipped when accepted;
- `/wall/data/clusters/<source>/<version>-<tag>.json?z=13&bbox=w,s,e,n`: what the
  viewport shows of a big layer, clustered on the server (engine/wall/clusters.py);
- `/wall/data/boundaries/<desa|kecamatan>-<hash>.json`: the static boundaries.

Only wall roles and wall screens get them (security/roles.py ROUTES, checked by the guard
before this module runs). A version that is neither current nor cached, a tag that does
not match, an unknown source: 404. A bad query parameter: 400 naming it.
"""
from __future__ import annotations

import gzip
import math
import re

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from redis.exceptions import RedisError

from damamaya import runtime
from engine.wall.clusters import MAX_LAT, MAX_ZOOM, Viewport, viewport_pixels
from engine.wall.layers import BOUNDARY_KINDS, PARTS, ClusterIndexes, boundary_body, clusters_body, layer_body
from engine.wall.model import map_sources
from layouts.parts import wall as parts

blueprint = Blueprint("wall_data", __name__, url_prefix="/wall/data")

IMMUTABLE = "private, max-age=31536000, immutable"
TAG = re.compile(r"[0-9a-f]{16}")
MAX_VERSION = 10**15
MAX_VIEW_PX = 8192  # a viewport larger than this at its zoom is refused: the answer stays bounded
NUMBER = r"-?\d{1,3}(\.\d{1,15})?"

INDEXES = ClusterIndexes()


class ClusterQuery(BaseModel):
    """`z`: the map's zoom (fractional allowed, floored); `bbox`: west,south,east,north in degrees."""

    model_config = ConfigDict(extra="forbid")

    z: str
    bbox: str

    @field_validator("z")
    @classmethod
    def _zoom(cls, v: str) -> str:
        if not re.fullmatch(r"\d{1,2}(\.\d{1,6})?", v) or float(v) > MAX_ZOOM:
            raise ValueError(f"must be a zoom level from 0 to {MAX_ZOOM}")
        return v

    @field_validator("bbox")
    @classmethod
    def _bbox(cls, v: str, info: ValidationInfo) -> str:
        numbers = v.split(",")
        if len(numbers) != 4 or not all(re.fullmatch(NUMBER, n) for n in numbers):
            raise ValueError("must be four numbers: west,south,east,north")
        west, south, east, north = map(float, numbers)
        if not (-180 <= west < east <= 180 and -MAX_LAT <= south < north <= MAX_LAT):
            raise ValueError("must have west < east within -180..180 and south < north within -85..85")
        if "z" in info.data:
            width, height = viewport_pixels(Viewport(math.floor(float(info.data["z"])), west, south, east, north))
            if width > MAX_VIEW_PX or height > MAX_VIEW_PX:
                raise ValueError(f"is larger than {MAX_VIEW_PX} pixels across at this zoom")
        return v

    def viewport(self) -> Viewport:
        west, south, east, north = map(float, self.bbox.split(","))
        return Viewport(math.floor(float(self.z)), west, south, east, north)


# ---- routes ---------------------------------------------------------------------------------

@blueprint.errorhandler(RedisError)
def _store_down(exc: RedisError):
    response = jsonify({"error": "unavailable", "message": f"the live store cannot be reached now ({type(exc).__name__})"})
    response.status_code = 503
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/<part>/<source>/<int:version>-<tag>.json")
def layer(part: str, source: str, version: int, tag: str):
    if part == "clusters":
        return _clusters(source, version, tag)
    if part not in PARTS or not _known(source, version, tag):
        return _not_found()
    body = layer_body(parts.model(), part, source, version, tag)
    if body is None:
        return _not_found()
    return _gzipped(body, f"{part}-{version}-{tag}", "application/geo+json")


@blueprint.get("/boundaries/<kind>-<digest>.json")
def boundary(kind: str, digest: str):
    if kind not in BOUNDARY_KINDS:
        return _not_found()
    body, content_hash = boundary_body(kind)
    if digest != content_hash:
        return _not_found()
    return _gzipped(body, f"{kind}-{content_hash}", "application/geo+json")


def _clusters(source: str, version: int, tag: str):
    if not _known(source, version, tag):
        return _not_found()
    try:
        query = ClusterQuery.model_validate(request.args.to_dict())
    except ValidationError as exc:
        return _bad_parameter(exc)
    model = parts.model()
    index = INDEXES.get(model, source, version, tag)
    if index is None:
        return _not_found()
    body = clusters_body(model, index, source, query.viewport(), runtime.config().wall.points_zoom)
    compressed = gzip.compress(body, 5, mtime=0)
    return _gzipped(compressed, None, "application/geo+json")


# ---- serving ----------------------------------------------------------------------------------

def _known(source: str, version: int, tag: str) -> bool:
    """A plausible layer: a map source the store has, a bounded version, a tag's form. Nothing
    is read or built for anything else."""
    if not 0 < version < MAX_VERSION or not TAG.fullmatch(tag):
        return False
    return source in map_sources(runtime.live().sources())


def _gzipped(body: bytes, etag: str | None, mimetype: str) -> Response:
    """`body` is gzipped: sent as is to a client that accepts gzip, else inflated."""
    accepts_gzip = "gzip" in request.headers.get("Accept-Encoding", "").lower()
    response = Response(body if accepts_gzip else gzip.decompress(body), mimetype=mimetype)
    if accepts_gzip:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Cache-Control"] = IMMUTABLE
    if etag is not None:
        response.set_etag(etag)
        return response.make_conditional(request)
    return response


def _not_found() -> Response:
    response = jsonify({"error": "not_found", "message": "no such layer version; fetch the URL the wall was last sent"})
    response.status_code = 404
    response.headers["Cache-Control"] = "no-store"
    return response


def _bad_parameter(exc: ValidationError) -> Response:
    first = exc.errors()[0]
    name = str(first["loc"][0]) if first.get("loc") else None
    response = jsonify({"error": "bad_parameter", "parameter": name, "message": first["msg"]})
    response.status_code = 400
    response.headers["Cache-Control"] = "no-store"
    return response
