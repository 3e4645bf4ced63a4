"""Benchmark of /history filter changes and /kpi loads, SQLite and PostgreSQL, against naive pandas.

    .venv/bin/python bench/bench_history.py --records 1000000

Seeds its own databases with `damamaya.seed` (SQLite in a temp file, PostgreSQL in
its own schema of the database `test`; never `public`), then times what the
screens' callbacks run:
- a /history filter change = every query of the screen's two view callbacks
  (breakdown by category and desa with the total, one table page, the map's
  points; counts over time with the hour x weekday grid), run one after the
  other in one process: the sum is the server time of the change (the browser
  asks for the two callbacks in parallel, so its wait is shorter);
- a /kpi load = every KPI of the period with its trend, freshness and
  completeness, plus the area comparison;
- naive: `records` loaded into a pandas DataFrame (timed separately, once),
  then the same filter and aggregations in pandas; the KPI load parses the JSON
  timelines of the period's 112 calls.
Each figure is the median of --repeat runs after one warm-up run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import orjson  # noqa: E402
import pandas as pd  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402

from engine.analytics import kpis as KP  # noqa: E402
from engine.analytics import queries as Q  # noqa: E402
from engine.analytics.config import KpiConfig  # noqa: E402
from engine.analytics.filters import HistoryFilter  # noqa: E402
from engine.analytics.service import AnalyticsService  # noqa: E402
from engine.analytics.schema import events, forget_schema  # noqa: E402
from engine.history import History  # noqa: E402
from damamaya.seed import Progress, seed  # noqa: E402

UTC = timezone.utc
CASES = [
    ("history: last 30 days (default)", ""),
    ("history: last 24 hours", "?range=24h"),
    ("history: 1 year, all incidents", "?range=1y"),
    ("history: all time", "?range=all"),
    ("history: 1 year, medical+accident", "?range=1y&category=medical,accident"),
    ("history: 1 year, Denpasar Selatan, high", "?range=1y&kecamatan=51.71.01&severity=high"),
    ("history: 1 year, desa Pemogan, closed", "?range=1y&desa=51.71.01.2008&status=closed"),
    ("history: 1 year, text 'teuku umar'", "?range=1y&q=teuku%20umar"),
    ("history: all time, Wednesdays 08h", "?range=all&weekday=2&hour=8"),
    ("history: 1 year, page 400 of the table", "?range=1y&page=400"),
]
KPI_CASES = [("kpi: 7 days", "7d"), ("kpi: 30 days (default)", "30d"), ("kpi: 90 days", "90d")]


def _median(fn, repeat: int) -> float:
    fn()  # warm-up: first touch of the pages
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def history_change(history: History, query: str, now: datetime):
    f = HistoryFilter.from_query(query)
    service = AnalyticsService(history.engine, KpiConfig())

    def run():
        # what callbacks/history.py asks the service for: the summary (breakdown, page, map points) and the timeline
        service.history_summary(f, now)
        service.history_timeline(f, now)
    return run


def kpi_load(history: History, key: str, now: datetime):
    service = AnalyticsService(history.engine, KpiConfig())  # no cache: every run computes

    def run():
        service.kpi_report(key, now)
        service.area_values("calls", "kecamatan", key, now)
    return run


# ---- naive ---------------------------------------------------------------------------------
def naive_load(history: History) -> pd.DataFrame:
    with history.engine.connect() as conn:
        df = pd.read_sql(text("SELECT source, record_id, kind, domain, category, severity, status, lat, lon, "
                              "kecamatan, desa, desa_code, event_time, title, value, payload FROM records"), conn)
    df["event_time"] = pd.to_datetime(df["event_time"], utc=True, format="mixed")
    return df


def naive_history(df: pd.DataFrame, query: str, now: datetime):
    f = HistoryFilter.from_query(query)
    start, end = f.bounds(now, df["event_time"].min().to_pydatetime() if f.range == "all" else None)

    def run():
        d = df[(df.kind == f.kind) & (df.event_time >= start) & (df.event_time < end)]
        if f.category:
            d = d[d.category.isin(f.category)]
        if f.severity:
            d = d[d.severity.isin(f.severity)]
        if f.status:
            d = d[d.status.isin(f.status)]
        if f.desa:
            d = d[d.desa_code.isin(f.desa)]
        elif f.kecamatan:
            d = d[d.desa_code.str[:8].isin(f.kecamatan)]
        local = d.event_time.dt.tz_convert("Asia/Makassar")
        if f.weekday:
            d, local = d[local.dt.day_of_week.isin(f.weekday)], local[local.dt.day_of_week.isin(f.weekday)]
        if f.hour:
            d, local = d[local.dt.hour.isin(f.hour)], local[local.dt.hour.isin(f.hour)]
        if f.q:
            keep = d.title.str.contains(f.q, case=False, regex=False)
            d, local = d[keep], local[keep]
        len(d)
        local.dt.floor("D").value_counts()
        d.category.value_counts()
        d.desa_code.value_counts()
        pd.crosstab(local.dt.day_of_week, local.dt.hour)
        d.sort_values("event_time", ascending=False).head(1500)
        d.sort_values("event_time", ascending=False).iloc[(f.page - 1) * 50: f.page * 50]
    return run


def naive_kpi(df: pd.DataFrame, key: str, now: datetime):
    days = KP.PERIODS[key]

    def run():
        start, prev = now - timedelta(days=days), now - timedelta(days=2 * days)
        d = df[(df.domain == "emergency") & (df.event_time >= prev)]
        for lo, hi in ((prev, start), (start, now)):
            part = d[(d.event_time >= lo) & (d.event_time < hi)]
            part.category.value_counts()
            scene = []
            for payload in part.payload:
                tl = orjson.loads(payload)["details"].get("timeline", {})
                if "on_scene" in tl:
                    scene.append((datetime.fromisoformat(tl["on_scene"]) - datetime.fromisoformat(tl["received"])).total_seconds())
            if scene:
                np.percentile(scene, [50, 90])
        c = df[(df.domain == "complaint") & (df.event_time >= prev - timedelta(days=120))]
        for payload in c.payload:
            orjson.loads(payload)["details"].get("resolution_due")
        df[df.domain.isin(["flood", "traffic"]) & (df.event_time >= prev)].groupby(["category", "desa_code"]).size()
    return run


# ---- databases -------------------------------------------------------------------------------
def pg_url(base: str, schema: str) -> str:
    return f"{base}?options=-csearch_path%3D{schema}"


def prepare(history: History, n: int, days: int, end: datetime, reuse: bool, label: str) -> None:
    history.create()
    with history.engine.connect() as conn:
        have = conn.execute(select(func.count()).select_from(events)).scalar() if history.engine.dialect.has_table(
            conn, "analytics_events") else 0
    if reuse and have == n:
        print(f"{label}: reusing {have:,} records", file=sys.stderr)
        return
    if have:
        raise SystemExit(f"{label}: holds {have:,} records, not {n:,}: use a fresh --sqlite path or --pg-schema")
    print(f"{label}: seeding {n:,} records", file=sys.stderr)
    progress = Progress(n)
    result = seed(history, n, days=days, end=end, progress=progress, versions=False)
    progress.close()
    print(f"{label}: seeded in {result.seconds:.0f} s", file=sys.stderr)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sqlite", default=None, help="SQLite file to use (default: a temp file, removed after)")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--pg-schema", default="damamaya_bench_history")
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-naive", action="store_true")
    ap.add_argument("--reuse", action="store_true", help="keep databases that already hold --records records")
    args = ap.parse_args(argv)
    if args.pg_schema.lower() == "public":
        raise SystemExit("refusing to use the public schema")

    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    now = end
    tmp = None
    if args.sqlite:
        sqlite_path = Path(args.sqlite)
    else:
        tmp = tempfile.mkdtemp(prefix="dmy-bench-")
        sqlite_path = Path(tmp) / "history.sqlite"
    dbs: dict[str, History] = {"SQLite": History(f"sqlite:///{sqlite_path}")}
    if not args.no_pg:
        admin = create_engine(args.pg)
        with admin.begin() as conn:
            if not args.reuse:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{args.pg_schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{args.pg_schema}"'))
        admin.dispose()
        dbs["PostgreSQL"] = History(pg_url(args.pg, args.pg_schema))
    if args.reuse:
        with dbs["SQLite"].engine.connect() as conn:
            last = conn.execute(select(func.max(events.c.ts))).scalar() if dbs["SQLite"].engine.dialect.has_table(
                conn, "analytics_events") else None
        if last:
            now = datetime.fromtimestamp(last, UTC).replace(minute=0, second=0) + timedelta(hours=1)
            end = now
    for label, history in dbs.items():
        prepare(history, args.records, args.days, end, args.reuse, label)

    df = None
    load_time = None
    if not args.no_naive:
        t = time.perf_counter()
        df = naive_load(dbs["SQLite"])
        load_time = time.perf_counter() - t

    rows = []
    for name, query in CASES:
        figures = [_median(history_change(h, query, now), args.repeat) for h in dbs.values()]
        naive = _median(naive_history(df, query, now), args.repeat) if df is not None else None
        with dbs["SQLite"].engine.connect() as conn:
            matched = Q.count(conn, Q.scope(conn, HistoryFilter.from_query(query), now))
        rows.append((name, matched, figures, naive))
    for name, key in KPI_CASES:
        figures = [_median(kpi_load(h, key, now), args.repeat) for h in dbs.values()]
        naive = _median(naive_kpi(df, key, now), 1) if df is not None else None
        rows.append((name, None, figures, naive))

    heads = ["query", "rows"] + [f"{k} ms" for k in dbs] + (["naive pandas ms"] if df is not None else [])
    width = max(len(r[0]) for r in rows) + 2
    print(f"\n{args.records:,} records over {args.days} days; server time per filter change or page load "
          f"(median of {args.repeat}); {os.cpu_count()} cores\n")
    print(heads[0].ljust(width) + "".join(h.rjust(16) for h in heads[1:]))
    print("-" * (width + 16 * (len(heads) - 1)))
    for name, matched, figures, naive in rows:
        cells = ["" if matched is None else f"{matched:,}"] + [f"{x * 1000:,.0f}" for x in figures]
        if df is not None:
            cells.append(f"{naive * 1000:,.0f}")
        print(name.ljust(width) + "".join(c.rjust(16) for c in cells))
    if load_time is not None:
        print(f"\nnaive pandas: loading `records` into a DataFrame took {load_time:,.1f} s before any of its queries "
              f"(and {df.memory_usage(deep=True).sum() / 1e9:.1f} GB)")
    for h in dbs.values():
        forget_schema(h.engine)
        h.dispose()
    if tmp and not args.sqlite:
        for p in Path(tmp).glob("*"):
            p.unlink()
        os.rmdir(tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
