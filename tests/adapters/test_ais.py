import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from functools import partial, reduce
from pathlib import Path

import orjson
import pytest
from contract import assert_one_reject, make_adapter
from pyais import encode_dict

from data_sources.ais import aisstream_time
from engine.pipeline import parse_safely

PYAIS = "vessels/ais_nmea_aivdm_pyais_test_sample.nmea"
KYST = "vessels/ais_nmea_kystverket_tagblock_20241209.nmea"
POSITIONS = "vessels/ais_aisstream_decoded_positions_brittany_20250618.json"
STATIC = "vessels/ais_aisstream_decoded_static_brittany_20250618.json"
REPLAY = "2020-01-01T00:00:00Z"
ROOT = Path(__file__).resolve().parents[2]

adapter = partial(make_adapter, "ais")


def reasons(result):
    return Counter(r.reason.split(" for MMSI")[0].split(" of MMSI")[0] for r in result.rejects)


def sentences(data, **kw):
    return encode_dict(data, talker_id="AI", sentence_type="VDM", **kw)


def tagged(sentence, epoch, station="2573238"):
    body = f"s:{station},c:{epoch}"
    return f"\\{body}*{reduce(lambda a, c: a ^ ord(c), body, 0):02X}\\{sentence}"


FISHING_BOAT = {"type": 1, "mmsi": 525005001, "lat": -8.745, "lon": 115.215, "speed": 4.5, "course": 90.0, "heading": 88, "status": 7}
STATIC_5 = {"type": 5, "mmsi": 525005001, "shipname": "KM SARI LAUT", "callsign": "YB1234", "ship_type": 30, "destination": "BENOA"}


def test_pyais_sample_counts(samples):
    result = parse_safely(adapter(received_at=REPLAY), (samples / PYAIS).read_bytes())
    # 898 lines, no multi-part message completes: every line is one item
    assert len(result.records) + len(result.rejects) == 898
    assert len(result.records) == 163
    assert reasons(result) == {
        "older position": 595,
        "empty payload (a receiver filler sentence, no data)": 100,
        "part 1 of a 2-part message whose other parts never came": 20,
        "type 15 (interrogation) carries no vessel position": 7,
        "type 4 (base station report) carries no vessel position": 6,
        "position not available (lat 91, lon 181)": 4,
        "static data (type 24)": 2,
        "type 20 (data link management) carries no vessel position": 1,
    }
    assert len({p.id for p in result.records}) == 163
    first = result.records[0]
    assert first.id == "240389000" and first.vehicle_type == "boat"
    assert (first.lat, first.lon) == (37.121167, 25.135667)
    assert first.speed_kmh == 47.41 and first.details["speed_knots"] == 25.6  # 25.6 kn * 1.852
    assert first.observed_at == datetime(2020, 1, 1, tzinfo=timezone.utc) and first.details["time_source"] == "received_at"
    class_b = next(p for p in result.records if p.id == "319031300")
    assert class_b.details["message_type"] == 18 and class_b.heading is None and "nav_status" not in class_b.details


def test_pyais_sample_without_any_time_rejects_positions(samples):
    result = parse_safely(adapter(), (samples / PYAIS).read_bytes())
    assert result.records == [] and len(result.rejects) == 898
    assert sum(r.reason.startswith("no timestamp") for r in result.rejects) == 762


def test_kystverket_tag_blocks_and_multipart(samples):
    result = parse_safely(adapter(), (samples / KYST).read_bytes())
    # 223 lines, 27 two-part messages: 196 items
    assert len(result.records) == 146 and len(result.rejects) == 50
    assert reasons(result) == {"static data (type 5)": 27, "static data (type 24)": 20,
                               "type 21 (aid-to-navigation report) carries no vessel position": 3}
    first = result.records[0]
    assert first.id == "259076000" and (first.lat, first.lon) == (60.076687, 5.469305)
    assert first.observed_at == datetime(2024, 12, 9, 22, 7, 14, tzinfo=timezone.utc)
    assert first.details["station"] == "2573238" and first.heading == 96
    untagged = next(p for p in result.records if p.id == "259617000")  # line 5 has no tag block
    assert untagged.details["time_source"] == "nearest tagged line"
    assert untagged.observed_at == datetime.fromtimestamp(1733782034, timezone.utc)
    assert untagged.details["engaged_in_fishing"] is True and untagged.details["nav_status_text"] == "engaged in fishing"
    assert Counter(p.details["time_source"] for p in result.records) == {"tag block": 136, "nearest tagged line": 10}
    tug = next(p for p in result.records if p.id == "257010000")  # named by a 2-part type 5 in the batch
    assert tug.name == "GUARD SUPPLIER" and tug.details["ship_type_text"] == "tug" and tug.details["destination"] == "HAFRSFJORD"


