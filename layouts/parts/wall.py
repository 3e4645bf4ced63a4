"""The wall's wiring to its read model and the words its data carries, shared by the
wall's layout (first state) and its callbacks (polls)."""
from __future__ import annotations

from damamaya import runtime
from engine.cache import RedisCache
from engine.wall.model import WallModel
from layouts.messages import client_messages, localize
from push.browser import wall_push

# what wall.js and map.js look up in the catalog they are sent
CLIENT_PREFIXES = ("age.", "stale.", "wall.sources.", "status.", "severity.", "siaga.", "wall.connection",
                   "wall.tile.no_source", "wall.place.", "wall.speed", "wall.clock", "wall.scene.")


def model() -> WallModel:
    """The wall's read model for one request, on the live store, caching in its Redis."""
    cfg = runtime.config()
    return WallModel(runtime.live(), RedisCache(runtime.redis_client(), cfg.redis.prefix), cfg.language,
                     cfg.wall.incident_list_size, cfg.kpi, cluster_above=cfg.wall.cluster_above)


def for_screen(data: dict, language: str) -> dict:
    """A store (tiles, health) as the browser gets it: the model's messages turned into words."""
    return localize(data, language)


def messages_for_screen(language: str) -> dict:
    return client_messages(language, CLIENT_PREFIXES)


def push_store(screen: str) -> dict | None:
    """The wall's push settings (stream URL, a fresh signed token) for assets/push.js."""
    from flask import has_request_context, request

    cfg = runtime.config()
    page_url = request.url if has_request_context() else f"http://{cfg.web.host}:{cfg.web.port}/wall"
    return wall_push(cfg, runtime.redis_client(), screen, page_url, page_id="wall", poll_id="wall-poll", wake_id="wall-wake")
