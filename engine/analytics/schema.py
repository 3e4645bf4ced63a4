"""The analytics projection of the history store: one narrow, integer-coded row per event.

Why a projection and not rollups: at 1,000,000 records a year (about 2,700 a
day) a rollup keyed by every filter of /history (hour, source, category,
severity, status, desa) has nearly one row per record, so it would not shrink
anything. What makes queries slow is the width of `records` (the JSON payload)
and, on SQLite, sorting for GROUP BY. So `analytics_events` keeps only what the
screens filter, group and measure, as small integers, and has one covering index
per grouping (time, category, desa, hour of week): every /history aggregate is a
single ordered scan of one index, without touching the table or sorting.

Own MetaData (`metadata` here), created on first use by `ensure_schema`; the
history store's tables are untouched. Rows are written by `update_rollups`
(live), `engine.seed` (bulk) and `backfill` (from `records`).
"""
from __future__ import annotations

import threading

from sqlalchemy import (BigInteger, Column, Float, Index, Integer, MetaData, SmallInteger, String, Table,
                        UniqueConstraint, select)
from sqlalchemy.engine import Connection, Engine

from engine.records import KINDS, STATUSES, Severity

metadata = MetaData()

events = Table(
    "analytics_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("src", Integer, nullable=False),
    Column("rkey", String(340), nullable=False, doc="record id; readings and prices: id@epoch, one row per observation"),
    Column("record_id", String(300), nullable=False),
    Column("kind", SmallInteger, nullable=False),
    Column("cat", Integer, nullable=False, doc="category, quantity or commodity code"),
    Column("sev", SmallInteger),
    Column("st", SmallInteger),
    Column("desa", Integer, nullable=False, doc="kk*10000+dddd from the desa code 51.71.kk.dddd; 0 unknown"),
    Column("ts", BigInteger, nullable=False, doc="event time, epoch seconds"),
    Column("day", Integer, nullable=False, doc="WITA day number since 1970-01-01"),
    Column("how", SmallInteger, nullable=False, doc="WITA hour of week, Monday 00h = 0"),
    Column("lat", Float),
    Column("lon", Float),
    Column("value", Float),
    Column("title", String(500)),
    Column("grp", Integer, doc="station or market code"),
    Column("alert", SmallInteger),
    Column("t_answer", Float), Column("t_dispatch", Float), Column("t_scene", Float), Column("t_close", Float),
    Column("due_first", BigInteger), Column("at_first", BigInteger),
    Column("due_done", BigInteger), Column("at_done", BigInteger),
    UniqueConstraint("src", "rkey", name="uq_analytics_events_key"),
)

# One covering index per grouping; the filter columns ride along so no query reads the table.
INDEXES = [
    Index("ix_ae_day", events.c.day, events.c.how, events.c.ts, events.c.kind, events.c.src, events.c.cat,
          events.c.sev, events.c.st, events.c.desa),
    Index("ix_ae_cat", events.c.cat, events.c.day, events.c.ts, events.c.kind, events.c.src, events.c.sev,
          events.c.st, events.c.desa, events.c.how),
    Index("ix_ae_desa", events.c.desa, events.c.day, events.c.ts, events.c.kind, events.c.src, events.c.cat,
          events.c.sev, events.c.st, events.c.how),
    Index("ix_ae_how", events.c.how, events.c.day, events.c.ts, events.c.kind, events.c.src, events.c.cat,
          events.c.sev, events.c.st, events.c.desa),
]

codes = Table(
    "analytics_codes", metadata,
    Column("dim", String(16), primary_key=True),
    Column("value", String(300), primary_key=True),
    Column("code", Integer, nullable=False),
    UniqueConstraint("dim", "code", name="uq_analytics_codes_code"),
)

feeds = Table(
    "analytics_feeds", metadata,
    Column("src", Integer, primary_key=True),
    Column("kind", SmallInteger, primary_key=True),
    Column("cat", Integer, primary_key=True),
)

KIND_CODE = {k: i for i, k in enumerate(KINDS)}
STATUS_CODE = {s: i for i, s in enumerate(STATUSES)}
SEVERITY_CODE = {s.name: int(s) for s in Severity}


def desa_int(desa_code: str | None) -> int:
    """51.71.03.2004 -> 32004; 0 when unknown."""
    if not desa_code:
        return 0
    parts = desa_code.split(".")
    try:
        return int(parts[2]) * 10000 + int(parts[3])
    except (IndexError, ValueError):
        return 0


def desa_code_of(value: int) -> str | None:
    return None if not value else f"51.71.{value // 10000:02d}.{value % 10000:04d}"


def kecamatan_range(kec_code: str) -> tuple[int, int]:
    """51.71.03 -> (30000, 39999): the desa ints of one kecamatan."""
    k = int(kec_code.split(".")[2])
    return k * 10000, k * 10000 + 9999


_ready: set[str] = set()
_lock = threading.Lock()


def ensure_schema(engine: Engine) -> None:
    key = str(engine.url)
    if key in _ready:
        return
    with _lock:
        if key not in _ready:
            metadata.create_all(engine, checkfirst=True)
            _ready.add(key)


def forget_schema(engine: Engine) -> None:
    _ready.discard(str(engine.url))
    Codes.forget(engine)


class Codes:
    """value <-> small integer, per dimension ('source', 'category', 'group'), cached per database."""

    _cache: dict[str, dict[str, dict[str, int]]] = {}
    _lock = threading.Lock()

    @classmethod
    def forget(cls, engine: Engine) -> None:
        cls._cache.pop(str(engine.url), None)

    @classmethod
    def table(cls, conn: Connection, dim: str, refresh: bool = False) -> dict[str, int]:
        key = str(conn.engine.url)
        with cls._lock:
            per_db = cls._cache.setdefault(key, {})
            if refresh or dim not in per_db:
                per_db[dim] = {r.value: r.code for r in conn.execute(
                    select(codes.c.value, codes.c.code).where(codes.c.dim == dim))}
            return per_db[dim]

    @classmethod
    def lookup(cls, conn: Connection, dim: str, values) -> list[int]:
        """Codes of known values (unknown ones are left out: they match nothing)."""
        table = cls.table(conn, dim)
        missing = [v for v in values if v not in table]
        if missing:
            table = cls.table(conn, dim, refresh=True)
        return [table[v] for v in values if v in table]

    @classmethod
    def ensure(cls, conn: Connection, dim: str, values) -> dict[str, int]:
        """Codes for `values`, creating the missing ones (inside the caller's transaction)."""
        table = cls.table(conn, dim)
        missing = sorted({v for v in values if v not in table})
        if missing:
            table = cls.table(conn, dim, refresh=True)
            missing = [v for v in missing if v not in table]
        if missing:
            top = max(table.values(), default=0)
            rows = [{"dim": dim, "value": v, "code": top + i + 1} for i, v in enumerate(missing)]
            conn.execute(codes.insert(), rows)
            with cls._lock:
                table.update({r["value"]: r["code"] for r in rows})
        return table

    @classmethod
    def names(cls, conn: Connection, dim: str) -> dict[int, str]:
        return {c: v for v, c in cls.table(conn, dim, refresh=True).items()}
