"""The adapter contract: what the engine runs and every adapter in `data_sources/` implements.

An adapter is one module in `data_sources/` holding one `Adapter` subclass:
- `Config`: a pydantic schema for its block in config.yaml (extends `SourceConfig`);
- `fetch()`: the I/O, bounded by the source's timeout and `max_bytes`; the base
  fetch is conditional (`self.validators`, see engine/fetch.py) and raises
  `Unchanged` when the origin says nothing changed. An adapter that overrides
  `fetch` and calls `super().fetch()` lets Unchanged through; one whose fetch
  does more than read the origin (following links that may fail) sets
  `self.conditional = False` while a plain re-fetch would not be enough;
- `parse(raw)`: pure, bytes in, `ParseResult` (records + rejects with reasons) out.
  It must not raise on bad data; `engine.pipeline.parse_safely` still guards it.
  Most adapters do not write `parse`: they name the loader of their format,
  `document = staticmethod(load_json)` (bytes -> (document, Reject | None)), and
  write `read(document)`; `parse` loads, turns a document that cannot be read
  into one reject, and hands the rest to `read`. An adapter whose loading needs
  its config (a CSV delimiter) overrides `load`; one with odd input (NMEA
  text, protobuf) overrides `load` or `parse` itself.
Capabilities are class attributes, so screens and the collector can ask without
instantiating anything.

For records and rejects an adapter uses `self.build` (validation and storability
as rejects), `self.reject` (masks personal data, see `Adapter.private_excerpts`),
`self.dedupe` (one record per id, newest version kept) and `self.collect`.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Callable, ClassVar, Iterable

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.fetch import FetchError, Unchanged, Validators, http_get, read_file
from engine.privacy import private_excerpt
from engine.records import ParseResult, Reject

__all__ = ["Adapter", "FetchError", "Unchanged", "Loader", "IngestConfig", "SourceConfig", "unstorable", "validation_reason"]

# bytes -> (the parsed document, None), or (anything, a Reject saying why the whole body is unreadable)
Loader = Callable[[bytes], tuple[Any, Reject | None]]


class IngestConfig(BaseModel):
    """A source whose reports are pushed to `POST /api/v1/ingest/<source>` (see api/ingest.py)."""

    model_config = ConfigDict(extra="forbid")

    secret_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                            description="environment variable holding the HMAC secret (never the secret itself)")
    max_body: int = Field(default=1_000_000, ge=1, le=50_000_000, description="largest body taken, in bytes")
    window_seconds: float = Field(default=300, ge=10, le=3600, description="how far a delivery's timestamp may be from now")


class SourceConfig(BaseModel):
    """Keys every source block has. Adapters add their own in a subclass."""

    model_config = ConfigDict(extra="forbid")

    adapter: str
    enabled: bool = True
    title: str | None = Field(default=None, description="label on screens; defaults to the source name")
    url: str | None = None
    path: str | None = Field(default=None, description="a local file read on each poll instead of a URL")
    watch_file: bool = Field(default=True, description="a file source is polled as soon as its file changes "
                             "(looked at 5 times a second, a stat); `interval` is then the longest between polls")
    headers: dict[str, str] = Field(default_factory=dict)
    interval: float = Field(default=60, description="seconds between polls")
    timeout: float = Field(default=10, description="seconds before a fetch is abandoned")
    stale_after: float | None = Field(default=None, description="seconds without success before screens mark it stale; default 3 x interval, at least 60")
    max_bytes: int = Field(default=20_000_000, ge=1024)
    live_hours: float = Field(default=24, gt=0, description="how long a closed or past record stays on the live wall")
    thresholds: dict[str, Any] = Field(default_factory=dict)
    ingest: IngestConfig | None = Field(default=None, description="take pushed reports at /api/v1/ingest/<source>")

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


class ItemMemo:
    """The records an adapter built from the items of its last document, by each item's
    JSON bytes: a feed that repeats its window on every poll (a new item or two among
    thousands) builds, validates and locates only the items that are new or changed.

    Only for a build that depends on nothing but the item and the config (not on the
    fetch time, nor on the item's position). Holds the last document's records only."""

    def __init__(self):
        self._previous: dict[bytes, Any] = {}
        self._current: dict[bytes, Any] = {}
        self._reused: set[int] = set()

    def start(self) -> None:
        """A new document: what the last one built is what may be reused."""
        if self._current:
            self._previous, self._current = self._current, {}
        self._reused = set()

    def built(self, item: Any, build: Callable[[], Any]) -> Any:
        try:
            key = hashlib.blake2b(orjson.dumps(item), digest_size=16).digest()
        except (TypeError, ValueError):  # not JSON-like: built every time
            return build()
        found = self._previous.get(key)
        if found is None:
            found = build()
            if isinstance(found, Reject):  # a reject names the item's place, which may move
                return found
        else:
            self._reused.add(id(found))
        self._current[key] = found
        return found

    def reused(self, record: Any) -> bool:
        """Whether the last document's parse took `record` from the one before (already located)."""
        return id(record) in self._reused


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
        # the validators of the last stored fetch (committed by the collector once stored)
        self.validators = Validators()
        self.conditional = True
        self.memo = ItemMemo()  # used by adapters whose records depend on the item alone (see ItemMemo)

    # ---- I/O -----------------------------------------------------------------
    def fetch(self) -> bytes:
        validators = self.validators if self.conditional else None
        if self.config.path:
            return read_file(self.config.path, self.config.max_bytes, validators)
        if self.config.url:
            return http_get(self.config.url, self.config.timeout, self.config.max_bytes, self.config.headers, validators)
        raise FetchError(f"source {self.source!r} has neither url nor path")

    def close(self) -> None:
        """Release connections held between polls (MQTT, sockets)."""

    # The loader of the format this adapter reads (see the module docstring); None
    # for an adapter that overrides `load` or `parse`.
    document: ClassVar[Loader | None] = None

    # ---- pure ----------------------------------------------------------------
    def parse(self, raw: bytes) -> ParseResult:
        """Load the document; one reject when it cannot be read, else what `read` makes of it."""
        doc, problem = self.load(raw)
        if problem is not None:
            return ParseResult(rejects=[self.reject(problem.reason, problem.item, problem.ref)])
        return self.read(doc)

    def load(self, raw: bytes) -> tuple[Any, Reject | None]:
        if self.document is None:  # pragma: no cover - a programming error, caught by the contract tests
            raise NotImplementedError(f"adapter {self.name!r} declares no document loader and overrides neither load nor parse")
        return self.document(raw)

    def read(self, doc: Any) -> ParseResult:  # pragma: no cover - abstract
        """Records and rejects from a loaded document."""
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
