"""112 / 911 calls for service as emergency incidents: CSV exports, Socrata JSON, NENA EIDO JSON.

Formats (`format: auto` tells them apart):
- CSV with a column mapping (`columns`: canonical field -> source column) over a
  `preset`: `montco` (Montgomery County PA, Kaggle "Emergency - 911 Calls"),
  `sf_fire` (DataSF "Fire Department Calls for Service": one row per unit, folded
  into one incident per Call Number), `generic` (the canonical names are the
  column names). With no preset the header is recognised.
- Socrata SODA JSON (a list of objects), same mapping; `seattle` preset for
  data.seattle.gov kzjm-xkqj (floating timestamps, coordinates as strings).
- NENA EIDO JSON (STA-021 and the 2020 draft's key casing): one incident per
  EIDO; `$ref` links resolve to `$id` objects; the PIDF-LO inside the
  `locationByValue` XML string gives lat/lon (gml:pos) or a civic address. A
  location whose XML is malformed is one reject with the reason, and the call
  is kept without that location.

Canonical fields: id, call_type, type_group, priority, disposition, status,
received, answered, entered, dispatched, responding, on_scene, transport,
hospital, closed, published, lat, lon, location, address, phone, caller,
description, city, district, zip, unit, unit_type, unit_sequence.
`details["timeline"]` holds the known steps of the call (received, answered,
dispatched, on_scene, closed, ...) as ISO 8601 UTC strings for the 112 KPIs.
Personal data (caller phone, caller name, exact address, free-text description
with the address) is kept only under `details["private"]`; titles carry the
call type and the public area, and phone-number-like digit runs are masked.
Rejects show their input masked the same way (`private_excerpts`): the values
of PRIVATE_KEYS and of the columns the layout maps to a PRIVATE field, and
every run of 6+ digits.
Zone-less times take `timezone` (default: the preset's zone, else WITA).
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any, Literal
from xml.etree.ElementTree import Element

from pydantic import Field, field_validator

from data_sources.readers.config_types import CategoryName, SeverityName, StatusName, ZoneName
from data_sources.readers.documents import blank, load_json, load_xml, read_csv, sniff_problem
from data_sources.readers.elements import descendants, local, text
from data_sources.readers.values import as_text, parse_time, plain_number, utc_iso, zone_from_name
from engine.contract import Adapter, SourceConfig
from engine.privacy import mask_digits as mask_phone  # titles: a caller's number typed into the call type
from engine.records import Incident, ParseResult, Reject

TIMELINE = ("received", "answered", "entered", "dispatched", "responding", "on_scene", "transport", "hospital", "closed")
UNIT_TIMES = ("dispatched", "responding", "on_scene", "transport", "hospital", "closed")
PRIVATE = ("address", "phone", "caller", "description")
PUBLIC = ("city", "district", "zip")
# Keys whose values reject excerpts never show (Adapter.private_excerpts), besides the source
# columns of PRIVATE fields: the record's own private details, NENA EIDO callback, device and
# person data, and the PIDF-LO civic address below the town (street, house number, name, postcode).
PRIVATE_KEYS = frozenset({
    *PRIVATE, "private", "callback", "civic_address", "location_reference_urls",
    "callBackInformationUri", "deviceContactHeader", "personComponent", "locationByReferenceUrl",
    "A4", "A5", "A6", "PRD", "POD", "STS", "HNO", "HNS", "LMK", "LOC", "FLR", "NAM", "PC", "RD", "RDSEC", "RDBR",
    "RDSUBBR", "PRM", "POM", "BLD", "UNIT", "ROOM", "SEAT", "PLC", "PCN", "POBOX", "ADDCODE",
})

# Ordered (keyword in the upper-cased call type, category): first match wins.
DEFAULT_CATEGORY_KEYWORDS: list[tuple[str, str]] = [
    ("HOAX", "hoax"), ("PRANK", "hoax"), ("ISENG", "hoax"),
    ("SPECIAL SERVICE", "non_emergency"), ("DISABLED VEHICLE", "non_emergency"), ("CITIZEN ASSIST", "non_emergency"),
    ("SERVICE CALL", "non_emergency"), ("TRANSFERRED CALL", "non_emergency"), ("PUMP DETAIL", "non_emergency"),
    ("S/B AT", "non_emergency"), ("INFORMATION", "non_emergency"), ("INFORMASI", "non_emergency"),
    ("MEDICAL ALARM", "medical"), ("MEDICAL ALERT", "medical"), ("AUTOMATIC MEDICAL", "medical"),
    ("VEHICLE ACCIDENT", "accident"), ("COLLISION", "accident"), ("ACCIDENT", "accident"), ("CRASH", "accident"),
    ("KECELAKAAN", "accident"),
    ("FIRE", "fire"), ("SMOKE", "fire"), ("GAS", "fire"), ("CARBON MONOXIDE", "fire"), ("ALARM", "fire"),
    ("EXPLOSION", "fire"), ("ELECTRICAL", "fire"), ("LEAKING FUEL", "fire"), ("KEBAKARAN", "fire"),
    ("CIVIL UNREST", "conflict"), ("RIOT", "conflict"), ("ASSAULT", "conflict"), ("SHOOTING", "conflict"),
    ("STABBING", "conflict"), ("FIGHT", "conflict"), ("KERUSUHAN", "conflict"), ("PERKELAHIAN", "conflict"),
    ("FLOOD", "disaster"), ("EARTHQUAKE", "disaster"), ("LANDSLIDE", "disaster"), ("TSUNAMI", "disaster"),
    ("STORM", "disaster"), ("BANJIR", "disaster"), ("GEMPA", "disaster"), ("LONGSOR", "disaster"), ("BENCANA", "disaster"),
    ("WARRANT", "public_order"), ("THEFT", "public_order"), ("BURGLARY", "public_order"), ("ROBBERY", "public_order"),
    ("SUSPICIOUS", "public_order"), ("DISTURBANCE", "public_order"), ("NOISE", "public_order"),
    ("PENCURIAN", "public_order"), ("KAMTIBMAS", "public_order"),
    ("MEDICAL", "medical"), ("MEDIC", "medical"), ("AID RESPONSE", "medical"), ("EMS", "medical"),
    ("AMBULANCE", "medical"), ("MEDIS", "medical"), ("KESEHATAN", "medical"),
    ("RESCUE", "other_emergency"), ("OBSTRUCTION", "other_emergency"), ("DEBRIS", "other_emergency"),
    ("HAZARDOUS ROAD", "other_emergency"),
]
DEFAULT_CATEGORY_SEVERITIES = {"fire": "high", "conflict": "high", "disaster": "high", "accident": "medium",
                               "medical": "medium", "public_order": "medium", "other_emergency": "medium",
                               "non_emergency": "low", "hoax": "info"}
DEFAULT_STATUSES = {"cancelled": "cancelled", "canceled": "cancelled", "hoax": "rejected", "false alarm": "closed"}

SF_TIME = "%m/%d/%Y %I:%M:%S %p"
PRESETS: dict[str, dict[str, Any]] = {
    "montco": {
        "timezone": "America/New_York",
        "columns": {"call_type": "title", "type_group": "title", "received": "desc", "published": "timeStamp",
                    "lat": "lat", "lon": "lng", "address": "addr", "description": "desc", "district": "twp", "zip": "zip"},
        # desc packs "ADDRESS; TOWNSHIP; Station 332; 2015-12-10 @ 17:10:52;"; title is "EMS: CARDIAC EMERGENCY"
        "extract": {"received": r"(\d{4}-\d\d-\d\d @ \d\d:\d\d:\d\d)", "type_group": r"^\s*(\w+)\s*:",
                    "call_type": r"^\s*\w+\s*:\s*(.*?)[\s-]*$"},
        "id_columns": ["desc", "title"],
        "time_formats": ["%Y-%m-%d @ %H:%M:%S"],
        "categories": {"ems": "medical", "fire": "fire", "traffic": "accident"},
        "default_status": "dispatched",
    },
    "sf_fire": {
        "timezone": "America/Los_Angeles",
        "columns": {"id": "Call Number", "call_type": "Call Type", "type_group": "Call Type Group",
                    "priority": "Final Priority", "disposition": "Call Final Disposition",
                    "received": "Received DtTm", "entered": "Entry DtTm", "dispatched": "Dispatch DtTm",
                    "responding": "Response DtTm", "on_scene": "On Scene DtTm", "transport": "Transport DtTm",
                    "hospital": "Hospital DtTm", "closed": "Available DtTm", "location": "Location",
                    "address": "Address", "city": "City", "zip": "Zipcode of Incident",
                    "district": "Neighborhooods - Analysis Boundaries", "unit": "Unit ID", "unit_type": "Unit Type",
                    "unit_sequence": "Unit sequence in call dispatch"},
        "time_formats": [SF_TIME],
        "severities": {"3": "high", "2": "medium", "1": "low", "e": "high", "a": "high", "b": "medium", "c": "low", "i": "low"},
    },
    "seattle": {
        "timezone": "America/Los_Angeles",
        "columns": {"id": "incident_number", "call_type": "type", "received": "datetime", "lat": "latitude",
                    "lon": "longitude", "location": "report_location", "address": "address"},
        "default_status": "dispatched",
    },
    "generic": {},
}


class EmergencyCallsConfig(SourceConfig):
    adapter: str = "emergency-calls"
    interval: float = 30
    format: Literal["auto", "csv", "socrata", "eido"] = "auto"
    preset: Literal["montco", "sf_fire", "seattle", "generic"] | None = Field(
        default=None, description="column layout; None recognises it from the header")
    timezone: ZoneName | None = Field(default=None, description="zone of zone-less times; default the preset's, else Asia/Makassar")
    columns: dict[str, str] = Field(default_factory=dict, description="canonical field -> source column, over the preset")
    extract: dict[str, str] = Field(default_factory=dict, description="canonical field -> regex whose group 1 is the value")
    id_columns: list[str] | None = Field(default=None, description="columns hashed into the id when there is no id column")
    time_formats: list[str] | None = Field(default=None, description="strptime formats tried before ISO 8601")
    categories: dict[str, CategoryName] = Field(default_factory=dict, description="exact call type or type group -> category")
    category_keywords: list[tuple[str, CategoryName]] = Field(default_factory=lambda: list(DEFAULT_CATEGORY_KEYWORDS))
    default_category: CategoryName = "other_emergency"
    severities: dict[str, SeverityName] = Field(default_factory=dict, description="priority value -> severity")
    category_severities: dict[str, SeverityName] = Field(default_factory=lambda: dict(DEFAULT_CATEGORY_SEVERITIES))
    statuses: dict[str, StatusName] = Field(default_factory=dict, description="disposition/status value -> status")
    default_status: StatusName | None = Field(default=None, description="status when the timeline says nothing; default new")

    @field_validator("extract")
    @classmethod
    def _patterns(cls, v: dict[str, str]) -> dict[str, str]:
        for key, pattern in v.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{key}: not a regular expression ({exc})") from None
        return v

    @field_validator("categories", "severities", "category_severities", "statuses")
    @classmethod
    def _lower_keys(cls, v: dict[str, str]) -> dict[str, str]:
        return {k.strip().lower(): value for k, value in v.items()}

    @field_validator("category_keywords")
    @classmethod
    def _keywords(cls, v: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(k.upper(), c) for k, c in v]


class Layout:
    """The effective mapping: a preset with the source's own keys laid over it."""

    def __init__(self, config: EmergencyCallsConfig, preset: str):
        base = PRESETS.get(preset, {})
        self.preset = preset
        self.zone = zone_from_name(config.timezone or base.get("timezone") or "Asia/Makassar")
        self.columns = {**base.get("columns", {}), **config.columns}
        if preset == "generic":
            self.columns = {**{f: f for f in ("id", "call_type", "received", "lat", "lon")}, **config.columns}
        self.extract = {k: re.compile(p) for k, p in {**base.get("extract", {}), **config.extract}.items()}
        self.id_columns = config.id_columns if config.id_columns is not None else base.get("id_columns", [])
        self.time_formats = config.time_formats if config.time_formats is not None else base.get("time_formats", [])
        self.categories = {**base.get("categories", {}), **config.categories}
        self.severities = {**base.get("severities", {}), **config.severities}
        self.statuses = {**DEFAULT_STATUSES, **config.statuses}
        self.default_status = config.default_status or base.get("default_status") or "new"
        self.config = config

    def value(self, row: dict[str, Any], field: str) -> Any:
        column = self.columns.get(field)
        if column is None or column not in row:
            return None
        value = row[column]
        if isinstance(value, str):
            value = value.strip()
            pattern = self.extract.get(field)
            if pattern is not None:
                match = pattern.search(value)
                value = match.group(1).strip() if match and match.groups() else None
        return None if value in ("", None) else value

    def time(self, value: Any) -> datetime | None:
        """None when absent; ValueError when present but unreadable."""
        if value is None:
            return None
        s = str(value).strip()
        for fmt in self.time_formats:
            try:
                naive = datetime.strptime(s, fmt)
            except ValueError:
                continue
            return parse_time(naive, self.zone)
        return parse_time(s, self.zone)


    def category(self, call_type: str, group: str) -> str:
        for label in (call_type, group):
            if not label:
                continue
            exact = self.categories.get(label.lower())
            if exact:
                return exact
            upper = label.upper()
            for keyword, category in self.config.category_keywords:
                if keyword in upper:
                    return category
        return self.config.default_category

    def severity(self, priority: Any, category: str) -> str:
        mapped = self.severities.get(str(priority).strip().lower()) if priority is not None else None
        return mapped or self.config.category_severities.get(category, "medium")


