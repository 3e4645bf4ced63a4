from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from contract import assert_one_reject
from shapely.geometry import shape

from data_sources import get_adapter
from data_sources.cap import CapConfig
from engine.pipeline import parse_safely

UTC = timezone.utc


def adapter(config=None):
    return get_adapter("cap")("cap", config)


def parse(samples, name, config=None):
    return parse_safely(adapter(config), (samples / name).read_bytes())


def one(samples, name, config=None):
    result = parse(samples, name, config)
    assert result.rejects == [], [r.reason for r in result.rejects]
    [record] = result.records
    return record


def test_bmkg_nowcast_two_lat_lon_polygons(samples):
    a = one(samples, "weather/bmkg_nowcast_cap_banten_20260216.xml")
    assert a.id == "2.49.0.1.360.0.2026.02.16.16.36.004"
    assert a.category == "extreme_weather" and a.domain == "weather" and a.severity == "medium" and a.status == "new"
    assert a.reported_at == datetime(2026, 2, 16, 15, 50, tzinfo=UTC)
    assert a.expires_at == datetime(2026, 2, 16, 19, 0, tzinfo=UTC)
    assert a.geometry["type"] == "MultiPolygon" and len(a.geometry["coordinates"]) == 2
    assert a.geometry["coordinates"][0][0][0] == [105.994, -5.981]  # "-5.981,105.994" -> [lon, lat]
    assert -6.8 < a.lat < -5.9 and 105.9 < a.lon < 106.5 and a.in_city is False
    assert a.details["language"] == "id" and a.details["event_codes"] == {"OET": "OET-194"}
    assert a.details["source_category"] == ["Met"] and a.title == "Hujan Lebat disertai Petir di Banten"


def test_oasis_thunderstorm_polygon_and_geocodes(samples):
    a = one(samples, "alerts_cap/cap12_oasis_spec_thunderstorm_KSTO1055887203.xml")
    assert a.id == "KSTO1055887203" and a.severity == "high" and a.category == "extreme_weather"
    assert a.reported_at == datetime(2003, 6, 17, 21, 57, tzinfo=UTC)
    assert a.geometry["type"] == "Polygon" and a.geometry["coordinates"][0][0] == [-120.14, 38.47]
    assert a.lat == pytest.approx(38.48, abs=0.05) and a.lon == pytest.approx(-119.93, abs=0.05)
    assert [g["value"] for g in a.details["geocodes"]] == ["006109", "006009", "006003"]


def test_homeland_security_without_area_geometry(samples):
    a = one(samples, "alerts_cap/cap12_oasis_spec_homeland_security_43b080713727.xml")
    assert a.category == "alert" and a.severity == "high"
    assert a.lat is None and a.geometry is None and a.in_city is None
    assert a.details["parameters"] == {"HSAS": "ORANGE"} and a.details["areas"] == ["U.S. nationwide and interests worldwide"]


def test_cap11_namespace_and_zero_radius_circle(samples):
    a = one(samples, "alerts_cap/cap11_usgs_earthquake_tonga_20100831.xml")
    assert a.category == "earthquake" and a.severity == "info"  # CAP severity Unknown
    assert a.geometry == {"type": "Point", "coordinates": [-173.274, -16.053]}
    assert (a.lat, a.lon) == (-16.053, -173.274)
    assert a.reported_at == datetime(2010, 8, 31, 5, 9, 25, tzinfo=UTC)
    assert a.details["parameters"]["Magnitude"] == "6.3"


def test_prefixed_cap_fire_circle_becomes_polygon(samples):
    a = one(samples, "alerts_cap/cap12_au_nsw_rfs_fire_prefixed_20111005.xml")
    assert a.id == "tag:www.rfs.nsw.gov.au2011-10-06:40184"
    assert a.category == "fire" and a.severity == "low"  # CAP Fire, headed "Yerong Creek Structure Fire"
    assert a.details["circles"] == [{"lat": -35.3888, "lon": 147.0598, "radius_km": 25.0}]
    assert a.geometry["type"] == "Polygon" and len(a.geometry["coordinates"][0]) == 33
    poly = shape(a.geometry)
    assert poly.contains(shape({"type": "Point", "coordinates": [147.0598, -35.3888]}))
    assert (poly.bounds[3] - poly.bounds[1]) * 110.574 == pytest.approx(50, rel=0.02)  # 2 x 25 km north-south
    assert (a.lat, a.lon) == pytest.approx((-35.3888, 147.0598), abs=1e-3)
    # both en-AU infos are merged: their geocodes differ
    assert {g["value"] for g in a.details["geocodes"]} == {"AU-NSW", "2642"}
    assert a.expires_at == datetime(2011, 10, 6, 13, 4, tzinfo=UTC)


