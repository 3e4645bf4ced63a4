"""Sign-in attempts counted in Redis, so every web worker shares one count per client address.

Built on `limits` (the engine of Flask-Limiter) directly: one endpoint is limited,
and its storage must follow the running configuration's Redis URL, known only at
request time.
"""
from __future__ import annotations

from functools import lru_cache

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


class LimiterUnavailable(RuntimeError):
    """The counting store cannot be reached: sign-in is refused rather than left unlimited."""


@lru_cache(maxsize=4)
def _limiter(redis_url: str) -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(storage_from_string(redis_url))


def allow_login_attempt(redis_url: str | None, rate: str, client: str) -> bool:
    """Count one attempt by `client`; False once it is over `rate`."""
    if not redis_url:
        raise LimiterUnavailable("no Redis URL")
    try:
        return _limiter(redis_url).hit(parse(rate), "login", client)
    except Exception as exc:  # noqa: BLE001 - redis-py's errors vary by cause; all mean "cannot count"
        raise LimiterUnavailable(type(exc).__name__) from None
