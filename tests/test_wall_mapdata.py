"""The wall's map data outside its layout: the layout's size does not follow the number of live
incidents, a change travels as that feature alone, the /wall/data routes serve versioned,
cacheable, gzipped layers to wall roles only and refuse what they do not expect, and big
layers are clustered on the server per viewport."""
import gzip
import json
import random
from datetime import datetime, timezone

import orjson
import pytest

from engine.live import LiveStore
from engine.records import Incident
from engine.wall.clusters import LayerIndex, Viewport
from tests.conftest import dash_app_on
from tests.test_wall import _poll_request, first_state  # the wall poll as the browser sends it

LIST_SIZE = 100  # both 100 and 10,000 incidents fill the incident list: only the map could make a difference
NOW = datetime.now(timezone.utc)


@pytest.fixture(scope="module")
def dash_app(tmp_path_factory, embedded_redis_url):
    wall = f"poll_seconds: 1\nincident_list_size: {LIST_SIZE}\ncluster_above: 20000"
    yield from dash_app_on(tmp_path_factory, embedded_redis_url, "mapdatatest", wall)


def incident(i: int, **kw) -> Incident:
    base = dict(id=f"c{i:06d}", source="calls", category="fire", severity=("low", "medium", "high", "critical")[i % 4],
                reported_at=NOW, updated_at=NOW, lat=-8.60 - (i % 100) * 0.001, lon=115.18 + (i // 100) * 0.0005,
                in_city=True, desa="Dauh Puri")
    return Incident(**{**base, **kw})


def live_with(count: int) -> tuple[LiveStore, list[Incident]]:
    from damamaya import runtime

    live: LiveStore = runtime.live()
    live.r.flushdb()
    live.describe_sources({"calls": {"title": "112", "kinds": ["incident"], "interval": 1}})
    many = [incident(i) for i in range(count)]
    live.apply("calls", many)
    return live, many


def wall_layout(client) -> bytes:
    """/wall's layout as a browser's first request gets it (the Dash pages router)."""
    body = {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/wall"},
                       {"id": "_pages_location", "property": "search", "value": ""}],
            "changedPropIds": ["_pages_location.pathname"]}
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200
    return response.data


def layer_store(layout: bytes, source: str) -> dict:
    """The layer store of `source` in a layout response."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == {"type": "layer", "source": source}:
                found.append(node["props"]["data"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(orjson.loads(layout))
    [store] = found
    return store


# ---- the layout -------------------------------------------------------------------------------

def test_the_layout_size_does_not_grow_with_the_number_of_live_incidents(dash_app, sign_in_as):
    client = sign_in_as(dash_app.server, "operator")
    live_with(100)
    small = wall_layout(client)
    live_with(10_000)
    large = wall_layout(client)
    assert abs(len(large) - len(small)) < 1024, (len(small), len(large))
    assert len(large) < 300_000
    assert b"calls:c000042" not in large  # no feature rides in the page
    assert layer_store(large, "calls")["count"] == 10_000


# ---- a change -----------------------------------------------------------------------------------

def test_a_change_to_one_of_10000_incidents_sends_only_that_feature_and_that_row(dash_app, sign_in_as):
    live, many = live_with(10_000)
    client = sign_in_as(dash_app.server, "operator")
    wall_layout(client)
    state = first_state()
    live.apply("calls", [many[4321].model_copy(update={"status": "dispatched", "severity": "critical"})])
    sent = client.post("/_dash-update-component", json=_poll_request(dash_app, state, ["calls"]))
    response = sent.get_json()["response"]
    layer = next(v for k, v in response.items() if '"layer"' in k)["data"]
    [op] = layer["ops"]
    assert op[:2] == ["u", "calls:c004321"] and op[3]["properties"]["sev"] == "critical"
    assert op[4] is None  # it has no shape
    assert layer["from"] == state["versions"]["calls"]
    assert [r["uid"] for r in response["wall-grid-changes"]["data"]["upsert"]] == ["calls:c004321"]
    assert len(sent.data) < 4000, len(sent.data)


def test_a_changed_poll_reads_only_the_records_that_changed(dash_app, sign_in_as, monkeypatch):
    """The poll after a change never reads a whole source: the tiles, counts and rows come from the
    kept aggregates, the map's edits from the change stream (work in proportion to the change)."""
    live, many = live_with(10_000)
    client = sign_in_as(dash_app.server, "operator")
    state = first_state()
    for read_all in ("raw_records", "records", "raw_all", "ids"):
        monkeypatch.setattr(LiveStore, read_all, lambda *a, **k: pytest.fail("a whole source was read on a poll"))
    live.apply("calls", [many[7].model_copy(update={"status": "closed"})], removals=["c000008"])
    response = client.post("/_dash-update-component", json=_poll_request(dash_app, state, ["calls"])).get_json()["response"]
    layer = next(v for k, v in response.items() if '"layer"' in k)["data"]
    assert sorted(op[:2] for op in layer["ops"]) == [["d", "calls:c000008"], ["u", "calls:c000007"]]
    assert layer["count"] == 9_999


