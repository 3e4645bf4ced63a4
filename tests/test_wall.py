"""The wall's server side: views arithmetic, the read model, and the poll through Dash's real HTTP endpoint."""
import json
from datetime import datetime, timedelta, timezone

import pytest

from engine.wall import views
from engine.live import LiveStore
from engine.records import Incident, Price, Reading
from tests.conftest import dash_app_on

NOW = datetime(2026, 11, 27, 4, 30, tzinfo=timezone.utc)


def rec(model, **kw):
    return model(**kw).model_dump(mode="json")


def call(i, minutes_ago, **kw):
    t = NOW - timedelta(minutes=minutes_ago)
    base = dict(id=f"c{i}", source="calls", category="medical", reported_at=t, updated_at=t, lat=-8.65, lon=115.22,
                in_city=True, desa="Dauh Puri", severity="high")
    return rec(Incident, **{**base, **kw})


def test_tiles_count_what_they_say():
    records = [
        call(1, 10), call(2, 50, category="hoax", severity="low"), call(3, 70, status="closed"),
        call(4, 5, severity="critical", in_city=False),
        rec(Incident, id="k1", source="pro", category="waste", reported_at=NOW - timedelta(days=9), updated_at=NOW - timedelta(days=9),
            details={"resolution_due": (NOW - timedelta(days=4)).isoformat()}, status="in_progress", severity="low"),
        rec(Incident, id="k2", source="pro", category="waste", reported_at=NOW - timedelta(days=1), updated_at=NOW,
            details={"resolution_due": (NOW + timedelta(days=4)).isoformat()}),
        rec(Reading, id="g1", source="gauges", station="g1", quantity="water_level", value=870, alert_level=2, observed_at=NOW),
        rec(Reading, id="g2", source="gauges", station="g2", quantity="water_level", value=100, alert_level=0, observed_at=NOW),
        rec(Price, id="p1", source="prices", commodity="cabai_rawit_merah", market="Pasar Badung", value=50000, date=NOW - timedelta(days=1)),
        rec(Price, id="p2", source="prices", commodity="cabai_rawit_merah", market="Pasar Badung", value=55000, date=NOW),
        rec(Price, id="p3", source="prices", commodity="beras_medium", market="Pasar Badung", value=13000, date=NOW - timedelta(days=1)),
        rec(Price, id="p4", source="prices", commodity="beras_medium", market="Pasar Badung", value=13100, date=NOW),
        rec(Incident, id="q", source="bmkg", category="earthquake", reported_at=NOW - timedelta(hours=3), updated_at=NOW,
            lat=-8.9, lon=115.5, in_city=False, details={"magnitude": 4.6, "region": "Nusa Penida"}),
    ]
    tiles = {t["key"]: t for t in views.wall_tiles(records, NOW)}
    # open and not outside the city: c1, c2 (a hoax, still open), k1, k2 (no location); c4 is outside, c3 closed
    assert tiles["open_incidents"]["value"] == 4
    assert tiles["calls_hour"]["value"] == 3  # c1, c2, c4; c2 is a hoax
    assert tiles["calls_hour"]["detail"] == {"msg": "wall.tile.calls_hour.detail", "n": 2}
    assert tiles["gauges_alert"]["value"] == 1
    assert tiles["gauges_alert"]["detail"] == {"msg": "wall.tile.gauges_alert.detail", "level": {"msg": "siaga.2"}}
    assert tiles["complaints_overdue"]["value"] == 1 and tiles["complaints_overdue"]["detail"]["n"] == 2
    assert tiles["price_change"]["value"] == "+10.0%" and tiles["price_change"]["detail"]["commodity"] == "cabai rawit merah"
    assert tiles["latest_quake"]["value"] == "M4.6" and tiles["latest_quake"]["detail"]["region"] == "Nusa Penida"
    assert tiles["calls_hour"]["sources"] == ["calls"]


def test_tiles_speak_through_the_catalog():
    from layouts.messages import localize

    records = [rec(Reading, id="g1", source="gauges", station="g1", quantity="water_level", value=870, alert_level=2,
                   observed_at=NOW), call(1, 10)]
    tiles = {t["key"]: t for t in localize(views.wall_tiles(records, NOW), "id")}
    assert tiles["gauges_alert"]["detail"] == "tertinggi: Siaga II"
    assert tiles["calls_hour"]["detail"] == "1 darurat"
    assert [p["label"] for p in tiles["open_incidents"]["parts"]] == ["Kritis", "Tinggi", "Sedang", "Rendah"]
    english = {t["key"]: t for t in localize(views.wall_tiles(records, NOW), "en")}
    assert english["calls_hour"]["detail"] == "1 emergencies"


