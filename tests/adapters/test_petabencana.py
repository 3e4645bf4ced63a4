from datetime import datetime, timedelta, timezone

import orjson
import pytest
from contract import assert_one_reject
from shapely.geometry import shape

from data_sources import get_adapter
from data_sources.petabencana import PetaBencanaConfig, Topology
from engine.pipeline import parse_safely

UTC = timezone.utc


def adapter(config=None):
    return get_adapter("petabencana")("petabencana", config)


def parse(samples, name, config=None):
    return parse_safely(adapter(config), (samples / name).read_bytes())


def test_report_topojson_quantized_point(samples):
    result = parse(samples, "floods/petabencana_api_reports_topojson_docs_example.json")
    assert result.rejects == []
    [r] = result.records
    assert r.id == "5519" and r.category == "flood_report" and r.domain == "flood"
    # coordinates [0, 0] with scale 1 and translate: the point is the translate, not (0, 0)
    assert (r.lat, r.lon) == (-6.138229, 106.817276)
    assert r.reported_at == datetime(2016, 12, 9, 21, 37, tzinfo=UTC)
    assert r.expires_at == r.reported_at + timedelta(hours=3)
    assert r.details["report_source"] == "qlue" and r.details["id_derived"] is False


def test_flooded_area_topojson_delta_arcs(samples):
    result = parse(samples, "floods/petabencana_api_floods_topojson_docs_example.json")
    assert result.rejects == []
    [a] = result.records
    assert a.id == "area:5" and a.category == "flooded_area" and a.severity == "low" and a.status == "new"
    assert a.details["state"] == 1 and a.details["geom_id"] == "3174040004009000"
    ring = a.geometry["coordinates"][0]
    assert a.geometry["type"] == "Polygon" and len(ring) == 48 and ring[0] == ring[-1]
    assert ring[0] == pytest.approx([106.795098, -6.156358], abs=1e-6)
    # the same RW published as CAP (lat,lon pairs) by the same API: the shapes coincide
    poly = shape(a.geometry)
    assert poly.bounds == pytest.approx((106.7917869997, -6.158925, 106.7950980004, -6.1556540002), abs=1e-6)
    assert (a.lat, a.lon) == pytest.approx((-6.15729, 106.79326), abs=1e-4)
    assert a.reported_at == datetime(2016, 12, 19, 13, 53, 52, 274000, tzinfo=UTC)


def test_flood_states_update_known_areas_without_geometry(samples):
    result = parse(samples, "floods/petabencana_api_floods_states_docs_example.json")
    [s] = result.records
    assert s.id == "area:5" and s.geometry is None and s.lat is None
    assert s.details["state_update"] is True and s.severity == "low"
    area = parse(samples, "floods/petabencana_api_floods_topojson_docs_example.json").records[0]
    assert area.id == s.id


def test_archive_reports_geojson_wib_and_derived_ids(samples):
    result = parse(samples, "floods/petabencana_archive_jbd_reports_2017-02-20.geojson")
    assert len(result.records) == 69 and result.rejects == []
    first = result.records[0]
    assert first.reported_at == datetime(2017, 2, 20, 0, 58, 22, 262000, tzinfo=UTC)  # 07:58:22.262 UTC+7
    assert (first.lat, first.lon) == (-6.27121280836829, 106.940639019012)
    assert first.details["flood_depth_cm"] == 77 and first.severity == "high"
    assert first.details["id_derived"] is True and first.id.startswith("r-")
    assert len({r.id for r in result.records}) == 69
    again = parse(samples, "floods/petabencana_archive_jbd_reports_2017-02-20.geojson")
    assert [r.id for r in again.records] == [r.id for r in result.records]  # stable across polls
    sources = {r.details["report_source"] for r in result.records}
    assert sources == {"qlue", "detik", "grasp"}


def test_archive_flooded_rw_geojson(samples):
    result = parse(samples, "floods/petabencana_archive_jkt_flooded_rw_2017-02-21T0800.geojson")
    assert len(result.records) == 42 and result.rejects == []
    severities = [r.severity for r in result.records]
    assert severities.count("medium") == 39 and severities.count("high") == 3
    a = result.records[0]
    assert a.id == "geom:3174040007010000" and a.geometry["type"] == "Polygon"
    assert a.reported_at == datetime(2017, 2, 21, 0, 37, 37, 502000, tzinfo=UTC)
    assert max(r.reported_at for r in result.records) <= datetime(2017, 2, 21, 1, 0, tzinfo=UTC)  # file is 08:00 WIB


