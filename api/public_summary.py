"""The data of the public page /publik: engine.public.summary over the live store, computed at
most once per `public.cache_seconds` for every visitor (api/cache.py), whatever the crowd."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache

import orjson

from api.cache import PublicCache
from damamaya import runtime
from engine.live import HEALTH, LiveStore
from engine.public import PublicConfig, summary

PAGE_KINDS = {"incident", "reading", "price"}  # a source of positions only has nothing for the page


def public_config() -> PublicConfig:
    """The `public` block with the key its public ids are made with: a secret made once in the
    history database, the same for every worker (engine.public.public_id)."""
    cfg = runtime.config()
    return cfg.public.keyed(_public_id_key(cfg.database.url))


@lru_cache(maxsize=8)
def _public_id_key(database_url: str) -> bytes:
    from security.principal import accounts

    return accounts().secret("public-ids").encode()


def summary_for(language: str) -> dict:
    """The page's data with its `etag` (changes exactly when the data does). Raises RedisError when
    the live store is down and nothing is cached."""
    cfg = public_config()
    live = runtime.live()
    body, etag = PublicCache(live, cfg).get(f"summary:{language}", lambda: orjson.dumps(build(live, cfg, language)))
    return {**orjson.loads(body), "etag": etag}


def build(live: LiveStore, cfg: PublicConfig, language: str) -> dict:
    described = live.sources()
    records = []
    for source in sorted(live.versions()):
        if source == HEALTH or not cfg.source_allowed(source):
            continue
        kinds = described.get(source, {}).get("kinds")
        if kinds is not None and not PAGE_KINDS & set(kinds):
            continue
        records.extend(live.raw_records(source))
    return summary(records, datetime.now(timezone.utc), cfg, language)
