"""BMKG weather forecasts as Readings, one per location, quantity and time slot.

Two formats, told apart by content:
- the current API `api.bmkg.go.id/publik/prakiraan-cuaca?adm4=<kode>` (JSON):
  `data[].lokasi` (adm4 code, desa, lat/lon) and `data[].cuaca`, a list of days, each
  a list of 3-hourly slots with `datetime` in UTC ("...Z"), `t` (deg C), `hu` (%),
  `tp` (rain, mm), `ws` (km/h), `wd_deg`, `tcc` (cloud %), `vs` (visibility, m),
  `weather` (code) with `weather_desc`/`weather_desc_en`.
- the legacy DigitalForecast XML (`DigitalForecast-<Provinsi>.xml`): `<area>`s with
  `<parameter id="t|hu|tmax|tmin|humax|humin|weather|wd|ws">` holding `<timerange
  datetime="YYYYMMDDhhmm">` and `<value unit=..>`s. Those datetimes carry no zone;
  they are UTC (the hourly temperature peaks at "0600", 13:00 WIB), see `timezone`.

`observed_at` is the forecast slot (often in the future); details.forecast is true.
The item is one value: records + rejects = the values in the document (a slot whose
time cannot be read gives one reject per value in it). Ids are
"<location>:<quantity>:<slot UTC>", stable across polls, so a re-issued forecast
replaces the old value for the same slot. Each fetch is the whole forecast
(`snapshot`), so slots that dropped out of the forecast leave the live view.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any
from xml.etree.ElementTree import Element

from pydantic import Field

from data_sources.readers.config_types import ZoneName
from data_sources.readers.documents import load_xml_or_json
from data_sources.readers.elements import children, local, text
from data_sources.readers.values import parse_number, parse_time, zone_from_name
from engine.contract import Adapter, SourceConfig
from engine.records import ParseResult, Reading, Reject

# adm4 JSON key -> (quantity, unit)
JSON_QUANTITIES = {
    "t": ("temperature", "°C"),
    "hu": ("humidity", "%"),
    "tp": ("rainfall", "mm"),
    "ws": ("wind_speed", "km/h"),
    "wd_deg": ("wind_direction", "°"),
    "tcc": ("cloud_cover", "%"),
    "vs": ("visibility", "m"),
    "weather": ("weather_code", ""),
}
# DigitalForecast parameter id -> (quantity, preferred <value unit>, unit shown)
XML_QUANTITIES = {
    "t": ("temperature", "C", "°C"),
    "tmax": ("temperature_max", "C", "°C"),
    "tmin": ("temperature_min", "C", "°C"),
    "hu": ("humidity", "%", "%"),
    "humax": ("humidity_max", "%", "%"),
    "humin": ("humidity_min", "%", "%"),
    "ws": ("wind_speed", "KPH", "km/h"),
    "wd": ("wind_direction", "deg", "°"),
    "weather": ("weather_code", "icon", ""),
}
# DigitalForecast weather codes. The adm4 API sends its own text, and there code 1
# reads "Cerah"/"Sunny", so this table is used for the XML only.
WEATHER_CODES = {
    0: ("Cerah", "Clear Skies"), 1: ("Cerah Berawan", "Partly Cloudy"), 2: ("Cerah Berawan", "Partly Cloudy"),
    3: ("Berawan", "Mostly Cloudy"), 4: ("Berawan Tebal", "Overcast"), 5: ("Udara Kabur", "Haze"), 10: ("Asap", "Smoke"),
    45: ("Kabut", "Fog"), 60: ("Hujan Ringan", "Light Rain"), 61: ("Hujan Sedang", "Rain"), 63: ("Hujan Lebat", "Heavy Rain"),
    80: ("Hujan Lokal", "Isolated Shower"), 95: ("Hujan Petir", "Severe Thunderstorm"), 97: ("Hujan Petir", "Severe Thunderstorm"),
}


class BmkgWeatherConfig(SourceConfig):
    adapter: str = "bmkg-weather"
    interval: float = 3600
    timezone: ZoneName = Field(default="UTC", description="zone of DigitalForecast datetimes, which carry none (BMKG writes UTC)")
    quantities: list[str] | None = Field(default=None, description="only these quantities become readings (default: all)")


def _slot_id(when: datetime) -> str:
    return when.strftime("%Y%m%dT%H%MZ")


class BmkgWeather(Adapter):
    name = "bmkg-weather"
    Config = BmkgWeatherConfig
    kinds = ("reading",)
    snapshot = True
    description = "BMKG weather forecast per desa (api.bmkg.go.id adm4 JSON) or area (DigitalForecast XML)"

    document = staticmethod(load_xml_or_json)

    def read(self, doc: Any) -> ParseResult:
        result = ParseResult()
        (self._digital_forecast if isinstance(doc, Element) else self._adm4)(doc, result)
        return self.dedupe(result)


    def _wanted(self, quantity: str) -> bool:
        return self.config.quantities is None or quantity in self.config.quantities

    # ---- api.bmkg.go.id JSON -----------------------------------------------------------
    def _adm4(self, data: Any, result: ParseResult) -> None:
        entries = data.get("data") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            result.rejects.append(Reject.of("no `data` list: not a BMKG prakiraan-cuaca answer", data))
            return
        top = data.get("lokasi") if isinstance(data.get("lokasi"), dict) else {}
        for n, entry in enumerate(entries):
            if not isinstance(entry, dict):
                result.rejects.append(Reject.of("forecast entry is not an object", entry, n))
                continue
            place = {**top, **entry["lokasi"]} if isinstance(entry.get("lokasi"), dict) else top
            station = str(place.get("adm4") or place.get("adm3") or place.get("adm2") or "").strip()
            slots = _flatten(entry.get("cuaca"))
            if not station:
                result.rejects.append(Reject.of("forecast location has no adm4/adm3/adm2 code", place or entry, n))
                continue
            if not slots:
                result.rejects.append(Reject.of(f"forecast for {station} has no slots in `cuaca`", entry, station))
            for slot in slots:
                self._slot(station, place, slot, result)

    def _slot(self, station: str, place: dict, slot: Any, result: ParseResult) -> None:
        if not isinstance(slot, dict):
            result.rejects.append(Reject.of("forecast slot is not an object", slot, station))
            return
        keys = [k for k in JSON_QUANTITIES if k in slot and self._wanted(JSON_QUANTITIES[k][0])]
        try:
            when = _slot_time(slot, place)
        except ValueError as exc:
            for key in keys or ["slot"]:
                result.rejects.append(Reject.of(f"slot time: {exc}", slot, f"{station}:{key}"))
            return
        common = {"forecast": True, "slot_local": slot.get("local_datetime"), "analysis_date": slot.get("analysis_date"),
                  "desa": place.get("desa"), "kecamatan": place.get("kecamatan"), "kotkab": place.get("kotkab")}
        for key in keys:
            quantity, unit = JSON_QUANTITIES[key]
            value = parse_number(slot[key])
            ref = f"{station}:{quantity}:{_slot_id(when)}"
            if value is None:
                result.rejects.append(Reject.of(f"{key} {slot[key]!r} is not a number", slot, ref))
                continue
            details = dict(common)
            if quantity == "weather_code":
                details.update(description=slot.get("weather_desc"), description_en=slot.get("weather_desc_en"), image=slot.get("image"))
            elif quantity == "wind_direction":
                details.update({"from": slot.get("wd"), "to": slot.get("wd_to")})
            elif quantity == "visibility":
                details["text"] = slot.get("vs_text")
            self.collect(result, self.build(
                Reading, ref, slot,
                id=ref, station=station, station_name=str(place.get("desa") or station),
                quantity=quantity, value=value, unit=unit,
                lat=parse_number(place.get("lat")), lon=parse_number(place.get("lon")),
                observed_at=when, details=details,
            ))

    # ---- DigitalForecast XML -----------------------------------------------------------
    def _digital_forecast(self, root: Element, result: ParseResult) -> None:
        areas = [a for a in root.iter() if local(a.tag) == "area"]
        if local(root.tag) != "data" or not areas:
            result.rejects.append(Reject.of(f"XML <{local(root.tag)}> is not a DigitalForecast document with <area>s", root.tag))
            return
        zone = zone_from_name(self.config.timezone)
        issue = next((el for el in root.iter() if local(el.tag) == "issue"), None)
        issued = text(issue, "timestamp") if issue is not None else ""
        for area in areas:
            station = (area.get("id") or "").strip()
            ranges = [(p, tr) for p in children(area, "parameter") for tr in children(p, "timerange")]
            ranges = [(p, tr) for p, tr in ranges if self._wanted(_xml_quantity(p.get("id") or "")[0])]
            if not station:
                for p, tr in ranges or [(None, area)]:
                    result.rejects.append(Reject.of("DigitalForecast <area> has no id", area.get("description") or "area"))
                continue
            for parameter, timerange in ranges:
                self.collect(result, self._timerange(station, area, parameter, timerange, zone, issued))

    def _timerange(self, station: str, area: Element, parameter: Element, timerange: Element, zone, issued: str):
        pid = parameter.get("id") or ""
        quantity, preferred, unit = _xml_quantity(pid)
        stamp = timerange.get("datetime") or ""
        ref = f"{station}:{quantity}:{stamp}"
        excerpt = f"{pid} {stamp}"
        try:
            naive = datetime.strptime(stamp, "%Y%m%d%H%M")
        except ValueError:
            return Reject.of(f"timerange datetime {stamp!r} is not YYYYMMDDhhmm", excerpt, ref)
        try:
            when = parse_time(naive, zone)
        except ValueError as exc:
            return Reject.of(f"timerange datetime: {exc}", excerpt, ref)
        values: dict[str, str] = {}
        for v in children(timerange, "value"):  # the first value of each unit wins
            values.setdefault(v.get("unit") or "", (v.text or "").strip())
        if not values:
            return Reject.of(f"{pid} at {stamp} has no <value>", excerpt, ref)
        chosen_unit = preferred if preferred in values else next(iter(values))
        value = parse_number(values[chosen_unit])
        if value is None:
            return Reject.of(f"{pid} value {values[chosen_unit]!r} is not a number", excerpt, ref)
        details = {"forecast": True, "area": area.get("description"), "province": area.get("domain"), "issued": issued or None,
                   "range": timerange.get("type"), "hours_ahead": parse_number(timerange.get("h"))}
        if quantity == "weather_code":
            details.update(description=_code_text(value, 0), description_en=_code_text(value, 1))
        elif quantity == "wind_direction" and "CARD" in values:
            details["from"] = values["CARD"]
        return self.build(
            Reading, ref, excerpt,
            id=f"{station}:{quantity}:{_slot_id(when)}", station=station, station_name=area.get("description") or station,
            quantity=quantity, value=value, unit=unit if chosen_unit == preferred else chosen_unit,
            lat=parse_number(area.get("latitude")), lon=parse_number(area.get("longitude")),
            observed_at=when, details=details,
        )


def _xml_quantity(pid: str) -> tuple[str, str, str]:
    return XML_QUANTITIES.get(pid, (pid or "unknown", "", ""))


def _flatten(cuaca: Any) -> list:
    """`cuaca` is a list of days, each a list of slots; a flat list of slots is accepted too."""
    if not isinstance(cuaca, list):
        return []
    out: list = []
    for day in cuaca:
        out.extend(day if isinstance(day, list) else [day])
    return out


def _slot_time(slot: dict, place: dict) -> datetime:
    if slot.get("datetime"):
        return parse_time(slot["datetime"], timezone.utc)
    if slot.get("utc_datetime"):
        return parse_time(slot["utc_datetime"], timezone.utc)
    if slot.get("local_datetime"):
        return parse_time(slot["local_datetime"], zone_from_name(str(place.get("timezone") or "WITA")))
    raise ValueError("slot has no datetime, utc_datetime or local_datetime")


def _code_text(code: float, lang: int) -> str | None:
    entry = WEATHER_CODES.get(int(code)) if math.isfinite(code) and code == int(code) else None
    return entry[lang] if entry else None