def test_views_hold_no_words():
    """Everything a wall shows in words is a catalog key; the engine's views return none."""
    import inspect

    source = inspect.getsource(views)
    for word in ("terbuka", "kapal", "luar Denpasar", "km/j", "Siaga II", "darurat", "WITA\"", "stasiun"):
        assert word not in source, word


def test_private_details_never_reach_the_wall():
    r = call(1, 1, details={"private": {"caller": "081234567890"}})
    points, _ = views.layer_geojson([r])
    row = views.incident_row(r)
    assert "081234567890" not in json.dumps(points) + json.dumps(row)


def test_rows_newest_first_and_limited():
    rows = views.incident_rows([call(i, i) for i in range(30)], limit=10)
    assert [r["uid"] for r in rows] == [f"calls:c{i}" for i in range(10)]


@pytest.fixture(scope="module")
def dash_app(tmp_path_factory, embedded_redis_url):
    yield from dash_app_on(tmp_path_factory, embedded_redis_url, "walltest")


def _poll_request(app, state, sources):
    key = next(k for k in app.callback_map if "wall-state.data" in k)
    outputs = [{"id": "wall-state", "property": "data"},
               [{"id": {"source": s, "type": "layer"}, "property": "data"} for s in sources],
               {"id": "wall-tiles", "property": "data"}, {"id": "wall-health", "property": "data"},
               {"id": "wall-grid-changes", "property": "data"}, {"id": "wall-opversions", "property": "data"}]
    return {"output": key, "outputs": outputs,
            "inputs": [{"id": "wall-wake", "property": "data", "value": {"n": 1, "reason": "idle"}}],
            "state": [{"id": "wall-state", "property": "data", "value": state},
                      {"id": "wall-opversions", "property": "data", "value": None}],
            "changedPropIds": ["wall-wake.data"]}


def first_state() -> dict:
    from engine.wall.state import new_screen_id
    from layouts.parts import wall as parts

    return parts.model().snapshot(new_screen_id()).state.model_dump()


def test_poll_sends_nothing_when_nothing_changed_and_little_when_something_did(dash_app, sign_in_as):
    from damamaya import runtime

    live: LiveStore = runtime.live()
    live.r.flushdb()
    live.describe_sources({"calls": {"title": "112", "kinds": ["incident"], "interval": 1}})
    t = datetime.now(timezone.utc)
    live.apply("calls", [Incident(id="c1", source="calls", category="fire", reported_at=t, updated_at=t, lat=-8.65, lon=115.22)])
    state = first_state()
    client = sign_in_as(dash_app.server, "operator")

    quiet = client.post("/_dash-update-component", json=_poll_request(dash_app, state, ["calls"]))
    assert quiet.status_code == 204 and quiet.data == b""

    live.apply("calls", [Incident(id="c2", source="calls", category="accident", reported_at=t, updated_at=t, lat=-8.66, lon=115.21)])
    busy = client.post("/_dash-update-component", json=_poll_request(dash_app, state, ["calls"]))
    assert busy.status_code == 200
    response = busy.get_json()["response"]
    grid = response["wall-grid-changes"]["data"]
    assert [r["uid"] for r in grid["upsert"]] == ["calls:c2"] and grid["remove"] == []
    layer = next(v for k, v in response.items() if '"layer"' in k)["data"]
    # the screen holds the layer it was first sent: only the new feature travels
    [insert] = layer["ops"]
    assert insert[:2] == ["u", "calls:c2"] and insert[3]["properties"]["uid"] == "calls:c2" and insert[4] is None
    assert "calls:c1" not in json.dumps(layer)
    assert "wall-health" not in response  # health did not change: not sent
    new_state = response["wall-state"]["data"]
    again = client.post("/_dash-update-component", json=_poll_request(dash_app, new_state, ["calls"]))
    assert again.status_code == 204


