"""Collector logic on a real Redis and a real SQLite history, feeds served over real HTTP."""
import logging
import random
import time
from datetime import timedelta

import orjson
import pytest

from data_sources import get_adapter
from engine.contract import Adapter
from engine.collector import Collector, SourceRunner, next_delay
from engine.history import History
from engine.live import LiveStore
from engine.records import ParseResult, Reading, utcnow

# an hour old whenever the tests run, so it is always inside a source's live window
QUAKE_TIME = (utcnow() - timedelta(hours=1)).replace(microsecond=0)
QUAKE = orjson.dumps({"Infogempa": {"gempa": {"DateTime": QUAKE_TIME.isoformat(), "Coordinates": "-8.65,115.22",
                                              "Magnitude": "4.1", "Wilayah": "Denpasar"}}})


@pytest.fixture
def live(redis_client):
    return LiveStore(redis_client, "t")


@pytest.fixture
def sqlite_history(tmp_path):
    h = History(f"sqlite:///{tmp_path}/h.sqlite")
    h.create()
    yield h
    h.dispose()


def quake_runner(url, live, history, **kw):
    cls = get_adapter("bmkg-quake")
    cfg = cls.Config(url=url, interval=1, timeout=kw.pop("timeout", 2))
    return SourceRunner(cls("quake", cfg), live, history, **kw)


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling():
    rng = random.Random(1)
    assert next_delay(10, 0, 300) == 10
    for failures, base in [(1, 10), (2, 20), (3, 40), (4, 80)]:
        delays = [next_delay(10, failures, 300, rng) for _ in range(200)]
        assert min(delays) >= base * 0.75 and max(delays) <= base * 1.25
        assert len(set(delays)) > 100  # jittered, not lockstep
    assert max(next_delay(10, 20, 300, rng) for _ in range(100)) <= 300
    assert next_delay(0.5, 1, 300, rng) >= 1


def test_failure_keeps_last_good_data_and_recovery_is_logged_once(feed_server, live, sqlite_history, caplog):
    url = feed_server.serve("/q.json", QUAKE)
    runner = quake_runner(url, live, sqlite_history)
    assert runner.poll().ok and runner.last_update_success
    assert len(live.records("quake")) == 1
    version = live.versions()["quake"]

    caplog.set_level(logging.INFO, logger="damamaya.collector")
    for body, status in [(b"<html><body>Bad gateway</body></html>", 200), (b"oops", 500), (QUAKE[:40], 200)]:
        feed_server.serve("/q.json", body, status=status)
        outcome = runner.poll()
        assert not outcome.ok
        assert len(live.records("quake")) == 1, "good data must survive a bad poll"
    assert live.versions()["quake"] == version
    health = live.health()["quake"]
    assert health["status"] == "failing" and health["failures"] == 3 and health["last_update_success"] is False
    assert "not valid JSON" in health["last_error"] and health["last_success"]
    assert runner.delay() > 1  # backing off

    feed_server.serve("/q.json", QUAKE)
    assert runner.poll().ok
    assert live.health()["quake"]["status"] == "ok" and runner.health.failures == 0
    failing_lines = [r for r in caplog.records if "failing" in r.getMessage()]
    recovered_lines = [r for r in caplog.records if "recovered" in r.getMessage()]
    assert len(failing_lines) == 1 and len(recovered_lines) == 1
    [outage] = sqlite_history.outages("quake")
    assert outage["ended_at"] is not None and "HTML" in outage["error"]


