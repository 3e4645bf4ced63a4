"""api/cache.py on real Redis with a hand-driven clock: computed at most once per cache_seconds
for everyone, served on while the versions stand still, a stale entry while another worker computes."""
from __future__ import annotations

import pytest

from api.cache import STILL_VALID, PublicCache
from engine.live import LiveStore
from engine.public import PublicConfig
from engine.records import Incident, utcnow


@pytest.fixture
def store(redis_client):
    return LiveStore(redis_client, "cachetest")


def _bump(store: LiveStore, source: str = "complaints", n: int = 0) -> None:
    now = utcnow()
    store.apply(source, [Incident(id=f"c{n}", source=source, category="waste", reported_at=now, updated_at=now)])


def test_at_most_once_per_period_and_not_again_while_nothing_changes(store):
    clock = [1000.0]
    cache = PublicCache(store, PublicConfig(cache_seconds=30), clock=lambda: clock[0])
    builds = []

    def build():
        builds.append(clock[0])
        return f"body {len(builds)}".encode()

    _bump(store)
    assert cache.get("x", build)[0] == b"body 1"
    clock[0] += 10
    _bump(store, n=1)  # the data moved, but within the period the entry stands
    assert cache.get("x", build)[0] == b"body 1"
    clock[0] += 25
    assert cache.get("x", build)[0] == b"body 2"  # period over and the data moved
    clock[0] += STILL_VALID - 1
    assert cache.get("x", build)[0] == b"body 2"  # nothing moved: still served
    clock[0] += 2
    assert cache.get("x", build)[0] == b"body 3"  # too old however still the data
    assert builds == [1000.0, 1035.0, 1035.0 + STILL_VALID + 1]


def test_a_source_not_public_does_not_move_the_versions(store):
    cache = PublicCache(store, PublicConfig(sources=["complaints"]))
    before = cache.versions()
    _bump(store, "secret-source")
    assert cache.versions() == before
    _bump(store, "complaints")
    assert cache.versions() != before


def test_while_another_worker_computes_the_old_entry_is_served(store):
    clock = [0.0]
    cache = PublicCache(store, PublicConfig(cache_seconds=5), clock=lambda: clock[0])
    cache.get("y", lambda: b"old")
    clock[0] += 6
    _bump(store)
    store.r.set(store.key("public", "y") + ":lock", b"1")  # another worker holds the lock
    assert cache.get("y", lambda: b"new")[0] == b"old"
    store.r.delete(store.key("public", "y") + ":lock")
    assert cache.get("y", lambda: b"new")[0] == b"new"


def test_redis_down_computes_per_request():
    import redis

    down = LiveStore(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2), "x")
    body, etag = PublicCache(down, PublicConfig()).get("z", lambda: b"fresh")
    assert body == b"fresh" and etag
