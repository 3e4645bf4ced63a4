"""The ingest path costs in proportion to change: a feed that repeats its window builds
only new items, history is sent only what it has not taken, a watched file is polled as
soon as it changes, analytics follow in the background. Real Redis, SQLite, files."""
from __future__ import annotations

import threading
import time
from datetime import timedelta, timezone

import orjson
import pytest

from data_sources import get_adapter
from engine.collector import Collector, SourceRunner
from engine.history import History
from engine.live import LiveStore
from engine.records import utcnow

WITA = timezone(timedelta(hours=8))
REPORTED = (utcnow() - timedelta(minutes=30)).astimezone(WITA).isoformat(timespec="seconds")


def request(n: int, status: str = "open") -> dict:
    at = REPORTED
    return {"service_request_id": f"R-{n}", "status": status, "service_name": "Jalan Rusak", "service_code": "JR",
            "description": f"laporan {n}", "requested_datetime": at, "updated_datetime": at,
            "lat": -8.65 + n * 1e-4, "long": 115.22}


class CountingOpen311(get_adapter("open311")):
    """The real Open311 adapter, counting the requests it builds."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.built = 0

    def _request(self, item, index):
        self.built += 1
        return super()._request(item, index)


@pytest.fixture
def live(redis_client):
    return LiveStore(redis_client, "ing")


@pytest.fixture
def history(tmp_path):
    h = History(f"sqlite:///{tmp_path}/h.sqlite")
    h.create()
    yield h
    h.dispose()


class CountingHistory(History):
    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.applied: list[list[str]] = []

    def apply(self, source, batch, now=None):
        batch = list(batch)
        self.applied.append([r.id for r in batch])
        return super().apply(source, batch, now)


def write(path, items) -> None:
    path.write_bytes(orjson.dumps(items))


def runner_on(path, live, history, **config) -> SourceRunner:
    adapter = CountingOpen311("pro", CountingOpen311.Config(path=str(path), interval=1, **config))
    return SourceRunner(adapter, live, history)


def test_a_repeated_window_builds_only_the_new_item(tmp_path, live, history):
    path = tmp_path / "requests.json"
    write(path, [request(n) for n in range(100)])
    runner = runner_on(path, live, history)
    runner.poll()
    write(path, [request(n) for n in range(1, 101)])  # one dropped, one new
    outcome = runner.poll()
    assert outcome.changed == 1 and runner.adapter.built == 101


def test_a_changed_item_is_built_again_and_stored(tmp_path, live, history):
    path = tmp_path / "requests.json"
    items = [request(n) for n in range(20)]
    write(path, items)
    runner = runner_on(path, live, history)
    runner.poll()
    items[5] = {**request(5, status="closed"), "updated_datetime": utcnow().astimezone(WITA).isoformat(timespec="seconds")}
    write(path, items)
    assert runner.poll().changed == 1
    assert {r.id: r.status for r in live.records("pro")}["R-5"] == "closed"


def test_a_reused_record_keeps_its_place_in_the_city(tmp_path, live, history):
    path = tmp_path / "requests.json"
    write(path, [request(1)])
    runner = runner_on(path, live, history)
    runner.poll()
    write(path, [request(1), request(2)])
    runner.poll()
    located = {r["id"]: r["kecamatan"] for r in live.raw_records("pro")}
    assert located["R-1"] and located["R-1"] == located["R-2"]


def test_history_is_sent_only_the_records_it_has_not_taken(tmp_path, live):
    history = CountingHistory(f"sqlite:///{tmp_path}/h.sqlite")
    history.create()
    path = tmp_path / "requests.json"
    write(path, [request(n) for n in range(10)])
    runner = runner_on(path, live, history)
    runner.poll()
    write(path, [request(n) for n in range(11)])
    runner.poll()
    assert history.applied[-1] == ["R-10"]
    assert history.count("pro") == 11
    history.dispose()


def test_a_record_missing_from_the_live_store_is_written_again(tmp_path, live, history):
    path = tmp_path / "requests.json"
    write(path, [request(n) for n in range(5)])
    runner = runner_on(path, live, history)
    runner.poll()
    live.r.hdel(live.key("rec", "pro"), "R-3")  # lost from Redis
    write(path, [request(n) for n in range(6)])
    runner.poll()
    assert live.ids("pro") == {f"R-{n}" for n in range(6)}


def test_analytics_follow_a_write(tmp_path, live, history):
    from sqlalchemy import func, select
    from sqlalchemy.exc import OperationalError

    from engine.analytics.schema import events

    path = tmp_path / "requests.json"
    write(path, [request(n) for n in range(30)])
    runner = runner_on(path, live, history)
    runner.poll()
    deadline = time.monotonic() + 30
    while True:
        try:  # the rollup creates its tables on its first run
            with history.engine.connect() as conn:
                counted = conn.execute(select(func.count()).select_from(events)).scalar_one()
        except OperationalError:
            counted = 0
        if counted >= 30 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert counted >= 30


def test_a_watched_file_is_polled_when_it_changes_not_at_the_interval(tmp_path, live, history):
    path = tmp_path / "requests.json"
    write(path, [request(1)])
    adapter = get_adapter("open311")("pro", get_adapter("open311").Config(path=str(path), interval=600))
    collector = Collector([adapter], live, history)
    collector.start()
    try:
        wait_for(lambda: live.ids("pro") == {"R-1"}, 30)
        write(path, [request(1), request(2)])
        wait_for(lambda: "R-2" in live.ids("pro"), 30)  # the interval alone would wait 10 minutes
    finally:
        collector.close()


def test_an_unwatched_file_waits_for_its_interval(tmp_path, live, history):
    path = tmp_path / "requests.json"
    write(path, [request(1)])
    runner = runner_on(path, live, history, watch_file=False)
    runner.poll()
    write(path, [request(1), request(2)])
    assert not runner.file_changed()


def test_a_poll_keeps_its_interval_from_start_to_start(tmp_path, live, history):
    path = tmp_path / "requests.json"
    write(path, [request(1)])
    runner = runner_on(path, live, history)
    runner.poll()
    began = time.monotonic() - 0.4  # a poll that took 0.4 s
    assert runner.next_poll_at(began) == pytest.approx(began + 1, abs=0.05)
    slow = time.monotonic() - 3  # longer than the interval: a tenth of it to rest
    assert runner.next_poll_at(slow) >= time.monotonic() + 0.09


def wait_for(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not in time"
        threading.Event().wait(0.05)
