from collections import Counter
from functools import partial
from pathlib import Path

import pytest
from contract import assert_one_reject, make_adapter, utc

from engine.pipeline import parse_safely

MEASURED = "traffic/datex2_v2_ntis_midas_loop_measureddata_20150429.xml"
SITUATION = "traffic/datex2_v2_ntis_event_situation_20150429.xml"
VMS = "traffic/datex2_v2_ntis_vms_status_20150429.xml"
SITE = "1816E27C1C474CB981FC38C5A55451E4"

adapter = partial(make_adapter, "datex2", source="datex2-test")


def test_measured_data_readings(samples):
    result = parse_safely(adapter(), (samples / MEASURED).read_bytes())
    # 2,044 measured values at 108 sites; 76 flagged dataError by the detectors
    assert len(result.records) == 1968 and len(result.rejects) == 76
    assert len({r.id for r in result.records}) == 1968
    assert len({r.station for r in result.records}) == 108
    assert Counter(r.quantity for r in result.records) == {"flow": 1119, "headway": 285, "occupancy": 285, "speed": 279}
    speed = next(r for r in result.records if r.id == f"{SITE}:0:20150429T083800Z")
    assert speed.kind == "reading" and speed.quantity == "speed" and speed.value == 96.0 and speed.unit == "km/h"
    assert speed.observed_at == utc(2015, 4, 29, 8, 38)  # 09:38 +01:00
    assert speed.lat is None and speed.in_city is None  # no MeasurementSiteTable, no location
    flow = next(r for r in result.records if r.id == f"{SITE}:3:20150429T083800Z")
    assert flow.quantity == "flow" and flow.value == 120 and flow.unit == "veh/h"
    assert all("data error" in r.reason for r in result.rejects)
    assert any("out of range" in r.reason and "255.0" in r.item for r in result.rejects)


def test_site_locations_from_config(samples):
    result = parse_safely(adapter(sites={SITE: (-8.6705, 115.2126)}), (samples / MEASURED).read_bytes())
    located = [r for r in result.records if r.station == SITE]
    assert located and all((r.lat, r.lon) == (-8.6705, 115.2126) for r in located)
    assert all(r.in_city is True and r.kecamatan for r in located)  # filled by the pipeline


def test_situation_incident(samples):
    result = parse_safely(adapter(), (samples / SITUATION).read_bytes())
    assert result.rejects == []
    [s] = result.records
    assert s.id == "950085" and s.category == "congestion" and s.domain == "traffic"
    assert (s.lat, s.lon) == (54.127296, -0.8240446)
    assert s.reported_at == utc(2015, 4, 29, 8, 54, 33, 912000)
    assert s.updated_at == utc(2015, 4, 29, 8, 54, 34, 321000)
    assert s.details["delay_s"] == 120.0 and s.severity == "info" and s.status == "new"
    assert "A64 southbound" in s.title and len(s.details["comments"]) == 6
    assert s.details["subtype"] == "unspecifiedAbnormalTraffic"


def test_vms_units_are_rejects_with_the_sign_text(samples):
    result = parse_safely(adapter(), (samples / VMS).read_bytes())
    assert result.records == [] and len(result.rejects) == 5
    assert all(r.reason.startswith("VMS status is not read") for r in result.rejects)
    assert result.rejects[0].ref == "CFB613DE7F903254E0433CC411ACFD01" and "TO J9 (ASHFORD) / 22 MINS" in result.rejects[0].item


