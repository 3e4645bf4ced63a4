"""The /kpi and /history callbacks, called as Dash calls them, on a seeded temp history (no browser)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine.analytics.config import KpiConfig
from engine.analytics.kpi import Kpi

UTC = timezone.utc


@pytest.fixture(scope="module")
def app_env(tmp_path_factory, embedded_redis_url):
    from damamaya import runtime
    from engine.history import History
    from damamaya.seed import seed

    tmp = tmp_path_factory.mktemp("screens")
    url = f"sqlite:///{tmp / 'h.sqlite'}"
    history = History(url)
    now = datetime.now(UTC).replace(microsecond=0)
    seed(history, 3000, days=40, end=now, seed=11)
    # the flood gauges were down for two of the last seven days: their KPIs must say so
    history.outage_started("seed-flood-gauges", now - timedelta(days=3), "timeout")
    history.outage_ended("seed-flood-gauges", now - timedelta(days=1))
    config = tmp / "config.yaml"
    # Redis counts sign-in attempts (security/): signing in needs it
    config.write_text(f"language: en\ndatabase:\n  url: {url}\nredis:\n  url: {embedded_redis_url}\nauth:\n  login_rate: 1000/minute\n")
    mp = pytest.MonkeyPatch()
    mp.setenv("DAMAMAYA_CONFIG", str(config))
    mp.delenv("DAMAMAYA_DATABASE_URL", raising=False)
    for fn in (runtime.config, runtime.history):
        fn.cache_clear()
    yield now
    mp.undo()
    for fn in (runtime.config, runtime.history):
        fn.cache_clear()
    history.dispose()


def _text(component) -> str:
    """All the text of a Dash component tree."""
    if component is None:
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    if isinstance(component, (list, tuple)):
        return " ".join(_text(c) for c in component)
    return _text(getattr(component, "children", None))


def test_kpi_screen_renders_every_section_and_marks_the_outage(app_env):
    from callbacks import kpi as cb

    stamp, cards, sections, error = cb.render("7d", 0)
    assert error == "" and stamp.startswith("as of")
    assert len(cards) == 6
    text = _text(sections)
    for label in ("112 emergency calls", "Citizen complaints", "Floods", "Traffic", "Staple prices",
                  "Response time on scene (p90)", "Backlog over 14 days", "CCTV online", "vs ceiling"):
        assert label in text
    floods = _text([s for s in sections if s.id == "kpi-section-floods"])
    assert "INCOMPLETE" in floods and "source down" in floods
    calls = _text([s for s in sections if s.id == "kpi-section-calls"])
    assert "INCOMPLETE" not in calls and "completeness 100.0 %" in calls and "newest data" in calls


@pytest.mark.parametrize("metric", ["calls", "response_p90", "complaints", "resolved_pct", "backlog", "floods", "traffic"])
@pytest.mark.parametrize("level", ["kecamatan", "desa"])
def test_area_comparison_ranks_every_area(app_env, metric, level):
    from callbacks import kpi as cb

    table, fig = cb.area(metric, level, "30d", 0)
    rows = table.children[1].children[1].children
    assert len(rows) == (4 if level == "kecamatan" else 43)
    assert len(fig.data[0].locations) == len(rows)
    values = [r.children[2].children for r in rows]
    numbers = [float(v.replace(",", "")) for v in values if v != "—"]
    assert numbers, "no area has a value"
    higher_is_better = metric == "resolved_pct"
    assert numbers == sorted(numbers, reverse=not higher_is_better)  # worst first


def test_history_views_agree(app_env):
    from callbacks import history as cb

    data = {"q": "?range=all&kecamatan=51.71.01", "at": int(app_env.timestamp())}
    out = cb.summary(data)
    table, count, _page, prev_disabled, _next_disabled, csv_href, geo_href, error, cat_fig, area_fig, map_fig, _ = out
    total = int(count.split()[0].replace(",", ""))
    assert error == "" and prev_disabled
    assert sum(cat_fig.data[0].x) == total == sum(area_fig.data[0].x)
    assert sum(z for z in map_fig.data[0].z) == total
    assert "kecamatan=51.71.01" in csv_href and "at=" in csv_href and geo_href.startswith("/history/export.geojson")
    timeline, title, heat = cb.timeline(data)
    assert sum(timeline.data[0].y) == total == sum(map(sum, heat.data[0].z))
    assert title.startswith("Count per")


def test_value_and_trend_texts():
    from layouts.parts.kpi import trend_text, value_text

    cfg = KpiConfig()
    assert value_text(Kpi("calls.response_time", 630, "s"), "id") == "10,5 mnt"
    assert value_text(Kpi("complaints.resolved", 91.25, "%"), "en") == "91.2 %"
    assert value_text(Kpi("floods.max_alert", 2, "level"), "id") == "Siaga II (kritis)"
    assert value_text(Kpi("calls.volume", 12345, "calls"), "id") == "12.345"
    assert value_text(Kpi("calls.volume", None, "calls"), "en") == "—"
    worse = Kpi("calls.response_time", 630, "s", previous=600, completeness=1.0)
    assert trend_text(worse, cfg.targets["calls.response_time"], "en") == ("▲ +0.5 min", "trend-bad")
    better = Kpi("complaints.resolved", 90, "%", previous=80, completeness=1.0)
    assert trend_text(better, cfg.targets["complaints.resolved"], "en") == ("▲ +10.0 pp", "trend-good")
    assert trend_text(Kpi("calls.volume", 5, "calls"), None, "en")[1] == "trend-none"


def test_unknown_period_or_metric_is_refused_before_any_computation(app_env):
    """Made-up values never reach a query or a cache key: a clear 400, not a 500 or a recomputation."""
    from werkzeug.exceptions import BadRequest

    from callbacks import kpi as cb

    with pytest.raises(BadRequest, match="unknown period"):
        cb.render("7d-" + "x" * 50, 0)
    with pytest.raises(BadRequest, match="unknown metric"):
        cb.area("calls; DROP TABLE", "kecamatan", "30d", 0)
    with pytest.raises(BadRequest, match="unknown level"):
        cb.area("calls", "province", "30d", 0)
    with pytest.raises(BadRequest, match="unknown period"):
        cb.area("calls", "kecamatan", ["30d"], 0)


def _callback_request(app, output_part: str, values: dict, changed: str) -> dict:
    """The body a browser posts for the callback whose outputs mention `output_part`,
    with `values` by "id.property" (inputs and states not given are None)."""
    key = next(k for k in app.callback_map if output_part in k)
    spec = app.callback_map[key]

    def item(dep):
        if isinstance(dep["id"], str) and dep["id"].startswith("{"):
            return []  # a pattern-matching input: no such component on the page
        return {"id": dep["id"], "property": dep["property"], "value": values.get(f"{dep['id']}.{dep['property']}")}

    outputs = [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in key.strip(".").split("...")]
    return {"output": key, "outputs": outputs, "inputs": [item(d) for d in spec["inputs"]],
            "state": [item(d) for d in spec["state"]], "changedPropIds": [changed]}


@pytest.mark.parametrize("values, changed, why", [
    ({"hist-dates.start_date": "junk", "hist-dates.end_date": "2026-01-02"}, "hist-dates.start_date", "start_date"),
    ({"hist-dates.start_date": "2026-01-05", "hist-dates.end_date": "2026-01-02"}, "hist-dates.end_date", "before"),
    ({"hist-range.value": ["30d"]}, "hist-range.value", "range"),
    ({"hist-range.value": "forever"}, "hist-range.value", "range"),
    ({"hist-kind.value": "person"}, "hist-kind.value", "kind"),
    ({"hist-category.value": "fire"}, "hist-category.value", "category"),
    ({"hist-q.value": {"$ne": 1}}, "hist-q.value", "q"),
    ({"hist-timeline.clickData": {"points": [{"customdata": ["yesterday", "today"]}]}}, "hist-timeline.clickData", "timeline"),
    ({"hist-timeline.clickData": {"points": [{"customdata": "2026-01-01"}]}}, "hist-timeline.clickData", "timeline"),
    ({"hist-heatmap.clickData": {"points": [{"customdata": ["x", 3]}]}}, "hist-heatmap.clickData", "heatmap"),
    ({"hist-heatmap.clickData": {"points": [{"customdata": [9, 3]}]}}, "hist-heatmap.clickData", "heatmap"),
    ({"hist-area.clickData": {"points": [{"customdata": "51.71.01.99999999999999999999"}]}}, "hist-area.clickData", "area"),
    ({"hist-map.clickData": {"points": "all"}}, "hist-map.clickData", "map"),
    ({"hist-category.clickData": {"points": [{"customdata": {"a": 1}}]}}, "hist-category.clickData", "category"),
    ({"hist-state.data": {"q": "", "at": "noon"}}, "hist-reset.n_clicks", "history state"),
    ({"hist-state.data": [1]}, "hist-reset.n_clicks", "history state"),
])
def test_history_refuses_made_up_inputs_with_a_reason(app_env, sign_in_as, values, changed, why):
    import app as app_module

    state = values.pop("hist-state.data", {"q": "", "at": int(app_env.timestamp())})
    body = _callback_request(app_module.app, "hist-loc.search", {"hist-state.data": state, **values}, changed)
    response = sign_in_as(app_module.server, "analyst").post("/_dash-update-component", json=body)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert why in response.get_data(as_text=True)


def test_history_views_refuse_a_made_up_state(app_env, sign_in_as):
    import app as app_module

    for part in ("hist-table.children", "hist-timeline.figure"):
        body = _callback_request(app_module.app, part, {"hist-state.data": {"q": 7}}, "hist-state.data")
        response = sign_in_as(app_module.server, "analyst").post("/_dash-update-component", json=body)
        assert response.status_code == 400 and "history state" in response.get_data(as_text=True)


def test_a_good_history_input_still_works_through_the_endpoint(app_env, sign_in_as):
    import app as app_module

    body = _callback_request(app_module.app, "hist-loc.search",
                             {"hist-state.data": {"q": "", "at": int(app_env.timestamp())}, "hist-range.value": "7d",
                              "hist-kind.value": "incident"}, "hist-range.value")
    response = sign_in_as(app_module.server, "analyst").post("/_dash-update-component", json=body)
    assert response.status_code == 200
    assert response.get_json()["response"]["hist-loc"]["search"] == "?range=7d"


def test_kpi_refusals_never_reach_the_cache():
    from engine.analytics.service import AnalyticsService, BadInput
    from engine.cache import DictCache

    class NoEngine:
        url = "sqlite://"

    service = AnalyticsService.__new__(AnalyticsService)  # its checks run before any engine is touched
    service.engine, service.kpi_config, service.cache = NoEngine(), KpiConfig(), DictCache()
    for period in ("30d" + "x" * i for i in range(1, 50)):
        with pytest.raises(BadInput):
            service.kpi_report(period, datetime.now(UTC))
        with pytest.raises(BadInput):
            service.area_values("calls", "kecamatan", period, datetime.now(UTC))
    assert service.cache.items == {}


def test_a_database_error_from_a_bad_filter_does_not_claim_the_database_is_unreachable():
    from sqlalchemy.exc import InterfaceError, OperationalError

    from engine.analytics.service import unreachable

    assert not unreachable(OperationalError("SELECT ...", {}, Exception("fts5: syntax error near \"\"")))
    assert unreachable(OperationalError("connect", {}, Exception("unable to open database file")))
    assert unreachable(OperationalError("connect", {}, Exception('connection to server at "127.0.0.1", port 5432 failed: Connection refused')))
    assert unreachable(InterfaceError("connect", {}, Exception("closed")))
