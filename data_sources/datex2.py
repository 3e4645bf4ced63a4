"""DATEX II (v2 `d2LogicalModel/payloadPublication` and v3 `d2:payload`, namespace-blind):
measured traffic data as readings, situations as incidents.

- `MeasuredDataPublication`: each measured value of each `siteMeasurements`
  becomes a Reading: TrafficSpeed -> `speed` km/h, TrafficFlow -> `flow` veh/h,
  TrafficHeadway -> `headway` s, TrafficConcentration -> `occupancy` % (or
  `density` veh/km), TravelTimeData -> `travel_time` s. id =
  `<site>:<index>:<time UTC>`. A value flagged `dataError` (NTIS sends 255 with
  "out of range") is a reject. Several values for one site, index and time are
  samples of one measurement (NTIS journey-time publications carry one per
  matched vehicle): they are aggregated into one reading whose value is their
  median, with details `samples` (how many), `min` and `max`; none is dropped
  as a duplicate. Site locations live in a separate
  MeasurementSiteTable, so a reading has no lat/lon unless `sites` maps the
  site id to [lat, lon].
- `SituationPublication`: each `situationRecord` becomes an Incident; its
  xsi:type picks the category through `situation_categories`; lat/lon from
  `locationForDisplay` (or the first point coordinates); delay, comments,
  validity and management state go to details/status.
- `VmsPublication`: sign texts have no canonical record kind, so each
  `vmsUnit` is a reject "VMS status is not read by this adapter" (counts stay
  honest and the operator sees the sign text in the reject). Other publication
  types are one reject naming the type.
Times carry their offset; a time without one takes `timezone`.
"""
from __future__ import annotations

from typing import Any

from datetime import datetime, tzinfo
from statistics import median
from xml.etree.ElementTree import Element

from pydantic import Field, field_validator

from data_sources.readers.config_types import CategoryName, SeverityName, ZoneName
from data_sources.readers.documents import load_xml
from data_sources.readers.elements import child, children, descendants, local, text
from data_sources.readers.values import parse_time, plain_number, utc_stamp, zone_from_name
from engine.contract import Adapter, SourceConfig
from engine.records import Incident, ParseResult, Reading, Reject

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

# basicData xsi:type -> [(element holding the value, value element, quantity, unit)]
MEASUREMENTS: dict[str, list[tuple[str, str, str, str]]] = {
    "TrafficSpeed": [("averageVehicleSpeed", "speed", "speed", "km/h")],
    "TrafficFlow": [("vehicleFlow", "vehicleFlowRate", "flow", "veh/h")],
    "TrafficHeadway": [("averageTimeHeadway", "duration", "headway", "s")],
    "TrafficConcentration": [("occupancy", "percentage", "occupancy", "%"),
                             ("concentration", "concentrationOfVehicles", "density", "veh/km")],
    "TravelTimeData": [("travelTime", "duration", "travel_time", "s")],
}

DEFAULT_SITUATION_CATEGORIES = {
    "AbnormalTraffic": "congestion", "PublicEvent": "congestion",
    "Accident": "traffic_accident",
    "RoadOrCarriagewayOrLaneManagement": "road_closure", "MaintenanceWorks": "road_closure",
    "ConstructionWorks": "road_closure", "ReroutingManagement": "road_closure", "NetworkManagement": "road_closure",
    "VehicleObstruction": "road_hazard", "GeneralObstruction": "road_hazard", "AnimalPresenceObstruction": "road_hazard",
    "EnvironmentalObstruction": "road_hazard", "InfrastructureDamageObstruction": "road_hazard",
    "WeatherRelatedRoadConditions": "road_hazard", "NonWeatherRelatedRoadConditions": "road_hazard",
    "PoorEnvironmentConditions": "road_hazard", "EquipmentOrSystemFault": "road_hazard",
    "DisturbanceActivity": "road_hazard", "SpeedManagement": "road_hazard",
}
DEFAULT_SEVERITIES = {"none": "info", "lowest": "info", "low": "low", "medium": "medium", "high": "high",
                      "highest": "critical", "unknown": "medium"}


class Datex2Config(SourceConfig):
    adapter: str = "datex2"
    interval: float = 60
    timezone: ZoneName = Field(default="Asia/Makassar", description="zone of times written without an offset")
    sites: dict[str, tuple[float, float]] = Field(default_factory=dict, description="measurement site id -> [lat, lon]")
    situation_categories: dict[str, CategoryName] = Field(default_factory=lambda: dict(DEFAULT_SITUATION_CATEGORIES),
                                                          description="situationRecord xsi:type -> category")
    default_category: CategoryName = "road_hazard"
    severities: dict[str, SeverityName] = Field(default_factory=lambda: dict(DEFAULT_SEVERITIES))

    # Mappings in config are laid over the defaults, so one override does not drop the rest.
    @field_validator("situation_categories")
    @classmethod
    def _categories(cls, v: dict[str, str]) -> dict[str, str]:
        return {**DEFAULT_SITUATION_CATEGORIES, **v}

    @field_validator("severities")
    @classmethod
    def _severities(cls, v: dict[str, str]) -> dict[str, str]:
        return {**DEFAULT_SEVERITIES, **{k.lower(): s for k, s in v.items()}}


