"""Event mode's decision (engine/wall/scenes.py): which scene every wall shows because of
the live alarms, and where its map looks."""
from __future__ import annotations

import orjson

from engine.alerts.live import OpsLive
from engine.wall.event import alarms_version, event_now
from engine.wall.scenes import BUILTIN_SCENES, city_bounds, event_for, place_bounds

SUMERTA = {"source": "calls", "id": "b1", "desa": "Sumerta Kelod", "desa_code": None, "lat": -8.6555, "lon": 115.2345}


def alarm(id_=1, scene="flood", state="firing", level="critical", released_by=None, first="2026-12-02T01:00:00+00:00",
          subject="b1"):
    return {"id": id_, "rule": "r", "source": "calls", "subject": subject, "scene": scene, "state": state, "level": level,
            "released_by": released_by, "first_fired": first}


def test_no_alarm_no_event():
    assert event_for([], BUILTIN_SCENES) is None


def test_a_firing_alarm_with_a_scene_calls_it_up():
    assert event_for([alarm()], BUILTIN_SCENES)["scene"] == "flood"


def test_an_acknowledged_alarm_keeps_its_scene():
    assert event_for([alarm(state="acknowledged")], BUILTIN_SCENES)["scene"] == "flood"


def test_a_resolved_alarm_gives_the_wall_back():
    assert event_for([alarm(state="resolved")], BUILTIN_SCENES) is None


def test_a_released_alarm_gives_the_wall_back():
    assert event_for([alarm(released_by="supervisor")], BUILTIN_SCENES) is None


def test_an_alarm_without_a_scene_changes_nothing():
    assert event_for([alarm(scene=None)], BUILTIN_SCENES) is None


def test_an_alarm_naming_a_scene_no_longer_configured_changes_nothing():
    assert event_for([alarm(scene="removed")], BUILTIN_SCENES) is None


def test_the_loudest_alarm_wins():
    found = event_for([alarm(1, "quake", level="warning", first="2026-12-02T05:00:00+00:00"), alarm(2, "flood")], BUILTIN_SCENES)
    assert (found["scene"], found["alarm"]) == ("flood", 2)


def test_of_equally_loud_alarms_the_newest_wins():
    found = event_for([alarm(1, "flood"), alarm(2, "quake", first="2026-12-02T05:00:00+00:00")], BUILTIN_SCENES)
    assert found["alarm"] == 2


def test_flood_looks_at_the_desa_of_the_alarms_record():
    found = event_for([alarm()], BUILTIN_SCENES, lambda a: SUMERTA)
    assert found["bounds"] == place_bounds("Sumerta Kelod")
    (south, west), (north, east) = found["bounds"]
    (c_south, c_west), (c_north, c_east) = city_bounds()
    assert c_south <= south < north <= c_north and c_west <= west < east <= c_east
    assert (north - south) < (c_north - c_south) / 3  # a desa, not the city


def test_a_record_outside_any_desa_gives_a_box_around_its_point():
    found = event_for([alarm()], BUILTIN_SCENES, lambda a: {"lat": -8.8, "lon": 115.1})
    (south, west), (north, east) = found["bounds"]
    assert south < -8.8 < north and west < 115.1 < east


def test_a_scene_not_focused_on_the_subject_keeps_its_own_view():
    assert event_for([alarm(scene="quake")], BUILTIN_SCENES, lambda a: SUMERTA)["bounds"] is None


def test_event_now_reads_the_live_alarms_and_the_record(redis_client):
    ops = OpsLive(redis_client, "evt")

    class Live:
        def get_many(self, pairs):
            return [SUMERTA if pair == ("calls", "b1") else None for pair in pairs]

    assert alarms_version(ops) == 0
    redis_client.hset("evt:alarms", "1", orjson.dumps(alarm()))
    redis_client.hincrby("evt:opversions", "alarms", 1)
    assert alarms_version(ops) == 1
    found = event_now(ops, Live(), BUILTIN_SCENES)
    assert found["scene"] == "flood" and found["bounds"] == place_bounds("Sumerta Kelod")
