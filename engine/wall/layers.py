"""The wall's map data as the browser fetches it: versioned URLs, their bodies (computed
once per layer version, gzipped, kept in the model's cache) and the messages that tell a
screen which URL to fetch or which features to edit.

A layer URL holds the source, the version and the layer's content tag
(`model.layer_tag`), so one URL names one content for ever and the browser may cache it
as immutable; a live store started afresh (versions counting from 1 again) makes new tags.
"""
from __future__ import annotations

import gzip
import threading
from hashlib import blake2b
from collections import OrderedDict
from functools import cache
from urllib.parse import quote

import orjson

from engine.geo import boundaries
from engine.wall.clusters import LayerIndex, Viewport
from engine.wall.model import LAYER_TTL, FeatureDelta, WallChanges, WallModel, body_key, table_key

DATA_PREFIX = "/wall/data"
PARTS = ("points", "shapes")
BOUNDARY_KINDS = ("desa", "kecamatan")
GZIP_LEVEL = 6
INDEXES_KEPT = 6  # layer versions whose cluster index a worker keeps


# ---- URLs ---------------------------------------------------------------------------------

def layer_url(part: str, source: str, info: dict) -> str:
    """`part` is points, shapes or clusters."""
    return f"{DATA_PREFIX}/{part}/{quote(source, safe='')}/{info['v']}-{info['tag']}.json"


def boundary_url(kind: str) -> str:
    return f"{DATA_PREFIX}/boundaries/{kind}-{boundary_body(kind)[1]}.json"


# ---- messages to a screen ------------------------------------------------------------------

def layer_message(source: str, info: dict, clustered: bool, old_version: int | None = None,
                  delta: tuple[FeatureDelta, FeatureDelta] | None = None) -> dict:
    """What a screen's layer store holds: the version, how to draw it, the URLs of its data,
    and, when the screen holds `old_version`, the feature edits that turn it into this one
    (`pts`/`shp`: the ops of views.features_diff; None: fetch the URL)."""
    message = {"v": info["v"], "tag": info["tag"], "mode": "clusters" if clustered else "points",
               "count": info["points"], "from": old_version, "pts": None, "shp": None,
               "urls": {part: layer_url(part, source, info) for part in ("points", "shapes", "clusters")}}
    if delta is not None and old_version:
        points, shapes = delta
        message["pts"] = None if clustered or points.full is not None else points.ops
        message["shp"] = None if shapes.full is not None else shapes.ops
    return message


def gone_message() -> dict:
    """A source the store no longer has: the screen empties its layer."""
    return {"v": 0, "tag": None, "mode": "gone", "count": 0, "from": None, "pts": None, "shp": None, "urls": None}


def layer_update(model: WallModel, old_versions: dict[str, int], changes: WallChanges, source: str) -> dict | None:
    """A screen's layer store after `changes`, for a screen that held `old_versions`: the new
    version's URLs and, for a layer the browser holds whole, the edits of the features that
    changed; the gone message for a source the store lost; None when the layer is unchanged.
    The poll (callbacks/wall.py) and the push fan-out (push/fanout.py) both send this."""
    info = changes.layer_info.get(source)
    if info is None:
        return gone_message() if source in changes.layers else None
    return layer_message(source, info, model.clustered(info), old_versions.get(source), changes.layers.get(source))


# ---- bodies -----------------------------------------------------------------------------------

@cache
def boundary_body(kind: str) -> tuple[bytes, str]:
    """(gzipped GeoJSON, content hash) of the desa or kecamatan boundaries; static, so once per process."""
    b = boundaries()
    data = b.desa_geojson() if kind == "desa" else b.kecamatan_geojson()
    raw = orjson.dumps(data)
    return gzip.compress(raw, GZIP_LEVEL, mtime=0), blake2b(raw, digest_size=8).hexdigest()


def layer_body(model: WallModel, part: str, source: str, version: int, tag: str) -> bytes | None:
    """The gzipped FeatureCollection of a layer part at `version` whose content has `tag`, built
    once per version whichever worker asks first; None when no such layer is at hand."""
    key = body_key(part, source, version, tag, model.language)
    body = model.cache.get(key)
    if body is not None:
        return body
    layer = model.stored_layer(source, version)
    if layer is None or layer["info"]["tag"] != tag:
        return None
    body = gzip.compress(orjson.dumps(layer[part]), GZIP_LEVEL, mtime=0)
    model.cache.set(key, body, LAYER_TTL)
    return body


class ClusterIndexes:
    """A worker's cluster indexes of the last few layer versions (a version's index and its
    per-zoom grids are built once, on first request)."""

    def __init__(self, kept: int = INDEXES_KEPT):
        self.kept = kept
        self._items: OrderedDict[tuple, LayerIndex] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model: WallModel, source: str, version: int, tag: str) -> LayerIndex | None:
        key = (source, version, tag, model.language)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        index = _new_index(model, source, version, tag)
        if index is None:
            return None
        with self._lock:
            self._items[key] = index
            while len(self._items) > self.kept:
                self._items.popitem(last=False)
        return index


def _new_index(model: WallModel, source: str, version: int, tag: str) -> LayerIndex | None:
    """From the compact point table kept beside the layer when there is one (the features are
    read only if a view shows single points), else from the layer."""
    table = model.cache.get(table_key(source, version, tag, model.language))
    if table is not None:
        return LayerIndex.of_table(orjson.loads(table), lambda: _features(model, source, version, tag))
    layer = model.stored_layer(source, version)
    if layer is None or layer["info"]["tag"] != tag:
        return None
    return LayerIndex.of(layer["points"]["features"])


def _features(model: WallModel, source: str, version: int, tag: str) -> list[dict]:
    layer = model.stored_layer(source, version)
    if layer is None or layer["info"]["tag"] != tag:
        raise LookupError(f"layer {source} {version} is gone")
    return layer["points"]["features"]


def clusters_body(index: LayerIndex, view: Viewport, points_zoom: int) -> bytes:
    return orjson.dumps(index.view(view, points_zoom))
