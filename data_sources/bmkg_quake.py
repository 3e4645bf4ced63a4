"""BMKG earthquakes and InaTEWS tsunami warnings, one adapter for every BMKG quake format.

The format is told from the content, not from the URL:
- `autogempa` / `gempaterkini` / `gempadirasakan`, JSON or XML: `Infogempa.gempa`
  (one object or a list). `Coordinates` (XML: `point/coordinates`) is "lat,lon";
  `DateTime` is ISO with zone; `Tanggal` + `Jam` ("04 Okt 2021", "17:59:19 WIB")
  are used only when `DateTime` is absent.
- InaTEWS `datagempa.json` (CAP-like JSON): `info.point.coordinates` is "lon,lat"
  (the opposite of autogempa), `info.date` is "dd-mm-yy", times end in "WIB",
  sometimes glued to the number ("2023-04-25T03:05:33WIB"). A tsunami warning
  carries `wzarea[]` zones with levels AWAS / SIAGA / WASPADA.
- BMKG realtime GeoJSON: a FeatureCollection whose numbers are all strings and
  whose `time` has no zone (SeisComP origin times, UTC: `realtime_timezone`).

Where BMKG gives hemisphere text ("4.52 LS", "176.44 BB") it is preferred over
the bare number pair, because the text cannot be read in the wrong order.

Ids: the origin time in UTC ("20211005T110027Z") for autogempa and InaTEWS, so
every message about one quake (felt report, tsunami warning PD-1, PD-2, end)
updates one incident; the realtime feed's own event id ("bmg2022suve").
"""
from __future__ import annotations

import re
from datetime import datetime, tzinfo
from typing import Any
from xml.etree.ElementTree import Element

from pydantic import Field

from data_sources.readers.config_types import ZoneName
from data_sources.readers.documents import load_xml_or_json
from data_sources.readers.elements import local
from data_sources.readers.values import full_year, parse_number, parse_time, split_zone, utc_stamp, zone_from_name
from engine.contract import Adapter, SourceConfig
from engine.records import WIB, Incident, ParseResult, Reject


class BmkgQuakeConfig(SourceConfig):
    adapter: str = "bmkg-quake"
    interval: float = 60
    realtime_timezone: ZoneName = Field(default="UTC", description="zone of the zone-less `time` in the realtime GeoJSON feed")
    accept_status: list[str] = Field(default=["Actual"], description="InaTEWS `status` values kept; Test/Exercise messages are rejected")


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


# InaTEWS warning-zone levels, worst first (Awas = evacuate everyone, Waspada = keep off the beach).
ZONE_SEVERITY = {"AWAS": "critical", "SIAGA": "high", "WASPADA": "medium"}
_ZONE_RANK = {"AWAS": 3, "SIAGA": 2, "WASPADA": 1}
_DMY = re.compile(r"^(\d{1,2})[-/](\d{1,2})[-/](\d{4}|\d{2})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_HEMI = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)\s*(LU|LS|BT|BB|N|S|E|W)?\s*$", re.I)


def bmkg_time(text: Any, default_tz: tzinfo | None = None) -> datetime:
    """BMKG's many time spellings -> aware UTC datetime; ValueError with a readable message.

    What `parse_time` reads (ISO, '05 Okt 2021 18:00:27 WIB', '2023-04-25T03:05:33WIB'),
    plus BMKG's day-first dates: '14-02-22 12:57:47 WIB' (dd-mm-yy) and '14/02/2022 13:02:47WIB'.
    """
    s, zone = split_zone(str(text if text is not None else ""))
    dmy = _DMY.match(s)
    if not dmy:
        return parse_time(text, default_tz)
    day, month = int(dmy[1]), int(dmy[2])
    try:
        value = datetime(full_year(dmy[3], month, day), month, day, int(dmy[4] or 0), int(dmy[5] or 0), int(dmy[6] or 0))
    except ValueError:
        raise ValueError(f"unreadable time {text!r}") from None
    if zone is None and default_tz is None:
        raise ValueError(f"time {text!r} has no zone")
    return parse_time(value, zone or default_tz)


def hemisphere_value(text: Any) -> tuple[float, str] | None:
    """'4.52 LS' -> (-4.52, 'lat'); '176.44 BB' -> (-176.44, 'lon'); None when not of that form."""
    m = _HEMI.match(str(text or ""))
    if not m or not m[2]:
        return None
    value = float(m[1].replace(",", "."))
    hemi = m[2].upper()
    if hemi in ("LS", "S", "BB", "W"):
        value = -abs(value)
    return value, ("lat" if hemi in ("LU", "LS", "N", "S") else "lon")