SITUATIONS = b"""<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<payloadPublication xsi:type="SituationPublication"><publicationTime>2025-09-10T10:00:00</publicationTime>
<situation id="s1">
 <situationRecord xsi:type="d2:Accident" id="r1"><situationRecordCreationTime>2025-09-10T09:00:00</situationRecordCreationTime>
  <situationRecordVersionTime>2025-09-10T09:05:00</situationRecordVersionTime><severity>high</severity>
  <groupOfLocations><locationForDisplay><latitude>-8.6705</latitude><longitude>115.2126</longitude></locationForDisplay></groupOfLocations>
 </situationRecord>
 <situationRecord xsi:type="Accident" id="r1"><situationRecordCreationTime>2025-09-10T09:00:00</situationRecordCreationTime>
  <situationRecordVersionTime>2025-09-10T09:20:00</situationRecordVersionTime><severity>high</severity>
  <management><lifeCycleManagement><end>true</end></lifeCycleManagement></management>
 </situationRecord>
 <situationRecord xsi:type="RoadOrCarriagewayOrLaneManagement" id="r2"><situationRecordCreationTime>soon</situationRecordCreationTime>
  <validity><validityTimeSpecification><overallEndTime>2025-09-11T00:00:00+08:00</overallEndTime></validityTimeSpecification></validity>
 </situationRecord>
 <situationRecord xsi:type="Accident" id="r3"><situationRecordCreationTime>2025-09-10T09:00:00Z</situationRecordCreationTime>
  <groupOfLocations><locationForDisplay><latitude>95</latitude><longitude>115</longitude></locationForDisplay></groupOfLocations>
 </situationRecord>
 <situationRecord xsi:type="Accident"><situationRecordCreationTime>2025-09-10T09:00:00Z</situationRecordCreationTime></situationRecord>
</situation></payloadPublication></d2LogicalModel>"""


def test_situation_variants_zone_versions_and_rejects():
    result = parse_safely(adapter(), SITUATIONS)
    by_id = {r.id: r for r in result.records}
    assert set(by_id) == {"r1", "r2"}
    r1 = by_id["r1"]
    # zone-less time takes the configured zone (WITA); the newer version wins and is closed
    assert r1.reported_at == utc(2025, 9, 10, 1, 0) and r1.updated_at == utc(2025, 9, 10, 1, 20)
    assert r1.status == "closed" and r1.category == "traffic_accident" and r1.severity == "high"
    r2 = by_id["r2"]  # unreadable creation time falls back to the publication time
    assert r2.category == "road_closure" and r2.reported_at == utc(2025, 9, 10, 2, 0)
    assert r2.expires_at == utc(2025, 9, 10, 16, 0) and r2.lat is None
    reasons = [r.reason for r in result.rejects]
    assert len(reasons) == 3
    assert any("superseded" in r for r in reasons) and any("impossible coordinates" in r for r in reasons)
    assert any("without an id" in r for r in reasons)
    remapped = parse_safely(adapter(situation_categories={"Accident": "road_hazard"}, severities={"high": "critical"}), SITUATIONS)
    r1 = {r.id: r for r in remapped.records}["r1"]
    assert r1.category == "road_hazard" and r1.severity == "critical"
    assert {r.id: r for r in remapped.records}["r2"].category == "road_closure"  # defaults kept
    utc_zone = parse_safely(adapter(timezone="UTC"), SITUATIONS)
    assert {r.id: r for r in utc_zone.records}["r1"].reported_at == utc(2025, 9, 10, 9, 0)


def test_other_publications_and_measurement_oddities():
    table = b"""<d2LogicalModel xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><payloadPublication xsi:type="MeasurementSiteTablePublication"/></d2LogicalModel>"""
    [reject] = parse_safely(adapter(), table).rejects
    assert "MeasurementSiteTablePublication" in reject.reason and "sites" in reject.reason
    measured = b"""<d2LogicalModel xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><payloadPublication xsi:type="MeasuredDataPublication">
      <publicationTime>2025-09-10T10:00:00+08:00</publicationTime>
      <siteMeasurements><measurementSiteReference id="S1"/>
        <measuredValue index="0"><measuredValue><basicData xsi:type="TrafficSpeed"><averageVehicleSpeed><speed>fast</speed></averageVehicleSpeed></basicData></measuredValue></measuredValue>
        <measuredValue index="1"><measuredValue><basicData xsi:type="TrafficStatus"><trafficStatus>free</trafficStatus></basicData></measuredValue></measuredValue>
        <measuredValue index="2"><measuredValue><basicData xsi:type="TrafficFlow"><vehicleFlow><vehicleFlowRate>600</vehicleFlowRate></vehicleFlow></basicData></measuredValue></measuredValue>
        <measuredValue index="2"><measuredValue><basicData xsi:type="TrafficFlow"><vehicleFlow><vehicleFlowRate>600</vehicleFlowRate></vehicleFlow></basicData></measuredValue></measuredValue>
      </siteMeasurements>
      <siteMeasurements><measuredValue index="0"/></siteMeasurements>
    </payloadPublication></d2LogicalModel>"""
    result = parse_safely(adapter(), measured)
    [flow] = result.records
    assert flow.id == "S1:2:20250910T020000Z" and flow.observed_at == utc(2025, 9, 10, 2, 0)  # publication time
    reasons = " | ".join(r.reason for r in result.rejects)
    assert len(result.rejects) == 3
    for part in ["'fast' is not a number", "TrafficStatus is not read", "without a measurementSiteReference"]:
        assert part in reasons
    assert (flow.value, flow.details["samples"]) == (600, 2)  # two values for one site, index and time: samples, not a duplicate


