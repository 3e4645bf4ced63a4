"""The adapter contract.

An adapter is one module in `data_sources/` holding one `Adapter` subclass:
- `Config`: a pydantic schema for its block in config.yaml (extends `SourceConfig`);
- `fetch()`: the I/O, bounded by the source's timeout and `max_bytes`;
- `parse(raw)`: pure, bytes in, `ParseResult` (records + rejects with reasons) out.
  It must not raise on bad data; `engine.pipeline.parse_safely` still guards it.
Capabilities are class attributes, so screens and the collector can ask without
instantiating anything.

Shared by every adapter, so each rule lives once (all of them total: bad data
gives None, a Reject or ValueError as documented, never another exception):
- documents: `load_json`, `read_csv`, `sniff_problem` here; `load_xml`,
  `load_xml_or_json` and namespace-blind element access in `data_sources._xml`;
- values: `parse_time` (only ValueError), `split_zone`, `parse_number` (amounts)
  and `plain_number` (coordinates), both always finite; `as_text` for ids;
  `utc_iso` / `utc_stamp` for times in details and ids;
- config types: `ZoneName` for every zone key (IANA names and WIB/WITA/WIT/UTC,
  read with `zone_from_name`), `CategoryName`, `SeverityName`, `StatusName`;
- records and rejects: `self.build` (validation and storability as rejects),
  `self.reject` (masks personal data, see `Adapter.private_excerpts`),
  `self.dedupe` (one record per id, newest version kept), `self.collect`.
"""
from __future__ import annotations

import csv
import functools
import io
import json
import math
import re
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Annotated, Any, ClassVar, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.records import SEVERITIES, STATUSES, ParseResult, Reject
from engine.taxonomy import CATEGORIES


class FetchError(Exception):
    """A fetch that produced no usable bytes (network, HTTP status, size limit)."""


class SourceConfig(BaseModel):
    """Keys every source block has. Adapters add their own in a subclass."""

    model_config = ConfigDict(extra="forbid")

    adapter: str
    enabled: bool = True
    title: str | None = Field(default=None, description="label on screens; defaults to the source name")
    url: str | None = None
    path: str | None = Field(default=None, description="a local file read on each poll instead of a URL")
    headers: dict[str, str] = Field(default_factory=dict)
    interval: float = Field(default=60, description="seconds between polls")
    timeout: float = Field(default=10, description="seconds before a fetch is abandoned")
    stale_after: float | None = Field(default=None, description="seconds without success before screens mark it stale; default 3 x interval, at least 60")
    max_bytes: int = Field(default=20_000_000, ge=1024)
    live_hours: float = Field(default=24, gt=0, description="how long a closed or past record stays on the live wall")
    thresholds: dict[str, Any] = Field(default_factory=dict)

    @field_validator("interval")
    @classmethod
    def _interval(cls, v: float) -> float:
        if v < 1:
            raise ValueError("must be at least 1 second")
        return v

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("must be more than 0 seconds")
        return v

    @model_validator(mode="after")
    def _one_origin(self):
        if self.url and self.path:
            raise ValueError("give either url or path, not both")
        return self

    @property
    def stale_seconds(self) -> float:
        return self.stale_after if self.stale_after is not None else max(3 * self.interval, 60.0)


