"""GTFS-realtime VehiclePositions -> bus positions, with optional GTFS static route names.

The feed is protobuf, or what agencies publish as debug feeds: the same message
as JSON (the bindings' `MessageToJson`, camelCase or field names) or in
protobuf text format (`header { ... } entity { ... }`). The format is told from
the body; all three give the same records.

Each FeedEntity with a `vehicle` becomes one Position: id = vehicle.id, else
the entity id; speed m/s -> km/h; heading = bearing; time = the vehicle's own
timestamp, else the feed header's. Entities that carry no vehicle position
(trip updates, alerts, deletions) are rejects with the reason, so that
records + rejects = entities. The same vehicle twice keeps the newest report.

With `static_path` (a GTFS folder or zip), `fetch()` loads routes.txt once and
records get details["route_name"]. `route_shapes(static_path)` turns the static
feed into GeoJSON route lines for the map.
"""
from __future__ import annotations

import csv
import io
import logging
import re
import zipfile
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from google.protobuf import json_format, text_format
from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2
from pydantic import Field

from data_sources.readers.documents import sniff_problem
from data_sources.readers.values import plain_number
from engine.contract import Adapter, SourceConfig
from engine.records import ParseResult, Position, Reject

log = logging.getLogger(__name__)
_TEXT_FORMAT = re.compile(rb"^\s*(#[^\n]*\n\s*)*(header|entity)\s*[{:<]")


def _form(raw: bytes) -> str:
    """'JSON', 'text format' or 'protobuf', from the first bytes."""
    body = raw.lstrip(b"\xef\xbb\xbf \t\r\n")
    if body[:1] == b"{":
        return "JSON"
    return "text format" if _TEXT_FORMAT.match(body) else "protobuf"


class GtfsRtConfig(SourceConfig):
    adapter: str = "gtfs-rt"
    interval: float = 30
    static_path: str | None = Field(default=None, description="GTFS static folder or zip, for route names")
    vehicle_type: Literal["vehicle", "bus", "boat", "ambulance", "fire_truck", "police"] = "bus"


# ---- GTFS static -------------------------------------------------------------------

def read_static_table(static_path: str | Path, name: str) -> list[dict[str, str]] | None:
    """Rows of one GTFS static file (e.g. 'routes.txt') from a folder or zip; None when absent."""
    path = Path(static_path)
    if path.is_dir():
        target = path / name
        if not target.is_file():
            return None
        text = target.read_bytes().decode("utf-8-sig", "replace")
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            member = next((m for m in archive.namelist() if m == name or m.endswith("/" + name)), None)
            if member is None:
                return None
            text = archive.read(member).decode("utf-8-sig", "replace")
    else:
        raise FileNotFoundError(f"{static_path} is neither a GTFS folder nor a zip")
    return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(io.StringIO(text))]


def route_names(static_path: str | Path) -> dict[str, str]:
    """route_id -> 'short name' (plus ' - long name' when it says more)."""
    names = {}
    for row in read_static_table(static_path, "routes.txt") or []:
        short, long_ = row.get("route_short_name", ""), row.get("route_long_name", "")
        names[row.get("route_id", "")] = f"{short} - {long_}" if short and long_ and long_ != short else short or long_
    return names


def _shape_lines(static_path: str | Path) -> dict[str, list[list[float]]]:
    points: dict[str, list[tuple[float, list[float]]]] = defaultdict(list)
    for row in read_static_table(static_path, "shapes.txt") or []:
        lat, lon, seq = plain_number(row.get("shape_pt_lat")), plain_number(row.get("shape_pt_lon")), plain_number(row.get("shape_pt_sequence"))
        if lat is not None and lon is not None and seq is not None:
            points[row.get("shape_id", "")].append((seq, [lon, lat]))
    return {sid: [p for _, p in sorted(pts, key=lambda t: t[0])] for sid, pts in points.items()}