def test_aisstream_positions_keep_newest_per_vessel(samples):
    result = parse_safely(adapter(), (samples / POSITIONS).read_bytes())
    assert len(result.records) == 51 and len(result.rejects) == 95
    assert all(r.reason.startswith("older position of MMSI") for r in result.rejects)
    searunner = next(p for p in result.records if p.id == "249986000")
    assert searunner.name == "SEARUNNER"
    assert searunner.observed_at == datetime(2025, 6, 18, 15, 54, 35, 366844, tzinfo=timezone.utc)
    assert searunner.speed_kmh == 21.85 and searunner.heading == 55.5
    assert sum(p.details["engaged_in_fishing"] for p in result.records) == 5


def test_static_json_alone_is_counted(samples):
    result = parse_safely(adapter(), (samples / STATIC).read_bytes())
    assert result.records == [] and len(result.rejects) == 19
    assert all("merged into vessel names" in r.reason for r in result.rejects)


def test_fetch_path_with_static_file(samples, feed_server):
    a = adapter(url=feed_server.serve("/ais.json", (samples / POSITIONS).read_bytes()), static_path=str(samples / STATIC))
    result = parse_safely(a, a.fetch())
    assert len(result.records) == 51
    tanker = next(p for p in result.records if p.id == "248315000")
    assert tanker.details["ship_type"] == 80 and tanker.details["ship_type_text"] == "tanker"
    assert tanker.details["destination"] == "FRBES"


def test_fetch_time_for_untimed_nmea(samples, feed_server):
    a = adapter(url=feed_server.serve("/ais.nmea", (samples / PYAIS).read_bytes(), content_type="text/plain"))
    before = datetime.now(timezone.utc)
    result = parse_safely(a, a.fetch())
    assert len(result.records) == 163
    assert all(before <= p.observed_at <= datetime.now(timezone.utc) for p in result.records)
    assert result.records[0].details["time_source"] == "fetch time"


def test_hand_made_nmea_rules():
    [pos] = sentences(FISHING_BOAT)
    part1, part2 = sentences(STATIC_5, seq_id=3)
    bad_checksum = pos[:-2] + ("00" if pos[-2:] != "00" else "11")
    lines = [
        tagged(part1, 1733782000), tagged(part2, 1733782000),      # 1+2: one static message
        tagged(pos, 1733782010),                                   # 3: the boat
        "!AIVDM,1,1,,B,,0*25",                                    # 4: empty payload
        bad_checksum,                                              # 5
        part2,                                                     # 6: a part 2 alone
        "\\s:1,c:1733782020*00\\" + pos,                           # 7: tag block checksum wrong
        "hello from the receiver",                                 # 8
        "",                                                        # blank: not an item
        sentences({**FISHING_BOAT, "mmsi": 525005002, "lat": 91, "lon": 181})[0],  # 10: no position
    ]
    result = parse_safely(adapter(), "\r\n".join(lines).encode())
    [boat] = result.records
    assert len(result.rejects) == 7  # 10 lines, 1 blank, one 2-line message: 8 items, one is the boat
    assert boat.id == "525005001" and boat.name == "KM SARI LAUT" and boat.vehicle_type == "boat"
    assert boat.details["engaged_in_fishing"] is True and boat.details["fishing_vessel"] is True
    assert boat.details["callsign"] == "YB1234" and boat.speed_kmh == pytest.approx(8.33, abs=0.01)
    assert boat.observed_at == datetime.fromtimestamp(1733782010, timezone.utc)
    assert (round(boat.lat, 3), round(boat.lon, 3)) == (-8.745, 115.215) and boat.heading == 88
    assert boat.kecamatan is None and boat.in_city is False  # at sea south of Sanur
    by_ref = {r.ref: r.reason for r in result.rejects}
    assert by_ref["1+2"] == "static data (type 5) for MMSI 525005001: merged into vessel names"
    assert by_ref["4"].startswith("empty payload")
    assert by_ref["5"].startswith("checksum error")
    assert by_ref["6"] == "part 2 of 2 without the parts before it"
    assert by_ref["7"].startswith("tag block checksum error")
    assert by_ref["8"].startswith("not an AIS sentence")
    # line 10 has no tag block: it takes the time of the nearest earlier tagged line (3)
    assert by_ref["10"] == "position not available (lat 91, lon 181)"


