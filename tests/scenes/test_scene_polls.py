"""The wall's scene polls (callbacks/wall_scenes.py) on a real Redis: event mode reads the
alarms' change counter and sends nothing while it stands still; the panels send their
data only when it changed; a hand-made state is refused."""
from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest
from dash.exceptions import PreventUpdate

from callbacks import wall_scenes
from damamaya.config import config_from_dict
from engine.live import LiveStore
from engine.records import Reading


@pytest.fixture
def runtime(monkeypatch, redis_client, tmp_path):
    config = config_from_dict({"redis": {"prefix": "scp"}, "database": {"url": f"sqlite:///{tmp_path}/h.sqlite"}})
    live = LiveStore(redis_client, "scp")
    from engine.history import History

    history = History(config.database.url)
    history.create()
    monkeypatch.setattr(wall_scenes.runtime, "config", lambda: config)
    monkeypatch.setattr(wall_scenes.runtime, "redis_client", lambda: redis_client)
    monkeypatch.setattr(wall_scenes.runtime, "live", lambda: live)
    monkeypatch.setattr(wall_scenes.runtime, "history", lambda: history)
    return live


def fire(redis_client, state="firing"):
    alarm = {"id": 1, "rule": "r", "source": "calls", "subject": "", "scene": "quake", "state": state, "level": "critical",
             "released_by": None, "first_fired": "2026-12-02T01:00:00+00:00"}
    redis_client.hset("scp:alarms", "1", orjson.dumps(alarm))
    redis_client.hincrby("scp:opversions", "alarms", 1)


def test_event_poll_sends_nothing_while_the_alarms_stand_still(runtime, redis_client):
    with pytest.raises(PreventUpdate):
        wall_scenes.event_poll({"alarms": 0})


def test_event_poll_sends_the_scene_an_alarm_calls_up(runtime, redis_client):
    fire(redis_client)
    event, seen = wall_scenes.event_poll({"alarms": 0})
    assert event["scene"] == "quake" and seen == {"alarms": 1}
    with pytest.raises(PreventUpdate):
        wall_scenes.event_poll(seen)


def test_event_poll_sends_none_when_the_alarm_resolves(runtime, redis_client):
    fire(redis_client)
    _, seen = wall_scenes.event_poll({"alarms": 0})
    fire(redis_client, "resolved")
    event, _ = wall_scenes.event_poll(seen)
    assert event is None


def test_a_hand_made_event_state_is_refused(runtime):
    with pytest.raises(Exception) as exc:
        wall_scenes.event_poll({"alarms": "lots", "x": 1})
    assert not isinstance(exc.value, PreventUpdate)


def test_panels_poll_sends_cameras_once_and_nothing_for_other_changes(runtime):
    t = datetime.now(timezone.utc)
    runtime.apply("cams", [Reading(id="c1", source="cams", station="c1", station_name="Cam 1", quantity="camera_online",
                                   value=1, observed_at=t)])
    data, seen = wall_scenes.panels_poll({"panels": ["cctv"]})
    assert [c["name"] for c in data["cctv"]] == ["Cam 1"]
    with pytest.raises(PreventUpdate):
        wall_scenes.panels_poll(seen)
    runtime.apply("gauges", [Reading(id="g1", source="gauges", station="g1", quantity="water_level", value=5, observed_at=t)])
    data, seen_after = wall_scenes.panels_poll(seen)
    assert data is wall_scenes.no_update and seen_after["versions"] != seen["versions"]


def test_a_screen_without_scene_panels_reads_nothing(runtime):
    with pytest.raises(PreventUpdate):
        wall_scenes.panels_poll({"panels": []})