@pytest.mark.parametrize("raw", [  # empty, HTML, truncated, non-UTF-8 and deeply nested: test_contract.py
    b"<d2LogicalModel/>", b'{"json": true}',
    b'<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><x>&b;</x>',
    b'<?xml version="1.0" encoding="UTF-8NaN"?><d2LogicalModel/>',
])
def test_bad_documents_are_one_reject(raw):
    assert_one_reject(parse_safely(adapter(), raw))


def test_config_validation():
    with pytest.raises(ValueError, match="not a category"):
        adapter(situation_categories={"Accident": "crash"})
    with pytest.raises(ValueError, match="unknown time zone"):
        adapter(timezone="Mars/Olympus")
    assert adapter(timezone="WITA").zone.utcoffset(None).total_seconds() == 8 * 3600  # the shared zone key reads WIB/WITA/WIT


def test_fetch_path(samples, feed_server):
    body = (samples / SITUATION).read_bytes()
    a = adapter(url=feed_server.serve("/events.xml", body, content_type="application/xml"))
    [incident] = parse_safely(a, a.fetch()).records
    assert incident.id == "950085"


# ---- variants not among the samples (fixtures/README.md) ---------------------------------------

FIXTURES = Path(__file__).parent / "fixtures"


def test_ntis_journey_time_samples_are_aggregated_to_their_median():
    result = parse_safely(adapter(), (FIXTURES / "datex2_v2_ntis_anpr_journey_times.xml").read_bytes())
    assert result.rejects == []  # no sample called a duplicate
    link, single = result.records
    assert link.id == "A1_J51_J52_NB:0:20150429T083500Z" and link.quantity == "travel_time" and link.unit == "s"
    assert link.value == 436 and (link.details["samples"], link.details["min"], link.details["max"]) == (7, 401, 452)
    assert single.value == 188 and "samples" not in single.details


def test_datex2_v3_payload_measured_data():
    result = parse_safely(adapter(), (FIXTURES / "datex2_v3_payload_measured.xml").read_bytes())
    assert result.rejects == []
    assert [(r.station, r.quantity, r.value) for r in result.records] == [
        ("RWS01_MONIBAS_0021hrl0403ra", "flow", 780), ("RWS01_MONIBAS_0021hrl0403ra", "speed", 96),
        ("RWS01_MONIBAS_0021hrl0409ra", "travel_time", 131.5)]
    assert {r.observed_at for r in result.records} == {utc(2023, 5, 10, 7, 59)}


def test_datex2_v3_payload_situation():
    result = parse_safely(adapter(), (FIXTURES / "datex2_v3_payload_situation.xml").read_bytes())
    assert result.rejects == []
    [accident] = result.records
    assert accident.id == "RWS03_1234567_01" and accident.category == "traffic_accident" and accident.severity == "high"
    assert (accident.lat, accident.lon) == (52.084, 5.043)
    assert accident.reported_at == utc(2023, 5, 10, 7, 41) and accident.updated_at == utc(2023, 5, 10, 7, 55)
    assert accident.details["comments"] == ["Collision on the A2, two lanes closed"] and accident.details["subtype"] == "collision"
