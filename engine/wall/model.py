"""The wall's read model: from the live store to what a wall screen holds, and from
what a screen holds to what changed. It knows no Dash and no Flask; the callbacks turn
its answers into `Patch`, `no_update` and grid transactions, the layout calls it for
a screen's first state.

Every view is computed per source and per data version, once, whichever worker or
screen asks first (kept in a `Cache`); a change in one source recomputes only that
source's part. A map layer at a newer version is built from the cached older one by
replaying the change stream, and a screen holding the previous version gets the edit
operations of the features that changed. The tiles, headlines and incident rows come
from per-source aggregates kept in Redis and advanced by the same stream
(engine/wall/tiles.py): never recomputed from all of a source's records on a change.

One `WallModel` serves one request: it reads each source's records from Redis at
most once (the tiles, headline, rows and layer of one version are often computed in
the same poll).
"""
from __future__ import annotations

import gzip
import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import orjson

from engine.live import HEALTH, LiveStore, parts_status
from engine.records import utcnow
from engine.source_health import wall_health
from engine.wall import views
from engine.wall.clusters import point_table
from engine.wall.tiles import SourceTiles
from engine.cache import Cache
from engine.wall.state import WallState

LAYER_TTL = 180  # seconds; the slowest wall polls every 60 s
TILES_TTL = 600
ROWS_TTL = 3600
HEALTH_TTL = 600


@dataclass
class FeatureDelta:
    """How a screen's FeatureCollection becomes the current one: `full` (send it all) or
    `ops` (edit operations of views.features_diff; empty: nothing to send)."""

    full: dict | None = None
    ops: list[tuple] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.full is None and not self.ops


@dataclass
class WallSnapshot:
    """A screen's first state: the state it keeps, and what it shows."""

    state: WallState
    tiles: dict
    rows: list[dict]
    health: dict
    sources: dict[str, dict]
    layers: dict[str, dict]  # source -> layer_info (version, tag, counts) of the sources drawn on the map


@dataclass
class WallChanges:
    """What changed since a screen's state. None fields: nothing to send for that part."""

    state: WallState
    layers: dict[str, tuple[FeatureDelta, FeatureDelta]]  # source -> (points, shapes)
    layer_info: dict[str, dict] = field(default_factory=dict)  # source -> layer_info at its new version
    tiles: dict | None = None
    health: dict | None = None
    grid: dict | None = None  # {"full": rows} or {"upsert", "remove", "limit"}
    # with `health`: the edits turning the screen's health store into it (health_ops), when
    # the screen's one is still cached; None: send `health` whole
    health_ops: list[tuple] | None = None


def empty_layer() -> dict:
    return {"type": "FeatureCollection", "features": []}


def map_sources(sources: dict[str, dict]) -> list[str]:
    """The sources drawn as map layers: enabled ones with something to place."""
    return [name for name, meta in sources.items() if meta.get("enabled", True) and meta.get("kinds") != ["price"]]


