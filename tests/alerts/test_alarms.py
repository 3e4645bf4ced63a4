"""Alarms through the real collector path: a feed over HTTP -> SourceRunner -> history ->
live store -> alert rules -> alarm rows and the live alarm state (SQLite and PostgreSQL)."""
from __future__ import annotations

import threading
from datetime import timedelta

import orjson
import pytest
from sqlalchemy import select

from engine.alerts import AlarmConflict, AlarmMonitor, open_alerts, rebuild_live
from engine.alerts.schema import alarm_events, alarms as alarms_table
from engine.collector import SourceRunner
from engine.contract import Adapter
from engine.records import ParseResult, Reading, utcnow

from .conftest import calls_csv, calls_runner, shipped_config


def live_alarms(alerts, rule=None):
    return [a for a in alerts.live.alarms() if rule is None or a["rule"] == rule]


def test_a_new_critical_112_call_fires_one_alarm_in_history_and_live(feed_server, live, history, alerts, monitor):
    now = utcnow()
    url = feed_server.serve("/calls.csv", calls_csv(("T1", "Kebakaran rumah", 1, now, None, -8.6563, 115.2167),
                                                    ("T2", "Informasi", 3, now, None, -8.66, 115.21)))
    head = alerts.live.events_since()[1]
    versions = alerts.live.versions()
    runner = calls_runner(url, live, history, monitor)
    assert runner.poll().ok

    [alarm] = live_alarms(alerts)
    assert (alarm["rule"], alarm["source"], alarm["subject"], alarm["state"], alarm["level"], alarm["count"]) == \
        ("call-112-critical", "ntpc-112", "T1", "firing", "critical", 1)
    assert "Kebakaran" in alarm["message"]["id"] and "CRITICAL 112 call" in alarm["message"]["en"]
    assert alarm["message"]["id"].endswith("Dauh Puri Kaja, Denpasar Utara") or "Denpasar" in alarm["message"]["id"]
    assert not alarm["silent"]
    # screens learn of it in the same poll: a version bump and an entry on the alarm stream
    assert alerts.live.versions().get("alarms", 0) > versions.get("alarms", 0)
    entries, _ = alerts.live.events_since(head)
    assert [(e["a"], e["to"], e["lv"]) for e in entries] == [(str(alarm["id"]), "firing", "critical")]
    # the history store holds the alarm and its transition row
    [event] = alerts.alarms.events(alarm["id"])
    assert (event["action"], event["from_state"], event["to_state"], event["who"]) == ("fire", None, "firing", "system")


def test_repeated_firings_are_one_alarm_with_a_count(feed_server, live, history, alerts, monitor):
    now = utcnow()
    url = feed_server.serve("/calls.csv", calls_csv(("T1", "Kebakaran rumah", 1, now, None, -8.6563, 115.2167)))
    runner = calls_runner(url, live, history, monitor)
    runner.poll()
    for minutes in (1, 2, 3):  # the call centre updates the call: still open, still critical
        feed_server.serve("/calls.csv", calls_csv(("T1", f"Kebakaran rumah {minutes}", 1, now, None, -8.6563, 115.2167)))
        assert runner.poll().changed == 1
    runner.poll()  # no change: no firing
    [alarm] = live_alarms(alerts)
    assert alarm["count"] == 4 and alarm["state"] == "firing" and "Kebakaran rumah 3" in alarm["message"]["id"]
    with history.engine.connect() as conn:
        assert len(conn.execute(select(alarms_table)).all()) == 1
        assert len(conn.execute(select(alarm_events)).all()) == 1  # repeats are counted, not new rows


def test_the_alarm_resolves_by_itself_when_the_call_closes_even_if_acknowledged(feed_server, live, history, alerts, monitor):
    now = utcnow()
    url = feed_server.serve("/calls.csv", calls_csv(("T1", "Kebakaran rumah", 1, now, None, -8.6563, 115.2167)))
    runner = calls_runner(url, live, history, monitor)
    runner.poll()
    [alarm] = live_alarms(alerts)
    alerts.alarms.acknowledge(alarm["id"], "budi", "Damkar sudah berangkat")
    feed_server.serve("/calls.csv", calls_csv(("T1", "Kebakaran rumah", 1, now, now + timedelta(minutes=20), -8.6563, 115.2167)))
    runner.poll()
    resolved = alerts.alarms.get(alarm["id"])
    assert resolved["state"] == "resolved" and resolved["resolved_by"] == "system"
    assert [(e["action"], e["from_state"], e["to_state"], e["who"]) for e in alerts.alarms.events(alarm["id"])] == [
        ("fire", None, "firing", "system"), ("acknowledge", "firing", "acknowledged", "budi"),
        ("resolve", "acknowledged", "resolved", "system")]
    assert alerts.alarms.events(alarm["id"])[-1]["note"] == "incident closed"
    assert live_alarms(alerts)[0]["state"] == "resolved"  # kept a while so screens see it end
    assert alerts.alarms.active() == []


