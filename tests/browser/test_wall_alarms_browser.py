"""The wall on an alarm, in headless chromium: a critical 112 call written to the calls file
goes through the real collector and its alert rules (real Redis, real SQLite); the wall
shows the role=alert banner, pulses the call's marker, flashes its tiles and sounds; the
console's acknowledgement (engine.alerts) stops all of it within a poll; an assignment
shows its agency on the incident list. Without the kiosk's autoplay flag the wall says
that the browser blocks sound."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
import redis

from engine.alerts import open_alerts
from engine.history import History
from engine.records import WITA

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

POLL_SECONDS = 1
SOURCE_INTERVAL = 1
BUDGET_MS = (SOURCE_INTERVAL + POLL_SECONDS + 6) * 1000  # the feed's poll and the wall's, with room for 2 shared cores
ONE_POLL_MS = (POLL_SECONDS + 6) * 1000  # one poll, with room for 2 cores shared by many test runs
REDIS_URL = "redis://127.0.0.1:6379/0"
AUTOPLAY = "--autoplay-policy=no-user-gesture-required"
HEADER = "No Tiket,Kategori,Prioritas,Waktu Terima,Waktu Selesai,Latitude,Longitude\n"
COLUMNS = {"id": "No Tiket", "call_type": "Kategori", "priority": "Prioritas", "received": "Waktu Terima",
           "closed": "Waktu Selesai", "lat": "Latitude", "lon": "Longitude"}
TILE = "#\\{\\\"key\\\"\\:\\\"{key}\\\"\\,\\\"type\\\"\\:\\\"tile\\\"\\}"


def calls_csv(*rows: tuple[str, str, int]) -> bytes:
    received = datetime.now(timezone.utc).astimezone(WITA).strftime("%d/%m/%Y %H:%M:%S")
    return (HEADER + "".join(f"{ticket},{kind},{priority},{received},,-8.6563,115.2167\n"
                             for ticket, kind, priority in rows)).encode()


def wall_config(feed: Path, prefix: str, database_url: str) -> dict:
    return {
        "language": "id",
        "wall": {"poll_seconds": POLL_SECONDS},
        "collector": {"max_backoff": SOURCE_INTERVAL},
        "redis": {"url": REDIS_URL, "prefix": prefix},
        "database": {"url": database_url},
        "sources": {"calls": {
            "adapter": "emergency-calls", "title": "NTPC 112", "path": str(feed), "interval": SOURCE_INTERVAL,
            "stale_after": 60, "preset": "generic", "timezone": "Asia/Makassar", "columns": COLUMNS,
            "time_formats": ["%d/%m/%Y %H:%M:%S"], "severities": {"1": "critical", "2": "high", "3": "medium"}}},
        "alerts": {"evaluate_every": 30, "rules": {"call-112-critical": {
            "match": {"domain": "emergency", "severity": "critical"}, "level": "critical",
            "message": {"id": "Panggilan 112 KRITIS: {title}", "en": "CRITICAL 112 call: {title}"}}}},
        "agencies": {"damkar": {"name": "Damkar Kota Denpasar", "contact": "113"}},
    }


@pytest.fixture
def prefix():
    """A Redis prefix of this test's own on the shared server, its keys deleted afterwards."""
    name = f"t-alarmwall-{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{name}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def wall_app(prefix, start_app, tmp_path):
    # SQLite in the test's folder: the shared PostgreSQL's schema lock is held at times by other
    # test runs for minutes, which would test them, not the wall (tests/alerts runs both)
    database_url = f"sqlite:///{tmp_path}/history.sqlite"
    feed = tmp_path / "calls.csv"
    feed.write_bytes(calls_csv(("T0", "Informasi", 3)))
    app = start_app(wall_config(feed, prefix, database_url))
    history = History(database_url)
    client = redis.Redis.from_url(REDIS_URL)
    alerts = open_alerts(history, client, prefix, {"damkar": _agency("Damkar Kota Denpasar")})
    yield app, feed, alerts
    client.close()
    history.dispose()


def wait_in_history(history: History, source: str, record_id: str, seconds: float = 60) -> None:
    """Until the collector's history write of the record is in (a slow database spools it and
    replays it later): operators act on incidents the history store holds."""
    from sqlalchemy import select

    from engine.history import records

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with history.engine.connect() as conn:
            if conn.execute(select(records.c.record_id).where(records.c.source == source,
                                                              records.c.record_id == record_id)).first():
                return
        time.sleep(0.3)
    pytest.fail(f"{source}:{record_id} never reached the history store")


