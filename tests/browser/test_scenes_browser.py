"""Wall scenes in headless chromium, on a real Redis and database: each scene shows its
panels, a playlist rotates, an alarm with a scene switches the wall (event mode) and it
comes back when the alarm resolves or is released, and at 4K the map and the text fill
the screen as they do at 1080p."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
import redis
import yaml

from engine.alerts import open_alerts
from engine.alerts.alarms import Clearing, Firing
from engine.history import History
from engine.live import LiveStore
from engine.records import Incident, Price, Reading
from engine.wall.scenes import BUILTIN_SCENES
from tests.browser.conftest import ROOT, RunningApp, free_port

pytestmark = pytest.mark.browser
RULE = "flood-deep"
FLOOD_DESA = "Sumerta Kelod"
SECRET_LINK = "https://user:hunter2@cams.example/live.m3u8?token=abc"


def now() -> datetime:
    return datetime.now(timezone.utc)


def records():
    t = now()
    flood = Incident(id="banjir-1", source="calls", category="flood", severity="high", title="Banjir di Sumerta",
                     reported_at=t, updated_at=t, lat=-8.6555, lon=115.2345, details={"state": 3})
    fire = Incident(id="api-1", source="calls", category="fire", severity="medium", title="Kebakaran",
                    reported_at=t, updated_at=t, lat=-8.66, lon=115.21)
    cams = [Reading(id="cam-a", source="cams", station="cam-a", station_name="Simpang Dewa Ruci", quantity="camera_online",
                    value=1, observed_at=t, lat=-8.70, lon=115.17,
                    details={"stream_url": "https://cams.example/dewa-ruci.m3u8", "online_known": True}),
            Reading(id="cam-b", source="cams", station="cam-b", station_name="Simpang Tohpati", quantity="camera_online",
                    value=0, alert_level=1, observed_at=t, lat=-8.63, lon=115.26,
                    details={"stream_url": SECRET_LINK, "online_known": True})]
    gauges = [Reading(id="g-1", source="gauges", station="g-1", station_name="Pos Tukad Badung", quantity="water_level",
                      value=v, unit="cm", observed_at=t - timedelta(hours=h), lat=-8.66, lon=115.21,
                      alert_level=2 if h == 0 else 0) for h, v in ((3, 80), (2, 95), (1, 130), (0, 190))]
    prices = [Price(id=f"beras-{d}", source="prices", commodity="beras_medium", market="Pasar Badung",
                    value=13000 + 200 * d, date=t - timedelta(days=2 - d)) for d in range(3)]
    # more markets than the prices panel holds: the list has to scroll by itself
    prices += [Price(id=f"cabai-{i}", source="prices", commodity="cabai_rawit", market=f"Pasar {i:02d}",
                     value=40000 + i, date=t) for i in range(40)]
    return {"calls": [flood, fire], "cams": cams, "gauges": gauges, "prices": prices}


@pytest.fixture(scope="module")
def wall_app(tmp_path_factory, embedded_redis_url):
    """`damamaya run` on the session's Redis (its own prefix) and a SQLite history, with
    incidents, cameras, gauges (and their last hours in history) and prices in the store."""
    tmp = tmp_path_factory.mktemp("scenes")
    prefix = f"scn{secrets.token_hex(3)}"
    db = f"sqlite:///{tmp}/history.sqlite"
    config = {
        "language": "id", "redis": {"url": embedded_redis_url, "prefix": prefix}, "database": {"url": db},
        "wall": {"poll_seconds": 1},
        # alarm changes wake no push stream (yet): the wall sees them at its poll, every second here
        "push": {"enabled": False},
        "web": {"host": "127.0.0.1", "port": free_port(), "workers": 1, "threads": 4},
        "alerts": {"evaluate_every": 3600, "rules": {RULE: {
            "match": {"category": ["flood"]}, "level": "critical", "scene": "flood",
            "message": {"id": "Banjir: {title}", "en": "Flood: {title}"}}}},
        "scenes": {"playlists": {"quick": [{"scene": "kpi", "seconds": 5}, {"scene": "cctv", "seconds": 5}]}},
    }
    cfg = tmp / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    log_path = tmp / "app.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DAMAMAYA_REDIS_URL", "DAMAMAYA_DATABASE_URL", "DAMAMAYA_CONFIG")}
    proc = subprocess.Popen([sys.executable, "-m", "damamaya.cli", "--config", str(cfg), "run"], cwd=ROOT, env=env,
                            stdout=log_path.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    app = RunningApp(f"http://127.0.0.1:{config['web']['port']}", proc, cfg, log_path)
    try:
        _wait_until_up(app)
        client = redis.Redis.from_url(embedded_redis_url)
        live = LiveStore(client, prefix)
        live.describe_sources({
            "calls": {"title": "Panggilan 112", "kinds": ["incident"], "interval": 5},
            "cams": {"title": "CCTV", "kinds": ["reading"], "interval": 60},
            "gauges": {"title": "Pos Air", "kinds": ["reading"], "interval": 60},
            "prices": {"title": "Harga", "kinds": ["price"], "interval": 3600}})
        history = History(db)
        history.create()
        for source, batch in records().items():
            history.apply(source, batch[:-1] if source == "gauges" else batch)  # the gauge's older levels
            live.apply(source, [batch[-1]] if source == "gauges" else batch)
        alerts = open_alerts(history, client, prefix)
        yield app, live, alerts
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _wait_until_up(app: RunningApp, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.proc.poll() is not None:
            pytest.fail(f"damamaya run exited with {app.proc.returncode}:\n{app.log()}")
        try:
            with urllib.request.urlopen(f"{app.base_url}/wall", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"the app did not answer within {timeout} s:\n{app.log()}")


def open_wall(app: RunningApp, page, query: str = "") -> None:
    page.goto(app.screen_url())  # a wall screen's link: its cookie, then /wall
    page.goto(f"{app.base_url}/wall{query}")


def wait_scene(page, name: str, timeout: int = 30_000) -> None:
    page.wait_for_selector(f"#wall-main[data-scene='{name}']", timeout=timeout)


def shown_panels(page) -> set[str]:
    return set(page.evaluate("""Array.from(document.querySelectorAll('#wall-main .panel'))
        .filter((p) => p.offsetParent !== null && p.offsetHeight > 0)
        .map((p) => Array.from(p.classList).find((c) => c.startsWith('panel-')).slice(6))"""))


def fire_flood(alerts) -> int:
    [done] = alerts.alarms.apply([Firing(RULE, "calls", "banjir-1", "critical", "Banjir", "Flood", scene="flood")])
    return done.alarm["id"]


# ---- scenes -------------------------------------------------------------------------------

def test_each_scene_shows_its_panels(wall_app, page):
    app, _live, _alerts = wall_app
    open_wall(app, page)
    wait_scene(page, "overview")
    assert shown_panels(page) == {"map", "tiles", "incidents"}
    for name, scene in BUILTIN_SCENES.items():
        page.goto(f"{app.base_url}/wall?scene={name}")
        wait_scene(page, name)
        page.wait_for_timeout(300)
        assert shown_panels(page) == set(scene.panels), name


def test_cctv_scene_shows_each_camera_with_its_state_and_only_a_safe_link(wall_app, page):
    app, _live, _alerts = wall_app
    open_wall(app, page, "?scene=cctv")
    page.wait_for_selector(".cam-card >> text=Simpang Tohpati", timeout=30_000)
    online = page.locator(".cam-card", has_text="Simpang Dewa Ruci")
    offline = page.locator(".cam-card", has_text="Simpang Tohpati")
    assert "AKTIF" in online.inner_text() and "cam-online" in online.get_attribute("class")
    assert "MATI" in offline.inner_text() and "cam-offline" in offline.get_attribute("class")
    assert online.locator("a.cam-link").get_attribute("href") == "https://cams.example/dewa-ruci.m3u8"
    assert offline.locator("a").count() == 0  # its link carries a password and a token
    assert "hunter2" not in page.content() and "token=abc" not in page.content()


def test_prices_scene_lists_the_latest_price_and_its_change(wall_app, page):
    app, _live, _alerts = wall_app
    open_wall(app, page, "?scene=prices")
    row = page.locator(".price-rows .price-row", has_text="Pasar Badung")
    row.wait_for(timeout=30_000)
    assert "13.400" in row.inner_text() and "+1.5%" in row.inner_text()


def test_a_long_list_scrolls_by_itself(wall_app, page):
    app, _live, _alerts = wall_app
    open_wall(app, page, "?scene=prices")
    page.wait_for_selector(".price-rows >> text=Pasar 39", timeout=30_000)
    box = ".panel-prices .scroll-box"
    assert page.evaluate(f"document.querySelector('{box}').scrollHeight > document.querySelector('{box}').clientHeight")
    page.wait_for_function(f"document.querySelector('{box}').scrollTop > 40", timeout=20_000)


def test_flood_scene_draws_the_gauges_levels_of_the_last_hours(wall_app, page):
    app, _live, _alerts = wall_app
    open_wall(app, page, "?scene=flood")
    page.wait_for_selector(".gauge-legend >> text=Pos Tukad Badung", timeout=30_000)
    drawn = page.evaluate("""(() => { const c = document.getElementById('wall-gauge-chart');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; })()""")
    assert drawn > 500
    page.wait_for_function("document.querySelectorAll('.wall-grid .ag-row').length === 1", timeout=10_000)
    assert "Banjir" in page.inner_text(".wall-grid .ag-row")  # the flood incidents only, not the fire


def test_unknown_scene_and_playlist_say_so_on_screen(wall_app, page):
    app, _live, _alerts = wall_app
    open_wall(app, page, "?scene=nope")
    page.wait_for_selector("#wall-unknown", timeout=30_000)
    assert "nope" in page.inner_text("#wall-unknown") and "overview" in page.inner_text("#wall-unknown")
    page.goto(f"{app.base_url}/wall?playlist={'x' * 3000}")
    page.wait_for_selector("#wall-unknown", timeout=30_000)
    assert "Traceback" not in page.content()


def test_playlist_rotates_its_scenes(wall_app, page):
    app, _live, _alerts = wall_app
    open_wall(app, page, "?playlist=quick")
    wait_scene(page, "kpi")
    wait_scene(page, "cctv", timeout=15_000)
    assert shown_panels(page) == {"cctv"}
    wait_scene(page, "kpi", timeout=15_000)


def test_no_controls_on_a_scene(wall_app, page):
    app, _live, _alerts = wall_app
    open_wall(app, page, "?scene=map")
    wait_scene(page, "map")
    assert page.locator(".leaflet-control-zoom:visible, .leaflet-control-layers:visible, button:visible").count() == 0


# ---- event mode ---------------------------------------------------------------------------

def flood_focus_ok(page) -> bool:
    """The map looks at the flooded desa: its centre lies in Sumerta Kelod's bounds."""
    return page.evaluate("""(() => { const m = window.dmy.scenes.map(); const b = window.dmy.scenes.current().bounds;
        const c = m.getCenter(); return m.getZoom() >= 14 && c.lat > b[0][0] && c.lat < b[1][0] && c.lng > b[0][1] && c.lng < b[1][1]; })()""")