# ---- small readers --------------------------------------------------------------------


def _location(value: Any) -> tuple[float | None, float | None]:
    """'(lat, lon)', 'lat,lon', 'POINT (lon lat)', GeoJSON Point or Socrata {latitude, longitude}."""
    if isinstance(value, dict):
        coords = value.get("coordinates")
        if isinstance(coords, list) and len(coords) >= 2:
            return plain_number(coords[1]), plain_number(coords[0])
        return plain_number(value.get("latitude")), plain_number(value.get("longitude"))
    if not isinstance(value, str):
        return None, None
    s = value.strip()
    numbers = re.findall(r"-?\d+(?:\.\d+)?", s)
    if len(numbers) < 2:
        return None, None
    a, b = float(numbers[0]), float(numbers[1])
    return (b, a) if s.upper().startswith("POINT") else (a, b)


def _row_hash(row: dict[str, Any], columns: list[str]) -> str:
    joined = "\x1f".join(as_text(row.get(c)) for c in columns)
    return hashlib.blake2b(joined.encode(), digest_size=8).hexdigest()


class EmergencyCalls(Adapter):
    name = "emergency-calls"
    Config = EmergencyCallsConfig
    kinds = ("incident",)
    description = "112/911 calls for service: CSV exports (column mapping), Socrata JSON, NENA EIDO JSON"
    private_excerpts = True  # callers' numbers and addresses: see PRIVATE_KEYS

    def __init__(self, source: str, config: SourceConfig | None = None):
        super().__init__(source, config)
        layouts = [*PRESETS.values(), {"columns": self.config.columns}]
        self.private_keys = PRIVATE_KEYS | {p["columns"][f] for p in layouts for f in PRIVATE if f in p.get("columns", {})}

    def load(self, raw: bytes) -> tuple[tuple[str, Any], Reject | None]:
        """(format, rows of a CSV export or the JSON value); the base class masks the reject of an unreadable body."""
        problem = sniff_problem(raw)
        if problem:
            return ("", None), Reject.of(problem, raw[:120])
        fmt = self.config.format
        if fmt == "auto":
            fmt = "json" if raw.lstrip()[:1] in (b"{", b"[") else "csv"
        data, problem = _csv_rows(raw) if fmt == "csv" else load_json(raw)
        return (fmt, data), problem

    def read(self, doc: tuple[str, Any]) -> ParseResult:
        fmt, data = doc
        if fmt == "csv":
            first = next((row for row in data if isinstance(row, dict)), {})
            return self.dedupe(self._rows(data, self._preset_for(first)))
        return self.dedupe(self._json(data, fmt))

    # ---- layouts ------------------------------------------------------------------------
    def _preset_for(self, row: dict[str, Any]) -> str:
        if self.config.preset:
            return self.config.preset
        keys = set(row)
        if {"Call Number", "Received DtTm"} <= keys:
            return "sf_fire"
        if {"timeStamp", "title", "twp"} <= keys:
            return "montco"
        if {"incident_number", "datetime", "type"} <= keys:
            return "seattle"
        return "generic"

    def _json(self, data: Any, fmt: str) -> list:
        docs = data if isinstance(data, list) else [data]
        if fmt == "eido" or (fmt == "json" and docs and all(_is_eido(d) for d in docs)):
            built = []
            for i, doc in enumerate(docs):
                built.extend(self._eido(doc, i))
            return built
        if not isinstance(data, list):
            return [self.reject("not a list of calls (Socrata) nor an EIDO", data)]
        first = next((d for d in data if isinstance(d, dict)), {})
        return self._rows(data, self._preset_for(first))

    # ---- rows (CSV and Socrata) -----------------------------------------------------------
    def _rows(self, rows: list[Any], preset: str) -> list:
        layout = Layout(self.config, preset)
        if "id" not in layout.columns and not layout.id_columns:
            return [self.reject("no id column: set `columns.id` or `id_columns` (or a preset)", rows[:1])]
        calls: dict[str, list[tuple[int, dict]]] = {}
        built: list = []
        fold = "unit" in layout.columns
        for i, row in enumerate(rows):
            if isinstance(row, Reject):  # a line caught mid-write
                built.append(self.reject(row.reason, row.item, row.ref))
            elif not isinstance(row, dict):
                built.append(self.reject("call is not an object", row, i))
            elif "_width" in row:
                built.append(self.reject(f"CSV row has {row['_width']}", row, i))
            elif not (cid := as_text(layout.value(row, "id")) if "id" in layout.columns else _row_hash(row, layout.id_columns)):
                built.append(self.reject("call has no id", row, i))
            elif fold:
                calls.setdefault(cid, []).append((i, row))
            else:
                built.append(self._call(layout, cid, [(i, row)]))
        built.extend(self._call(layout, cid, group) for cid, group in calls.items())
        return built

    def _call(self, layout: Layout, cid: str, group: list[tuple[int, dict]]) -> Incident | Reject:
        row = group[0][1]
        try:
            steps = self._timeline(layout, row)
            units = [self._unit(layout, r) for _, r in group] if "unit" in layout.columns else []
            published = layout.time(layout.value(row, "published"))
        except ValueError as exc:
            return self.reject(f"time: {exc}", row, cid)
        _fold_units(steps, units)
        if "received" not in steps:
            return self.reject("call has no received time", row, cid)
        call_type, group_name = as_text(layout.value(row, "call_type")), as_text(layout.value(row, "type_group"))
        category = layout.category(call_type, group_name)
        lat, lon = plain_number(layout.value(row, "lat")), plain_number(layout.value(row, "lon"))
        if lat is None or lon is None:
            lat, lon = _location(layout.value(row, "location"))
        if lat == 0 and lon == 0:
            lat = lon = None
        area = {f: as_text(layout.value(row, f)) for f in PUBLIC if as_text(layout.value(row, f))}
        private = {f: as_text(layout.value(row, f)) for f in PRIVATE if as_text(layout.value(row, f))}
        disposition = as_text(layout.value(row, "disposition")) or as_text(layout.value(row, "status"))
        updated = max([*steps.values(), *([published] if published else [])])
        return self.build(
            Incident, cid, row,
            id=cid, category=category, severity=layout.severity(layout.value(row, "priority"), category),
            status=self._status(layout, disposition, steps),
            lat=lat, lon=lon, reported_at=steps["received"], updated_at=updated,
            title=mask_phone(" - ".join(p for p in (call_type or group_name or "Call", area.get("district") or area.get("city")) if p)),
            details={
                "call_type": call_type or None, "type_group": group_name or None,
                "priority": as_text(layout.value(row, "priority")) or None, "disposition": disposition or None,
                "timeline": {k: utc_iso(steps[k]) for k in TIMELINE if k in steps},
                "units": [{k: (utc_iso(v) if isinstance(v, datetime) else v) for k, v in u.items()} for u in units],
                "area": area, "private": private, "preset": layout.preset,
                "rows": [i for i, _ in group] if len(group) > 1 else None,
            },
        )

    @staticmethod
    def _timeline(layout: Layout, row: dict) -> dict[str, datetime]:
        steps = {}
        for step in TIMELINE:
            if step in UNIT_TIMES and "unit" in layout.columns:
                continue  # per unit, folded afterwards
            when = layout.time(layout.value(row, step))
            if when is not None:
                steps[step] = when
        return steps

    @staticmethod
    def _unit(layout: Layout, row: dict) -> dict[str, Any]:
        unit: dict[str, Any] = {"unit": as_text(layout.value(row, "unit")), "unit_type": as_text(layout.value(row, "unit_type")) or None,
                                "sequence": as_text(layout.value(row, "unit_sequence")) or None}
        for step in UNIT_TIMES:
            unit[step] = layout.time(layout.value(row, step))
        return unit

    @staticmethod
    def _status(layout: Layout, disposition: str, steps: dict[str, datetime]) -> str:
        mapped = layout.statuses.get(disposition.lower()) if disposition else None
        if mapped:
            return mapped
        for step, status in (("closed", "closed"), ("on_scene", "in_progress"), ("dispatched", "dispatched"),
                             ("answered", "acknowledged")):
            if step in steps:
                return status
        return layout.default_status

    # ---- NENA EIDO ------------------------------------------------------------------------
    def _eido(self, doc: Any, index: int) -> list:
        if not isinstance(doc, dict):
            return [self.reject("EIDO is not an object", doc, index)]
        ids = _index_ids(doc)
        incident = _first(_get(doc, "incidentComponent"))
        call = _first(_get(doc, "callComponent"))
        eid = as_text(_get(doc, "incidentTrackingIdentifier")) or as_text(_get(incident, "incidentTrackingIdentifier")) \
            or as_text(doc.get("$id")) or as_text(_get(call, "callIdentifier"))
        if not eid:
            return [self.reject("EIDO has no incidentTrackingIdentifier or $id", doc, index)]
        zone = zone_from_name(self.config.timezone or "Asia/Makassar")
        try:
            steps = _eido_steps(doc, call, zone)
        except ValueError as exc:
            return [self.reject(f"time: {exc}", doc, eid)]
        if not steps:
            return [self.reject("EIDO has no readable time", doc, eid)]
        rejects, place = self._eido_locations(doc, call, ids, eid)
        built = self._eido_incident(doc, eid, incident, call, ids, steps, place)
        return [built, *rejects]

    def _eido_incident(self, doc, eid, incident, call, ids, steps, place) -> Incident | Reject:
        type_text = as_text(_get(incident, "incidentTypeInternalText"))
        type_code = as_text(_get(incident, "incidentTypeCommonRegistryText"))
        layout = Layout(self.config, "generic")
        category = layout.category(type_text, type_code) if (type_text or type_code) else self.config.default_category
        reported = steps.get("received") or min(steps["updates"])
        updated = max([reported, *steps["updates"], *[v for k, v in steps.items() if k != "updates"]])
        callback = _resolve(_get(call, "callBackReference"), ids) or _first(_get(doc, "callbackComponent"))
        phones = [u for u in _as_list(_get(callback, "callBackInformationUri")) if isinstance(u, str)]
        state = as_text(_get(call, "callStateRegistryText"))
        answered = "answer" in state.lower() or "answered" in steps
        status = "dispatched" if _get(doc, "dispatchComponent") else "acknowledged" if answered else "new"
        private = {"callback": phones or None, **place.get("private", {})}
        return self.build(
            Incident, eid, doc,
            id=eid, category=category, severity=_eido_severity(_get(incident, "incidentCommonPriorityNumber"), category, self.config),
            status=status, lat=place.get("lat"), lon=place.get("lon"),
            reported_at=reported, updated_at=updated,
            title=mask_phone(type_text or type_code or f"{as_text(_get(call, 'standardPrimaryCallType')) or 'Emergency'} call".capitalize()),
            details={
                "call_type": type_text or None, "type_code": type_code or None,
                "priority": as_text(_get(incident, "incidentPriorityInternalText")) or None,
                "call_state": state or None, "eido_version": as_text(_get(doc, "eidoVersion")) or None,
                "timeline": {k: utc_iso(v) for k, v in steps.items() if k != "updates"},
                "area": place.get("area", {}), "private": {k: v for k, v in private.items() if v},
                "location_problem": place.get("problem"),
            },
        )

    def _eido_locations(self, doc, call, ids, eid) -> tuple[list[Reject], dict[str, Any]]:
        refs = [_resolve(r, ids) for r in _as_list(_get(call, "locationReference"))]
        components, seen = [], set()
        for comp in [*refs, *_as_list(_get(doc, "locationComponent")), *_as_list(_get(doc, "locationInformationComponent"))]:
            if isinstance(comp, dict) and id(comp) not in seen:
                seen.add(id(comp))
                components.append(comp)
        place: dict[str, Any] = {"private": {}}
        rejects = []
        for comp in components:
            url = as_text(_get(comp, "locationByReferenceUrl"))
            if url:
                place["private"].setdefault("location_reference_urls", []).append(url)
            pidf = _get(comp, "locationByValue")
            if not isinstance(pidf, str) or not pidf.strip():
                continue
            root, problem = load_xml(pidf.strip().encode("utf-8"))
            cid = as_text(comp.get("$id")) or eid
            if problem:
                reason = f"location {cid}: embedded PIDF-LO is {problem.reason}; the call is kept without this location"
                rejects.append(self.reject(reason, pidf, cid))
                place["problem"] = reason
                continue
            _read_pidf(root, place)
        return rejects, place