def _xsi(el: Element) -> str:
    """xsi:type without its prefix ('d2:AbnormalTraffic' -> 'AbnormalTraffic')."""
    return el.get(XSI_TYPE, "").rsplit(":", 1)[-1]


def _first(el: Element, name: str) -> Element | None:
    found = descendants(el, name)
    return found[0] if found else None


def _payload(root: Element) -> Element | None:
    """v2 `payloadPublication`, or v3 `payload` (the root itself, or inside a message container)."""
    for name in ("payloadPublication", "payload"):
        if local(root.tag) == name:
            return root
        found = _first(root, name)
        if found is not None:
            return found
    return None


def _samples_aggregated(built: list) -> list:
    """Readings sharing an id (site, index, time) are samples of one measurement: one reading
    with their median, in the place of the first, and `samples`, `min`, `max` in its details."""
    by_id: dict[str, list[Reading]] = {}
    for entry in built:
        if isinstance(entry, Reading):
            by_id.setdefault(entry.id, []).append(entry)
    out = []
    for entry in built:
        if not isinstance(entry, Reading):
            out.append(entry)
            continue
        samples = by_id.pop(entry.id, None)
        if samples is None:
            continue  # a later sample of an id already placed
        if len(samples) == 1:
            out.append(entry)
            continue
        values = [r.value for r in samples]
        details = {**entry.details, "samples": len(values), "min": min(values), "max": max(values)}
        out.append(entry.model_copy(update={"value": median(values), "details": details}))
    return out


def _excerpt(el: Element) -> str:
    return " ".join(t.strip() for t in el.itertext() if t.strip())[:300]


