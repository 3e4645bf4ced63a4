"""The wall's map data as the browser fetches it: versioned URLs, their bodies and the
messages that tell a screen which URL to fetch or which features to edit.

A layer URL holds the source, the version and a tag naming the live store's generation
(`model.layer_tag`): a live store started afresh (versions counting from 1 again) makes
new tags. Its body is built from the source's records when first fetched (never on a
poll's path), gzipped and kept in the model's cache for that version; it holds the records
as of the change-stream id `as_of`, read before them, which is the version's or newer. A
screen then applies, in order, the edits the polls send (model.layer_edits) that are newer
than `as_of`, so a body a little newer than its URL's version never goes back in time.
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
from engine.wall.clusters import LayerIndex, Viewport, point_table
from engine.wall.model import LAYER_TTL, WallChanges, WallModel, body_key, table_key

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
                  edits: list | None = None) -> dict:
    """What a screen's layer store holds: the version, how to draw it, the URLs of its data,
    and, when the screen holds `old_version` (`from`), the edits of model.layer_edits that
    turn it into this one (`ops`; None: fetch the URLs)."""
    return {"v": info["v"], "tag": info["tag"], "mode": "clusters" if clustered else "points",
            "count": info["points"], "shapes": info["shapes"], "from": old_version if old_version and edits is not None else None,
            "ops": edits if old_version else None,
            "urls": {part: layer_url(part, source, info) for part in ("points", "shapes", "clusters")}}


def gone_message() -> dict:
    """A source the store no longer has: the screen empties its layer."""
    return {"v": 0, "tag": None, "mode": "gone", "count": 0, "shapes": 0, "from": None, "ops": None, "urls": None}


def layer_update(model: WallModel, old_versions: dict[str, int], changes: WallChanges, source: str) -> dict | None:
    """A screen's layer store after `changes`, for a screen that held `old_versions`: the new
    version's URLs and the edits of the features that changed; the gone message for a source
    the store lost; None when the layer is unchanged. The poll (callbacks/wall.py) and the
    push fan-out (push/fanout.py) both send this."""
    if source in changes.gone:
        return gone_message()
    info = changes.layer_info.get(source)
    if info is None:
        return None
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
    """The gzipped FeatureCollection of a layer part at `version` (or newer, see the module
    doc) named by `tag`; None for a version the store never had or a tag not its own."""
    body = model.cache.get(body_key(part, source, version, tag, model.language))
    if body is not None:
        return body
    if tag != model.layer_tag(source, version) or not 0 < version <= model.live.versions().get(source, 0):
        return None
    return build_bodies(model, source, version, tag)[part]


def build_bodies(model: WallModel, source: str, version: int, tag: str) -> dict[str, bytes]:
    """Both parts' bodies from one read of the source's records, kept for `version`; beside
    them, for a layer the server clusters, the compact table its cluster index is built from."""
    as_of, points, shapes = model.current_layer(source)
    bodies = {part: gzip.compress(orjson.dumps({**fc, "as_of": as_of}), GZIP_LEVEL, mtime=0)
              for part, fc in (("points", points), ("shapes", shapes))}
    kept = {body_key(part, source, version, tag, model.language): body for part, body in bodies.items()}
    if model.clustered({"points": len(points["features"])}):
        kept[table_key(source, version, tag, model.language)] = orjson.dumps(point_table(points["features"]))
    model.cache.set_many(kept, LAYER_TTL)
    return bodies


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
    """From the compact point table kept beside the layer's body when there is one (the features
    are read only if a view shows single points), else from the body."""
    table = model.cache.get(table_key(source, version, tag, model.language))
    if table is not None:
        return LayerIndex.of_table(orjson.loads(table), lambda: _features(model, source, version, tag))
    body = layer_body(model, "points", source, version, tag)  # built now if it was not (with its table)
    if body is None:
        return None
    return LayerIndex.of(_points(body))  # the features in hand: no need to read the table back


def _features(model: WallModel, source: str, version: int, tag: str) -> list[dict]:
    """The points of the body kept for `version`: the same read as the table beside it."""
    body = model.cache.get(body_key("points", source, version, tag, model.language))
    if body is None:
        raise LookupError(f"layer {source} {version} is gone")
    return _points(body)


def _points(body: bytes) -> list[dict]:
    return orjson.loads(gzip.decompress(body))["features"]


def clusters_body(index: LayerIndex, view: Viewport, points_zoom: int) -> bytes:
    return orjson.dumps(index.view(view, points_zoom))
