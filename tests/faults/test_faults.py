"""The promise, tested on real parts: while one of Damamaya's own parts is down
(Redis, the history database, one of several collectors) or the source hangs or
garbles, polling goes on; when the part returns, history holds every incident the
feed offered exactly once and the live store has recovered, with no one acting.

Each test publishes numbered incidents into a real HTTP feed, runs `damamaya
collect` in its own process, breaks one part for a while, brings it back and
waits (bounded) for the outcome. Figures: bench/bench_faults.py.
"""
from __future__ import annotations

import time
import uuid

import pytest

from faultkit import SOURCE, Rig, SqliteLock, TcpProxy, pg_terminate, wait_for

FAULT_SECONDS = 10


def assert_exactly_once(report: dict) -> None:
    assert report["missing"] == 0 and report["doubled"] == 0 and report["extra"] == 0, report
    assert report["stored_once"] == report["published"], report


@pytest.fixture
def sqlite_rig(tmp_path):
    rig = Rig(tmp_path, f"sqlite:///{tmp_path}/history.sqlite")
    yield rig
    rig.close()


def test_redis_killed_and_back_empty(sqlite_rig):
    rig = sqlite_rig
    rig.start()
    rig.redis.kill()
    before = rig.stored_count()
    wait_for(lambda: rig.stored_count() >= before + 2 * FAULT_SECONDS, 3 * FAULT_SECONDS,
             "incidents reaching history while Redis is down")
    rig.redis.start()  # empty: no sources, no health, no records, no sentinel
    wait_for(lambda: rig.live.sources() and rig.live.is_marked_alive(), 30,
             "the collector describing the sources again after Redis came back empty")
    assert_exactly_once(rig.settle())
    assert rig.live.health()[SOURCE]["status"] == "ok"


def test_collector_killed_and_restarted_takes_its_own_lease_at_once(tmp_path):
    """With a 60 s lease, a restart that waited out its predecessor's lease would miss the deadline."""
    rig = Rig(tmp_path, f"sqlite:///{tmp_path}/history.sqlite", lock_seconds=60)
    try:
        rig.start()
        [collector] = rig.collectors
        owner = wait_for(collector.owner, 10, "the collector naming itself in its log")
        collector.kill9()
        time.sleep(2)
        collector.start()
        restarted = collector.started_at.isoformat()
        wait_for(lambda: (rig.live.health().get(SOURCE) or {}).get("last_attempt", "") > restarted, 30,
                 "the restarted collector polling (it must not wait out the 60 s lease of its predecessor)")
        assert wait_for(collector.owner, 10, "the restarted collector naming itself") == owner
        assert_exactly_once(rig.settle())
    finally:
        rig.close()


def test_one_of_two_collectors_killed(sqlite_rig):
    rig = sqlite_rig
    rig.start(collectors=2)
    holder = wait_for(lambda: rig.history.lease_owner(SOURCE), 10, "a collector holding the feed's lease")
    [victim] = [c for c in rig.collectors if c.owner() == holder]
    victim.kill9()
    wait_for(lambda: rig.history.lease_owner(SOURCE) not in (None, holder), 60, "the other collector taking over the lease")
    report = rig.settle()
    assert_exactly_once(report)


def test_sqlite_locked_by_another_writer(sqlite_rig):
    rig = sqlite_rig
    rig.start()
    lock = SqliteLock(rig.workdir / "history.sqlite")
    try:
        wait_for(lambda: rig.live.parts().get("database", {}).get("state") == "down", 20,
                 "the parts status saying the database is down")
        seen = len(rig.live_ids())
        wait_for(lambda: len(rig.live_ids()) >= seen + 2 * FAULT_SECONDS, 3 * FAULT_SECONDS,
                 "the wall getting new incidents while history is locked")
    finally:
        lock.release()
    wait_for(lambda: rig.live.parts().get("database", {}).get("state") == "up", 30, "the parts status saying the database is up")
    assert_exactly_once(rig.settle())


@pytest.fixture
def pg_rig(tmp_path, pg_url):
    proxy = TcpProxy()
    app = f"dmy_fault_{uuid.uuid4().hex[:8]}"
    url = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}") + f"&application_name={app}"
    rig = Rig(tmp_path, url)
    rig.proxy, rig.application_name, rig.admin_url = proxy, app, pg_url
    yield rig
    rig.close()
    proxy.stop()


def test_postgresql_unreachable(pg_rig):
    rig = pg_rig
    rig.start()
    rig.proxy.stop()
    seen = len(rig.live_ids())
    wait_for(lambda: len(rig.live_ids()) >= seen + 2 * FAULT_SECONDS, 3 * FAULT_SECONDS,
             "the wall getting new incidents while PostgreSQL cannot be reached")
    wait_for(lambda: rig.live.parts()["database"]["state"] == "down", 20, "the parts status saying the database is down")
    rig.proxy.start()
    assert_exactly_once(rig.settle())


def test_postgresql_connections_terminated(pg_rig):
    rig = pg_rig
    rig.start()
    deadline = time.monotonic() + FAULT_SECONDS
    while time.monotonic() < deadline:
        pg_terminate(rig.admin_url, rig.application_name)
        time.sleep(0.5)
    assert_exactly_once(rig.settle())


def test_source_hangs_then_garbles(sqlite_rig):
    rig = sqlite_rig
    rig.start()
    rig.feed.mode = "hang"
    wait_for(lambda: "timed out" in (rig.live.health()[SOURCE].get("last_error") or ""), 30,
             "the source's health saying it timed out")
    rig.feed.mode = "garble"
    wait_for(lambda: "no usable record" in (rig.live.health()[SOURCE].get("last_error") or ""), 30,
             "the source's health saying it sent nothing usable")
    assert rig.live.health()[SOURCE]["status"] == "failing"
    assert len(rig.live_ids()) >= 8, "the last good data must stay on the wall"
    rig.feed.mode = "ok"
    assert_exactly_once(rig.settle())