class Adapter:
    name: ClassVar[str] = ""
    Config: ClassVar[type[SourceConfig]] = SourceConfig
    kinds: ClassVar[tuple[str, ...]] = ("incident",)
    # True when each fetch is the whole current state (positions, gauges):
    # records missing from a new fetch leave the live view. False for feeds of
    # events, where records stay live until they close or age out.
    snapshot: ClassVar[bool] = False
    description: ClassVar[str] = ""
    # Rejects keep an excerpt of the input so an operator can see what was not
    # used. An adapter whose input holds personal data (a 112 caller's number, a
    # home address) sets `private_excerpts = True`; every reject it makes through
    # self.reject (and so self.build and self.dedupe) then shows, in its excerpt:
    # - "[private]" for the value of each key named in `private_keys` (JSON keys
    #   and CSV columns of items given as dicts; "key": value pairs and
    #   <key>...</key> elements in items given as text; names are case-blind);
    # - "[...]" for every run of 6 or more digits, which may be broken by spaces,
    #   dots, dashes or brackets as phone numbers are written (dates, coordinates
    #   and long ids in the excerpt go too; the reject's ref still names the item).
    # Reasons and refs are not masked: keep personal data out of them. Records
    # are not touched: an adapter keeps personal data under details["private"].
    # `private_keys` may be widened per instance (column names from the config).
    private_excerpts: ClassVar[bool] = False
    private_keys: frozenset[str] = frozenset()

    def __init__(self, source: str, config: SourceConfig | None = None):
        self.source = source
        self.config = config if config is not None else self.Config(adapter=self.name)

    # ---- I/O -----------------------------------------------------------------
    def fetch(self) -> bytes:
        if self.config.path:
            return read_file(self.config.path, self.config.max_bytes)
        if self.config.url:
            return http_get(self.config.url, self.config.timeout, self.config.max_bytes, self.config.headers)
        raise FetchError(f"source {self.source!r} has neither url nor path")

    def close(self) -> None:
        """Release connections held between polls (MQTT, sockets)."""

    # ---- pure ----------------------------------------------------------------
    def parse(self, raw: bytes) -> ParseResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def build(self, model: type, ref: Any, item: Any = "", **fields) -> Any:
        """Make a record, or a Reject saying which field was wrong or why the record cannot be stored."""
        try:
            record = model(source=self.source, **fields)
        except ValidationError as exc:
            return self.reject(validation_reason(exc), item, ref)
        problem = unstorable(record)
        return record if problem is None else self.reject(problem, item, ref)

    def reject(self, reason: str, item: Any = "", ref: Any = None) -> Reject:
        """A Reject of this source: `Reject.of` (never raises), masked when `private_excerpts` is set."""
        if self.private_excerpts:
            item = private_excerpt(item, self.private_keys)
        return Reject.of(reason, item, ref)

    @staticmethod
    def collect(result: ParseResult, built: Any) -> None:
        (result.rejects if isinstance(built, Reject) else result.records).append(built)

    def dedupe(self, built: ParseResult | Iterable[Any]) -> ParseResult:
        """One record per id, the newest version kept; every other copy becomes a reject.

        `built` is what a parse made, in input order: records, Rejects, and
        (record, ref, item) triples when the reject for a dropped copy should
        show the input item it came from (else it shows the record). A
        ParseResult counts as its rejects followed by its records.
        The version is `updated_at` for incidents, else the record's event time.
        A copy older than the newest is "older version of id X, superseded in
        the same document"; a copy of the same version as the one kept (the
        first) is "duplicate of id X". Rejects keep their order, so records +
        rejects still equals the items; records keep the place of their id's first copy.
        """
        if isinstance(built, ParseResult):
            built = [*built.rejects, *built.records]
        result = ParseResult()
        kept: dict[str, tuple[Any, Any, Any]] = {}
        for entry in built:
            if isinstance(entry, Reject):
                result.rejects.append(entry)
                continue
            this = entry if isinstance(entry, tuple) else (entry, entry.id, None)
            rid = this[0].id
            first = kept.setdefault(rid, this)
            if first is this:
                continue
            new, old = _version(this[0]), _version(first[0])
            if new > old:
                kept[rid], dropped = this, first
            else:
                dropped = this

            reason = f"duplicate of id {rid}" if new == old else f"older version of id {rid}, superseded in the same document"
            record, ref, item = dropped
            result.rejects.append(self.reject(reason, _filled(record) if item is None else item, ref))
        result.records.extend(record for record, _, _ in kept.values())
        return result


def _version(record: Any) -> datetime:
    return getattr(record, "updated_at", None) or record.event_time


def _filled(record: BaseModel) -> dict[str, Any]:
    """The record's fields that say something, for a reject excerpt (nulls would fill the 300 characters)."""
    return {k: v for k, v in record.model_dump(mode="json").items() if v not in (None, "", {}, [])}


# ---- personal data in reject excerpts (see Adapter.private_excerpts) -----------------------

