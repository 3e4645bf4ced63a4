"""The wall's reads of the live store, cached by data version in Redis (flask-caching),
so however many screens and workers ask, each view is computed once per version."""
from __future__ import annotations

from datetime import datetime

import orjson

from engine import runtime, views
from engine.records import utcnow
from layouts.cache import cache

DATA_KEYS_EXCLUDED = {"health"}


def data_versions(versions: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in versions.items() if k not in DATA_KEYS_EXCLUDED}


@cache.memoize(timeout=3600)
def layer(source: str, version: int, language: str) -> tuple[dict, dict]:
    return views.layer_geojson(runtime.live().raw_records(source), language)


def _all_records(sources) -> list[dict]:
    live = runtime.live()
    out: list[dict] = []
    for source in sources:
        out.extend(live.raw_records(source))
    return out


@cache.memoize(timeout=600)
def tiles(version_key: str, minute: int, language: str) -> list[dict]:
    versions = orjson.loads(version_key)
    now = datetime.fromtimestamp(minute * 60, tz=utcnow().tzinfo) if minute else utcnow()
    return localize_tiles(views.wall_tiles(_all_records(versions), now, language), language)


@cache.memoize(timeout=600)
def incident_rows(version_key: str, limit: int, language: str) -> list[dict]:
    return views.incident_rows(_all_records(orjson.loads(version_key)), limit, language)


def version_key(versions: dict[str, int]) -> str:
    return orjson.dumps(data_versions(versions), option=orjson.OPT_SORT_KEYS).decode()


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


def tiles_digest(tiles: list[dict]) -> str:
    import hashlib

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
