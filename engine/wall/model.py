"""The wall's read model: from the live store to what a wall screen holds, and from
what a screen holds to what changed. It knows no Dash and no Flask; the callbacks turn
its answers into `Patch`, `no_update` and grid transactions, the layout calls it for
a screen's first state.

Every view is computed per source and per data version, once, whichever worker or
screen asks first (kept in a `Cache`); a change in one source recomputes only that
source's part. A map layer at a newer version is built from the cached older one by
replaying the change stream, and a screen holding the previous version gets the edit
operations of the features that changed.

One `WallModel` serves one request: it reads each source's records from Redis at
most once (the tiles, headline, rows and layer of one version are often computed in
the same poll).
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import orjson

from engine.live import HEALTH, LiveStore, parts_status
from engine.records import utcnow
from engine.source_health import wall_health
from engine.wall import views
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
    layers: dict[str, dict]  # source -> {"points", "shapes"} of the sources drawn on the map


@dataclass
class WallChanges:
    """What changed since a screen's state. None fields: nothing to send for that part."""

    state: WallState
    layers: dict[str, tuple[FeatureDelta, FeatureDelta]]  # source -> (points, shapes)
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


class WallModel:
    def __init__(self, live: LiveStore, cache: Cache, language: str, list_size: int, kpi=None):
        self.live, self.cache, self.language, self.list_size = live, cache, language, list_size
        self.kpi = kpi  # engine.analytics.config.KpiConfig: complaint deadlines where a source gives none
        self._records: dict[str, tuple[str, list[dict]]] = {}
        self._layers: dict[tuple[str, int], dict] = {}  # cached layers already loaded in this request

    # ---- a screen's first state ------------------------------------------------------------
    def snapshot(self, screen: str) -> WallSnapshot:
        stream = self.live.stream_head()  # before the versions: a change in between is replayed, never missed
        versions = self.live.versions()
        minute = current_minute()
        tiles = self.tiles(versions, minute)
        sources = self.live.sources()
        health = self.health(sources)
        layers = {}
        for name in map_sources(sources):
            layer = self.layer(name, versions.get(name, 0))
            layers[name] = {"points": layer["points"], "shapes": layer["shapes"]}
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
        layers = {s: self.layer_delta(s, old.get(s), versions[s]) for s in changed}
        layers.update({s: (FeatureDelta(full=empty_layer()), FeatureDelta(full=empty_layer())) for s in gone})
        out = WallChanges(new, layers)

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

    def layer(self, source: str, version: int) -> dict:
        """A source's map layer at `version`: {"points", "shapes", "as_of"}, cached.

        A newer version is built from the cached previous one by replaying the changes
        after its `as_of` (work scales with what changed); replaying a change twice is
        harmless because the current record is read."""
        hit = self._cached_layer(source, version)
        if hit is not None:
            return hit
        base = self._cached_layer(source, version - 1) if version > 1 else None
        built = self._replay(base, source) if base is not None else None
        if built is None:
            as_of, records = self._read(source)
            points, shapes = views.layer_geojson(records, self.language)
            built = {"points": points, "shapes": shapes, "as_of": as_of}
        self.cache.set(self._layer_key(source, version), orjson.dumps(built), LAYER_TTL)
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
        """The KPI tiles and each source's headline number, as the wall's tiles store holds them."""
        current = sorted((s, v) for s, v in versions.items() if s != HEALTH)
        parts = [self._source_tiles(s, v, minute) for s, v in current]
        headlines = {s: h for s, v in current if (h := self._headline(s, v))}
        return {"tiles": views.merge_tiles(parts), "headlines": headlines}

    def _source_tiles(self, source: str, version: int, minute: int) -> list[dict]:
        now = datetime.fromtimestamp(minute * 60, tz=timezone.utc)
        return self._cached(f"wall:tiles:{source}:{version}:{minute}", TILES_TTL,
                            lambda: views.wall_tiles(self._read(source)[1], now, self.kpi))

    def _headline(self, source: str, version: int) -> dict | None:
        # a source without a headline caches [] (a cached None would read as a miss)
        found = self._cached(f"wall:headline:{source}:{version}", ROWS_TTL,
                             lambda: [h] if (h := views.source_headline(self._read(source)[1])) else [])
        return found[0] if found else None

    def _source_rows(self, source: str, version: int) -> list[dict]:
        return self._cached(f"wall:rows:{source}:{version}:{self.list_size}:{self.language}", ROWS_TTL,
                            lambda: views.incident_rows(self._read(source)[1], self.list_size, self.language))

    def incident_rows(self, versions: dict[str, int]) -> list[dict]:
        rows = [row for s, v in versions.items() if s != HEALTH for row in self._source_rows(s, v)]
        rows.sort(key=lambda r: r["ts"], reverse=True)
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