PRIVATE = "[private]"
_DIGIT_RUN = re.compile(r"[+(]?\d(?:[\s().-]{0,2}\d){5,}")
_JSON_SCALAR = re.compile(r"[^,}\]\s]*")


def mask_digits(text: str) -> str:
    """Every run of 6+ digits ('+62 361 223-344', '(0361) 223344', '081234567890') -> '[...]'."""
    return _DIGIT_RUN.sub("[...]", text)


def private_excerpt(item: Any, keys: Iterable[str] = ()) -> str:
    """The excerpt of `item` for a reject of a private adapter: named keys and digit runs masked.

    The whole item is masked before it is cut to the excerpt's 300 characters,
    so a phone number cut in half at the end cannot slip through.
    """
    names = frozenset(str(k).lower() for k in keys)
    if names and isinstance(item, (dict, list, tuple)):
        item = _mask_keys(item, names, [2000])
    text = Reject.excerpt(item, limit=20_000)
    if names:
        text = _mask_named_text(text, names)
    return mask_digits(text)[:300]


def _mask_keys(item: Any, names: frozenset[str], budget: list[int], depth: int = 0) -> Any:
    """A copy with the values of named keys replaced; deep or huge parts (beyond any excerpt) become '...'."""
    budget[0] -= 1
    if budget[0] < 0 or depth > 40:
        return "..."
    if isinstance(item, dict):
        return {k: PRIVATE if str(k).lower() in names else _mask_keys(v, names, budget, depth + 1) for k, v in item.items()}
    if isinstance(item, (list, tuple)):
        return [_mask_keys(v, names, budget, depth + 1) for v in item]
    return item


@functools.lru_cache(maxsize=16)
def _named_patterns(names: frozenset[str]) -> tuple[re.Pattern, re.Pattern]:
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    json_key = re.compile(rf'"(?:{alternatives})"\s*:\s*', re.I)
    xml_element = re.compile(rf"(<(?:[\w.-]+:)?(?:{alternatives})(?:\s[^<>]*)?>)[^<]*", re.I)
    return json_key, xml_element


def _mask_named_text(text: str, names: frozenset[str]) -> str:
    json_key, xml_element = _named_patterns(names)
    text = xml_element.sub(lambda m: m[1] + PRIVATE, text)
    out, pos = [], 0
    for m in json_key.finditer(text):
        if m.start() < pos:
            continue  # inside a value already masked
        out.append(text[pos:m.end()] + f'"{PRIVATE}"')
        pos = _json_value_end(text, m.end())
    return "".join(out) + text[pos:]


def _json_value_end(text: str, start: int) -> int:
    """Where the JSON value starting at `start` ends (or the text ends, for a cut excerpt)."""
    if start >= len(text):
        return start
    if text[start] == '"':
        i = start + 1
        while i < len(text) and text[i] != '"':
            i += 2 if text[i] == "\\" else 1
        return min(i + 1, len(text))
    if text[start] in "[{":
        depth, i, in_string = 0, start, False
        while i < len(text):
            ch = text[i]
            if in_string:
                i += 1 if ch != "\\" else 2
                in_string = ch != '"'
                continue
            if ch == '"':
                in_string = True
            elif ch in "[{":
                depth += 1
            elif ch in "]}":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        return len(text)
    return _JSON_SCALAR.match(text, start).end()


def unstorable(record: BaseModel) -> str | None:
    """Why `record_to_json`/`content_hash` would fail on the record, or None.

    The model accepts any JSON-like `details` and `geometry`, but the store
    writes records with orjson, which refuses integers beyond 64 bits and
    nesting deeper than 255 levels (pydantic's own dump stops a little later).
    """
    try:  # only the free-form fields can fail; the dict around them keeps orjson's depth count as in the record
        dumped = record.model_dump(mode="json", include={"details", "geometry"})
    except (ValueError, TypeError, RecursionError) as exc:
        return f"the record cannot be stored: {_storage_words(exc)}"
    try:
        orjson.dumps(dumped)
    except (TypeError, ValueError, RecursionError) as exc:  # orjson.JSONEncodeError is a TypeError
        where = _big_int_path(dumped)
        if where:
            return f"{where} is an integer beyond 64 bits; the record cannot be stored"
        return f"the record cannot be stored: {_storage_words(exc)}"
    return None


