"""The analytics projection of the history store: one narrow, integer-coded row per event.

Why a projection and not rollups: at 1,000,000 records a year (about 2,700 a
day) a rollup keyed by every filter of /history (hour, source, category,
severity, status, desa) has nearly one row per record, so it would not shrink
anything. What makes queries slow is the width of `records` (the JSON payload)
and, on SQLite, sorting for GROUP BY. So `analytics_events` keeps only what the
screens filter, group and measure, as small integers, and has one covering index
per grouping (day and hour of week; category and desa): a /history filter change is
two ordered index scans, without touching the table or sorting, plus one page.

Own MetaData (`metadata` here), created on first use by `ensure_schema`; the
history store's tables are untouched. Rows are written by `update_rollups`
(live), `damamaya.seed` (bulk) and `backfill` (from `records`).
"""
from __future__ import annotations

import threading

from sqlalchemy import (BigInteger, Column, Float, Index, Integer, MetaData, SmallInteger, String, Table,
                        UniqueConstraint, delete, func, select, text)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from engine.history import SchemaOnce
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
# ix_ae_day serves counts over time and the hour x weekday grid (one GROUP BY day, how),
# ix_ae_catdesa the breakdowns by category and area (one GROUP BY cat, desa), and
# ix_ae_cat also carries the measures, so the KPIs (which select by category) read only it.
_FILTERS = ("day", "how", "ts", "kind", "src", "cat", "sev", "st", "desa")


def _covering(name: str, lead: tuple, extra: tuple = ()) -> Index:
    cols = list(lead) + [x for x in _FILTERS if x not in lead] + list(extra)
    return Index(name, *(events.c[x] for x in cols))


INDEXES = [
    _covering("ix_ae_day", ("day", "how", "ts")),
    _covering("ix_ae_cat", ("cat", "day", "ts"), ("t_dispatch", "t_scene", "alert", "grp", "value", "at_done")),
    _covering("ix_ae_catdesa", ("cat", "desa", "day", "ts")),
    # complaint deadlines and "open at t" questions
    Index("ix_ae_due_first", events.c.due_first, events.c.at_first, events.c.cat, events.c.desa),
    Index("ix_ae_due_done", events.c.due_done, events.c.at_done, events.c.cat, events.c.st, events.c.desa),
    Index("ix_ae_done", events.c.at_done, events.c.ts, events.c.cat, events.c.st, events.c.desa),
]

# Events per WITA day and every filter dimension of /history but the hour: about a
# quarter of the events at 1,000,000 a year. The breakdown by category and area over
# long ranges reads it instead of the events (the partial days at both ends still
# come from the events). sev/st are -1 where the event has none (readings, prices).
daily = Table(
    "analytics_daily", metadata,
    Column("day", Integer, primary_key=True),
    Column("kind", SmallInteger, primary_key=True),
    Column("src", Integer, primary_key=True),
    Column("cat", Integer, primary_key=True),
    Column("sev", SmallInteger, primary_key=True),
    Column("st", SmallInteger, primary_key=True),
    Column("desa", Integer, primary_key=True),
    Column("n", Integer, nullable=False),
)
DAILY_KEY = ("day", "kind", "src", "cat", "sev", "st", "desa")
Index("ix_ad_catdesa", daily.c.cat, daily.c.desa, daily.c.day, daily.c.kind, daily.c.src, daily.c.sev, daily.c.st,
      daily.c.n)

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


def _after_create(engine: Engine) -> None:
    text_index(engine)
    _fill_daily_once(engine)


# the analytics tables, their text index and (for an older database) the daily rollup, once per database
_schema = SchemaOnce(metadata, after=_after_create)
ensure_schema = _schema.ensure


def _fill_daily_once(engine: Engine) -> None:
    """A database whose events predate analytics_daily gets it built once."""
    with engine.connect() as conn:
        empty = conn.execute(select(daily.c.day).limit(1)).first() is None
        have_events = conn.execute(select(events.c.id).limit(1)).first() is not None
    if empty and have_events:
        rebuild_daily(engine)


def rebuild_daily(engine: Engine) -> None:
    """analytics_daily from scratch (after a bulk load)."""
    e = events.c
    cols = [e.day, e.kind, e.src, e.cat, func.coalesce(e.sev, -1), func.coalesce(e.st, -1), e.desa]
    with engine.begin() as conn:
        conn.execute(delete(daily))
        conn.execute(daily.insert().from_select(list(DAILY_KEY) + ["n"],
                                                select(*cols, func.count()).group_by(*cols)))
        conn.exec_driver_sql("ANALYZE analytics_daily")  # without statistics the planner sorts it on disk