def _pair(text: Any) -> tuple[float, float] | None:
    try:
        a, b = (float(x) for x in str(text).replace(" ", "").split(","))
        return a, b
    except (TypeError, ValueError):
        return None


def _located(lat_text: Any, lon_text: Any, pair_text: Any, lat_first: bool) -> tuple[float, float] | str:
    """Hemisphere text first, else the number pair in the order this format uses; a reason on failure."""
    lat_h, lon_h = hemisphere_value(lat_text), hemisphere_value(lon_text)
    if lat_h and lon_h and lat_h[1] == "lat" and lon_h[1] == "lon":
        return lat_h[0], lon_h[0]
    pair = _pair(pair_text)
    if pair is None:
        order = "lat,lon" if lat_first else "lon,lat"
        return f"coordinates {pair_text!r} are not {order!r} and there is no hemisphere text"
    return pair if lat_first else (pair[1], pair[0])


def _depth_km(text: Any) -> float | None:
    return parse_number(re.sub(r"(?i)\s*km\s*$", "", str(text or "")))


def _felt(value: Any) -> str | None:
    return None if value in (None, "-", "") else str(value)


def _tsunami_potential(potential: str) -> bool:
    low = potential.lower()
    return "tsunami" in low and "tidak" not in low and "berpotensi tsunami" in low


