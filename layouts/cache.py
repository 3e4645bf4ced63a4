"""flask-caching on the live Redis: derived views are computed once per data version,
whichever worker asks first."""
from __future__ import annotations

from flask_caching import Cache

from damamaya import runtime

cache = Cache()


def init_cache(server) -> None:
    cfg = runtime.config()
    cache.init_app(server, config={
        "CACHE_TYPE": "RedisCache",
        "CACHE_REDIS_URL": cfg.redis.url or "redis://127.0.0.1:1/0",
        "CACHE_KEY_PREFIX": f"{cfg.redis.prefix}:cache:",
        "CACHE_DEFAULT_TIMEOUT": 600,
    })
