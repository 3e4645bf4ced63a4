"""A wall in headless chromium on push: it learns of changes from the stream, drops to
polling by itself when the push process is killed, and goes back to push when it returns."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import redis
import yaml

from engine.live import LiveStore
from engine.records import Incident
from tests.push.conftest import PushProcess, WebProcess, free_port, push_env, screen_link

pytestmark = pytest.mark.browser
STATUS = "window.dmy && window.dmy.push ? window.dmy.push.status() : null"


def incident(rid: str, category: str) -> Incident:
    t = datetime.now(timezone.utc)
    return Incident(id=rid, source="calls", category=category, title=rid, reported_at=t, updated_at=t, lat=-8.65, lon=115.22)


@pytest.fixture
def wall_with_push(tmp_path, embedded_redis_url):
    """`damamaya web` and `damamaya push` as separate processes, so that the test can kill
    and restart push alone. The wall polls every second while push is down and only every
    60 s while it is up: a change seen within that minute came by push."""
    web_port, push_port = free_port(), free_port()
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        "redis": {"url": embedded_redis_url, "prefix": "pushwall"},
        "database": {"url": f"sqlite:///{tmp_path}/h.sqlite"},
        "wall": {"poll_seconds": 1},
        "web": {"host": "127.0.0.1", "port": web_port, "workers": 1, "threads": 4},
        "push": {"port": push_port, "safety_poll_seconds": 60, "heartbeat_seconds": 5}}))
    live = LiveStore(redis.Redis.from_url(embedded_redis_url), "pushwall")
    live.clear()
    live.describe_sources({"calls": {"title": "112", "kinds": ["incident"], "interval": 1}})
    live.apply("calls", [incident("first", "fire")])
    env = push_env()
    web = WebProcess(cfg, web_port, env, tmp_path / "web.log")
    push = PushProcess(cfg, push_port, env, tmp_path / "push.log").start()
    yield screen_link(web.base, f"sqlite:///{tmp_path}/h.sqlite", "push-wall"), push, live
    push.stop()
    web.stop()
    live.clear()


def row(page, rid: str):
    return page.locator(f'.wall-grid .ag-row[row-id="calls:{rid}"]')


def test_wall_on_push_falls_back_to_polling_and_recovers(wall_with_push, page):
    link, push, live = wall_with_push
    page.goto(link)  # a wall screen signs in by its link and lands on /wall
    row(page, "first").wait_for(timeout=30_000)
    page.wait_for_function(f"({STATUS}) && ({STATUS}).mode === 'push'", timeout=30_000)
    assert page.evaluate(STATUS)["open"] is True

    # On push: the change arrives by the stream (applied whole, or as a wake), and the wall's
    # poll slows to the safety poll.
    told = lambda: page.evaluate(STATUS)["wakes"] + page.evaluate(STATUS)["applied"]  # noqa: E731
    before = told()
    live.apply("calls", [incident("by-push", "accident")])
    row(page, "by-push").wait_for(timeout=30_000)
    assert told() > before
    assert page.evaluate(STATUS)["mode"] == "push"

    # Push process killed: the screen polls by itself, and still shows changes.
    push.kill()
    page.wait_for_function(f"({STATUS}).mode === 'polling'", timeout=30_000)
    live.apply("calls", [incident("by-poll", "flood")])
    row(page, "by-poll").wait_for(timeout=30_000)
    assert page.evaluate(STATUS)["mode"] == "polling"

    # Push back: the screen reconnects (backoff with jitter) and is on push again.
    connects = page.evaluate(STATUS)["connects"]
    push.start()
    page.wait_for_function(f"({STATUS}).mode === 'push' && ({STATUS}).open", timeout=60_000)
    assert page.evaluate(STATUS)["connects"] > connects
    live.apply("calls", [incident("push-again", "fire")])
    row(page, "push-again").wait_for(timeout=30_000)
    assert page.evaluate(STATUS)["mode"] == "push"
