"""The wall's idle check in headless chromium (assets/idle.js, GET /wall/idle): a quiet wall
asks every poll interval and is answered 304 without running its Dash poll; a change, an
alarm counter, the minute, a source turning late by the clock or any doubt wakes the poll,
and a change written to the live store reaches the wall by that path (push off)."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import redis
import yaml

from engine.live import LiveStore
from engine.records import Incident
from tests.push.conftest import WebProcess, free_port, push_env, screen_link

pytestmark = pytest.mark.browser
STATUS = "window.dmy && window.dmy.idle ? window.dmy.idle.status() : null"
IDLE_JS = Path(__file__).resolve().parents[2] / "assets" / "idle.js"


def incident(rid: str) -> Incident:
    t = datetime.now(timezone.utc)
    return Incident(id=rid, source="calls", category="fire", title=rid, reported_at=t, updated_at=t, lat=-8.65, lon=115.22)


@pytest.fixture
def polling_wall(tmp_path, embedded_redis_url):
    """`damamaya web` with push off: the wall learns of changes only by polling."""
    port = free_port()
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        "redis": {"url": embedded_redis_url, "prefix": "idlewall"},
        "database": {"url": f"sqlite:///{tmp_path}/h.sqlite"},
        "wall": {"poll_seconds": 1},
        "web": {"host": "127.0.0.1", "port": port, "workers": 1, "threads": 4},
        "push": {"enabled": False}}))
    live = LiveStore(redis.Redis.from_url(embedded_redis_url), "idlewall")
    live.clear()
    live.describe_sources({"calls": {"title": "112", "kinds": ["incident"], "interval": 1}})
    live.apply("calls", [incident("first")])
    web = WebProcess(cfg, port, push_env(), tmp_path / "web.log")
    yield screen_link(web.base, f"sqlite:///{tmp_path}/h.sqlite", "idle-wall"), live
    web.stop()
    live.clear()


def test_a_quiet_wall_checks_without_polling_and_a_change_reaches_it(polling_wall, page):
    link, live = polling_wall
    polls = []
    page.on("request", lambda r: polls.append(r.url) if "_dash-update-component" in r.url
            and "wall-state.data" in (r.post_data or "") else None)
    page.goto(link)
    page.locator('.wall-grid .ag-row[row-id="calls:first"]').wait_for(timeout=30_000)

    page.wait_for_function(f"({STATUS}) && ({STATUS}).unchanged >= 1", timeout=30_000)
    quiet_polls, checks = len(polls), page.evaluate(STATUS)["checks"]
    page.wait_for_function(f"({STATUS}).unchanged >= {page.evaluate(STATUS)['unchanged'] + 3}", timeout=30_000)
    assert page.evaluate(STATUS)["checks"] >= checks + 3
    assert len(polls) - quiet_polls <= 1  # three idle checks, no poll (but one if the minute turned meanwhile)

    wakes = page.evaluate(STATUS)["wakes"]
    live.apply("calls", [incident("by-idle-check")])
    page.locator('.wall-grid .ag-row[row-id="calls:by-idle-check"]').wait_for(timeout=30_000)
    assert page.evaluate(STATUS)["wakes"] > wakes and page.evaluate(STATUS)["doubts"] == 0


# ---- the decision alone: idle.js on a blank page, the server and Dash stubbed ----------------

STUB = """
window.__wakes = [];
window.dash_clientside = {no_update: {}, set_props: (id, props) => window.__wakes.push([id, props.data.reason])};
window.__answer = {status: 200, body: null, date: null, fail: false};
window.__sent = [];
window.fetch = (url, init) => {
  window.__sent.push((init.headers || {})["If-None-Match"] || null);
  const a = window.__answer;
  if (a.fail) return Promise.reject(new Error("network"));
  const headers = new Headers({"ETag": '"t' + JSON.stringify(a.body).length + '"'});
  if (a.date) headers.set("Date", a.date);
  return Promise.resolve({status: a.status, headers: headers, json: () => Promise.resolve(a.body)});
};
"""
NOW = 1_800_000_030  # epoch seconds: minute 30000000, 30 s into it


def tick(page, state: dict, opv: dict, answer: dict) -> list:
    page.evaluate("a => { window.__answer = a; window.__wakes = []; }", answer)
    page.evaluate("([s, o]) => window.dmy.idle.tick(1, s, o)", [state, opv])
    page.wait_for_function("!window.dmy.idle.status().pending")
    return page.evaluate("window.__wakes")


def test_the_check_wakes_the_poll_exactly_when_the_poll_has_something_to_send(page):
    page.set_content('<div id="wall"></div>')
    page.add_script_tag(content=STUB)
    page.add_script_tag(path=str(IDLE_JS))
    date = datetime.fromtimestamp(NOW, timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
    state = {"versions": {"calls": 3, "_health": 7}, "minute": NOW // 60, "due": None}
    opv = {"alarms": 2, "ops": 5}
    counters = {"versions": {"calls": 3, "_health": 7}, "opversions": {"alarms": 2, "ops": 5}}
    same = {"status": 200, "body": counters, "date": date}

    assert tick(page, state, opv, same) == []
    assert tick(page, state, opv, {**same, "status": 304}) == []  # 304: the body it kept
    assert page.evaluate("window.__sent.slice(-1)[0]") is not None  # it sent back the tag it holds
    newer = {"calls": 4, "_health": 7}
    assert tick(page, state, opv, {**same, "body": {**counters, "versions": newer}}) == [["wall-wake", "idle"]]
    assert tick(page, state, opv, {**same, "body": {**counters, "versions": {"_health": 7}}}) == [["wall-wake", "idle"]]
    assert tick(page, state, opv, {**same, "body": {**counters, "opversions": {"alarms": 3, "ops": 5}}}) == [["wall-wake", "idle"]]
    assert tick(page, state, None, same) == [["wall-wake", "idle"]]  # holds no counters yet
    assert tick(page, state, opv, same) == []
    assert tick(page, {**state, "minute": NOW // 60 - 1}, opv, same) == [["wall-wake", "idle"]]  # the server's minute
    assert tick(page, {**state, "due": NOW - 1}, opv, same) == [["wall-wake", "idle"]]  # a source turned late
    assert tick(page, {**state, "due": NOW + 60}, opv, same) == []
    for doubt in ({**same, "fail": True}, {**same, "status": 403}, {**same, "status": 0}, {**same, "status": 503},
                  {**same, "body": "<html>"}):
        assert tick(page, state, opv, doubt) == [["wall-wake", "doubt"]]
