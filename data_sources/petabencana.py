"""PetaBencana.id (CogniCity): flood reports, flooded areas, area states and flood gauges.

Reads the API answers `{statusCode, result}` whose result is a TopoJSON Topology
(`/reports`, `/floods`, `/floodgauges`, the default `geoformat=topojson`), a GeoJSON
FeatureCollection (`geoformat=geojson`, and the CogniCity archive exports) or a list
(`/floods/states`). What each feature is, is told from its properties:
- `observations` / `gaugeid`: a flood gauge; every observation is one Reading
  (water_level, cm). Alert level from the "SIAGA n" text: IV->0, III->1, II->2, I->3
  (`f3`, the number, when the text is unreadable).
- `state`: a flooded area (RW polygon) with state 1-4 (1 use caution, 2 = 10-70 cm,
  3 = 71-150 cm, 4 = over 150 cm) -> severity low/medium/high/critical; state 0 means
  the flood is over (status resolved). Id "area:<area_id>", or "geom:<geom_id>" in the
  archive exports, which have no area_id.
- `/floods/states` items `{area_id, state, last_updated}`: the same "area:<area_id>"
  incident, without geometry (details.state_update is true): it only moves the state.
- anything else with a point: a citizen report (`category` flood_report for floods).
  Id is `pkey`; the archive exports have none, so the id is then a hash of
  created_at, source, position and text (stable as long as the report is unchanged).
  Reports expire after `report_window_hours` (flood 3 h, earthquake 12 h, as on the map).

TopoJSON is decoded here: quantized positions (`transform.scale/translate`) and
delta-encoded arcs (negative index = arc reversed). Times without a zone (the
archive exports, converted to UTC+7 by their export scripts) take `timezone`.
"""
from __future__ import annotations

import hashlib
import math
import re
from datetime import timedelta
from typing import Any

from pydantic import Field
from shapely.geometry import shape

from data_sources.readers.config_types import ZoneName
from data_sources.readers.documents import load_json
from data_sources.readers.values import parse_number, parse_time, utc_stamp, zone_from_name
from engine.contract import Adapter, SourceConfig
from engine.records import Incident, ParseResult, Reading, Reject

STATE_SEVERITY = {0: "info", 1: "low", 2: "medium", 3: "high", 4: "critical"}
STATE_LABEL = {0: "surut (flood over)", 1: "hati-hati (use caution, depth unknown)", 2: "10-70 cm", 3: "71-150 cm", 4: "> 150 cm"}
SIAGA_ALERT = {"IV": 0, "III": 1, "II": 2, "I": 3}
REPORT_CATEGORY = {"flood": "flood_report", "earthquake": "earthquake", "fire": "wildfire", "volcano": "volcano",
                   "wind": "extreme_weather", "haze": "alert"}
_SIAGA = re.compile(r"SIAGA\s*(IV|III|II|I|[1-4])\b", re.I)


class PetaBencanaConfig(SourceConfig):
    adapter: str = "petabencana"
    interval: float = 120
    timezone: ZoneName = Field(default="WIB", description="zone of times written without one (archive exports are UTC+7)")
    report_window_hours: dict[str, float] = Field(
        default={"flood": 3, "earthquake": 12},
        description="hours a report stays current, by disaster_type; other types use the flood window")


class TopologyError(ValueError):
    """A geometry that cannot be rebuilt from the topology (bad arc index, bad position)."""


