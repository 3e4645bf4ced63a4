"""Fixtures for alarms and operator actions: real Redis, real SQLite and PostgreSQL,
real feeds over HTTP through the collector's SourceRunner."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import yaml

from damamaya.config import config_from_dict
from data_sources import get_adapter
from engine.alerts import AlarmMonitor, open_alerts
from engine.collector import SourceRunner
from engine.config import DEFAULT_CONFIG
from engine.live import LiveStore
from engine.records import WITA, utcnow

CALL_COLUMNS = {"id": "No Tiket", "call_type": "Kategori", "priority": "Prioritas", "received": "Waktu Terima",
                "closed": "Waktu Selesai", "lat": "Latitude", "lon": "Longitude"}
CALL_HEADER = "No Tiket,Kategori,Prioritas,Waktu Terima,Waktu Selesai,Latitude,Longitude\n"


def shipped() -> dict:
    """config.yaml as shipped, as a dict."""
    return yaml.safe_load(DEFAULT_CONFIG.read_text())


def shipped_config(**overrides):
    data = shipped()
    data["sources"] = {}
    data.update(overrides)
    return config_from_dict(data)


def wita(t: datetime) -> str:
    return t.astimezone(WITA).strftime("%d/%m/%Y %H:%M:%S")


def calls_csv(*rows: tuple) -> bytes:
    """rows of (ticket, call type, priority, received, closed or None, lat, lon)."""
    lines = [CALL_HEADER]
    for ticket, kind, priority, received, closed, lat, lon in rows:
        lines.append(f"{ticket},{kind},{priority},{wita(received)},{wita(closed) if closed else ''},{lat},{lon}\n")
    return "".join(lines).encode()


@pytest.fixture
def live(redis_client):
    return LiveStore(redis_client, "t")


@pytest.fixture
def config():
    return shipped_config()


@pytest.fixture
def alerts(history, live, config):
    return open_alerts(history, live.r, live.p, config.agencies)


@pytest.fixture
def monitor(alerts, live, config):
    return AlarmMonitor(config.alerts, alerts.alarms, live, started=utcnow() - timedelta(minutes=1), kpi=config.kpi)


def calls_runner(url, live, history, monitor, **config):
    cls = get_adapter("emergency-calls")
    cfg = cls.Config(url=url, interval=5, timeout=5, preset="generic", timezone="Asia/Makassar", columns=CALL_COLUMNS,
                     time_formats=["%d/%m/%Y %H:%M:%S"], severities={"1": "critical", "2": "high", "3": "medium"}, **config)
    return SourceRunner(cls("ntpc-112", cfg), live, history, listener=monitor)