# ---- free-text search on titles ------------------------------------------------------------
# SQLite: an FTS5 trigram index (external content, kept by triggers) narrows `q` to the
# matching rows; the LIKE on the title still decides, so the index can only speed up.
# PostgreSQL: a pg_trgm GIN index, which ILIKE '%q%' uses by itself.
FTS = "analytics_title_fts"
_FTS_TRIGGERS = {
    "analytics_fts_ai": f"AFTER INSERT ON analytics_events BEGIN INSERT INTO {FTS}(rowid, title) VALUES (new.id, new.title); END",
    "analytics_fts_ad": f"AFTER DELETE ON analytics_events BEGIN INSERT INTO {FTS}({FTS}, rowid, title) VALUES ('delete', old.id, old.title); END",
    "analytics_fts_au": f"AFTER UPDATE OF title ON analytics_events BEGIN INSERT INTO {FTS}({FTS}, rowid, title) VALUES ('delete', old.id, old.title); INSERT INTO {FTS}(rowid, title) VALUES (new.id, new.title); END",
}
EXTENSION_SCHEMA = "damamaya_ext"
_text_search: dict[str, str] = {}  # engine url -> "fts5" / "trgm" / "like"


def text_index(engine: Engine, triggers: bool = True) -> str:
    from engine.history import schema_lock

    kind = "like"
    with engine.begin() as conn:
        schema_lock(conn)
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS} USING fts5(title, content='analytics_events', "
                                 "content_rowid='id', tokenize='trigram')")
            if triggers:
                for name, body in _FTS_TRIGGERS.items():
                    conn.exec_driver_sql(f"CREATE TRIGGER IF NOT EXISTS {name} {body}")
            kind = "fts5"
        elif conn.dialect.name == "postgresql":
            kind = _pg_trgm(conn)
    _text_search[str(engine.url)] = kind
    return kind


def _pg_trgm(conn: Connection) -> str:
    schema = conn.exec_driver_sql("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                                  "WHERE e.extname = 'pg_trgm'").scalar()
    if schema is None:
        try:
            with conn.begin_nested():
                # its own schema: an extension created in a data schema would go with that schema's DROP
                conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {EXTENSION_SCHEMA}")
                conn.exec_driver_sql(f"CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA {EXTENSION_SCHEMA}")
        except Exception:  # no privilege: text search works, by scanning
            return "like"
        schema = conn.exec_driver_sql("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                                      "WHERE e.extname = 'pg_trgm'").scalar()
    conn.exec_driver_sql(f'CREATE INDEX IF NOT EXISTS ix_ae_title_trgm ON analytics_events USING gin (title "{schema}".gin_trgm_ops)')
    return "trgm"


def drop_text_triggers(conn: Connection) -> None:
    """Before a bulk load into SQLite: the FTS index is rebuilt once at the end instead."""
    if conn.dialect.name == "sqlite":
        for name in _FTS_TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")


def rebuild_text_index(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.exec_driver_sql(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")
    text_index(engine)


def text_search_kind(engine: Engine) -> str:
    return _text_search.get(str(engine.url), "like")


def forget_schema(engine: Engine) -> None:
    _schema.forget(engine)
    Codes.forget(engine)


class Codes:
    """value <-> small integer, per dimension ('source', 'category', 'group'), cached per database."""

    _cache: dict[str, dict[str, dict[str, int]]] = {}
    _lock = threading.Lock()
    _allocating = threading.Lock()

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
        """Codes for `values`, creating the missing ones. Call before the caller's transaction
        writes anything: new codes are committed at once in their own transaction (see
        `_allocate`), so that source threads and collector processes never hand out one
        code twice."""
        table = cls.table(conn, dim)
        missing = sorted({v for v in values if v not in table})
        if missing:
            table = cls.table(conn, dim, refresh=True)
            missing = [v for v in missing if v not in table]
        if missing:
            cls._allocate(conn.engine, dim, missing)
            table = cls.table(conn, dim, refresh=True)
        return table

    @classmethod
    def _allocate(cls, engine: Engine, dim: str, values: list[str], attempts: int = 20) -> None:
        """Insert codes for `values` (max + 1, ...). Allocation is serialised by a lock per
        process and, on PostgreSQL, an advisory lock between processes; on SQLite the
        database's write lock orders writers, and the loser of a race (an IntegrityError
        on the code or the value) reads again and retries."""
        for attempt in range(attempts):
            try:
                with cls._allocating, engine.begin() as conn:
                    if conn.dialect.name == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(7243112)"))
                    known = {r.value for r in conn.execute(
                        select(codes.c.value).where(codes.c.dim == dim, codes.c.value.in_(values)))}
                    todo = [v for v in values if v not in known]
                    if not todo:
                        return
                    top = conn.execute(select(func.max(codes.c.code)).where(codes.c.dim == dim)).scalar() or 0
                    conn.execute(codes.insert(), [{"dim": dim, "value": v, "code": top + i + 1} for i, v in enumerate(todo)])
                return
            except IntegrityError:
                if attempt == attempts - 1:
                    raise

    @classmethod
    def names(cls, conn: Connection, dim: str) -> dict[int, str]:
        return {c: v for v, c in cls.table(conn, dim, refresh=True).items()}