def _agency(name):
    from engine.alerts.config import Agency

    return Agency(name=name, contact="113")


def _page(browser):
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, bypass_csp=True)
    return context, context.new_page()


@pytest.fixture(scope="module")
def kiosk_browser(browser):
    """Chromium as a wall kiosk runs it: allowed to sound without a click (launched by the
    session's Playwright: one sync Playwright per process)."""
    kiosk = browser.browser_type.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, AUTOPLAY])
    yield kiosk
    kiosk.close()


def open_wall(app, page):
    page.goto(app.screen_url())
    page.wait_for_selector(".wall-grid .ag-row", timeout=30_000)


def status(page) -> dict:
    return page.evaluate("window.dmy.alarms.status()")


def test_a_critical_call_alarms_the_wall_until_acknowledged(wall_app, kiosk_browser):
    app, feed, alerts = wall_app
    context, page = _page(kiosk_browser)
    try:
        open_wall(app, page)
        assert page.locator("[role=alert] .alarm-row").count() == 0
        assert status(page)["audio"] == "running"

        feed.write_bytes(calls_csv(("T0", "Informasi", 3), ("T1", "Kebakaran rumah", 1)))
        page.wait_for_selector("[role=alert] .alarm-row[data-uid='calls:T1']", timeout=BUDGET_MS)
        banner = page.locator("[role=alert]")
        assert banner.is_visible()
        assert "KRITIS" in banner.inner_text() and "Kebakaran rumah" in banner.inner_text()
        assert page.locator(".dmy-pulse .dmy-pulse-ring[data-uid='calls:T1']").count() == 1
        ring_in_rem = page.evaluate("document.querySelector('.dmy-pulse').getBoundingClientRect().width / "
                                    "parseFloat(getComputedStyle(document.documentElement).fontSize)")
        assert abs(ring_in_rem - 3) < 0.1  # sized in rem: it grows with the screen, up to 4K
        assert page.locator(TILE.replace("{key}", "calls_hour")).get_attribute("data-alarm") == "critical"
        page.wait_for_function("window.dmy.alarms.status().tones >= 1", timeout=5000)
        assert status(page)["sounding"] == "critical"
        assert status(page)["audio"] == "running"

        [alarm] = [a for a in alerts.alarms.active() if a["subject"] == "T1"]
        alerts.alarms.acknowledge(alarm["id"], "ayu")  # what the console does
        page.wait_for_selector("[role=alert] .alarm-row", state="detached", timeout=ONE_POLL_MS)
        page.wait_for_function("window.dmy.alarms.status().sounding === null", timeout=2000)
        assert page.locator(".dmy-pulse-ring").count() == 0
        assert page.locator(".tiles > .tile[data-alarm]").count() == 0
        assert not banner.is_visible()
    finally:
        context.close()


def test_an_assignment_shows_its_agency_and_acknowledgement_on_the_list(wall_app, kiosk_browser):
    app, feed, alerts = wall_app
    feed.write_bytes(calls_csv(("T0", "Informasi", 3), ("T1", "Kebakaran rumah", 1)))
    context, page = _page(kiosk_browser)
    try:
        open_wall(app, page)
        page.wait_for_selector("[role=alert] .alarm-row[data-uid='calls:T1']", timeout=BUDGET_MS)
        row = page.locator(".wall-grid .ag-row[row-id='calls:T1']").first
        assert "DAMKAR" not in row.inner_text()

        [alarm] = [a for a in alerts.alarms.active() if a["subject"] == "T1"]
        wait_in_history(alerts.operations.history, "calls", "T1")
        alerts.alarms.acknowledge(alarm["id"], "ayu")
        alerts.operations.assign("calls", "T1", "damkar", "ayu")
        page.wait_for_function(
            "[...document.querySelectorAll(\".wall-grid .ag-row[row-id='calls:T1'] [col-id='owner']\")]"
            ".some((c) => c.innerText.includes('DAMKAR · ayu'))", timeout=ONE_POLL_MS)
        ack = page.locator(".wall-grid .ag-row[row-id='calls:T1'] [col-id='ack']").first.inner_text()
        assert "ayu" in ack
        assert "DAMKAR" not in page.locator(".wall-grid .ag-row[row-id='calls:T0']").first.inner_text()
    finally:
        context.close()


