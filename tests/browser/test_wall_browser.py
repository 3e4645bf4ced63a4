"""The wall in headless chromium: a newly collected incident shows on the list and the map
within the poll interval, the operator's pan survives refreshes, a failed source turns stale."""
import json
import time
from datetime import datetime, timezone

POLL_SECONDS = 1
SOURCE_INTERVAL = 1


def autogempa(when: datetime, lat: float, lon: float, magnitude: str) -> bytes:
    return json.dumps({"Infogempa": {"gempa": {
        "DateTime": when.isoformat(), "Coordinates": f"{lat},{lon}", "Magnitude": magnitude, "Kedalaman": "10 km",
        "Wilayah": "Pusat gempa di darat Denpasar", "Potensi": "Tidak berpotensi tsunami"}}}).encode()


def settled_transform(page) -> str:
    """The map pane's transform once Leaflet's pan inertia has stopped."""
    last = None
    for _ in range(40):
        now = page.evaluate("document.querySelector('.leaflet-map-pane').style.transform")
        if now == last:
            return now
        last = now
        page.wait_for_timeout(250)
    return last


def test_new_incident_reaches_list_and_map(start_app, page, tmp_path):
    feed = tmp_path / "autogempa.json"
    app = start_app({
        "language": "id",
        "wall": {"poll_seconds": POLL_SECONDS},
        # the source fails until the feed is written: keep its retries at the interval, so the budget
        # below measures the wall, not how far the collector's backoff has grown meanwhile
        "collector": {"max_backoff": SOURCE_INTERVAL},
        "sources": {"gempa": {"adapter": "bmkg-quake", "title": "BMKG Gempa", "path": str(feed), "interval": SOURCE_INTERVAL,
                              "stale_after": 60, "live_hours": 48}},
    })
    page.goto(app.screen_url())  # a wall screen's link: the token becomes a cookie, the browser lands on /wall
    assert page.url == f"{app.base_url}/wall"
    page.wait_for_selector(".wall-grid .ag-header-cell", timeout=30_000)
    page.wait_for_selector(".leaflet-container .kecamatan-label", timeout=30_000)
    assert page.locator(".wall-grid .ag-row").count() == 0
    assert page.locator("path.dmy-marker").count() == 0
    # no data yet and the file is missing: the source is failing, its chip says so
    page.wait_for_function("document.querySelector('#wall-sources').innerText.includes('BMKG Gempa')", timeout=10_000)

    # the operator pans the map; the pan must survive every refresh
    box = page.locator(".leaflet-container").bounding_box()
    page.mouse.move(box["x"] + 400, box["y"] + 400)
    page.mouse.down()
    page.mouse.move(box["x"] + 520, box["y"] + 470, steps=8)
    page.mouse.up()
    panned = settled_transform(page)
    assert panned

    feed.write_bytes(autogempa(datetime.now(timezone.utc), -8.6571, 115.2167, "4.1"))
    written = time.monotonic()
    budget_ms = (SOURCE_INTERVAL + POLL_SECONDS + 4) * 1000
    page.wait_for_selector(".wall-grid .ag-row >> text=Gempa Bumi", timeout=budget_ms)
    page.wait_for_selector("path.dmy-marker", timeout=budget_ms)
    seen_after = time.monotonic() - written
    row = page.locator(".wall-grid .ag-row").first.inner_text()
    assert "Gempa Bumi" in row and "Baru" in row
    assert page.locator("path.dmy-marker").count() == 1
    quake_tile = page.locator("#\\{\\\"key\\\"\\:\\\"latest_quake\\\"\\,\\\"type\\\"\\:\\\"tile-value\\\"\\}")
    page.wait_for_function("document.body.innerText.includes('M4.1')", timeout=budget_ms)
    assert quake_tile.inner_text() == "M4.1"  # on the latest-quake tile, not elsewhere on the page
    assert page.evaluate("document.querySelector('.leaflet-map-pane').style.transform") == panned
    print(f"new incident on the wall {seen_after:.1f} s after it was written")

    # the feed breaks: last good data stays, marked stale since the last success
    feed.write_bytes(b"<html><body>502 Bad Gateway</body></html>")
    page.wait_for_function("document.body.innerText.includes('data lama sejak')", timeout=budget_ms + 3000)
    assert page.locator("path.dmy-marker").count() == 1
    assert "Gempa Bumi" in page.locator(".wall-grid .ag-row").first.inner_text()
    stale_tiles = page.locator(".tile.stale")
    assert stale_tiles.count() >= 1
    assert "data lama sejak" in stale_tiles.first.inner_text()
    # the quake tile rests on the failing source: it keeps its last value, marked stale
    quake_box = page.locator("#\\{\\\"key\\\"\\:\\\"latest_quake\\\"\\,\\\"type\\\"\\:\\\"tile\\\"\\}")
    assert "stale" in quake_box.get_attribute("class").split()
    assert quake_tile.inner_text() == "M4.1"


