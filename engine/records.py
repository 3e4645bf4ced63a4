"""Canonical records: what every adapter produces and every screen reads.

Times are timezone-aware and stored in UTC; screens convert to WITA (UTC+8).
Coordinates are WGS84 decimal degrees. `kecamatan`/`desa` are filled by
`engine.geo` after parsing, never by adapters.
"""
from __future__ import annotations

import hashlib
import json
import math
import reprlib
from datetime import datetime, timedelta, timezone
from enum import IntEnum
from typing import Annotated, Any, Literal, Union

import orjson
from engine.taxonomy import domain_of
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

WITA = timezone(timedelta(hours=8), "WITA")
WIB = timezone(timedelta(hours=7), "WIB")


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("time has no zone; adapters must attach the source's zone")
    return value.astimezone(timezone.utc)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class Severity(IntEnum):
    """Ordered so that max() gives the worst. Names are the canonical labels."""

    info = 0
    low = 1
    medium = 2
    high = 3
    critical = 4


SEVERITIES = [s.name for s in Severity]

# Canonical incident lifecycle. Rank orders them so an out-of-order update never
# moves a status backwards (see `status_rank`).
STATUSES = ["new", "acknowledged", "dispatched", "in_progress", "resolved", "closed", "rejected", "cancelled"]
OPEN_STATUSES = frozenset({"new", "acknowledged", "dispatched", "in_progress"})
_STATUS_RANK = {s: i for i, s in enumerate(STATUSES)}
_STATUS_RANK.update({"rejected": _STATUS_RANK["closed"], "cancelled": _STATUS_RANK["closed"]})


def status_rank(status: str) -> int:
    return _STATUS_RANK.get(status, 0)


class _Located(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)

    id: str = Field(min_length=1, max_length=300, description="stable id within the source")
    source: str = Field(min_length=1)
    lat: float | None = None
    lon: float | None = None
    kecamatan: str | None = None
    desa: str | None = None
    desa_code: str | None = None
    in_city: bool | None = Field(default=None, description="None when the record has no location")

    @model_validator(mode="after")
    def _coordinates_possible(self):
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon must be both given or both absent")
        if self.lat is not None:
            if not (math.isfinite(self.lat) and math.isfinite(self.lon)):
                raise ValueError(f"impossible coordinates ({self.lat}, {self.lon})")
            if not (-90 <= self.lat <= 90 and -180 <= self.lon <= 180):
                raise ValueError(f"impossible coordinates ({self.lat}, {self.lon})")
            if self.lat == 0 and self.lon == 0:
                raise ValueError("coordinates (0, 0) are a missing location, not a place")
        return self

    @property
    def uid(self) -> str:
        return f"{self.source}:{self.id}"

    def canonical_json(self) -> bytes:
        """The record as JSON with sorted keys: what history stores and what its hash is of."""
        return orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)

    def content_hash(self, canonical: bytes | None = None) -> str:
        """Hash of the record, so the same record twice is one version. Pass the
        `canonical_json()` already made to spare serialising it again."""
        return hashlib.blake2b(canonical if canonical is not None else self.canonical_json(), digest_size=12).hexdigest()


class Incident(_Located):
    kind: Literal["incident"] = "incident"
    category: str = Field(min_length=1, max_length=80, description="see engine.taxonomy.CATEGORIES")
    domain: str = Field(default="", description="derived from the category when not given")
    severity: Literal["info", "low", "medium", "high", "critical"] = "medium"
    status: Literal["new", "acknowledged", "dispatched", "in_progress", "resolved", "closed", "rejected", "cancelled"] = "new"
    reported_at: UtcDatetime
    updated_at: UtcDatetime
    title: str = Field(default="", max_length=500)
    details: dict[str, Any] = Field(default_factory=dict)
    geometry: dict[str, Any] | None = Field(default=None, description="GeoJSON geometry for areas and road segments")
    expires_at: UtcDatetime | None = None

    @field_validator("title")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()

    @model_validator(mode="after")
    def _domain(self):
        if not self.domain:
            self.domain = domain_of(self.category)
        return self

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def event_time(self) -> datetime:
        return self.reported_at


