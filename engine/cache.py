"""The cache the read models keep their derived views in: a small protocol, and its
implementation on the live Redis (shared by every web worker, so a view of one data
version is computed once, whichever worker or screen asks first)."""
from __future__ import annotations

import zlib
from typing import Protocol

import redis

# Views of thousands of records (a map layer of 10,000 incidents is 5 MB of JSON) are kept
# compressed: about a tenth of the memory per cached version, for a few ms per read.
PACK_ABOVE = 16_384
_PACKED = b"\x00zl1"  # no JSON or pickle starts with a NUL byte


def pack(value: bytes) -> bytes:
    return _PACKED + zlib.compress(value, 1) if len(value) > PACK_ABOVE else value


def unpack(value: bytes | None) -> bytes | None:
    return zlib.decompress(value[len(_PACKED):]) if value is not None and value.startswith(_PACKED) else value


class Cache(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl: int) -> None: ...

    def get_many(self, keys: list[str]) -> list[bytes | None]: ...

    def set_many(self, items: dict[str, bytes], ttl: int) -> None: ...


class RedisCache:
    """Keys `{prefix}:cache:{key}`, inside the live store's prefix (so `LiveStore.clear` drops them);
    values over PACK_ABOVE bytes are stored compressed (`pack`/`unpack`), transparently."""

    def __init__(self, client: redis.Redis, prefix: str):
        self.r = client
        self.prefix = f"{prefix}:cache:"

    def get(self, key: str) -> bytes | None:
        return unpack(self.r.get(self.prefix + key))

    def set(self, key: str, value: bytes, ttl: int) -> None:
        self.r.set(self.prefix + key, pack(value), ex=ttl)

    def get_many(self, keys: list[str]) -> list[bytes | None]:
        return [unpack(v) for v in self.r.mget([self.prefix + k for k in keys])]

    def set_many(self, items: dict[str, bytes], ttl: int) -> None:
        pipe = self.r.pipeline(transaction=False)
        for key, value in items.items():
            pipe.set(self.prefix + key, pack(value), ex=ttl)
        pipe.execute()


class DictCache:
    """A process-local cache without expiry, for a single process (tests, benches)."""

    def __init__(self):
        self.items: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self.items.get(key)

    def set(self, key: str, value: bytes, ttl: int) -> None:
        self.items[key] = value

    def get_many(self, keys: list[str]) -> list[bytes | None]:
        return [self.items.get(k) for k in keys]

    def set_many(self, items: dict[str, bytes], ttl: int) -> None:
        self.items.update(items)
