import shutil
import zipfile
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import pytest
from contract import assert_one_reject, make_adapter
from google.transit import gtfs_realtime_pb2

from data_sources.gtfs_rt import route_names, route_shapes
from engine.pipeline import parse_safely

DELHI = "transit/gtfsrt_vehiclepositions_delhi_dtc_20250911.pb"
AUSTIN = "transit/gtfsrt_vehiclepositions_capmetro_austin_20210213.pb"
BOGOR = "transit/gtfs_static_bogor_angkot_20161014"

adapter = partial(make_adapter, "gtfs-rt")


def feed(*entities, header_time=1757583616):
    msg = gtfs_realtime_pb2.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    if header_time:
        msg.header.timestamp = header_time
    for e in entities:
        msg.entity.append(e)
    return msg.SerializeToString()


def vehicle(entity_id, vehicle_id="", lat=-8.65, lon=115.22, stamp=None, route=None, speed=None):
    e = gtfs_realtime_pb2.FeedEntity(id=entity_id)
    e.vehicle.position.latitude, e.vehicle.position.longitude = lat, lon
    if vehicle_id:
        e.vehicle.vehicle.id = vehicle_id
    if stamp:
        e.vehicle.timestamp = stamp
    if route:
        e.vehicle.trip.route_id = route
    if speed is not None:
        e.vehicle.position.speed = speed
    return e


def test_delhi_feed(samples):
    result = parse_safely(adapter(), (samples / DELHI).read_bytes())
    assert len(result.records) == 1708 and len(result.rejects) == 7
    assert all("coordinates (0, 0)" in r.reason for r in result.rejects)
    first = result.records[0]
    assert first.id == first.vehicle == "DL1PC9558" and first.vehicle_type == "bus"
    assert (round(first.lat, 5), round(first.lon, 5)) == (28.62586, 77.06569)
    assert first.observed_at == datetime.fromtimestamp(1757583586, timezone.utc)
    assert first.details["route_id"] == "2212" and first.details["trip_id"] == "2212_10_40"
    assert first.speed_kmh == 0 and first.heading is None and "route_name" not in first.details


def test_austin_feed_without_trips(samples):
    result = parse_safely(adapter(), (samples / AUSTIN).read_bytes())
    assert len(result.records) == 82 and result.rejects == []
    moving = next(p for p in result.records if p.id == "2054")
    assert moving.speed_kmh == pytest.approx(16.42, abs=0.01) and moving.heading == pytest.approx(20.1)
    assert moving.observed_at == datetime(2021, 2, 13, 7, 25, 43, tzinfo=timezone.utc)
    assert moving.details == {"entity_id": "2054", "occupancy_percentage": 0}
    assert sum(p.heading is not None for p in result.records) == 8


def test_route_names_from_static_folder_and_zip(samples, tmp_path):
    raw = feed(vehicle("e1", "angkot-1", route="AK-07A", stamp=1757583600, speed=5), vehicle("e2", route="ZZ"))
    a = adapter(static_path=str(samples / BOGOR))
    a.load_static()
    one, two = parse_safely(a, raw).records
    assert one.details["route_name"] == "AK-07A" and one.speed_kmh == 18.0 and one.id == "angkot-1"
    assert two.id == "e2" and "route_name" not in two.details
    assert two.observed_at == datetime.fromtimestamp(1757583616, timezone.utc)  # header time
    archive = tmp_path / "bogor.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in (samples / BOGOR).iterdir():
            z.write(f, f"gtfs/{f.name}")
    assert route_names(archive) == route_names(samples / BOGOR) and len(route_names(archive)) == 24


def test_broken_static_feed_costs_names_not_positions(tmp_path, feed_server):
    url = feed_server.serve("/vp.pb", feed(vehicle("e1", route="AK-01")))
    a = adapter(url=url, static_path=str(tmp_path / "missing"))
    result = parse_safely(a, a.fetch())
    assert len(result.records) == 1 and a.route_names == {}


def test_route_shapes_from_shapes_txt(samples):
    shapes = route_shapes(samples / BOGOR)
    assert len(shapes) == 24
    ak01 = shapes["AK-01"]
    assert ak01["type"] == "LineString" and len(ak01["coordinates"]) == 69
    assert ak01["coordinates"][:2] == [[106.7946, -6.5945], [106.7973, -6.593]]  # [lon, lat], by shape_pt_sequence
    assert len(shapes["AK-12"]["coordinates"]) == 22