def test_newer_report_wins_and_names_learned_between_polls():
    a = adapter()
    a.learn_vessels("\n".join(tagged(s, 1733782000) for s in sentences(STATIC_5, seq_id=1)).encode())
    older = tagged(sentences(FISHING_BOAT)[0], 1733782100)
    newer = tagged(sentences({**FISHING_BOAT, "lat": -8.75, "status": 0})[0], 1733782160)
    result = parse_safely(a, f"{newer}\n{older}".encode())
    [boat] = result.records
    assert boat.name == "KM SARI LAUT" and boat.lat == pytest.approx(-8.75) and boat.details["engaged_in_fishing"] is False
    [old] = result.rejects
    assert old.reason.startswith("older position of MMSI 525005001") and old.ref == "2"


def test_aisstream_envelope():
    msg = {"MessageType": "PositionReport",
           "MetaData": {"MMSI": 525005001, "ShipName": "KM SARI LAUT  ", "latitude": -8.745, "longitude": 115.215,
                        "time_utc": "2025-06-18 07:51:25.073315374 +0000 UTC"},
           "Message": {"PositionReport": {"Sog": 4.5, "Cog": 90, "TrueHeading": 511, "NavigationalStatus": 7,
                                          "Latitude": -8.745, "Longitude": 115.215, "UserID": 525005001}}}
    static = {"MessageType": "ShipStaticData", "MetaData": {"MMSI": 525005001, "time_utc": "2025-06-18 07:50:00 +0000 UTC"},
              "Message": {"ShipStaticData": {"Name": "KM SARI LAUT", "Type": 30, "CallSign": "YB1234", "Destination": "BENOA"}}}
    result = parse_safely(adapter(), orjson.dumps([msg, static]))
    [boat] = result.records
    assert boat.name == "KM SARI LAUT" and boat.heading == 90 and boat.details["fishing_vessel"] is True
    assert boat.observed_at == datetime(2025, 6, 18, 7, 51, 25, 73315, tzinfo=timezone.utc)
    assert len(result.rejects) == 1 and "merged" in result.rejects[0].reason


def test_aisstream_time_format():
    assert aisstream_time("2025-06-18 15:51:25.4274521 +0000 UTC") == datetime(2025, 6, 18, 15, 51, 25, 427452, tzinfo=timezone.utc)
    assert aisstream_time("2025-06-18 23:51:25 +0800") == datetime(2025, 6, 18, 15, 51, 25, tzinfo=timezone.utc)
    with pytest.raises(ValueError):
        aisstream_time("yesterday")


@pytest.mark.parametrize("raw", [b"just some text\nwith lines\n", b"42"])  # and the documents in test_contract.py
def test_broken_documents_are_one_reject(raw):
    assert_one_reject(parse_safely(adapter(received_at=REPLAY), raw))


# ---- NMEA 4.10 tag-block groups (fixtures/README.md) and the receive time of a plain log -------

def test_tag_block_groups_carry_station_and_time_in_their_first_sentence_only():
    raw = (Path(__file__).parent / "fixtures/ais_nmea410_tagblock_groups.nmea").read_bytes()
    result = parse_safely(adapter(), raw)
    # both 2-part type 5 messages assemble: their names are merged, none is a lost part
    assert [(r.reason, r.ref) for r in result.rejects] == [
        ("static data (type 5) for MMSI 257010000: merged into vessel names", "1+2"),
        ("static data (type 5) for MMSI 266055000: merged into vessel names", "4+5")]
    [boat] = result.records
    assert boat.id == "257010000" and boat.name == "GUARD SUPPLIER" and boat.details["station"] == "2573225"
    assert boat.observed_at == datetime(2024, 12, 9, 22, 7, 15, tzinfo=timezone.utc)


def test_cli_parse_ais_takes_the_receive_time_of_a_plain_log(samples):
    log = str(samples / PYAIS)
    run = partial(subprocess.run, capture_output=True, text=True, cwd=ROOT, timeout=120)
    plain = run([sys.executable, "-m", "damamaya.cli", "parse", "ais", log])
    assert plain.returncode == 1 and "0 records" in plain.stderr and "no timestamp" in plain.stderr
    given = run([sys.executable, "-m", "damamaya.cli", "parse", "ais", log, "--received-at", "2024-12-09T22:07:14Z"])
    positions = [orjson.loads(line) for line in given.stdout.splitlines()]
    assert given.returncode == 0 and len(positions) == 163
    assert {p["observed_at"] for p in positions} == {"2024-12-09T22:07:14Z"}
    no_zone = run([sys.executable, "-m", "damamaya.cli", "parse", "ais", log, "--received-at", "2024-12-09T22:07:14"])
    assert no_zone.returncode == 2 and "needs a zone" in no_zone.stderr