def test_floodgauges_readings_and_siaga(samples):
    result = parse(samples, "water_levels/petabencana_api_floodgauges_topojson_docs_example.json")
    assert len(result.records) == 30 and result.rejects == []
    first = result.records[0]
    assert first.kind == "reading" and first.station == "TMA00001" and first.station_name == "Bendung Katulampa"
    assert first.quantity == "water_level" and first.value == 30 and first.unit == "cm" and first.alert_level == 0
    assert first.observed_at == datetime(2016, 12, 9, 4, tzinfo=UTC)
    assert first.id == "TMA00001:20161209T040000Z"
    assert first.lat == pytest.approx(-6.63304) and first.lon == pytest.approx(106.83666, abs=1e-4)
    pluit = [r for r in result.records if r.station == "TMA00012"][0]
    assert pluit.lat == pytest.approx(-6.11111, abs=1e-4)


def _gauges(*obs):
    return orjson.dumps({"statusCode": 200, "result": {"type": "Topology", "arcs": [], "objects": {"output": {
        "type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [115.2, -8.65],
                                                      "properties": {"gaugeid": "G1", "gaugenameid": "Tukad Badung", "observations": list(obs)}},
                                                     {"type": "Point", "coordinates": [115.2, -8.66], "properties": {"gaugeid": "G2", "observations": []}}]}}}})


def test_siaga_text_to_alert_level():
    raw = _gauges({"f1": "2025-09-10T01:00:00+08:00", "f2": 250, "f3": 1, "f4": "SIAGA I"},
                  {"f1": "2025-09-10T02:00:00+08:00", "f2": 200, "f3": 2, "f4": "SIAGA II "},
                  {"f1": "2025-09-10T03:00:00+08:00", "f2": 150, "f3": 3, "f4": "Siaga III"},
                  {"f1": "2025-09-10T04:00:00+08:00", "f2": 100, "f3": 2, "f4": "??"},
                  {"f1": "2025-09-10T05:00:00+08:00", "f2": 90, "f3": None, "f4": None},
                  {"f1": "2025-09-10T06:00:00+08:00", "f2": "x", "f4": "SIAGA IV"},
                  {"f1": "2025-09-10T01:00:00+08:00", "f2": 250, "f3": 1, "f4": "SIAGA I"})
    result = parse_safely(adapter(), raw)
    assert [r.alert_level for r in result.records] == [3, 2, 1, 2, 0]
    assert "unreadable" in result.records[4].details["alert_note"]
    assert result.records[0].in_city is True
    reasons = [r.reason for r in result.rejects]
    assert len(reasons) == 3
    assert any("f2" in r for r in reasons) and any("no observations" in r for r in reasons)
    assert any(r == "duplicate of id G1:20250909T170000Z" for r in reasons)


def test_topology_decoder_reversed_arcs_and_multipolygon():
    topo = Topology({"type": "Topology", "transform": {"scale": [1, 1], "translate": [100, 0]},
                     "arcs": [[[0, 0], [1, 0], [0, 1]], [[1, 1], [-1, 0], [0, -1]]]})
    assert topo.arc(0) == [[100, 0], [101, 0], [101, 1]]
    assert topo.arc(-1) == [[101, 1], [101, 0], [100, 0]]
    ring = topo.geometry({"type": "Polygon", "arcs": [[0, 1]]})["coordinates"][0]
    assert ring == [[100, 0], [101, 0], [101, 1], [100, 1], [100, 0]]
    multi = topo.geometry({"type": "MultiPolygon", "arcs": [[[0, 1]], [[~1, ~0]]]})
    assert multi["coordinates"][1][0] == [[100, 0], [100, 1], [101, 1], [101, 0], [100, 0]]
    plain = Topology({"arcs": [[[115.1, -8.6], [115.2, -8.7]]]})  # no transform: absolute positions
    assert plain.geometry({"type": "LineString", "arcs": [0]})["coordinates"] == [[115.1, -8.6], [115.2, -8.7]]


