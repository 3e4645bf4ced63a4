"""/sources reads the wall screens' heartbeats once per poll (a real Redis, its commands counted)."""
from __future__ import annotations

from collections import Counter

import redis

from engine.live import LiveStore
from engine.records import utcnow
from engine.source_health import sources_view


class CountingRedis(redis.Redis):
    """A real client that counts the commands it sends, by (command, key)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.sent: Counter = Counter()

    def execute_command(self, *args, **options):
        self.sent[(str(args[0]).upper(), args[1] if len(args) > 1 else None)] += 1
        return super().execute_command(*args, **options)


def test_sources_view_reads_the_screen_heartbeats_once(embedded_redis_url, redis_client):
    client = CountingRedis.from_url(embedded_redis_url)
    live = LiveStore(client, "hb")
    live.describe_sources({"a": {"title": "A"}, "b": {"title": "B"}})
    for n in range(3):
        live.screen_seen(f"{n:032x}", utcnow().timestamp())
    client.sent.clear()
    view = sources_view(live, utcnow(), 2)
    reads = sum(count for (command, key), count in client.sent.items() if key == live.key("screens"))
    assert reads == 1 and len(view["screens"]) == 3
    client.close()
