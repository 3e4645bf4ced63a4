import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from data_sources import get_adapter
from data_sources.bmkg_quake import BmkgQuakeConfig, bmkg_time, hemisphere_value
from engine.pipeline import parse_safely


FIXTURES = Path(__file__).parent / "fixtures"


def adapter(config=None):
    cls = get_adapter("bmkg-quake")
    return cls("bmkg-quake", config)


def test_autogempa_json_one_quake(samples):
    result = parse_safely(adapter(), (samples / "earthquakes/bmkg_autogempa_20211005.json").read_bytes())
    assert result.rejects == []
    [q] = result.records
    assert q.details["magnitude"] == 4.5
    assert (q.lat, q.lon) == (-8.15, 118.10)
    assert q.reported_at == datetime(2021, 10, 5, 11, 0, 27, tzinfo=timezone.utc)
    assert q.in_city is False and q.kecamatan is None
    assert q.details["felt"] == "II Dompu"
    assert q.severity == "low"


def test_autogempa_m5_dash_means_not_felt(samples):
    [q] = parse_safely(adapter(), (samples / "earthquakes/bmkg_autogempa_m5_20211013.json").read_bytes()).records
    assert q.details["felt"] is None and q.details["magnitude"] == 5.3 and q.details["tsunami"] is False
    assert q.severity == "medium"


def test_gempaterkini_list_of_fifteen(samples):
    result = parse_safely(adapter(), (samples / "earthquakes/bmkg_gempaterkini_20230712.json").read_bytes())
    assert len(result.records) == 15 and result.rejects == []
    assert len({r.id for r in result.records}) == 15
    assert all(r.details["magnitude"] >= 5 for r in result.records)


def test_bad_quake_fields_give_reasons():
    raw = b'{"Infogempa": {"gempa": [{"DateTime": "2021-10-05T11:00:27+00:00", "Coordinates": "-8.6,115.2", "Magnitude": "x"},' \
          b'{"DateTime": "2021-10-05T11:00:27+00:00", "Coordinates": "95,115.2", "Magnitude": "3"}]}}'
    result = parse_safely(adapter(), raw)
    assert result.records == []
    assert "Magnitude" in result.rejects[0].reason
    assert "impossible coordinates" in result.rejects[1].reason


# ---- extended formats: autogempa XML, realtime GeoJSON, InaTEWS -----------------------------


def test_autogempa_xml_point_coordinates_lat_lon(samples):
    result = parse_safely(adapter(), (samples / "earthquakes/bmkg_autogempa_20211004.xml").read_bytes())
    assert result.rejects == []
    [q] = result.records
    assert (q.lat, q.lon) == (1.04, 126.96)
    assert q.id == "20211004T105919Z"
    assert q.reported_at == datetime(2021, 10, 4, 10, 59, 19, tzinfo=timezone.utc)
    assert q.details["magnitude"] == 4.7 and q.details["depth_km"] == 17 and q.details["felt"] == "III Ternate"
    assert q.category == "earthquake" and q.severity == "low"


def test_autogempa_json_minified_2024(samples):
    [q] = parse_safely(adapter(), (samples / "earthquakes/bmkg_autogempa_20240110.json").read_bytes()).records
    assert (q.lat, q.lon) == (-6.83, 107.95) and q.severity == "info" and q.details["depth_km"] == 6


def test_realtime_geojson_string_numbers(samples):
    result = parse_safely(adapter(), (samples / "earthquakes/bmkg_realtime_geojson_20220925.json").read_bytes())
    assert result.rejects == []
    [q] = result.records
    assert q.id == "bmg2022suve"
    assert (q.lat, q.lon) == (0.319303, 122.090919)
    assert q.reported_at == datetime(2022, 9, 25, 13, 3, 33, 941369, tzinfo=timezone.utc)
    assert q.details["magnitude"] == pytest.approx(2.575533) and q.details["depth_km"] == pytest.approx(153.192871)
    assert q.severity == "info" and q.status == "new"


