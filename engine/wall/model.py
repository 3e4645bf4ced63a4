"""The wall's read model: from the live store to what a wall screen holds, and from
what a screen holds to what changed. It knows no Dash and no Flask; the callbacks turn
its answers into `Patch`, `no_update` and grid transactions, the layout calls it for
a screen's first state.

A change costs what changed, not what the store holds. The tiles, headlines, incident
rows and each layer's feature counts come from per-source aggregates kept in Redis and
advanced by the change stream (engine/wall/tiles.py), cached per source and version. A
screen that holds a layer is sent the edits of the records that changed since its
stream position, read from the stream (`layer_edits`); a screen that holds none fetches
the layer's URL, whose body is built from the records only then, once per version
asked for (engine/wall/layers.py). Nothing on the poll's path reads all of a source.

One `WallModel` serves one request: it reads each changed record at most once.
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
from engine.wall.tiles import SourceTiles
from engine.cache import Cache
from engine.wall.state import WallState

LAYER_TTL = 180  # seconds; the slowest wall polls every 60 s
TILES_TTL = 600
ROWS_TTL = 3600
HEALTH_TTL = 600


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
    # source -> the edits of its features since the screen's state (layer_edits; None: fetch the
    # layer's URL), for each source that changed
    layers: dict[str, list | None]
    layer_info: dict[str, dict] = field(default_factory=dict)  # source -> layer_info at its new version
    gone: set[str] = field(default_factory=set)  # sources the screen holds and the store no longer has
    tiles: dict | None = None
    health: dict | None = None
    grid: dict | None = None  # {"full": rows} or {"upsert", "remove", "limit"}
    # with `health`: the edits turning the screen's health store into it (health_ops), when
    # the screen's one is still cached; None: send `health` whole
    health_ops: list[tuple] | None = None


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


def layer_tag(epoch: str, source: str, version: int) -> str:
    """A layer version's name in its URLs: the same in every worker, and new for a live store
    started afresh (whose versions count from 1 again), so a URL never names two contents."""
    return hashlib.blake2b(f"{epoch}:{source}:{version}".encode(), digest_size=8).hexdigest()


class WallModel:
    def __init__(self, live: LiveStore, cache: Cache, language: str, list_size: int, kpi=None,
                 cluster_above: int | None = None):
        self.live, self.cache, self.language, self.list_size = live, cache, language, list_size
        self.cluster_above = cluster_above  # a layer of more points is clustered by the server: no feature diffs
        self.kpi = kpi  # engine.analytics.config.KpiConfig: complaint deadlines where a source gives none
        self._now: dict[tuple[str, str], dict | None] = {}  # records read in this request, by (source, id)
        self._summaries: dict[tuple[str, int], dict] = {}  # per (source, version): tiles, headline, map counts
        self._epoch: str | None = None
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
        entries, complete = [], True
        if changed:  # one read of the change stream, for the map's edits and the incident list
            entries, new.stream, complete = self.live.changes_since(state.stream)
        out = WallChanges(new, {}, gone=gone)

        tiles = self.tiles(versions, minute)
        tiles_digest = digest(tiles)
        if tiles_digest != state.tiles:
            out.tiles, new.tiles = tiles, tiles_digest
        out.layer_info = {s: self.layer_info(s, versions[s]) for s in changed}
        out.layers = {s: self.layer_edits(s, entries if complete else None, out.layer_info[s]) for s in changed}

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
            out.grid = self._grid_changes(entries if complete else None, versions)
        return out

    def _grid_changes(self, entries: list[dict] | None, versions: dict[str, int]) -> dict | None:
        """None `entries`: the stream no longer reaches back to the screen's state."""
        if entries is None:
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

    def _cached(self, key: str, ttl: int, compute):
        raw = self.cache.get(key)
        if raw is not None:
            return orjson.loads(raw)
        value = compute()
        self.cache.set(key, orjson.dumps(value), ttl)
        return value

    # ---- map layers -----------------------------------------------------------------------
    def epoch(self) -> str:
        if self._epoch is None:
            self._epoch = self.live.epoch()
        return self._epoch

    def layer_tag(self, source: str, version: int) -> str:
        return layer_tag(self.epoch(), source, version)

    def layer_info(self, source: str, version: int) -> dict:
        """What a screen needs to fetch a layer: {"v", "tag" (see layer_tag), "points", "shapes"
        (feature counts, kept with the source's tiles by the change stream)}; nothing of the
        layer itself is read or built."""
        if not version:
            return {"v": 0, "tag": None, "points": 0, "shapes": 0}
        counts = self.summaries([(source, version)], current_minute())[(source, version)]["map"]
        return {"v": version, "tag": self.layer_tag(source, version), **counts}

    def clustered(self, info: dict) -> bool:
        return self.cluster_above is not None and info["points"] > self.cluster_above

    def current_layer(self, source: str) -> tuple[str, dict, dict]:
        """(as_of, points, shapes) of a source now: `as_of` is the change-stream head read before
        the records, so they hold every change up to it (engine/wall/layers.py builds the bodies
        the browser fetches from this, once per version asked for)."""
        as_of = self.live.stream_head()
        points, shapes = views.layer_geojson(self.live.raw_records(source), self.language)
        return as_of, points, shapes

    def layer_edits(self, source: str, entries: list[dict] | None, info: dict) -> list | None:
        """The edits of a source's features since the screen's stream position, one per record that
        changed: ["u", uid, rev, point feature or None, shape feature or None] or ["d", uid, rev],
        `rev` being the stream id of the record's last change seen. They hold each record as it is
        now, so a screen applies them in order to the features it holds, skipping those not newer
        than the body it fetched (its `as_of`). None: the stream no longer reaches back, or so much
        changed that fetching the layer is cheaper."""
        if entries is None:
            return None
        revs = {e["i"]: e["at"] for e in entries if e["s"] == source}
        if len(revs) > max(20, (info["points"] + info["shapes"]) // 4):
            return None
        clustered = self.clustered(info)
        edits = []
        for (rid, rev), rec in zip(revs.items(), self.records_now([(source, i) for i in revs])):
            uid = f"{source}:{rid}"
            if rec is None:
                edits.append(["d", uid, rev])
            elif rec["kind"] != "price":
                point, shape = views.record_features(rec, self.language)
                edits.append(["u", uid, rev, None if clustered else point, shape])
        return edits

    def records_now(self, pairs: list[tuple[str, str]]) -> list[dict | None]:
        """The current records of (source, id) pairs, read once per request (None: gone)."""
        missing = [p for p in dict.fromkeys(pairs) if p not in self._now]
        if missing:
            self._now.update(zip(missing, self.live.get_many(missing)))
        return [self._now[p] for p in pairs]

    # ---- tiles ------------------------------------------------------------------------------
    def tiles(self, versions: dict[str, int], minute: int) -> dict:
        """The KPI tiles and each source's headline number, as the wall's tiles store holds them."""
        current = sorted((s, v) for s, v in versions.items() if s != HEALTH)
        summaries = self.summaries(current, minute)
        parts, headlines = [], {}
        for sv in current:
            parts.append(summaries[sv]["tiles"])
            if summaries[sv]["headline"]:
                headlines[sv[0]] = summaries[sv]["headline"]
        return {"tiles": views.merge_tiles(parts), "headlines": headlines}

    def summaries(self, wanted: list[tuple[str, int]], minute: int) -> dict[tuple[str, int], dict]:
        """Per (source, version): {"tiles", "headline", "map": its layer's feature counts}.

        Per source and version and minute, cached (one read for all sources); a source not
        cached yet is read from its kept aggregate (engine/wall/tiles.py), which costs what
        changed since, not what the source holds."""
        todo = [sv for sv in wanted if sv not in self._summaries]
        keys = [f"wall:sum:{s}:{v}:{minute}" for s, v in todo]
        found = self.cache.get_many(keys) if keys else []
        missing = [sv for sv, raw in zip(todo, found) if raw is None]
        self._summaries.update({sv: orjson.loads(raw) for sv, raw in zip(todo, found) if raw is not None})
        if missing:
            now = datetime.fromtimestamp(minute * 60, tz=timezone.utc)
            kept = self.aggregates.summaries(missing, now)
            computed = {sv: kept[sv[0]]._asdict() for sv in missing}
            self._summaries.update(computed)
            self.cache.set_many({f"wall:sum:{s}:{v}:{minute}": orjson.dumps(value)
                                 for (s, v), value in computed.items()}, TILES_TTL)
        return {sv: self._summaries[sv] for sv in wanted}

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
        for (source, rid), rec in zip(pairs, self.records_now(pairs)):
            if rec is None:
                remove.append(f"{source}:{rid}")
            elif rec["kind"] == "incident":
                upsert.append(views.incident_row(rec, self.language))
        return upsert, remove


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