def test_an_alarm_change_moves_only_the_opversions_store_of_the_poll(dash_app, sign_in_as):
    """The alarm, event-mode and panel callbacks are not polled: the wall's one poll moves
    `wall-opversions` when alarms or operator actions changed, and they follow it."""
    from damamaya import runtime

    live: LiveStore = runtime.live()
    live.r.flushdb()
    live.describe_sources({"calls": {"title": "112", "kinds": ["incident"], "interval": 1}})
    state = first_state()
    client = sign_in_as(dash_app.server, "operator")
    body = _poll_request(dash_app, state, [])
    assert client.post("/_dash-update-component", json=body).status_code == 204

    live.r.hincrby(live.key("opversions"), "alarms", 1)
    response = client.post("/_dash-update-component", json=body).get_json()["response"]
    assert response == {"wall-opversions": {"data": {"alarms": 1, "ops": 0}}}
    body["state"][1]["value"] = {"alarms": 1, "ops": 0}  # what the screen now holds
    assert client.post("/_dash-update-component", json=body).status_code == 204
    body["state"][1]["value"] = {"alarms": "many"}
    refused = client.post("/_dash-update-component", json=body)
    assert refused.status_code == 400 and "wall operator versions" in refused.text


def test_a_change_in_a_big_layer_is_sent_as_a_small_patch(dash_app, sign_in_as):
    from damamaya import runtime

    live: LiveStore = runtime.live()
    live.r.flushdb()
    live.describe_sources({"calls": {"title": "112", "kinds": ["incident"], "interval": 1}})
    t = datetime.now(timezone.utc)
    many = [Incident(id=f"c{i:04d}", source="calls", category="fire", reported_at=t, updated_at=t,
                     lat=-8.65 + i * 1e-5, lon=115.22) for i in range(2000)]
    live.apply("calls", many)
    state = first_state()
    live.apply("calls", [many[7].model_copy(update={"status": "dispatched", "severity": "critical"})],
               removals=["c0003"])
    client = sign_in_as(dash_app.server, "operator")
    response = client.post("/_dash-update-component", json=_poll_request(dash_app, state, ["calls"])).get_json()["response"]
    layer = next(v for k, v in response.items() if '"layer"' in k)["data"]
    ops = layer["ops"]
    assert ops is not None, "expected feature edits, not a fetch of the whole layer"
    assert sorted((op[0], op[1]) for op in ops) == [("d", "calls:c0003"), ("u", "calls:c0007")]
    assert len(json.dumps(layer)) < 2000


def test_tiles_merged_per_source_equal_tiles_over_everything():
    import random

    rng = random.Random(5)
    records = []
    for i in range(300):
        source = rng.choice(["a", "b", "c"])
        kind = rng.choice(["call", "complaint", "gauge", "price", "quake"])
        t = NOW - timedelta(minutes=rng.randint(0, 180))
        if kind == "call":
            records.append(rec(Incident, id=f"{i}", source=source, category=rng.choice(["medical", "hoax", "fire"]),
                               reported_at=t, updated_at=t, severity=rng.choice(["low", "high", "critical"]),
                               status=rng.choice(["new", "closed"]), in_city=rng.choice([True, False])))
        elif kind == "complaint":
            records.append(rec(Incident, id=f"{i}", source=source, category="waste", reported_at=t, updated_at=t,
                               details={"resolution_due": (t + timedelta(minutes=rng.randint(-60, 60))).isoformat()}))
        elif kind == "gauge":
            records.append(rec(Reading, id=f"{i}", source=source, station=f"g{i}", quantity="water_level", value=1,
                               alert_level=rng.randint(0, 3), observed_at=t))
        elif kind == "price":
            records.append(rec(Price, id=f"{i}", source=source, commodity=f"c{i % 4}", market=source,
                               value=rng.randint(1000, 2000), date=NOW - timedelta(days=rng.randint(0, 3))))
        else:
            records.append(rec(Incident, id=f"{i}", source=source, category="earthquake", reported_at=t, updated_at=t,
                               in_city=False, severity=rng.choice(["info", "low"]), details={"magnitude": rng.randint(30, 60) / 10}))
    whole = views.wall_tiles(records, NOW)
    parts = [views.wall_tiles([r for r in records if r["source"] == s], NOW) for s in "abc"]
    merged = views.merge_tiles(parts)
    strip = lambda tiles: [{k: v for k, v in t.items() if k not in ("parts", "score")} for t in tiles]  # noqa: E731
    assert strip(merged) == strip(whole)
    assert merged[0]["parts"] == whole[0]["parts"]


