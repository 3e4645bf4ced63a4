from collections import Counter
from functools import partial

import orjson
import pytest
from contract import assert_one_reject, make_adapter, utc

from data_sources import get_adapter
from engine.pipeline import parse_safely

FEED = "traffic/waze_ccp_feed_nyc_20190322T2138Z_cut.json"
JABAR_ALERTS = "traffic/waze_jds_jabar_alerts_dsw2021_excerpt.csv"
JABAR_IRREGULARITIES = "traffic/waze_jds_jabar_irregularities_dsw2021_excerpt.csv"

adapter = partial(make_adapter, "waze", source="waze-denpasar")


@pytest.fixture(scope="module")
def feed(samples):
    result = parse_safely(adapter(), (samples / FEED).read_bytes())
    return result, {r.id: r for r in result.records}


def test_feed_counts(feed):
    result, by_id = feed
    assert result.rejects == []
    assert len(result.records) == 655 == len(by_id)
    assert Counter(r.id.split(":")[0] for r in result.records) == {"alert": 300, "jam": 300, "irregularity": 55}
    assert get_adapter("waze").snapshot is True


def test_alert_fields_and_categories(feed):
    result, by_id = feed
    a = by_id["alert:03769afc-d16d-376a-b5ed-628ade6beedf"]
    assert (a.lat, a.lon) == (40.605333, -74.183931)  # location {x: lon, y: lat}
    assert a.reported_at == utc(2019, 3, 22, 21, 12, 17, 190000)
    assert a.category == "road_hazard" and a.domain == "traffic"
    assert a.details["waze_subtype"] == "HAZARD_ON_SHOULDER_CAR_STOPPED" and a.details["reliability"] == 6
    alerts = Counter(r.category for r in result.records if r.id.startswith("alert:"))
    assert alerts == {"road_closure": 81, "road_hazard": 108, "congestion": 105, "traffic_accident": 6}
    major = [r for r in result.records if r.details.get("waze_subtype") == "ACCIDENT_MAJOR"]
    assert len(major) == 1 and major[0].severity == "high" and major[0].category == "traffic_accident"


def test_jam_fields(feed):
    result, by_id = feed
    j = by_id["jam:411005085"]
    assert j.category == "congestion" and j.severity == "medium"  # level 3
    assert j.details["level"] == 3 and j.details["speed_kmh"] == 12.65 and j.details["delay_s"] == 128
    assert j.details["length_m"] == 755 and j.details["blocked"] is False
    assert j.geometry["type"] == "LineString" and len(j.geometry["coordinates"]) == 9
    assert j.geometry["coordinates"][0] == [-74.277641, 40.513274]
    assert (j.lat, j.lon) == (40.512549, -74.274952)  # middle vertex (5th of 9)
    assert j.reported_at == utc(2019, 3, 22, 21, 40, 46, 53000)
    closed = [r for r in result.records if r.id.startswith("jam:") and r.details["blocked"]]
    assert len(closed) == 40 and all(r.details["delay_s"] is None and r.severity == "critical" for r in closed)


def test_irregularity_fields(feed):
    _, by_id = feed
    g = by_id["irregularity:76745544"]
    assert g.reported_at == utc(2019, 3, 22, 20, 19, 19, 922000)
    assert g.updated_at == utc(2019, 3, 22, 21, 39, 35, 986000)
    assert g.severity == "low" and g.details["severity_level"] == 2 and g.details["jam_level"] == 3
    assert g.details["delay_s"] == 697 and g.details["regular_speed_kmh"] == 40.43 and g.details["drivers_count"] == 446
    assert len(g.details["alert_uuids"]) == 5 and g.geometry["type"] == "LineString"


def test_irregularity_string_dates_when_millis_missing(samples):
    data = orjson.loads((samples / FEED).read_bytes())
    irr = data["irregularities"][0]
    del irr["detectionDateMillis"], irr["updateDateMillis"]
    result = parse_safely(adapter(), orjson.dumps({"irregularities": [irr]}))
    [g] = result.records
    assert g.updated_at == utc(2019, 3, 22, 21, 39, 35)
    assert g.reported_at.tzinfo is not None and g.reported_at < g.updated_at


def test_jabar_alerts_csv_rounded_millis(samples):
    result = parse_safely(adapter(), (samples / JABAR_ALERTS).read_bytes())
    assert len(result.records) == 9 and result.rejects == []
    a = result.records[0]
    assert a.id == "alert:177876895" and a.category == "road_closure"
    assert (a.lat, a.lon) == (-6.359846, 106.788545)
    assert a.reported_at == utc(2020, 10, 22, 1, 26, 40)  # 1603330000000 ms
    assert a.details["time_precision_s"] == 10000
    assert Counter(r.category for r in result.records) == {"road_closure": 5, "congestion": 2, "road_hazard": 2}


def test_jabar_irregularities_csv_inside_csv(samples):
    result = parse_safely(adapter(), (samples / JABAR_IRREGULARITIES).read_bytes())
    assert len(result.records) == 9 and result.rejects == []
    g = result.records[0]
    assert g.id == "irregularity:12868069" and g.details["highway"] is True
    assert g.reported_at == utc(2020, 11, 7, 7, 12, 29, 24000)
    assert g.geometry["coordinates"][0] == [106.91014, -6.258107] and len(g.geometry["coordinates"]) == 24
    assert g.details["jam_level"] == 3 and g.details["size"] == "Small" and g.details["delay_s"] == 299


