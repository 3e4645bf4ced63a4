"""Query building for /history over `analytics_events`, the same SQLAlchemy Core on SQLite and PostgreSQL.

Every aggregate groups by the leading column of one covering index (day, cat,
desa, how) and filters only on columns that index carries, so each view is one
ordered index scan. Folding (days into weeks, desa into kecamatan) happens in
Python on at most a few thousand groups.
"""
from __future__ import annotations

import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterator

from sqlalchemy import and_, false, func, literal_column, or_, select
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Connection, Engine

from engine.analytics.facts import day_and_hour_of_week
from engine.analytics.filters import HistoryFilter, clean_text, granularity
from engine.analytics.schema import (FTS, KIND_CODE, SEVERITY_CODE, STATUS_CODE, Codes, daily, desa_code_of, desa_int,
                                     events, kecamatan_range, text_search_kind)
from engine.geo import kecamatan_code
from engine.records import KINDS, SEVERITIES, STATUSES, WITA

EPOCH_DAY = date(1970, 1, 1)


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read connection for analytics. On PostgreSQL the planner is told, for this
    transaction only, that index pages are cheap to reach (SSD, covering indexes kept
    all-visible by VACUUM): with the default cost it prefers scanning the whole table."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL random_page_cost = 1.1")
        yield conn


def day_number(at: datetime) -> int:
    return day_and_hour_of_week(int(at.timestamp()))[0]


def day_date(day: int) -> date:
    return EPOCH_DAY + timedelta(days=day)


def conditions(conn: Connection, f: HistoryFilter, start: datetime, end: datetime, ordered: bool = False) -> list:
    """WHERE terms on analytics_events for a filter over [start, end). Unknown names match nothing.

    ordered: for "newest first, LIMIT n". SQLite then may not lead with the category or desa
    index (`cat + 0`), so it walks the day index backwards and stops after n matches instead
    of sorting all of a category's rows first."""
    c = events.c
    t0, t1 = int(start.timestamp()), int(end.timestamp())
    where = [c.day >= day_number(start), c.day <= day_number(end), c.ts >= t0, c.ts < t1]
    where += dimension_terms(conn, f, c, no_index=ordered and conn.dialect.name == "sqlite")
    if f.weekday or f.hour:
        days = f.weekday or range(7)
        hours = f.hour or range(24)
        where.append(c.how.in_(sorted(d * 24 + h for d in days for h in hours)))
    if f.q:
        where.append(text_term(conn, f.q))
    return where


def dimension_terms(conn: Connection, f: HistoryFilter, c, no_index: bool = False) -> list:
    """The terms on kind, source, category, severity, status and place: the same on the
    events (c = events.c) and on the daily rollup (c = daily.c)."""
    where = [c.kind == KIND_CODE.get(f.kind, 0)]
    cat, desa = (c.cat + 0, c.desa + 0) if no_index else (c.cat, c.desa)
    for name, column, dim in (("source", c.src, "source"), ("category", cat, "category")):
        values = getattr(f, name)
        if values:
            found = Codes.lookup(conn, dim, values)
            where.append(column.in_(found) if found else false())
    if f.severity:
        where.append(c.sev.in_([SEVERITY_CODE[s] for s in f.severity]))
    if f.status:
        where.append(c.st.in_([STATUS_CODE[s] for s in f.status]))
    if f.desa:
        known = [desa_int(d) for d in f.desa if DESA_CODE.fullmatch(d)]
        where.append(desa.in_(known) if known else false())  # a code that is no desa matches nothing
    elif f.kecamatan:
        ranges = [desa.between(*kecamatan_range(k)) for k in f.kecamatan if KECAMATAN_CODE.fullmatch(k)]
        where.append(or_(*ranges) if ranges else false())
    return where


# The place codes the store holds (schema.desa_int/desa_code_of): Kota Denpasar's, 51.71.kk[.dddd]
DESA_CODE = re.compile(r"51\.71\.[0-9]{2}\.[0-9]{4}")
KECAMATAN_CODE = re.compile(r"51\.71\.[0-9]{2}")


def text_term(conn: Connection, q: str):
    """Case-insensitive substring of the title; narrowed first by the text index where there is one."""
    q = clean_text(q)
    c = events.c
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = c.title.ilike(f"%{escaped}%", escape="\\")
    if text_search_kind(conn.engine) == "fts5" and len(q) >= 3:
        phrase = '"' + q.replace('"', '""') + '"'
        matches = select(literal_column("rowid")).select_from(sql_text(FTS)).where(
            sql_text(f"{FTS} MATCH :fts_phrase").bindparams(fts_phrase=phrase))
        return and_(c.id.in_(matches), like)
    return like