def current_minute() -> int:
    return int(utcnow().timestamp() // 60)


def digest(value) -> str:
    return hashlib.blake2b(orjson.dumps(value), digest_size=8).hexdigest()


def body_key(part: str, source: str, version: int, tag: str, language: str) -> str:
    """Cache key of a layer part's gzipped body (engine/wall/layers.py serves it)."""
    return f"wall:body:{part}:{source}:{version}:{tag}:{language}"


def table_key(source: str, version: int, tag: str, language: str) -> str:
    return f"wall:pointtable:{source}:{version}:{tag}:{language}"


def layer_tag(points: dict, shapes: dict) -> str:
    """A digest of a layer's content: equal layers (rebuilt by another worker) get equal tags."""
    h = hashlib.blake2b(orjson.dumps(points), digest_size=8)
    h.update(orjson.dumps(shapes))
    return h.hexdigest()


class WallModel:
    def __init__(self, live: LiveStore, cache: Cache, language: str, list_size: int, kpi=None,
                 cluster_above: int | None = None):
        self.live, self.cache, self.language, self.list_size = live, cache, language, list_size
        self.cluster_above = cluster_above  # a layer of more points is clustered by the server: no feature diffs
        self.kpi = kpi  # engine.analytics.config.KpiConfig: complaint deadlines where a source gives none
        self._records: dict[str, tuple[str, list[dict]]] = {}
        self._layers: dict[tuple[str, int], dict] = {}  # cached layers already loaded in this request
        self.aggregates = SourceTiles(live, kpi)  # tiles, headlines and rows, kept by the change stream

    # ---- a screen's first state ------------------------------------------------------------
    def snapshot(self, screen: str) -> WallSnapshot:
        stream = self.live.stream_head()  # before the versions: a change in between is replayed, never missed
        versions = self.live.versions()
        minute = current_minute()
        tiles = self.tiles(versions, minute)
        sources = self.live.sources()
        health = self.health(sources)
        layers = {name: self.layer_info(name, versions.get(name, 0)) for name in map_sources(sources)}
        state = WallState(versions=versions, minute=minute, tiles=digest(tiles), stream=stream, screen=screen,
                          due=health["due"], health=health["digest"])
        return WallSnapshot(state, tiles, self.incident_rows(versions), health, sources, layers)

    # ---- what changed since a screen's state -------------------------------------------------
    def changes(self, state: WallState, now: float | None = None) -> WallChanges | None:
        """None when nothing the screen shows changed (one read of the versions hash)."""
        now = time.time() if now is None else now
        versions = self.live.versions()
        minute = current_minute()
        clock_due = state.due is not None and now >= state.due  # a source turns late by the clock alone
        if versions == state.versions and minute == state.minute and not clock_due:
            return None
        old = state.versions
        changed = {s for s, v in versions.items() if old.get(s) != v and s != HEALTH}
        # a source the store no longer has (or one the screen made up) empties its layer: nothing is
        # read or cached for it, so names a client sends cannot make work
        gone = {s for s in old if s not in versions and s != HEALTH}
        new = state.model_copy(update={"versions": versions, "minute": minute})
        infos = {s: self.layer_info(s, versions[s]) for s in changed}
        layers = {s: self.layer_delta(s, old.get(s), versions[s]) for s in changed if not self.clustered(infos[s])}
        layers.update({s: (FeatureDelta(full=empty_layer()), FeatureDelta(full=empty_layer())) for s in gone})
        out = WallChanges(new, layers, layer_info=infos)

        tiles = self.tiles(versions, minute)
        tiles_digest = digest(tiles)
        if tiles_digest != state.tiles:
            out.tiles, new.tiles = tiles, tiles_digest

        if versions.get(HEALTH) != old.get(HEALTH) or clock_due:
            out.health = self.health(self.live.sources())
            new.due = out.health["due"]
            # the same verdicts as the screen holds: nothing to send (the due time still moves on)
            if out.health.get("digest") == state.health:
                out.health = None
            else:
                new.health = out.health.get("digest")
                held = self._cached_health(state.health)
                out.health_ops = None if held is None else health_ops(held, out.health)

        if changed:
            out.grid = self._grid_changes(state.stream, versions, new)
        return out

    def _grid_changes(self, stream: str, versions: dict[str, int], new: WallState) -> dict | None:
        entries, newest, complete = self.live.changes_since(stream)
        new.stream = newest
        if not complete:
            return {"full": self.incident_rows(versions)}
        if not entries:
            return None
        pairs = list(dict.fromkeys((e["s"], e["i"]) for e in entries))
        upsert, remove = self.rows_for(pairs)
        if upsert or remove:
            return {"upsert": upsert, "remove": remove, "limit": self.list_size}
        return None

    # ---- parts ---------------------------------------------------------------------------
    def health(self, sources: dict[str, dict]) -> dict:
        now = datetime.now(timezone.utc)
        view = wall_health(sources, self.live.health(), now, parts_status(self.live, now))
        view["digest"] = digest([view["sources"], view["parts"]])
        self.cache.set(f"wall:health:{view['digest']}", orjson.dumps(view), HEALTH_TTL)  # what a screen holds, to diff
        return view

    def _cached_health(self, held: str | None) -> dict | None:
        raw = self.cache.get(f"wall:health:{held}") if held else None
        return orjson.loads(raw) if raw is not None else None

    def _read(self, source: str) -> tuple[str, list[dict]]:
        """(as_of, records) of a source: `as_of` is the change-stream head read before
        the records, so they hold every change up to it."""
        if source not in self._records:
            as_of = self.live.stream_head()
            self._records[source] = (as_of, self.live.raw_records(source))
        return self._records[source]

    def _cached(self, key: str, ttl: int, compute):
        raw = self.cache.get(key)
        if raw is not None:
            return orjson.loads(raw)
        value = compute()
        self.cache.set(key, orjson.dumps(value), ttl)
        return value

    def _layer_key(self, source: str, version: int) -> str:
        return f"wall:layer:{source}:{version}:{self.language}"

    def _cached_layer(self, source: str, version: int | None) -> dict | None:
        if not version:
            return None
        if (source, version) not in self._layers:
            raw = self.cache.get(self._layer_key(source, version))
            if raw is None:
                return None
            self._layers[(source, version)] = orjson.loads(raw)
        return self._layers[(source, version)]

    def _info_key(self, source: str, version: int) -> str:
        return f"wall:layerinfo:{source}:{version}:{self.language}"

    def layer_info(self, source: str, version: int) -> dict:
        """What a screen needs to fetch a layer: {"v", "tag" (a digest of its content, so a URL
        holding it names one content forever), "points", "shapes" (feature counts)}; kept apart
        from the layer itself so that reading it costs a few bytes."""
        raw = self.cache.get(self._info_key(source, version)) if version else None
        if raw is not None:
            return orjson.loads(raw)
        return self.layer(source, version)["info"]

    def clustered(self, info: dict) -> bool:
        return self.cluster_above is not None and info["points"] > self.cluster_above

    def stored_layer(self, source: str, version: int) -> dict | None:
        """The layer at `version` if that is the source's current version or one still cached;
        None for any other (a made-up or long-gone version is never built)."""
        hit = self._cached_layer(source, version)
        if hit is not None:
            return hit
        current = self.live.versions().get(source)
        return self.layer(source, version) if current == version and version > 0 else None

    def _keep_beside(self, source: str, built: dict) -> None:
        """What screens fetch of a new layer without reading all of it again: its shapes (few,
        gzipped) and, when the server clusters it, the compact table its cluster index is built from."""
        info = built["info"]
        key = body_key("shapes", source, info["v"], info["tag"], self.language)
        self.cache.set(key, gzip.compress(orjson.dumps(built["shapes"]), 6, mtime=0), LAYER_TTL)
        if self.clustered(info):
            self.cache.set(table_key(source, info["v"], info["tag"], self.language),
                           orjson.dumps(point_table(built["points"]["features"])), LAYER_TTL)

    def layer(self, source: str, version: int) -> dict:
        """A source's map layer at `version`: {"points", "shapes", "as_of", "info"}, cached.

        A newer version is built from the cached previous one by replaying the changes
        after its `as_of` (work scales with what changed); replaying a change twice is
        harmless because the current record is read."""
        hit = self._cached_layer(source, version)
        if hit is not None and "info" in hit:  # (a layer cached by an older release has no info: built again)
            return hit
        base = self._cached_layer(source, version - 1) if version > 1 else None
        built = self._replay(base, source) if base is not None else None
        if built is None:
            as_of, records = self._read(source)
            points, shapes = views.layer_geojson(records, self.language)
            built = {"points": points, "shapes": shapes, "as_of": as_of}
        built["info"] = {"v": version, "tag": layer_tag(built["points"], built["shapes"]),
                         "points": len(built["points"]["features"]), "shapes": len(built["shapes"]["features"])}
        self.cache.set(self._layer_key(source, version), orjson.dumps(built), LAYER_TTL)
        self.cache.set(self._info_key(source, version), orjson.dumps(built["info"]), LAYER_TTL)
        self._keep_beside(source, built)
        self._layers[(source, version)] = built
        return built

    def _replay(self, base: dict, source: str) -> dict | None:
        entries, newest, complete = self.live.changes_since(base["as_of"])
        if not complete:
            return None
        ids = list(dict.fromkeys(e["i"] for e in entries if e["s"] == source))
        records = self.live.get_many([(source, i) for i in ids])
        uids = {f"{source}:{i}" for i in ids}
        points, shapes = views.layer_geojson([r for r in records if r is not None], self.language)
        return {"points": views.replace_features(base["points"], uids, points["features"]),
                "shapes": views.replace_features(base["shapes"], uids, shapes["features"]), "as_of": newest}

    def layer_delta(self, source: str, old_version: int | None, version: int) -> tuple[FeatureDelta, FeatureDelta]:
        """(points, shapes) of a source's layer at `version` for a screen holding
        `old_version`: the edit operations when that version is still cached, else in full."""
        new = self.layer(source, version)
        old = self._cached_layer(source, old_version)
        if old is None:
            return FeatureDelta(full=new["points"]), FeatureDelta(full=new["shapes"])
        return tuple(_delta(old[which], new[which]) for which in ("points", "shapes"))

    def tiles(self, versions: dict[str, int], minute: int) -> dict:
        """The KPI tiles and each source's headline number, as the wall's tiles store holds them.

        Per source and version and minute, cached (one read for all sources); a source not
        cached yet is read from its kept aggregate (engine/wall/tiles.py), which costs what
        changed since, not what the source holds."""
        current = sorted((s, v) for s, v in versions.items() if s != HEALTH)
        keys = [f"wall:summary:{s}:{v}:{minute}" for s, v in current]
        found = self.cache.get_many(keys) if keys else []
        now = datetime.fromtimestamp(minute * 60, tz=timezone.utc)
        missing = [(sv, key) for sv, key, raw in zip(current, keys, found) if raw is None]
        kept = self.aggregates.summaries([sv for sv, _ in missing], now) if missing else {}
        computed = {key: {"tiles": kept[s][0], "headline": kept[s][1]} for (s, _), key in missing}
        parts, headlines = [], {}
        for (source, _), key, raw in zip(current, keys, found):
            summary = computed[key] if raw is None else orjson.loads(raw)
            parts.append(summary["tiles"])
            if summary["headline"]:
                headlines[source] = summary["headline"]
        if computed:
            self.cache.set_many({k: orjson.dumps(v) for k, v in computed.items()}, TILES_TTL)
        return {"tiles": views.merge_tiles(parts), "headlines": headlines}

    def _source_rows(self, source: str, version: int) -> list[dict]:
        return self._cached(f"wall:rows:{source}:{version}:{self.list_size}:{self.language}", ROWS_TTL,
                            lambda: self.aggregates.rows(source, version, self.list_size, self.language))

    def incident_rows(self, versions: dict[str, int]) -> list[dict]:
        rows = [row for s, v in versions.items() if s != HEALTH for row in self._source_rows(s, v)]
        rows.sort(key=lambda r: (r["ts"], r["uid"]), reverse=True)
        return rows[:self.list_size]

    def rows_for(self, pairs: list[tuple[str, str]]) -> tuple[list[dict], list[str]]:
        """Rows for changed incidents and the uids of those gone (or no longer incidents)."""
        upsert, remove = [], []
        for (source, rid), rec in zip(pairs, self.live.get_many(pairs)):
            if rec is None:
                remove.append(f"{source}:{rid}")
            elif rec["kind"] == "incident":
                upsert.append(views.incident_row(rec, self.language))
        return upsert, remove


def _delta(old: dict, new: dict) -> FeatureDelta:
    ops = views.features_diff(old["features"], new["features"])
    return FeatureDelta(full=new) if ops is None else FeatureDelta(ops=ops)


def health_ops(old: dict, new: dict) -> list[tuple] | None:
    """Edits turning the health store `old` into `new`: ("set", path, value) and ("del",
    path). A source polled again changes its `last_success` alone: only that field is sent,
    not every source's chip (the store re-sent whole was most of a poll's bytes). None: send
    it whole."""
    ops: list[tuple] = []
    before, after = old.get("sources", {}), new.get("sources", {})
    ops += [("del", ["sources", name]) for name in before if name not in after]
    for name, entry in after.items():
        held = before.get(name)
        if held is None:
            ops.append(("set", ["sources", name], entry))
        else:
            ops += [("set", ["sources", name, k], v) for k, v in entry.items() if held.get(k, ...) != v]
            ops += [("del", ["sources", name, k]) for k in held if k not in entry]
    ops += [("set", [k], v) for k, v in new.items() if k != "sources" and old.get(k, ...) != v]
    return None if len(ops) > max(8, 2 * len(after)) else ops