def overlays_checked(page) -> dict:
    return page.evaluate("""Object.fromEntries(Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))
        .map((l) => [l.innerText.trim(), l.querySelector('input').checked]))""")


def test_a_flood_alarm_switches_the_wall_to_flood_and_back_when_it_resolves(wall_app, page):
    app, _live, alerts = wall_app
    open_wall(app, page, "?scene=kpi")
    wait_scene(page, "kpi")
    alarm_id = fire_flood(alerts)
    try:
        wait_scene(page, "flood", timeout=15_000)
        assert page.evaluate("window.dmy.scenes.current().event.alarm") == alarm_id
        page.wait_for_function("window.dmy.scenes.map() !== null", timeout=10_000)
        assert flood_focus_ok(page)
        assert shown_panels(page) == {"map", "gauges", "incidents"}
        assert overlays_checked(page) == {"Panggilan 112": False, "CCTV": False, "Pos Air": True}  # the gauges' layer
    finally:
        alerts.alarms.apply([Clearing(RULE, "calls", "banjir-1", "water went down")])
    wait_scene(page, "kpi", timeout=15_000)
    assert set(overlays_checked(page).values()) == {True}


def test_a_released_flood_alarm_gives_the_wall_back(wall_app, page):
    app, _live, alerts = wall_app
    open_wall(app, page, "?playlist=quick")
    wait_scene(page, "kpi")
    alarm_id = fire_flood(alerts)
    try:
        wait_scene(page, "flood", timeout=15_000)
        alerts.alarms.release(alarm_id, "supervisor-1")
        page.wait_for_function("['kpi', 'cctv'].includes(document.getElementById('wall-main').dataset.scene)", timeout=15_000)
        assert alerts.alarms.get(alarm_id)["state"] == "firing"  # released, not resolved
    finally:
        alerts.alarms.apply([Clearing(RULE, "calls", "banjir-1", "test over")])


