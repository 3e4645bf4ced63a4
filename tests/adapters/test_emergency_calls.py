from collections import Counter
from functools import partial

import orjson
import pytest
from contract import make_adapter, utc

from data_sources.emergency_calls import mask_phone
from engine.pipeline import parse_safely

DIR = "emergency_calls/"
SF = DIR + "sf_fire_dept_calls_for_service_2020-04_first2000.csv"
MONTCO = DIR + "montco_pa_911_calls_kaggle_first2000.csv"
SEATTLE = DIR + "seattle_fire_realtime_911_soda_kzjm-xkqj_2019.json"
EIDO = DIR + "nena_eido_sta021_sample_call_transfer.json"
EIDO_DRAFT = DIR + "nena_eido_draft2020_sample_superseded.json"

adapter = partial(make_adapter, "emergency-calls", source="ntpc-112")


@pytest.fixture(scope="module")
def sf(samples):
    result = parse_safely(adapter(preset="sf_fire"), (samples / SF).read_bytes())
    return result, {r.id: r for r in result.records}


def test_sf_one_incident_per_call_number(sf):
    result, by_id = sf
    assert len(result.records) == 1009 and result.rejects == []
    call = by_id["200983546"]
    assert call.category == "medical" and call.domain == "emergency" and call.severity == "high"
    assert call.status == "closed" and call.details["disposition"] == "Code 2 Transport"
    # 11:53:08 PM PDT on 7 Apr 2020
    assert call.reported_at == utc(2020, 4, 8, 6, 53, 8)
    assert call.details["timeline"] == {
        "received": "2020-04-08T06:53:08Z", "entered": "2020-04-08T06:55:30Z", "dispatched": "2020-04-08T06:55:56Z",
        "responding": "2020-04-08T06:56:06Z", "on_scene": "2020-04-08T07:00:00Z",  # first unit on scene
        "transport": "2020-04-08T07:23:18Z", "hospital": "2020-04-08T07:23:18Z",
        "closed": "2020-04-08T08:35:00Z",  # the last unit available
    }
    assert [u["unit"] for u in call.details["units"]] == ["E32", "85"]
    assert call.details["units"][1]["on_scene"] == "2020-04-08T07:02:21Z"
    assert (call.lat, call.lon) == (37.73217458500619, -122.42779351441527)
    assert call.details["private"] == {"address": "4000 Block of MISSION ST"}
    assert "MISSION" not in call.title and call.title == "Medical Incident - Bernal Heights"
    assert call.details["area"]["district"] == "Bernal Heights"


def test_sf_statuses_and_categories(sf):
    result, _ = sf
    assert Counter(r.status for r in result.records) == {"closed": 974, "cancelled": 35}
    cats = Counter(r.category for r in result.records)
    assert cats["medical"] == 803 and cats["accident"] == 17 and cats["non_emergency"] == 27
    assert sum(len(r.details["units"]) for r in result.records) == 2000


def test_sf_recognised_without_preset_and_column_override(samples):
    raw = (samples / SF).read_bytes()
    assert len(parse_safely(adapter(), raw).records) == 1009
    result = parse_safely(adapter(preset="sf_fire", columns={"district": "Battalion"}), raw)
    call = next(r for r in result.records if r.id == "200983546")
    assert call.details["area"]["district"] == "B06" and call.title == "Medical Incident - B06"


def test_montco(samples):
    result = parse_safely(adapter(preset="montco"), (samples / MONTCO).read_bytes())
    # 11 calls were published twice (same desc and title, later timeStamp): the later version is kept
    assert len(result.records) == 1989 and len(result.rejects) == 11
    assert all("superseded" in r.reason for r in result.rejects)
    first = result.records[0]
    assert first.reported_at == utc(2015, 12, 10, 22, 10, 52)  # "2015-12-10 @ 17:10:52" EST, from desc
    assert first.updated_at == utc(2015, 12, 10, 22, 40)  # timeStamp, when it was published
    assert first.category == "medical" and first.status == "dispatched"
    assert first.details["type_group"] == "EMS" and first.details["call_type"] == "BACK PAINS/INJURY"
    assert first.details["private"]["address"] == "REINDEER CT & DEAD END"
    assert "REINDEER" not in first.title and first.details["area"] == {"district": "NEW HANOVER", "zip": "19525"}
    by_type = {r.details["type_group"] + ": " + r.details["call_type"]: r.category for r in result.records}
    assert by_type["Traffic: VEHICLE ACCIDENT"] == "accident"
    assert by_type["Traffic: DISABLED VEHICLE"] == "non_emergency"
    assert by_type["Fire: FIRE ALARM"] == "fire" and by_type["EMS: VEHICLE ACCIDENT"] == "accident"
    assert by_type["EMS: FALL VICTIM"] == "medical"  # no keyword: the EMS group decides
    assert len({r.id for r in result.records}) == 1989