def test_bad_features_give_reasons():
    doc = {"statusCode": 200, "result": {"type": "Topology", "arcs": [[[0, 0], [1, 1]]], "objects": {"output": {
        "type": "GeometryCollection", "geometries": [
            {"type": "Polygon", "arcs": [[7]], "properties": {"area_id": "9", "state": 2, "last_updated": "2024-01-01T00:00:00Z"}},
            {"type": "Polygon", "arcs": [[0]], "properties": {"area_id": "8", "state": 9, "last_updated": "2024-01-01T00:00:00Z"}},
            {"type": "Polygon", "arcs": [[0]], "properties": {"state": 2, "last_updated": "2024-01-01T00:00:00Z"}},
            {"type": "Point", "coordinates": [0, 0], "properties": {"pkey": "1", "created_at": "not a time"}},
            {"type": "Point", "coordinates": ["a"], "properties": {"pkey": "2"}},
            {"type": None, "properties": {"pkey": "3", "created_at": "2024-01-01T00:00:00Z"}},
            {"type": "Point", "coordinates": [0, 0], "properties": {"pkey": "4", "created_at": "2024-01-01T00:00:00Z"}},
            "junk"]}}}}
    result = parse_safely(adapter(), orjson.dumps(doc))
    assert len(result.rejects) == 8 and result.records == []
    reasons = " | ".join(r.reason for r in result.rejects)
    for needle in ("arc 7 does not exist", "state 9", "no area_id", "created_at", "position", "no point", "(0, 0)", "not an object"):
        assert needle in reasons


def test_states_list_bad_items_and_state_zero():
    raw = orjson.dumps({"statusCode": 200, "result": [
        {"area_id": "5", "state": 0, "last_updated": "2016-12-19T15:00:00Z"},
        {"area_id": "6", "state": "x", "last_updated": "2016-12-19T15:00:00Z"},
        {"state": 2}, {"area_id": "7", "state": 3, "last_updated": "2016-12-19 22:00:00"}]})
    result = parse_safely(adapter(), raw)
    assert [r.status for r in result.records] == ["resolved", "new"]
    assert result.records[1].reported_at == datetime(2016, 12, 19, 15, tzinfo=UTC)  # zone-less -> WIB
    assert len(result.rejects) == 2


def test_api_error_and_whole_document_failures():
    a = adapter()
    # empty, HTML, truncated, non-UTF-8 and deeply nested bodies: test_contract.py
    for raw in [b'{"statusCode": 500, "message": "db down"}', b'{"result": {"type": "Nope"}}', b"42"]:
        assert_one_reject(parse_safely(a, raw))


def test_report_window_is_configurable(samples):
    cfg = PetaBencanaConfig(report_window_hours={"flood": 6})
    [r] = parse(samples, "floods/petabencana_api_reports_topojson_docs_example.json", cfg).records
    assert r.expires_at - r.reported_at == timedelta(hours=6)


def test_fetch_path(feed_server, samples):
    url = feed_server.serve("/floods", (samples / "floods/petabencana_api_floods_topojson_docs_example.json").read_bytes(),
                            content_type="application/json")
    a = adapter(PetaBencanaConfig(url=url))
    [area] = parse_safely(a, a.fetch()).records
    assert area.id == "area:5"


def test_impossible_shapes_and_non_finite_numbers_are_rejects():
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[106.8, -6.1], [106.9, 95.0], [106.9, -6.2], [106.8, -6.1]]]},
         "properties": {"geom_id": 1, "state": 2, "changed": "2017-02-21T07:37:37"}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []}, "properties": {"geom_id": 2, "state": 2, "changed": "2017-02-21T07:37:37"}}]}
    result = parse_safely(adapter(), orjson.dumps(doc))
    assert result.records == [] and "impossible position [106.9, 95.0]" in result.rejects[0].reason
    assert "not a readable GeoJSON shape" in result.rejects[1].reason
    # NaN/Infinity are accepted by the lenient (Latin-1) JSON fallback; they are not states
    raw = b'{"statusCode": 200, "result": [{"area_id": "5", "state": NaN, "last_updated": "2016-12-19T13:53:52Z", "x": "\xe9"}]}'
    result = parse_safely(adapter(), raw)
    assert result.records == [] and "is not 0-4" in result.rejects[0].reason
    topo = {"statusCode": 200, "result": {"type": "Topology", "transform": {"scale": [1], "translate": [1, 2]}, "objects": {}}}
    result = parse_safely(adapter(), orjson.dumps(topo))
    assert result.records == [] and "scale/translate" in result.rejects[0].reason
