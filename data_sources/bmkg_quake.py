"""BMKG earthquakes: autogempa.json (latest felt quake) and gempaterkini.json (latest M5+).

Both wrap quakes in `Infogempa.gempa` (one object or a list). `Coordinates` is
"lat,lon"; `DateTime` is ISO with zone; `Tanggal` + `Jam` are WIB wall-clock,
used only when `DateTime` is absent. Magnitude and depth arrive as strings.
"""
from __future__ import annotations

from typing import Any

from data_sources.base import Adapter, SourceConfig, load_json, parse_number, parse_time
from engine.records import WIB, Incident, ParseResult, Reject


class BmkgQuakeConfig(SourceConfig):
    adapter: str = "bmkg-quake"
    interval: float = 60


def quake_severity(magnitude: float, tsunami: bool) -> str:
    if tsunami or magnitude >= 7:
        return "critical"
    if magnitude >= 6:
        return "high"
    if magnitude >= 5:
        return "medium"
    if magnitude >= 4:
        return "low"
    return "info"


class BmkgQuake(Adapter):
    name = "bmkg-quake"
    Config = BmkgQuakeConfig
    kinds = ("incident",)
    description = "BMKG earthquakes (autogempa, gempaterkini)"

    def parse(self, raw: bytes) -> ParseResult:
        result = ParseResult()
        data, problem = load_json(raw)
        if problem:
            result.rejects.append(problem)
            return result
        quakes = data.get("Infogempa", {}).get("gempa") if isinstance(data, dict) else None
        if quakes is None:
            result.rejects.append(Reject.of("no Infogempa.gempa in the document", data))
            return result
        for i, quake in enumerate(quakes if isinstance(quakes, list) else [quakes]):
            self.collect(result, self._quake(quake, i))
        return result

    def _quake(self, q: Any, index: int):
        if not isinstance(q, dict):
            return Reject.of("quake entry is not an object", q, index)
        try:
            when = parse_time(q["DateTime"]) if q.get("DateTime") else parse_time(f"{q.get('Tanggal')} {q.get('Jam')}", WIB)
        except ValueError as exc:
            return Reject.of(f"time: {exc}", q, index)
        try:
            lat_s, lon_s = str(q["Coordinates"]).split(",")
            lat, lon = float(lat_s), float(lon_s)
        except (KeyError, ValueError):
            return Reject.of(f"Coordinates {q.get('Coordinates')!r} are not 'lat,lon'", q, index)
        magnitude = parse_number(q.get("Magnitude"))
        if magnitude is None:
            return Reject.of(f"Magnitude {q.get('Magnitude')!r} is not a number", q, index)
        potensi = str(q.get("Potensi") or "")
        tsunami = "berpotensi tsunami" in potensi.lower() and "tidak" not in potensi.lower()
        region = str(q.get("Wilayah") or "").strip()
        return self.build(
            Incident, index, q,
            id=when.strftime("%Y%m%dT%H%M%SZ"),
            category="earthquake",
            severity=quake_severity(magnitude, tsunami),
            status="new",
            lat=lat, lon=lon,
            reported_at=when, updated_at=when,
            title=f"Gempa M{magnitude:g} {region}".strip(),
            details={
                "magnitude": magnitude,
                "depth_km": parse_number(str(q.get("Kedalaman", "")).replace("km", "")),
                "region": region,
                "potential": potensi,
                "felt": None if q.get("Dirasakan") in (None, "-", "") else q.get("Dirasakan"),
                "shakemap": q.get("Shakemap"),
                "tsunami": tsunami,
            },
        )