def _stop_lines(static_path: str | Path, trips: list[dict]) -> dict[str, list[list[float]]]:
    """route_id -> line through the stops of its representative trip (the one with most stops)."""
    stops = {r.get("stop_id"): (plain_number(r.get("stop_lon")), plain_number(r.get("stop_lat")))
             for r in read_static_table(static_path, "stops.txt") or []}
    by_trip: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for row in read_static_table(static_path, "stop_times.txt") or []:
        seq = plain_number(row.get("stop_sequence"))
        if seq is not None:
            by_trip[row.get("trip_id", "")].append((seq, row.get("stop_id", "")))
    lines = {}
    for route, route_trips in _trips_by_route(trips).items():
        best = max(route_trips, key=lambda t: len(by_trip.get(t.get("trip_id", ""), [])))
        located = (stops.get(stop_id, (None, None)) for _, stop_id in sorted(by_trip.get(best.get("trip_id", ""), [])))
        coords = [[lon, lat] for lon, lat in located if lon is not None and lat is not None]
        if len(coords) >= 2:
            lines[route] = coords
    return lines


def _trips_by_route(trips: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for trip in trips:
        grouped[trip.get("route_id", "")].append(trip)
    return grouped


def route_shapes(static_path: str | Path) -> dict[str, dict]:
    """route_id -> GeoJSON LineString (or MultiLineString when trips use several shapes).

    Lines come from shapes.txt via trips.shape_id. A route whose trips name no
    usable shape is drawn through the stops of its trip with the most stops
    (stop_times.txt order), which is straight from stop to stop, not along roads.
    """
    trips = read_static_table(static_path, "trips.txt") or []
    shapes = _shape_lines(static_path)
    geometries: dict[str, dict] = {}
    for route, route_trips in _trips_by_route(trips).items():
        used = Counter(t.get("shape_id") for t in route_trips if len(shapes.get(t.get("shape_id", ""), [])) >= 2)
        lines = [shapes[sid] for sid, _ in used.most_common()]
        if len(lines) == 1:
            geometries[route] = {"type": "LineString", "coordinates": lines[0]}
        elif lines:
            geometries[route] = {"type": "MultiLineString", "coordinates": lines}
    missing = [t for t in trips if t.get("route_id") not in geometries]
    for route, coords in _stop_lines(static_path, missing).items() if missing else ():
        geometries[route] = {"type": "LineString", "coordinates": coords}
    return geometries


# ---- realtime ------------------------------------------------------------------------

OCCUPANCY = gtfs_realtime_pb2.VehiclePosition.OccupancyStatus
STOP_STATUS = gtfs_realtime_pb2.VehiclePosition.VehicleStopStatus


class GtfsRt(Adapter):
    name = "gtfs-rt"
    Config = GtfsRtConfig
    kinds = ("position",)
    snapshot = True
    description = "GTFS-realtime vehicle positions (buses), route names from GTFS static"

    def __init__(self, source: str, config: SourceConfig | None = None):
        super().__init__(source, config)
        self.route_names: dict[str, str] = {}
        self._static_loaded = False

    def fetch(self) -> bytes:
        if not self._static_loaded:
            self.load_static()
        return super().fetch()

    def load_static(self) -> None:
        """Read route names once; a broken static feed costs the names, not the positions."""
        self._static_loaded = True
        if not self.config.static_path:
            return
        try:
            self.route_names = route_names(self.config.static_path)
        except (OSError, UnicodeError, csv.Error, zipfile.BadZipFile) as exc:
            log.warning("gtfs-rt %s: static feed %s unreadable: %s", self.source, self.config.static_path, exc)

    def read(self, feed: gtfs_realtime_pb2.FeedMessage) -> ParseResult:
        header_time = feed.header.timestamp if feed.header.HasField("timestamp") else None
        built = [self._position(entity, i, header_time) for i, entity in enumerate(feed.entity)]
        # one position per vehicle, the latest report; a dropped copy's reject shows its entity index and details
        return self.dedupe(
(b, i, b.details) if isinstance(b, Position) else b for i, b in enumerate(built))

    @staticmethod
    def load(raw: bytes) -> tuple[gtfs_realtime_pb2.FeedMessage | None, Reject | None]:
        problem = sniff_problem(raw)
        if problem:
            return None, Reject.of(problem, raw[:120].decode("utf-8", "replace"))
        feed = gtfs_realtime_pb2.FeedMessage()
        form = _form(raw)
        try:
            if form == "JSON":
                json_format.Parse(raw.decode("utf-8"), feed, ignore_unknown_fields=True)
            elif form == "text format":
                text_format.Parse(raw.decode("utf-8"), feed, allow_unknown_extension=True)
            else:
                feed.ParseFromString(raw)
        except (DecodeError, json_format.ParseError, text_format.ParseError, ValueError, RecursionError) as exc:
            return None, Reject.of(f"not a GTFS-realtime {form} ({str(exc)[:200]})", raw[:120].decode("utf-8", "replace"))
        if not feed.header.gtfs_realtime_version:
            return None, Reject.of("not a GTFS-realtime feed (no header.gtfs_realtime_version)", raw[:120].decode("utf-8", "replace"))
        return feed, None


    def _position(self, entity, index: int, header_time: int | None):
        item = text_format.MessageToString(entity, as_one_line=True)[:300]
        if entity.is_deleted:
            return Reject.of(f"entity {entity.id} deleted by the feed", item, index)
        if not entity.HasField("vehicle"):
            kind = "trip update" if entity.HasField("trip_update") else "alert" if entity.HasField("alert") else "empty entity"
            return Reject.of(f"not a vehicle position ({kind})", item, index)
        v = entity.vehicle
        if not v.HasField("position"):
            return Reject.of("vehicle has no position", item, index)
        vehicle_id = v.vehicle.id or entity.id
        if not vehicle_id:
            return Reject.of("neither vehicle.id nor entity id", item, index)
        stamp = v.timestamp if v.HasField("timestamp") and v.timestamp else header_time
        if not stamp:
            return Reject.of("no timestamp (neither the vehicle's nor the feed header's)", item, index)
        try:
            observed = datetime.fromtimestamp(stamp, timezone.utc)
        except (OverflowError, OSError, ValueError):
            return Reject.of(f"timestamp {stamp} is out of range", item, index)
        p = v.position
        return self.build(
            Position, index, item,
            id=vehicle_id, vehicle=vehicle_id, vehicle_type=self.config.vehicle_type,
            name=v.vehicle.label or v.vehicle.license_plate or "",
            lat=p.latitude, lon=p.longitude,
            speed_kmh=round(p.speed * 3.6, 2) if p.HasField("speed") else None,
            heading=p.bearing if p.HasField("bearing") else None,
            observed_at=observed, details=self._details(entity),
        )

    def _details(self, entity) -> dict[str, Any]:
        v = entity.vehicle
        details: dict[str, Any] = {"entity_id": entity.id}
        if v.HasField("trip"):
            t = v.trip
            details.update({k: getattr(t, k) for k in ("trip_id", "route_id", "start_date", "start_time") if getattr(t, k)})
            if t.route_id in self.route_names:
                details["route_name"] = self.route_names[t.route_id]
        if v.vehicle.license_plate:
            details["license_plate"] = v.vehicle.license_plate
        if v.HasField("current_status"):
            details["stop_status"] = STOP_STATUS.Name(v.current_status)
        if v.stop_id:
            details["stop_id"] = v.stop_id
        if v.HasField("occupancy_status"):
            details["occupancy_status"] = OCCUPANCY.Name(v.occupancy_status)
        if v.HasField("occupancy_percentage"):
            details["occupancy_percentage"] = v.occupancy_percentage
        if v.position.HasField("odometer"):
            details["odometer_m"] = v.position.odometer
        return details


__all__ = ["GtfsRt", "GtfsRtConfig", "route_shapes", "route_names", "read_static_table"]
