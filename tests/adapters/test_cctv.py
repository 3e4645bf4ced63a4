from datetime import datetime, timezone
from functools import partial

import orjson
import pytest
from contract import assert_one_reject, make_adapter

from data_sources import get_adapter
from engine.pipeline import parse_safely

PALEMBANG = "traffic/cctv_palembang_kominfo_api_list_20251127.json"
DISHUB = "traffic/cctv_dishub_pantura_mudik_locations_2015.json"
LISTED = "2015-07-10T08:00:00+07:00"

adapter = partial(make_adapter, "cctv")


def cameras(*items, **config):
    return parse_safely(adapter(**config), orjson.dumps({"data": list(items)}))


def test_palembang_api_list(samples):
    result = parse_safely(adapter(), (samples / PALEMBANG).read_bytes())
    assert len(result.records) == 25 and result.rejects == []
    assert len({r.id for r in result.records}) == 25
    first = result.records[0]
    assert first.id == first.station == "CCTV-BKB-02" and first.station_name == "CCTV Benteng Kuto Besak"
    assert (first.lat, first.lon) == (-2.9913, 104.761266)  # GeoJSON [lon, lat]
    assert first.observed_at == datetime(2025, 11, 25, 9, 30, 6, 476000, tzinfo=timezone.utc)
    assert (first.quantity, first.value, first.unit, first.alert_level) == ("camera_online", 1.0, "", 0)
    assert first.details["stream_url"] == "https://stream.palembang.go.id/stream2/index.m3u8"
    assert first.details["online_known"] is True and first.details["address"] == "ALANG-ALANG LEBAR"
    assert first.in_city is False
    # a camera with only the nested kecamatan/kelurahan objects
    hermina = next(r for r in result.records if r.id == "CCTV-HERMINA-10")
    assert hermina.details["address"] and hermina.details["last_checked"] == "2025-11-25T10:44:56.305000+00:00"
    assert all(r.value == 1.0 for r in result.records)


def test_dishub_strings_and_lost_decimal_points(samples):
    raw = (samples / DISHUB).read_bytes()
    result = parse_safely(adapter(listed_at=LISTED), raw)
    assert len(result.records) == 35 and result.rejects == []
    repaired = [r for r in result.records if "coordinates_repaired" in r.details]
    assert len(repaired) == 10
    bogor = [r for r in repaired if r.station_name == "Bogor"]
    assert [(round(r.lat, 6), round(r.lon, 6)) for r in bogor] == [(-6.655843, 106.847359), (-6.655269, 106.859397)]
    assert all(-11 <= r.lat <= 6 and 95 <= r.lon <= 141 for r in result.records)
    merak = result.records[0]
    assert merak.station_name == "Terminal ASDP Merak" and merak.details["online_known"] is False
    assert merak.value == 1.0 and merak.details["stream_url"] is None
    assert merak.observed_at == datetime(2015, 7, 10, 1, 0, tzinfo=timezone.utc)
    # no ids in the file: derived ids are unique and the same on the next poll
    assert len({r.id for r in result.records}) == 35
    assert [r.id for r in parse_safely(adapter(listed_at=LISTED), raw).records] == [r.id for r in result.records]


def test_no_check_time_and_no_fetch_is_a_reject_per_camera(samples):
    result = parse_safely(adapter(), (samples / DISHUB).read_bytes())
    assert result.records == [] and len(result.rejects) == 35
    assert "neither listed_at nor a fetch time" in result.rejects[0].reason


def test_fetch_path_uses_the_fetch_time(samples, feed_server):
    a = adapter(url=feed_server.serve("/cctv.json", (samples / DISHUB).read_bytes(), content_type="application/json"))
    before = datetime.now(timezone.utc)
    result = parse_safely(a, a.fetch())
    assert len(result.records) == 35
    assert all(before <= r.observed_at <= datetime.now(timezone.utc) for r in result.records)
    a = adapter(url=feed_server.serve("/p.json", (samples / PALEMBANG).read_bytes()))
    assert len(parse_safely(a, a.fetch()).records) == 25


def test_unrepairable_and_swapped_coordinates():
    result = cameras(
        {"id": "a", "name": "ambiguous", "latitude": "-1012345678", "longitude": "115.2", "is_online": True, "last_checked": LISTED},
        {"id": "b", "name": "no fit", "latitude": "-8.65", "longitude": "2012345678", "is_online": True, "last_checked": LISTED},
        {"id": "c", "name": "swapped", "latitude": "115.2163", "longitude": "-8.6705", "is_online": True, "last_checked": LISTED},
        {"id": "d", "name": "text", "latitude": "n/a", "longitude": "115.2", "is_online": True, "last_checked": LISTED},
        {"id": "e", "name": "missing", "is_online": True, "last_checked": LISTED},
        {"id": "f", "name": "zero", "latitude": 0, "longitude": 0, "is_online": True, "last_checked": LISTED},
    )
    [swapped] = result.records
    assert (swapped.lat, swapped.lon) == (-8.6705, 115.2163)
    assert swapped.details["coordinates_repaired"] == ["latitude and longitude were swapped"]
    assert (swapped.kecamatan, swapped.desa) == ("Denpasar Barat", "Dauh Puri Kelod")
    reasons = [r.reason for r in result.rejects]
    assert "more than one placement of the decimal point" in reasons[0]
    assert "no placement of the decimal point fits the region 95..141" in reasons[1]
    assert reasons[2] == "latitude 'n/a' is not a number"
    assert reasons[3] == "latitude is missing"
    assert "(0, 0)" in reasons[4]


