"""The /kpi and /history read service of this process: one per history engine."""
from __future__ import annotations

import threading

from damamaya import runtime
from engine.analytics.config import kpi_config
from engine.analytics.service import AnalyticsService
from engine.cache import RedisCache

_services: dict[int, tuple[object, AnalyticsService]] = {}
_lock = threading.Lock()


def service() -> AnalyticsService:
    """Created on first use with the process's history engine (which ensures the schema once)."""
    history, config = runtime.history(), runtime.config()
    held = _services.get(id(history))
    if held is None or held[0] is not history:
        with _lock:
            held = _services.get(id(history))
            if held is None or held[0] is not history:
                shared = RedisCache(runtime.redis_client(), config.redis.prefix) if config.redis.url else None
                held = (history, AnalyticsService(history.engine, kpi_config(config), shared))
                _services[id(history)] = held
    return held[1]