def test_a_body_fetched_after_later_changes_holds_them_and_says_as_of_when(dash_app, sign_in_as):
    """A version's body is built when first fetched: it may hold changes newer than its version, and
    its `as_of` tells the browser which of the polls' edits it already holds (map.js skips those)."""
    live, many = live_with(20)
    client = sign_in_as(dash_app.server, "operator")
    state = first_state()
    urls = layer_store(wall_layout(client), "calls")["urls"]
    live.apply("calls", [many[3].model_copy(update={"severity": "critical"})])
    body = json.loads(gzip.decompress(client.get(urls["points"], headers={"Accept-Encoding": "gzip"}).data))
    [third] = [f for f in body["features"] if f["properties"]["uid"] == "calls:c000003"]
    assert third["properties"]["sev"] == "critical"  # newer than the URL's version
    response = client.post("/_dash-update-component", json=_poll_request(dash_app, state, ["calls"])).get_json()["response"]
    [edit] = next(v for k, v in response.items() if '"layer"' in k)["data"]["ops"]
    as_tuple = lambda stream_id: tuple(map(int, stream_id.split("-")))  # noqa: E731
    assert as_tuple(edit[2]) <= as_tuple(body["as_of"])  # already in the body: the browser skips it


def test_a_url_of_a_version_the_store_never_had_or_of_another_store_is_404(dash_app, sign_in_as):
    from engine.wall.model import layer_tag

    live, _ = live_with(5)
    client = sign_in_as(dash_app.server, "operator")
    url = layer_store(wall_layout(client), "calls")["urls"]["points"]
    version, tag = url.rsplit("/", 1)[1].removesuffix(".json").split("-")
    later = url.replace(f"/{version}-{tag}", f"/{int(version) + 1}-{layer_tag(live.epoch(), 'calls', int(version) + 1)}")
    assert client.get(later).status_code == 404  # a version the store does not have yet
    assert client.get(url.replace(tag, "0123456789abcdef")).status_code == 404
    live_with(5)  # the store flushed and filled again: versions count from 1 again, under a new epoch
    assert client.get(url).status_code == 404


def test_a_screen_that_missed_a_version_is_sent_the_new_urls_to_fetch(dash_app, sign_in_as):
    live, many = live_with(50)
    client = sign_in_as(dash_app.server, "operator")
    state = first_state()
    live.apply("calls", [many[1].model_copy(update={"status": "closed"})])
    state = {**state, "stream": "1-0"}  # a position the change stream no longer reaches: no edits to make from it
    layer = next(v for k, v in client.post("/_dash-update-component", json=_poll_request(dash_app, state, ["calls"]))
                 .get_json()["response"].items() if '"layer"' in k)["data"]
    assert layer["ops"] is None and layer["urls"]["points"].endswith(f"/{layer['v']}-{layer['tag']}.json")


# ---- the routes ----------------------------------------------------------------------------------

