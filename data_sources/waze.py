"""Waze for Cities (CCP) partner feed: alerts, jams and irregularities as traffic incidents.

Reads the feed JSON (`{"alerts": [...], "jams": [...], "irregularities": [...]}`)
and the snake_case CSV exports of the same objects (Jabar Digital Service style:
`pub_millis`, `jam_level`, `line` as a JSON string; a file whose every row is one
quoted CSV field is unwrapped and parsed again).

- alert -> Incident, category by `alert_categories` (subtype first, then type),
  severity by `alert_severities`; id `alert:<uuid>` (CSV: `alert:<id>`). Live-map
  types that are no incident (`skip_alert_types`, by default POLICE and
  CHIT_CHAT) are rejects saying they were skipped by that rule; a type neither
  skipped nor mapped is a reject asking for a mapping.
- jam -> Incident `congestion`, LineString geometry from `line`, severity from
  `level` (1..5, 5 = blocked) through `level_severities`; `delay` -1 means the
  road is closed and is stored as `delay_s: None, blocked: True`; id `jam:<uuid>`.
- irregularity -> Incident `congestion`, severity from its own `severity`
  (0..5) through `level_severities`; dates are millis or strings like
  "Fri Mar 22 21:39:35 +0000 2019"; id `irregularity:<id>`.
Waze `location` is {x: lon, y: lat}; line records get the middle vertex as
their point. Epoch millis are UTC, so no zone is needed. A spreadsheet may have
rounded a CSV export's `pub_millis` column (1603330000000): the record keeps the
time and says `time_precision_s` in details, the step every value of the column
shares (the JSON feed's millis are exact: never marked). The feed is the current state: snapshot = True.
"""
from __future__ import annotations

import csv
import math
from datetime import datetime, timezone
from typing import Any

import orjson
from pydantic import Field, field_validator

from data_sources.readers.config_types import CategoryName, SeverityName
from data_sources.readers.documents import blank, load_json, read_csv, sniff_problem
from data_sources.readers.values import as_text, parse_number, plain_number
from engine.contract import Adapter, SourceConfig
from engine.records import Incident, ParseResult, Reject

DEFAULT_ALERT_CATEGORIES = {
    "ACCIDENT": "traffic_accident", "ROAD_CLOSED": "road_closure", "JAM": "congestion",
    "WEATHERHAZARD": "road_hazard", "HAZARD": "road_hazard", "MISC": "road_hazard", "CONSTRUCTION": "road_closure",
}
DEFAULT_ALERT_SEVERITIES = {
    "ACCIDENT_MAJOR": "high", "ACCIDENT_MINOR": "low", "ACCIDENT": "medium",
    "JAM_STAND_STILL_TRAFFIC": "high", "JAM_HEAVY_TRAFFIC": "medium", "JAM_MODERATE_TRAFFIC": "low",
    "JAM_LIGHT_TRAFFIC": "info", "JAM": "low",
    "ROAD_CLOSED_HAZARD": "high", "ROAD_CLOSED": "medium",
    "HAZARD_WEATHER_FLOOD": "high", "HAZARD_ON_ROAD_LANE_CLOSED": "medium", "HAZARD_ON_ROAD_OBJECT": "medium",
    "HAZARD_ON_ROAD_CAR_STOPPED": "medium", "HAZARD_ON_ROAD_TRAFFIC_LIGHT_FAULT": "medium",
    "WEATHERHAZARD": "low", "HAZARD": "low",
}
DEFAULT_LEVEL_SEVERITIES = {0: "info", 1: "info", 2: "low", 3: "medium", 4: "high", 5: "critical"}