def test_canada_update_language_and_all_clear(samples):
    a = one(samples, "alerts_cap/cap12_environment_canada_thunderstorm_20120502.xml")
    # Update referencing two earlier alerts: the earliest one is the incident
    assert a.id == "2.49.0.1.124.a3f342a4.2012"
    assert a.details["cap_identifier"] == "2.49.0.1.124.6bddbc91.2012"
    assert a.reported_at == datetime(2012, 5, 2, 21, 45, 5, tzinfo=UTC)
    assert a.updated_at == datetime(2012, 5, 2, 23, 21, 4, tzinfo=UTC)
    assert a.status == "resolved"  # responseType AllClear
    assert a.details["language"] == "en-CA" and a.title == "severe thunderstorm watch"
    assert a.geometry["type"] == "MultiPolygon" and len(a.geometry["coordinates"]) == 2


def test_language_preference_is_configurable(samples):
    a = one(samples, "alerts_cap/cap12_environment_canada_thunderstorm_20120502.xml", CapConfig(language="fr"))
    assert a.details["language"] == "fr-CA" and a.title == "veille d'orages violents"


def test_noaa_tsunami_update_with_event_point(samples):
    a = one(samples, "alerts_cap/cap12_noaa_wcatwc_tsunami_warning_20110902.xml")
    assert a.category == "tsunami" and a.severity == "critical"
    assert a.id == "PAAQ-1-lqw6d6" and a.details["msg_type"] == "Update" and a.details["incidents"] == "lqw6d6"
    assert (a.lat, a.lon) == (51.8, -171.4)  # no area shape: CAP-TSU EventLatLon parameter
    assert len(a.details["parameters"]["predictedArrivalTime"]) > 10


def test_petabencana_atom_wrapped_flood(samples):
    a = one(samples, "alerts_cap/petabencana_api_floods_cap_atom_docs_example.xml")
    assert a.id == "GROGOL.RW_09.2016-12-19T22:41:35+07:00"
    assert a.category == "flood" and a.severity == "low"
    assert a.reported_at == datetime(2016, 12, 19, 15, 41, 35, tzinfo=UTC)
    assert a.geometry["coordinates"][0][0] == [106.7950980004, -6.1563580003]
    assert a.lat == pytest.approx(-6.1573, abs=0.001) and a.lon == pytest.approx(106.7933, abs=0.001)


CANCEL = b"""<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
 <identifier>B-2</identifier><sender>s@x</sender><sent>2024-01-01T10:30:00+08:00</sent>
 <status>Actual</status><msgType>Cancel</msgType><scope>Public</scope>
 <references>s@x,B-1,2024-01-01T10:10:00+08:00 s@x,B-0,2024-01-01T10:00:00+08:00</references>
 <info><category>Met</category><event>Banjir</event><urgency>Past</urgency><severity>Minor</severity><certainty>Observed</certainty></info>
</alert>"""


def test_cancel_takes_the_original_id_and_status():
    [a] = parse_safely(adapter(), CANCEL).records
    assert a.id == "B-0" and a.status == "cancelled" and a.category == "flood"
    assert a.reported_at == datetime(2024, 1, 1, 2, 0, tzinfo=UTC)


def _alert(identifier, sent, msg_type="Alert", refs="", status="Actual", extra=""):
    return (f"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>{identifier}</identifier><sender>s</sender>"
            f"<sent>{sent}</sent><status>{status}</status><msgType>{msg_type}</msgType><scope>Public</scope>"
            f"{'<references>' + refs + '</references>' if refs else ''}<info><category>Geo</category><event>Landslide</event>"
            f"<severity>Severe</severity>{extra}</info></alert>")