@pytest.mark.parametrize("body,status", [
    (b"<!DOCTYPE html><html><body>Service Unavailable</body></html>", 200),
    (QUAKE[: len(QUAKE) // 2], 200),
    (b"", 200),
    (b"\x00\xff" * 5_000_000, 200),  # 10 MB of binary garbage
    (b"[" * 100_000 + b"]" * 100_000, 200),  # absurdly deep nesting
    ("Gempa ".encode("utf-16"), 200),  # not UTF-8
    (b"{}", 200),
    (b"gateway timeout", 504),
])
def test_garbage_never_replaces_good_data(feed_server, live, sqlite_history, body, status):
    url = feed_server.serve("/q.json", QUAKE)
    runner = quake_runner(url, live, sqlite_history)
    assert runner.poll().ok
    good = live.raw_records("quake")
    feed_server.serve("/q.json", body, status=status)
    outcome = runner.poll()
    assert not outcome.ok and outcome.error
    assert live.raw_records("quake") == good
    assert live.health()["quake"]["status"] == "failing"


def test_unchanged_poll_bumps_no_version(feed_server, live, sqlite_history):
    url = feed_server.serve("/q.json", QUAKE)
    runner = quake_runner(url, live, sqlite_history)
    runner.poll()
    before = live.versions()["quake"]
    head = live.stream_head()
    assert runner.poll().changed == 0
    assert live.versions()["quake"] == before and live.stream_head() == head
    assert sqlite_history.count("quake") == 1


def test_rejects_are_stored_with_reasons(feed_server, live, sqlite_history):
    good = orjson.loads(QUAKE)["Infogempa"]["gempa"]
    bad = {"DateTime": (QUAKE_TIME + timedelta(minutes=5)).isoformat(), "Coordinates": "x", "Magnitude": "3"}
    body = orjson.dumps({"Infogempa": {"gempa": [good, bad]}})
    url = feed_server.serve("/q.json", body)
    runner = quake_runner(url, live, sqlite_history)
    outcome = runner.poll()
    assert outcome.ok and outcome.records == 1 and outcome.rejects == 1
    [stored] = sqlite_history.recent_rejects("quake")
    assert "Coordinates" in stored["reason"]
    assert "Coordinates" in live.rejects("quake")[0]["reason"]
    later = {**good, "DateTime": (QUAKE_TIME + timedelta(minutes=9)).isoformat()}
    feed_server.serve("/q.json", orjson.dumps({"Infogempa": {"gempa": [good, bad, later]}}))  # the bad item comes again
    runner.poll()
    assert sqlite_history.recent_rejects("quake")[0]["times"] == 2  # counted, not repeated


class ListFeed(Adapter):
    """Serves a scripted list of gauge snapshots; only the feed is scripted, the stores are real."""

    name = ""
    snapshot = True

    def __init__(self, snapshots):
        super().__init__("gauges")
        self.snapshots = list(snapshots)

    def fetch(self) -> bytes:
        return orjson.dumps(self.snapshots.pop(0))

    def parse(self, raw: bytes) -> ParseResult:
        now = utcnow()
        return ParseResult(records=[Reading(id=g, source="gauges", station=g, quantity="water_level", value=v, observed_at=now)
                                    for g, v in orjson.loads(raw)])


def test_snapshot_source_drops_what_is_gone(live, sqlite_history):
    feed = ListFeed([[["a", 1], ["b", 2]], [["a", 1.5]]])
    runner = SourceRunner(feed, live, sqlite_history)
    runner.poll()
    assert live.ids("gauges") == {"a", "b"}
    runner.poll()
    assert live.ids("gauges") == {"a"}
    ops = [e["op"] for e in live.changes_since("0-0")[0]]
    assert ops.count("d") == 1
    assert sqlite_history.count("gauges") == 2  # history keeps what the live view dropped


def wait_for(condition, seconds: float, what: str) -> None:
    """Wait for a condition with a deadline (a bound, not a measurement): fail saying what never happened."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {seconds:g} s")
        time.sleep(0.05)


def test_a_hanging_source_never_delays_another(feed_server, live, sqlite_history):
    from damamaya.config import config_from_dict, make_adapters

    slow_url = feed_server.serve("/slow.json", QUAKE, delay=60)
    config = config_from_dict({"sources": {
        "slow": {"adapter": "bmkg-quake", "url": slow_url, "interval": 1, "timeout": 40},
        "fast": {"adapter": "demo", "feed": "calls", "interval": 1, "rate_per_minute": 60, "seed": 3},
    }})
    collector = Collector(make_adapters(config), live, sqlite_history, max_backoff=2)
    collector.start()
    try:
        fast, slow = collector.runners["fast"].health, collector.runners["slow"].health
        wait_for(lambda: fast.polls >= 4, 30, "the fast source did not poll 4 times")
        # all of them while the slow source's first fetch still hangs
        assert slow.polls == 1 and slow.last_update_success is None
        assert fast.status == "ok" and fast.failures == 0
    finally:
        collector.close(timeout=1)


def test_two_collectors_share_the_sources_without_double_polling(live, sqlite_history):
    from damamaya.config import config_from_dict, make_adapters

    config = config_from_dict({"sources": {
        f"demo{i}": {"adapter": "demo", "feed": "gauges", "interval": 1, "seed": i} for i in range(4)}})
    a = Collector(make_adapters(config), live, sqlite_history, lock_seconds=5, owner="a")
    b = Collector(make_adapters(config), live, sqlite_history, lock_seconds=5, owner="b")
    a.start()
    b.start()
    try:
        def polls(name):
            return a.runners[name].health.polls, b.runners[name].health.polls
        wait_for(lambda: all(sum(polls(name)) >= 3 for name in config.sources), 30,
                 "every source polled 3 times")
    finally:
        a.close(timeout=1)
        b.close(timeout=1)
    for name in config.sources:
        assert min(polls(name)) == 0, f"{name} polled by both: {polls(name)}"


def test_rebuild_live_restores_the_live_store_from_history(feed_server, embedded_redis_url, tmp_path):
    """`damamaya rebuild-live` after a Redis loss: the same live records, taken from history."""
    import subprocess
    import sys
    from pathlib import Path

    import redis

    db = f"sqlite:///{tmp_path}/h.sqlite"
    url = feed_server.serve("/q.json", QUAKE)
    client = redis.Redis.from_url(embedded_redis_url)
    client.flushdb()
    live, history = LiveStore(client, "rb"), History(db)
    history.create()
    cfg = get_adapter("bmkg-quake").Config(url=url, interval=1, live_hours=24 * 3650)
    SourceRunner(get_adapter("bmkg-quake")("quake", cfg), live, history).poll()
    before = live.raw_records("quake")
    assert len(before) == 1
    client.flushdb()  # Redis lost everything
    config = tmp_path / "config.yaml"
    config.write_text(f"redis: {{url: '{embedded_redis_url}', prefix: rb}}\ndatabase: {{url: '{db}'}}\n"
                      f"sources:\n  quake: {{adapter: bmkg-quake, url: '{url}', live_hours: 87600}}\n")
    out = subprocess.run([sys.executable, "-m", "damamaya.cli", "--config", str(config), "rebuild-live"],
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=60)
    assert out.returncode == 0, out.stderr
    assert "rebuilt the live store with 1 records" in out.stdout and "quake: 1 live records" in out.stderr
    assert live.raw_records("quake") == before
    assert live.versions()["quake"] >= 1 and "quake" in live.sources()
    history.dispose()


def test_a_new_live_store_gets_records_history_already_holds(feed_server, live, sqlite_history):
    """An embedded Redis starts empty on every `damamaya run`, the SQLite history does not:
    records unchanged in history must still reach the live store."""
    url = feed_server.serve("/q.json", QUAKE)
    quake_runner(url, live, sqlite_history).poll()
    live.r.flushdb()
    outcome = quake_runner(url, live, sqlite_history).poll()
    assert outcome.ok and outcome.changed == 1
    assert len(live.records("quake")) == 1
    assert sqlite_history.count("quake") == 1


def test_health_is_republished_within_half_of_a_short_stale_after(feed_server, live, sqlite_history):
    """The wall calls a source stale after `stale_after`; a republish every 30 s made a
    healthy source with stale_after 10 s look stale."""
    url = feed_server.serve("/q.json", QUAKE)
    cls = get_adapter("bmkg-quake")
    runner = SourceRunner(cls("quake", cls.Config(url=url, interval=1, stale_after=10)), live, sqlite_history)
    t0 = utcnow()
    published = []
    for seconds in (0, 3, 6, 8, 11):
        runner.poll(now=t0 + timedelta(seconds=seconds))
        published.append((live.versions().get("health"), live.health()["quake"]["last_success"]))
    bumps = [i for i in range(1, len(published)) if published[i][0] != published[i - 1][0]]
    assert bumps == [2, 4], published  # at 6 s and 11 s: never more than stale_after / 2 apart
    assert published[-1][1] == (t0 + timedelta(seconds=11)).isoformat()


def all_redis_text(client) -> str:
    out = []
    for key in client.scan_iter("*"):
        kind = client.type(key).decode()
        value = {"string": client.get, "hash": client.hgetall, "list": lambda k: client.lrange(k, 0, -1),
                 "stream": lambda k: client.xrange(k)}.get(kind, lambda k: b"")(key)
        out.append(f"{key!r} {value!r}")
    return "\n".join(out)


@pytest.mark.parametrize("secret_url", ["{base}/q.json?key=SECRET-7f3a&x=1", "http://bob:SECRET-7f3a@{host}/q.json"])
def test_a_feed_url_secret_reaches_no_health_log_or_history(feed_server, live, sqlite_history, caplog, secret_url):
    for path in ("/q.json", "/q.json?key=SECRET-7f3a&x=1"):  # the test server routes by path and query
        feed_server.serve(path, b"forbidden", status=403)
    base = f"http://127.0.0.1:{feed_server.httpd.server_port}"
    url = secret_url.format(base=base, host=base.removeprefix("http://"))
    caplog.set_level(logging.DEBUG)
    runner = quake_runner(url, live, sqlite_history)
    assert not runner.poll().ok
    error = live.health()["quake"]["last_error"]
    assert error == f"HTTP 403 from {base}/q.json"
    closed = quake_runner(url.replace(str(feed_server.httpd.server_port), "9"), live, sqlite_history)  # nothing listens
    assert not closed.poll().ok and "127.0.0.1:9/q.json" in live.health()["quake"]["last_error"]
    assert "SECRET" not in all_redis_text(live.r)
    assert "SECRET" not in caplog.text
    assert "SECRET" not in str(sqlite_history.outages("quake"))


def test_a_locked_history_spools_the_poll_and_the_wall_still_gets_it(feed_server, live, tmp_path):
    """History locked by another writer: the poll is acknowledged from the spool, the live
    store gets the quake at once, and history gets it when the lock goes."""
    import sqlite3

    history = History(f"sqlite:///{tmp_path}/h.sqlite")
    history.create()
    url = feed_server.serve("/q.json", QUAKE)
    cls = get_adapter("bmkg-quake")
    runner = SourceRunner(cls("quake", cls.Config(url=url, interval=1)), live, history, history_wait=0.5)
    locker = sqlite3.connect(tmp_path / "h.sqlite", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        outcome = runner.poll()
        assert outcome.ok and outcome.spooled
        assert len(live.records("quake")) == 1, "the wall must not wait for history"
        assert runner.writer.spool.backlog("quake") == 1
        assert runner.writer.parts.database["state"] == "down"
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    deadline = time.monotonic() + 30
    while runner.writer.spool.backlog("quake") and time.monotonic() < deadline:
        runner.writer.replay_soon()
        time.sleep(0.2)
    assert runner.writer.spool.backlog("quake") == 0, "the spool was not replayed within 30 s of the unlock"
    assert history.count("quake") == 1 and runner.writer.parts.database["state"] == "up"
    history.dispose()


def test_an_unreachable_database_never_ends_a_source(feed_server, live):
    """outage_started raised and ended the source's thread: now outages and records spool."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    history = History(f"postgresql://postgres@127.0.0.1:{port}/test")
    url = feed_server.serve("/q.json", b"oops", status=500)
    runner = quake_runner(url, live, history, history_wait=2)
    assert not runner.poll().ok  # opens an outage: spooled
    feed_server.serve("/q.json", QUAKE)
    outcome = runner.poll()  # closes it and stores the quake: spooled
    assert outcome.ok and outcome.spooled and len(live.records("quake")) == 1
    kinds = [row[0] for row in runner.writer.spool._conn().execute("SELECT kind FROM spool ORDER BY seq")]
    assert kinds == ["outage_started", "batch", "outage_ended"]
    assert live.health()["quake"]["status"] == "ok"


def test_a_push_only_source_is_not_polled(live, sqlite_history):
    from damamaya.config import config_from_dict, make_adapters

    config = config_from_dict({"sources": {
        "warga": {"adapter": "open311", "ingest": {"secret_env": "X"}},
        "both": {"adapter": "open311", "url": "http://127.0.0.1:9/x", "ingest": {"secret_env": "X"}},
        "demo": {"adapter": "demo", "feed": "gauges", "interval": 1}}})
    collector = Collector(make_adapters(config), live, sqlite_history)
    assert set(collector.runners) == {"both", "demo"}
    assert set(collector.descriptions) == {"warga", "both", "demo"}  # still listed on /sources


def test_a_spool_left_by_a_retired_identity_is_replayed_by_the_collector_running_now(feed_server, live, sqlite_history, tmp_path):
    """The configuration changed while history was down: the old identity's spool is nobody's any
    more. The collector running now replays it into history and brings the live store up from
    there; a spool whose identity a running collector holds is left to that collector."""
    from engine.collector import file_safe, stable_identity
    from engine.records import Incident
    from engine.spool import Spool

    folder = tmp_path / "spool"
    now = utcnow().replace(microsecond=0)
    quakes = [Incident(id=f"q{i}", source="quake", category="earthquake", reported_at=now, updated_at=now) for i in range(3)]

    def identity_with_backlog(key: str, records: list):
        name, lock = stable_identity(folder, key)
        spool = Spool(folder / f"{file_safe(name)}.sqlite")
        spool.append("quake", "outage_started", now, {"error": "timeout"})
        spool.append_batch("quake", now, records, [])
        spool.close()
        return spool, lock

    retired, retired_lock = identity_with_backlog("old configuration", quakes[:2])
    retired_lock.close()  # its process is gone
    running, running_lock = identity_with_backlog("another host's collector", quakes[2:])
    name, lock = stable_identity(folder, "this configuration")
    collector = Collector([quake_runner(feed_server.serve("/q.json", QUAKE), live, sqlite_history).adapter], live,
                          sqlite_history, spool=Spool(folder / f"{file_safe(name)}.sqlite"))
    collector.identity_lock = lock
    try:
        assert collector.adopt_orphan_spools() == 2  # its outage and its batch
        assert sqlite_history.count("quake") == 2
        assert sqlite_history.outages("quake") and Spool(retired.path).backlog() == 0
        assert Spool(running.path).backlog() == 2  # held by a running collector: not ours
        assert collector.writers[0].live_behind
        collector.care_once()
        assert {r.id for r in live.records("quake")} >= {"q0", "q1"}
    finally:
        running_lock.close()
        lock.close()