def test_source_headlines():
    cams = [rec(Reading, id=f"cam{i}", source="cctv", station=f"cam{i}", quantity="camera_online", value=float(i % 4 != 0),
                alert_level=int(i % 4 == 0), observed_at=NOW) for i in range(8)]
    assert views.source_headline(cams) == {"value": "6/8", "label": {"msg": "wall.headline.online"}, "level": "medium"}
    calls = [call(1, 5, severity="critical"), call(2, 5, status="closed")]
    assert views.source_headline(calls) == {"value": "1", "label": {"msg": "wall.headline.open"}, "level": "critical"}
    assert views.source_headline([]) is None


def test_sources_status_and_screen_heartbeat():
    from engine.source_health import screen_rows, source_rows, status_of

    now = NOW
    meta = {"enabled": True, "stale_after": 60}
    assert status_of({"enabled": False}, None, now) == "disabled"
    assert status_of(meta, None, now) == "waiting"
    assert status_of(meta, {"last_attempt": "x", "status": "failing"}, now) == "failing"
    fresh = {"last_attempt": "x", "status": "ok", "last_success": (now - timedelta(seconds=30)).isoformat()}
    late = {**fresh, "last_success": (now - timedelta(seconds=90)).isoformat()}
    assert status_of(meta, fresh, now) == "ok" and status_of(meta, late, now) == "late"
    rows = source_rows({"a": meta, "b": meta}, {"a": fresh, "b": late}, now)
    assert [r["source"] for r in rows] == ["b", "a"]  # trouble first
    screens = screen_rows({"s1": now.timestamp() - 5, "s2": now.timestamp() - 60}, now.timestamp(), 2)
    assert [(s["screen"], s["status"]) for s in screens] == [("s1", "alive"), ("s2", "silent")]


@pytest.mark.parametrize("screen", ["wall", "sources"])
def test_screen_says_when_the_live_store_is_unreachable_and_retries(dash_app, screen):
    import importlib

    class Down:
        """A live store whose Redis refuses every call."""

        def __getattr__(self, name):
            import redis

            def refuse(*args, **kwargs):
                raise redis.ConnectionError("Connection refused")
            return refuse

    import damamaya.runtime as runtime

    original = runtime.live
    runtime.live = lambda: Down()
    try:
        page = importlib.import_module(f"layouts.{screen}").layout()
    finally:
        runtime.live = original
    text = json.dumps(page.to_plotly_json(), default=str)
    assert "Data langsung belum dapat dijangkau" in text and "retry-page" in text


def test_repeated_rejects_show_once_with_a_count():
    from engine.source_health import reject_rows

    same = {"reason": "Coordinates 'x' are not 'lat,lon'", "item": "{...}", "ref": "1"}
    rows = reject_rows({"q": [{**same, "at": "2026-11-27T21:00:10+00:00"}, {**same, "at": "2026-11-27T21:00:05+00:00"},
                              {"reason": "other", "item": "", "ref": None, "at": "2026-11-27T21:00:00+00:00"}]})
    assert [(r["reason"][:5], r["times"]) for r in rows] == [("Coord", 2), ("other", 1)]
    assert rows[0]["at"] == "2026-11-27T21:00:10+00:00" and len({r["rid"] for r in rows}) == 2


def test_sources_poll_says_the_live_store_is_down_instead_of_failing(dash_app):
    """/sources with Redis down: the poll answers with the outage on the page (no 500 every 3 s)."""
    import redis

    import damamaya.runtime as runtime
    from callbacks import sources as cb

    class Down:
        def __getattr__(self, name):
            def refuse(*args, **kwargs):
                raise redis.ConnectionError("Connection refused")
            return refuse

    original = runtime.live
    runtime.live = lambda: Down()
    try:
        grids, rejects, screens, state, outage = cb.poll({"digest": "x"})
    finally:
        runtime.live = original
    from dash import no_update

    assert grids is no_update and rejects is no_update and screens is no_update
    assert "Data langsung belum dapat dijangkau" in outage and "Connection refused" in outage
    assert state == {"digest": None, "outage": True}
    rows, _, _, state, outage = cb.poll(state)  # Redis back: the rows come again and the notice goes
    assert outage == "" and isinstance(rows, list) and state["digest"]


