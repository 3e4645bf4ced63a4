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