def test_config_maps_flood_hazard():
    raw = orjson.dumps({"alerts": [{"uuid": "u1", "type": "WEATHERHAZARD", "subtype": "HAZARD_WEATHER_FLOOD",
                                    "location": {"x": 115.21, "y": -8.65}, "pubMillis": 1757462400000}]})
    configured = adapter(alert_categories={"HAZARD_WEATHER_FLOOD": "flood_report"})
    [a] = parse_safely(configured, raw).records
    assert a.category == "flood_report" and a.domain == "flood" and a.severity == "high"
    assert configured.config.alert_categories["ACCIDENT"] == "traffic_accident"  # an override keeps the defaults
    with pytest.raises(ValueError, match="not a category"):
        adapter(alert_categories={"JAM": "traffic"})


def test_bad_items_each_give_a_reason():
    raw = orjson.dumps({
        "alerts": [
            {"uuid": "a", "type": "ACCIDENT", "location": {"x": 115.2, "y": -8.6}, "pubMillis": 1757462400000},
            {"uuid": "a", "type": "ACCIDENT", "location": {"x": 115.2, "y": -8.6}, "pubMillis": 1757462400000},
            {"uuid": "b", "type": "ACCIDENT", "location": {"x": 115.2, "y": 95}, "pubMillis": 1757462400000},
            {"uuid": "c", "type": "UFO", "location": {"x": 115.2, "y": -8.6}, "pubMillis": 1757462400000},
            {"uuid": "d", "type": "JAM", "location": None, "pubMillis": 1757462400000},
            {"uuid": "e", "type": "JAM", "location": {"x": 1, "y": 1}, "pubMillis": "soon"},
            "x",
        ],
        "jams": [{"uuid": 1, "level": 3, "line": [{"x": 1}], "pubMillis": 1757462400000}],
        "irregularities": {"not": "a list"},
    })
    result = parse_safely(adapter(), raw)
    assert [r.id for r in result.records] == ["alert:a"]
    reasons = " | ".join(r.reason for r in result.rejects)
    assert len(result.rejects) == 8
    for part in ["duplicate of id alert:a", "impossible coordinates", "UFO", "no numeric x/y", "pubMillis 'soon'",
                 "not an object", "jam line", "irregularities is not a list"]:
        assert part in reasons


@pytest.mark.parametrize("raw", [  # empty, HTML, truncated, non-UTF-8 and deeply nested: test_contract.py
    b'{"foo": 1}', b"a,b,c\n1,2,3\n", b"[1, 2]",
    b'{"jams": [{"uuid": 1, "level": 1e30, "pubMillis": 1e308, "line": []}]}',
])
def test_bad_documents_are_one_reject(raw):
    assert_one_reject(parse_safely(adapter(), raw))


def test_fetch_path(samples, feed_server):
    body = (samples / FEED).read_bytes()
    a = adapter(url=feed_server.serve("/waze.json", body, content_type="application/json"))
    assert len(parse_safely(a, a.fetch()).records) == 655


# ---- live-map captures: exact millis, POLICE and CHIT_CHAT -------------------------------------

def _alert(uuid, wtype, millis, subtype=""):
    return {"uuid": uuid, "type": wtype, "subtype": subtype, "pubMillis": millis, "location": {"x": 115.2167, "y": -8.6553},
            "street": "Jl. Gajah Mada", "city": "Denpasar", "reliability": 5, "confidence": 0}


def test_json_alerts_at_exact_seconds_carry_no_rounding():
    feed = {"alerts": [_alert("a", "ACCIDENT", 1757466000000), _alert("b", "ACCIDENT", 1757466123000)]}
    result = parse_safely(adapter(), orjson.dumps(feed))
    assert [r.details["time_precision_s"] for r in result.records] == [None, None]
    assert result.records[0].reported_at == utc(2025, 9, 10, 1, 0)


def test_csv_rounding_is_judged_on_the_whole_column():
    header = b"id,pub_millis,type,subtype,longitude,latitude\n"
    exact = header + b"1,1757466000000,ACCIDENT,,115.2167,-8.6553\n2,1757466123456,ACCIDENT,,115.2167,-8.6553\n"
    rounded = header + b"1,1757460000000,ACCIDENT,,115.2167,-8.6553\n2,1757500000000,ACCIDENT,,115.2167,-8.6553\n"
    assert [r.details["time_precision_s"] for r in parse_safely(adapter(), exact).records] == [None, None]
    assert [r.details["time_precision_s"] for r in parse_safely(adapter(), rounded).records] == [10000, 10000]


def test_police_and_chit_chat_are_skipped_by_a_rule_or_read_when_mapped():
    feed = orjson.dumps({"alerts": [_alert("p", "POLICE", 1757466000000, "POLICE_VISIBLE"), _alert("c", "CHIT_CHAT", 1757466001000),
                                    _alert("x", "SOMETHING_NEW", 1757466002000)]})
    result = parse_safely(adapter(), feed)
    assert result.records == []
    assert [r.reason for r in result.rejects] == [
        "alert type POLICE skipped: no incident for the control room (skip_alert_types)",
        "alert type CHIT_CHAT skipped: no incident for the control room (skip_alert_types)",
        "alert type SOMETHING_NEW/(none) has no category (add it to alert_categories)"]
    read = parse_safely(adapter(skip_alert_types=["chit_chat"], alert_categories={"POLICE": "public_order"}), feed)
    [police] = read.records
    assert police.id == "alert:p" and police.category == "public_order" and police.details["waze_subtype"] == "POLICE_VISIBLE"
    assert len(read.rejects) == 2
