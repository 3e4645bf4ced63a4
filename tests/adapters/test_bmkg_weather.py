from datetime import datetime, timezone

import orjson
from contract import assert_one_reject

from data_sources import get_adapter
from data_sources.bmkg_weather import BmkgWeatherConfig
from engine.pipeline import parse_safely

UTC = timezone.utc
ADM4 = "weather/bmkg_prakiraan_cuaca_adm4_51.71.01.1004_panjer_denpasar_20260330.json"
XML = "weather/bmkg_digitalforecast_dkijakarta_20240404.xml"


def adapter(config=None):
    return get_adapter("bmkg-weather")("bmkg-weather", config)


def by_id(result):
    return {r.id: r for r in result.records}


def test_adm4_panjer_forecast(samples):
    result = parse_safely(adapter(), (samples / ADM4).read_bytes())
    assert result.rejects == []
    assert len(result.records) == 19 * 8  # 19 three-hourly slots x 8 quantities
    records = by_id(result)
    t = records["51.71.01.1004:temperature:20260330T0900Z"]
    assert t.value == 30 and t.unit == "°C" and t.station_name == "Panjer"
    assert t.observed_at == datetime(2026, 3, 30, 9, tzinfo=UTC) and t.details["slot_local"] == "2026-03-30 17:00:00"
    assert t.details["forecast"] is True and t.details["analysis_date"] == "2026-03-30T00:00:00"
    assert (t.lat, t.lon) == (-8.6832398466, 115.2267582998)
    assert t.desa_code == "51.71.01.1004" and t.kecamatan == "Denpasar Selatan" and t.in_city is True
    rain = records["51.71.01.1004:rainfall:20260401T0600Z"]
    assert rain.value == 0.5 and rain.unit == "mm"
    code = records["51.71.01.1004:weather_code:20260331T0000Z"]
    assert code.value == 1 and code.details["description"] == "Cerah" and code.details["description_en"] == "Sunny"
    wind = records["51.71.01.1004:wind_direction:20260330T0900Z"]
    assert wind.value == 125 and wind.details["from"] == "E"
    assert records["51.71.01.1004:wind_speed:20260330T0900Z"].value == 13.9
    assert records["51.71.01.1004:cloud_cover:20260330T0900Z"].value == 86


def test_ids_are_stable_across_polls(samples):
    raw = (samples / ADM4).read_bytes()
    first = [r.id for r in parse_safely(adapter(), raw).records]
    assert first == [r.id for r in parse_safely(adapter(), raw).records] and len(set(first)) == len(first)
    assert adapter().snapshot is True


def test_quantity_filter(samples):
    result = parse_safely(adapter(BmkgWeatherConfig(quantities=["rainfall", "temperature"])), (samples / ADM4).read_bytes())
    assert len(result.records) == 38 and {r.quantity for r in result.records} == {"rainfall", "temperature"}


def test_digitalforecast_xml_utc_slots(samples):
    result = parse_safely(adapter(), (samples / XML).read_bytes())
    assert result.rejects == []
    assert len(result.records) == 432  # 6 areas x (5 hourly x 12 + 4 daily x 3)
    records = by_id(result)
    t = records["501192:temperature:20240404T0600Z"]
    assert t.value == 31 and t.unit == "°C" and t.station_name == "Jakarta Barat"
    assert t.observed_at == datetime(2024, 4, 4, 6, tzinfo=UTC)
    assert (t.lat, t.lon) == (-6.203019, 106.731319)
    ws = records["501192:wind_speed:20240404T0000Z"]
    assert ws.value == 9.26 and ws.unit == "km/h"  # KPH preferred over Kt/MPH/MS
    wd = records["501192:wind_direction:20240404T0000Z"]
    assert wd.value == 292.5 and wd.details["from"] == "WNW"
    w = records["501192:weather_code:20240404T1200Z"]
    assert w.value == 60 and w.details["description"] == "Hujan Ringan"
    assert records["501192:temperature_max:20240404T1200Z"].value == 31
    assert t.details["issued"] == "20240404073818" and t.details["forecast"] is True


