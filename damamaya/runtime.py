"""The process-wide handles a web worker or collector needs, built once, lazily."""
from __future__ import annotations

from functools import cache, lru_cache

import redis

from damamaya.config import AppConfig, load_config
from engine.history import History


@cache
def config() -> AppConfig:
    return load_config()


@cache
def redis_client() -> redis.Redis:
    url = config().redis.url
    if not url:
        raise RuntimeError("no Redis URL: start with `damamaya run` (embedded Redis) or set DAMAMAYA_REDIS_URL")
    return redis.Redis.from_url(url, socket_timeout=5, health_check_interval=30)


@cache
def history() -> History:
    return History(config().database.url)


@cache
def live():
    from engine.live import LiveStore

    cfg = config()
    return LiveStore(redis_client(), cfg.redis.prefix, cfg.collector.change_stream_length, cfg.collector.reject_list_length)


def public_config():
    """The `public` block with the key its public ids are made with: a secret made once in the
    history database, the same for every worker (engine.public.public_id)."""
    return config().public.keyed(_public_id_key(config().database.url))


@lru_cache(maxsize=8)
def _public_id_key(database_url: str) -> bytes:
    from security.principal import accounts

    return accounts().secret("public-ids").encode()