class Datex2(Adapter):
    name = "datex2"
    Config = Datex2Config
    kinds = ("reading", "incident")
    description = "DATEX II v2 and v3: measured traffic data (readings) and situations (incidents)"

    document = staticmethod(load_xml)

    def read(self, root: Any) -> ParseResult:
        result = ParseResult()
        payload = _payload(root)
        if payload is None:
            result.rejects.append(Reject.of(f"not a DATEX II document (no payloadPublication or payload under <{local(root.tag)}>)",
                                            _excerpt(root)))
            return result
        kind = _xsi(payload)
        published = self._time(text(payload, "publicationTime"))
        if kind == "MeasuredDataPublication":
            built = _samples_aggregated(self._measured(payload, published))
        elif kind == "SituationPublication":
            built = [self._situation_record(sit, rec, published) for sit in children(payload, "situation")
                     for rec in children(sit, "situationRecord")]
        elif kind == "VmsPublication":
            built = [self._vms(unit) for unit in children(payload, "vmsUnit")]
        else:
            built = [Reject.of(f"a {kind or 'untyped'} publication is not read by this adapter"
                               + ("; put site locations in the `sites` key instead" if "SiteTable" in kind else ""),
                               _excerpt(payload))]
        return self.dedupe(built)


    @property
    def zone(self) -> tzinfo:
        return zone_from_name(self.config.timezone)

    def _time(self, value: str) -> datetime | None:
        try:
            return parse_time(value, self.zone) if value else None
        except ValueError:
            return None

    # ---- measured data ---------------------------------------------------------------
    def _measured(self, payload: Element, published: datetime | None) -> list:
        built = []
        for sm in children(payload, "siteMeasurements"):
            ref = child(sm, "measurementSiteReference")
            site = ref.get("id", "").strip() if ref is not None else ""
            default_time = self._time(text(sm, "measurementTimeDefault")) or published
            values = [v for v in sm if local(v.tag) in ("measuredValue", "physicalQuantity")]
            if not site:
                built.extend(Reject.of("siteMeasurements without a measurementSiteReference id", _excerpt(v)) for v in values)
                continue
            for value in values:
                built.append(self._reading(site, value, default_time))
        return built

    def _reading(self, site: str, value: Element, default_time: datetime | None) -> Reading | Reject:
        index = value.get("index", "")
        ref = f"{site}#{index}"
        basic = _first(value, "basicData")
        if basic is None:
            return Reject.of("measured value without basicData", _excerpt(value), ref)
        kind = _xsi(basic)
        if kind not in MEASUREMENTS:
            return Reject.of(f"measurement type {kind or '(none)'} is not read by this adapter", _excerpt(value), ref)
        own_time = _first(basic, "measurementOrCalculationTime")
        when = self._time(text(own_time)) if own_time is not None else default_time
        if when is None:
            return Reject.of("no measurement time (measurementTimeDefault missing or unreadable)", _excerpt(value), ref)
        for holder_name, value_name, quantity, unit in MEASUREMENTS[kind]:
            holder = _first(basic, holder_name)
            if holder is None:
                continue
            if text(holder, "dataError").lower() == "true":
                reason = _first(holder, "reasonForDataError")
                why = _excerpt(reason) if reason is not None else ""
                return Reject.of(f"the detector flags this {quantity} value as a data error ({why or 'no reason given'})",
                                 _excerpt(value), ref)
            number = plain_number(text(holder, value_name))
            if number is None:
                return Reject.of(f"{quantity} value {text(holder, value_name)!r} is not a number", _excerpt(value), ref)
            lat, lon = self.config.sites.get(site, (None, None))
            return self.build(
                Reading, ref, _excerpt(value),
                id=f"{site}:{index}:{utc_stamp(when)}", station=site, quantity=quantity, value=number, unit=unit,
                lat=lat, lon=lon, observed_at=when,
                details={"index": index, "datex_type": kind},
            )
        return Reject.of(f"{kind} without a value the adapter knows", _excerpt(value), ref)

    # ---- situations ------------------------------------------------------------------
    def _situation_record(self, situation: Element, rec: Element, published: datetime | None) -> Incident | Reject:
        rid = rec.get("id", "").strip()
        if not rid:
            return Reject.of("situationRecord without an id", _excerpt(rec))
        created = self._time(text(rec, "situationRecordCreationTime")) or published
        if created is None:
            return Reject.of("situationRecord without a readable situationRecordCreationTime", _excerpt(rec), rid)
        version = self._time(text(rec, "situationRecordVersionTime")) or created
        kind = _xsi(rec)
        public = child(rec, "generalPublicComment")
        comments = [text(v) for v in descendants(public, "value") if text(v)] if public is not None else []
        lat, lon = self._location(rec)
        validity = _first(rec, "validity")
        start = self._time(text(_first(validity, "overallStartTime"))) if validity is not None else None
        end = self._time(text(_first(validity, "overallEndTime"))) if validity is not None else None
        delay = _first(rec, "delayTimeValue")
        return self.build(
            Incident, rid, _excerpt(rec),
            id=rid, category=self.config.situation_categories.get(kind, self.config.default_category),
            severity=self.config.severities.get(text(rec, "severity").lower(), "medium"),
            status=self._status(rec, validity),
            lat=lat, lon=lon, reported_at=created, updated_at=max(version, created), expires_at=end,
            title=self._title(kind, comments),
            details={
                "situation_id": situation.get("id"), "datex_type": kind,
                "subtype": next((text(c) for c in rec if local(c.tag).endswith("Type") and text(c)), None),
                "delay_s": plain_number(text(delay)) if delay is not None else None,
                "comments": comments, "source_severity": text(rec, "severity") or None,
                "probability": text(rec, "probabilityOfOccurrence") or None,
                "validity_status": (text(validity, "validityStatus") or None) if validity is not None else None,
                "start": start.isoformat() if start else None,
                "location_reference": [r.get("id") for r in descendants(rec, "predefinedLocationReference") if r.get("id")],
            },
        )

    @staticmethod
    def _location(rec: Element) -> tuple[float | None, float | None]:
        for name in ("locationForDisplay", "pointCoordinates"):
            el = _first(rec, name)
            if el is not None:
                lat, lon = plain_number(text(el, "latitude")), plain_number(text(el, "longitude"))
                if lat is not None and lon is not None:
                    return lat, lon
        return None, None

    @staticmethod
    def _status(rec: Element, validity: Element | None) -> str:
        life = _first(rec, "lifeCycleManagement")
        if life is not None and text(life, "cancel").lower() == "true":
            return "cancelled"
        if life is not None and text(life, "end").lower() == "true":
            return "closed"
        if validity is not None and text(validity, "validityStatus") == "suspended":
            return "acknowledged"
        return "new"

    @staticmethod
    def _title(kind: str, comments: list[str]) -> str:
        where = next((c.split(":", 1)[1].strip() for c in comments if c.lower().startswith("event location")), "")
        label = "".join(f" {ch.lower()}" if ch.isupper() else ch for ch in kind).strip().capitalize() or "Situation"
        return f"{label}: {where}"[:500] if where else label

    # ---- VMS -----------------------------------------------------------------------------
    @staticmethod
    def _vms(unit: Element) -> Reject:
        ref = child(unit, "vmsUnitReference")
        uid = ref.get("id") if ref is not None else None
        lines = " / ".join(text(el) for el in descendants(unit, "vmsTextLine") if len(el) == 0 and text(el))
        return Reject.of("VMS status is not read by this adapter (no record kind for sign texts)",
                         f"unit {uid}: {lines}" if lines else _excerpt(unit), uid)