def test_a_resolved_alarm_that_fires_again_is_a_new_alarm(feed_server, live, history, alerts, monitor):
    now = utcnow()
    runner = calls_runner(feed_server.serve("/c.csv", calls_csv(("T1", "Kebakaran", 1, now, None, -8.65, 115.22))),
                          live, history, monitor)
    runner.poll()
    first = alerts.alarms.active()[0]
    alerts.alarms.resolve(first["id"], "supervisor", "salah input")
    feed_server.serve("/c.csv", calls_csv(("T1", "Kebakaran lagi", 1, now, None, -8.65, 115.22)))
    runner.poll()
    [second] = alerts.alarms.active()
    assert second["id"] != first["id"] and second["count"] == 1
    assert alerts.alarms.get(first["id"])["state"] == "resolved"


class GaugeFeed(Adapter):
    """Serves a scripted list of gauge snapshots (id, level cm, alert level); the stores are real."""

    name = ""
    snapshot = True

    def __init__(self, snapshots):
        super().__init__("gauges")
        self.snapshots = list(snapshots)

    def fetch(self) -> bytes:
        return orjson.dumps(self.snapshots.pop(0))

    def parse(self, raw: bytes) -> ParseResult:
        now = utcnow()
        return ParseResult(records=[Reading(id=g, source="gauges", station=g, station_name=f"Tukad {g}", quantity="water_level",
                                            value=v, unit="cm", alert_level=a, observed_at=now, lat=-8.66, lon=115.21)
                                    for g, v, a in orjson.loads(raw)])


def test_a_gauge_at_siaga_ii_fires_and_resolves_when_the_water_falls(live, history, alerts, monitor):
    feed = GaugeFeed([[["badung", 120, 0]], [["badung", 265, 2]], [["badung", 330, 3]], [["badung", 180, 1]]])
    runner = SourceRunner(feed, live, history, listener=monitor)
    runner.poll()
    assert alerts.alarms.active() == []
    runner.poll()
    [alarm] = alerts.alarms.active()
    assert alarm["rule"] == "gauge-siaga" and alarm["scene"] == "flood"
    assert alarm["message"]["id"] == "Tukad badung: Siaga II, tinggi muka air 265 cm"
    runner.poll()
    assert alerts.alarms.get(alarm["id"])["count"] == 2
    runner.poll()
    assert alerts.alarms.get(alarm["id"])["state"] == "resolved"
    assert alerts.alarms.events(alarm["id"])[-1]["note"] == "condition cleared"


QUAKE_TIME = (utcnow() - timedelta(hours=1)).replace(microsecond=0)
QUAKE = orjson.dumps({"Infogempa": {"gempa": {"DateTime": QUAKE_TIME.isoformat(), "Coordinates": "-8.65,115.22",
                                              "Magnitude": "4.1", "Wilayah": "Denpasar"}}})


def quake_runner(url, live, history, monitor, stale_after=60):
    from data_sources import get_adapter

    cls = get_adapter("bmkg-quake")
    cfg = cls.Config(url=url, interval=5, timeout=2, stale_after=stale_after, title="BMKG Gempa")
    return SourceRunner(cls("bmkg", cfg), live, history, listener=monitor)


def test_nodata_fires_when_a_source_is_stale_past_its_promise_and_resolves_on_recovery(feed_server, live, history, alerts, monitor):
    url = feed_server.serve("/q.json", QUAKE)
    runner = quake_runner(url, live, history, monitor, stale_after=120)
    t0 = utcnow()
    assert runner.poll(now=t0).ok
    feed_server.serve("/q.json", b"bad gateway", status=502)
    runner.poll(now=t0 + timedelta(seconds=60))  # failing, but within its promise
    assert live_alarms(alerts, "source-nodata") == []
    runner.poll(now=t0 + timedelta(seconds=200))
    runner.poll(now=t0 + timedelta(seconds=260))
    [alarm] = live_alarms(alerts, "source-nodata")
    assert (alarm["source"], alarm["subject"], alarm["state"], alarm["count"]) == ("bmkg", "", "firing", 1)
    assert alarm["message"]["id"].startswith("Sumber BMKG Gempa tanpa data selama 3 menit")
    feed_server.serve("/q.json", QUAKE)
    assert runner.poll(now=t0 + timedelta(seconds=300)).ok
    done = alerts.alarms.get(alarm["id"])
    assert done["state"] == "resolved" and alerts.alarms.events(alarm["id"])[-1]["note"] == "source fresh again"


