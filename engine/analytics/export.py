"""CSV and GeoJSON export of the filtered /history rows, streamed.

CSV cells are neutralized against formula injection: a text cell that starts
with = + - @ (or a tab or carriage return, which some spreadsheets strip before
reading a formula) gets a leading apostrophe, so a spreadsheet shows it as text
and runs nothing. Numbers from numeric columns (coordinates, values) are written
as plain numbers: -8.65 is a latitude, not a formula.
"""
from __future__ import annotations

import csv
import io
from typing import Iterable, Iterator

import orjson

from engine.records import WITA

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = ("time_utc", "time_wita", "source", "id", "kind", "category", "severity", "status", "kecamatan_code",
               "desa_code", "kecamatan", "desa", "lat", "lon", "value", "title")


def neutralize(value) -> str | float | int:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _names() -> tuple[dict[str, str], dict[str, str]]:
    from engine.geo import boundaries

    b = boundaries()
    return {code: name for code, name, _ in b.desa_names()}, b.kecamatan_names()


def csv_chunks(rows: Iterable[dict], batch: int = 1000) -> Iterator[str]:
    desa_names, kec_names = _names()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    n = 0
    for r in rows:
        writer.writerow([neutralize(v) for v in (
            r["time"].isoformat().replace("+00:00", "Z"), r["time"].astimezone(WITA).strftime("%Y-%m-%d %H:%M:%S"),
            r["source"], r["id"], r["kind"], r["category"], r["severity"], r["status"], r["kecamatan_code"],
            r["desa_code"], kec_names.get(r["kecamatan_code"], ""), desa_names.get(r["desa_code"], ""),
            r["lat"], r["lon"], r["value"], r["title"])])
        n += 1
        if n % batch == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def geojson_chunks(rows: Iterable[dict], batch: int = 1000) -> Iterator[bytes]:
    """A FeatureCollection, one feature per row; rows without a place get a null geometry."""
    yield b'{"type":"FeatureCollection","features":['
    first = True
    parts: list[bytes] = []
    for r in rows:
        geometry = {"type": "Point", "coordinates": [r["lon"], r["lat"]]} if r["lat"] is not None else None
        props = {k: r[k] for k in ("source", "id", "kind", "category", "severity", "status", "kecamatan_code",
                                   "desa_code", "value", "title")}
        props["time"] = r["time"].isoformat().replace("+00:00", "Z")
        feature = orjson.dumps({"type": "Feature", "geometry": geometry, "properties": props})
        parts.append(feature if first else b"," + feature)
        first = False
        if len(parts) >= batch:
            yield b"".join(parts)
            parts = []
    parts.append(b"]}")
    yield b"".join(parts)
