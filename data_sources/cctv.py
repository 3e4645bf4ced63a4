"""CCTV camera registries: which cameras exist, where, their stream, and whether they are online.

Reads JSON lists of cameras, bare or wrapped (`{"data": [...]}` as in the
Palembang city API, `{"place": [...]}` as in Dishub WebGIS, or a GeoJSON
FeatureCollection). Each camera becomes one Reading: station = camera id,
quantity "camera_online", value 1.0 online / 0.0 offline, alert_level 1 when
offline. Field names are found among common spellings; `fields` overrides.

Coordinates: a GeoJSON Point is [lon, lat]; separate `latitude`/`longitude`
may be strings. Some registries lose the decimal point ("-6655268603837800").
Such a digits-only value is repaired when exactly one placement of the point
puts it inside `region` (default Indonesia: lat -11..6, lon 95..141); when none
or several do, the camera is rejected with the reason. A pair that fits the
region only when swapped is swapped. Both repairs are noted in details.

Times: `last_checked_at` style fields; a time without a zone takes `timezone`.
A camera with no check time is observed at `listed_at` when configured, else
at the time of the fetch that brought it (set by `fetch()`); with neither it is
rejected. A registry without an online flag gives value 1.0 (listed) and
details["online_known"] = False.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from data_sources.readers.config_types import ZoneName
from data_sources.readers.documents import load_json
from data_sources.readers.values import parse_time, zone_from_name
from engine.contract import Adapter, SourceConfig
from engine.records import ParseResult, Reading, Reject, utcnow

CANDIDATES = {
    "id": ["cctv_id", "camera_id", "id", "kode", "code", "_id"],
    "name": ["cctv_title", "name", "nama", "title", "lokasi", "cctv_name"],
    "address": ["alamat", "address", "lokasi_detail"],
    "stream_url": ["cctv_link", "stream_url", "stream", "url", "link", "hls", "rtsp"],
    "online": ["is_online", "online", "isOnline", "status_online"],
    "status": ["cctv_status", "status", "state"],
    "checked": ["last_checked_at", "last_checked", "checked_at", "last_seen", "lastSeen"],
    "lat": ["latitude", "lat"],
    "lon": ["longitude", "lon", "lng", "long"],
    "location": ["location", "geometry", "point"],
}
ONLINE_WORDS = {"true", "1", "yes", "online", "on", "active", "aktif", "up", "live", "normal"}
OFFLINE_WORDS = {"false", "0", "no", "offline", "off", "inactive", "tidak aktif", "nonaktif", "non aktif", "down",
                 "mati", "rusak", "error"}


class CctvConfig(SourceConfig):
    adapter: str = "cctv"
    interval: float = 300
    timezone: ZoneName = Field(default="Asia/Makassar", description="zone of check times written without one (WITA)")
    region: tuple[float, float, float, float] = Field(
        default=(-11.0, 6.0, 95.0, 141.0), description="lat_min, lat_max, lon_min, lon_max used to repair coordinates")
    listed_at: datetime | None = Field(default=None, description="observation time for cameras without a check time")
    fields: dict[str, str] = Field(default_factory=dict, description="id/name/address/stream_url/online/status/checked/lat/lon -> source key")

    @field_validator("region")
    @classmethod
    def _box(cls, v: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        lat_min, lat_max, lon_min, lon_max = v
        if not (-90 <= lat_min < lat_max <= 90 and -180 <= lon_min < lon_max <= 180):
            raise ValueError("region must be lat_min < lat_max, lon_min < lon_max within -90..90 and -180..180")
        return v

    @field_validator("listed_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("listed_at needs a zone, e.g. 2025-11-27T08:00:00+08:00")
        return v


class CoordinateError(ValueError):
    pass


def _first(item: dict, keys: list[str]) -> Any:
    for key in keys:
        if item.get(key) not in (None, ""):
            return item[key]
    return None


def _axis(value: Any, axis: str, low: float, high: float) -> tuple[float, bool]:
    """A coordinate as float, and whether its lost decimal point was put back."""
    text = str(value).strip() if value is not None else ""
    if isinstance(value, bool) or not text:
        raise CoordinateError(f"{axis} is missing")
    try:
        number = float(text)
    except ValueError:
        raise CoordinateError(f"{axis} {text!r} is not a number") from None
    limit = 90 if axis == "latitude" else 180
    if abs(number) <= limit or not re.fullmatch(r"[+-]?\d+", text):
        return number, False
    sign, digits = ("-" if text.startswith("-") else ""), text.lstrip("+-")
    fits = [float(f"{sign}{digits[:k]}.{digits[k:]}") for k in range(1, min(4, len(digits)))]
    fits = [f for f in fits if low <= f <= high]
    if len(fits) != 1:
        why = "no placement of the decimal point" if not fits else "more than one placement of the decimal point"
        raise CoordinateError(f"{axis} {text!r} lost its decimal point and {why} fits the region {low:g}..{high:g}")
    return fits[0], True


class Cctv(Adapter):
    name = "cctv"
    Config = CctvConfig
    kinds = ("reading",)
    snapshot = True
    description = "CCTV camera registry: location, stream and online state"

    def __init__(self, source: str, config: SourceConfig | None = None):
        super().__init__(source, config)
        self.fetched_at: datetime | None = None

    def fetch(self) -> bytes:
        raw = super().fetch()
        self.fetched_at = utcnow()
        return raw

    document = staticmethod(load_json)

    def read(self, data: Any) -> ParseResult:
        result = ParseResult()
        items = self._items(data)
        if items is None:
            result.rejects.append(Reject.of("no list of cameras (expected a list, data[], place[] or GeoJSON features)", data))
            return result
        built = [self._camera(item, i) for i, item in enumerate(items)]
        # one reading per camera, the latest check; a dropped copy's reject shows its registry entry
        return self.dedupe((b, i, items[i]) if isinstance(b, Reading) else b for i, b in enumerate(built))


    @staticmethod
    def _items(data: Any) -> list | None:
        if isinstance(data, list):
            return data
        if not isinstance(data, dict):
            return None
        if data.get("type") == "FeatureCollection" and isinstance(data.get("features"), list):
            return data["features"]
        for key in ("data", "place", "cameras", "cctv", "items", "result"):
            if isinstance(data.get(key), list):
                return data[key]
        return None

    def _key(self, item: dict, what: str) -> Any:
        if what in self.config.fields:
            return item.get(self.config.fields[what])
        return _first(item, CANDIDATES[what])

    def _camera(self, item: Any, index: int):
        if not isinstance(item, dict):
            return Reject.of("camera entry is not an object", item, index)
        if item.get("type") == "Feature":
            item = {**(item.get("properties") or {}), "geometry": item.get("geometry")}
        try:
            lat, lon, repairs = self._coordinates(item)
        except CoordinateError as exc:
            return Reject.of(str(exc), item, index)
        name = " ".join(str(self._key(item, "name") or "").split())
        address = " ".join(str(self._key(item, "address") or "").split()) or self._area(item)
        try:
            observed = self._observed(item)
        except ValueError as exc:
            return Reject.of(f"check time: {exc}", item, index)
        online = self._online(item)
        details = {
            "stream_url": self._key(item, "stream_url"),
            "name": name,
            "address": address,
            "last_checked": observed.isoformat() if self._key(item, "checked") else None,
            "online_known": online is not None,
        }
        status = self._key(item, "status")
        if status is not None:
            details["source_status"] = status
        if repairs:
            details["coordinates_repaired"] = repairs
        for key in ("cctv_category", "category", "kategori"):
            if item.get(key):
                details["category"] = item[key]
        camera = self._camera_id(item, name, address)
        return self.build(
            Reading, index, item,
            id=camera, station=camera, station_name=name,
            quantity="camera_online", value=0.0 if online is False else 1.0, unit="",
            alert_level=1 if online is False else 0,
            lat=lat, lon=lon, observed_at=observed, details=details,
        )

    def _camera_id(self, item: dict, name: str, address: str) -> str:
        own = self._key(item, "id")
        if own not in (None, ""):
            return str(own).strip()[:300]
        # No id in the registry: name plus a hash of the entry's own text, stable while the entry is unchanged.
        basis = "|".join(str(x) for x in (name, address, self._key(item, "lat"), self._key(item, "lon"), self._key(item, "location")))
        slug = re.sub(r"[^0-9a-z]+", "-", name.lower()).strip("-")[:60] or "camera"
        return f"{slug}-{hashlib.blake2b(basis.encode(), digest_size=4).hexdigest()}"

    def _coordinates(self, item: dict) -> tuple[float, float, list[str]]:
        lat_min, lat_max, lon_min, lon_max = self.config.region
        location = self._key(item, "location")
        if isinstance(location, dict) and isinstance(location.get("coordinates"), (list, tuple)):
            coords = location["coordinates"]
            if len(coords) < 2:
                raise CoordinateError(f"location has {len(coords)} coordinate(s), not [lon, lat]")
            raw_lon, raw_lat = coords[0], coords[1]
        else:
            raw_lat, raw_lon = self._key(item, "lat"), self._key(item, "lon")
        lat, lat_fixed = _axis(raw_lat, "latitude", lat_min, lat_max)
        lon, lon_fixed = _axis(raw_lon, "longitude", lon_min, lon_max)
        repairs = [f"{axis} decimal point restored from {raw!r}"
                   for axis, raw, fixed in (("latitude", raw_lat, lat_fixed), ("longitude", raw_lon, lon_fixed)) if fixed]
        inside = lat_min <= lat <= lat_max and lon_min <= lon <= lon_max
        if not inside and lat_min <= lon <= lat_max and lon_min <= lat <= lon_max:
            lat, lon = lon, lat
            repairs.append("latitude and longitude were swapped")
        return lat, lon, repairs

    def _observed(self, item: dict) -> datetime:
        checked = self._key(item, "checked")
        if checked is not None:
            return parse_time(checked, zone_from_name(self.config.timezone))
        when = self.config.listed_at or self.fetched_at
        if when is None:
            raise ValueError("the entry has none, and neither listed_at nor a fetch time is known")
        return when

    def _online(self, item: dict) -> bool | None:
        for what in ("online", "status"):
            value = self._key(item, what)
            if isinstance(value, bool):
                return value
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value)
            word = " ".join(str(value or "").lower().split())
            if word in ONLINE_WORDS:
                return True
            if word in OFFLINE_WORDS:
                return False
        return None

    @staticmethod
    def _area(item: dict) -> str:
        """'kelurahan, kecamatan' from nested objects or flat fields, as the registry names them."""
        parts = []
        for nested, key, flat in (("kelurahan", "namaKelurahan", "kelurahan_nama"), ("kecamatan", "namaKecamatan", "kecamatan_nama")):
            obj = item.get(nested)
            value = obj.get(key) if isinstance(obj, dict) else (obj if isinstance(obj, str) else None)
            value = value or item.get(flat)
            value = " ".join(str(value or "").split())
            if value and value not in parts:
                parts.append(value)
        return ", ".join(parts)