def test_online_flags_statuses_and_zone_less_times():
    result = cameras(
        {"cctv_id": "off", "location": {"type": "Point", "coordinates": [115.2, -8.65]}, "is_online": False,
         "last_checked_at": "2025-11-27 08:00:00"},
        {"cctv_id": "inactive", "location": {"type": "Point", "coordinates": [115.2, -8.65]}, "cctv_status": "inactive",
         "last_checked_at": "2025-11-27T08:00:00+08:00"},
        {"cctv_id": "weird", "location": {"type": "Point", "coordinates": [115.2, -8.65]}, "status": "maintenance?",
         "last_checked_at": "2025-11-27T08:00:00Z"},
        {"cctv_id": "badtime", "location": {"type": "Point", "coordinates": [115.2, -8.65]}, "last_checked_at": "kemarin"},
    )
    off, inactive, weird = result.records
    assert (off.value, off.alert_level, off.details["online_known"]) == (0.0, 1, True)
    assert off.observed_at == datetime(2025, 11, 27, 0, 0, tzinfo=timezone.utc)  # zone-less = WITA
    assert (inactive.value, inactive.alert_level) == (0.0, 1)
    assert (weird.value, weird.details["online_known"], weird.details["source_status"]) == (1.0, False, "maintenance?")
    [bad] = result.rejects
    assert bad.reason.startswith("check time:") and bad.ref == "3"


def test_duplicates_keep_the_latest_check():
    point = {"type": "Point", "coordinates": [115.2, -8.65]}
    result = cameras(
        {"cctv_id": "X", "location": point, "is_online": True, "last_checked_at": "2025-11-27T08:00:00Z"},
        {"cctv_id": "X", "location": point, "is_online": False, "last_checked_at": "2025-11-27T09:00:00Z"},
        {"cctv_id": "X", "location": point, "is_online": True, "last_checked_at": "2025-11-27T09:00:00Z"},
    )
    [kept] = result.records
    assert kept.value == 0.0 and kept.observed_at.hour == 9
    assert [r.ref for r in result.rejects] == ["0", "2"]
    assert [r.reason for r in result.rejects] == ["older version of id X, superseded in the same document", "duplicate of id X"]
    assert '"last_checked_at":"2025-11-27T08:00:00Z"' in result.rejects[0].item  # the dropped registry entry


def test_geojson_feature_collection_and_custom_fields():
    raw = orjson.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [115.2126, -8.6563]},
         "properties": {"kode_kamera": "ATCS-07", "nama": "Simpang Catur Muka", "hls": "https://atcs.example/7.m3u8",
                        "aktif": "aktif", "cek": "2025-11-27T10:00:00+08:00"}}]})
    a = adapter(fields={"id": "kode_kamera", "online": "aktif", "checked": "cek"})
    [cam] = parse_safely(a, raw).records
    assert cam.id == "ATCS-07" and cam.station_name == "Simpang Catur Muka"
    assert cam.details["stream_url"] == "https://atcs.example/7.m3u8" and cam.value == 1.0
    assert (cam.lat, cam.lon) == (-8.6563, 115.2126) and cam.in_city is True
    assert cam.observed_at == datetime(2025, 11, 27, 2, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("raw", [b'{"status": "error"}', b"17"])  # and the documents in test_contract.py
def test_broken_documents_are_one_reject(raw):
    assert_one_reject(parse_safely(adapter(listed_at=LISTED), raw))


def test_config_is_checked():
    cls = get_adapter("cctv").Config
    for bad in ({"region": (6, -11, 95, 141)}, {"timezone": "Mars/Olympus"}, {"listed_at": "2015-07-10T08:00:00"},
                {"surprise": 1}):
        with pytest.raises(ValueError):
            cls(**bad)
    assert cls(region=[-9, -8, 114, 116]).region == (-9, -8, 114, 116)


def test_items_that_are_not_objects():
    result = parse_safely(adapter(listed_at=LISTED), b'{"place": [1, "x", null]}')
    assert result.records == [] and [r.reason for r in result.rejects] == ["camera entry is not an object"] * 3
