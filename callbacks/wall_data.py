"""The wall's reads of the live store, cached by data version in Redis (flask-caching).

Every view is computed per source and per version, once, whichever worker or
screen asks first; a change in one source recomputes only that source's part.
Map layers are sent as a `dash.Patch` of the features that changed when the
screen already holds the previous version.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import orjson
from dash import Patch, no_update
from flask import g, has_request_context

from damamaya import runtime
from engine import views
from engine.records import utcnow
from layouts.cache import cache

HEALTH = "health"
LAYER_TTL = 180  # seconds; the slowest wall polls every 60 s


def data_versions(versions: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in versions.items() if k != HEALTH}


def _read(source: str) -> tuple[str, list[dict]]:
    """(as_of, records) of a source, read from Redis at most once per request (the tiles,
    headline, rows and layer of one version are often computed in one poll). `as_of` is
    the change-stream head read before the records: they hold every change up to it."""
    memo = g.setdefault("dmy_records", {}) if has_request_context() else {}
    if source not in memo:
        live = runtime.live()
        as_of = live.stream_head()
        memo[source] = (as_of, live.raw_records(source))
    return memo[source]


def _records(source: str) -> list[dict]:
    return _read(source)[1]


def _layer_key(source: str, version: int, language: str) -> str:
    return f"layer:{source}:{version}:{language}"


def layer(source: str, version: int, language: str) -> dict:
    """A source's map layer at `version`: {"points", "shapes", "as_of"}, cached.

    `as_of` is a change-stream id read before the records were: the layer holds
    every change up to it. A newer version is built from an older cached one by
    replaying the changes after its `as_of` (work scales with what changed);
    replaying a change twice is harmless because the current record is read.
    """
    key = _layer_key(source, version, language)
    hit = _cached_layer(key)
    if hit is not None:
        return hit
    base = _cached_layer(_layer_key(source, version - 1, language)) if version > 1 else None
    built = _replay(base, source, language) if base is not None else None
    if built is None:
        as_of, records = _read(source)
        points, shapes = views.layer_geojson(records, language)
        built = {"points": points, "shapes": shapes, "as_of": as_of}
    built.pop("changed", None)
    # Old versions are only needed by screens one poll behind; orjson bytes load several times faster than a pickle.
    cache.set(key, orjson.dumps(built), timeout=LAYER_TTL)
    return built


def _cached_layer(key: str) -> dict | None:
    raw = cache.get(key)
    return orjson.loads(raw) if raw is not None else None


def _replay(base: dict, source: str, language: str) -> dict | None:
    entries, newest, complete = runtime.live().changes_since(base["as_of"])
    if not complete:
        return None
    ids = list(dict.fromkeys(e["i"] for e in entries if e["s"] == source))
    records = runtime.live().get_many([(source, i) for i in ids])
    uids = {f"{source}:{i}" for i in ids}
    changed_points, changed_shapes = views.layer_geojson([r for r in records if r is not None], language)
    return {"points": views.replace_features(base["points"], uids, changed_points["features"]),
            "shapes": views.replace_features(base["shapes"], uids, changed_shapes["features"]),
            "as_of": newest, "changed": uids}


def layer_update(source: str, old_version: int | None, version: int, language: str) -> tuple:
    """(points, shapes) of a source's layer at `version`, each a Patch of what changed
    when the screen holds `old_version` and that version is still cached, else in full."""
    new = layer(source, version, language)
    old = _cached_layer(_layer_key(source, old_version, language)) if old_version else None
    if old is None:
        return new["points"], new["shapes"]
    return tuple(_patch(old[which], new[which]) for which in ("points", "shapes"))


def _patch(old: dict, new: dict):
    ops = views.features_diff(old["features"], new["features"])
    if ops is None:
        return new
    if not ops:
        return no_update
    patch = Patch()
    for op in ops:
        if op[0] == "del":
            del patch["features"][op[1]]
        elif op[0] == "ins":
            patch["features"].insert(op[1], op[2])
        else:
            patch["features"][op[1]] = op[2]
    return patch


@cache.memoize(timeout=600)
def source_tiles(source: str, version: int, minute: int, language: str) -> list[dict]:
    now = datetime.fromtimestamp(minute * 60, tz=timezone.utc)
    return views.wall_tiles(_records(source), now, language)


@cache.memoize(timeout=3600)
def source_rows(source: str, version: int, limit: int, language: str) -> list[dict]:
    return views.incident_rows(_records(source), limit, language)


@cache.memoize(timeout=3600)
def source_headline(source: str, version: int, language: str) -> dict | None:
    return views.source_headline(_records(source), language)


def tiles(versions: dict[str, int], minute: int, language: str) -> dict:
    """The KPI tiles and each source's headline number, as the wall's tiles store holds them."""
    current = sorted(data_versions(versions).items())
    parts = [source_tiles(s, v, minute, language) for s, v in current]
    return {"tiles": localize_tiles(views.merge_tiles(parts), language),
            "headlines": {s: h for s, v in current if (h := source_headline(s, v, language))}}


def incident_rows(versions: dict[str, int], limit: int, language: str) -> list[dict]:
    rows = [row for s, v in data_versions(versions).items() for row in source_rows(s, v, limit, language)]
    rows.sort(key=lambda r: r["ts"], reverse=True)
    return rows[:limit]


def current_minute() -> int:
    return int(utcnow().timestamp() // 60)


def rows_for(pairs: list[tuple[str, str]], language: str) -> tuple[list[dict], list[str]]:
    """Rows for changed incidents and the uids of those gone (or no longer incidents)."""
    upsert, remove = [], []
    for (source, rid), rec in zip(pairs, runtime.live().get_many(pairs)):
        if rec is None:
            remove.append(f"{source}:{rid}")
        elif rec["kind"] == "incident":
            upsert.append(views.incident_row(rec, language))
    return upsert, remove


def tiles_digest(tiles: dict) -> str:
    return hashlib.blake2b(orjson.dumps(tiles), digest_size=8).hexdigest()


def localize_tiles(tiles: list[dict], language: str) -> list[dict]:
    """Turn the raw numbers of views.wall_tiles into the labels a wall shows."""
    from layouts.messages import t

    out = []
    for tile in tiles:
        tile = dict(tile)
        key, detail = tile["key"], tile["detail"]
        if key == "open_incidents":
            tile["detail"] = ""
            tile["parts"] = [{"label": t(f"severity.{p['label']}", language), "value": p["value"], "cls": f"sev-{p['label']}"}
                             for p in tile["parts"]]
        elif key == "calls_hour" and detail != "":
            tile["detail"] = t("wall.tile.calls_hour.detail", language, n=detail)
        elif key == "gauges_alert" and detail:
            tile["detail"] = t("wall.tile.gauges_alert.detail", language, level=detail)
        elif key == "complaints_overdue" and detail != "":
            tile["detail"] = t("wall.tile.complaints_overdue.detail", language, n=detail)
        out.append(tile)
    return out