def test_seattle_socrata(samples):
    result = parse_safely(adapter(), (samples / SEATTLE).read_bytes())
    assert len(result.records) == 13 and result.rejects == []
    first = result.records[0]
    assert first.id == "F190056035" and first.title == "Rescue Elevator" and first.category == "other_emergency"
    assert first.reported_at == utc(2019, 5, 30, 18, 22)  # floating 11:22 in Seattle (PDT)
    assert (first.lat, first.lon) == (47.608766, -122.336894)
    assert first.details["private"] == {"address": "1402 3rd Av"}
    assert Counter(r.category for r in result.records) == {"medical": 11, "other_emergency": 1, "fire": 1}
    # another zone in config moves the floating times
    wita = parse_safely(adapter(preset="seattle", timezone="Asia/Makassar"), (samples / SEATTLE).read_bytes())
    assert wita.records[0].reported_at == utc(2019, 5, 30, 3, 22)


def test_eido_call_transfer(samples):
    result = parse_safely(adapter(), (samples / EIDO).read_bytes())
    assert result.rejects == []
    [call] = result.records
    assert call.id == "urn:emergency:uid:incidentid:a56e556d871:bcf.state.pa.us"
    assert call.category == "other_emergency" and call.status == "acknowledged"
    assert call.details["timeline"] == {"received": "2021-04-30T18:40:00Z", "answered": "2021-04-30T18:42:00Z"}
    assert call.updated_at == utc(2021, 4, 30, 18, 43, 49, 439000)
    # the callback number and the civic address are personal data: private only
    assert call.details["private"]["callback"] == ["sip:8195551212@osp.com", "tel:8195551212"]
    assert call.details["private"]["civic_address"]["HNO"] == "42"
    assert call.details["private"]["location_reference_urls"] == ["https://lrf.osp.com?oasufdqwerjn12346jfias"]
    assert call.details["area"] == {"country": "US", "A1": "DE", "A3": "Wilmington"}
    assert call.lat is None and "8195551212" not in call.title


def test_eido_draft_with_malformed_pidf(samples):
    result = parse_safely(adapter(), (samples / EIDO_DRAFT).read_bytes())
    [call] = result.records
    assert call.id == "urn:emergency:uid:incidentid:0:psap.allegheny.pa.us"
    assert call.category == "conflict" and call.severity == "critical" and call.status == "dispatched"
    assert call.title == "CIVIL UNREST; REQUEST MUTUAL AID" and call.lat is None
    [reject] = result.rejects
    assert "PIDF-LO is not valid XML" in reject.reason and "kept without this location" in reject.reason
    assert call.details["location_problem"] == reject.reason


def test_eido_with_a_well_formed_point(samples):
    doc = orjson.loads((samples / EIDO_DRAFT).read_bytes())
    doc["locationInformationComponent"][0]["locationByValue"] = (
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" '
        'xmlns:gml="http://www.opengis.net/gml"><device><gp:geopriv><gp:location-info>'
        '<gml:Point><gml:pos>-8.6705 115.2126</gml:pos></gml:Point></gp:location-info></gp:geopriv></device></presence>')
    result = parse_safely(adapter(), orjson.dumps(doc))
    [call] = result.records
    assert result.rejects == [] and (call.lat, call.lon) == (-8.6705, 115.2126)
    assert call.in_city is True and call.kecamatan  # located by the pipeline


def test_generic_csv_for_denpasar_112():
    raw = (
        "No Tiket,Kategori,Waktu Terima,Waktu Dispatch,Status,No Telepon,Alamat,Kecamatan,Lat,Lon\n"
        "T-1,Kebakaran rumah,2025-09-10 08:15:00,2025-09-10 08:17:30,,081234567890,Jl. Teuku Umar 1,Denpasar Barat,-8.6705,115.2126\n"
        "T-2,Banjir 081234567890,2025-09-10 08:20:00,,Selesai,0361223333,Jl. Gatsu,Denpasar Utara,,\n"
        "T-3,Panggilan iseng,kemarin,,,,,,,\n"
        "T-4,Kecelakaan,2025-09-10 08:30:00,,,,,,95,115\n"
        "T-5,short row\n"
    ).encode()
    config = dict(preset="generic", columns={
        "id": "No Tiket", "call_type": "Kategori", "received": "Waktu Terima", "dispatched": "Waktu Dispatch",
        "status": "Status", "phone": "No Telepon", "address": "Alamat", "district": "Kecamatan", "lat": "Lat", "lon": "Lon"},
        statuses={"selesai": "closed"})
    result = parse_safely(adapter(**config), raw)
    by_id = {r.id: r for r in result.records}
    assert set(by_id) == {"T-1", "T-2"}
    fire = by_id["T-1"]
    assert fire.reported_at == utc(2025, 9, 10, 0, 15)  # zone-less: WITA by default
    assert fire.details["timeline"]["dispatched"] == "2025-09-10T00:17:30Z" and fire.status == "dispatched"
    assert fire.category == "fire" and fire.details["private"]["phone"] == "081234567890"
    assert fire.in_city is True
    flood = by_id["T-2"]
    assert flood.category == "disaster" and flood.status == "closed" and flood.lat is None
    assert "081234567890" not in flood.title and "[...]" in flood.title
    reasons = " | ".join(r.reason for r in result.rejects)
    assert len(result.rejects) == 3
    assert "'kemarin'" in reasons and "impossible coordinates" in reasons and "2 fields where the header has 10" in reasons


