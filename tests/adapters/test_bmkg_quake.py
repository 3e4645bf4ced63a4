from datetime import datetime, timezone

from data_sources import get_adapter
from engine.pipeline import parse_safely


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


def test_bad_inputs_are_rejects_not_crashes():
    a = adapter()
    for raw in [b"", b"<html><body>502</body></html>", b'{"Infogempa": {"gempa": {"Coordinates": "x"', b"\xff\xfe\x00", b"[" * 5000 + b"]" * 5000]:
        result = parse_safely(a, raw)
        assert result.records == [] and len(result.rejects) == 1 and result.rejects[0].reason


def test_bad_quake_fields_give_reasons():
    raw = b'{"Infogempa": {"gempa": [{"DateTime": "2021-10-05T11:00:27+00:00", "Coordinates": "-8.6,115.2", "Magnitude": "x"},' \
          b'{"DateTime": "2021-10-05T11:00:27+00:00", "Coordinates": "95,115.2", "Magnitude": "3"}]}}'
    result = parse_safely(adapter(), raw)
    assert result.records == []
    assert "Magnitude" in result.rejects[0].reason
    assert "impossible coordinates" in result.rejects[1].reason
