"""Public data computed at most once per N seconds for all visitors, shared through Redis.

An entry holds what was computed, the live data versions it was computed at, and
when. A request within `cache_seconds` of the computation gets it as is; a later
request gets it too while the public sources' versions have not moved (up to
`STILL_VALID` seconds, so time windows ending "now" move on); otherwise one
worker recomputes it, under a short Redis lock, while the others keep serving the
entry they have. With Redis unreachable everything is computed per request.
"""
from __future__ import annotations

import hashlib
import time
from typing import Callable

import orjson
from redis.exceptions import RedisError

from engine.live import HEALTH, LiveStore
from engine.public import PublicConfig

STILL_VALID = 600  # seconds an entry of unchanged versions is served
LOCK_SECONDS = 30
MAX_CACHED_BYTES = 4 * 1024 * 1024  # larger bodies are computed per request rather than held in Redis


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=12).hexdigest()


class PublicCache:
    def __init__(self, live: LiveStore, cfg: PublicConfig, clock: Callable[[], float] = time.time):
        self.live = live
        self.cfg = cfg
        self.clock = clock

    def versions(self) -> str:
        """A digest of the data versions of the public sources."""
        versions = sorted((s, v) for s, v in self.live.versions().items() if s != HEALTH and self.cfg.source_allowed(s))
        return digest(orjson.dumps(versions))

    def get(self, name: str, build: Callable[[], bytes]) -> tuple[bytes, str]:
        """(body, etag) of the entry `name`, computed by `build` when it is due."""
        key = self.live.key("public", name)
        try:
            entry = self.live.r.hgetall(key)  # {b"v", b"at", b"etag", b"body"}, empty when there is none
            versions = self.versions()
        except RedisError:
            body = build()
            return body, digest(body)
        now = self.clock()
        if entry:
            age = now - float(entry[b"at"])
            if age < self.cfg.cache_seconds or (entry[b"v"].decode() == versions and age < STILL_VALID):
                return entry[b"body"], entry[b"etag"].decode()
            if not self._lock(key):
                return entry[b"body"], entry[b"etag"].decode()  # another worker is computing it
        body = build()
        etag = digest(body)
        try:
            pipe = self.live.r.pipeline(transaction=True)
            if len(body) <= MAX_CACHED_BYTES:
                pipe.hset(key, mapping={"v": versions, "at": repr(now), "etag": etag, "body": body})
                pipe.expire(key, STILL_VALID)
            else:
                pipe.delete(key)
            pipe.delete(key + ":lock")
            pipe.execute()
        except RedisError:
            pass
        return body, etag

    def _lock(self, key: str) -> bool:
        try:
            return bool(self.live.r.set(key + ":lock", b"1", nx=True, ex=LOCK_SECONDS))
        except RedisError:
            return True
