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
from functools import cache
from urllib.parse import quote

import orjson
from redis.exceptions import LockError

from engine.geo import boundaries
from engine.wall.clusters import LayerIndex, Viewport
from engine.wall.model import LAYER_TTL, WallChanges, WallModel, body_key
from engine.wall.views import point_row, record_features

DATA_PREFIX = "/wall/data"
PARTS = ("points", "shapes")
BOUNDARY_KINDS = ("desa", "kecamatan")
GZIP_LEVEL = 6
CHANGES_APPLIED = 5000  # a cluster index is updated from at most this many changes, else built again
SHARED_INDEX_TTL = 900  # seconds a layer's index read whole is kept for the other workers
BUILD_WAIT_SECONDS = 30  # how long a worker waits for another's whole read of a layer before doing its own
BUILD_HOLD_SECONDS = 120  # the lock of a whole read lapses after this (a worker killed while reading)


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
    if _current_version(model, source, version, tag) is None:
        return None
    return build_bodies(model, source, version, tag)[part]


def _current_version(model: WallModel, source: str, version: int, tag: str) -> int | None:
    """The source's version now, if `version` and `tag` name one of this store's versions of it; else None."""
    current = model.live.versions().get(source, 0)
    return current if tag == model.layer_tag(source, version) and 0 < version <= current else None


def build_bodies(model: WallModel, source: str, version: int, tag: str) -> dict[str, bytes]:
    """Both parts' bodies from one read of the source's records, kept for `version`."""
    as_of, points, shapes = model.current_layer(source)
    bodies = {part: gzip.compress(orjson.dumps({**fc, "as_of": as_of}), GZIP_LEVEL, mtime=0)
              for part, fc in (("points", points), ("shapes", shapes))}
    model.cache.set_many({body_key(part, source, version, tag, model.language): body for part, body in bodies.items()},
                         LAYER_TTL)
    return bodies


class ClusterIndexes:
    """A worker's cluster index of each server-clustered layer, kept current from the change
    stream: a newer version is made from the index in hand and the records changed since
    (their ids from the stream), so the first screen after a change waits for the change,
    not for the whole layer. The layer is read whole only when no index reaches back that far
    (a bulk load, a trimmed stream): by one worker at a time, under a lock in Redis, which
    shares what it built for the other workers to start from. A request for an older version
    is answered from the newer index: its screen asks again for the version its next poll
    names anyway."""

    def __init__(self):
        self._latest: dict[tuple, LayerIndex] = {}
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, model: WallModel, source: str, version: int, tag: str) -> LayerIndex | None:
        """The index at `version` or newer; None for a version the store never had or a tag not its own."""
        current = _current_version(model, source, version, tag)
        if current is None:
            return None
        key = (source, model.epoch(), model.language)
        index = self._latest.get(key)
        if index is not None and index.version >= version:
            return index
        with self._lock(key):  # one build per layer at a time; the others wait for it and take it
            index = self._latest.get(key)
            if index is None:  # a new store generation: the indexes of an older one are of no use
                self._latest = {k: v for k, v in self._latest.items() if k[1] == key[1]}
            if index is None or index.version < version:
                index = self._latest[key] = _next_index(model, source, index, current)
        return index

    def _lock(self, key: tuple) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())


def _next_index(model: WallModel, source: str, index: LayerIndex | None, version: int) -> LayerIndex:
    """The layer's index now: `index` (or, for a worker that has none, the one another worker
    shared) updated with the records changed since its `as_of`; built from all the records
    when there is none or the stream no longer reaches back. `version` is the source's version
    read before any of that, so the index holds at least it."""
    live = model.live
    updated = _updated(model, source, index or _shared_index(model, source), version)
    if updated is not None:
        return updated
    # one worker at a time reads the layer whole; the others wait, then start from what it
    # shared (one that waited too long builds its own)
    lock = live.r.lock(live.key("wall", "clusterindex-build", source), timeout=BUILD_HOLD_SECONDS)
    locked = lock.acquire(blocking_timeout=BUILD_WAIT_SECONDS)
    try:
        updated = _updated(model, source, _shared_index(model, source), version) if locked else None
        if updated is not None:
            return updated
        index = _whole_index(model, source, version)
        model.cache.set(_shared_key(model, source), index.to_bytes(), SHARED_INDEX_TTL)
        return index
    finally:
        if locked:
            try:
                lock.release()
            except LockError:  # held past its timeout: another worker may have it now
                pass


def _whole_index(model: WallModel, source: str, version: int) -> LayerIndex:
    as_of = model.live.stream_head()  # before the records: they hold every change up to it
    rows = {}
    for rec in model.live.raw_records(source):
        row = point_row(rec)
        if row is not None:
            rows[rec["id"]] = row
    return LayerIndex.of(rows, version, as_of)


def _updated(model: WallModel, source: str, index: LayerIndex | None, version: int) -> LayerIndex | None:
    """`index` with the records changed since its `as_of`; None when there is no index or the
    change stream no longer reaches back to it (or too much changed)."""
    if index is None:
        return None
    entries, newest, complete = model.live.changes_since(index.as_of, limit=CHANGES_APPLIED)
    if not complete:
        return None
    ids = list(dict.fromkeys(e["i"] for e in entries if e["s"] == source))
    records = model.live.get_many([(source, rid) for rid in ids])
    return index.updated({rid: point_row(rec) for rid, rec in zip(ids, records)}, max(version, index.version), newest)


def _shared_key(model: WallModel, source: str) -> str:
    return f"wall:clusterindex:{source}:{model.epoch()}:{model.language}"


def _shared_index(model: WallModel, source: str) -> LayerIndex | None:
    raw = model.cache.get(_shared_key(model, source))
    return LayerIndex.from_bytes(raw) if raw is not None else None


def clusters_body(model: WallModel, index: LayerIndex, source: str, view: Viewport, points_zoom: int) -> bytes:
    """What `view` shows of the layer: clusters, and the features of its single points read now."""
    def features_of(ids: list[str]) -> list[dict]:
        records = model.live.get_many([(source, rid) for rid in ids]) if ids else []
        return [record_features(rec, model.language)[0] for rec in records if point_row(rec) is not None]

    return orjson.dumps(index.view(view, points_zoom, features_of))