def test_realtime_timezone_is_configurable(samples):
    a = adapter(BmkgQuakeConfig(realtime_timezone="WIB"))
    [q] = parse_safely(a, (samples / "earthquakes/bmkg_realtime_geojson_20220925.json").read_bytes()).records
    assert q.reported_at == datetime(2022, 9, 25, 6, 3, 33, 941369, tzinfo=timezone.utc)
    with pytest.raises(ValueError):
        BmkgQuakeConfig(realtime_timezone="Mars/Olympus")


def test_inatews_felt_lon_lat_order_and_wib(samples):
    result = parse_safely(adapter(), (samples / "earthquakes/bmkg_inatews_datagempa_felt_20220214.json").read_bytes())
    assert result.rejects == []
    [q] = result.records
    assert (q.lat, q.lon) == (-4.52, 100.93)  # point is "100.93,-4.52": lon first
    assert q.reported_at == datetime(2022, 2, 14, 5, 57, 47, tzinfo=timezone.utc)
    assert q.category == "earthquake" and q.details["felt"] == "II Kota Bengkulu" and q.details["tsunami"] is False
    assert q.details["identifier"] == "Indonesia-InaTEWS-felt-Eq-20220214125747"


def test_inatews_west_longitude_outside_indonesia(samples):
    [q] = parse_safely(adapter(), (samples / "earthquakes/bmkg_inatews_datagempa_m69_fiji_20230616.json").read_bytes()).records
    assert (q.lat, q.lon) == (-22.82, -176.44)  # "176.44 BB" is west
    assert q.reported_at == datetime(2023, 6, 15, 18, 6, 22, tzinfo=timezone.utc)  # 16-06-23 01:06:22 WIB
    assert q.updated_at == datetime(2023, 6, 15, 18, 15, 56, tzinfo=timezone.utc)  # sent 01:15:56WIB
    assert q.severity == "high" and q.in_city is False and q.details["depth_km"] == 161


def test_inatews_tsunami_warning_zones(samples):
    result = parse_safely(adapter(), (samples / "alerts_cap/bmkg_inatews_tsunami_warning_20230425.json").read_bytes())
    assert result.rejects == []
    [t] = result.records
    assert t.category == "tsunami" and t.domain == "disaster"
    assert t.severity == "medium"  # highest zone level is WASPADA
    assert t.id == "20230424T200057Z"
    assert (t.lat, t.lon) == (-0.93, 98.39)
    zones = t.details["warning_zones"]
    assert zones == [{"province": "SUMUT", "district": "NIAS-SELATAN PULAU TANABALA", "level": "WASPADA",
                      "time": "2023-04-24T20:09:54+00:00"}]  # the feed lists it twice
    assert t.details["highest_zone_level"] == "WASPADA" and len(t.details["instruction"]) == 4
    assert t.details["maps"]["wzmap"] == "20230425030533.wz.png"


def _warning_with_levels(samples, levels):
    import orjson
    msg = orjson.loads((samples / "alerts_cap/bmkg_inatews_tsunami_warning_20230425.json").read_bytes())
    msg["info"]["wzarea"] = [{"province": "BALI", "district": f"D{i}", "level": lv, "date": "25-04-2023", "time": "03:09:54 WIB"}
                             for i, lv in enumerate(levels)]
    return orjson.dumps(msg)


def test_tsunami_severity_is_the_highest_zone_level(samples):
    a = adapter()
    assert parse_safely(a, _warning_with_levels(samples, ["WASPADA", "AWAS", "SIAGA"])).records[0].severity == "critical"
    assert parse_safely(a, _warning_with_levels(samples, ["Siaga", "WASPADA"])).records[0].severity == "high"
    assert parse_safely(a, _warning_with_levels(samples, ["???"])).records[0].severity == "critical"


