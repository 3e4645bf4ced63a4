"""AIS vessel positions (fishermen's boats): raw NMEA AIVDM/AIVDO text or decoded aisstream JSON.

NMEA: one sentence per line, optionally behind an NMEA 4.10 tag block
(`\\s:station,c:unix-epoch*hh\\!AIVDM,...`). pyais decodes the bits. In a tag-block
group (`\\g:1-2-4711,s:station,c:epoch*hh\\`, then `\\g:2-2-4711*hh\\`) only the first
sentence carries the station and time; the others take them from it.

Counting rule (records + rejects = items): every non-blank line is one item,
except that the lines of a completed multi-part message together are one item.
Each item becomes a record or a reject:
- a position report (types 1, 2, 3, 18, 19, 27) is a Position, id = MMSI;
- static data (types 5 and 24, and the static JSON) names vessels and is a
  reject "static data for MMSI X: merged into vessel names";
- other types (base stations, aids to navigation, SAR aircraft...) are rejects
  saying which type carries no vessel position;
- empty payloads, checksum errors, malformed sentences and parts of
  multi-part messages whose other parts never came are rejects with the reason.
One parse keeps the newest position per MMSI; each older one is a reject
"older position of MMSI X" (snapshot: the fetch is the current picture).

Time of a sentence: its tag-block `c:` time. A line without one takes the time
of the nearest earlier tagged line of the same batch (else the first tagged
line's), because tagged and untagged lines of one receiver stream arrive
together. With no tag block in the batch at all: config `received_at` when set
(to replay a capture file), else the time of the fetch that brought the bytes
(set by `fetch()`); with neither, the item is rejected "no timestamp".
parse itself reads no clock and no file.

Names: static messages of the same batch, plus what `fetch()` learned from
earlier polls and from config `static_path` (NMEA or static JSON). Speed is
knots in AIS and km/h in the record; navigational status 7 means engaged in
fishing (details["engaged_in_fishing"]).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import reduce
from typing import Any

import orjson
from pyais import NMEAMessage
from pyais.exceptions import AISBaseException
from pydantic import Field, field_validator

from data_sources.readers.documents import load_json, sniff_problem
from data_sources.readers.values import parse_time
from engine.contract import Adapter, SourceConfig
from engine.fetch import read_file
from engine.records import ParseResult, Position, Reject, utcnow

KNOT_KMH = 1.852
POSITION_TYPES = {1, 2, 3, 18, 19, 27}
STATIC_TYPES = {5, 24}
OTHER_TYPES = {
    4: "base station report", 6: "addressed binary message", 7: "binary acknowledge", 8: "binary broadcast",
    9: "search-and-rescue aircraft report", 10: "UTC enquiry", 11: "UTC response", 12: "addressed safety message",
    13: "safety acknowledge", 14: "safety broadcast", 15: "interrogation", 16: "assignment mode command",
    17: "DGNSS broadcast", 20: "data link management", 21: "aid-to-navigation report", 22: "channel management",
    23: "group assignment", 25: "single-slot binary", 26: "multi-slot binary",
}
NAV_STATUS = {
    0: "under way using engine", 1: "at anchor", 2: "not under command", 3: "restricted manoeuvrability",
    4: "constrained by draught", 5: "moored", 6: "aground", 7: "engaged in fishing", 8: "under way sailing",
    14: "AIS-SART active", 15: "not defined",
}
_SENTENCE = re.compile(r"^[!$][A-Z0-9]{2}VD[MO],")


class AisConfig(SourceConfig):
    adapter: str = "ais"
    interval: float = 30
    received_at: datetime | None = Field(default=None, description="time for sentences without a tag-block time (replaying a capture)")
    static_path: str | None = Field(default=None, description="NMEA or aisstream static JSON file with vessel names/types, read once")
    max_known_vessels: int = Field(default=50_000, ge=100, description="vessel names kept between polls")

    @field_validator("received_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("received_at needs a zone, e.g. 2024-12-09T22:07:14Z")
        return v


@dataclass
class Report:
    """One AIS item, normalised from NMEA or JSON."""

    ref: str
    text: str
    kind: str  # position | static | other
    mmsi: int | None = None
    msg_type: int | str | None = None
    time: datetime | None = None
    time_source: str = ""
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Line:
    number: int
    text: str
    sentence: str
    time: datetime | None
    station: str | None


def ship_type_text(code: Any) -> str | None:
    try:
        c = int(code)
    except (TypeError, ValueError):
        return None
    fixed = {30: "fishing", 31: "towing", 32: "towing (large)", 33: "dredging", 34: "diving", 35: "military",
             36: "sailing", 37: "pleasure craft", 50: "pilot", 51: "search and rescue", 52: "tug", 53: "port tender",
             54: "anti-pollution", 55: "law enforcement", 58: "medical transport"}
    ranges = {2: "wing in ground", 4: "high-speed craft", 6: "passenger", 7: "cargo", 8: "tanker", 9: "other"}
    return fixed.get(c) or (ranges.get(c // 10) if 20 <= c <= 99 else None)


def _clean_text(value: Any) -> str:
    return " ".join(str(value or "").replace("@", " ").split())


# ---- NMEA ------------------------------------------------------------------------

def _tag_block(line: str) -> tuple[dict[str, str], str, str | None]:
    """'\\s:x,c:1*hh\\!AIVDM...' -> (tag fields, sentence, problem)."""
    if not line.startswith("\\"):
        return {}, line, None
    end = line.find("\\", 1)
    if end < 0:
        return {}, line, "tag block is not closed"
    block, sentence = line[1:end], line[end + 1:]
    body, _, checksum = block.partition("*")
    if checksum:
        computed = reduce(lambda a, ch: a ^ ord(ch), body, 0)
        if checksum[:2].upper() != f"{computed:02X}":
            return {}, sentence, f"tag block checksum error (computed {computed:02X}, says {checksum[:2]})"
    fields = dict(part.split(":", 1) for part in body.split(",") if ":" in part)
    return fields, sentence, None


def _tag_time(fields: dict[str, str]) -> datetime | None:
    text = fields.get("c", "")
    if not text.isdigit():
        return None
    try:
        return parse_time(int(text))  # epoch seconds, or milliseconds
    except ValueError:
        return None


def _read_lines(text: str) -> tuple[list[_Line], list[Reject]]:
    lines, rejects = [], []
    groups: dict[str, tuple[str | None, datetime | None]] = {}  # g: group id -> (station, time) of its first line
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line:
            continue
        fields, sentence, problem = _tag_block(line)
        if problem:
            rejects.append(Reject.of(problem, line, number))
        elif not _SENTENCE.match(sentence):
            rejects.append(Reject.of("not an AIS sentence (expected !xxVDM or !xxVDO)", line, number))
        else:
            station, when = _grouped(fields, groups)
            lines.append(_Line(number, line, sentence, when, station))
    return lines, rejects


def _grouped(fields: dict[str, str], groups: dict[str, tuple[str | None, datetime | None]]) -> tuple[str | None, datetime | None]:
    """The station and time of a line. In an NMEA 4.10 group (`g:1-2-4711`) only the first
    sentence carries `s:` and `c:`; the others take them from it by the group id."""
    station, when = fields.get("s"), _tag_time(fields)
    group = fields.get("g", "").rpartition("-")[2]
    if not group:
        return station, when
    if station is not None or when is not None:
        groups[group] = (station, when)
        return station, when
    return groups.get(group, (None, None))


def _sentences(lines: list[_Line]) -> tuple[list[tuple[list[_Line], Any]], list[Reject]]:
    """Checked pyais sentences, multi-part ones assembled: ([(lines, message)], rejects)."""
    done: list[tuple[list[_Line], Any]] = []
    rejects: list[Reject] = []
    open_groups: dict[tuple, list[tuple[_Line, Any]]] = {}
    for line in lines:
        try:
            msg = NMEAMessage(line.sentence.encode("ascii"))
        except (AISBaseException, ValueError, IndexError, UnicodeError) as exc:
            rejects.append(Reject.of(f"malformed AIS sentence ({type(exc).__name__})", line.text, line.number))
            continue
        if not msg.is_valid:
            rejects.append(Reject.of(f"checksum error (sentence says {msg.checksum:02X})", line.text, line.number))
            continue
        if not msg.payload:
            rejects.append(Reject.of("empty payload (a receiver filler sentence, no data)", line.text, line.number))
            continue
        if msg.frag_cnt == 1:
            done.append(([line], msg))
            continue
        key = (line.station, line.sentence[1:6], msg.channel, msg.seq_id, msg.frag_cnt)
        parts = open_groups.get(key, [])
        if msg.frag_num != len(parts) + 1:
            rejects.extend(_incomplete(parts))
            open_groups.pop(key, None)
            if msg.frag_num != 1:
                rejects.append(Reject.of(f"part {msg.frag_num} of {msg.frag_cnt} without the parts before it", line.text, line.number))
                continue
            parts = []
        parts.append((line, msg))
        open_groups[key] = parts
        if len(parts) == msg.frag_cnt:
            del open_groups[key]
            try:
                done.append(([ln for ln, _ in parts], NMEAMessage.assemble_from_iterable([m for _, m in parts])))
            except (AISBaseException, ValueError, IndexError) as exc:
                rejects.append(Reject.of(f"multi-part message does not assemble ({type(exc).__name__})", line.text, line.number))
    for parts in open_groups.values():
        rejects.extend(_incomplete(parts))
    return done, rejects


def _incomplete(parts: list) -> list[Reject]:
    return [Reject.of(f"part {m.frag_num} of a {m.frag_cnt}-part message whose other parts never came", ln.text, ln.number)
            for ln, m in parts]


def _nmea_reports(text: str) -> tuple[list[Report], list[Reject]]:
    lines, rejects = _read_lines(text)
    sentences, more = _sentences(lines)
    rejects.extend(more)
    tagged = [(ln.number, ln.time) for ln in lines if ln.time is not None]
    reports = []
    for group, msg in sentences:
        ref = "+".join(str(ln.number) for ln in group)
        joined = "\n".join(ln.text for ln in group)
        try:
            decoded = msg.decode()
        except (AISBaseException, ValueError, IndexError, KeyError, TypeError) as exc:
            rejects.append(Reject.of(f"undecodable AIS payload ({type(exc).__name__})", joined, ref))
            continue
        report = _from_decoded(decoded, ref, joined)
        own = next((ln.time for ln in group if ln.time is not None), None)
        if own is not None:
            report.time, report.time_source = own, "tag block"
        elif tagged:
            earlier = [t for n, t in tagged if n < group[0].number]
            report.time, report.time_source = (earlier[-1] if earlier else tagged[0][1]), "nearest tagged line"
        report.fields["station"] = group[0].station
        reports.append(report)
    return reports, rejects


def _from_decoded(m: Any, ref: str, text: str) -> Report:
    msg_type = getattr(m, "msg_type", None)
    mmsi = getattr(m, "mmsi", None)
    mmsi = int(mmsi) if str(mmsi or "").isdigit() else None
    if msg_type in POSITION_TYPES:
        status = getattr(m, "status", None)
        fields = {
            "lat": getattr(m, "lat", None), "lon": getattr(m, "lon", None),
            "speed_knots": getattr(m, "speed", None), "course": getattr(m, "course", None),
            "true_heading": getattr(m, "heading", None),
            "nav_status": None if status is None else int(status),
        }
        if msg_type == 19:
            fields.update(name=_clean_text(getattr(m, "shipname", "")), ship_type=_int(getattr(m, "ship_type", None)))
        return Report(ref, text, "position", mmsi, msg_type, fields=fields)
    if msg_type in STATIC_TYPES:
        fields = {"name": _clean_text(getattr(m, "shipname", "")), "callsign": _clean_text(getattr(m, "callsign", "")),
                  "ship_type": _int(getattr(m, "ship_type", None)), "destination": _clean_text(getattr(m, "destination", ""))}
        return Report(ref, text, "static", mmsi, msg_type, fields=fields)
    return Report(ref, text, "other", mmsi, msg_type)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# ---- decoded JSON (aisstream) -------------------------------------------------------

_AISSTREAM_TIME = re.compile(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d+))?\s*([+-]\d\d:?\d\d|Z)?")


def aisstream_time(text: Any) -> datetime:
    """'2025-06-18 15:51:25.073315374 +0000 UTC' (Go's time format) -> aware UTC datetime."""
    m = _AISSTREAM_TIME.match(str(text or "").strip())
    if not m:
        return parse_time(text, timezone.utc)
    zone = m[4] or "+00:00"
    iso = f"{m[1]}T{m[2]}{'.' + m[3][:6].ljust(6, '0') if m[3] else ''}{'+00:00' if zone == 'Z' else zone}"
    return parse_time(iso)


def _flatten_envelope(item: dict) -> dict:
    """aisstream's {"MessageType", "MetaData", "Message": {type: {...}}} -> the flattened keys."""
    meta = item.get("MetaData") or {}
    body = (item.get("Message") or {}).get(item.get("MessageType"), {}) if isinstance(item.get("Message"), dict) else {}
    if not isinstance(meta, dict) or not isinstance(body, dict):
        return item
    flat = {"MMSI": meta.get("MMSI", body.get("UserID")), "ShipName": meta.get("ShipName"), "timestamp": meta.get("time_utc"),
            "SOG": body.get("Sog"), "COG": body.get("Cog"), "TrueHeading": body.get("TrueHeading"),
            "NavigationalStatus": body.get("NavigationalStatus"), "Type": body.get("Type"),
            "Destination": body.get("Destination"), "CallSign": body.get("CallSign"), "Name": body.get("Name")}
    if "Latitude" in body or "latitude" in meta:
        flat["lat"], flat["lon"] = body.get("Latitude", meta.get("latitude")), body.get("Longitude", meta.get("longitude"))
    if item.get("MessageType") == "ShipStaticData":
        flat.pop("lat", None)
    return flat


def _json_report(item: Any, index: int) -> Report | Reject:
    if not isinstance(item, dict):
        return Reject.of("AIS entry is not an object", item, index)
    if "MetaData" in item and "Message" in item:
        item = _flatten_envelope(item)
    text = orjson.dumps(item, default=str).decode()[:300]
    mmsi = item.get("MMSI", item.get("UserID"))
    mmsi = int(mmsi) if isinstance(mmsi, (int, str)) and str(mmsi).isdigit() else None
    try:
        when = aisstream_time(item["timestamp"]) if item.get("timestamp") else None
    except ValueError:
        return Reject.of(f"unreadable timestamp {item.get('timestamp')!r}", text, index)
    name = _clean_text(item.get("ShipName") or item.get("Name"))
    if mmsi is None and "lat" not in item and "lon" not in item:
        return Reject.of("not an AIS report (no MMSI and no position)", text, index)
    if "lat" not in item and "lon" not in item:
        fields = {"name": name, "ship_type": _int(item.get("Type")), "destination": _clean_text(item.get("Destination")),
                  "callsign": _clean_text(item.get("CallSign"))}
        return Report(str(index), text, "static", mmsi, "ShipStaticData", when, "source timestamp" if when else "", fields)
    fields = {"lat": item.get("lat"), "lon": item.get("lon"), "speed_knots": item.get("SOG"), "course": item.get("COG"),
              "true_heading": item.get("TrueHeading"), "nav_status": _int(item.get("NavigationalStatus")), "name": name}
    return Report(str(index), text, "position", mmsi, "PositionReport", when, "source timestamp" if when else "", fields)


# ---- the adapter ---------------------------------------------------------------------

class Ais(Adapter):
    name = "ais"
    Config = AisConfig
    kinds = ("position",)
    snapshot = True
    description = "AIS vessel positions (NMEA AIVDM or decoded aisstream JSON), fishing boats flagged"

    def __init__(self, source: str, config: SourceConfig | None = None):
        super().__init__(source, config)
        self.fetched_at: datetime | None = None
        self.known_vessels: dict[int, dict[str, Any]] = {}
        self._static_loaded = False

    # ---- I/O: fetch time, vessel names from the static file and from earlier polls
    def fetch(self) -> bytes:
        if not self._static_loaded:
            self._static_loaded = True
            if self.config.static_path:
                self.learn_vessels(read_file(self.config.static_path, self.config.max_bytes))
        raw = super().fetch()
        self.fetched_at = utcnow()
        self.learn_vessels(raw)
        return raw

    def learn_vessels(self, raw: bytes) -> None:
        """Remember names/types from static messages in `raw`, for later parses."""
        reports, _ = self.load(raw)
        for mmsi, info in _static_info(reports).items():
            # re-inserted so that the dict's order is least recently heard first
            self.known_vessels[mmsi] = {**self.known_vessels.pop(mmsi, {}), **info}
        while len(self.known_vessels) > self.config.max_known_vessels:
            self.known_vessels.pop(next(iter(self.known_vessels)))

    # ---- pure
    def read(self, reports: list[Report | Reject]) -> ParseResult:
        result = ParseResult()
        result.rejects.extend(r for r in reports if isinstance(r, Reject))
        reports = [r for r in reports if isinstance(r, Report)]
        names = {**self.known_vessels}
        for mmsi, info in _static_info(reports).items():
            names[mmsi] = {**names.get(mmsi, {}), **info}
        newest: dict[int, tuple[Report, Position]] = {}
        for report in reports:
            built = self._record(report, names)
            if isinstance(built, Position):
                built = _keep_newest(newest, report, built)
            if built is not None:
                result.rejects.append(built)
        result.records.extend(p for _, p in sorted(newest.values(), key=lambda t: _ref_order(t[0].ref)))
        return result

    def load(self, raw: bytes) -> tuple[list[Report | Reject], Reject | None]:
        """NMEA lines (with or without tag blocks) or decoded JSON reports, in input order."""
        problem = sniff_problem(raw)
        if problem:
            return [], Reject.of(problem, raw[:120].decode("utf-8", "replace"))
        head = raw.lstrip()[:1]
        if head in (b"[", b"{"):
            data, problem = load_json(raw)
            if problem:
                return [], problem
            items = data if isinstance(data, list) else [data]
            return [_json_report(item, i) for i, item in enumerate(items)], None
        text = raw.decode("ascii", "replace")
        if not any(_SENTENCE.match(_tag_block(ln.strip())[1]) for ln in text.splitlines()[:2000]):
            return [], Reject.of("not AIS data (no !AIVDM/!AIVDO sentence and not JSON)", raw[:120].decode("utf-8", "replace"))
        reports, rejects = _nmea_reports(text)
        return [*rejects, *reports], None

    def _record(self, report: Report, names: dict[int, dict]) -> Position | Reject | None:
        if report.kind == "static":
            who = f"MMSI {report.mmsi}" if report.mmsi else "an unknown MMSI"
            label = f"type {report.msg_type}" if isinstance(report.msg_type, int) else report.msg_type
            return Reject.of(f"static data ({label}) for {who}: merged into vessel names", report.text, report.ref)
        if report.kind == "other":
            what = OTHER_TYPES.get(report.msg_type, "message")
            return Reject.of(f"type {report.msg_type} ({what}) carries no vessel position", report.text, report.ref)
        if not report.mmsi:
            return Reject.of("no valid MMSI", report.text, report.ref)
        when, source = self._time(report)
        if when is None:
            return Reject.of("no timestamp (no tag block in the batch, no received_at and no fetch time)", report.text, report.ref)
        f = report.fields
        lat, lon = f.get("lat"), f.get("lon")
        if lat is None or lon is None:
            return Reject.of("position fields missing (payload cut short)", report.text, report.ref)
        if lat == 91 or lon == 181:
            return Reject.of(f"position not available (lat {lat:g}, lon {lon:g})", report.text, report.ref)
        info = {**names.get(report.mmsi, {}), **{k: v for k, v in f.items() if k in ("name", "ship_type") and v}}
        return self.build(
            Position, report.ref, report.text,
            id=str(report.mmsi), vehicle=str(report.mmsi), vehicle_type="boat", name=info.get("name") or "",
            lat=lat, lon=lon, speed_kmh=_speed_kmh(f.get("speed_knots"), report.msg_type),
            heading=_heading(f.get("true_heading"), f.get("course")), observed_at=when,
            details=_details(report, info, source),
        )

    def _time(self, report: Report) -> tuple[datetime | None, str]:
        if report.time is not None:
            return report.time, report.time_source
        if self.config.received_at is not None:
            return self.config.received_at, "received_at"
        if self.fetched_at is not None:
            return self.fetched_at, "fetch time"
        return None, ""


def _static_info(reports: list) -> dict[int, dict[str, Any]]:
    info: dict[int, dict[str, Any]] = {}
    for r in reports:
        if isinstance(r, Report) and r.kind == "static" and r.mmsi:
            useful = {k: v for k, v in r.fields.items() if v not in (None, "", 0)}
            info[r.mmsi] = {**info.get(r.mmsi, {}), **useful}
    return info


def _keep_newest(newest: dict, report: Report, pos: Position) -> Reject | None:
    """One position per MMSI: the latest time, and at equal times the later in the batch."""
    previous = newest.get(report.mmsi)
    if previous is None or pos.observed_at >= previous[1].observed_at:
        newest[report.mmsi] = (report, pos)
        if previous is None:
            return None
        report, pos = previous
    return Reject.of(f"older position of MMSI {report.mmsi} (a newer report in this batch is kept)", report.text, report.ref)


def _ref_order(ref: str) -> int:
    return int(ref.split("+")[0]) if ref.split("+")[0].isdigit() else 0


def _speed_kmh(knots: Any, msg_type: Any) -> float | None:
    if not isinstance(knots, (int, float)) or knots < 0:
        return None
    if knots >= (63 if msg_type == 27 else 102.3):  # "not available"
        return None
    return round(knots * KNOT_KMH, 2)


def _heading(true_heading: Any, course: Any) -> float | None:
    if isinstance(true_heading, (int, float)) and 0 <= true_heading < 360:
        return float(true_heading)
    if isinstance(course, (int, float)) and 0 <= course < 360:
        return float(course)
    return None


def _details(report: Report, info: dict[str, Any], time_source: str) -> dict[str, Any]:
    f = report.fields
    status = f.get("nav_status")
    details = {
        "mmsi": report.mmsi,
        "message_type": report.msg_type,
        "speed_knots": f.get("speed_knots"),
        "course": f.get("course") if isinstance(f.get("course"), (int, float)) and f["course"] < 360 else None,
        "nav_status": status,
        "nav_status_text": NAV_STATUS.get(status) if status is not None else None,
        "engaged_in_fishing": status == 7,
        "ship_type": info.get("ship_type"),
        "ship_type_text": ship_type_text(info.get("ship_type")),
        "fishing_vessel": info.get("ship_type") == 30,
        "callsign": info.get("callsign"),
        "destination": info.get("destination"),
        "station": f.get("station"),
        "time_source": time_source,
    }
    return {k: v for k, v in details.items() if v not in (None, "")}
