"""/publik in headless chromium against `damamaya run` (demo feeds, embedded Redis, gunicorn):
on a phone (390x844) and a wall-sized screen, every section shown, nothing private, no sideways scroll.
Here rather than in tests/public so that it shares the session's one chromium (a second
Playwright in the same process refuses to start). Screenshots go to $DAMAMAYA_SCREENSHOTS if set."""
from __future__ import annotations

import os
import time
from pathlib import Path
from datetime import datetime, timedelta, timezone

import pytest
import redis
import yaml

from tests.browser.conftest import ROOT
from tests.public.conftest import ADDRESS, CALLER, POINTS, live_records

pytestmark = pytest.mark.browser
SECTIONS = ["#pb-warnings", "#pb-floods", "#pb-complaints", "#pb-prices"]


@pytest.fixture(scope="module")
def demo_config():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for key in ("web", "database", "redis"):  # start_app gives its own port, database and embedded Redis
        config.pop(key)
    config["sources"] = {k: v for k, v in config["sources"].items() if v.get("adapter") == "demo"}
    config["public"] = {"cache_seconds": 5, "refresh_seconds": 60}
    return config


def _live(app):
    from engine.live import LiveStore

    url = yaml.safe_load(app.config_path.read_text())["redis"]["url"]  # the embedded one's password is never logged
    return LiveStore(redis.Redis.from_url(url), "dmy")


def _open(page, url: str, wanted: str, timeout: float = 60):
    """Load until `wanted` is on the page (the demo feeds fill the live store over their first polls)."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(url)
        page.wait_for_selector("#pb-prices", timeout=30000)
        if wanted in page.inner_text("body") or time.monotonic() > deadline:
            return
        time.sleep(3)


def test_publik_on_a_phone_and_a_big_screen(browser, start_app, demo_config, tmp_path_factory, embedded_redis_url):
    tmp_path = Path(os.environ.get("DAMAMAYA_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    app = start_app({**demo_config, "redis": {"url": embedded_redis_url}})
    live = _live(app)
    records = live_records(datetime.now(timezone.utc) - timedelta(minutes=1))
    for source in ("bmkg-nowcast", "pro-denpasar", "ntpc-112"):
        live.apply(source, records[source])
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = phone.new_page()
    _open(page, f"{app.base_url}/publik", "Rp")
    text = page.inner_text("body")
    for heading in ("Info Publik Kota Denpasar", "Peringatan aktif", "Banjir dan tinggi muka air",
                    "Pengaduan terbuka per desa", "Harga pangan"):
        assert heading in text
    for section in SECTIONS:
        assert page.is_visible(section)
    assert "Hujan lebat disertai angin kencang di Denpasar" in text
    assert "Siaga" in text or "Normal" in text, "the demo gauges"
    assert "Rp" in text and ("▲" in text or "▼" in text or "=" in text), "prices and their change"
    html = page.content()
    assert CALLER not in html and ADDRESS not in html
    for lat, lon in POINTS:
        assert str(lat) not in html and str(lon) not in html
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing scrolls sideways on a phone"
    page.screenshot(path=str(tmp_path / "publik-390x844.png"), full_page=True)
    page.click("text=English")
    page.wait_for_selector("text=Active warnings", timeout=30000)
    assert "Open complaints by desa" in page.inner_text("body")
    phone.close()

    wide = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = wide.new_page()
    _open(page, f"{app.base_url}/publik", "Rp")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1920
    boxes = [page.locator(s).bounding_box() for s in ("#pb-floods", "#pb-complaints", "#pb-prices")]
    assert len({round(b["x"]) for b in boxes}) == 2, "two columns under the warnings on a big screen"
    page.screenshot(path=str(tmp_path / "publik-1920x1080.png"))
    wide.close()