def test_update_chain_in_one_feed_keeps_the_newest():
    feed = ("<feed xmlns='http://www.w3.org/2005/Atom'>"
            + "".join(f"<entry><content>{a}</content></entry>" for a in [
                _alert("A1", "2024-01-01T10:00:00+08:00"),
                _alert("A2", "2024-01-01T11:00:00+08:00", "Update", "s,A1,2024-01-01T10:00:00+08:00"),
                _alert("A3", "2024-01-01T12:00:00+08:00", "Update", "s,A2,2024-01-01T11:00:00+08:00")])
            + "<entry><id>urn:only-a-link</id><link href='x.xml'/></entry></feed>").encode()
    result = parse_safely(adapter(), feed)
    [a] = result.records
    assert a.id == "A1" and a.details["cap_identifier"] == "A3" and a.category == "alert"  # Geo landslide
    assert a.reported_at == datetime(2024, 1, 1, 2, 0, tzinfo=UTC)
    reasons = sorted(r.reason for r in result.rejects)
    assert len(reasons) == 3 and sum("older version of id A1" in r for r in reasons) == 2
    assert any("does not embed a CAP alert" in r for r in reasons)


def test_test_and_ack_messages_and_bad_fields_are_rejects():
    doc = ("<feed xmlns='http://www.w3.org/2005/Atom'>" + "".join(f"<entry>{a}</entry>" for a in [
        _alert("T1", "2024-01-01T10:00:00+08:00", status="Test"),
        _alert("K1", "2024-01-01T10:00:00+08:00", msg_type="Ack", refs="s,X,2024-01-01T09:00:00+08:00"),
        _alert("S1", "yesterday"),
        _alert("", "2024-01-01T10:00:00+08:00"),
        "<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>N1</identifier><sent>2024-01-01T10:00:00+08:00</sent><status>Actual</status></alert>",
        _alert("P1", "2024-01-01T10:00:00", extra="<area><areaDesc>x</areaDesc><polygon>1,2 3,4</polygon><polygon>95,115 -8,115 -8,116 95,115</polygon></area>"),
    ]) + "</feed>").encode()
    result = parse_safely(adapter(), doc)
    [p] = result.records
    reasons = [r.reason for r in result.rejects]
    assert len(reasons) == 5
    assert "not shown" in reasons[0] and "Ack" in reasons[1] and "sent" in reasons[2]
    assert "identifier" in reasons[3] and "no <info>" in reasons[4]
    # zone-less sent takes the configured zone (WITA); broken polygons are noted, not fatal
    assert p.reported_at == datetime(2024, 1, 1, 2, 0, tzinfo=UTC)
    assert p.geometry is None and len(p.details["area_problems"]) == 2


