"""CSV and GeoJSON export: formulas neutralized, numbers kept, every row once."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import orjson
import pytest

from engine.analytics import export as X

ROW = {"time": datetime(2025, 3, 1, 2, 30, tzinfo=timezone.utc), "source": "pro", "id": "c-1", "kind": "incident",
       "category": "waste", "severity": "low", "status": "new", "kecamatan_code": "51.71.01",
       "desa_code": "51.71.01.2008", "lat": -8.7123, "lon": 115.19, "value": None, "title": "Sampah"}


@pytest.mark.parametrize("cell, want", [
    ("=SUM(A1:A9)", "'=SUM(A1:A9)"), ("+62 812", "'+62 812"), ("-2+3", "'-2+3"), ("@cmd", "'@cmd"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("Jl. Teuku Umar", "Jl. Teuku Umar"), ("", ""), (None, ""),
    (-8.65, -8.65), (0, 0), (True, "true"),
])
def test_neutralize(cell, want):
    assert X.neutralize(cell) == want


def _csv(rows):
    return list(csv.DictReader(io.StringIO("".join(X.csv_chunks(rows, batch=2)))))


def test_csv_has_every_row_once_with_names_and_wita_time():
    rows = [dict(ROW, id=f"c-{i}", title=t) for i, t in enumerate(["=HYPERLINK(\"x\")", "a, \"quoted\"\nline", "@x"])]
    got = _csv(rows)
    assert [r["id"] for r in got] == ["c-0", "c-1", "c-2"]
    assert got[0]["title"] == "'=HYPERLINK(\"x\")" and got[1]["title"] == "a, \"quoted\"\nline" and got[2]["title"] == "'@x"
    assert got[0]["time_utc"] == "2025-03-01T02:30:00Z" and got[0]["time_wita"] == "2025-03-01 10:30:00"
    assert got[0]["desa"] == "Pemogan" and got[0]["kecamatan"] == "Denpasar Selatan"
    assert float(got[0]["lat"]) == -8.7123 and got[0]["value"] == ""


def test_csv_of_nothing_is_a_header():
    assert _csv([]) == []
    assert "".join(X.csv_chunks([])).startswith("time_utc,time_wita,source,id")


def test_geojson_is_valid_and_keeps_rows_without_a_place():
    rows = [ROW, dict(ROW, id="c-2", lat=None, lon=None)]
    doc = orjson.loads(b"".join(X.geojson_chunks(rows, batch=1)))
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 2
    assert doc["features"][0]["geometry"] == {"type": "Point", "coordinates": [115.19, -8.7123]}
    assert doc["features"][1]["geometry"] is None and doc["features"][1]["properties"]["id"] == "c-2"
    assert orjson.loads(b"".join(X.geojson_chunks([]))) == {"type": "FeatureCollection", "features": []}
