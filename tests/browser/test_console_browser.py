"""/console in headless chromium: an operator sees a firing alarm at the top of the queue,
acknowledges it (the live store says so, an audit row says who), assigns the incident to
Damkar, and the feed's next poll of the same record keeps the assignment.

The whole app as a user starts it (`damamaya run`: collector, gunicorn) on the session's
Redis under a prefix of its own, a 112 call centre export read from a file."""
from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
import redis
import yaml
from sqlalchemy import select

from engine.alerts import OpsLive
from engine.alerts.schema import alarm_events, incident_actions
from engine.config import DEFAULT_CONFIG
from engine.history import History
from engine.live import LiveStore
from engine.records import WITA, utcnow

pytestmark = pytest.mark.browser

COLUMNS = {"id": "No Tiket", "call_type": "Kategori", "priority": "Prioritas", "received": "Waktu Terima",
           "closed": "Waktu Selesai", "lat": "Latitude", "lon": "Longitude"}


def calls_csv(title: str, received) -> bytes:
    when = received.astimezone(WITA).strftime("%d/%m/%Y %H:%M:%S")
    return ("No Tiket,Kategori,Prioritas,Waktu Terima,Waktu Selesai,Latitude,Longitude\n"
            f"T1,{title},1,{when},,-8.65,115.22\n").encode()


def wait_until(check, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    pytest.fail(f"{what} not seen within {timeout} s")


@pytest.fixture
def console_app(start_app, tmp_path, embedded_redis_url):
    feed = tmp_path / "calls.csv"
    received = utcnow() - timedelta(minutes=2)
    feed.write_bytes(calls_csv("Kebakaran gudang", received))
    shipped = yaml.safe_load(DEFAULT_CONFIG.read_text())
    prefix = f"cb{uuid.uuid4().hex[:8]}"
    app = start_app({
        "language": "en", "redis": {"url": embedded_redis_url, "prefix": prefix},
        "alerts": shipped["alerts"], "agencies": shipped["agencies"],
        "sources": {"ntpc-112": {"adapter": "emergency-calls", "title": "NTPC 112", "path": str(feed), "interval": 1,
                                 "stale_after": 60, "preset": "generic", "timezone": "Asia/Makassar", "columns": COLUMNS,
                                 "time_formats": ["%d/%m/%Y %H:%M:%S"], "severities": {"1": "critical", "2": "high"}}},
    })
    client = redis.Redis.from_url(embedded_redis_url)
    history = History(yaml.safe_load(app.config_path.read_text())["database"]["url"])
    yield {"app": app, "feed": feed, "received": received, "ops": OpsLive(client, prefix), "live": LiveStore(client, prefix),
           "history": history}
    history.dispose()
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def pick(page, dropdown: str, label: str) -> None:
    """Choose `label` in a dcc.Dropdown (its menu opens in a portal)."""
    page.click(f"{dropdown}")
    page.get_by_role("option", name=label, exact=True).click()
    page.keyboard.press("Escape")


def test_operator_acknowledges_and_assigns_and_the_feed_keeps_the_assignment(console_app, page):
    app, ops, live, history = console_app["app"], console_app["ops"], console_app["live"], console_app["history"]
    [alarm] = wait_until(lambda: ops.alarms(), 60, "the 112 call's alarm")
    app.sign_in(page, "operator", "/console")
    page.wait_for_function("document.title === 'Operator console · Damamaya'", timeout=15_000)

    first_row = page.locator("#console-alarms .ag-center-cols-container .ag-row[row-index='0']")
    first_row.wait_for(timeout=30_000)
    assert "CRITICAL 112 call: Kebakaran gudang" in first_row.inner_text()
    assert "Firing" in first_row.inner_text()

    first_row.click()
    page.wait_for_function("document.querySelector('#console-selection').innerText.includes('ntpc-112:T1')", timeout=15_000)
    page.click("#console-acknowledge")
    page.wait_for_function("document.querySelector('#console-feedback').innerText.includes('acknowledged by browser-operator')",
                           timeout=15_000)
    assert ops.alarm(alarm["id"])["state"] == "acknowledged"
    with history.engine.connect() as conn:
        audit = conn.execute(select(alarm_events.c.action, alarm_events.c.who).where(
            alarm_events.c.alarm_id == alarm["id"], alarm_events.c.action == "acknowledge")).all()
    assert [tuple(a) for a in audit] == [("acknowledge", "browser-operator")]
    # the queue shows it within a poll: acknowledged, by whom
    page.wait_for_function("document.querySelector('#console-alarms .ag-row[row-index=\"0\"]').innerText"
                           ".includes('browser-operator')", timeout=15_000)

    pick(page, "#console-agency", "Damkar Kota Denpasar")
    page.wait_for_function("document.querySelector('#console-contact').innerText.includes('113')", timeout=15_000)
    page.click("#console-assign")
    page.wait_for_function("document.querySelector('#console-feedback').innerText.includes('assigned to Damkar Kota Denpasar')",
                           timeout=15_000)
    assert ops.overlay_many(["ntpc-112:T1"])[0]["agency"] == "damkar"

    # the call centre's export moves on: a new title for the same call, polled by the collector
    console_app["feed"].write_bytes(calls_csv("Kebakaran gudang besar", console_app["received"]))
    wait_until(lambda: live.get_many([("ntpc-112", "T1")])[0]["title"] == "Kebakaran gudang besar", 30, "the feed's new title")
    assert ops.overlay_many(["ntpc-112:T1"])[0]["agency"] == "damkar"
    incident_row = page.locator("#console-incidents .ag-center-cols-container .ag-row", has_text="Kebakaran gudang besar")
    incident_row.wait_for(timeout=15_000)
    assert "Damkar Kota Denpasar" in incident_row.inner_text()
    with history.engine.connect() as conn:
        actions = conn.execute(select(incident_actions.c.action, incident_actions.c.who).where(
            incident_actions.c.record_id == "T1").order_by(incident_actions.c.id)).all()
    assert [tuple(a) for a in actions] == [("acknowledge", "browser-operator"), ("assign", "browser-operator")]
