"""Water-gauge readings (pintu air / pos duga air) from CSV, JSON or an MQTT topic.

Formats (told apart by content unless `format` says otherwise):
- CSV with a header; the columns are configurable (`csv_columns`, default the
  pantaubanjir.jakarta.go.id export: tanggal, ketinggian, name_pintu_air).
- JSON: a list (or `{"readings": [...]}`) of `{"gauge": "Manggarai BKB",
  "time": "2023-01-01T10:00:00+07:00", "level_cm": 745}`; optional `name`, `lat`, `lon`.
- MQTT: `url: mqtt://host:1883` plus `mqtt_topic`. `fetch()` subscribes, listens for
  `timeout` seconds (or until `mqtt_max_messages`) and returns the messages as one
  JSON array: a message holding a JSON object adds it, a JSON array adds its items.
  A message that is not JSON becomes an item that `parse` rejects with the reason.
  An object without `gauge` takes the last segment of the topic it came on.

Times without a zone take `timezone` (default WIB: the Jakarta exports are WIB).

Alert level: per gauge in `gauges`, the lower bounds in cm of Siaga III, II and I
(`siaga3`, `siaga2`, `siaga1`): at or above siaga1 -> 3, siaga2 -> 2, siaga3 -> 1,
below -> 0 (Siaga IV, normal). A gauge without thresholds gets alert level 0 and
says so in details: that 0 is not an assessment.

Implausible values: a reading of exactly 0 cm is rejected (`reject_zero`, default on):
the Manggarai series shows isolated zeros between 620 cm neighbours, a logger
dropout, not an empty river. A gauge can also set `valid_min_cm`/`valid_max_cm`;
readings outside are rejected with the reason. Gaps in the hourly series are
kept as gaps (no interpolation); a repeated gauge+hour is a duplicate.

Ids: "<gauge>:<observed UTC, YYYYMMDDTHHMMSSZ>". Not a snapshot: a CSV/JSON file
holds history and an MQTT window holds only the gauges that spoke in it.
"""
from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Literal
from urllib.parse import urlparse

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from data_sources.readers.config_types import ZoneName
from data_sources.readers.documents import blank, load_json, read_csv
from data_sources.readers.values import parse_number, parse_time, utc_stamp, zone_from_name
from engine.contract import Adapter, SourceConfig
from engine.fetch import FetchError
from engine.records import ParseResult, Reading, Reject


class GaugeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="label on screens (default: the gauge key)")
    siaga3: float | None = Field(default=None, description="lower bound of Siaga III (waspada), cm")
    siaga2: float | None = Field(default=None, description="lower bound of Siaga II (kritis), cm")
    siaga1: float | None = Field(default=None, description="lower bound of Siaga I (bencana), cm")
    lat: float | None = None
    lon: float | None = None
    valid_min_cm: float | None = Field(default=None, description="readings below are rejected as implausible")
    valid_max_cm: float | None = Field(default=None, description="readings above are rejected as implausible")

    @model_validator(mode="after")
    def _ordered(self):
        given = [v for v in (self.siaga3, self.siaga2, self.siaga1) if v is not None]
        if given != sorted(given) or len(set(given)) != len(given):
            raise ValueError("thresholds must rise: siaga3 < siaga2 < siaga1")
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        return self

    @property
    def has_thresholds(self) -> bool:
        return any(v is not None for v in (self.siaga3, self.siaga2, self.siaga1))

    def alert_level(self, level: float) -> int:
        for value, threshold in ((3, self.siaga1), (2, self.siaga2), (1, self.siaga3)):
            if threshold is not None and level >= threshold:
                return value
        return 0