class Topology:
    """Just enough TopoJSON: quantized, delta-encoded arcs and the geometries built from them."""

    def __init__(self, topo: dict):
        transform = topo.get("transform") if isinstance(topo.get("transform"), dict) else None
        self.scale = self.translate = None
        if transform:
            try:
                self.scale, self.translate = list(_xy(transform["scale"])), list(_xy(transform["translate"]))
            except (KeyError, TypeError, TopologyError):
                raise TopologyError("transform has no numeric scale/translate pair") from None
        self.raw_arcs = topo.get("arcs") if isinstance(topo.get("arcs"), list) else []
        self._arcs: dict[int, list] = {}

    def position(self, pos: Any) -> list[float]:
        x, y = _xy(pos)
        if self.scale:
            x, y = x * self.scale[0] + self.translate[0], y * self.scale[1] + self.translate[1]
        return [round(x, 10), round(y, 10)]

    def arc(self, index: Any) -> list[list[float]]:
        if not isinstance(index, int) or isinstance(index, bool):
            raise TopologyError(f"arc index {index!r} is not an integer")
        i = ~index if index < 0 else index
        if i >= len(self.raw_arcs):
            raise TopologyError(f"arc {index} does not exist ({len(self.raw_arcs)} arcs)")
        if i not in self._arcs:
            self._arcs[i] = self._decode(self.raw_arcs[i])
        return self._arcs[i][::-1] if index < 0 else self._arcs[i]

    def _decode(self, arc: Any) -> list[list[float]]:
        if not isinstance(arc, list) or not arc:
            raise TopologyError("an arc is empty or not a list")
        if not self.scale:
            return [[round(v, 10) for v in _xy(p)] for p in arc]
        x = y = 0.0
        out = []
        for p in arc:
            dx, dy = _xy(p)
            x, y = x + dx, y + dy
            out.append([round(x * self.scale[0] + self.translate[0], 10), round(y * self.scale[1] + self.translate[1], 10)])
        return out

    def line(self, indices: Any) -> list[list[float]]:
        if not isinstance(indices, list) or not indices:
            raise TopologyError("a line or ring has no arcs")
        coords: list[list[float]] = []
        for index in indices:
            points = self.arc(index)
            coords.extend(points[1:] if coords else points)
        return coords

    def geometry(self, obj: dict) -> dict | None:
        kind = obj.get("type")
        if kind is None:
            return None
        if kind == "Point":
            return {"type": "Point", "coordinates": self.position(obj.get("coordinates"))}
        if kind == "MultiPoint":
            return {"type": kind, "coordinates": [self.position(p) for p in _list(obj.get("coordinates"))]}
        arcs = obj.get("arcs")
        if kind == "LineString":
            return {"type": kind, "coordinates": self.line(arcs)}
        if kind in ("MultiLineString", "Polygon"):
            return {"type": kind, "coordinates": [self.line(a) for a in _list(arcs)]}
        if kind == "MultiPolygon":
            return {"type": kind, "coordinates": [[self.line(r) for r in _list(p)] for p in _list(arcs)]}
        raise TopologyError(f"geometry type {kind!r} is not supported")

    @staticmethod
    def objects(topo: dict) -> list[Any]:
        """Every geometry object, GeometryCollections flattened, in document order; TopologyError when there are none."""
        objects = topo.get("objects")
        if not isinstance(objects, dict):
            raise TopologyError("topology has no `objects`")
        out: list[Any] = []
        for name, obj in objects.items():
            if isinstance(obj, dict) and obj.get("type") == "GeometryCollection":
                geometries = obj.get("geometries")
                if not isinstance(geometries, list):
                    raise TopologyError(f"object {name!r} has no `geometries` list")
                out.extend(geometries)
            else:
                out.append(obj)
        return out


def _xy(pos: Any) -> tuple[float, float]:
    try:
        x, y = float(pos[0]), float(pos[1])
    except (TypeError, ValueError, IndexError, KeyError):
        raise TopologyError(f"position {pos!r} is not [x, y]") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise TopologyError(f"position {pos!r} is not finite")
    return x, y


def _list(value: Any) -> list:
    if not isinstance(value, list):
        raise TopologyError(f"expected a list, got {type(value).__name__}")
    return value


