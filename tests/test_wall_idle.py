"""The wall's idle check, GET /wall/idle (api/wall_idle.py): the counters the wall poll compares,
answered 304 while the tag a screen holds is current; a change moves them to exactly what the
poll then moves the wall's state to, so a wall that compares them never misses a change. Only
wall roles and signed-in wall screens get it; the route writes the screen's heartbeat. Each
process reads the counters from Redis once per change (engine/wall/idle.py CounterWatch)."""
import time
from datetime import datetime, timezone

import pytest

from engine.alerts.live import OpsLive
from engine.live import LiveStore
from engine.records import Incident
from engine.wall import idle
from engine.wall.idle import CounterWatch, read_counters
from tests.conftest import dash_app_on
from tests.test_wall import _poll_request, first_state  # the wall poll as the browser sends it

PREFIX = "idletest"


@pytest.fixture(scope="module")
def dash_app(tmp_path_factory, embedded_redis_url):
    yield from dash_app_on(tmp_path_factory, embedded_redis_url, PREFIX)


def incident(rid: str) -> Incident:
    t = datetime.now(timezone.utc)
    return Incident(id=rid, source="calls", category="fire", reported_at=t, updated_at=t, lat=-8.65, lon=115.22)


@pytest.fixture
def live(dash_app) -> LiveStore:
    from damamaya import runtime

    store: LiveStore = runtime.live()
    store.r.flushdb()
    store.describe_sources({"calls": {"title": "112", "kinds": ["incident"], "interval": 1}})
    written(lambda: store.apply("calls", [incident("c1")]))  # (its wake also drops what the watch held before the flush)
    return store


def until(predicate, what: str, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.01)


def written(write) -> None:
    """`write()` to the live store, once this process's watch of the counters has its wake."""
    from api.wall_idle import watch

    until(lambda: watch().read() and watch().listening, "the watch subscribed")
    before = watch().generation
    write()
    until(lambda: watch().generation > before, "the write's wake reached the watch")


def screen_client(app, name: str):
    from security.principal import accounts

    client = app.server.test_client()
    assert client.get(f"/screen/{accounts().add_screen(name)}").status_code in (302, 303)
    return client


def test_an_idle_check_is_a_304_until_a_change_and_then_names_what_the_poll_brings(dash_app, live, sign_in_as):
    state = first_state()
    client = sign_in_as(dash_app.server, "operator")

    first = client.get("/wall/idle")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    assert first.get_json()["versions"] == state["versions"]  # what the wall holds: nothing newer
    tag = first.headers["ETag"]
    quiet = client.get("/wall/idle", headers={"If-None-Match": tag})
    assert quiet.status_code == 304 and quiet.data == b"" and quiet.headers["ETag"] == tag

    written(lambda: live.apply("calls", [incident("c2")]))
    moved = client.get("/wall/idle", headers={"If-None-Match": tag})
    assert moved.status_code == 200 and moved.headers["ETag"] != tag
    counters = moved.get_json()
    assert counters["versions"] != state["versions"]  # the wall sees it is behind and runs its poll
    poll = client.post("/_dash-update-component", json=_poll_request(dash_app, state, ["calls"]))
    assert poll.status_code == 200
    response = poll.get_json()["response"]
    assert [r["uid"] for r in response["wall-grid-changes"]["data"]["upsert"]] == ["calls:c2"]
    # after that poll the wall holds exactly the counters it was told: its next check is idle again
    assert response["wall-state"]["data"]["versions"] == counters["versions"]
    assert client.get("/wall/idle", headers={"If-None-Match": moved.headers["ETag"]}).status_code == 304


def test_an_alarm_or_operator_action_moves_the_counters_the_poll_sends(dash_app, live, sign_in_as):
    from damamaya import runtime
    from layouts.parts import wall as parts

    client = sign_in_as(dash_app.server, "operator")
    before = client.get("/wall/idle")
    # clearing the alarm list moves both counters and publishes no wake: seen when the held read ages
    OpsLive(runtime.redis_client(), PREFIX).clear()
    until(lambda: client.get("/wall/idle", headers={"If-None-Match": before.headers["ETag"]}).status_code == 200,
          "the cleared alarms' counters reached the idle check")
    after = client.get("/wall/idle")
    assert after.get_json()["opversions"] == parts.opversions() != before.get_json()["opversions"]
    assert read_counters(live).tag == after.headers["ETag"].strip('"')


def test_the_watch_reads_redis_once_per_change_and_every_time_when_it_cannot_listen(dash_app, live, monkeypatch):
    reads = []
    monkeypatch.setattr(idle, "read_counters", lambda store: reads.append(1) or read_counters(store))
    watch = CounterWatch(live, max_age=3600)
    try:
        until(lambda: watch.read() and watch.listening, "subscribed")
        first = watch.read()
        reads.clear()
        assert all(watch.read() is first for _ in range(50)) and len(reads) == 0  # nothing moved: no Redis read
        before = watch.generation
        live.apply("calls", [incident("c3")])
        until(lambda: watch.generation > before, "the wake")
        assert watch.read().tag != first.tag and len(reads) == 1
        watch.stop()  # not listening: every read is Redis's
        reads.clear()
        for _ in range(3):
            watch.read()
        assert len(reads) == 3
    finally:
        watch.stop()


def test_the_idle_check_is_the_screens_heartbeat(dash_app, live):
    client = screen_client(dash_app, "idle-lobby")
    assert client.get("/wall/idle").status_code == 200
    assert "screen:idle-lobby" in live.screens()


def test_the_idle_check_refuses_the_unsigned_and_other_roles(dash_app, live, sign_in_as):
    from security.principal import accounts

    unsigned = dash_app.server.test_client().get("/wall/idle")
    assert unsigned.status_code == 302 and unsigned.headers["Location"].startswith("/login")
    for role in ("pimpinan", "analyst"):
        refused = sign_in_as(dash_app.server, role).get("/wall/idle")
        assert refused.status_code == 403 and b"versions" not in refused.data
    revoked = screen_client(dash_app, "idle-revoked")
    accounts().revoke_screen("idle-revoked")
    gone = revoked.get("/wall/idle")
    assert gone.status_code == 403 and b"versions" not in gone.data
    assert "screen:idle-revoked" not in live.screens()


def test_a_made_up_tag_gets_the_counters(dash_app, live, sign_in_as):
    client = sign_in_as(dash_app.server, "operator")
    for sent in ('"0000000000000000"', "*", "x" * 4000, ""):
        answer = client.get("/wall/idle", headers={"If-None-Match": sent})
        assert answer.status_code == 200 and set(answer.get_json()) == {"versions", "opversions"}
