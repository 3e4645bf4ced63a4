"""Open311 GeoReport v2: service requests (JSON or XML) as complaint incidents.

Reads the answer of `GET requests.json|xml` (a list of `request`s). Each request
becomes an Incident of the complaint domain:
- category: `categories` (exact service_code or service_name) first, then the
  ordered `category_keywords` on the service name, else `default_category`; the
  source's own service is kept in `details["service"]`;
- status: `open`/`closed` through `statuses`, refined by keywords in
  `status_notes` ("Duplicate request." closes as rejected). `assigned_status`
  is an opt-in (off by default): where a city names `agency_responsible` only
  once a request is handed over (Denpasar's Disposisi), an open request that
  names one gets that status. Chicago names an agency on every request, so
  by default an open request stays `new`.
- deadlines: the adapter adds no days. `details["resolution_due"]` is the
  city's own `expected_datetime` when it gives one; otherwise the SP4N-LAPOR!
  working-day rule (kpi config: working days, holidays, days per category;
  `engine.analytics.kpi.working_deadline`) applies from `reported_at`, the
  received time, wherever deadlines are counted.
Null, empty or (0, 0) lat/long keep the request without a location.

Other GeoReport documents are not requests: a services list, a service
definition, a POST acknowledgement or an `errors` answer gives rejects that say
what the document is (the service catalogue is read by `parse_services`).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element

from pydantic import Field, field_validator

from data_sources.readers.config_types import CategoryName, StatusName, ZoneName
from data_sources.readers.documents import load_xml_or_json
from data_sources.readers.elements import children, descendants, local, text
from data_sources.readers.values import as_text, parse_time, plain_number, utc_iso, zone_from_name
from engine.contract import Adapter, SourceConfig
from engine.records import Incident, ParseResult, Reject

# Ordered (keyword in the lower-cased service name, category): first match wins.
DEFAULT_CATEGORY_KEYWORDS: list[tuple[str, str]] = [
    ("light", "street_lighting"), ("lamp", "street_lighting"), ("lpju", "street_lighting"),
    ("parking", "illegal_parking"), ("parkir", "illegal_parking"), ("abandoned vehicle", "illegal_parking"),
    ("traffic", "traffic_order"), ("signal", "traffic_order"), ("lalu lintas", "traffic_order"),
    ("trash", "waste"), ("garbage", "waste"), ("litter", "waste"), ("dumping", "waste"), ("recycl", "waste"),
    ("yard waste", "waste"), ("leaf collection", "waste"), ("sampah", "waste"), ("dumpster", "waste"),
    ("cans", "waste"), ("receptacle", "waste"), ("cleaning", "waste"),
    ("water", "water_supply"), ("pdam", "water_supply"), ("air bersih", "water_supply"),
    ("pot hole", "infrastructure"), ("pothole", "infrastructure"), ("street", "infrastructure"),
    ("road", "infrastructure"), ("sidewalk", "infrastructure"), ("curb", "infrastructure"),
    ("sewer", "infrastructure"), ("drain", "infrastructure"), ("pavement", "infrastructure"),
    ("bridge", "infrastructure"), ("jalan", "infrastructure"), ("saluran", "infrastructure"),
    ("graffiti", "environment"), ("weed", "environment"), ("tree", "environment"), ("noise", "environment"),
    ("landscap", "environment"), ("park", "environment"), ("animal", "environment"), ("lingkungan", "environment"),
    ("bus", "public_service"), ("taxi", "public_service"), ("permit", "public_service"), ("feedback", "public_service"),
    ("performance", "public_service"), ("layanan", "public_service"),
]
DEFAULT_STATUSES = {"open": "new", "closed": "closed", "acknowledged": "acknowledged", "in_progress": "in_progress"}
# Keyword in the lower-cased status_notes -> status; only applied when it fits the open/closed state.
DEFAULT_NOTE_STATUSES = {
    "duplicate": "rejected", "invalid": "rejected", "rejected": "rejected", "cancel": "cancelled",
    "in progress": "in_progress", "scheduled": "in_progress", "assigned": "dispatched",
}


class Open311Config(SourceConfig):
    adapter: str = "open311"
    interval: float = 300
    timezone: ZoneName = Field(default="Asia/Makassar", description="zone of times written without one (WITA for Denpasar)")
    categories: dict[str, CategoryName] = Field(default_factory=dict, description="service_code or service_name -> category")
    category_keywords: list[tuple[str, CategoryName]] = Field(default_factory=lambda: list(DEFAULT_CATEGORY_KEYWORDS))
    default_category: CategoryName = "other_complaint"
    statuses: dict[str, StatusName] = Field(default_factory=lambda: dict(DEFAULT_STATUSES))
    note_statuses: dict[str, StatusName] = Field(default_factory=lambda: dict(DEFAULT_NOTE_STATUSES))
    assigned_status: StatusName | None = Field(default=None, description="opt-in: status of an open request that names an "
                                               "agency_responsible, where the city names one only on hand-over (Denpasar: dispatched)")

    @field_validator("categories")
    @classmethod
    def _categories(cls, v: dict[str, str]) -> dict[str, str]:
        return {key.strip().lower(): cat for key, cat in v.items()}

    @field_validator("category_keywords")
    @classmethod
    def _keywords(cls, v: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(key.lower(), cat) for key, cat in v]

    # Status mappings in config are laid over the defaults, so one override does not drop the rest.
    @field_validator("statuses")
    @classmethod
    def _statuses(cls, v: dict[str, str]) -> dict[str, str]:
        return {**DEFAULT_STATUSES, **{key.strip().lower(): s for key, s in v.items()}}

    @field_validator("note_statuses")
    @classmethod
    def _note_statuses(cls, v: dict[str, str]) -> dict[str, str]:
        return {**DEFAULT_NOTE_STATUSES, **{key.strip().lower(): s for key, s in v.items()}}



# ---- service catalogue ------------------------------------------------------------

SERVICE_FIELDS = ("service_code", "service_name", "group", "description", "keywords", "metadata", "type")


def category_of(code: str, name: str, config: Open311Config) -> str:
    for key in (code.strip().lower(), name.strip().lower()):
        if key and key in config.categories:
            return config.categories[key]
    lowered = name.lower()
    for keyword, category in config.category_keywords:
        if keyword in lowered:
            return category
    return config.default_category


def parse_services(raw: bytes, config: Open311Config | None = None) -> list[dict[str, Any]]:
    """The service catalogue of a services.json/xml answer, each with its mapped `category`.

    Pure and total: anything that is not a services list gives [].
    """
    config = config or Open311Config()
    items = _service_items(raw)
    services = []
    for item in items:
        code, name = as_text(item.get("service_code")), as_text(item.get("service_name"))
        if not code:
            continue
        entry = {key: item.get(key) for key in SERVICE_FIELDS}
        entry["service_code"], entry["service_name"] = code, name
        entry["category"] = category_of(code, name, config)
        services.append(entry)
    return services


def _service_items(raw: bytes) -> list[dict[str, Any]]:
    data, problem = load_xml_or_json(raw)
    if problem:
        return []
    if isinstance(data, Element):
        return [_fields(el) for el in children(data, "service")] if local(data.tag) == "services" else []
    if isinstance(data, dict):
        data = data.get("services")
    if not isinstance(data, list):
        return []
    return [d for d in data if isinstance(d, dict) and "service_request_id" not in d]


# ---- helpers ------------------------------------------------------------------------

def _fields(el: Element) -> dict[str, Any]:
    """A flat XML element as a dict; empty elements (`<zipcode/>`) become None."""
    return {local(c.tag): (text(c) or None) for c in el}


class Open311(Adapter):
    name = "open311"
    Config = Open311Config
    kinds = ("incident",)
    description = "Open311 GeoReport v2 service requests (complaints), JSON or XML"

    def read(self, items: list[Any]) -> ParseResult:
        self.memo.start()  # a request is built from its item and the config alone: unchanged items are not rebuilt
        built = [self.memo.built(item, lambda item=item, i=i: self._request(item, i)) for i, item in enumerate(items)]
        return self.dedupe(built)

    # ---- documents ----------------------------------------------------------------
    def load(self, raw: bytes) -> tuple[list[Any], Reject | None]:
        """The request items of a JSON or XML GeoReport document (a services list or an error answer is one reject)."""
        data, problem = load_xml_or_json(raw)
        if problem:
            return [], problem
        if isinstance(data, Element):
            return self._xml_items(data, raw)
        if isinstance(data, dict):
            return self._json_object(data)
        if not isinstance(data, list):
            return [], Reject.of("not a GeoReport list of requests", data)
        return self._json_list(data)

    def _xml_items(self, root: Element, raw: bytes) -> tuple[list[Any], Reject | None]:
        kind = local(root.tag)
        if kind == "services":
            return [], Reject.of(f"a services list ({len(children(root, 'service'))} services), not requests; "
                                 "read it with open311.parse_services", raw[:200].decode("utf-8", "replace"))
        if kind == "service_definition":
            return [], Reject.of(f"a service definition (service {text(root, 'service_code')}), not requests",
                                 raw[:200].decode("utf-8", "replace"))
        if kind == "errors":
            return [], Reject.of(f"the server answered with an error: {self._xml_errors(root)}", raw[:200].decode("utf-8", "replace"))
        requests = descendants(root, "request")
        if not requests and kind != "service_requests":
            return [], Reject.of(f"not a GeoReport document (root element <{kind}>)", raw[:200].decode("utf-8", "replace"))
        return [_fields(el) for el in requests], None

    @staticmethod
    def _xml_errors(root: Element) -> str:
        parts = [f"{text(e, 'code')} {text(e, 'description')}".strip() for e in children(root, "error")]
        return "; ".join(p for p in parts if p) or "no description"

    def _json_object(self, data: dict) -> tuple[list[Any], Reject | None]:
        for key in ("service_requests", "requests", "request"):
            if key in data:
                inner = data[key]
                return self._json_list(inner if isinstance(inner, list) else [inner])
        if "attributes" in data and "service_code" in data:
            return [], Reject.of(f"a service definition (service {as_text(data.get('service_code'))}), not requests", data)
        if "service_request_id" in data:
            return [data], None
        return [], Reject.of("not a GeoReport list of requests", data)

    def _json_list(self, data: list) -> tuple[list[Any], Reject | None]:
        dicts = [d for d in data if isinstance(d, dict)]
        if dicts and all("service_request_id" not in d for d in dicts):
            if all("service_code" in d for d in dicts):
                return [], Reject.of(f"a services list ({len(data)} services), not requests; "
                                     "read it with open311.parse_services", data[:1])
            if all("description" in d and "code" in d for d in dicts):
                errors = "; ".join(f"{as_text(d.get('code'))} {as_text(d.get('description'))}".strip() for d in dicts)
                return [], Reject.of(f"the server answered with an error: {errors}", data[:1])
        return data, None

    # ---- one request ---------------------------------------------------------------
    def _request(self, item: Any, index: int) -> Incident | Reject:
        if not isinstance(item, dict):
            return Reject.of("request is not an object", item, index)
        rid = as_text(item.get("service_request_id"))
        if not rid:
            what = "a token only, the request is not yet numbered" if item.get("token") else "no service_request_id"
            return Reject.of(f"request has {what}", item, index)
        if not any(item.get(k) for k in ("requested_datetime", "status", "service_code", "service_name")):
            notice = as_text(item.get("service_notice"))
            return Reject.of(f"a POST acknowledgement for request {rid}, not a request"
                             + (f" (notice: {notice[:120]})" if notice else ""), item, rid)
        zone = zone_from_name(self.config.timezone)
        try:
            requested = parse_time(item.get("requested_datetime"), zone)
        except ValueError as exc:
            return Reject.of(f"requested_datetime: {exc}", item, rid)
        try:
            updated = parse_time(item["updated_datetime"], zone) if as_text(item.get("updated_datetime")) else requested
            expected = parse_time(item["expected_datetime"], zone) if as_text(item.get("expected_datetime")) else None
        except ValueError as exc:
            return Reject.of(f"updated/expected_datetime: {exc}", item, rid)
        return self._incident(item, rid, requested, max(updated, requested), expected)

    def _incident(self, item: dict, rid: str, requested: datetime, updated: datetime, expected: datetime | None):
        code, name = as_text(item.get("service_code")), as_text(item.get("service_name"))
        agency, notes = as_text(item.get("agency_responsible")), as_text(item.get("status_notes"))
        raw_status = as_text(item.get("status")).lower()
        status = self._status(raw_status, notes, agency)
        if status is None:
            return Reject.of(f"status {item.get('status')!r} is not open or closed (add it to `statuses`)", item, rid)
        lat, lon = plain_number(item.get("lat")), plain_number(item.get("long"))
        missing_location = lat is None or lon is None or (lat == 0 and lon == 0)
        address = as_text(item.get("address"))
        return self.build(
            Incident, rid, item,
            id=rid,
            category=category_of(code, name, self.config),
            status=status,
            lat=None if missing_location else lat,
            lon=None if missing_location else lon,
            reported_at=requested, updated_at=updated,
            title=" - ".join(p for p in (name or code or "Request", address) if p)[:500],
            details={
                "service": {"code": code, "name": name},
                "source_status": raw_status,
                "status_notes": notes or None,
                "agency_responsible": agency or None,
                "description": as_text(item.get("description")) or None,
                "service_notice": as_text(item.get("service_notice")) or None,
                "address": address or None,
                "address_id": as_text(item.get("address_id")) or None,
                "zipcode": as_text(item.get("zipcode")) or None,
                "media_url": as_text(item.get("media_url")) or None,
                "expected_datetime": utc_iso(expected) if expected else None,
                "resolution_due": utc_iso(expected) if expected else None,
                "location_missing": missing_location,
            },
        )

    def _status(self, raw: str, notes: str, agency: str) -> str | None:
        base = self.config.statuses.get(raw)
        if base is None:
            return None
        lowered = notes.lower()
        for keyword, status in self.config.note_statuses.items():
            if keyword in lowered and (status in {"rejected", "cancelled", "closed", "resolved"}) == (raw == "closed"):
                return status
        if raw == "open" and base == "new" and agency and self.config.assigned_status:
            return self.config.assigned_status
        return base


__all__ = ["Open311", "Open311Config", "parse_services", "category_of"]
