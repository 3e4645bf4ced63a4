"""The wall's read model of alarms and overlays (engine/alerts/wall.py): a real 112 call
through the collector path, real Redis, SQLite and PostgreSQL."""
from __future__ import annotations

import orjson
import pytest

from engine.alerts.alarms import Clearing, Firing
from engine.alerts.wall import tiles_of, wall_alarm_view
from engine.records import utcnow
from engine.wall.views import TILE_ORDER

from .conftest import calls_csv, calls_runner

WALL_FIELDS = {"id", "rule", "level", "state", "count", "uid", "first_fired", "last_fired", "silent", "message",
               "position", "tiles"}


@pytest.fixture
def call(feed_server, live, history, monitor):
    """A critical 112 call (with a caller's number in its private details) polled through the collector."""
    now = utcnow()
    url = feed_server.serve("/c.csv", calls_csv(("T1", "Kebakaran gudang", 1, now, None, -8.65, 115.22)))
    runner = calls_runner(url, live, history, monitor)
    assert runner.poll().ok
    return runner


def view(alerts, live, language="id", seen=None):
    return wall_alarm_view(alerts.live, live, language, {}, seen)


def test_a_critical_call_is_one_firing_alarm_with_its_position_and_tiles(call, alerts, live):
    _, shown = view(alerts, live)
    [alarm] = shown["alarms"]
    assert set(alarm) == WALL_FIELDS
    assert (alarm["rule"], alarm["level"], alarm["state"], alarm["count"], alarm["uid"], alarm["silent"]) == \
        ("call-112-critical", "critical", "firing", 1, "ntpc-112:T1", False)
    assert alarm["position"] == [-8.65, 115.22]
    assert alarm["tiles"] == ["open_incidents", "calls_hour"]


def test_the_message_is_in_the_walls_language(call, alerts, live):
    assert view(alerts, live, "id")[1]["alarms"][0]["message"].startswith("Panggilan 112 KRITIS: Kebakaran gudang")
    assert view(alerts, live, "en")[1]["alarms"][0]["message"].startswith("CRITICAL 112 call: Kebakaran gudang")


def test_no_private_field_of_the_record_reaches_the_wall(call, alerts, live):
    [record] = live.raw_records("ntpc-112")
    record["details"]["private"] = {"caller": "081234567890"}
    live.r.hset(live.key("rec", "ntpc-112"), "T1", orjson.dumps(record))  # as if the export carried a caller's number
    alerts.operations.assign("ntpc-112", "T1", "damkar", "ayu")
    body = orjson.dumps(view(alerts, live)[1]).decode()
    assert "081234567890" not in body and "private" not in body and "details" not in body


def test_nothing_is_read_beyond_the_versions_when_they_did_not_move(call, alerts, live):
    versions, shown = view(alerts, live)
    assert shown is not None
    assert view(alerts, live, seen=versions) == (versions, None)


def test_an_acknowledgement_moves_the_versions_and_the_alarm_is_acknowledged(call, alerts, live):
    versions, _ = view(alerts, live)
    [alarm] = alerts.alarms.active()
    alerts.alarms.acknowledge(alarm["id"], "ayu")
    after, shown = view(alerts, live, seen=versions)
    assert after != versions
    assert [a["state"] for a in shown["alarms"]] == ["acknowledged"]


def test_a_resolved_alarm_leaves_the_wall(call, alerts, live):
    [alarm] = alerts.alarms.active()
    alerts.alarms.resolve(alarm["id"], "supervisor-budi")
    assert view(alerts, live)[1]["alarms"] == []


def test_an_assignment_shows_owner_agency_and_acknowledgement_on_the_list(call, alerts, live, config):
    [alarm] = alerts.alarms.active()
    alerts.alarms.acknowledge(alarm["id"], "ayu")
    alerts.operations.assign("ntpc-112", "T1", "damkar", "ayu", unit="Pos Damkar Denpasar Barat")
    _, shown = wall_alarm_view(alerts.live, live, "id", config.agencies)
    overlay = shown["ops"]["ntpc-112:T1"]
    assert (overlay["owner"], overlay["agency"], overlay["agency_id"], overlay["unit"], overlay["ack_by"]) == \
        ("ayu", "Damkar Kota Denpasar", "damkar", "Pos Damkar Denpasar Barat", "ayu")
    assert overlay["ack_at"]


def test_unacknowledged_alarms_come_first_then_the_loudest_then_the_newest(call, alerts, live):
    now = utcnow()
    alerts.alarms.apply([Firing("r-warn", "x", "a", "warning", "peringatan", "warning"),
                         Firing("r-crit", "x", "b", "critical", "kritis", "critical")], now)
    [old] = [a for a in alerts.alarms.active() if a["rule"] == "call-112-critical"]
    alerts.alarms.acknowledge(old["id"], "ayu")
    rules = [a["rule"] for a in view(alerts, live)[1]["alarms"]]
    assert rules == ["r-crit", "r-warn", "call-112-critical"]


def test_a_silent_alarm_says_so_and_one_without_a_subject_has_no_position(alerts, live):
    alerts.alarms.apply([Firing("quiet", "src", "", "warning", "sunyi", "quiet", silent=True)])
    [alarm] = view(alerts, live)[1]["alarms"]
    assert alarm["silent"] is True and alarm["position"] is None and alarm["tiles"] == [] and alarm["uid"] == "src"
    alerts.alarms.apply([Clearing("quiet", "src", "", "fresh again")])
    assert view(alerts, live)[1]["alarms"] == []


@pytest.mark.parametrize("record, tiles", [
    ({"kind": "incident", "domain": "emergency", "category": "fire"}, ["open_incidents", "calls_hour"]),
    ({"kind": "incident", "domain": "complaint", "category": "road_damage"}, ["complaints_overdue"]),
    ({"kind": "incident", "domain": "disaster", "category": "earthquake"}, ["latest_quake"]),
    ({"kind": "incident", "domain": "flood", "category": "flood"}, ["open_incidents"]),
    ({"kind": "reading", "quantity": "water_level"}, ["gauges_alert"]),
    ({"kind": "reading", "quantity": "rain_mm"}, []),
    ({"kind": "price"}, ["price_change"]),
    (None, []),
])
def test_each_subject_maps_to_the_walls_tiles(record, tiles):
    assert tiles_of(record) == tiles
    assert set(tiles) <= set(TILE_ORDER)


def test_an_acknowledgement_wakes_the_pushed_walls(call, alerts, live):
    listener = live.r.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(live.key("wake"))
    [alarm] = alerts.alarms.active()
    alerts.alarms.acknowledge(alarm["id"], "ayu")
    woken = []
    for _ in range(20):
        message = listener.get_message(timeout=0.5)
        if message:
            woken.append(orjson.loads(message["data"])["s"])
        if {"@alarms", "@ops"} <= set(woken):
            break
    listener.close()
    assert {"@alarms", "@ops"} <= set(woken)  # the alarm's state and the incident's acknowledgement