class BmkgQuake(Adapter):
    name = "bmkg-quake"
    Config = BmkgQuakeConfig
    kinds = ("incident",)
    description = "BMKG earthquakes (autogempa JSON/XML, gempaterkini, realtime GeoJSON) and InaTEWS quake/tsunami messages"

    document = staticmethod(load_xml_or_json)

    def read(self, doc: Any) -> ParseResult:
        result = ParseResult()
        (self._xml if isinstance(doc, Element) else self._json)(doc, result)
        return self.dedupe(result)

    # ---- formats -------------------------------------------------------------------
    def _json(self, data: Any, result: ParseResult) -> None:
        if isinstance(data, dict) and "Infogempa" in data:
            quakes = data["Infogempa"].get("gempa") if isinstance(data["Infogempa"], dict) else None
            if quakes is None:
                result.rejects.append(Reject.of("no Infogempa.gempa in the document", data))
                return
            for i, quake in enumerate(quakes if isinstance(quakes, list) else [quakes]):
                self.collect(result, self._quake(quake, i))
        elif isinstance(data, dict) and isinstance(data.get("features"), list):
            for i, feature in enumerate(data["features"]):
                self.collect(result, self._realtime(feature, i))
        elif isinstance(data, dict) and isinstance(data.get("info"), dict):
            self.collect(result, self._inatews(data, data.get("identifier", 0)))
        elif isinstance(data, list) and data and all(isinstance(d, dict) and "info" in d for d in data):
            for i, message in enumerate(data):
                self.collect(result, self._inatews(message, message.get("identifier", i)))
        else:
            result.rejects.append(Reject.of("not a BMKG quake document (no Infogempa, features or InaTEWS info)", data))

    def _xml(self, root: Element, result: ParseResult) -> None:
        if local(root.tag) == "alert":  # InaTEWS XML: the same fields as datagempa.json
            message = _element_dict(root)
            self.collect(result, self._inatews(message, message.get("identifier") or 0))
            return
        if local(root.tag) != "Infogempa":
            result.rejects.append(Reject.of(f"XML root <{local(root.tag)}> is not BMKG <Infogempa> or InaTEWS <alert>", root.tag))
            return
        quakes = [el for el in root if local(el.tag) == "gempa"]
        if not quakes:
            result.rejects.append(Reject.of("no <gempa> in <Infogempa>", root.tag))
        for i, el in enumerate(quakes):
            self.collect(result, self._quake(_xml_quake(el), i))

    # ---- one quake per format ------------------------------------------------------------
    def _quake(self, q: Any, index: int):
        if not isinstance(q, dict):
            return Reject.of("quake entry is not an object", q, index)
        try:
            when = bmkg_time(q["DateTime"]) if q.get("DateTime") else bmkg_time(f"{q.get('Tanggal')} {q.get('Jam')}", WIB)
        except ValueError as exc:
            return Reject.of(f"time: {exc}", q, index)
        legacy = _legacy_autogempa(q)
        where = _located(q.get("Lintang"), q.get("Bujur"), q.get("Coordinates"), lat_first=not legacy)
        if isinstance(where, str):
            return Reject.of(where.replace("coordinates", "Coordinates", 1), q, index)
        magnitude = parse_number(_MAGNITUDE_UNIT.sub("", str(q.get("Magnitude") or "")))
        if magnitude is None:
            return Reject.of(f"Magnitude {q.get('Magnitude')!r} is not a number", q, index)
        potential = str(q.get("Potensi") or "")
        tsunami = _tsunami_potential(potential)
        regions = _regions(q)
        region = regions[0] if regions else ""
        return self.build(
            Incident, index, q,
            id=utc_stamp(when),
            category="earthquake",
            severity=quake_severity(magnitude, tsunami),
            status="new",
            lat=where[0], lon=where[1],
            reported_at=when, updated_at=when,
            title=f"Gempa M{magnitude:g} {region}".strip(),
            details={
                "format": "autogempa (before 2021)" if legacy else "autogempa",
                "magnitude": magnitude,
                "depth_km": _depth_km(q.get("Kedalaman")),
                "region": region,
                **({"regions": regions} if len(regions) > 1 else {}),
                "potential": potential,
                "felt": _felt(q.get("Dirasakan")),
                "shakemap": q.get("Shakemap"),
                "tsunami": tsunami,
                "source_category": "gempabumi",
            },
        )

    def _realtime(self, f: Any, index: int):
        if not isinstance(f, dict) or not isinstance(f.get("properties"), dict):
            return Reject.of("feature is not an object with properties", f, index)
        p = f["properties"]
        event_id = str(p.get("id") or "").strip()
        if not event_id:
            return Reject.of("feature has no event id", f, index)
        try:
            when = bmkg_time(p.get("time"), zone_from_name(self.config.realtime_timezone))
        except ValueError as exc:
            return Reject.of(f"time: {exc}", f, event_id)
        coords = (f.get("geometry") or {}).get("coordinates") if isinstance(f.get("geometry"), dict) else None
        try:
            lon, lat = float(coords[0]), float(coords[1])
        except (TypeError, ValueError, IndexError, KeyError):
            return Reject.of(f"geometry coordinates {coords!r} are not [lon, lat]", f, event_id)
        magnitude = parse_number(p.get("mag"))
        if magnitude is None:
            return Reject.of(f"mag {p.get('mag')!r} is not a number", f, event_id)
        place = str(p.get("place") or "").strip()
        return self.build(
            Incident, event_id, f,
            id=event_id,
            category="earthquake",
            severity=quake_severity(magnitude, False),
            lat=lat, lon=lon,
            reported_at=when, updated_at=when,
            title=f"Gempa M{magnitude:.1f} {place}".strip(),
            details={
                "format": "realtime",
                "magnitude": magnitude,
                "depth_km": parse_number(p.get("depth")),
                "region": place,
                "phase_count": parse_number(p.get("fase")),
                "bmkg_status": p.get("status"),
                "tsunami": False,
                "source_category": "gempabumi realtime",
            },
        )

    def _inatews(self, msg: dict, ref: Any):
        info = msg["info"] if isinstance(msg.get("info"), dict) else None
        if info is None:
            return Reject.of("InaTEWS message has no info object", msg, ref)
        status = str(msg.get("status") or "Actual")
        if status not in self.config.accept_status:
            return Reject.of(f"status {status!r} is not an actual alert (accepted: {', '.join(self.config.accept_status)})", msg, ref)
        try:
            when = bmkg_time(f"{info.get('date')} {info.get('time')}", WIB)
        except ValueError as exc:
            return Reject.of(f"origin time: {exc}", msg, ref)
        try:
            sent = bmkg_time(msg.get("sent") or info.get("timesent"), WIB)
        except ValueError:
            sent = when
        point = info.get("point").get("coordinates") if isinstance(info.get("point"), dict) else None
        where = _located(info.get("latitude"), info.get("longitude"), point, lat_first=False)
        if isinstance(where, str):
            return Reject.of(where, msg, ref)
        magnitude = parse_number(info.get("magnitude"))
        if magnitude is None:
            return Reject.of(f"magnitude {info.get('magnitude')!r} is not a number", msg, ref)
        zones = _zones(info.get("wzarea"))
        subject = str(info.get("subject") or "")
        potential = str(info.get("potential") or "")
        warning = bool(zones) or ("tsunami" in subject.lower() and "tidak" not in potential.lower())
        tsunami = warning or _tsunami_potential(potential)
        text = f"{subject} {info.get('headline') or ''}".lower()
        ended = "berakhir" in text or "ended" in text
        region = str(info.get("area") or "").strip()
        return self.build(
            Incident, ref, msg,
            id=utc_stamp(when),
            category="tsunami" if warning else "earthquake",
            severity=_tsunami_severity(zones) if warning else quake_severity(magnitude, tsunami),
            status="cancelled" if msg.get("msgType") == "Cancel" else "resolved" if ended else "new",
            lat=where[0], lon=where[1],
            reported_at=when, updated_at=max(sent, when),
            title=f"{'Peringatan Dini Tsunami' if warning else 'Gempa'} M{magnitude:g} {region}".strip(),
            details={
                "format": "inatews",
                "identifier": msg.get("identifier"),
                "event_id": info.get("eventid"),
                "msg_type": msg.get("msgType"),
                "magnitude": magnitude,
                "depth_km": _depth_km(info.get("depth")),
                "region": region,
                "potential": potential,
                "felt": _felt(info.get("felt")),
                "subject": subject,
                "headline": info.get("headline"),
                "instruction": [info[k] for k in ("instruction", "instruction1", "instruction2", "instruction3") if info.get(k)],
                "shakemap": info.get("shakemap"),
                "maps": {k: info[k] for k in ("wzmap", "ttmap", "sshmap") if info.get(k)},
                "warning_zones": zones,
                "highest_zone_level": max((z["level"] for z in zones), key=lambda lv: _ZONE_RANK.get(lv, 0), default=None),
                "tsunami": tsunami,
                "source_category": str(info.get("event") or "Gempabumi"),
            },
        )