class PetaBencana(Adapter):
    name = "petabencana"
    Config = PetaBencanaConfig
    kinds = ("incident", "reading")
    description = "PetaBencana.id flood reports, flooded areas, area states and flood gauges (TopoJSON/GeoJSON)"

    document = staticmethod(load_json)

    def read(self, data: Any) -> ParseResult:
        result = ParseResult()
        payload = data
        if isinstance(data, dict) and "result" in data:
            payload = data["result"]
        elif isinstance(data, dict) and "statusCode" in data:
            result.rejects.append(Reject.of(f"API answered statusCode {data.get('statusCode')} without a result: {data.get('message', '')}", data))
            return result
        self._payload(payload, result)
        return self.dedupe(result)


    def _payload(self, payload: Any, result: ParseResult) -> None:
        if isinstance(payload, list):
            for i, item in enumerate(payload):
                self.collect(result, self._state(item, i))
            return
        if not isinstance(payload, dict):
            result.rejects.append(Reject.of("result is neither a TopoJSON/GeoJSON object nor a list of states", payload))
            return
        kind = payload.get("type")
        if kind == "Topology":
            self._topology(payload, result)
        elif kind == "FeatureCollection" and isinstance(payload.get("features"), list):
            for i, f in enumerate(payload["features"]):
                self._feature_record(f, i, result, geometry=(f.get("geometry") if isinstance(f, dict) else None))
        elif kind == "Feature":
            self._feature_record(payload, 0, result, geometry=payload.get("geometry"))
        else:
            result.rejects.append(Reject.of(f"result type {kind!r} is not Topology or FeatureCollection", payload))

    def _topology(self, topo: dict, result: ParseResult) -> None:
        try:
            topology = Topology(topo)
            objects = Topology.objects(topo)
        except TopologyError as exc:
            result.rejects.append(Reject.of(f"TopoJSON: {exc}", topo))
            return
        for i, obj in enumerate(objects):
            if not isinstance(obj, dict):
                result.rejects.append(Reject.of("TopoJSON geometry is not an object", obj, i))
                continue
            try:
                geometry = topology.geometry(obj)
            except TopologyError as exc:
                result.rejects.append(Reject.of(f"TopoJSON geometry: {exc}", obj.get("properties", obj), i))
                continue
            self._feature_record(obj, i, result, geometry=geometry)

    def _feature_record(self, feature: Any, index: int, result: ParseResult, geometry: Any) -> None:
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            result.rejects.append(Reject.of("feature has no properties", feature, index))
            return
        if geometry is not None and not isinstance(geometry, dict):
            result.rejects.append(Reject.of("feature geometry is not an object", feature, index))
            return
        if "observations" in props or "gaugeid" in props:
            self._gauge(props, geometry, index, result)
        elif "state" in props:
            self.collect(result, self._area(props, geometry, index))
        else:
            self.collect(result, self._report(props, geometry, index))

    # ---- records -------------------------------------------------------------------
    def _time(self, value: Any):
        return parse_time(value, zone_from_name(self.config.timezone))

    def _report(self, p: dict, geometry: dict | None, index: int):
        point = _point(geometry)
        if point is None:
            return Reject.of("report has no point geometry", p, index)
        try:
            created = self._time(p.get("created_at"))
        except ValueError as exc:
            return Reject.of(f"created_at: {exc}", p, index)
        kind = str(p.get("disaster_type") or "flood").lower()
        depth = parse_number((p.get("report_data") or {}).get("flood_depth")) if isinstance(p.get("report_data"), dict) else None
        text = str(p.get("text") or "").strip()
        title = str(p.get("title") or "").strip() or text[:80] or f"Laporan {kind}"
        window = self.config.report_window_hours.get(kind, self.config.report_window_hours.get("flood", 3))
        rid = str(p["pkey"]) if p.get("pkey") not in (None, "") else _report_hash(p, point, text)
        return self.build(
            Incident, rid, p,
            id=rid,
            category=REPORT_CATEGORY.get(kind, "alert"),
            severity=_depth_severity(depth),
            lat=point[1], lon=point[0],
            reported_at=created, updated_at=created,
            expires_at=created + timedelta(hours=window),
            title=title[:500],
            details={
                "source_category": kind,
                "report_source": p.get("source"),
                "report_status": p.get("status"),
                "flood_depth_cm": depth,
                "text": text,
                "image_url": p.get("image_url"),
                "url": p.get("url"),
                "tags": p.get("tags"),
                "id_derived": p.get("pkey") in (None, ""),
            },
        )

    def _area(self, p: dict, geometry: dict | None, index: int):
        area_key = _area_key(p)
        if area_key is None:
            return Reject.of("flooded area has no area_id or geom_id", p, index)
        state = _state_value(p.get("state"))
        if state is None:
            return Reject.of(f"state {p.get('state')!r} is not 0-4", p, area_key)
        try:
            when = self._time(p.get("last_updated") or p.get("changed"))
        except ValueError as exc:
            return Reject.of(f"last_updated: {exc}", p, area_key)
        problem = _geometry_problem(geometry) if geometry is not None else None
        centroid = None if problem else _centroid(geometry)
        if geometry is not None and centroid is None:
            return Reject.of(f"geometry of {area_key} {problem or 'is not a readable GeoJSON shape'}", p, area_key)
        name = ", ".join(str(p[k]) for k in ("area_name", "parent_name") if p.get(k)) or f"area {area_key.split(':', 1)[1]}"
        return self.build(
            Incident, area_key, p,
            id=area_key,
            category="flooded_area",
            severity=STATE_SEVERITY[state],
            status="resolved" if state == 0 else "new",
            lat=centroid[1] if centroid else None, lon=centroid[0] if centroid else None,
            geometry=geometry,
            reported_at=when, updated_at=when,
            title=f"Banjir {name}: {STATE_LABEL[state]}",
            details={
                "state": state, "state_label": STATE_LABEL[state],
                "area_id": _str(p.get("area_id")), "geom_id": _str(p.get("geom_id")),
                "area_name": p.get("area_name"), "parent_name": p.get("parent_name"), "city_name": p.get("city_name"),
                "source_category": "flooded_area",
            },
        )

    def _state(self, item: Any, index: int):
        if not isinstance(item, dict) or item.get("area_id") in (None, ""):
            return Reject.of("state entry has no area_id", item, index)
        area_key = f"area:{item['area_id']}"
        state = _state_value(item.get("state"))
        if state is None:
            return Reject.of(f"state {item.get('state')!r} is not 0-4", item, area_key)
        try:
            when = self._time(item.get("last_updated"))
        except ValueError as exc:
            return Reject.of(f"last_updated: {exc}", item, area_key)
        return self.build(
            Incident, area_key, item,
            id=area_key,
            category="flooded_area",
            severity=STATE_SEVERITY[state],
            status="resolved" if state == 0 else "new",
            reported_at=when, updated_at=when,
            title=f"Banjir area {item['area_id']}: {STATE_LABEL[state]}",
            details={"state": state, "state_label": STATE_LABEL[state], "area_id": str(item["area_id"]),
                     "state_update": True, "source_category": "flood_state"},
        )

    def _gauge(self, p: dict, geometry: dict | None, index: int, result: ParseResult) -> None:
        gauge = str(p.get("gaugeid") or "").strip()
        observations = p.get("observations")
        if not gauge:
            result.rejects.append(Reject.of("flood gauge has no gaugeid", p, index))
            return
        if not isinstance(observations, list) or not observations:
            result.rejects.append(Reject.of(f"flood gauge {gauge} has no observations", p, gauge))
            return
        point = _point(geometry)
        for n, obs in enumerate(observations):
            self.collect(result, self._observation(gauge, p, point, obs, f"{gauge}[{n}]"))

    def _observation(self, gauge: str, p: dict, point, obs: Any, ref: str):
        if not isinstance(obs, dict):
            return Reject.of("observation is not an object", obs, ref)
        try:
            when = self._time(obs.get("f1"))
        except ValueError as exc:
            return Reject.of(f"observation time f1: {exc}", obs, ref)
        level = parse_number(obs.get("f2"))
        if level is None:
            return Reject.of(f"water level f2 {obs.get('f2')!r} is not a number", obs, ref)
        alert, note = _siaga(obs.get("f4"), obs.get("f3"))
        details = {"siaga": str(obs.get("f4") or "").strip() or None, "warning_level": obs.get("f3"), "source_category": "floodgauge"}
        if note:
            details["alert_note"] = note
        return self.build(
            Reading, ref, obs,
            id=f"{gauge}:{utc_stamp(when)}",
            station=gauge, station_name=str(p.get("gaugenameid") or gauge),
            quantity="water_level", value=level, unit="cm", alert_level=alert,
            lat=point[1] if point else None, lon=point[0] if point else None,
            observed_at=when, details=details,
        )