# snake_case CSV columns -> feed JSON keys
_CAMEL = {
    "pub_millis": "pubMillis", "n_thumbs_up": "nThumbsUp", "road_type": "roadType", "report_rating": "reportRating",
    "report_description": "reportDescription", "report_by_municipality_user": "reportByMunicipalityUser",
    "detection_date_millis": "detectionDateMillis", "update_date_millis": "updateDateMillis",
    "detection_date": "detectionDate", "update_date": "updateDate", "jam_level": "jamLevel",
    "delay_seconds": "delaySeconds", "regular_speed": "regularSpeed", "drivers_count": "driversCount",
    "alerts_count": "alertsCount", "is_highway": "highway", "speed_kmh": "speedKMH", "end_node": "endNode",
    "start_node": "startNode", "turn_type": "turnType", "blocking_alert_uuid": "blockingAlertUuid",
    "cause_type": "causeType", "n_comments": "nComments", "n_images": "nImages",
}


class WazeConfig(SourceConfig):
    adapter: str = "waze"
    interval: float = 120
    alert_categories: dict[str, CategoryName] = Field(default_factory=lambda: dict(DEFAULT_ALERT_CATEGORIES),
                                                      description="alert subtype or type -> category, over the defaults")
    alert_severities: dict[str, SeverityName] = Field(default_factory=lambda: dict(DEFAULT_ALERT_SEVERITIES),
                                                      description="alert subtype or type -> severity")
    level_severities: dict[int, SeverityName] = Field(default_factory=lambda: dict(DEFAULT_LEVEL_SEVERITIES),
                                                      description="jam level / irregularity severity (0..5) -> severity")
    skip_alert_types: list[str] = Field(default_factory=lambda: ["POLICE", "CHIT_CHAT"],
                                        description="alert types (or subtypes) that are no incident for the control room: "
                                                    "each is a reject saying it was skipped; to read one, drop it here and map it in alert_categories")

    @field_validator("skip_alert_types")
    @classmethod
    def _skips(cls, v: list[str]) -> list[str]:
        return [t.upper() for t in v]

    # A mapping in config is laid over the defaults, so one override does not drop the rest.
    @field_validator("alert_categories")
    @classmethod
    def _categories(cls, v: dict[str, str]) -> dict[str, str]:
        return {**DEFAULT_ALERT_CATEGORIES, **{k.upper(): c for k, c in v.items()}}

    @field_validator("alert_severities")
    @classmethod
    def _alert_severities(cls, v: dict[str, str]) -> dict[str, str]:
        return {**DEFAULT_ALERT_SEVERITIES, **{k.upper(): s for k, s in v.items()}}

    @field_validator("level_severities")
    @classmethod
    def _level_severities(cls, v: dict[int, str]) -> dict[int, str]:
        return {**DEFAULT_LEVEL_SEVERITIES, **v}


# ---- small readers ---------------------------------------------------------------------

def _millis(value: Any) -> datetime | None:
    number = parse_number(value)
    if number is None or not (1e11 < number < 1e14):
        return None
    return datetime.fromtimestamp(number / 1000, timezone.utc)


def _text_time(value: Any) -> datetime | None:
    """'Fri Mar 22 21:39:35 +0000 2019' (the feed's string dates)."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip(), "%a %b %d %H:%M:%S %z %Y").astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None


def _step_s(value: Any) -> float | None:
    """The step, in seconds, that a millisecond time is written to (1603330000000 -> 10000 s)."""
    number = parse_number(value)
    if number is None or number != int(number) or not number:
        return None
    n, zeros = int(number), 0
    while n % 10 == 0:
        n, zeros = n // 10, zeros + 1
    return 10 ** zeros / 1000


def _column_precision(values: list[Any]) -> float | None:
    """Seconds of rounding when a spreadsheet cut a CSV column of millis to a few significant
    digits ('1.60333E+12' saved back as 1603330000000: 10000 s): the step every value of the
    column shares, when that is 100 s or more. One value at a round 100 s is no rounding."""
    steps = [step for step in map(_step_s, values) if step is not None]
    return min(steps) if len(steps) > 1 and min(steps) >= 100 else None


def _level(value: Any) -> int | None:
    n = plain_number(value)
    return int(n) if n is not None and math.isfinite(n) and abs(n) < 1000 else None


def _point(value: Any) -> tuple[float | None, float | None]:
    """Waze {x: lon, y: lat} -> (lat, lon)."""
    if not isinstance(value, dict):
        return None, None
    return plain_number(value.get("y")), plain_number(value.get("x"))


def _line(value: Any) -> list[list[float]] | None:
    """`line` as a list of {x, y}, or the CSV's JSON string {"line": [...]}; None when unusable."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    if isinstance(value, dict):
        value = value.get("line")
    if not isinstance(value, list):
        return None
    coords = []
    for p in value:
        lat, lon = _point(p)
        if lat is None or lon is None:
            return None
        coords.append([lon, lat])
    return coords if len(coords) >= 2 else None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    s = as_text(value).lower()
    return True if s in {"t", "true", "1", "yes"} else False if s in {"f", "false", "0", "no"} else None