_LEGACY_DATE = re.compile(r"^\d{1,2}-[A-Za-z]{3}-\d{2}$")
_MAGNITUDE_UNIT = re.compile(r"(?i)\s*(SR|M|Mw|Mb|ML)\s*$")


def _legacy_autogempa(q: dict) -> bool:
    """The autogempa layout BMKG served until 2021: `Tanggal` '27-Aug-19', `Wilayah1`..`Wilayah5`,
    `Magnitude` '5.0 SR', and `point/coordinates` written lon,lat (today's layout writes lat,lon)."""
    return "Wilayah1" in q or (not q.get("DateTime") and bool(_LEGACY_DATE.match(str(q.get("Tanggal") or "").strip())))


def _regions(q: dict) -> list[str]:
    """`Wilayah`, or the pre-2021 `Wilayah1`..`Wilayah5` (nearest places first)."""
    keys = ["Wilayah"] + [f"Wilayah{n}" for n in range(1, 10)]
    return [str(q[k]).strip() for k in keys if str(q.get(k) or "").strip()]


def _xml_quake(el: Element) -> dict:
    """<gempa> children -> the same keys as autogempa.json (point/coordinates -> Coordinates)."""
    q: dict[str, Any] = {}
    for c in el:
        name = local(c.tag)
        if name == "point":
            coords = next((p for p in c if local(p.tag) == "coordinates"), None)
            q["Coordinates"] = (coords.text or "").strip() if coords is not None else None
        else:
            q[name] = (c.text or "").strip()
    return q


def _element_dict(el: Element) -> dict[str, Any]:
    """An InaTEWS <alert> as datagempa.json holds it: leaves as text, nested elements as
    objects, `wzarea` (and any repeated element) as a list."""
    out: dict[str, Any] = {}
    for c in el:
        name = local(c.tag)
        value = _element_dict(c) if len(c) else (c.text or "").strip()
        if name in out or name == "wzarea":
            held = out.get(name, [])
            out[name] = [*(held if isinstance(held, list) else [held]), value]
        else:
            out[name] = value
    return out


def _zones(raw: Any) -> list[dict]:
    """wzarea[] -> [{province, district, level, time}], exact repeats dropped (BMKG lists some twice)."""
    zones: list[dict] = []
    for z in raw if isinstance(raw, list) else []:
        if not isinstance(z, dict):
            continue
        try:
            at = bmkg_time(f"{z.get('date')} {z.get('time')}", WIB).isoformat()
        except ValueError:
            at = None
        zone = {"province": z.get("province"), "district": z.get("district"),
                "level": str(z.get("level") or "").strip().upper(), "time": at}
        if zone not in zones:
            zones.append(zone)
    return zones


def _tsunami_severity(zones: list[dict]) -> str:
    levels = [z["level"] for z in zones if z["level"] in ZONE_SEVERITY]
    if not levels:
        return "critical"  # a tsunami warning whose zones we cannot read is treated as the worst case
    return ZONE_SEVERITY[max(levels, key=_ZONE_RANK.__getitem__)]

