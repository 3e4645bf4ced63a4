"""Turn canonical records into analytics rows, and keep them in step with history.

`update_rollups(history, changed_records)` is the one call the collector makes
after each `History.apply`: it upserts the analytics row of every new or changed
record (incidents keep one row that follows their status; readings and prices
get one row per observation, so a gauge that reuses its id still has a series).
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Callable, Iterable

import orjson
from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from engine.analytics.schema import (DAILY_KEY, KIND_CODE, SEVERITY_CODE, STATUS_CODE, Codes, daily, desa_int,
                                     ensure_schema, events, feeds)
from engine.analytics.config import KpiConfig
from engine.analytics.kpi import complaint_deadlines
from engine.records import WITA
from engine.taxonomy import domain_of

CLOSED = frozenset({"resolved", "closed", "rejected", "cancelled"})
_WITA_SHIFT = 8 * 3600
_EPOCH_MONDAY_SHIFT = 3  # 1970-01-01 was a Thursday


def _epoch(value) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return int(value.timestamp())
    return None


def day_and_hour_of_week(ts: int) -> tuple[int, int]:
    local = ts + _WITA_SHIFT
    day = local // 86400
    return day, ((day + _EPOCH_MONDAY_SHIFT) % 7) * 24 + (local % 86400) // 3600


def fact_from_payload(p: dict, kcfg: KpiConfig | None = None) -> dict | None:
    """An analytics row (with text source/category/group still to be coded) from a record's JSON form.

    None for positions: vehicles moving are not events.
    """
    kind = p.get("kind")
    if kind not in ("incident", "reading", "price"):
        return None
    details = p.get("details") or {}
    row = {"source": p["source"], "record_id": p["id"], "kind": KIND_CODE[kind], "sev": None, "st": None,
           "lat": p.get("lat"), "lon": p.get("lon"), "desa": desa_int(p.get("desa_code")), "value": None,
           "group": None, "alert": None, "t_answer": None, "t_dispatch": None, "t_scene": None, "t_close": None,
           "due_first": None, "at_first": None, "due_done": None, "at_done": None}
    if kind == "incident":
        ts = _epoch(p["reported_at"])
        row.update(category=p["category"], sev=SEVERITY_CODE.get(p.get("severity")), st=STATUS_CODE.get(p.get("status")),
                   title=p.get("title") or "", rkey=p["id"])
        _incident_measures(row, p, details, ts)
        if row["due_first"] is None or row["due_done"] is None:
            _deadlines(row, p, ts, kcfg)
    elif kind == "reading":
        ts = _epoch(p["observed_at"])
        row.update(category=p["quantity"], value=p.get("value"), alert=p.get("alert_level"), group=p.get("station"),
                   title=p.get("station_name") or p.get("station") or "", rkey=f"{p['id']}@{ts}")
    else:
        date = p["date"]
        if isinstance(date, str):
            date = datetime.fromisoformat(date.replace("Z", "+00:00"))
        if date.tzinfo is None:
            date = date.replace(tzinfo=WITA)
        ts = int(date.timestamp())
        row.update(category=p["commodity"], value=p.get("value"), group=p.get("market"), title=p.get("market") or "",
                   rkey=f"{p['id']}@{ts}")
    row["ts"] = ts
    row["day"], row["how"] = day_and_hour_of_week(ts)
    row["title"] = (row["title"] or "")[:500]
    return row


def _incident_measures(row: dict, p: dict, details: dict, ts: int) -> None:
    timeline = details.get("timeline") or {}
    if isinstance(timeline, dict) and timeline:
        t0 = _epoch(timeline.get("received")) or ts
        for key, column in (("answered", "t_answer"), ("dispatched", "t_dispatch"), ("on_scene", "t_scene"),
                            ("closed", "t_close")):
            at = _epoch(timeline.get(key))
            if at is not None and at >= t0:
                row[column] = float(at - t0)
    row["due_first"] = _epoch(details.get("first_response_due"))
    row["at_first"] = _epoch(details.get("first_response_at"))
    row["due_done"] = _epoch(details.get("resolution_due"))
    if p.get("status") in CLOSED:
        row["at_done"] = (_epoch(details.get("resolved_at")) or _epoch(details.get("closed_at"))
                          or _epoch(timeline.get("closed") if isinstance(timeline, dict) else None)
                          or _epoch(p.get("updated_at")))


def _deadlines(row: dict, p: dict, ts: int, kcfg: KpiConfig | None) -> None:
    """Complaints whose source gives no deadline get the configured SP4N-LAPOR! ones (working days).
    They are fixed when the row is written; `backfill` re-applies a changed configuration."""
    domain = p.get("domain") or domain_of(p["category"])
    if domain != "complaint":
        return
    first, done = complaint_deadlines(datetime.fromtimestamp(ts, timezone.utc), p["category"], kcfg or KpiConfig())
    if row["due_first"] is None:
        row["due_first"] = int(first.timestamp())
    if row["due_done"] is None:
        row["due_done"] = int(done.timestamp())


def coded(conn: Connection, rows: list[dict]) -> list[dict]:
    """Replace text source/category/group with their codes (creating new ones)."""
    src = Codes.ensure(conn, "source", {r["source"] for r in rows})
    cat = Codes.ensure(conn, "category", {r["category"] for r in rows})
    grp = Codes.ensure(conn, "group", {r["group"] for r in rows if r["group"]})
    out = []
    for r in rows:
        r = dict(r)
        r["src"] = src[r.pop("source")]
        r["cat"] = cat[r.pop("category")]
        g = r.pop("group")
        r["grp"] = grp[g] if g else None
        out.append(r)
    return out


def _note_feeds(conn: Connection, rows: list[dict]) -> None:
    pairs = {(r["src"], r["kind"], r["cat"]) for r in rows}
    known = {(r.src, r.kind, r.cat) for r in conn.execute(select(feeds))} if pairs else set()
    new = [{"src": s, "kind": k, "cat": c} for s, k, c in pairs - known]
    if new:
        conn.execute(feeds.insert(), new)


def _dedupe(rows: list[dict]) -> list[dict]:
    """Last one wins: an upsert statement may not touch the same row twice."""
    return list({(r["src"], r["rkey"]): r for r in rows}.values())


def _upsert(conn: Connection, rows: list[dict]) -> None:
    ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(events)
    stmt = ins.on_conflict_do_update(
        index_elements=[events.c.src, events.c.rkey],
        set_={c.name: ins.excluded[c.name] for c in events.c if c.name not in ("id", "src", "rkey")})
    conn.execute(stmt, rows)


def daily_key(row) -> tuple:
    """The analytics_daily key of an event row (a dict or a Row)."""
    get = row.get if isinstance(row, dict) else row._mapping.get
    return tuple(-1 if get(k) is None and k in ("sev", "st") else get(k) for k in DAILY_KEY)


def _old_keys(conn: Connection, rows: list[dict]) -> list[tuple]:
    """The daily keys the rows about to be upserted have now (for the ones that exist)."""
    out = []
    by_src: dict[int, list[str]] = {}
    for r in rows:
        by_src.setdefault(r["src"], []).append(r["rkey"])
    for src, keys in by_src.items():
        for i in range(0, len(keys), 500):
            out += [daily_key(r) for r in conn.execute(select(*(events.c[k] for k in DAILY_KEY)).where(
                events.c.src == src, events.c.rkey.in_(keys[i:i + 500])))]
    return out


def _apply_daily(conn: Connection, delta: Counter) -> None:
    """Add the deltas to analytics_daily (rows that reach 0 are removed)."""
    rows = [dict(zip(DAILY_KEY, key), n=n) for key, n in delta.items() if n]
    if not rows:
        return
    ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(daily)
    conn.execute(ins.on_conflict_do_update(index_elements=[daily.c[k] for k in DAILY_KEY],
                                           set_={"n": daily.c.n + ins.excluded.n}), rows)
    if any(n < 0 for n in delta.values()):
        conn.execute(delete(daily).where(daily.c.n <= 0))


def write_rows(conn: Connection, rows: list[dict]) -> None:
    """Upsert analytics rows and keep analytics_daily in step (one transaction: the caller's)."""
    rows = _dedupe(coded(conn, rows))
    _note_feeds(conn, rows)
    delta: Counter = Counter()
    for key in _old_keys(conn, rows):
        delta[key] -= 1
    for r in rows:
        delta[daily_key(r)] += 1
    for i in range(0, len(rows), 1000):
        _upsert(conn, rows[i:i + 1000])
    _apply_daily(conn, delta)


def update_rollups(history, changed_records: Iterable, kcfg: KpiConfig | None = None) -> int:
    """Keep `analytics_events` and `analytics_daily` in step with `records`. Call after every
    `History.apply(...)` with `Applied.changed`; safe to call twice with the same records.
    `kcfg` sets the complaint deadlines (the defaults when None). Returns the rows written."""
    kcfg = kcfg or KpiConfig()
    rows = [f for f in (fact_from_payload(r.model_dump(mode="json"), kcfg) for r in changed_records) if f]
    if not rows:
        return 0
    ensure_schema(history.engine)
    try:
        with history.engine.begin() as conn:
            write_rows(conn, rows)
    except Exception:
        Codes.forget(history.engine)  # codes of a rolled-back transaction must not stay cached
        raise
    return len(rows)


def backfill(history, kcfg: KpiConfig | None = None, batch: int = 5000,
             progress: Callable[[int, int], None] | None = None) -> int:
    """Build analytics rows for every record already in `records` (one-off, for an existing database)."""
    from engine.history import records

    ensure_schema(history.engine)
    kcfg = kcfg or KpiConfig()
    with history.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(records)).scalar_one()
    done = 0
    with history.engine.connect() as read:
        result = read.execution_options(yield_per=batch).execute(select(records.c.payload))
        for part in result.partitions():
            rows = [f for f in (fact_from_payload(orjson.loads(r.payload), kcfg) for r in part) if f]
            if rows:
                with history.engine.begin() as conn:
                    write_rows(conn, rows)
            done += len(part)
            if progress:
                progress(done, total)
    return done


def analyze(engine: Engine) -> None:
    """Fresh planner statistics after a bulk load (the covering indexes depend on them)."""
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE analytics_events")
            conn.exec_driver_sql("ANALYZE analytics_daily")
    if engine.dialect.name == "postgresql":
        # VACUUM sets the visibility map that index-only scans need; it cannot run in a transaction.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM analytics_events")
            conn.exec_driver_sql("VACUUM analytics_daily")
