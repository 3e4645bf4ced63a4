from datetime import date, datetime, timedelta, timezone
from functools import partial

import pytest
from contract import assert_one_reject, make_adapter, utc

from data_sources.open311 import Open311Config, parse_services
from engine.analytics.config import KpiConfig
from engine.analytics.facts import fact_from_payload
from engine.analytics.kpi import working_deadline
from engine.pipeline import parse_safely

DIR = "complaints/"

adapter = partial(make_adapter, "open311", source="pro-denpasar")


def parse(samples, name, **config):
    return parse_safely(adapter(**config), (samples / DIR / name).read_bytes())


def test_spec_example_xml_two_requests(samples):
    result = parse(samples, "open311_georeport_v2_requests_spec_example.xml")
    assert result.rejects == []
    first, second = result.records
    assert (first.id, second.id) == ("638344", "638349")
    assert first.reported_at == utc(2010, 4, 14, 14, 37, 38)
    assert first.domain == "complaint" and first.category == "infrastructure"
    assert first.details["service"] == {"code": "006", "name": "Sidewalk and Curb Issues"}
    # closed with "Duplicate request." is a rejected complaint, an open one without an agency is new
    assert (first.status, second.status) == ("rejected", "new")
    assert (first.lat, first.lon) == (37.762221815, -122.4651145)
    # expected_datetime is the city's own resolution deadline; the adapter adds no days of its own
    assert first.details["resolution_due"] == "2010-04-15T14:37:38Z"
    assert "first_response_due" not in first.details
    assert first.details["description"] is None and first.details["agency_responsible"] is None


def test_toronto_xml_empty_elements(samples):
    result = parse(samples, "open311_georeport_v2_requests_toronto_2018.xml")
    assert len(result.records) == 2 and result.rejects == []
    r = result.records[0]
    assert r.id == "101005420892" and r.status == "in_progress"  # "In progress - The request has been scheduled."
    assert r.updated_at == r.reported_at == utc(2018, 7, 30, 4, 1)  # <updated_datetime/> falls back
    assert r.details["zipcode"] is None and r.details["media_url"] is None
    assert (r.lat, r.lon) == (43.691104288, -79.272306875)
    assert r.category == "infrastructure"


def test_chicago_json(samples):
    result = parse(samples, "open311_georeport_v2_requests_chicago_2014.json")
    assert [r.id for r in result.records] == ["14-01100669", "14-01100627"] and result.rejects == []
    light = result.records[0]
    # Chicago names an agency on every request: an open one is still new unless a city opts in
    assert light.category == "street_lighting" and light.status == "new"
    assert light.details["agency_responsible"] == "Division of Electrical Operations CDOT"
    assert light.updated_at == utc(2014, 7, 12, 16, 8, 21)
    assert light.details["resolution_due"] is None


def test_assigned_status_is_an_opt_in(samples):
    opted = parse(samples, "open311_georeport_v2_requests_chicago_2014.json", assigned_status="dispatched")
    assert [r.status for r in opted.records] == ["dispatched", "dispatched"]
    spec = parse(samples, "open311_georeport_v2_requests_spec_example.xml", assigned_status="dispatched")
    assert [r.status for r in spec.records] == ["rejected", "new"]  # no agency named: not handed over


def test_deadlines_are_the_working_day_rule_from_the_received_time(samples):
    """No calendar days from the adapter: the one SP4N-LAPOR! rule (kpi working days and holidays) applies."""
    light = parse(samples, "open311_georeport_v2_requests_chicago_2014.json").records[0]
    assert light.reported_at == utc(2014, 7, 12, 15, 58, 43)  # Saturday, 23:58 WITA
    kpi = KpiConfig(holidays=[date(2014, 7, 14)])
    row = fact_from_payload(light.model_dump(mode="json"), kpi)
    first_due = working_deadline(light.reported_at, kpi.first_response_days, kpi.working_days, kpi.holidays)
    assert row["due_first"] == int(first_due.timestamp())
    # (Sunday 13, Monday 14 a holiday) Tue 15, Wed 16, Thu 17: due before Friday 18 July 00:00 WITA
    assert first_due == datetime(2014, 7, 18, tzinfo=timezone(timedelta(hours=8)))