def test_tsunami_and_quake_messages_share_the_origin_time_id(samples):
    felt = parse_safely(adapter(), (samples / "earthquakes/bmkg_autogempa_20211005.json").read_bytes()).records[0]
    assert felt.id == felt.reported_at.strftime("%Y%m%dT%H%M%SZ")
    warning = parse_safely(adapter(), (samples / "alerts_cap/bmkg_inatews_tsunami_warning_20230425.json").read_bytes()).records[0]
    assert warning.id == warning.reported_at.strftime("%Y%m%dT%H%M%SZ")


def test_inatews_test_message_is_rejected(samples):
    raw = (samples / "earthquakes/bmkg_inatews_datagempa_felt_20220214.json").read_bytes().replace(b'"Actual"', b'"Test"')
    result = parse_safely(adapter(), raw)
    assert result.records == [] and "not an actual alert" in result.rejects[0].reason


def test_duplicate_quakes_in_one_document():
    q = b'{"DateTime": "2021-10-05T11:00:27+00:00", "Coordinates": "-8.6,115.2", "Magnitude": "4"}'
    result = parse_safely(adapter(), b'{"Infogempa": {"gempa": [' + q + b"," + q + b"]}}")
    assert len(result.records) == 1 and result.rejects[0].reason == "duplicate of id 20211005T110027Z"


def test_newer_inatews_version_wins():
    def msg(sent, mag):
        return ('{"identifier": "x", "sent": "%s", "status": "Actual", "msgType": "Alert", "info": {"date": "25-04-23", '
                '"time": "03:00:57 WIB", "point": {"coordinates": "115.2,-8.7"}, "magnitude": "%s", "depth": "10 Km"}}') % (sent, mag)
    raw = ("[" + msg("2023-04-25T03:05:33WIB", "7.3") + "," + msg("2023-04-25T03:15:00WIB", "7.1") + "]").encode()
    result = parse_safely(adapter(), raw)
    [q] = result.records
    assert q.details["magnitude"] == 7.1 and q.in_city is True
    assert "older version" in result.rejects[0].reason


def test_bmkg_time_spellings():
    utc = timezone.utc
    assert bmkg_time("2023-04-25T03:05:33WIB") == datetime(2023, 4, 24, 20, 5, 33, tzinfo=utc)
    assert bmkg_time("14/02/2022 13:02:47WIB") == datetime(2022, 2, 14, 6, 2, 47, tzinfo=utc)
    assert bmkg_time("14-02-22 12:57:47 WIB") == datetime(2022, 2, 14, 5, 57, 47, tzinfo=utc)
    assert bmkg_time("05 Okt 2021 18:00:27 WITA") == datetime(2021, 10, 5, 10, 0, 27, tzinfo=utc)
    with pytest.raises(ValueError):
        bmkg_time("31-02-22 10:00:00 WIB")
    with pytest.raises(ValueError):
        bmkg_time("14-02-22 12:57:47")  # no zone and none configured


def test_hemisphere_text():
    assert hemisphere_value("4.52 LS") == (-4.52, "lat")
    assert hemisphere_value("176.44 BB") == (-176.44, "lon")
    assert hemisphere_value("1.04 LU") == (1.04, "lat")
    assert hemisphere_value("100.93") is None


def test_xml_broken_and_foreign():
    a = adapter()
    for raw, reason in [(b"<Infogempa><gempa><Magnitude>4", "not valid XML"), (b"<rss><channel/></rss>", "not BMKG"),
                        (b"<Infogempa></Infogempa>", "no <gempa>")]:
        result = parse_safely(a, raw)
        assert result.records == [] and len(result.rejects) == 1 and reason in result.rejects[0].reason


def test_realtime_bad_features_give_reasons():
    raw = b'{"type": "FeatureCollection", "features": [{"properties": {"time": "2022-09-25 13:03:33"}}, ' \
          b'{"properties": {"id": "a", "time": "2022-09-25 13:03:33", "mag": "3"}, "geometry": {"coordinates": ["x", "1"]}},' \
          b'{"properties": {"id": "b", "time": "yesterday", "mag": "3"}, "geometry": {"coordinates": ["120", "1"]}}, 7]}'
    result = parse_safely(adapter(), raw)
    assert result.records == [] and len(result.rejects) == 4
    assert all(r.reason for r in result.rejects)