def _storage_words(exc: Exception) -> str:
    text = str(exc)
    if "depth" in text or "ecursion" in text:
        return "its details or geometry are nested too deeply (over 255 levels)"
    return text[:200] or type(exc).__name__


def _big_int_path(value: Any) -> str | None:
    """'details.counts.2' for the first integer orjson cannot write, found without recursion."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, int) and not isinstance(node, bool) and not -(2**63) <= node < 2**64:
            return path or "a value"
        if isinstance(node, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in reversed(list(node.items())))
        elif isinstance(node, list):
            stack.extend((f"{path}.{i}", v) for i, v in reversed(list(enumerate(node))))
    return None


def validation_reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "record"
        parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def read_file(path: str, max_bytes: int) -> bytes:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise FetchError(f"{path} is {size} bytes, over the {max_bytes} byte limit")
        return p.read_bytes()
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from exc


def http_get(url: str, timeout: float, max_bytes: int, headers: dict[str, str] | None = None) -> bytes:
    """GET with a whole-request timeout and a body size limit."""
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, headers=headers) as client:
            with client.stream("GET", url) as resp:
                if resp.status_code >= 400:
                    raise FetchError(f"HTTP {resp.status_code} from {url}")
                chunks, total = [], 0
                for chunk in resp.iter_bytes():
                    total += len(chunk)
                    if total > max_bytes:
                        raise FetchError(f"body over the {max_bytes} byte limit from {url}")
                    chunks.append(chunk)
                return b"".join(chunks)
    except httpx.TimeoutException as exc:
        raise FetchError(f"timed out after {timeout:g} s: {url}") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}") from exc


# ---- helpers for parse ---------------------------------------------------------

def sniff_problem(raw: bytes) -> str | None:
    """A reason when the body is plainly not a feed: empty, or an HTML error page."""
    head = raw[:512].lstrip().lower()
    if not head:
        return "empty body"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:200]:
        return "an HTML page, not a feed (the server probably returned an error page)"
    return None


def read_csv(raw: bytes, *, delimiter: str = ",", latin1: bool = True) -> tuple[list[list[str]], Reject | None]:
    """The records of a CSV export, header first, as the csv module reads them
    (an empty line is []); or one Reject for the whole document, never an exception.

    Text is UTF-8 (a BOM is dropped). With `latin1`, bytes that are not UTF-8
    are read as Latin-1 (spreadsheet exports); without, they are a reject. An
    empty body, an HTML error page, NUL bytes (binary data) and what the csv
    module refuses (a field over its 128 KiB limit) are rejects too.
    """
    problem = sniff_problem(raw) or ("binary data, not CSV text" if b"\x00" in raw else None)
    if problem:
        return [], Reject.of(problem, raw[:120])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if not latin1:
            return [], Reject.of(f"not UTF-8 text ({exc.reason} at byte {exc.start}), so not a CSV export", raw[:120])
        text = raw.decode("latin-1")
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)), None
    except csv.Error as exc:
        return [], Reject.of(f"not a readable CSV: {exc}", text[:120])


def blank(row: list[str]) -> bool:
    return not any(cell.strip() for cell in row)


def load_json(raw: bytes) -> tuple[Any, Reject | None]:
    """Decode JSON; on failure a Reject saying why, never an exception.

    Every number it returns is finite, and every integer fits in 64 bits, as
    orjson reads them. orjson refuses NaN, Infinity and numbers beyond a double,
    but the fallback for bodies orjson refuses (Latin-1 feeds) goes through the
    standard json module, which would accept them: there NaN, Infinity, -Infinity
    and overflowing numbers such as 1e999 become None ("not reported", as
    `parse_number` reads them), and integers beyond 64 bits become floats.
    """
    problem = sniff_problem(raw)
    if problem:
        return None, Reject.of(problem, raw[:120])
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as exc:
        try:  # orjson refuses non-UTF-8 (and NaN): a Latin-1 feed is still worth reading
            return json.loads(_json_text(raw), parse_constant=_no_constant, parse_float=_finite_float, parse_int=_int64), None
        except (ValueError, RecursionError):
            return None, Reject.of(f"not valid JSON: {exc}", raw[:120])
    except RecursionError:
        return None, Reject.of("JSON nested too deeply", raw[:120])


def _json_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _no_constant(name: str) -> None:
    return None  # NaN, Infinity, -Infinity


def _int64(text: str) -> int | float | None:
    if len(text) <= 20:
        value = int(text)
        if -(2**63) <= value < 2**64:
            return value
    return _finite_float(text)


_ID_MONTHS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "mei": 5, "may": 5, "jun": 6, "jul": 7, "agu": 8, "agt": 8,
              "aug": 8, "sep": 9, "okt": 10, "oct": 10, "nov": 11, "des": 12, "dec": 12}
# Zone labels Indonesian sources write after a time, in hours east of UTC.
ZONE_OFFSETS = {"UTC": 0, "GMT": 0, "Z": 0, "WIB": 7, "WITA": 8, "WIT": 9}
_TRAILING_ZONE = re.compile(r"^(.*?\d)\s*(WITA|WIB|WIT|UTC|GMT|Z)$", re.I)


@functools.lru_cache(maxsize=64)
def zone_from_name(name: str) -> tzinfo:
    """'WIB', 'WITA', 'WIT', 'UTC', '+07:00', 'UTC+8' or an IANA name ('Asia/Makassar') -> tzinfo; ValueError otherwise."""
    s = str(name).strip()
    if s.upper() in ZONE_OFFSETS:
        return timezone(timedelta(hours=ZONE_OFFSETS[s.upper()]), "UTC" if s.upper() == "Z" else s.upper())
    m = re.fullmatch(r"(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?", s, re.I)
    if m and int(m[2]) < 24 and int(m[3] or 0) < 60:
        delta = timedelta(hours=int(m[2]), minutes=int(m[3] or 0))
        return timezone(delta if m[1] == "+" else -delta)
    try:
        return ZoneInfo(s)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: 'America' is a folder of zones, or a name too long
        raise ValueError(f"unknown time zone {name!r}; use WIB, WITA, WIT, UTC, +07:00 or an IANA name") from None


def _known_zone(name: str) -> str:
    zone_from_name(name)
    return name


# The type of every config key that names a zone (`timezone`, `realtime_timezone`):
# a text that `zone_from_name` reads, checked when the config is loaded.
ZoneName = Annotated[str, AfterValidator(_known_zone)]


def _one_of(allowed: Iterable[str], what: str) -> AfterValidator:
    names = frozenset(allowed)

    def check(value: str) -> str:
        if value not in names:
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


# Config values that must be canonical names, such as the targets of a source's
# category/severity/status mappings (`dict[str, CategoryName]`) and their defaults.
CategoryName = Annotated[str, _one_of(CATEGORIES, "a category in engine.taxonomy")]
SeverityName = Annotated[str, _one_of(SEVERITIES, f"one of {', '.join(SEVERITIES)}")]
StatusName = Annotated[str, _one_of(STATUSES, f"one of {', '.join(STATUSES)}")]


def split_zone(text: str) -> tuple[str, tzinfo | None]:
    """'05 Okt 2021 18:00:27 WIB' or '2023-04-25T03:05:33WIB' (glued on) -> (the time, UTC+7); no label -> (text, None)."""
    m = _TRAILING_ZONE.match(text.strip())
    if not m:
        return text.strip(), None
    label = m[2].upper()
    return m[1].strip(), zone_from_name(label)


def parse_time(text: Any, default_tz: tzinfo | None = None) -> datetime:
    """An aware UTC datetime from ISO 8601, epoch seconds/milliseconds, BMKG's
    '05 Okt 2021 18:00:27 WIB' or a datetime; a trailing WIB/WITA/WIT/UTC label
    may stand apart or be glued to the time ('2023-04-25T03:05:33WIB').

    A time with no zone takes `default_tz` (the source's own zone); with neither
    it is an error, because guessing a zone silently shifts incidents by hours.
    Raises ValueError, and only ValueError, with a readable message: also for
    epochs and dates that fall outside years 1..9999 once converted to UTC.
    """
    if text is None or (isinstance(text, str) and not text.strip()):
        raise ValueError("time is missing")
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        try:
            return datetime.fromtimestamp(text / 1000 if text > 1e11 else text, timezone.utc)
        except (OSError, OverflowError, ValueError):  # also NaN, and ints too big for a float
            raise ValueError(f"epoch time {_shown(text)} is out of range") from None
    value, zone = (text, None) if isinstance(text, datetime) else _read_time(str(text))
    if value.tzinfo is None:
        tz = zone or default_tz
        if tz is None:
            raise ValueError(f"time {_shown(text)} has no zone")
        value = value.replace(tzinfo=tz)
    try:
        return value.astimezone(timezone.utc)
    except (OverflowError, OSError):  # '9999-12-31T23:59:59-01:00' is past year 9999 in UTC
        raise ValueError(f"time {_shown(text)} is out of range") from None


def _shown(text: Any) -> str:
    try:
        return repr(text.isoformat() if isinstance(text, datetime) else text)[:60]
    except ValueError:  # an int beyond Python's 4300-digit str limit
        return "(a number too long to show)"


def _read_time(text: str) -> tuple[datetime, tzinfo | None]:
    s, zone = split_zone(text)
    try:
        return datetime.fromisoformat(s), zone
    except ValueError:
        pass
    try:
        return _parse_day_month_name(s), zone
    except ValueError:
        raise ValueError(f"unreadable time {_shown(text)}") from None


def _parse_day_month_name(s: str) -> datetime:
    bits = s.replace(",", " ").split()
    try:
        day, month, year = int(bits[0]), _ID_MONTHS[bits[1][:3].lower()], int(bits[2])
        hms = [int(x) for x in (bits[3].split(":") if len(bits) > 3 else ["0"])] + [0, 0]
        return datetime(year, month, day, hms[0], hms[1], hms[2])
    except (IndexError, KeyError, ValueError):
        raise ValueError(f"unreadable time {s!r}") from None


def parse_number(text: Any) -> float | None:
    """'50,000', 'Rp50.000', '4.5', '-', '' -> float or None (not reported). For amounts, not coordinates.

    A group separator is told from a decimal point by position: '50.000' and
    '50,000' are fifty thousand, '4.5' and '4,5' are four and a half.
    The result is always finite: NaN, infinity ('nan', 'inf', 1e999) and numbers
    beyond a float are None, like any other value that is not a number.
    """
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        try:
            return _finite_float(text)
        except OverflowError:  # an int beyond a double
            return None
    s = str(text).strip().lower().replace(" ", "").replace("\u00a0", "")
    negative = s.startswith("-") and len(s) > 1
    s = s.removeprefix("-").removeprefix("rp")
    s = ("-" + s) if negative else s
    if s in {"", "-", "--", "n/a", "na", "null", "none"}:
        return None
    sign = -1.0 if s.startswith("-") else 1.0
    s = s.lstrip("+-")
    seps = [c for c in s if c in ",."]
    if seps:
        last = max(s.rfind(","), s.rfind("."))
        head, tail = s[:last], s[last + 1:]
        only_grouping = len(set(seps)) == 1 and len(tail) == 3 and (len(seps) > 1 or head not in {"", "0"})
        s = s.replace(",", "").replace(".", "") if only_grouping else head.replace(",", "").replace(".", "") + "." + tail
    try:
        return _finite_float(sign * float(s))
    except ValueError:
        return None


def _finite_float(value: float | int) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def plain_number(value: Any) -> float | None:
    """A number as written, with no grouping rules: coordinates and counts ('-6.359' stays -6.359).

    None when missing, unreadable, NaN or infinite. Amounts written '50.000' want `parse_number`.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        return _finite_float(value if isinstance(value, (int, float)) else str(value).strip())
    except (ValueError, OverflowError):
        return None


def as_text(value: Any) -> str:
    """An id or label that may arrive as a number or a string ('42', 42, 42.0 -> '42'); None, objects and lists are ''."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def utc_iso(value: datetime) -> str:
    """'2025-09-10T00:17:30Z': how details carry times (deadlines, timelines)."""
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def utc_stamp(value: datetime) -> str:
    """'20211005T110027Z': the time part of ids built from a time."""
    return value.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