# ---- helpers ------------------------------------------------------------------------------

def _str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _area_key(p: dict) -> str | None:
    if p.get("area_id") not in (None, ""):
        return f"area:{p['area_id']}"
    if p.get("geom_id") not in (None, ""):
        return f"geom:{p['geom_id']}"
    return None


def _state_value(value: Any) -> int | None:
    number = parse_number(value)
    if number is None or number != int(number) or int(number) not in STATE_SEVERITY:
        return None
    return int(number)


def _depth_severity(depth: float | None) -> str:
    """Report depth (cm) on the flooded-area state scale: 10-70 medium, 71-150 high, over 150 critical."""
    if depth is None or depth < 10:
        return "low"
    if depth > 150:
        return "critical"
    return "high" if depth > 70 else "medium"


def _siaga(text: Any, number: Any) -> tuple[int, str | None]:
    m = _SIAGA.search(str(text or ""))
    if m:
        level = m[1].upper()
        return (SIAGA_ALERT[level] if level in SIAGA_ALERT else 4 - int(level)), None
    n = parse_number(number)
    if n is not None and n in (1, 2, 3, 4):
        return 4 - int(n), None
    return 0, f"alert level unreadable (f4 {text!r}, f3 {number!r}); shown as normal"


def _point(geometry: Any) -> tuple[float, float] | None:
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        return None
    try:
        lon, lat = float(geometry["coordinates"][0]), float(geometry["coordinates"][1])
    except (TypeError, ValueError, IndexError, KeyError):
        return None
    return lon, lat


def _geometry_problem(geometry: dict) -> str | None:
    """A reason when any position of the shape is not a possible [lon, lat]."""
    stack = [geometry.get("coordinates")]
    while stack:
        node = stack.pop()
        if isinstance(node, list) and len(node) >= 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in node[:2]):
            lon, lat = node[0], node[1]
            if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
                return f"has an impossible position [{lon}, {lat}]"
        elif isinstance(node, list):
            stack.extend(node)
        else:
            return "has a position that is not a pair of numbers"
    return None


def _centroid(geometry: Any) -> tuple[float, float] | None:
    if not isinstance(geometry, dict):
        return None
    try:
        geom = shape(geometry)
        if not geom.is_valid:
            geom = geom.buffer(0)
        c = geom.centroid
        return None if c.is_empty else (round(c.x, 7), round(c.y, 7))
    except Exception:  # noqa: BLE001 - shapely raises several types on malformed GeoJSON; no centroid then
        return None


def _report_hash(p: dict, point: tuple[float, float], text: str) -> str:
    key = f"{p.get('created_at')}|{p.get('source')}|{point[0]:.6f}|{point[1]:.6f}|{text}"
    return "r-" + hashlib.blake2b(key.encode(), digest_size=8).hexdigest()