def test_the_wall_says_when_the_browser_blocks_sound(wall_app, browser):
    app, feed, alerts = wall_app
    context, page = _page(browser)  # the shared browser: started without the autoplay flag
    try:
        open_wall(app, page)
        notice = page.locator("#wall-sound-notice")
        notice.wait_for(state="visible", timeout=5000)
        assert "Suara diblokir browser" in notice.inner_text()
        assert status(page)["audio"] == "suspended"
        # its muted-speaker sign is drawn (a mask of the text's colour), not an emoji a kiosk may lack a font for
        icon = page.evaluate("getComputedStyle(document.querySelector('#wall-sound-notice'), '::before').maskImage")
        assert icon.startswith('url("data:image/svg+xml'), icon
    finally:
        context.close()


def test_with_reduced_motion_the_alarmed_tile_is_highlighted_without_flashing(wall_app, kiosk_browser):
    app, feed, _ = wall_app
    feed.write_bytes(calls_csv(("T0", "Informasi", 3), ("T1", "Kebakaran rumah", 1)))
    context, page = _page(kiosk_browser)
    try:
        page.emulate_media(reduced_motion="reduce")
        open_wall(app, page)
        tile = TILE.replace("{key}", "calls_hour")
        page.wait_for_selector(f"{tile}[data-alarm='critical']", timeout=BUDGET_MS)
        style = page.eval_on_selector(tile, "(t) => { const s = getComputedStyle(t); return [s.animationName, s.outlineStyle]; }")
        assert style == ["none", "solid"]
        ring = page.eval_on_selector(".dmy-pulse-ring[data-uid='calls:T1']", "(r) => getComputedStyle(r).animationName")
        assert ring == "none"
    finally:
        context.close()


def test_acknowledging_in_the_console_stops_the_alarm_on_the_wall(wall_app, kiosk_browser):
    """The operator's click in /console, not an engine call: the wall's banner, ring and tone
    end within one poll."""
    app, feed, alerts = wall_app
    wall_context, wall = _page(kiosk_browser)
    desk_context, desk = _page(kiosk_browser)
    try:
        open_wall(app, wall)
        feed.write_bytes(calls_csv(("T0", "Informasi", 3), ("T1", "Kebakaran rumah", 1)))
        wall.wait_for_selector("[role=alert] .alarm-row[data-uid='calls:T1']", timeout=BUDGET_MS)
        wall.wait_for_function("window.dmy.alarms.status().sounding === 'critical'", timeout=10_000)

        app.sign_in(desk, "operator", "/console")
        first = desk.locator("#console-alarms .ag-center-cols-container .ag-row[row-index='0']")
        first.wait_for(timeout=30_000)
        first.click()
        desk.wait_for_function("document.querySelector('#console-selection').innerText.includes('calls:T1')",
                               timeout=15_000)
        desk.click("#console-acknowledge")
        wall.wait_for_selector("[role=alert] .alarm-row", state="detached", timeout=ONE_POLL_MS)
        wall.wait_for_function("window.dmy.alarms.status().sounding === null", timeout=2000)
        assert wall.locator(".dmy-pulse-ring").count() == 0
        [alarm] = [a for a in alerts.alarms.active() if a["subject"] == "T1"]
        assert alarm["state"] == "acknowledged" and alarm["acknowledged_by"] == "browser-operator"
    finally:
        desk_context.close()
        wall_context.close()


def test_on_a_scene_without_the_map_the_banner_covers_no_panel(wall_app, browser):
    """Over the map the banner floats on the map's corner; on the tiles-only scene it takes a
    place of its own above the tiles, which move down."""
    app, feed, _ = wall_app
    context, page = _page(browser)
    try:
        page.goto(app.screen_url())
        page.wait_for_selector("#wall-main")
        page.goto(f"{app.base_url}/wall?scene=kpi")
        page.wait_for_selector("#wall-main[data-scene=kpi]")
        feed.write_bytes(calls_csv(("T0", "Informasi", 3), ("T1", "Kebakaran rumah", 1)))
        page.wait_for_selector("[role=alert] .alarm-row[data-uid='calls:T1']", timeout=BUDGET_MS)
        banner = page.locator("[role=alert]").bounding_box()
        first_tile = page.locator(".tiles > .tile").first.bounding_box()
        assert banner["height"] > 0 and banner["y"] + banner["height"] <= first_tile["y"] + 1, (banner, first_tile)
    finally:
        context.close()