# ---- CSV ----------------------------------------------------------------------------------

def _csv_rows(raw: bytes) -> tuple[list[dict[str, Any] | Reject], Reject | None]:
    rows, problem, unfinished = read_csv(raw)
    if problem:
        return [], problem
    rows = [r for r in rows if not blank(r)]
    if rows and len(rows[0]) == 1 and "," in rows[0][0]:  # every row is one quoted field: CSV inside CSV
        try:
            rows = [next(csv.reader([r[0]]), []) for r in rows]
        except csv.Error as exc:
            return [], Reject.of(f"not a readable CSV inside the CSV: {exc}", raw[:120])
    if not rows:
        return [], Reject.of("CSV with no rows", raw[:120])
    header = [h.strip().lower() for h in rows[0]]
    if not ({"pub_millis", "detection_date_millis", "jam_level", "uuid"} & set(header)):
        return [], Reject.of("not a Waze export: no pub_millis / detection_date_millis / jam_level column", rows[0])
    items = []
    precision = _column_precision([row[header.index("pub_millis")] for row in rows[1:] if "pub_millis" in header and
                                   len(row) > header.index("pub_millis")])
    for row in rows[1:]:
        record = {_CAMEL.get(h, h): (v if v != "" else None) for h, v in zip(header, row)}
        record["_time_precision_s"] = precision
        if len(row) != len(header):
            record["_width"] = f"{len(row)} fields where the header has {len(header)}"
        if "longitude" in record or "latitude" in record:
            record["location"] = {"x": record.pop("longitude", None), "y": record.pop("latitude", None)}
        items.append(record)
    return [*items, *([unfinished] if unfinished else [])], None


def _csv_kind(item: dict) -> str:
    if "jamLevel" in item or "detectionDateMillis" in item:
        return "irregularity"
    if "level" in item and "line" in item:
        return "jam"
    return "alert"


