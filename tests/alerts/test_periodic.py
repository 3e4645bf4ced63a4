"""What time alone changes (deadlines passing), the demo feeds triggering the shipped rules,
and the CLI building and rebuilding the alarm state."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import redis

from damamaya.config import config_from_dict, make_adapters
from data_sources import get_adapter
from data_sources.demo import felt_in_denpasar
from engine.alerts import AlarmMonitor, collector_monitor, open_alerts
from engine.analytics.kpi import working_deadline
from engine.collector import SourceRunner
from engine.history import History
from engine.live import LiveStore
from engine.records import utcnow

from .conftest import calls_csv, calls_runner, shipped

ROOT = Path(__file__).resolve().parents[2]


def complaints(status: str, requested) -> bytes:
    return orjson.dumps([{"service_request_id": "PRO-1", "status": status, "service_name": "Jalan Rusak",
                          "service_code": "JR", "requested_datetime": requested.isoformat(),
                          "updated_datetime": utcnow().isoformat(), "lat": -8.66, "long": 115.22}])


def test_a_complaint_passing_its_deadline_fires_on_the_periodic_check_once(feed_server, live, history, alerts, monitor, config):
    """Open311 gives no deadline here: the kpi section's SP4N-LAPOR! working days apply, as on /kpi."""
    requested = utcnow() - timedelta(days=1)
    cls = get_adapter("open311")
    url = feed_server.serve("/requests.json", complaints("open", requested))
    runner = SourceRunner(cls("pro", cls.Config(url=url, timezone="Asia/Makassar")), live, history, listener=monitor)
    assert runner.poll().ok
    [rec] = live.raw_records("pro")
    assert rec["details"]["resolution_due"] is None
    due = working_deadline(datetime.fromisoformat(rec["reported_at"]), config.kpi.resolution_days_for(rec["category"]),
                           config.kpi.working_days, config.kpi.holidays)
    assert monitor.tick() == []  # not due yet
    assert [x for x in monitor.tick(now=due - timedelta(minutes=1)) if x.alarm["rule"] == "complaint-overdue"] == []
    later = due + timedelta(minutes=1)
    overdue = lambda ticked: [x for x in ticked if x.alarm["rule"] == "complaint-overdue"]  # noqa: E731
    [t] = overdue(monitor.tick(now=later))  # (two days later the feed is stale too: a NoData alarm of its own)
    assert (t.action, t.alarm["rule"], t.alarm["subject"], t.alarm["level"]) == ("fire", "complaint-overdue", "PRO-1", "warning")
    assert overdue(monitor.tick(now=later + timedelta(minutes=1))) == []
    assert alerts.alarms.get(t.alarm["id"])["count"] == 1  # re-checks do not count as firings
    assert f"({due.strftime('%d/%m')} 00:00 WITA)" in t.alarm["message"]["id"]
    feed_server.serve("/requests.json", complaints("closed", requested))
    runner.poll()
    done = alerts.alarms.get(t.alarm["id"])
    assert done["state"] == "resolved" and alerts.alarms.events(done["id"])[-1]["note"] == "incident closed"


def test_demo_complaints_trigger_overdue_alarms_and_demo_quakes_can_be_felt(live, history, alerts, monitor):
    config = config_from_dict({"sources": {"demo-complaints": shipped()["sources"]["demo-complaints"] | {"seed": 7}}})
    [adapter] = make_adapters(config)
    SourceRunner(adapter, live, history, listener=monitor).poll()
    overdue = [a for a in alerts.alarms.active() if a["rule"] == "complaint-overdue"]
    assert overdue and all(a["source"] == "demo-complaints" for a in overdue)
    assert all(a["message"]["id"].startswith("Pengaduan lewat tenggat (") for a in overdue)
    assert felt_in_denpasar(5.2, -9.2, 115.3) == "III Denpasar, II Badung"
    assert felt_in_denpasar(5.2, -7.0, 117.2) is None and felt_in_denpasar(3.5, -8.7, 115.2) is None


def test_collect_start_fills_an_empty_redis_with_the_alarm_state_from_history(feed_server, live, history, alerts, monitor):
    now = utcnow()
    calls_runner(feed_server.serve("/c.csv", calls_csv(("T1", "Kebakaran", 1, now, None, -8.65, 115.22))),
                 live, history, monitor).poll()
    before = alerts.live.alarms()
    live.r.flushdb()
    config = config_from_dict({**{k: v for k, v in shipped().items() if k != "sources"}, "sources": {}})
    fresh = collector_monitor(config, live, history)
    assert isinstance(fresh, AlarmMonitor)
    assert alerts.live.alarms() == before


def test_rebuild_live_command_restores_alarms_and_overlays(feed_server, embedded_redis_url, tmp_path):
    db = f"sqlite:///{tmp_path}/h.sqlite"
    client = redis.Redis.from_url(embedded_redis_url)
    client.flushdb()
    live, history = LiveStore(client, "rb"), History(db)
    history.create()
    data = {k: v for k, v in shipped().items() if k != "sources"}
    now = utcnow()
    url = feed_server.serve("/c.csv", calls_csv(("T1", "Kebakaran", 1, now, None, -8.65, 115.22)))
    config = config_from_dict({**data, "sources": {}})
    state = open_alerts(history, client, "rb", config.agencies)
    calls_runner(url, live, history, AlarmMonitor(config.alerts, state.alarms, live)).poll()
    state.operations.assign("ntpc-112", "T1", "damkar", "ayu")
    alarms_before, overlays_before = state.live.alarms(), state.live.overlays()
    client.flushdb()
    from .conftest import CALL_COLUMNS

    data["redis"] = {"url": embedded_redis_url, "prefix": "rb"}
    data["database"] = {"url": db}
    data["sources"] = {"ntpc-112": {"adapter": "emergency-calls", "url": url, "preset": "generic", "columns": CALL_COLUMNS}}
    path = tmp_path / "config.yaml"
    import yaml

    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    out = subprocess.run([sys.executable, "-m", "damamaya.cli", "--config", str(path), "rebuild-live"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "alarms: 1 active, 1 incident overlays from history" in out.stderr
    assert state.live.alarms() == alarms_before and state.live.overlays() == overlays_before
    history.dispose()


def test_the_collector_passes_its_listener_to_every_source(live, history, alerts, monitor):
    """The Collector (threads, poll locks) as `damamaya collect` runs it, with the alarm monitor."""
    import time

    from engine.collector import Collector

    config = config_from_dict({"sources": {"demo-complaints": shipped()["sources"]["demo-complaints"] | {"seed": 7}}})
    collector = Collector(make_adapters(config), live, history, listener=monitor)
    collector.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not alerts.live.alarms():
        time.sleep(0.2)
    collector.close(timeout=5)
    assert {a["rule"] for a in alerts.live.alarms()} == {"complaint-overdue"}
