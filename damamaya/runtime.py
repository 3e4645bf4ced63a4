"""The process-wide handles a web worker or collector needs, built once, lazily."""
from __future__ import annotations

from functools import cache

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