# ---- EIDO helpers --------------------------------------------------------------------------

def _is_eido(doc: Any) -> bool:
    return isinstance(doc, dict) and (any(k.lower() == "eidoversion" for k in doc) or any(k.endswith("Component") for k in doc))


def _get(obj: Any, key: str) -> Any:
    """An EIDO key whatever its casing (the 2020 draft writes `LastUpdateTimeStamp`, `EIDOVersion`)."""
    if not isinstance(obj, dict):
        return None
    if key in obj:
        return obj[key]
    wanted = key.lower()
    return next((v for k, v in obj.items() if isinstance(k, str) and k.lower() == wanted), None)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value if isinstance(value, dict) else None


def _index_ids(doc: Any) -> dict[str, dict]:
    """Every object with a `$id`, found without recursion (documents may nest deeply)."""
    ids: dict[str, dict] = {}
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("$id"), str):
                ids.setdefault(node["$id"], node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return ids


def _resolve(value: Any, ids: dict[str, dict]) -> Any:
    if isinstance(value, list):
        value = _first(value)
    if isinstance(value, dict) and set(value) == {"$ref"}:
        return ids.get(str(value["$ref"]))
    return value


def _eido_steps(doc: dict, call: Any, zone) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    for key, step in (("callStartTimestamp", "received"), ("answerDate", "answered"), ("callEndTimestamp", "closed")):
        value = _get(call, key)
        if value:
            steps[step] = parse_time(value, zone)
    updates = []
    for node in [doc, *(c for v in doc.values() if isinstance(v, list) for c in v if isinstance(c, dict))]:
        value = _get(node, "lastUpdateTimeStamp")
        if value:
            updates.append(parse_time(value, zone))
    if updates:
        steps["updates"] = updates
    elif steps:
        steps["updates"] = [max(steps.values())]
    return steps


def _eido_severity(priority: Any, category: str, config: EmergencyCallsConfig) -> str:
    number = plain_number(priority)
    if number is None:
        return config.category_severities.get(category, "medium")
    return "critical" if number >= 9 else "high" if number >= 7 else "medium" if number >= 4 else "low"


def _read_pidf(root: Element, place: dict[str, Any]) -> None:
    """lat/lon from the first gml:pos ('lat lon [alt]'); a civic address into private + its coarse part into area."""
    for pos in descendants(root, "pos"):
        parts = text(pos).split()
        if len(parts) >= 2 and "lat" not in place:
            lat, lon = plain_number(parts[0]), plain_number(parts[1])
            if lat is not None and lon is not None:
                place["lat"], place["lon"] = lat, lon
    for civic in descendants(root, "civicAddress"):
        fields = {local(c.tag): text(c) for c in civic if text(c)}
        place["private"]["civic_address"] = fields
        place["area"] = {k: fields[k] for k in ("country", "A1", "A2", "A3") if k in fields}
        break


# ---- CSV ------------------------------------------------------------------------------------

def _csv_rows(raw: bytes) -> tuple[list[dict[str, Any] | Reject], Reject | None]:
    rows, problem, unfinished = read_csv(raw)
    rows = [r for r in rows if not blank(r)]
    if problem or not rows or len(rows[0]) < 2:
        return [], problem or Reject.of("not a CSV export of calls (no header with columns)", raw[:120])
    header = [h.strip() for h in rows[0]]
    items = []
    for row in rows[1:]:
        item: dict[str, Any] = dict(zip(header, row))
        if len(row) != len(header):
            item["_width"] = f"{len(row)} fields where the header has {len(header)}"
        items.append(item)
    return [*items, *([unfinished] if unfinished else [])], None


def _fold_units(steps: dict[str, datetime], units: list[dict[str, Any]]) -> None:
    """Call-level steps from unit rows: the first unit dispatched/on scene; closed when the last unit is free."""
    for step in ("dispatched", "responding", "on_scene", "transport", "hospital"):
        times = [u[step] for u in units if u.get(step)]
        if times:
            steps[step] = min(times)
    closed = [u.get("closed") for u in units]
    if closed and all(closed):
        steps["closed"] = max(closed)

