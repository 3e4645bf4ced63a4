import socket
import threading
import time
import uuid
from datetime import datetime, timezone

import orjson
import pytest
from contract import assert_one_reject

from data_sources import get_adapter
from data_sources.readers.documents import INCOMPLETE_LINE
from engine.fetch import FetchError
from data_sources.water_level import WaterLevelConfig
from engine.pipeline import parse_safely

UTC = timezone.utc
CSV = "water_levels/jakarta_pantaubanjir_manggarai_bkb_hourly_2022-10_2023-10.csv"


def adapter(config=None):
    return get_adapter("water-level")("water-level", config)


def test_manggarai_csv_counts_thresholds_and_wib(samples):
    result = parse_safely(adapter(WaterLevelConfig(csv_whole_without_newline=True)), (samples / CSV).read_bytes())
    assert len(result.records) == 8588 and len(result.rejects) == 8
    zeros = [r for r in result.rejects if "0 cm" in r.reason]
    dups = [r for r in result.rejects if r.reason.startswith("duplicate of id")]
    assert len(zeros) == 5 and len(dups) == 3
    assert zeros[0].ref == "line 251" and "2022-10-29 15:00:00" in zeros[0].item
    first = result.records[0]
    assert first.id == "Manggarai BKB:20221018T170000Z"  # 2022-10-19 00:00 WIB
    assert first.observed_at == datetime(2022, 10, 18, 17, tzinfo=UTC)
    assert first.value == 645 and first.unit == "cm" and first.quantity == "water_level" and first.alert_level == 0
    levels = [r.alert_level for r in result.records]
    assert levels.count(1) == 140 and max(levels) == 1  # 750..815 cm: Siaga III, never II
    high = next(r for r in result.records if r.value >= 750)
    assert high.details["siaga"] == "Siaga III (waspada)" and high.details["thresholds_cm"]["siaga3"] == 750


def test_plausible_range_is_configurable(samples):
    cfg = WaterLevelConfig(gauges={"Manggarai BKB": {"siaga3": 750, "siaga2": 850, "siaga1": 950, "valid_min_cm": 300,
                                                     "lat": -6.2089, "lon": 106.8503}}, csv_whole_without_newline=True)
    result = parse_safely(adapter(cfg), (samples / CSV).read_bytes())
    below = [r for r in result.rejects if "plausible minimum" in r.reason]
    assert len(below) == 11  # 55..270 cm spikes between ~600 cm neighbours
    assert len(result.records) == 8588 - 11
    assert (result.records[0].lat, result.records[0].lon) == (-6.2089, 106.8503) and result.records[0].in_city is False
    keep_zero = parse_safely(adapter(WaterLevelConfig(reject_zero=False, csv_whole_without_newline=True)), (samples / CSV).read_bytes())
    assert len(keep_zero.records) == 8593


def test_gauge_without_thresholds_says_so():
    raw = b"tanggal,ketinggian,name_pintu_air\n2025-09-10 06:00:00,180,Tukad Badung Jl. Gunung Agung\n"
    [r] = parse_safely(adapter(WaterLevelConfig(timezone="WITA")), raw).records
    assert r.alert_level == 0 and r.details["thresholds_cm"] is None and "no Siaga thresholds" in r.details["alert_note"]
    assert r.observed_at == datetime(2025, 9, 9, 22, tzinfo=UTC)


def test_alert_levels_per_threshold():
    cfg = WaterLevelConfig(gauges={"badung": {"siaga3": 150, "siaga2": 200, "siaga1": 250, "name": "Tukad Badung"}})
    items = [{"gauge": "Badung", "time": f"2025-09-10T0{h}:00:00+08:00", "level_cm": v} for h, v in enumerate([149, 150, 220, 250, 400])]
    result = parse_safely(adapter(cfg), orjson.dumps(items))
    assert [r.alert_level for r in result.records] == [0, 1, 2, 3, 3]
    assert result.records[0].station_name == "Tukad Badung"  # gauge names match case-insensitively


def test_json_readings_and_bad_items():
    items = {"readings": [
        {"gauge": "Manggarai BKB", "time": "2023-01-01T10:00:00+07:00", "level_cm": 760, "lat": -6.2, "lon": 106.85},
        {"gauge": "Manggarai BKB", "time": "2023-01-01 11:00", "level_cm": "770"},
        {"gauge": "", "time": "2023-01-01T10:00:00+07:00", "level_cm": 5},
        {"gauge": "X", "time": "kemarin", "level_cm": 5},
        {"gauge": "X", "time": "2023-01-01T10:00:00Z", "level_cm": "tinggi"},
        {"gauge": "X", "time": "2023-01-01T10:00:00Z", "level_cm": 5, "lat": 95, "lon": 115},
        "junk"]}
    result = parse_safely(adapter(), orjson.dumps(items))
    assert [r.value for r in result.records] == [760, 770]
    assert result.records[0].alert_level == 1 and result.records[0].lat == -6.2
    assert result.records[1].observed_at == datetime(2023, 1, 1, 4, tzinfo=UTC)
    reasons = [r.reason for r in result.rejects]
    assert len(reasons) == 5
    assert "no gauge" in reasons[0] and "time" in reasons[1] and "not a number" in reasons[2]
    assert "impossible coordinates" in reasons[3] and "not an object" in reasons[4]