class Reading(_Located):
    kind: Literal["reading"] = "reading"
    station: str = Field(min_length=1)
    station_name: str = ""
    quantity: str = Field(min_length=1, description="e.g. water_level, rainfall, temperature, speed")
    value: float
    unit: str = ""
    alert_level: int = Field(default=0, ge=0, le=4, description="0 none/normal (Siaga IV), 1..3 = Siaga III..I")
    observed_at: UtcDatetime
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("value is not a finite number")
        return v

    @property
    def event_time(self) -> datetime:
        return self.observed_at


class Position(_Located):
    kind: Literal["position"] = "position"
    vehicle: str = Field(min_length=1)
    vehicle_type: Literal["vehicle", "bus", "boat", "ambulance", "fire_truck", "police"] = "vehicle"
    name: str = ""
    speed_kmh: float | None = None
    heading: float | None = None
    observed_at: UtcDatetime
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def event_time(self) -> datetime:
        return self.observed_at


class Price(_Located):
    kind: Literal["price"] = "price"
    commodity: str = Field(min_length=1)
    market: str = Field(min_length=1)
    unit: str = "kg"
    value: float = Field(gt=0, description="Rupiah per unit; 0 and '-' mean not reported and are rejected")
    date: datetime
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def event_time(self) -> datetime:
        return self.date if self.date.tzinfo else self.date.replace(tzinfo=WITA)


Record = Annotated[Union[Incident, Reading, Position, Price], Field(discriminator="kind")]
RECORD_ADAPTER: TypeAdapter = TypeAdapter(Record)
KINDS = ("incident", "reading", "position", "price")


def record_from_json(data: bytes | str | dict) -> Incident | Reading | Position | Price:
    if isinstance(data, dict):
        return RECORD_ADAPTER.validate_python(data)
    return RECORD_ADAPTER.validate_json(data)


def record_to_json(record: BaseModel) -> bytes:
    return orjson.dumps(record.model_dump(mode="json"))


class Reject(BaseModel):
    """An input item that did not become a record, and why. Rejects are kept, never dropped."""

    reason: str
    item: str = Field(default="", description="a short excerpt of the rejected input")
    ref: str | None = Field(default=None, description="where in the input: index, id or line")

    @classmethod
    def of(cls, reason: str, item: Any = "", ref: Any = None) -> "Reject":
        """Never raises, whatever the item: see `excerpt`."""
        return cls(reason=cls._text(reason), item=cls.excerpt(item), ref=None if ref is None else cls._text(ref))

    @staticmethod
    def excerpt(item: Any, limit: int = 300) -> str:
        """The item as at most `limit` characters of text, never an exception.

        Text stays text, bytes are decoded (UTF-8, bad bytes replaced), anything
        else is JSON. What JSON cannot show (nesting deeper than orjson's 255
        levels, integers beyond 64 bits, keys that are not text or numbers) is
        shown by the standard json module or, failing that, as a shortened repr.
        """
        if isinstance(item, str):
            return item[:limit]
        if isinstance(item, (bytes, bytearray)):
            return bytes(item[: limit * 4]).decode("utf-8", "replace")[:limit]
        # Each way may fail on its own (a `default=str` or __repr__ may raise anything); the reject must still be made.
        try:
            return orjson.dumps(item, default=str, option=orjson.OPT_NON_STR_KEYS).decode()[:limit]
        except Exception:  # noqa: BLE001
            pass
        try:
            return json.dumps(item, default=str, ensure_ascii=False)[:limit]
        except Exception:  # noqa: BLE001
            pass
        try:
            short = reprlib.Repr()
            short.maxlevel, short.maxstring, short.maxother, short.maxlong = 12, limit, limit, 60
            short.maxlist = short.maxtuple = short.maxdict = short.maxset = 30
            return short.repr(item)[:limit]
        except Exception:  # noqa: BLE001
            return f"(a {type(item).__name__} that cannot be shown)"

    @staticmethod
    def _text(value: Any) -> str:
        try:
            return value if isinstance(value, str) else str(value)
        except Exception:  # noqa: BLE001 - a __str__ may raise anything
            return f"(a {type(value).__name__} that cannot be shown)"


class ParseResult(BaseModel):
    records: list[Record] = Field(default_factory=list)
    rejects: list[Reject] = Field(default_factory=list)

    def extend(self, other: "ParseResult") -> None:
        self.records.extend(other.records)
        self.rejects.extend(other.rejects)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