class CsvColumns(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time: str = "tanggal"
    level: str = "ketinggian"
    gauge: str | None = Field(default="name_pintu_air", description="None when the file holds one gauge (see default_gauge)")


DEFAULT_GAUGES = {
    # Jakarta's published Siaga bounds (BPBD DKI), as examples and for the sample exports.
    "Manggarai BKB": GaugeSettings(siaga3=750, siaga2=850, siaga1=950),
    "Katulampa": GaugeSettings(siaga3=81, siaga2=151, siaga1=201),
}
SIAGA_NAMES = {0: "Siaga IV (normal)", 1: "Siaga III (waspada)", 2: "Siaga II (kritis)", 3: "Siaga I (bencana)"}


class WaterLevelConfig(SourceConfig):
    adapter: str = "water-level"
    interval: float = 300
    format: Literal["auto", "csv", "json"] = Field(default="auto", description="auto: JSON when the body starts with [ or {")
    timezone: ZoneName = Field(default="WIB", description="zone of times written without one")
    csv_columns: CsvColumns = Field(default_factory=CsvColumns)
    csv_delimiter: str = Field(default=",", min_length=1, max_length=1)
    csv_whole_without_newline: bool = Field(default=False, description="the source writes whole CSV files with no newline after the last line: "
                                            "read that line as data (by default it is taken for a line caught mid-write and rejected)")
    default_gauge: str | None = Field(default=None, description="gauge of rows/items that name none")
    gauges: dict[str, GaugeSettings] = Field(default_factory=lambda: dict(DEFAULT_GAUGES))
    reject_zero: bool = Field(default=True, description="reject readings of exactly 0 cm as logger dropouts")
    mqtt_topic: str | None = Field(default=None, description="topic (wildcards allowed) when url is mqtt://host:port")
    mqtt_qos: int = Field(default=1, ge=0, le=2)
    mqtt_max_messages: int = Field(default=1000, ge=1, description="stop listening early after this many messages")

    @model_validator(mode="after")
    def _no_generic_thresholds(self):
        if self.thresholds:
            raise ValueError("water-level reads per-gauge Siaga bounds from `gauges:` (siaga3/siaga2/siaga1), not `thresholds:`")
        if self.url and self.url.startswith("mqtt://") and not (self.mqtt_topic or urlparse(self.url).path.strip("/")):
            raise ValueError("an mqtt:// url needs mqtt_topic")
        return self

    def gauge(self, key: str) -> GaugeSettings | None:
        if key in self.gauges:
            return self.gauges[key]
        folded = key.casefold()
        return next((g for name, g in self.gauges.items() if name.casefold() == folded), None)


class WaterLevel(Adapter):
    name = "water-level"
    Config = WaterLevelConfig
    kinds = ("reading",)
    snapshot = False
    description = "Water-gauge levels (cm) from CSV, JSON or MQTT with per-gauge Siaga thresholds"

    # ---- I/O -----------------------------------------------------------------
    def fetch(self) -> bytes:
        if self.config.url and self.config.url.startswith("mqtt://"):
            return self._mqtt_fetch()
        return super().fetch()

    def _mqtt_fetch(self) -> bytes:
        import paho.mqtt.client as mqtt

        url = urlparse(self.config.url)
        topic = self.config.mqtt_topic or url.path.lstrip("/")
        payloads: list[tuple[str, bytes]] = []
        state = {"bytes": 0, "error": None}
        done = threading.Event()

        def on_connect(client, userdata, flags, reason_code, properties):
            if reason_code.is_failure:
                state["error"] = f"broker refused the connection: {reason_code}"
                done.set()
            else:
                client.subscribe(topic, qos=self.config.mqtt_qos)

        def on_message(client, userdata, message):
            if done.is_set():  # one network read may bring more than mqtt_max_messages: they wait for the next poll
                return
            state["bytes"] += len(message.payload)
            if state["bytes"] > self.config.max_bytes:
                state["error"] = f"MQTT messages over the {self.config.max_bytes} byte limit"
                done.set()
                return
            payloads.append((message.topic, bytes(message.payload)))
            if len(payloads) >= self.config.mqtt_max_messages:
                done.set()

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"damamaya-{self.source}-{uuid.uuid4().hex[:8]}")
        client.connect_timeout = self.config.timeout
        client.on_connect, client.on_message = on_connect, on_message
        try:
            client.connect(url.hostname or "127.0.0.1", url.port or 1883, keepalive=max(10, int(self.config.timeout * 2)))
            deadline = time.monotonic() + self.config.timeout
            while not done.is_set() and (left := deadline - time.monotonic()) > 0:
                client.loop(timeout=min(0.1, left))
        except OSError as exc:
            raise FetchError(f"MQTT broker {url.hostname}:{url.port or 1883} unreachable: {exc}") from exc
        finally:
            client.disconnect()
        if state["error"]:
            raise FetchError(state["error"])
        return orjson.dumps([item for t, p in payloads for item in _message_items(t, p)])

    # ---- pure ----------------------------------------------------------------
    def load(self, raw: bytes) -> tuple[list[tuple[Any, dict | Reject]], Reject | None]:
        """(ref, reading fields or a Reject) for each item of the JSON list or CSV export, in input order."""
        fmt = self.config.format
        if fmt == "auto":
            fmt = "json" if raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{") else "csv"
        return self._json_items(raw) if fmt == "json" else self._csv_items(raw)

    def read(self, items: list[tuple[Any, dict | Reject]]) -> ParseResult:
        result = ParseResult()
        for ref, item in items:  # rejects found while splitting stay in input order
            self.collect(result, item if isinstance(item, Reject) else self._reading(item, ref))
        return self.dedupe(result)

    def _json_items(self, raw: bytes) -> tuple[list[tuple[Any, dict | Reject]], Reject | None]:
        data, problem = load_json(raw)
        if problem:
            return [], problem
        if isinstance(data, dict) and isinstance(data.get("readings"), list):
            data = data["readings"]
        if not isinstance(data, list):
            return [], Reject.of("JSON is not a list of {gauge, time, level_cm} readings", data)
        items = []
        for i, item in enumerate(data):
            if isinstance(item, dict) and "mqtt_error" in item:
                items.append((i, Reject.of(f"MQTT message on {item.get('topic')}: {item['mqtt_error']}", item.get("payload", ""), i)))
            elif not isinstance(item, dict):
                items.append((i, Reject.of("reading is not an object", item, i)))
            else:
                gauge = item.get("gauge") or _topic_gauge(item.get("topic")) or self.config.default_gauge
                items.append((i, {"gauge": gauge, "time": item.get("time"), "level": item.get("level_cm"),
                                  "name": item.get("name"), "lat": item.get("lat"), "lon": item.get("lon"), "raw": item}))
        return items, None

    def _csv_items(self, raw: bytes) -> tuple[list[tuple[Any, dict | Reject]], Reject | None]:
        rows, problem, unfinished = read_csv(raw, delimiter=self.config.csv_delimiter, latin1=False,
                                             whole_without_newline=self.config.csv_whole_without_newline)
        if problem:
            return [], problem
        cols = self.config.csv_columns
        header = [h.strip() for h in rows[0]] if rows else []
        needed = [c for c in (cols.time, cols.level, cols.gauge if not self.config.default_gauge else None) if c]
        missing = [c for c in needed if c not in header]
        if missing:
            return [], Reject.of(f"CSV header lacks column(s) {', '.join(missing)} (has: {', '.join(header[:10]) or 'nothing'})", header)
        at = {name: header.index(name) for name in needed}
        items = []
        for line, row in enumerate(rows[1:], start=2):
            if blank(row):
                continue
            if len(row) != len(header):
                items.append((line, Reject.of(f"row has {len(row)} fields, the header has {len(header)}", ",".join(row), f"line {line}")))
                continue
            gauge = row[at[cols.gauge]].strip() if cols.gauge in at else None
            items.append((f"line {line}", {"gauge": gauge or self.config.default_gauge, "time": row[at[cols.time]],
                                           "level": row[at[cols.level]], "raw": ",".join(row)}))
        return [*items, *([(unfinished.ref, unfinished)] if unfinished else [])], None

    def _reading(self, item: dict, ref: Any):
        raw = item["raw"]
        gauge = str(item["gauge"] or "").strip()
        if not gauge:
            return Reject.of("reading names no gauge (and no default_gauge is configured)", raw, ref)
        try:
            when = parse_time(item["time"], zone_from_name(self.config.timezone))
        except ValueError as exc:
            return Reject.of(f"time: {exc}", raw, ref)
        level = parse_number(item["level"])
        if level is None:
            return Reject.of(f"level {item['level']!r} is not a number", raw, ref)
        settings = self.config.gauge(gauge)
        implausible = self._implausible(gauge, level, settings)
        if implausible:
            return Reject.of(implausible, raw, ref)
        lat, lon = (settings.lat, settings.lon) if settings and settings.lat is not None else (item.get("lat"), item.get("lon"))
        alert = settings.alert_level(level) if settings and settings.has_thresholds else 0
        details: dict[str, Any] = {"siaga": SIAGA_NAMES[alert]}
        if settings and settings.has_thresholds:
            details["thresholds_cm"] = {"siaga3": settings.siaga3, "siaga2": settings.siaga2, "siaga1": settings.siaga1}
        else:
            details["thresholds_cm"] = None
            details["alert_note"] = f"no Siaga thresholds configured for {gauge!r}: alert level 0 is not an assessment"
        return self.build(
            Reading, ref, raw,
            id=f"{gauge}:{utc_stamp(when)}",
            station=gauge, station_name=(settings.name if settings and settings.name else item.get("name") or gauge),
            quantity="water_level", value=level, unit="cm", alert_level=alert,
            lat=parse_number(lat), lon=parse_number(lon),
            observed_at=when, details=details,
        )

    def _implausible(self, gauge: str, level: float, settings: GaugeSettings | None) -> str | None:
        if self.config.reject_zero and level == 0:
            return f"0 cm at {gauge}: a zero reading is a logger dropout, not an empty river (reject_zero)"
        if settings and settings.valid_min_cm is not None and level < settings.valid_min_cm:
            return f"{level:g} cm at {gauge} is below its plausible minimum {settings.valid_min_cm:g} cm (valid_min_cm)"
        if settings and settings.valid_max_cm is not None and level > settings.valid_max_cm:
            return f"{level:g} cm at {gauge} is above its plausible maximum {settings.valid_max_cm:g} cm (valid_max_cm)"
        return None


def _topic_gauge(topic: Any) -> str | None:
    return str(topic).rstrip("/").rsplit("/", 1)[-1] or None if topic else None


def _message_items(topic: str, payload: bytes) -> list[Any]:
    """One MQTT message -> the items it holds, each tagged with its topic."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return [{"mqtt_error": "message is not JSON", "topic": topic, "payload": payload[:200].decode("utf-8", "replace")}]
    items = data if isinstance(data, list) else [data]
    return [{**item, "topic": topic} if isinstance(item, dict) else item for item in items]