def test_csv_structure_problems():
    a = adapter()
    result = parse_safely(a, b"waktu,tinggi\n2023-01-01 10:00,700\n")
    assert result.records == [] and "lacks column(s) tanggal, ketinggian, name_pintu_air" in result.rejects[0].reason
    result = parse_safely(a, b"tanggal,ketinggian,name_pintu_air\n2023-01-01 10:00:00,700\n\n2023-01-01 11:00:00,705,Manggarai BKB\n")
    assert len(result.records) == 1 and "2 fields" in result.rejects[0].reason and result.rejects[0].ref == "line 2"
    cfg = WaterLevelConfig(csv_columns={"time": "waktu", "level": "tinggi", "gauge": None}, default_gauge="Katulampa", csv_delimiter=";")
    [r] = parse_safely(adapter(cfg), b"waktu;tinggi\n2023-01-01 10:00;160\n").records
    assert r.station == "Katulampa" and r.alert_level == 2


def test_whole_document_failures():
    a = adapter()
    # empty, HTML, truncated, non-UTF-8 and deeply nested bodies: test_contract.py
    for raw in [b"tanggal,ketinggian,name_pintu_air\n\xff\xfe,1,x\n", b'{"gauge": "x"}']:
        assert_one_reject(parse_safely(a, raw))


def test_config_validation():
    with pytest.raises(ValueError):
        WaterLevelConfig(gauges={"x": {"siaga3": 900, "siaga2": 850}})
    with pytest.raises(ValueError):
        WaterLevelConfig(thresholds={"Manggarai BKB": 750})
    with pytest.raises(ValueError):
        WaterLevelConfig(url="mqtt://127.0.0.1:1883")
    with pytest.raises(ValueError):
        WaterLevelConfig(gauges={"x": {"siaga3": 1, "colour": "red"}})


def test_fetch_path_csv(feed_server, samples):
    url = feed_server.serve("/manggarai.csv", (samples / CSV).read_bytes(), content_type="text/csv")
    a = adapter(WaterLevelConfig(url=url))
    # the published file has no newline after its last line: by default that line may be one caught mid-write
    result = parse_safely(a, a.fetch())
    [cut] = [r for r in result.rejects if r.reason == INCOMPLETE_LINE]
    assert len(result.records) == 8587 and "2023-10-19 16:00:00,560" in cut.item and cut.ref == "line 8597"
    whole = adapter(WaterLevelConfig(url=url, csv_whole_without_newline=True))
    assert len(parse_safely(whole, whole.fetch()).records) == 8588


# ---- MQTT against the real broker -------------------------------------------------------------

def _broker_listening() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 1883), timeout=0.5):
            return True
    except OSError:
        return False


needs_broker = pytest.mark.skipif(not _broker_listening(), reason="no MQTT broker listening on 127.0.0.1:1883")


def _publisher():
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:8]}")
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    return client


@needs_broker
def test_mqtt_fetch_retained_and_live_messages_up_to_the_maximum():
    base = f"damamaya-test/{uuid.uuid4().hex}/water"
    pub = _publisher()
    fetched = threading.Event()
    try:
        pub.publish(f"{base}/manggarai", orjson.dumps({"gauge": "Manggarai BKB", "time": "2023-01-01T10:00:00+07:00", "level_cm": 860}),
                    qos=1, retain=True).wait_for_publish(2)

        def later():
            time.sleep(0.4)
            pub.publish(f"{base}/katulampa", orjson.dumps([{"time": "2023-01-01T03:00:00Z", "level_cm": 210},
                                                           {"time": "2023-01-01T04:00:00Z", "level_cm": 0}]), qos=1).wait_for_publish(2)
            pub.publish(f"{base}/x", b"742 cm", qos=1).wait_for_publish(2)
            # a fourth message, well inside the fetch's timeout: it belongs to the next poll, not this one
            fetched.wait(0.5)
            pub.publish(f"{base}/depok", orjson.dumps({"time": "2023-01-01T05:00:00Z", "level_cm": 150}), qos=1).wait_for_publish(2)

        thread = threading.Thread(target=later)
        thread.start()
        a = adapter(WaterLevelConfig(url="mqtt://127.0.0.1:1883", mqtt_topic=f"{base}/#", timeout=5, mqtt_max_messages=3))
        raw = a.fetch()
        fetched.set()
        thread.join()
        topics = [item.get("topic", "").rsplit("/", 1)[-1] for item in orjson.loads(raw)]
        assert sorted(set(topics)) == ["katulampa", "manggarai", "x"]  # stopped at the third message: no depok
        result = parse_safely(a, raw)
        by_station = {r.station: r for r in result.records}
        assert by_station["Manggarai BKB"].alert_level == 2 and by_station["Manggarai BKB"].value == 860
        assert by_station["katulampa"].alert_level == 3  # gauge from the topic, thresholds matched case-insensitively
        reasons = sorted(r.reason for r in result.rejects)
        assert len(reasons) == 2 and "0 cm" in reasons[0] and "not JSON" in reasons[1]
    finally:
        pub.publish(f"{base}/manggarai", b"", qos=1, retain=True).wait_for_publish(2)  # clear the retained message
        pub.loop_stop()
        pub.disconnect()


@needs_broker
def test_mqtt_quiet_topic_gives_an_empty_list():
    a = adapter(WaterLevelConfig(url="mqtt://127.0.0.1:1883", mqtt_topic=f"damamaya-test/{uuid.uuid4().hex}", timeout=0.5))
    raw = a.fetch()
    assert raw == b"[]" and parse_safely(a, raw).records == []


def test_mqtt_unreachable_broker_is_a_fetch_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError, match="unreachable"):
        adapter(WaterLevelConfig(url=f"mqtt://127.0.0.1:{port}", mqtt_topic="x", timeout=1)).fetch()


def test_out_of_range_times_are_rejects():
    items = [{"gauge": "x", "time": 1e308, "level_cm": 5}, {"gauge": "x", "time": "9999-12-31T23:59:59-05:00", "level_cm": 5}]
    result = adapter().parse(orjson.dumps(items))
    assert result.records == [] and len(result.rejects) == 2 and all("time" in r.reason for r in result.rejects)