def test_a_layer_url_serves_its_version_gzipped_cacheable_and_conditional(dash_app, sign_in_as):
    live_with(10)
    client = sign_in_as(dash_app.server, "operator")
    url = layer_store(wall_layout(client), "calls")["urls"]["points"]
    got = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert got.status_code == 200 and got.headers["Content-Encoding"] == "gzip"
    assert "immutable" in got.headers["Cache-Control"] and "private" in got.headers["Cache-Control"]
    features = json.loads(gzip.decompress(got.data))["features"]
    assert sorted(f["properties"]["uid"] for f in features) == [f"calls:c{i:06d}" for i in range(10)]
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and json.loads(plain.data)["features"] == features
    again = client.get(url, headers={"If-None-Match": got.headers["ETag"], "Accept-Encoding": "gzip"})
    assert again.status_code == 304 and again.data == b""


def test_the_boundaries_are_a_static_url_named_by_their_content(dash_app, sign_in_as):
    from engine.wall.layers import boundary_url

    client = sign_in_as(dash_app.server, "operator")
    got = client.get(boundary_url("kecamatan"), headers={"Accept-Encoding": "gzip"})
    assert got.status_code == 200 and "immutable" in got.headers["Cache-Control"]
    assert json.loads(gzip.decompress(got.data))["type"] == "FeatureCollection"
    assert client.get("/wall/data/boundaries/kecamatan-0000000000000000.json").status_code == 404


@pytest.mark.parametrize("role, allowed", [("operator", True), ("supervisor", True), ("analyst", False),
                                           ("pimpinan", False)])
def test_the_data_routes_are_for_wall_roles_only(dash_app, sign_in_as, role, allowed):
    live_with(10)
    url = layer_store(wall_layout(sign_in_as(dash_app.server, "operator")), "calls")["urls"]["points"]
    status = sign_in_as(dash_app.server, role).get(url).status_code
    assert (status == 200) == allowed and status in (200, 403)


def test_the_data_routes_refuse_the_public(dash_app, sign_in_as):
    from engine.wall.layers import boundary_url

    live_with(10)
    urls = layer_store(wall_layout(sign_in_as(dash_app.server, "operator")), "calls")["urls"]
    anonymous = dash_app.server.test_client()
    for url in (urls["points"], urls["shapes"], urls["clusters"] + "?z=13&bbox=115.1,-8.8,115.3,-8.6",
                boundary_url("desa")):
        response = anonymous.get(url)
        assert response.status_code in (302, 401, 403), url
        assert b"FeatureCollection" not in response.data