@dataclass
class Scope:
    """A filter resolved against the clock: what every view of one screen state shares."""

    filter: HistoryFilter
    start: datetime
    end: datetime

    @property
    def granularity(self) -> str:
        return granularity(self.start, self.end)


def scope(conn: Connection, f: HistoryFilter, now: datetime) -> Scope:
    earliest = None
    if f.range == "all":
        first = conn.execute(select(func.min(events.c.day)).where(events.c.kind == KIND_CODE.get(f.kind, 0))).scalar()
        if first is not None:
            d = day_date(first)
            earliest = datetime(d.year, d.month, d.day, tzinfo=WITA)
    start, end = f.bounds(now, earliest)
    return Scope(f, start, end)


# ---- views ------------------------------------------------------------------------
def count(conn: Connection, s: Scope) -> int:
    return conn.execute(select(func.count()).select_from(events).where(*conditions(conn, s.filter, s.start, s.end))).scalar_one()


def _bucket_start(day: int, hour: int | None, grain: str) -> datetime:
    d = day_date(day)
    if grain == "hour":
        return datetime(d.year, d.month, d.day, hour or 0, tzinfo=WITA)
    if grain == "week":
        d = d - timedelta(days=d.weekday())
    elif grain == "month":
        d = d.replace(day=1)
    return datetime(d.year, d.month, d.day, tzinfo=WITA)


def _next_bucket(at: datetime, grain: str) -> datetime:
    if grain == "hour":
        return at + timedelta(hours=1)
    if grain == "day":
        return at + timedelta(days=1)
    if grain == "week":
        return at + timedelta(days=7)
    return (at.replace(day=28) + timedelta(days=4)).replace(day=1)