def test_pages_register_themselves_and_the_nav_lists_them(dash_app, sign_in_as):
    import dash

    client = sign_in_as(dash_app.server, "admin")
    paths = {p["path"]: p for p in dash.page_registry.values()}
    assert {"/wall", "/sources", "/kpi", "/history"} <= set(paths)
    from layouts.pages import nav

    from flask_login import login_user

    from security.principal import SignedInUser

    with dash_app.server.test_request_context("/kpi"):
        login_user(SignedInUser("test-admin", "admin"))
        links = [(link.href, link.children) for link in nav("/kpi").children]
    assert links == [("/wall", "Dinding"), ("/sources", "Sumber Data"), ("/console", "Konsol"), ("/kpi", "KPI"),
                     ("/history", "Riwayat"), ("/logout", "Keluar")]
    with dash_app.server.test_request_context("/kpi"):
        login_user(SignedInUser("test-pimpinan", "pimpinan"))  # the nav lists what the role may open
        assert [link.href for link in nav("/kpi").children] == ["/kpi", "/history", "/logout"]
    assert "Halaman tidak ditemukan" in route(client, "/anything-else")
    home = json.loads(route(client, "/"))
    assert home["props"]["pathname"] == "/wall" and home["props"]["refresh"] is True
    wall = route(client, "/wall", "?controls=1&layers=none")
    assert "wall-map" in wall and "ZoomControl" in wall


def route(client, path: str, search: str = "") -> str:
    """What Dash's pages router renders for a path, as JSON text (what a browser gets first)."""
    body = {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": search}],
            "changedPropIds": ["_pages_location.pathname"]}
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.data[:300]
    return json.dumps(response.get_json()["response"]["_pages_content"]["children"])


@pytest.mark.parametrize("state, why", [
    ([1, 2], "wall state"),
    ("x" * 100, "wall state"),
    ({"stream": "abc"}, "stream"),
    ({"versions": {"calls": "many"}}, "versions"),
    ({"versions": ["calls"]}, "versions"),
    ({"minute": -1}, "minute"),
    ({"screen": "<b>fake-wall-1</b>"}, "screen"),
    ({"screen": "a" * 5_000_000}, "too-large"),  # over auth.max_request_kb: 413 before the body is read
    ({"tiles": {"$gt": ""}}, "tiles"),
    ({"due": "soon"}, "due"),
    ({"extra": 1}, "extra"),
])
def test_a_made_up_wall_state_is_refused_with_a_reason_and_writes_nothing(dash_app, sign_in_as, state, why):
    from damamaya import runtime

    live: LiveStore = runtime.live()
    live.r.flushdb()
    good = first_state()
    sent = {**good, **state} if isinstance(state, dict) else state
    response = sign_in_as(dash_app.server, "operator").post("/_dash-update-component", json=_poll_request(dash_app, sent, []))
    assert response.status_code == (413 if why == "too-large" else 400)
    assert why in response.get_data(as_text=True)
    assert live.screens() == {}  # no heartbeat from a refused poll


def test_the_heartbeat_takes_only_server_issued_screen_ids(dash_app, sign_in_as):
    from damamaya import runtime
    from engine.wall.state import new_screen_id

    live: LiveStore = runtime.live()
    live.r.flushdb()
    for made_up in ("<b>fake-wall</b>", "A" * 32, "a" * 31, "a" * 33, "", "a" * 32 + "\n"):
        with pytest.raises(ValueError):
            live.screen_seen(made_up, 1.0)
    issued = new_screen_id()
    live.screen_seen(issued, 1.0)
    assert live.screens() == {issued: 1.0}
    state = first_state()
    assert sign_in_as(dash_app.server, "operator").post(
        "/_dash-update-component", json=_poll_request(dash_app, state, [])).status_code in (200, 204)
    seen = live.screens()
    assert state["screen"] not in seen  # the poll counts as the server's identity of the wall, not the state's id
    assert any(name.startswith("test-operator@") for name in seen)


