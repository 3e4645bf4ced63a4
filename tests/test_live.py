"""The live store on a real Redis (the embedded valkey server)."""
from datetime import datetime, timezone

from engine.live import LiveStore
from engine.records import Incident

T = datetime(2026, 11, 27, 1, 0, tzinfo=timezone.utc)


def inc(i, **kw):
    return Incident(**{"id": str(i), "source": "s", "category": "fire", "reported_at": T, "updated_at": T, **kw})


def test_versions_change_only_with_data(redis_client):
    live = LiveStore(redis_client, "t")
    assert live.apply("s", []) == 0 and live.versions() == {}
    assert live.apply("s", [inc(1), inc(2)]) == 1
    assert live.apply("s", [], ["1"]) == 2
    assert {r.id for r in live.records("s")} == {"2"}
    live.set_health("s", {"status": "ok"}, bump=False)
    assert "health" not in live.versions()
    live.set_health("s", {"status": "failing"}, bump=True)
    assert live.versions()["health"] == 1 and live.health()["s"]["status"] == "failing"


def test_change_stream_reads_from_a_point_and_detects_gaps(redis_client):
    live = LiveStore(redis_client, "t", stream_length=100)
    live.apply("s", [inc(1)])
    head = live.stream_head()
    live.apply("s", [inc(2), inc(3)])
    entries, newest, complete = live.changes_since(head)
    assert complete and [e["i"] for e in entries] == ["2", "3"] and newest == live.stream_head()
    assert live.changes_since(newest) == ([], newest, True)
    for i in range(400):  # push the old head out of the bounded stream
        live.apply("s", [inc(f"x{i}")])
    _, _, complete = live.changes_since(head)
    assert complete is False


def test_rejects_list_is_bounded_newest_first(redis_client):
    live = LiveStore(redis_client, "t", reject_length=3)
    live.push_rejects("s", [{"reason": f"r{i}"} for i in range(5)])
    assert [r["reason"] for r in live.rejects("s")] == ["r4", "r3", "r2"]


def test_clear_removes_only_own_prefix(redis_client):
    redis_client.set("other:key", 1)
    live = LiveStore(redis_client, "t")
    live.apply("s", [inc(1)])
    live.clear()
    assert live.versions() == {} and redis_client.get("other:key") == b"1"


def test_clear_keeps_the_running_collectors_locks_and_parts(redis_client):
    live = LiveStore(redis_client, "t")
    live.apply("s", [inc(1)])
    live.set_health("s", {"status": "ok"}, bump=True)
    assert live.take_lock("s", "collector-a", 60)
    live.set_part("database", {"state": "up"})
    live.mark_alive("collector-a")
    live.clear()
    assert live.versions() == {} and live.health() == {} and live.records("s") == []
    assert live.lock_owner("s") == "collector-a" and live.parts() == {"database": {"state": "up"}}
    assert live.is_marked_alive()


def test_a_lock_is_taken_when_free_or_already_ours(redis_client):
    live = LiveStore(redis_client, "t")
    assert live.take_lock("s", "a", 60)
    assert not live.take_lock("s", "b", 60)
    assert live.take_lock("s", "a", 60)  # a restarted collector with the same identity
    live.release_lock("s", "b")  # not b's: stays
    assert live.lock_owner("s") == "a"
    live.release_lock("s", "a")
    assert live.take_lock("s", "b", 60)


def test_parts_status_says_which_part_is_down(redis_client):
    from datetime import timedelta

    from engine.live import parts_status

    now = datetime.now(timezone.utc)
    live = LiveStore(redis_client, "t")
    live.set_part("database", {"state": "down", "since": now.isoformat(), "error": "OperationalError"})
    live.set_part("spool:c1", {"backlog": 3, "oldest": "2026-12-02T04:00:00+00:00"})
    live.set_part("spool:c2", {"backlog": 2, "oldest": "2026-12-02T03:00:00+00:00"})
    live.set_part("collector:c1", {"at": now.isoformat(), "polling": ["q"]})
    live.set_part("collector:c2", {"at": (now - timedelta(minutes=5)).isoformat(), "polling": []})
    status = parts_status(live, now)
    assert status["redis"] == {"state": "up"} and status["database"]["state"] == "down"
    assert status["spool"] == {"backlog": 5, "oldest": "2026-12-02T03:00:00+00:00"}
    assert [(c["owner"], c["state"]) for c in status["collectors"]] == [("c1", "up"), ("c2", "silent")]
    assert status["down"] == ["database", "collector:c2"]


def test_parts_status_says_redis_is_unreachable():
    import socket

    import redis

    from engine.live import parts_status

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    live = LiveStore(redis.Redis(port=port, socket_connect_timeout=1), "t")
    status = parts_status(live)
    assert status["redis"]["state"] == "down" and status["down"] == ["redis"]


def test_a_wall_heartbeat_is_written_once_per_interval_from_one_process(redis_client):
    from engine.live import HEARTBEAT_EVERY

    live = LiveStore(redis_client, prefix="hbtest")
    live.r.delete(live.key("screens"))
    screen = "0123456789abcdef0123456789abcdef"
    live.screen_seen(screen, 1000.0)
    live.screen_seen(screen, 1000.0 + HEARTBEAT_EVERY / 2)  # an idle poll soon after writes nothing
    assert live.screens() == {screen: 1000.0}
    live.screen_seen(screen, 1000.0 + HEARTBEAT_EVERY)
    assert live.screens() == {screen: 1000.0 + HEARTBEAT_EVERY}