# ---- 4K -----------------------------------------------------------------------------------

KECAMATAN_SHARE = """(() => {
  const map = document.getElementById('wall-map').getBoundingClientRect();
  const paths = Array.from(document.querySelectorAll('.leaflet-kecamatan-pane path'));
  const boxes = paths.map((p) => p.getBoundingClientRect());
  const top = Math.min(...boxes.map((b) => b.top)), bottom = Math.max(...boxes.map((b) => b.bottom));
  return (bottom - top) / map.height;
})()"""
TEXT_SHARE = "parseFloat(getComputedStyle(document.querySelector('.tile-label')).fontSize) / window.innerHeight"


def wall_at(browser, app: RunningApp, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    page = context.new_page()
    open_wall(app, page)
    wait_scene(page, "overview")
    page.wait_for_selector(".leaflet-kecamatan-pane path", timeout=30_000)
    page.wait_for_function("window.dmy.scenes.map() !== null", timeout=10_000)
    page.wait_for_timeout(800)
    return context, page


def test_at_4k_denpasar_fills_the_map_height(wall_app, browser):
    app, _live, _alerts = wall_app
    context, page = wall_at(browser, app, 3840, 2160)
    try:
        share = page.evaluate(KECAMATAN_SHARE)
        print(f"at 3840x2160 Denpasar's kecamatan fill {share:.0%} of the map's height")
        assert share >= 0.75
    finally:
        context.close()


def test_at_4k_text_is_as_large_relative_to_the_screen_as_at_1080p(wall_app, browser):
    app, _live, _alerts = wall_app
    shares = {}
    for width, height in ((1920, 1080), (3840, 2160)):
        context, page = wall_at(browser, app, width, height)
        try:
            shares[height] = page.evaluate(TEXT_SHARE)
            row = page.evaluate("document.querySelector('.wall-grid .ag-row') ? "
                                "document.querySelector('.wall-grid .ag-row').offsetHeight / window.innerHeight : null")
            shares[f"row{height}"] = row
        finally:
            context.close()
    print(f"tile label / screen height: {shares}")
    assert shares[2160] >= shares[1080] * 0.99
    assert shares["row2160"] >= shares["row1080"] * 0.99