def test_bloomington_json_null_and_zero_locations_are_kept(samples):
    result = parse(samples, "open311_georeport_v2_requests_bloomington_2012.json")
    assert len(result.records) == 21 and result.rejects == []
    by_id = {r.id: r for r in result.records}
    no_place = by_id["4fbd40b2b1fe2c4b02000001"]  # lat/long null
    assert no_place.lat is None and no_place.lon is None and no_place.in_city is None
    zero = by_id["4fbd2b76b1fe2c195f000000"]  # lat/long 0, 0
    assert zero.lat is None and zero.details["location_missing"] is True
    assert sum(r.details["location_missing"] for r in result.records) == 8
    assert sum(r.status == "closed" for r in result.records) == 3
    assert by_id["4fbd14bbb1fe2c5214000000"].category == "waste"  # Yard Waste


def test_category_config(samples):
    result = parse(samples, "open311_georeport_v2_requests_chicago_2014.json", categories={"Building Violation": "public_service"})
    light, building = result.records
    assert building.category == "public_service" and light.category == "street_lighting"


def test_status_override_keeps_defaults(samples):
    result = parse(samples, "open311_georeport_v2_requests_spec_example.xml", note_statuses={"duplicate": "closed"})
    first, second = result.records
    assert first.status == "closed" and second.status == "new"  # "open" still maps through the default statuses


def test_config_rejects_unknown_category_and_zone():
    with pytest.raises(ValueError, match="not a category"):
        Open311Config(categories={"x": "potholes"})
    with pytest.raises(ValueError, match="unknown time zone"):
        Open311Config(timezone="Bali/Denpasar")


@pytest.mark.parametrize("name, count, reason", [
    ("open311_georeport_v2_services_sf311.xml", 36, "a services list (36 services)"),
    ("open311_georeport_v2_services_giessen.xml", 8, "a services list (8 services)"),
    ("open311_georeport_v2_services_bloomington.json", 46, "a services list (46 services)"),
])
def test_services_documents_are_one_reject_and_a_catalogue(samples, name, count, reason):
    raw = (samples / DIR / name).read_bytes()
    result = parse_safely(adapter(), raw)
    assert result.records == [] and len(result.rejects) == 1 and reason in result.rejects[0].reason
    services = parse_services(raw)
    assert len(services) == count
    assert all(s["service_code"] and s["category"] for s in services)


def test_parse_services_fields(samples):
    sf = parse_services((samples / DIR / "open311_georeport_v2_services_sf311.xml").read_bytes())
    first = sf[0]
    assert (first["service_code"], first["service_name"], first["group"]) == ("001", "Cans_Left_Out_24x7", "Litter Receptacles")
    assert first["category"] == "waste"
    blm = {s["service_name"]: s for s in parse_services((samples / DIR / "open311_georeport_v2_services_bloomington.json").read_bytes())}
    assert blm["Street Lights"]["category"] == "street_lighting" and blm["Street Lights"]["group"] == "Streets, Parking & Traffic"
    config = Open311Config(categories={"013": "street_lighting"})
    giessen = {s["service_code"]: s for s in parse_services((samples / DIR / "open311_georeport_v2_services_giessen.xml").read_bytes(), config)}
    assert giessen["013"]["service_name"] == "Laterne defekt" and giessen["013"]["category"] == "street_lighting"
    assert parse_services(b"<html>oops</html>") == [] and parse_services(b"[1, 2") == []


def test_service_definition_and_post_response(samples):
    definition = parse(samples, "open311_georeport_v2_service_definition_spec_example.xml")
    assert definition.records == [] and "service definition (service DMV66)" in definition.rejects[0].reason
    post = parse(samples, "open311_georeport_v2_post_request_response_spec_example.xml")
    assert post.records == [] and len(post.rejects) == 1
    assert "POST acknowledgement for request 293944" in post.rejects[0].reason and post.rejects[0].ref == "293944"