def test_digitalforecast_zone_is_configurable(samples):
    result = parse_safely(adapter(BmkgWeatherConfig(timezone="WIB")), (samples / XML).read_bytes())
    assert "501192:temperature:20240403T2300Z" in by_id(result)


def _slot(**kw):
    base = {"datetime": "2026-03-30T09:00:00Z", "t": 30, "hu": 80, "local_datetime": "2026-03-30 17:00:00"}
    base.update(kw)
    return base


def test_bad_slots_give_one_reject_per_value():
    place = {"adm4": "51.71.01.1004", "desa": "Panjer", "lat": -8.68, "lon": 115.22, "timezone": "Asia/Makassar"}
    doc = {"data": [{"lokasi": place, "cuaca": [[_slot(), _slot(t="-", hu=None)],
                               [{"t": 30, "hu": 80}, _slot(datetime=None), "junk", _slot(datetime="2026-03-30T09:00:00Z")]]},
                    {"lokasi": {"desa": "no code"}, "cuaca": [[_slot()]]}, 7]}
    result = parse_safely(adapter(), orjson.dumps(doc))
    ids = [r.id for r in result.records]
    # slot 1: 2 values; slot 2: both values rejected; slot 4 falls back to local time (WITA) = 09:00Z again -> duplicates
    assert ids == ["51.71.01.1004:temperature:20260330T0900Z", "51.71.01.1004:humidity:20260330T0900Z"]
    reasons = [r.reason for r in result.rejects]
    assert sum("is not a number" in r for r in reasons) == 2
    assert sum("slot time" in r for r in reasons) == 2  # the zone-less slot: one per value
    assert sum(r.startswith("duplicate of id") for r in reasons) == 4
    assert any("not an object" in r for r in reasons) and any("adm4" in r for r in reasons)
    assert len(result.records) + len(result.rejects) == 2 + 2 + 2 + 2 + 2 + 1 + 1 + 1


def test_bad_timeranges_give_reasons():
    xml = b"""<data><forecast><issue><timestamp>20240404073818</timestamp></issue>
      <area id="1" latitude="-8.65" longitude="115.22" description="Denpasar">
        <parameter id="t"><timerange datetime="2024-04-04"><value unit="C">30</value></timerange>
          <timerange datetime="202404040600"><value unit="C">x</value></timerange>
          <timerange datetime="202404041200"></timerange>
          <timerange datetime="202404041800"><value unit="F">80</value></timerange></parameter>
      </area><area latitude="1" longitude="2"><parameter id="t"><timerange datetime="202404040000"><value unit="C">1</value></timerange></parameter></area>
      <area id="2" latitude="95" longitude="115"><parameter id="hu"><timerange datetime="202404040000"><value unit="%">90</value></timerange></parameter></area>
    </forecast></data>"""
    result = parse_safely(adapter(), xml)
    [f] = result.records
    assert f.value == 80 and f.unit == "F" and f.in_city is True  # only Fahrenheit given: kept with its unit
    reasons = [r.reason for r in result.rejects]
    assert len(reasons) == 5
    assert "YYYYMMDDhhmm" in reasons[0] and "not a number" in reasons[1] and "no <value>" in reasons[2]
    assert "no id" in reasons[3] and "impossible coordinates" in reasons[4]


def test_whole_document_failures():
    a = adapter()
    # empty, HTML, truncated, non-UTF-8 and deeply nested bodies: test_contract.py
    for raw in [b'{"lokasi": {}}', b"<rss/>"]:
        assert_one_reject(parse_safely(a, raw))


def test_fetch_path(feed_server, samples):
    url = feed_server.serve("/publik/prakiraan-cuaca?adm4=51.71.01.1004", (samples / ADM4).read_bytes(), content_type="application/json")
    a = adapter(BmkgWeatherConfig(url=url))
    assert len(parse_safely(a, a.fetch()).records) == 152