def test_rejects_never_show_callers_numbers_or_addresses():
    raw = ("No Tiket,Kategori,Waktu Terima,No Telepon,Alamat,Kecamatan,Lat,Lon\n"
           "T-1,Kebakaran,kemarin,+62 812-3456-7890,Jl. Teuku Umar 1,Denpasar Barat,-8.6705,115.2126\n"
           "T-2,Kecelakaan,2025-09-10 08:30:00,0361223333,Jl. Gatsu,Denpasar Utara,95,115\n"
           "T-2,Kecelakaan,2025-09-10 08:30:00,0361223333,Jl. Gatsu,Denpasar Utara,-8.65,115.22\n"
           "T-3,Medis,2025-09-10 08:40:00,0361223333,Jl. Gatsu,Denpasar Utara,-8.65,115.22\n"
           "T-3,Medis,2025-09-10 08:40:00,0361223333,Jl. Gatsu,Denpasar Utara,-8.65,115.22\n").encode()
    config = dict(preset="generic", columns={"id": "No Tiket", "call_type": "Kategori", "received": "Waktu Terima",
                                             "phone": "No Telepon", "address": "Alamat", "district": "Kecamatan",
                                             "lat": "Lat", "lon": "Lon"})
    result = parse_safely(adapter(**config), raw)
    assert [r.ref for r in result.rejects] == ["T-1", "T-2", "T-3"]  # bad time, bad coordinates, duplicate
    for reject in result.rejects:
        assert "Teuku" not in reject.item and "Gatsu" not in reject.item and "223333" not in reject.item
    assert all("[private]" in r.item for r in result.rejects[:2])  # rows: phone and address columns
    assert "Denpasar Barat" in result.rejects[0].item  # the public area stays readable
    assert "3456" not in result.rejects[0].item
    assert [r.details["private"]["phone"] for r in result.records] == ["0361223333", "0361223333"]  # records keep it


def test_whole_document_and_eido_location_rejects_are_masked(samples):
    broken = b'[{"incident_number": "F1", "address": "Jl. Teuku Umar 1", "phone": "081234567890", "type": '
    [reject] = parse_safely(adapter(), broken).rejects
    assert "Teuku" not in reject.item and "081234567890" not in reject.item and "[private]" in reject.item
    doc = orjson.loads((samples / EIDO).read_bytes())
    pidf = '<presence><civicAddress><A3>Wilmington</A3><HNO>42</HNO><RD>Cellular</RD><pos>39.7 -75.5</pos>'  # cut short
    doc["locationComponent"] = [{"$id": "loc-x", "locationByValue": pidf}]
    result = parse_safely(adapter(), orjson.dumps(doc))
    [bad] = [r for r in result.rejects if r.ref == "loc-x"]
    assert "Wilmington" in bad.item and "Cellular" not in bad.item and "<HNO>[private]" in bad.item and "39.7" not in bad.item


def test_mask_phone():
    assert mask_phone("Call back +62 361 223333 now") == "Call back [...] now"
    assert mask_phone("EMS: CARDIAC EMERGENCY") == "EMS: CARDIAC EMERGENCY"


def test_config_validation():
    with pytest.raises(ValueError, match="not a category"):
        adapter(categories={"Medical Incident": "ems"})
    with pytest.raises(ValueError, match="unknown time zone"):
        adapter(timezone="PDT")
    with pytest.raises(ValueError, match="not a regular expression"):
        adapter(extract={"received": "(unclosed"})
    with pytest.raises(ValueError):
        adapter(preset="bali")


@pytest.mark.parametrize("raw", [  # empty, HTML, truncated, non-UTF-8 and deeply nested: test_contract.py
    b'{"hello": "world"}',
    b"just one line of text", b'{"eidoVersion": "1.0", "callComponent": []}',
    b"lat,lng,desc\n", b'{"eidoVersion": "1.0", "$id": "x", "lastUpdateTimeStamp": -1e308}',
    b'[{"incident_number": "F1", "type": "Aid Response", "datetime": "9999-12-31T23:59:59-01:00"}]',
])
def test_bad_documents_give_at_most_one_reject(raw):
    result = parse_safely(adapter(), raw)
    assert result.records == []
    assert len(result.rejects) == (0 if raw == b"lat,lng,desc\n" else 1)
    assert all(r.reason for r in result.rejects)


def test_fetch_path(samples, feed_server):
    body = (samples / SEATTLE).read_bytes()
    a = adapter(url=feed_server.serve("/kzjm-xkqj.json", body, content_type="application/json"))
    assert len(parse_safely(a, a.fetch()).records) == 13