def test_nodata_is_found_by_the_periodic_check_when_no_poll_finishes(live, history, alerts, monitor):
    """A collector that died leaves its source's health behind: time alone makes it stale."""
    t0 = utcnow()
    live.set_health("ais", {"source": "ais", "title": "AIS", "status": "ok", "stale_after": 90,
                            "last_success": (t0 - timedelta(minutes=5)).isoformat()}, bump=True)
    # a collector just started gives the source its promise (90 s) before calling it stale
    assert AlarmMonitor(monitor.config, alerts.alarms, live, started=t0).tick(now=t0 + timedelta(seconds=30)) == []
    assert monitor.tick(now=t0) == []  # this one started a minute ago: 60 s of its watch
    [t] = monitor.tick(now=t0 + timedelta(minutes=1))
    assert (t.action, t.alarm["source"], t.alarm["rule"]) == ("fire", "ais", "source-nodata")
    assert monitor.tick(now=t0 + timedelta(minutes=2)) == []  # still stale: no second alarm, no count


def test_two_operators_acknowledge_at_once_one_wins(feed_server, live, history, alerts, monitor):
    now = utcnow()
    calls_runner(feed_server.serve("/c.csv", calls_csv(("T1", "Kebakaran", 1, now, None, -8.65, 115.22))),
                 live, history, monitor).poll()
    [alarm] = alerts.alarms.active()
    users = ["ayu", "budi"]
    barrier = threading.Barrier(len(users))
    results: dict[str, object] = {}

    def act(user):
        # each operator works through its own web process: its own stores over the same databases
        mine = open_alerts(history, live.r, live.p)
        barrier.wait()
        try:
            results[user] = mine.alarms.acknowledge(alarm["id"], user, "saya tangani")
        except AlarmConflict as exc:
            results[user] = exc

    threads = [threading.Thread(target=act, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [u for u, r in results.items() if isinstance(r, dict)]
    [loser] = [u for u, r in results.items() if isinstance(r, AlarmConflict)]
    assert len(winners) == 1
    assert str(results[loser]).startswith(f"alarm {alarm['id']} already acknowledged by {winners[0]} at ")
    acks = [e for e in alerts.alarms.events(alarm["id"]) if e["action"] == "acknowledge"]
    assert [e["who"] for e in acks] == winners
    assert alerts.live.alarm(alarm["id"])["acknowledged_by"] == winners[0]
    # the winner acknowledging again changes nothing and raises nothing
    assert alerts.alarms.acknowledge(alarm["id"], winners[0])["version"] == alerts.alarms.get(alarm["id"])["version"]
    assert len([e for e in alerts.alarms.events(alarm["id"]) if e["action"] == "acknowledge"]) == 1


def test_supervisor_resolve_and_release_write_their_rows(feed_server, live, history, alerts, monitor):
    now = utcnow()
    calls_runner(feed_server.serve("/c.csv", calls_csv(("T1", "Kebakaran", 1, now, None, -8.65, 115.22))),
                 live, history, monitor).poll()
    [alarm] = alerts.alarms.active()
    released = alerts.alarms.release(alarm["id"], "kepala-regu", "kembali ke tampilan biasa")
    assert released["released_by"] == "kepala-regu" and released["state"] == "firing"
    alerts.alarms.resolve(alarm["id"], "kepala-regu", "ditangani di lapangan")
    with pytest.raises(AlarmConflict, match="already resolved by kepala-regu"):
        alerts.alarms.acknowledge(alarm["id"], "ayu")
    assert [(e["action"], e["who"], e["to_state"]) for e in alerts.alarms.events(alarm["id"])] == [
        ("fire", "system", "firing"), ("release", "kepala-regu", "firing"), ("resolve", "kepala-regu", "resolved")]


def test_quiet_hours_record_but_silence_warnings_not_criticals(feed_server, live, history, alerts):
    wita_now = utcnow().astimezone(__import__("engine.records", fromlist=["WITA"]).WITA)
    start, end = (wita_now - timedelta(hours=1)).strftime("%H:%M"), (wita_now + timedelta(hours=1)).strftime("%H:%M")
    quiet = {"start": start, "end": end}
    config = shipped_config()
    rules = {name: rule.model_dump(mode="json", exclude_none=True) for name, rule in config.alerts.rules.items()}
    for name in ("call-112-critical", "call-112-high"):
        rules[name]["quiet_hours"] = quiet
    rules["call-112-critical"]["quiet_hours"] = {**quiet, "include_critical": False}
    data = config.model_dump(mode="json", exclude_none=True)
    data["alerts"]["rules"] = rules
    quiet_config = shipped_config(alerts=data["alerts"])
    monitor = AlarmMonitor(quiet_config.alerts, alerts.alarms, live)
    now = utcnow()
    calls_runner(feed_server.serve("/c.csv", calls_csv(("T1", "Kebakaran", 1, now, None, -8.65, 115.22),
                                                       ("T2", "Kebakaran", 2, now, None, -8.66, 115.21))),
                 live, history, monitor).poll()
    by_rule = {a["rule"]: a for a in alerts.alarms.active()}
    assert by_rule["call-112-high"]["silent"] is True and by_rule["call-112-high"]["state"] == "firing"
    assert by_rule["call-112-critical"]["silent"] is False
    assert alerts.alarms.events(by_rule["call-112-high"]["id"])[0]["note"] == "silent (quiet hours)"


def test_rebuild_after_redis_is_flushed_gives_the_same_active_alarms(feed_server, live, history, alerts, monitor, config):
    now = utcnow()
    runner = calls_runner(feed_server.serve("/c.csv", calls_csv(("T1", "Kebakaran", 1, now, None, -8.65, 115.22),
                                                                ("T2", "Perkelahian", 2, now, None, -8.66, 115.21))),
                          live, history, monitor)
    runner.poll()
    runner.poll()
    first = alerts.alarms.active()[0]
    alerts.alarms.acknowledge(first["id"], "ayu")
    alerts.operations.assign("ntpc-112", "T1", "damkar", "ayu", unit="Pos Damkar Denpasar Utara")
    before = sorted(live_alarms(alerts), key=lambda a: a["id"])
    overlays = alerts.live.overlays()
    assert len(before) == 2 and overlays
    live.r.flushdb()
    assert alerts.live.alarms() == []
    active, n_overlays = rebuild_live(open_alerts(history, live.r, live.p, config.agencies), config.alerts)
    assert (active, n_overlays) == (2, 1)
    assert sorted(live_alarms(alerts), key=lambda a: a["id"]) == before
    assert alerts.live.overlays() == overlays
    # and the rebuilt state keeps working: a later change writes over it
    alerts.alarms.resolve(first["id"], "kepala-regu")
    assert alerts.live.alarm(first["id"])["state"] == "resolved"


def test_alarms_of_a_rule_removed_from_config_resolve_at_start(feed_server, live, history, alerts, monitor, config):
    now = utcnow()
    calls_runner(feed_server.serve("/c.csv", calls_csv(("T1", "Kebakaran", 1, now, None, -8.65, 115.22))),
                 live, history, monitor).poll()
    data = config.model_dump(mode="json", exclude_none=True)
    del data["alerts"]["rules"]["call-112-critical"]
    fewer = AlarmMonitor(shipped_config(alerts=data["alerts"]).alerts, alerts.alarms, live)
    assert fewer.retire_removed_rules() == 1
    assert alerts.alarms.active() == []


def test_resolved_alarms_leave_the_live_store_after_the_window(feed_server, live, history, alerts, monitor):
    now = utcnow()
    calls_runner(feed_server.serve("/c.csv", calls_csv(("T1", "Kebakaran", 1, now, None, -8.65, 115.22))),
                 live, history, monitor).poll()
    [alarm] = alerts.alarms.active()
    alerts.alarms.resolve(alarm["id"], "kepala-regu")
    assert alerts.alarms.prune_live(10, now=utcnow() + timedelta(minutes=5)) == 0
    assert alerts.alarms.prune_live(10, now=utcnow() + timedelta(minutes=11)) == 1
    assert alerts.live.alarms() == [] and not live.r.hget(f"{live.p}:opsrev", f"a:{alarm['id']}")
    assert alerts.alarms.get(alarm["id"])["state"] == "resolved"  # history keeps it


def test_at_start_alarms_of_records_gone_from_the_wall_resolve(feed_server, live, history, alerts, monitor):
    now = utcnow()
    calls_runner(feed_server.serve("/c.csv", calls_csv(("T1", "Kebakaran", 1, now, None, -8.65, 115.22),
                                                       ("T2", "Kebakaran", 1, now, None, -8.66, 115.21))),
                 live, history, monitor).poll()
    live.apply("ntpc-112", [], ["T2"])  # T2 left the live store while no collector ran
    [t] = monitor.clear_orphans()
    assert (t.alarm["subject"], t.to_state, t.who, t.note) == ("T2", "resolved", "system", "record left the live view")
    assert [a["subject"] for a in alerts.alarms.active()] == ["T1"]
    assert alerts.alarms.events(t.alarm["id"])[-1]["note"] == "record left the live view"