def time_grid(conn: Connection, s: Scope) -> tuple[list[tuple[datetime, int]], list[list[int]]]:
    """Counts over time (WITA buckets, empty ones as 0) and the 7 x 24 hour-of-week grid
    ([weekday Monday..Sunday][hour 0..23], WITA), from
    one GROUP BY day, hour-of-week: a single ordered scan of ix_ae_day."""
    c = events.c
    grain = s.granularity
    counts: Counter = Counter()
    grid = [[0] * 24 for _ in range(7)]
    rows = conn.execute(select(c.day, c.how, func.count()).where(*conditions(conn, s.filter, s.start, s.end))
                        .group_by(c.day, c.how)).all()
    for day, how, n in rows:
        counts[_bucket_start(day, how % 24, grain)] += n
        grid[how // 24][how % 24] += n
    out = []
    at = _bucket_start(day_number(s.start), s.start.astimezone(WITA).hour, grain)
    stop = s.end.astimezone(WITA)
    while at < stop and len(out) < 5000:
        out.append((at, counts.get(at, 0)))
        at = _next_bucket(at, grain)
    return out, grid


def bucket_range(at: datetime, grain: str) -> tuple[datetime, datetime]:
    return at, _next_bucket(at, grain)


@dataclass
class Breakdown:
    total: int
    by_category: list[tuple[str, int]]  # biggest first
    by_desa: dict[str, int]  # desa code -> count; '' outside the city or without a place


def full_days(s: Scope) -> tuple[int, int] | None:
    """The first and last WITA day wholly inside [start, end), or None when there are fewer than two."""
    first = day_number(s.start)
    if s.start.astimezone(WITA).time() != datetime.min.time():
        first += 1
    last = day_number(s.end) - 1  # the day of `end` is never whole: `end` is exclusive
    return (first, last) if last - first >= 1 else None


def _midnight(day: int) -> datetime:
    d = day_date(day)
    return datetime(d.year, d.month, d.day, tzinfo=WITA)


def breakdown(conn: Connection, s: Scope, use_daily: bool = True) -> Breakdown:
    """Counts by category and by desa, and the total. Whole days come from analytics_daily
    (about a quarter of the rows) when the filter has no hour, weekday or text; the partial
    days at both ends, and everything else, from one GROUP BY cat, desa on ix_ae_catdesa."""
    c = events.c
    counts: Counter = Counter()
    days = full_days(s) if use_daily and not (s.filter.q or s.filter.weekday or s.filter.hour) else None
    if days is None:
        parts = [(s.start, s.end)]
    else:
        d = daily.c
        rows = conn.execute(select(d.cat, d.desa, func.sum(d.n)).where(
            d.day >= days[0], d.day <= days[1], *dimension_terms(conn, s.filter, d)).group_by(d.cat, d.desa)).all()
        counts.update({(cat, desa): int(n) for cat, desa, n in rows})
        parts = [(s.start, _midnight(days[0])), (_midnight(days[1] + 1), s.end)]
    for start, end in parts:
        if start >= end:
            continue
        rows = conn.execute(select(c.cat, c.desa, func.count()).where(*conditions(conn, s.filter, start, end))
                            .group_by(c.cat, c.desa)).all()
        counts.update({(cat, desa): n for cat, desa, n in rows})
    names = Codes.names(conn, "category")
    cats: Counter = Counter()
    desa: Counter = Counter()
    for (cat, d_), n in counts.items():
        cats[names.get(cat, str(cat))] += n
        desa[desa_code_of(d_) or ""] += n
    return Breakdown(sum(cats.values()), sorted(cats.items(), key=lambda x: -x[1]), dict(desa))


def fold_kecamatan(per_desa: dict[str, int]) -> dict[str, int]:
    out: Counter = Counter()
    for code, n in per_desa.items():
        out[kecamatan_code(code) if code else ""] += n
    return dict(out)


ROW_COLUMNS = ("ts", "src", "record_id", "kind", "cat", "sev", "st", "desa", "lat", "lon", "value", "title")


def _names(conn: Connection) -> tuple[dict[int, str], dict[int, str]]:
    return Codes.names(conn, "source"), Codes.names(conn, "category")


def _decode(names, rows) -> list[dict]:
    sources, cats = names
    out = []
    for r in rows:
        desa = desa_code_of(r.desa)
        out.append({
            "time": datetime.fromtimestamp(r.ts, timezone.utc), "source": sources.get(r.src, ""), "id": r.record_id,
            "kind": KINDS[r.kind], "category": cats.get(r.cat, ""),
            "severity": SEVERITIES[r.sev] if r.sev is not None else "",
            "status": STATUSES[r.st] if r.st is not None else "",
            "kecamatan_code": kecamatan_code(desa) if desa else "", "desa_code": desa or "",
            "lat": r.lat, "lon": r.lon, "value": r.value, "title": r.title or "",
        })
    return out


def _newest_first():
    c = events.c
    return (c.day.desc(), c.how.desc(), c.ts.desc(), c.id.desc())


def _newest_ids(where: list, limit: int, offset: int = 0):
    """Ids of the newest matching events (`where` from conditions(..., ordered=True))."""
    return select(events.c.id).where(*where).order_by(*_newest_first()).limit(limit).offset(offset)


def page(conn: Connection, s: Scope, number: int, size: int) -> list[dict]:
    """One page of rows, newest first. The ids come from the covering day index; only
    the page's own rows are read from the table."""
    c = events.c
    where = conditions(conn, s.filter, s.start, s.end, ordered=True)
    ids = _newest_ids(where, size, (number - 1) * size).subquery()
    cols = [getattr(c, n) for n in ROW_COLUMNS]
    rows = conn.execute(select(*cols).where(c.id.in_(select(ids.c.id))).order_by(*_newest_first()))
    return _decode(_names(conn), rows)


def points(conn: Connection, s: Scope, limit: int = 1500) -> list[dict]:
    """The newest located events, for the map."""
    c = events.c
    where = conditions(conn, s.filter, s.start, s.end, ordered=True) + [c.lat.is_not(None)]
    ids = _newest_ids(where, limit).subquery()
    rows = conn.execute(select(c.ts, c.cat, c.sev, c.lat, c.lon, c.title).where(c.id.in_(select(ids.c.id))))
    cats = Codes.names(conn, "category")
    return [{"time": datetime.fromtimestamp(r.ts, timezone.utc), "category": cats.get(r.cat, ""),
             "severity": SEVERITIES[r.sev] if r.sev is not None else "", "lat": r.lat, "lon": r.lon,
             "title": r.title or ""} for r in rows]


def rows_for_export(conn: Connection, s: Scope, batch: int = 5000) -> Iterator[dict]:
    """Every filtered row, newest first, streamed in batches."""
    c = events.c
    names = _names(conn)
    cols = [getattr(c, n) for n in ROW_COLUMNS]
    stmt = select(*cols).where(*conditions(conn, s.filter, s.start, s.end)).order_by(*_newest_first())
    result = conn.execution_options(yield_per=batch).execute(stmt)
    for part in result.partitions():
        yield from _decode(names, part)


def facet_values(conn: Connection, dim: str) -> list[str]:
    return sorted(Codes.table(conn, dim, refresh=True))