def test_fetch_path_inatews(feed_server, samples):
    raw = (samples / "alerts_cap/bmkg_inatews_tsunami_warning_20230425.json").read_bytes()
    url = feed_server.serve("/datagempa.json", raw, content_type="application/json")
    a = adapter(BmkgQuakeConfig(url=url))
    [t] = parse_safely(a, a.fetch()).records
    assert t.category == "tsunami"


def test_non_finite_magnitude_is_rejected():
    raw = b'{"Infogempa": {"gempa": {"DateTime": "2021-10-05T11:00:27+00:00", "Coordinates": "-8.6,115.2", "Magnitude": "NaN"}}}'
    result = parse_safely(adapter(), raw)
    assert result.records == [] and "Magnitude 'NaN' is not a number" in result.rejects[0].reason


# ---- variants not among the samples (fixtures/README.md) ---------------------------------------

def test_autogempa_xml_before_2021():
    """Tanggal '27-Aug-19', Magnitude '5.0 SR', Wilayah1..5, point/coordinates lon,lat."""
    raw = (FIXTURES / "bmkg_autogempa_pre2021.xml").read_bytes()
    result = parse_safely(adapter(), raw)
    assert result.rejects == []
    [q] = result.records
    assert q.reported_at == datetime(2019, 8, 27, 6, 31, 23, tzinfo=timezone.utc) and q.id == "20190827T063123Z"
    assert (q.lat, q.lon) == (-7.26, 129.87) and q.details["magnitude"] == 5.0 and q.severity == "medium"
    assert q.details["depth_km"] == 10 and q.details["region"] == "188 km BaratDaya MALUKUBRTDAYA-MALUKU"
    assert len(q.details["regions"]) == 5 and q.details["tsunami"] is False
    # without the hemisphere text the pair is read lon,lat as that layout writes it
    [bare] = parse_safely(adapter(), re.sub(rb"\s*<(Lintang|Bujur)>[^<]*</\1>", b"", raw)).records
    assert (bare.lat, bare.lon) == (-7.26, 129.87)


def test_inatews_xml_alert(samples):
    result = parse_safely(adapter(), (FIXTURES / "bmkg_inatews_tsunami_warning.xml").read_bytes())
    assert result.rejects == []
    [w] = result.records
    assert w.category == "tsunami" and w.id == "20230424T200057Z" and (w.lat, w.lon) == (-0.93, 98.39)
    assert w.severity == "high" and w.details["highest_zone_level"] == "SIAGA"
    assert [z["district"] for z in w.details["warning_zones"]] == ["NIAS-SELATAN PULAU TANABALA", "KEP-MENTAWAI PULAU SIBERUT"]
    assert w.details["maps"]["wzmap"] == "20230425030533.wz.png" and w.details["magnitude"] == 7.3
    # the same message as JSON and as XML is one incident with the same fields
    [j] = parse_safely(adapter(), (samples / "alerts_cap/bmkg_inatews_tsunami_warning_20230425.json").read_bytes()).records
    assert (j.id, j.lat, j.lon, j.reported_at, j.title) == (w.id, w.lat, w.lon, w.reported_at, w.title)


def test_two_digit_years_are_this_century_unless_in_the_future():
    assert bmkg_time("14-02-22 12:57:47 WIB") == datetime(2022, 2, 14, 5, 57, 47, tzinfo=timezone.utc)
    assert bmkg_time("27 Agu 19 13:31:23 WIB").year == 2019
    assert bmkg_time("01-01-99 00:00:00 UTC").year == 1999  # 2099 is still to come
    with pytest.raises(ValueError):
        bmkg_time("27 Agu 019 13:31:23 WIB")