def test_source_names_a_screen_makes_up_cost_nothing(dash_app, sign_in_as):
    """Versions of sources the store does not have: the poll empties them without reading or caching anything."""
    from damamaya import runtime

    live: LiveStore = runtime.live()
    live.r.flushdb()
    live.describe_sources({"calls": {"title": "112", "kinds": ["incident"], "interval": 1}})
    t = datetime.now(timezone.utc)
    live.apply("calls", [Incident(id="c1", source="calls", category="fire", reported_at=t, updated_at=t, lat=-8.65, lon=115.22)])
    state = first_state()
    keys_before = set(live.r.keys("*"))
    made_up = {f"nope-{i}": 3 for i in range(400)}
    response = sign_in_as(dash_app.server, "operator").post(
        "/_dash-update-component", json=_poll_request(dash_app, {**state, "versions": {**state["versions"], **made_up}},
                                                      ["calls", "nope-1"]))
    assert response.status_code == 200
    sent = response.get_json()["response"]
    emptied = next(v for k, v in sent.items() if '"layer"' in k and "nope-1" in k)["data"]
    assert emptied["mode"] == "gone" and emptied["urls"] is None
    assert not any('"layer"' in k and '"calls"' in k for k in sent)  # unchanged: not sent
    new_keys = {k for k in set(live.r.keys("*")) - keys_before if b"nope" in k}
    assert new_keys == set()


@pytest.fixture
def ten_thousand_calls(dash_app):
    from damamaya import runtime

    live: LiveStore = runtime.live()
    live.r.flushdb()
    live.describe_sources({"calls": {"title": "112", "kinds": ["incident"], "interval": 1}})
    t = datetime.now(timezone.utc)
    many = [Incident(id=f"c{i:05d}", source="calls", category="fire", severity="high", reported_at=t, updated_at=t,
                     lat=-8.65 + i * 1e-6, lon=115.22) for i in range(10_000)]
    for start in range(0, len(many), 2500):
        live.apply("calls", many[start:start + 2500])
    return live, many


def _poll_after(dash_app, sign_in_as, live, change) -> dict:
    state = first_state()
    live.apply("calls", [change])
    response = sign_in_as(dash_app.server, "operator").post("/_dash-update-component",
                                                            json=_poll_request(dash_app, state, ["calls"]))
    assert response.status_code == 200
    return response.get_json()["response"]


def test_one_changed_incident_of_ten_thousand_sends_its_row_and_no_tiles_when_no_number_moved(dash_app, sign_in_as,
                                                                                            ten_thousand_calls):
    live, many = ten_thousand_calls
    sent = _poll_after(dash_app, sign_in_as, live, many[4321].model_copy(update={"title": "Kebakaran gudang"}))
    grid = sent["wall-grid-changes"]["data"]
    assert [r["uid"] for r in grid["upsert"]] == ["calls:c04321"] and grid["remove"] == []
    assert grid["upsert"][0]["title"] == "Kebakaran gudang"
    assert "wall-tiles" not in sent  # the same numbers: the tiles are not sent again


def test_one_closed_incident_of_ten_thousand_sends_its_row_and_the_tiles(dash_app, sign_in_as, ten_thousand_calls):
    live, many = ten_thousand_calls
    sent = _poll_after(dash_app, sign_in_as, live, many[17].model_copy(update={"status": "closed"}))
    grid = sent["wall-grid-changes"]["data"]
    assert [(r["uid"], r["status"]) for r in grid["upsert"]] == [("calls:c00017", "closed")] and grid["remove"] == []
    tiles = {t["key"]: t for t in sent["wall-tiles"]["data"]["tiles"]}
    assert tiles["open_incidents"]["value"] == 9_999
    assert sent["wall-tiles"]["data"]["headlines"]["calls"]["value"] == "9999"


def test_the_wall_page_asks_early_for_what_its_first_render_waits_for(dash_app, sign_in_as):
    import re

    from engine.wall.layers import boundary_url

    client = sign_in_as(dash_app.server, "operator")
    preloads = dict((href, kind) for kind, href in re.findall(r'<link rel="preload" as="(\w+)" href="([^"]+)"',
                                                             client.get("/wall").get_data(as_text=True)))
    assert preloads[boundary_url("desa")] == preloads[boundary_url("kecamatan")] == "fetch"
    for chunk in [u for u, kind in preloads.items() if kind == "script"]:  # the lazy chunks exist where named
        assert client.get(chunk).status_code == 200
    assert len(preloads) == 3
    assert 'rel="preload"' not in client.get("/console").get_data(as_text=True)  # only the wall's page
