"""What a wall page needs to open its push stream: the URL and a fresh token.

Called by the web side (the wall's layout and its token renewal); imports nothing
from the screens. `page_url` is the URL the browser loaded the page from, so that
without a proxy the stream is opened on the same host name at the push port.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from engine.config import AppConfig
from push import tokens

MIN_BACKOFF_MS = 1000
MAX_BACKOFF_MS = 30_000


def stream_url(config: AppConfig, page_url: str) -> str:
    push = config.push
    if push.browser_url:  # behind a reverse proxy: same origin, e.g. /push
        return push.browser_url.rstrip("/") + "/events"
    page = urlsplit(page_url)
    host = page.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"{page.scheme or 'http'}://{host}:{config.push_port()}{push.path.rstrip('/')}/events"


def wall_push(config: AppConfig, redis_client, screen: str, page_url: str, page_id: str, poll_id: str,
              wake_id: str) -> dict | None:
    """The wall's push store: None when push is off (the wall then only polls). `page_id` is
    an element of the wall's page (the stream closes when it is gone), `poll_id` the wall's
    dcc.Interval, `wake_id` the store the poll callback takes as its wake input."""
    if not config.push.enabled:
        return None
    secret = tokens.shared_secret(redis_client, config.redis.prefix)
    return {"url": stream_url(config, page_url), "token": tokens.mint(secret, screen, config.push.token_seconds),
            "screen": screen, "poll_ms": int(config.wall.poll_seconds * 1000),
            "safety_ms": int(config.push.safety_poll_seconds * 1000),
            "min_backoff_ms": MIN_BACKOFF_MS, "max_backoff_ms": MAX_BACKOFF_MS, "page_id": page_id, "poll_id": poll_id, "wake_id": wake_id}
