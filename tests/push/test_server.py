"""The push process, for real: `damamaya push` on a port, the embedded Redis, LiveStore
writes on one side and SSE streams read with httpx on the other."""
from __future__ import annotations

import httpx
import pytest

from engine.live import HEALTH, LiveStore
from engine.records import Incident, utcnow
from push import tokens
from tests.push.conftest import SECRET
from tests.push.sse import Reader


def incident(rid: str) -> Incident:
    now = utcnow()
    return Incident(id=rid, source="demo-112", category="fire", title="Kebakaran", lat=-8.65, lon=115.21,
                    reported_at=now, updated_at=now)


def told(event) -> bool:
    """A change (the fan-out's answer) or a plain wake: either tells the screen without a poll."""
    return event[0] in ("message", "change")


def token(screen: str = "wall-a", ttl: float = 60) -> str:
    return tokens.mint(SECRET.encode(), screen, ttl)


@pytest.fixture
def live(redis_client):
    return LiveStore(redis_client, "dmy")


def test_a_screen_on_push_is_told_of_a_change_without_polling(push_server, live):
    push = push_server
    screen = Reader(f"{push.url}/events?token={token()}")
    try:
        retry = screen.wait_for(lambda e: e[0] == "retry")
        hello = screen.wait_for(lambda e: e[0] == "hello")
        assert retry[1] > 0 and hello[1]["screen"] == "wall-a"
        assert screen.response.headers["content-type"].startswith("text/event-stream")

        version = live.apply("demo-112", [incident("a1")])
        event = screen.wait_for(told)
        assert event[1]["v"] == {"demo-112": version}

        live.set_health("demo-112", {"status": "ok"}, bump=True)
        health = screen.wait_for(lambda e: told(e) and HEALTH in e[1]["v"])
        assert health[1]["v"][HEALTH] == live.versions()[HEALTH]
        live.set_health("demo-112", {"status": "ok"}, bump=False)  # no new version, no wake
        live.apply("demo-112", [incident("a2")])
        last = screen.wait_for(lambda e: told(e) and e[1]["v"].get("demo-112") == version + 1)
        assert HEALTH not in last[1]["v"]
    finally:
        screen.close()


def test_a_quiet_stream_carries_heartbeats(push_server):
    push = push_server
    screen = Reader(f"{push.url}/events?token={token()}")
    try:
        assert screen.wait_for(lambda e: e == ("comment", "hb"), timeout=10)
    finally:
        screen.close()


def test_the_wall_page_on_another_port_may_read_the_stream(push_server):
    push = push_server
    screen = Reader(f"{push.url}/events?token={token()}", Origin="http://127.0.0.1:8050")
    try:
        screen.wait_for(lambda e: e[0] == "hello")
        assert screen.response.headers["access-control-allow-origin"] == "http://127.0.0.1:8050"
    finally:
        screen.close()


@pytest.mark.parametrize("bad", [
    lambda: "",
    lambda: "nonsense",
    lambda: tokens.mint(b"another secret", "wall-a", 60),
    lambda: tokens.mint(SECRET.encode(), "wall-a", -5),  # expired
    lambda: token()[:-3] + "xyz",
])
def test_a_bad_or_expired_token_is_refused(push_server, bad):
    push = push_server
    before = httpx.get(f"{push.url}/health", timeout=5).json()["screens"]
    response = httpx.get(f"{push.url}/events", params={"token": bad()}, timeout=10)
    assert response.status_code == 403
    assert httpx.get(f"{push.url}/health", timeout=5).json()["screens"] <= before  # nothing held open for it


def test_health_counts_open_screens_and_other_paths_are_not_found(push_server):
    push = push_server
    screens = [Reader(f"{push.url}/events?token={token(f'wall-{i}')}") for i in range(3)]
    try:
        for s in screens:
            s.wait_for(lambda e: e[0] == "hello")
        health = httpx.get(f"{push.url}/health", timeout=5).json()
        assert health["screens"] >= 3 and health["subscribed"] is True  # streams of earlier tests may still be closing
        assert httpx.get(f"{push.url}/nothing", timeout=5).status_code == 404
        assert httpx.post(f"{push.url}/events", timeout=5).status_code == 405
    finally:
        for s in screens:
            s.close()


def test_an_alarm_or_operator_change_wakes_the_screen_to_poll(push_server, live):
    """`@alarms`/`@ops` wakes (engine/alerts/live.py) are not the fan-out's data: a plain wake, so
    the wall polls its alarm and scene stores at once instead of at its next safety poll."""
    screen = Reader(f"{push_server.url}/events?token={token()}")
    try:
        screen.wait_for(lambda e: e[0] == "hello")
        live.r.publish(live.key("wake"), b'{"s": "@alarms", "v": 7}')
        event = screen.wait_for(lambda e: e[0] == "message" and "@alarms" in e[1].get("v", {}))
        assert event[1]["v"]["@alarms"] == 7
    finally:
        screen.close()