HOSTILE = '<img src=x onerror="window.__xss=(window.__xss||0)+1">'


def test_a_source_title_is_shown_as_text_and_never_runs(start_app, page, tmp_path):
    """Leaflet's layer control writes overlay names as HTML: a title from config must arrive escaped."""
    feed = tmp_path / "autogempa.json"
    feed.write_bytes(autogempa(datetime.now(timezone.utc), -8.6571, 115.2167, "4.1"))
    app = start_app({
        "language": "id",
        "wall": {"poll_seconds": POLL_SECONDS},
        "sources": {"gempa": {"adapter": "bmkg-quake", "title": HOSTILE, "path": str(feed), "interval": SOURCE_INTERVAL,
                              "stale_after": 60, "live_hours": 48}},
    })
    app.sign_in(page, "supervisor", "/wall")  # may open /wall and /sources
    for path in ("/wall?controls=1", "/sources"):
        page.goto(f"{app.base_url}{path}")
        page.wait_for_function(f"document.body.innerText.includes({HOSTILE!r})", timeout=30_000)
        page.wait_for_timeout(1500)  # an injected image would have failed to load and fired by now
        assert page.evaluate("window.__xss") is None, path
        assert page.locator("img[src=x]").count() == 0, path
    page.goto(f"{app.base_url}/wall?controls=1")
    label = page.locator(".leaflet-control-layers-overlays label")
    label.first.wait_for(timeout=30_000)
    assert HOSTILE in label.first.inner_text()


def test_a_dispatcher_opens_an_incident_from_the_wall_and_a_wall_screen_cannot(start_app, browser, tmp_path):
    """A person who may open /insiden opens the incident of a row in a tab of its own; a wall
    screen's rows open nothing (its role may not see private details)."""
    feed = tmp_path / "autogempa.json"
    feed.write_bytes(autogempa(datetime.now(timezone.utc), -8.6571, 115.2167, "4.1"))
    app = start_app({"language": "id", "wall": {"poll_seconds": POLL_SECONDS},
                     "sources": {"gempa": {"adapter": "bmkg-quake", "title": "BMKG Gempa", "path": str(feed),
                                           "interval": SOURCE_INTERVAL, "stale_after": 60, "live_hours": 48}}})
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = context.new_page()
        app.sign_in(page, "dispatcher")
        page.wait_for_selector("#wall.links .wall-grid .ag-row", timeout=30_000)
        with context.expect_page(timeout=10_000) as opened:
            page.click(".wall-grid .ag-row .ag-cell")
        incident = opened.value
        incident.wait_for_load_state()
        assert "/insiden?uid=gempa:" in incident.url
        assert "Pusat gempa di darat Denpasar" in incident.content()  # the record itself, from history
    finally:
        context.close()

    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = context.new_page()
        page.goto(app.screen_url())
        page.wait_for_selector(".wall-grid .ag-row", timeout=30_000)
        assert page.locator("#wall.links").count() == 0
        page.click(".wall-grid .ag-row .ag-cell")
        page.wait_for_timeout(500)
        assert len(context.pages) == 1
    finally:
        context.close()