@pytest.mark.parametrize("query, parameter", [
    ("z=abc&bbox=115.1,-8.8,115.3,-8.6", "z"),
    ("z=23&bbox=115.1,-8.8,115.3,-8.6", "z"),
    ("z=13&bbox=115.1,-8.8,115.3", "bbox"),
    ("z=13&bbox=115.3,-8.8,115.1,-8.6", "bbox"),
    ("z=13&bbox=115.1,-91,115.3,-8.6", "bbox"),
    ("z=13&bbox=1e3,-8.8,115.3,-8.6", "bbox"),
    ("z=18&bbox=100,-20,130,10", "bbox"),  # a viewport far larger than a screen at that zoom
    ("z=13&bbox=115.1,-8.8,115.3,-8.6&limit=9", "limit"),
    ("bbox=115.1,-8.8,115.3,-8.6", "z"),
])
def test_the_clusters_route_refuses_bad_parameters_by_name(dash_app, sign_in_as, query, parameter):
    live_with(10)
    client = sign_in_as(dash_app.server, "operator")
    url = layer_store(wall_layout(client), "calls")["urls"]["clusters"]
    response = client.get(f"{url}?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_parameter"
    assert response.get_json()["parameter"] == parameter


@pytest.mark.parametrize("path", [
    "/wall/data/points/calls/{v}-0123456789abcdef.json",      # a tag that is not this version's
    "/wall/data/points/calls/{w}-{tag}.json",                  # a version neither current nor cached
    "/wall/data/points/nope/{v}-{tag}.json",                   # a source the store does not have
    "/wall/data/secrets/calls/{v}-{tag}.json",                 # no such part
    "/wall/data/points/calls/0-{tag}.json",
    "/wall/data/points/calls/99999999999999999999-{tag}.json",
    "/wall/data/points/calls/{v}-ZZ.json",
])
def test_a_layer_the_wall_was_never_sent_is_not_found_and_costs_nothing(dash_app, sign_in_as, path):
    live, _ = live_with(10)
    client = sign_in_as(dash_app.server, "operator")
    store = layer_store(wall_layout(client), "calls")
    keys_before = set(live.r.keys("*"))
    response = client.get(path.format(v=store["v"], w=store["v"] + 5, tag=store["tag"]))
    assert response.status_code == 404
    assert set(live.r.keys("*")) - keys_before == set()


def test_the_clusters_route_answers_the_viewport_in_clusters(dash_app, sign_in_as):
    live_with(10_000)
    client = sign_in_as(dash_app.server, "operator")
    url = layer_store(wall_layout(client), "calls")["urls"]["clusters"]
    response = client.get(f"{url}?z=12.5&bbox=115.0,-8.9,115.4,-8.5", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    features = json.loads(gzip.decompress(response.data))["features"]
    clusters = [f for f in features if f["properties"].get("cluster")]
    assert 0 < len(features) < 500
    assert sum(f["properties"].get("point_count", 1) for f in features) == 10_000
    assert all(sum(f["properties"]["ranks"]) == f["properties"]["point_count"] for f in clusters)


def test_the_clusters_of_a_newer_version_follow_the_changes(dash_app, sign_in_as, monkeypatch):
    """After the first request, a newer version's clusters come from the records that changed
    (the layer is not read whole again) and hold the layer as it is: removed incidents gone,
    a moved one where it moved to, a new one counted."""
    live, many = live_with(10_000)
    client = sign_in_as(dash_app.server, "operator")
    view = "?z=11&bbox=114.9,-9.0,115.5,-8.4"

    def counted(url: str) -> tuple[int, list]:
        features = json.loads(gzip.decompress(client.get(url + view, headers={"Accept-Encoding": "gzip"}).data))["features"]
        return sum(f["properties"].get("point_count", 1) for f in features), features

    assert counted(layer_store(wall_layout(client), "calls")["urls"]["clusters"])[0] == 10_000
    far = many[200].model_copy(update={"lat": -8.45, "lon": 115.45, "updated_at": datetime.now(timezone.utc)})
    live.apply("calls", [far, incident(10_000)], removals=[m.id for m in many[:100]])
    url = layer_store(wall_layout(client), "calls")["urls"]["clusters"]
    reads = []
    monkeypatch.setattr(LiveStore, "raw_records", lambda self, source: reads.append(source) or [])
    total, features = counted(url)
    assert total == 10_000 - 100 + 1 and reads == []
    assert any(f["geometry"]["coordinates"] == [115.45, -8.45] for f in features)


# ---- the clustering ---------------------------------------------------------------------------

def index_of(points: dict[str, tuple]):
    """An index of `points` (id -> lon, lat, rank) and the features_of a view asks for single points."""
    def features_of(ids):
        return [{"type": "Feature", "geometry": {"type": "Point", "coordinates": list(points[i][:2])},
                 "properties": {"uid": f"s:{i}", "rank": points[i][2]}} for i in ids]

    return LayerIndex.of(points), features_of


def test_clusters_at_low_zoom_keep_every_point_and_its_severity():
    index, features_of = index_of({str(i): (115.2 + (i % 40) * 0.001, -8.65 + (i // 40) * 0.001, i % 5) for i in range(1000)})
    view = index.view(Viewport(11, 115.0, -8.9, 115.4, -8.4), 17, features_of)["features"]
    assert len(view) < 10
    assert sum(f["properties"]["point_count"] for f in view) == 1000
    assert [sum(col) for col in zip(*(f["properties"]["ranks"] for f in view))] == [200] * 5


def test_from_the_points_zoom_every_point_of_the_viewport_is_itself():
    index, features_of = index_of({str(i): (115.2 + i * 0.0001, -8.65, 4) for i in range(100)})
    view = index.view(Viewport(17, 115.2, -8.66, 115.20495, -8.64), 17, features_of)["features"]
    assert [f["properties"]["uid"] for f in view] == [f"s:{i}" for i in range(50)]


def test_a_cluster_is_where_its_points_are():
    index, features_of = index_of({"0": (115.20, -8.65, 1), "1": (115.2002, -8.6502, 3)})
    [cluster] = index.view(Viewport(10, 115.0, -8.9, 115.4, -8.4), 17, features_of)["features"]
    assert cluster["geometry"]["coordinates"] == [115.2001, -8.6501]
    assert cluster["properties"]["ranks"] == [0, 1, 0, 1, 0]


def test_an_updated_index_is_the_index_of_its_rows_built_afresh():
    """Rows changed, moved, removed (first, middle, last) and added: the updated index clusters
    exactly as one built from the resulting rows, and the index it came from is left as it was."""
    rng = random.Random(3)
    rows = {str(i): (115.15 + rng.random() * 0.15, -8.75 + rng.random() * 0.15, rng.randrange(5)) for i in range(500)}
    old = LayerIndex.of(rows, version=1, as_of="1-0")
    before = old.grid(12).count.copy()
    changed = {"0": None, "250": None, "499": None, "7": (115.30, -8.60, 4), "new-1": (115.2, -8.7, 2), "nope": None}
    new = old.updated(changed, version=2, as_of="2-0")
    expected = {k: v for k, v in rows.items() if k not in ("0", "250", "499")} | {"7": (115.30, -8.60, 4), "new-1": (115.2, -8.7, 2)}
    fresh = LayerIndex.of(expected)
    assert sorted(new.ids) == sorted(fresh.ids) and new.version == 2 and new.as_of == "2-0"
    assert {rid: (new.lon[i], new.lat[i], new.rank[i]) for rid, i in new.rows.items()} == expected
    for zoom in (10, 12, 14):
        got, want = new.grid(zoom), fresh.grid(zoom)
        assert sorted(zip(got.count.tolist(), map(tuple, got.ranks.tolist()))) == \
            sorted(zip(want.count.tolist(), map(tuple, want.ranks.tolist())))
    assert (old.grid(12).count == before).all() and len(old.ids) == 500


def test_workers_read_a_layer_whole_once_between_them(redis_client, monkeypatch):
    """Two web workers (two ClusterIndexes on one Redis) asked at once for a layer none of them
    has: one reads the records whole, the other waits for it and starts from the index it
    shared; both then answer the same clusters."""
    from concurrent.futures import ThreadPoolExecutor

    from engine.analytics.config import KpiConfig
    from engine.cache import RedisCache
    from engine.wall.layers import ClusterIndexes
    from engine.wall.model import WallModel

    live = LiveStore(redis_client, "shareidx")
    live.describe_sources({"calls": {"title": "112", "kinds": ["incident"], "interval": 1}})
    live.apply("calls", [incident(i) for i in range(3000)])
    reads = []
    whole = LiveStore.raw_records
    monkeypatch.setattr(LiveStore, "raw_records", lambda self, source: reads.append(source) or whole(self, source))

    def worker_asks(_):
        model = WallModel(LiveStore(redis_client, "shareidx"), RedisCache(redis_client, "shareidx"), "id", 10, KpiConfig())
        version = model.live.versions()["calls"]
        return ClusterIndexes().get(model, "calls", version, model.layer_tag("calls", version))

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(worker_asks, range(2))
    assert reads == ["calls"]
    assert sorted(first.ids) == sorted(second.ids) and len(first.ids) == 3000
    view = Viewport(12, 115.0, -8.9, 115.4, -8.4)
    assert first.grid(view.zoom).count.tolist() == second.grid(view.zoom).count.tolist()
