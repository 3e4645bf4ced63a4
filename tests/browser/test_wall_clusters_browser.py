"""The wall in headless chromium with a layer of 100,000 live incidents: the server clusters it
per viewport, the map shows clusters (not 100,000 markers), and zooming in to the points zoom
shows the incidents themselves."""
import random
from datetime import datetime, timezone

import redis

from engine.live import LiveStore
from engine.records import Incident

PREFIX = "clusterwall"
COUNT = 100_000


def fill(redis_url: str, count: int) -> None:
    live = LiveStore(redis.Redis.from_url(redis_url), PREFIX)
    now = datetime.now(timezone.utc)
    rng = random.Random(11)
    incidents = [Incident(id=f"b{i}", source="bulk", category="medical", severity=rng.choice(["low", "medium", "high", "critical"]),
                          reported_at=now, updated_at=now, lat=-8.70 + rng.random() * 0.1, lon=115.17 + rng.random() * 0.09,
                          in_city=True, desa="x") for i in range(count)]
    live.describe_sources({**live.sources(), "bulk": {"title": "Bulk", "kinds": ["incident"], "interval": 5, "stale_after": 600}})
    for start in range(0, count, 20_000):
        live.apply("bulk", incidents[start:start + 20_000])


def test_a_layer_of_100000_incidents_shows_as_server_clusters(start_app, page, embedded_redis_url):
    live = LiveStore(redis.Redis.from_url(embedded_redis_url), PREFIX)
    for key in live.r.scan_iter(match=f"{PREFIX}:*"):
        live.r.delete(key)
    app = start_app({"language": "id", "redis": {"url": embedded_redis_url, "prefix": PREFIX},
                     "wall": {"poll_seconds": 2, "cluster_above": 20_000, "points_zoom": 17}, "sources": {}})
    fill(embedded_redis_url, COUNT)
    asked = []
    page.on("request", lambda r: asked.append(r.url.split("?")[1]) if "/wall/data/clusters/bulk/" in r.url else None)
    page.goto(app.screen_url())
    page.wait_for_selector(".leaflet-container .cluster-icon", timeout=60_000)
    page.wait_for_timeout(1500)  # a map that moved after opening would ask for its new view's clusters by now
    assert len(set(asked)) == 1, asked  # the map opens where its scene looks: one view, asked for once
    clusters = page.locator(".cluster-icon").count()
    assert 0 < clusters < 2_000
    assert page.locator("path.dmy-marker").count() < 2_000  # the 100,000 points never all reach the browser
    shown = page.evaluate("Array.from(document.querySelectorAll('.cluster-icon span')).map(s => +s.innerText)"
                          ".reduce((a, b) => a + b, 0)")
    assert shown > COUNT / 2  # the viewport's clusters hold the bulk of the city's incidents
    print(f"{clusters} clusters holding {shown} incidents")

    # zoomed in to the points zoom: the incidents of the viewport themselves, no clusters
    page.evaluate("dash_clientside.set_props('wall-map', {viewport: {center: [-8.65, 115.215], zoom: 17, transition: 'setView'}})")
    page.wait_for_function("document.querySelectorAll('.cluster-icon').length === 0 && "
                           "document.querySelectorAll('path.dmy-marker').length > 0", timeout=30_000)
    assert page.locator("path.dmy-marker").count() < 5_000


def test_a_new_incident_arrives_as_an_edit_of_the_layer_the_browser_holds(start_app, page, embedded_redis_url):
    """After the first fetch, a change reaches the map as the poll's feature edit: the layer URL is not fetched again."""
    live = LiveStore(redis.Redis.from_url(embedded_redis_url), PREFIX)
    for key in live.r.scan_iter(match=f"{PREFIX}:*"):
        live.r.delete(key)
    app = start_app({"language": "id", "redis": {"url": embedded_redis_url, "prefix": PREFIX},
                     "wall": {"poll_seconds": 1}, "sources": {}})
    now = datetime.now(timezone.utc)
    spots = [(-8.62, 115.19), (-8.66, 115.24), (-8.70, 115.20), (-8.64, 115.22)]  # kilometres apart: never clustered
    incidents = [Incident(id=f"n{i}", source="bulk", category="fire", severity="high", reported_at=now, updated_at=now,
                          lat=lat, lon=lon, in_city=True, desa="x") for i, (lat, lon) in enumerate(spots)]
    live.describe_sources({**live.sources(), "bulk": {"title": "Bulk", "kinds": ["incident"], "interval": 5, "stale_after": 600}})
    live.apply("bulk", incidents[:3])
    fetched, shapes = [], []
    page.on("request", lambda r: fetched.append(r.url) if "/wall/data/points/bulk/" in r.url else None)
    page.on("request", lambda r: shapes.append(r.url) if "/wall/data/shapes/" in r.url else None)
    page.goto(app.screen_url())
    page.wait_for_function("document.querySelectorAll('path.dmy-marker').length === 3", timeout=60_000)
    assert len(fetched) == 1

    live.apply("bulk", incidents[3:])
    page.wait_for_function("document.querySelectorAll('path.dmy-marker').length === 4", timeout=30_000)
    assert len(fetched) == 1

    # a removal and an update: edits again, applied to the copy the browser holds
    live.apply("bulk", [incidents[0].model_copy(update={"severity": "low"})], removals=["n1"])
    page.wait_for_function("document.querySelectorAll('path.dmy-marker').length === 3", timeout=30_000)
    assert len(fetched) == 1
    assert shapes == []  # no layer here has lines or areas: their (empty) shapes are never fetched