def test_route_shapes_without_shapes_txt_uses_stops(samples, tmp_path):
    folder = tmp_path / "noshapes"
    shutil.copytree(samples / BOGOR, folder)
    (folder / "shapes.txt").unlink()
    shapes = route_shapes(folder)
    assert len(shapes) == 24
    line = shapes["AK-01"]["coordinates"]
    assert line[0] == [106.7946, -6.5945] and line[1] == [106.7973, -6.593]  # kb-gedong-sawah, Polisi Militer
    assert all(len(g["coordinates"]) >= 2 for g in shapes.values())


def test_entities_that_are_not_positions_and_duplicates():
    trip_update = gtfs_realtime_pb2.FeedEntity(id="tu")
    trip_update.trip_update.trip.trip_id = "t1"
    deleted = vehicle("gone", "bus-9")
    deleted.is_deleted = True
    no_position = gtfs_realtime_pb2.FeedEntity(id="np")
    no_position.vehicle.vehicle.id = "bus-8"
    raw = feed(vehicle("a", "bus-1", stamp=1700000000), trip_update, deleted, no_position,
               vehicle("b", "bus-1", stamp=1700000060, lat=-8.66), vehicle("c", "bus-1", stamp=1700000030),
               vehicle("d", "bus-2", lat=95, lon=115))
    result = parse_safely(adapter(), raw)
    [bus] = result.records
    assert bus.id == "bus-1" and bus.lat == pytest.approx(-8.66) and bus.in_city is not None
    reasons = [r.reason for r in result.rejects]
    assert len(reasons) == 6
    assert "not a vehicle position (trip update)" in reasons
    assert "entity gone deleted by the feed" in reasons
    assert "vehicle has no position" in reasons
    assert reasons.count("older version of id bus-1, superseded in the same document") == 2  # entities a and c
    assert any("impossible coordinates" in r for r in reasons)


def test_no_timestamp_anywhere_is_a_reject():
    result = parse_safely(adapter(), feed(vehicle("a", "bus-1"), header_time=None))
    assert result.records == [] and result.rejects[0].reason.startswith("no timestamp")


def test_fetch_path(samples, feed_server):
    a = adapter(url=feed_server.serve("/VehiclePositions.pb", (samples / AUSTIN).read_bytes(), content_type="application/x-protobuf"))
    assert len(parse_safely(a, a.fetch()).records) == 82


@pytest.mark.parametrize("raw", [b'{"entity": []}', b"\x0a" * 5000])  # and the documents in test_contract.py
def test_garbage_is_one_reject(raw):
    assert_one_reject(parse_safely(adapter(), raw))


def test_truncated_feed(samples):
    raw = (samples / AUSTIN).read_bytes()
    result = parse_safely(adapter(), raw[: len(raw) // 2])
    assert result.records == [] and len(result.rejects) == 1 and "protobuf" in result.rejects[0].reason


# ---- debug feeds: JSON (MessageToJson) and protobuf text format (fixtures/README.md) ------------

@pytest.mark.parametrize("name", ["gtfsrt_vehiclepositions_austin_messagetojson.json", "gtfsrt_vehiclepositions_austin_text_format.txt"])
def test_json_and_text_format_read_like_the_protobuf(samples, name):
    debug = parse_safely(adapter(), (Path(__file__).parent / "fixtures" / name).read_bytes())
    binary = parse_safely(adapter(), (samples / AUSTIN).read_bytes())
    assert debug.rejects == [] and [r.id for r in debug.records] == ["2305", "2303", "2301", "2421"]
    first_four = {r.id: r for r in binary.records if r.id in {"2305", "2303", "2301", "2421"}}
    assert [r.model_dump() for r in debug.records] == [first_four[r.id].model_dump() for r in debug.records]
    assert debug.records[0].observed_at == datetime(2021, 2, 13, 7, 25, 46, tzinfo=timezone.utc)


@pytest.mark.parametrize("raw, words", [
    (b'{"header": {"gtfsRealtimeVersion": "2.0"}, "entity": [{"id": 1}]}', "not a GTFS-realtime JSON"),
    (b'header { gtfs_realtime_version: "2.0" }\nentity { id: "1" vehicle { position { latitude: } } }', "not a GTFS-realtime text format"),
    (b'{"entity": []}', "no header.gtfs_realtime_version"),
])
def test_broken_debug_feeds_are_one_reject(raw, words):
    result = parse_safely(adapter(), raw)
    assert_one_reject(result)
    assert words in result.rejects[0].reason