def test_numeric_ids_stray_namespaces_and_duplicates():
    raw = b"""[
      {"service_request_id": 42, "status": "open", "service_name": "Lampu jalan mati", "requested_datetime": "2025-09-10 08:00:00",
       "lat": "-8.65", "long": "115.21"},
      {"service_request_id": 42.0, "status": "closed", "service_name": "Lampu jalan mati", "requested_datetime": "2025-09-10 08:00:00",
       "updated_datetime": "2025-09-11T08:00:00+08:00", "lat": -8.65, "long": 115.21},
      {"service_request_id": 42, "status": "closed", "service_name": "Lampu jalan mati", "requested_datetime": "2025-09-10 08:00:00",
       "updated_datetime": "2025-09-11T08:00:00+08:00"},
      {"service_request_id": "43", "status": "weird", "requested_datetime": "2025-09-10T08:00:00+08:00"},
      {"service_request_id": "44", "status": "open", "requested_datetime": "yesterday"},
      {"service_request_id": "45", "status": "open", "requested_datetime": "2025-09-10T08:00:00+08:00", "lat": 95, "long": 115},
      {"status": "open", "token": "abc"},
      "junk"
    ]"""
    result = parse_safely(adapter(), raw)
    [record] = result.records
    assert record.id == "42" and record.status == "closed" and record.category == "street_lighting"
    # zone-less requested_datetime takes the configured zone (WITA)
    assert record.reported_at == utc(2025, 9, 10, 0, 0)
    reasons = [r.reason for r in result.rejects]
    assert len(reasons) == 7
    assert any("superseded" in r for r in reasons) and any("duplicate of id 42" in r for r in reasons)
    assert any("'weird'" in r for r in reasons) and any("requested_datetime" in r for r in reasons)
    assert any("impossible coordinates" in r for r in reasons) and any("token" in r for r in reasons)
    assert any("not an object" in r for r in reasons)
    xml = b"""<service_requests xmlns:m="http://org/sfgov/sf311v2/services"><m:request>
      <m:service_request_id>7</m:service_request_id><m:status>open</m:status><m:service_code>X</m:service_code>
      <m:requested_datetime>2025-09-10T08:00:00+08:00</m:requested_datetime><m:lat/><m:long/></m:request></service_requests>"""
    [r] = parse_safely(adapter(), xml).records
    assert r.id == "7" and r.lat is None and r.category == "other_complaint"


def test_error_answers():
    xml = b"<errors><error><code>403</code><description>Invalid api_key</description></error></errors>"
    [reject] = parse_safely(adapter(), xml).rejects
    assert "403 Invalid api_key" in reject.reason
    [reject] = parse_safely(adapter(), b'[{"code": 400, "description": "service_code not found"}]').rejects
    assert "service_code not found" in reject.reason


@pytest.mark.parametrize("raw", [  # empty, HTML, truncated, non-UTF-8 and deeply nested: test_contract.py
    b"42", b'{"x": 1}', b"<html_root/>", b'<?xml version="1.0" encoding="bogus"?><service_requests/>',
    b'[{"service_request_id": 1, "status": "open", "requested_datetime": 1e308}]',
    b'[{"service_request_id": 1, "status": "open", "requested_datetime": "9999-12-31T23:00:00-05:00"}]',
])
def test_bad_documents_are_one_reject(raw):
    assert_one_reject(parse_safely(adapter(), raw))


def test_fetch_path(samples, feed_server):
    body = (samples / DIR / "open311_georeport_v2_requests_toronto_2018.xml").read_bytes()
    url = feed_server.serve("/requests.xml", body, content_type="text/xml")
    a = adapter(url=url)
    result = parse_safely(a, a.fetch())
    assert [r.id for r in result.records] == ["101005420892", "101005420894"]