def test_whole_document_failures_are_one_reject():
    a = adapter()
    # empty, HTML, truncated, non-UTF-8 and deeply nested bodies: test_contract.py
    for raw in [b"<rss><channel><title>nothing</title></channel></rss>",
                b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><alert>&b;</alert>']:
        assert_one_reject(parse_safely(a, raw))


def test_fetch_path(feed_server, samples):
    url = feed_server.serve("/nowcast.xml", (samples / "weather/bmkg_nowcast_cap_banten_20260216.xml").read_bytes(), content_type="application/xml")
    a = adapter(CapConfig(url=url))
    [alert] = parse_safely(a, a.fetch()).records
    assert alert.category == "extreme_weather"


def test_config_rejects_unknown_keys_and_zones():
    with pytest.raises(ValueError):
        CapConfig(timezone="Nowhere/Else")
    with pytest.raises(ValueError):
        CapConfig(langauge="id")


def test_unknown_declared_encoding_is_a_reject_not_a_crash(samples):
    raw = (samples / "alerts_cap/cap11_usgs_earthquake_tonga_20100831.xml").read_bytes().replace(b'encoding="UTF-8"', b'encoding="UTF-81"')
    result = adapter().parse(raw)  # straight parse: no parse_safely safety net
    assert result.records == [] and "not valid XML" in result.rejects[0].reason


def test_out_of_range_sent_is_a_reject():
    result = adapter().parse(_alert("Y1", "9999-12-31T23:59:59-05:00").encode())
    assert result.records == [] and "sent" in result.rejects[0].reason


# ---- meaning, languages, times and the nowcast index (fixtures/README.md) ----------------------

FIXTURES = Path(__file__).parent / "fixtures"
WITA = timezone(timedelta(hours=8))


def test_a_fire_is_a_wildfire_only_when_it_says_so():
    def category(event, headline, cap_category="Fire"):
        raw = ALERT.format(event=event, headline=headline, category=cap_category).encode()
        return one_of(raw).category

    assert category("Fire", "Yerong Creek Structure Fire") == "fire"
    assert category("Fire", "Bushfire at Wambelong") == "wildfire"
    assert category("Kebakaran", "Kebakaran rumah di Denpasar Barat", "Safety") == "fire"
    assert category("Kebakaran Hutan dan Lahan", "Karhutla di Bali", "Fire") == "wildfire"
    assert category("Thunderstorm", "Severe thunderstorm", "Met") == "extreme_weather"


def test_bilingual_alert_keeps_both_languages_and_reads_its_times_as_utc():
    a = one_of((FIXTURES / "bmkg_nowcast_cap_bilingual.xml").read_bytes())
    assert a.details["language"] == "id" and a.title == "Peringatan Dini Cuaca Bali" and a.category == "extreme_weather"
    languages = a.details["languages"]
    assert set(languages) == {"id", "en"}
    assert languages["en"]["headline"] == "Weather Early Warning for Bali"
    assert languages["en"]["event"] == "Heavy Rain with Lightning and Strong Wind"
    assert languages["id"]["description"].startswith("Waspada potensi hujan") and languages["en"]["description"].startswith("Beware")
    assert languages["en"]["areas"] == [a.details["areas"][0]]
    assert a.details["effective"] == "2023-12-01T06:30:00Z" and a.details["onset"] == "2023-12-01T06:45:00Z"
    assert a.expires_at == datetime(2023, 12, 1, 17, tzinfo=WITA) and a.details["time_notes"] == []
    english = parse_safely(adapter(CapConfig(language="en")), (FIXTURES / "bmkg_nowcast_cap_bilingual.xml").read_bytes()).records[0]
    assert english.title == "Weather Early Warning for Bali" and english.details["languages"] == languages


def test_unreadable_onset_is_left_out_with_a_note():
    raw = ALERT.format(event="Flood", headline="Banjir", category="Met").replace("<urgency>", "<onset>soon</onset><urgency>").encode()
    a = one_of(raw)
    assert a.details["onset"] is None and a.details["time_notes"] == ["onset ignored: unreadable time 'soon'"]


def test_nowcast_index_links_are_followed_bounded_and_fetched_once(feed_server):
    alert = (FIXTURES / "bmkg_nowcast_cap_bilingual.xml").read_bytes()
    ids = ["CBL20231201003", "CNB20231201002", "CJI20231201005"]
    for identifier in ids:
        feed_server.serve(f"/alerts/nowcast/id/{identifier}_alert.xml", alert.replace(b"CBL20231201003", identifier.encode()))
    base = feed_server.serve("/", b"").rstrip("/")
    index = (FIXTURES / "bmkg_nowcast_rss_index.xml").read_bytes().replace(b"https://www.bmkg.go.id", base.encode())
    url = feed_server.serve("/alerts/nowcast/id/rss.xml", index)
    cap = adapter(CapConfig(url=url, max_linked_alerts=2))

    first = parse_safely(cap, cap.fetch())
    assert [r.id for r in first.records] == ids[:2]
    [later] = first.rejects
    assert "not fetched yet: over max_linked_alerts (2)" in later.reason and later.item.endswith("CJI20231201005_alert.xml")

    for identifier in ids[:2]:  # already read: a second poll must not ask for them again
        feed_server.serve(f"/alerts/nowcast/id/{identifier}_alert.xml", b"gone", status=500)
    second = parse_safely(cap, cap.fetch())
    assert [r.id for r in second.records] == ids and second.rejects == []

    feed_server.serve("/alerts/nowcast/id/rss.xml", index.replace(b"CNB20231201002", b"CXX20231201009"))
    third = parse_safely(cap, cap.fetch())  # the index dropped one file and lists a new one that fails
    assert sorted(cap.linked) == sorted(f"{base}/alerts/nowcast/id/{i}_alert.xml" for i in (ids[0], ids[2]))
    assert [r.id for r in third.records] == [ids[0], ids[2]]
    assert len(third.rejects) == 1 and "linked CAP file not fetched (tried again next poll): HTTP 404" in third.rejects[0].reason


ALERT = """<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>T1</identifier><sender>test</sender>
<sent>2023-12-01T14:30:00+08:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
<info><language>id</language><category>{category}</category><event>{event}</event><urgency>Immediate</urgency>
<severity>Moderate</severity><certainty>Observed</certainty><headline>{headline}</headline>
<area><areaDesc>Denpasar</areaDesc><circle>-8.65,115.22 0</circle></area></info></alert>"""


def one_of(raw: bytes):
    result = parse_safely(adapter(), raw)
    assert result.rejects == []
    [record] = result.records
    return record