class Waze(Adapter):
    name = "waze"
    Config = WazeConfig
    kinds = ("incident",)
    snapshot = True
    description = "Waze for Cities partner feed: alerts, jams, irregularities (JSON or CSV export)"

    def read(self, items: list[tuple[str, int, Any]]) -> ParseResult:
        built = [self._one(kind, item, f"{kind}[{i}]") for kind, i, item in items]
        return self.dedupe(built)


    def load(self, raw: bytes) -> tuple[list[tuple[str, int, Any]], Reject | None]:
        """(kind, index, item) from the JSON feed or a CSV export."""
        problem = sniff_problem(raw)
        if problem:
            return [], Reject.of(problem, raw[:120].decode("utf-8", "replace"))
        if raw.lstrip()[:1] in (b"{", b"["):
            return self._feed(raw)
        rows, problem = _csv_rows(raw)
        if problem:
            return [], problem
        return [(_csv_kind(r) if isinstance(r, dict) else "unfinished", i, r) for i, r in enumerate(rows)], None

    def _feed(self, raw: bytes) -> tuple[list[tuple[str, int, Any]], Reject | None]:
        data, problem = load_json(raw)
        if problem:
            return [], problem
        sections = {"alerts": "alert", "jams": "jam", "irregularities": "irregularity"}
        if not isinstance(data, dict) or not (sections.keys() & data.keys()):
            return [], Reject.of("not a Waze feed: no alerts, jams or irregularities", data)
        items = []
        for key, kind in sections.items():
            section = data.get(key)
            if section is None:
                continue
            if not isinstance(section, list):
                items.append(("invalid", 0, {key: section}))
                continue
            items.extend((kind, i, item) for i, item in enumerate(section))
        return items, None

    def _one(self, kind: str, item: Any, ref: str) -> Incident | Reject:
        if isinstance(item, Reject):
            return item
        if kind == "invalid":
            return Reject.of(f"{next(iter(item))} is not a list", item, ref)
        if not isinstance(item, dict):
            return Reject.of(f"{kind} is not an object", item, ref)
        if "_width" in item:
            return Reject.of(f"CSV row has {item['_width']}", item, ref)
        return {"alert": self._alert, "jam": self._jam, "irregularity": self._irregularity}[kind](item, ref)

    # ---- alerts ------------------------------------------------------------------------
    def _alert(self, a: dict, ref: str) -> Incident | Reject:
        uid = as_text(a.get("uuid")) or as_text(a.get("id"))
        if not uid:
            return Reject.of("alert has no uuid", a, ref)
        when = _millis(a.get("pubMillis"))
        if when is None:
            return Reject.of(f"pubMillis {a.get('pubMillis')!r} is not a time in epoch milliseconds", a, ref)
        lat, lon = _point(a.get("location"))
        if lat is None or lon is None:
            return Reject.of(f"location {a.get('location')!r} has no numeric x/y", a, ref)
        wtype, subtype = as_text(a.get("type")).upper(), as_text(a.get("subtype")).upper()
        skipped = next((t for t in (subtype, wtype) if t and t in self.config.skip_alert_types), None)
        if skipped:
            return Reject.of(f"alert type {skipped} skipped: no incident for the control room (skip_alert_types)", a, ref)
        category = self.config.alert_categories.get(subtype) or self.config.alert_categories.get(wtype)
        if category is None:
            return Reject.of(f"alert type {wtype or '(none)'}/{subtype or '(none)'} has no category (add it to alert_categories)", a, ref)
        street, city = as_text(a.get("street")), as_text(a.get("city"))
        return self.build(
            Incident, ref, a,
            id=f"alert:{uid}", category=category,
            severity=self.config.alert_severities.get(subtype) or self.config.alert_severities.get(wtype) or "low",
            status="new", lat=lat, lon=lon, reported_at=when, updated_at=when,
            title=", ".join(p for p in (_label(subtype or wtype), street, city) if p),
            details={
                "waze_type": wtype, "waze_subtype": subtype or None, "street": street or None, "city": city or None,
                "description": as_text(a.get("reportDescription")) or None,
                "reliability": plain_number(a.get("reliability")), "confidence": plain_number(a.get("confidence")),
                "report_rating": plain_number(a.get("reportRating")), "thumbs_up": plain_number(a.get("nThumbsUp")),
                "road_type": plain_number(a.get("roadType")), "magvar": plain_number(a.get("magvar")),
                "time_precision_s": a.get("_time_precision_s"),  # CSV exports only: the JSON feed has exact millis
            },
        )

    # ---- jams ----------------------------------------------------------------------------
    def _jam(self, j: dict, ref: str) -> Incident | Reject:
        uid = as_text(j.get("uuid")) or as_text(j.get("id"))
        if not uid:
            return Reject.of("jam has no uuid or id", j, ref)
        when = _millis(j.get("pubMillis"))
        if when is None:
            return Reject.of(f"pubMillis {j.get('pubMillis')!r} is not a time in epoch milliseconds", j, ref)
        coords = _line(j.get("line"))
        if coords is None:
            return Reject.of("jam line is missing or has points without numeric x/y", j, ref)
        level = _level(j.get("level"))
        delay = plain_number(j.get("delay"))
        speed_kmh = plain_number(j.get("speedKMH"))
        if speed_kmh is None and plain_number(j.get("speed")) is not None:
            speed_kmh = round(plain_number(j.get("speed")) * 3.6, 2)
        street, end = as_text(j.get("street")), as_text(j.get("endNode"))
        lon, lat = coords[len(coords) // 2]
        return self.build(
            Incident, ref, j,
            id=f"jam:{uid}", category="congestion",
            severity=self.config.level_severities.get(level, "medium"),
            status="new", lat=lat, lon=lon, reported_at=when, updated_at=when,
            geometry={"type": "LineString", "coordinates": coords},
            title=" -> ".join(p for p in (street or "Jam", end) if p) + (f", {as_text(j.get('city'))}" if j.get("city") else ""),
            details={
                "level": level, "speed_kmh": speed_kmh,
                "delay_s": None if delay is None or delay < 0 else delay,
                "blocked": delay == -1 or level == 5,
                "length_m": plain_number(j.get("length")), "street": street or None, "end_node": end or None,
                "start_node": as_text(j.get("startNode")) or None, "city": as_text(j.get("city")) or None,
                "road_type": plain_number(j.get("roadType")), "turn_type": as_text(j.get("turnType")) or None,
                "blocking_alert_uuid": as_text(j.get("blockingAlertUuid")) or None,
            },
        )

    # ---- irregularities -------------------------------------------------------------------
    def _irregularity(self, g: dict, ref: str) -> Incident | Reject:
        uid = as_text(g.get("id")) or as_text(g.get("uuid"))
        if not uid:
            return Reject.of("irregularity has no id", g, ref)
        detected = _millis(g.get("detectionDateMillis")) or _text_time(g.get("detectionDate"))
        if detected is None:
            return Reject.of(f"detection time {g.get('detectionDateMillis') or g.get('detectionDate')!r} is unreadable", g, ref)
        updated = _millis(g.get("updateDateMillis")) or _text_time(g.get("updateDate")) or detected
        coords = _line(g.get("line"))
        if coords is None:
            return Reject.of("irregularity line is missing or has points without numeric x/y", g, ref)
        level = _level(g.get("severity"))
        street, end = as_text(g.get("street")), as_text(g.get("endNode"))
        lon, lat = coords[len(coords) // 2]
        nested = g.get("alerts") if isinstance(g.get("alerts"), list) else []
        return self.build(
            Incident, ref, g,
            id=f"irregularity:{uid}", category="congestion",
            severity=self.config.level_severities.get(level, "medium"),
            status="new", lat=lat, lon=lon, reported_at=detected, updated_at=max(updated, detected),
            geometry={"type": "LineString", "coordinates": coords},
            title=" -> ".join(p for p in (street or "Irregularity", end) if p) + (f", {as_text(g.get('city'))}" if g.get("city") else ""),
            details={
                "irregularity": True, "severity_level": level, "jam_level": _level(g.get("jamLevel")),
                "size": as_text(g.get("type")) or None, "delay_s": plain_number(g.get("delaySeconds")),
                "speed_kmh": plain_number(g.get("speed")), "regular_speed_kmh": plain_number(g.get("regularSpeed")),
                "drivers_count": plain_number(g.get("driversCount")), "alerts_count": plain_number(g.get("alertsCount")),
                "length_m": plain_number(g.get("length")), "seconds": plain_number(g.get("seconds")), "trend": plain_number(g.get("trend")),
                "highway": _bool(g.get("highway")), "cause_type": as_text(g.get("causeType")) or None,
                "street": street or None, "end_node": end or None, "city": as_text(g.get("city")) or None,
                "alert_uuids": [as_text(a.get("uuid")) for a in nested if isinstance(a, dict) and a.get("uuid")],
            },
        )


def _label(code: str) -> str:
    return code.replace("_", " ").capitalize()

