"""/history in a real browser: change a filter, see the chart and table change, export exactly the filtered rows.

Drives Debian's chromium through Playwright (the `browser` and `start_app` fixtures of
tests/browser/conftest.py) against the whole app started with `damamaya run`, on a
temp SQLite history seeded by damamaya.seed.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
UTC = timezone.utc


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A SQLite history seeded by damamaya.seed, plus one record whose title is a spreadsheet formula."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from engine.analytics.facts import update_rollups
    from engine.history import History
    from engine.records import Incident
    from damamaya.seed import seed

    tmp = tmp_path_factory.mktemp("history-app")
    db_url = f"sqlite:///{tmp / 'history.sqlite'}"
    history = History(db_url)
    now = datetime.now(UTC).replace(microsecond=0)
    seed(history, 4000, days=60, end=now, seed=7)
    trap = Incident(id="trap-1", source="seed-112", category="fire", severity="critical", status="closed",
                    reported_at=now - timedelta(days=2), updated_at=now - timedelta(days=2), lat=-8.6705, lon=115.2126,
                    kecamatan="Denpasar Barat", desa="Dauh Puri Kangin", desa_code="51.71.03.2006", in_city=True,
                    title="=HYPERLINK(\"http://x\") Jl. Teuku Umar")
    update_rollups(history, history.apply("seed-112", [trap]).changed)
    yield db_url, history
    history.dispose()


@pytest.fixture
def history_app(seeded, start_app):
    """The whole app as a user starts it (`damamaya run`: embedded Redis, collector, gunicorn),
    through the browser suite's start_app fixture, on the seeded history."""
    db_url, history = seeded
    app = start_app({"language": "en", "database": {"url": db_url}})
    return {"base": app.base_url, "history_url": f"{app.base_url}/history", "history": history, "app": app}


def _analyst_page(history_app, browser, **options):
    """A page signed in as an analyst (who may export); bypass_csp as in conftest's `page`."""
    page = browser.new_page(bypass_csp=True, **options)
    history_app["app"].sign_in(page, "analyst", "/history")
    return page


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
    page = _analyst_page(history_app, browser, viewport={"width": 1600, "height": 1400}, accept_downloads=True)
    page.set_default_timeout(20000)
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
    page = _analyst_page(history_app, browser, accept_downloads=True)
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
