"""The mayor's office KPIs from the analytics projection: fetch little, compute with engine.analytics.kpi.

Each KPI is computed for the period and for the one before it (same length), with
its freshness (newest datum), completeness (from `source_outages`) and status
against the configured targets.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.engine import Connection, Engine

from typing import TYPE_CHECKING, Callable

from engine.analytics import kpi as K
from engine.analytics.queries import day_number, reading
from engine.analytics.registry import AREA_METRICS, DEFAULT_PERIOD, KPIS, PERIODS  # noqa: F401 - the screens' one import
from engine.analytics.schema import KIND_CODE, STATUS_CODE, Codes, desa_code_of, ensure_schema, events, feeds
from engine.geo import kecamatan_code
from engine.history import source_outages
from engine.records import OPEN_STATUSES, WITA
from engine.taxonomy import CATEGORIES

if TYPE_CHECKING:
    from engine.analytics.config import KpiConfig

EMERGENCY = [c for c, v in CATEGORIES.items() if v[0] == "emergency"]
COMPLAINT = [c for c, v in CATEGORIES.items() if v[0] == "complaint"]
OPEN_CODES = [STATUS_CODE[s] for s in OPEN_STATUSES]
VOID_CODES = [STATUS_CODE["rejected"], STATUS_CODE["cancelled"]]
UTC = timezone.utc
c = events.c


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    @property
    def previous(self) -> "Period":
        return Period(self.start - (self.end - self.start), self.start)

    @property
    def t0(self) -> int:
        return int(self.start.timestamp())

    @property
    def t1(self) -> int:
        return int(self.end.timestamp())


def period(key: str, as_of: datetime) -> Period:
    return Period(as_of - timedelta(days=PERIODS.get(key, PERIODS[DEFAULT_PERIOD])), as_of)


def _time(where: list, start: int, end: int) -> list:
    """Range terms on both day (for the index) and ts (exact)."""
    d0 = day_number(datetime.fromtimestamp(start, UTC))
    d1 = day_number(datetime.fromtimestamp(end, UTC))
    return where + [c.day >= d0, c.day <= d1, c.ts >= start, c.ts < end]


def _dt(ts: int | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


@dataclass
class Report:
    period: Period
    kpis: dict[str, K.Kpi] = field(default_factory=dict)
    calls_by_category: list[tuple[str, int, int | None]] = field(default_factory=list)  # category, now, before
    backlog: dict[str, int] = field(default_factory=dict)
    gauges: list[dict] = field(default_factory=list)
    prices: list[tuple[str, K.PriceStats]] = field(default_factory=list)
    pillars: dict[str, tuple[str, list[str]]] = field(default_factory=dict)


class _Ctx:
    def __init__(self, conn: Connection, kcfg: KpiConfig, p: Period, as_of: datetime):
        self.conn, self.kcfg, self.p, self.prev, self.as_of = conn, kcfg, p, p.previous, as_of
        self._outages: dict[str, list] | None = None

    def cats(self, names) -> list[int]:
        return Codes.lookup(self.conn, "category", list(names))

    def freshness(self, cats: list[int], kind: str = "incident") -> datetime | None:
        newest = None
        for cat in cats:
            ts = self.conn.execute(select(c.ts).where(c.cat == cat, c.kind == KIND_CODE[kind],
                                                      c.day <= day_number(self.p.end), c.ts < self.p.t1)
                                   .order_by(c.cat.desc(), c.day.desc(), c.ts.desc()).limit(1)).scalar()
            if ts is not None and (newest is None or ts > newest):
                newest = ts
        return _dt(newest)

    def outages(self) -> dict[str, list]:
        if self._outages is None:
            rows = self.conn.execute(select(source_outages.c.source, source_outages.c.started_at,
                                            source_outages.c.ended_at).where(
                source_outages.c.started_at < self.p.end,
                or_(source_outages.c.ended_at.is_(None), source_outages.c.ended_at > self.prev.start)))
            self._outages = defaultdict(list)
            for r in rows:
                self._outages[r.source].append((r.started_at, r.ended_at))
        return self._outages

    def completeness(self, cats: list[int], p: Period) -> float | None:
        if not cats:
            return None
        srcs = {r.src for r in self.conn.execute(select(feeds.c.src).where(feeds.c.cat.in_(cats)))}
        names = Codes.names(self.conn, "source")
        outages = self.outages()
        per_source = {names[s]: outages.get(names[s], []) for s in srcs if s in names}
        return K.completeness(per_source, p.start, p.end)

    def finish(self, kpi: K.Kpi, cats: list[int], kind: str = "incident", fresh: datetime | None = None) -> K.Kpi:
        kpi.freshness = fresh if fresh is not None else self.freshness(cats, kind)
        kpi.completeness = self.completeness(cats, self.p)
        before = self.completeness(cats, self.prev)
        return K.finish(kpi, self.kcfg.targets.get(kpi.id), self.kcfg.min_completeness, before)


# ---- queries, registered under the ids of the KPIs they compute ---------------------------------------
QUERIES: dict[str, Callable] = {}


def produces(*kpi_ids: str):
    """Register a query as the one that computes `kpi_ids` (one query may compute several
    KPIs that share their reads); each id must be an entry of the registry."""
    def register(fn):
        for kid in kpi_ids:
            if kid not in KPIS:
                raise ValueError(f"{fn.__name__}: {kid!r} is not in the KPI registry")
            if kid in QUERIES:
                raise ValueError(f"{kid!r} has two queries")
            QUERIES[kid] = fn
        return fn
    return register


def _counts_by_cat(ctx: _Ctx, cats: list[int], p: Period) -> dict[int, int]:
    if not cats:
        return {}
    rows = ctx.conn.execute(select(c.cat, func.count()).where(
        *_time([c.kind == KIND_CODE["incident"], c.cat.in_(cats)], p.t0, p.t1)).group_by(c.cat))
    return dict(rows.all())


@produces("calls.volume", "calls.non_emergency_share", "calls.dispatch_time", "calls.response_time")
def _calls(ctx: _Ctx, report: Report) -> None:
    kcfg = ctx.kcfg
    cats = ctx.cats(EMERGENCY)
    names = Codes.names(ctx.conn, "category")
    now, before = _counts_by_cat(ctx, cats, ctx.p), _counts_by_cat(ctx, cats, ctx.prev)
    report.calls_by_category = sorted(((names[k], now.get(k, 0), before.get(k, 0)) for k in set(now) | set(before)),
                                      key=lambda x: -x[1])
    non = set(ctx.cats(kcfg.non_emergency_categories))
    total, total_b = sum(now.values()), sum(before.values())
    non_now = sum(n for k, n in now.items() if k in non)
    non_b = sum(n for k, n in before.items() if k in non)
    fresh = ctx.freshness(cats)
    report.kpis["calls.volume"] = ctx.finish(K.Kpi("calls.volume", total, "calls", previous=total_b, samples=total),
                                             cats, fresh=fresh)
    report.kpis["calls.non_emergency_share"] = ctx.finish(K.Kpi(
        "calls.non_emergency_share", K.share(non_now, total), "%", previous=K.share(non_b, total_b), samples=total),
        cats, fresh=fresh)
    dispatchable = [k for k in cats if k not in non]
    for column, kid in ((c.t_dispatch, "calls.dispatch_time"), (c.t_scene, "calls.response_time")):
        hist = _histogram(ctx, dispatchable, column) if dispatchable else {"now": [], "before": []}
        s_now = K.spread_of_counts(hist["now"], kcfg.min_samples)
        s_before = K.spread_of_counts(hist["before"], kcfg.min_samples)
        report.kpis[kid] = ctx.finish(K.Kpi(kid, s_now.p90, "s", previous=s_before.p90, samples=s_now.n,
                                            few_samples=s_now.few, detail={"p50": s_now.p50, "p50_before": s_before.p50}),
                                      cats, fresh=fresh)


def _histogram(ctx: _Ctx, cats: list[int], column) -> dict[str, list[tuple[float, int]]]:
    """Seconds -> how many calls, for both periods, counted in SQL: the percentiles are exact at
    one-second resolution and no call row travels to Python."""
    current = case((c.ts >= ctx.p.t0, 1), else_=0)
    seconds = func.round(column)
    rows = ctx.conn.execute(select(current, seconds, func.count()).where(
        *_time([c.kind == KIND_CODE["incident"], c.cat.in_(cats)], ctx.prev.t0, ctx.p.t1), column.is_not(None))
        .group_by(current, seconds)).all()
    out: dict[str, list] = {"now": [], "before": []}
    for cur, value, n in rows:
        out["now" if cur else "before"].append((float(value), n))
    return out


def deadline_counts(ctx: _Ctx, cats: list[int], p: Period, first: bool, by_desa: bool = False):
    """(met, judged) of the complaints whose deadline falls in p and has passed: one scan of a deadline index."""
    due, done = (c.due_first, c.at_first) if first else (c.due_done, c.at_done)
    stop = min(p.t1, int(ctx.as_of.timestamp()))
    met = func.sum(case((and_(done.is_not(None), done < due), 1), else_=0))
    where = [due >= p.t0, due < stop, c.cat.in_(cats)]
    if not first:
        where.append(c.st.not_in(VOID_CODES))
    if by_desa:
        return {d: (int(m or 0), n) for d, m, n in ctx.conn.execute(
            select(c.desa, met, func.count()).where(*where).group_by(c.desa))}
    m, n = ctx.conn.execute(select(met, func.count()).where(*where)).one()
    return int(m or 0), n


def open_at(ctx: _Ctx, cats: list[int], at: int) -> list[tuple[int, int]]:
    """(opened ts, desa) of the incidents open at `at`: still open now, or closed after `at`."""
    if not cats:
        return []
    still = ctx.conn.execute(select(c.ts, c.desa).where(
        c.cat.in_(cats), c.kind == KIND_CODE["incident"], c.st.in_(OPEN_CODES), c.ts < at)).all()
    later = ctx.conn.execute(select(c.ts, c.desa).where(c.at_done > at, c.cat.in_(cats), c.ts < at)).all()
    return [(r[0], r[1]) for r in still] + [(r[0], r[1]) for r in later]


@produces("complaints.first_response", "complaints.resolved", "complaints.backlog")
def _complaints(ctx: _Ctx, report: Report) -> None:
    cats = ctx.cats(COMPLAINT)
    results = {}
    for name, p in (("now", ctx.p), ("before", ctx.prev)):
        first = deadline_counts(ctx, cats, p, True) if cats else (0, 0)
        done = deadline_counts(ctx, cats, p, False) if cats else (0, 0)
        aging = K.backlog_aging([_dt(ts) for ts, _ in open_at(ctx, cats, p.t1)], p.end)
        results[name] = (first, done, aging)
    (f_met, f_n), (d_met, d_n), aging = results["now"]
    (fb_met, fb_n), (db_met, db_n), aging_b = results["before"]
    fresh = ctx.freshness(cats)
    report.backlog = aging
    report.kpis["complaints.first_response"] = ctx.finish(K.Kpi(
        "complaints.first_response", K.share(f_met, f_n), "%", previous=K.share(fb_met, fb_n), samples=f_n,
        few_samples=0 < f_n < ctx.kcfg.min_samples, detail={"met": f_met, "judged": f_n}), cats, fresh=fresh)
    report.kpis["complaints.resolved"] = ctx.finish(K.Kpi(
        "complaints.resolved", K.share(d_met, d_n), "%", previous=K.share(db_met, db_n), samples=d_n,
        few_samples=0 < d_n < ctx.kcfg.min_samples, detail={"met": d_met, "judged": d_n}), cats, fresh=fresh)
    report.kpis["complaints.backlog"] = ctx.finish(K.Kpi(
        "complaints.backlog", aging[">14"], "complaints", previous=aging_b[">14"],
        detail={"buckets": aging, "open": sum(aging.values())}), cats, fresh=fresh)


@produces("floods.active_spots", "floods.max_alert", "floods.siaga_hours")
def _floods(ctx: _Ctx, report: Report) -> None:
    k = ctx.kcfg
    cats = ctx.cats(k.flood_categories)
    active = len(open_at(ctx, cats, ctx.p.t1))
    active_b = len(open_at(ctx, cats, ctx.prev.t1))
    reported = sum(_counts_by_cat(ctx, cats, ctx.p).values())
    report.kpis["floods.active_spots"] = ctx.finish(K.Kpi("floods.active_spots", active, "spots", previous=active_b,
                                                          detail={"reported": reported}), cats)
    gauge = ctx.cats([k.gauge_quantity])
    gap = timedelta(minutes=k.gauge_max_gap_minutes)
    per_gauge: dict[int, list] = defaultdict(list)
    top_by_gauge: dict[int, dict[str, int | None]] = defaultdict(lambda: {"now": None, "before": None})
    if gauge:
        t_from = int((ctx.prev.start - gap).timestamp())
        where = _time([c.kind == KIND_CODE["reading"], c.cat.in_(gauge)], t_from, ctx.p.t1)
        # only readings at Siaga II or I travel, each with the time of the gauge's next reading
        nxt = func.lead(c.ts).over(partition_by=c.grp, order_by=c.ts).label("next_ts")
        inner = select(c.grp, c.ts, c.alert, nxt).where(*where).subquery()
        for grp, ts, alert, next_ts in ctx.conn.execute(select(inner).where(inner.c.alert >= 2)).all():
            per_gauge[grp].append((_dt(ts), alert))
            if next_ts is not None:
                per_gauge[grp].append((_dt(next_ts), 0))  # where the level ends (or continues, if also >= 2)
        current = case((c.ts >= ctx.p.t0, 1), else_=0)
        for grp, cur, top in ctx.conn.execute(select(c.grp, current, func.max(c.alert)).where(
                *where, c.ts >= ctx.prev.t0).group_by(c.grp, current)).all():
            top_by_gauge[grp]["now" if cur else "before"] = top or 0
    groups = Codes.names(ctx.conn, "group")
    hours, hours_b, top, top_b = 0.0, 0.0, None, None
    report.gauges = []
    for grp, tops in top_by_gauge.items():
        readings = sorted(set(per_gauge.get(grp, [])))
        h = K.siaga_hours(readings, ctx.p.start, ctx.p.end, gap)
        hb = K.siaga_hours(readings, ctx.prev.start, ctx.prev.end, gap)
        if tops["now"] is not None:
            top = max(top or 0, tops["now"])
        if tops["before"] is not None:
            top_b = max(top_b or 0, tops["before"])
        hours, hours_b = hours + h, hours_b + hb
        report.gauges.append({"gauge": groups.get(grp, str(grp)), "hours": h, "max_alert": tops["now"]})
    report.gauges.sort(key=lambda g: -g["hours"])
    fresh = ctx.freshness(gauge, "reading")
    gauges = len(top_by_gauge)
    report.kpis["floods.max_alert"] = ctx.finish(K.Kpi("floods.max_alert", top, "level", previous=top_b,
                                                       samples=gauges), gauge, "reading", fresh=fresh)
    report.kpis["floods.siaga_hours"] = ctx.finish(K.Kpi("floods.siaga_hours", hours if gauges else None, "h",
                                                         previous=hours_b if gauges else None,
                                                         samples=gauges), gauge, "reading", fresh=fresh)


@produces("traffic.congested_segments", "traffic.incidents", "traffic.cctv_online")
def _traffic(ctx: _Ctx, report: Report) -> None:
    k = ctx.kcfg
    jam = ctx.cats(k.congestion_categories)
    inc = ctx.cats(k.traffic_incident_categories)
    both = jam + inc
    now, before = _counts_by_cat(ctx, both, ctx.p), _counts_by_cat(ctx, both, ctx.prev)
    active_jams = ctx.conn.execute(select(func.count()).select_from(events).where(
        c.kind == KIND_CODE["incident"], c.cat.in_(jam), c.st.in_(OPEN_CODES), c.ts < ctx.p.t1)).scalar() if jam else 0
    report.kpis["traffic.congested_segments"] = ctx.finish(K.Kpi(
        "traffic.congested_segments", sum(now.get(x, 0) for x in jam), "segments",
        previous=sum(before.get(x, 0) for x in jam), detail={"active": active_jams}), jam)
    report.kpis["traffic.incidents"] = ctx.finish(K.Kpi(
        "traffic.incidents", sum(now.get(x, 0) for x in inc), "incidents", previous=sum(before.get(x, 0) for x in inc)),
        inc)
    cams = ctx.cats([k.cctv_quantity])
    share_now = share_before = None
    n_now = 0
    if cams:
        for p, which in ((ctx.p, "now"), (ctx.prev, "before")):
            avg, n = ctx.conn.execute(select(func.avg(c.value), func.count()).where(
                *_time([c.kind == KIND_CODE["reading"], c.cat.in_(cams)], p.t0, p.t1))).one()
            value = None if avg is None else 100.0 * avg
            if which == "now":
                share_now, n_now = value, n
            else:
                share_before = value
    report.kpis["traffic.cctv_online"] = ctx.finish(K.Kpi("traffic.cctv_online", share_now, "%",
                                                          previous=share_before, samples=n_now), cams, "reading")


def _price_series(ctx: _Ctx) -> dict[str, dict[date, float]]:
    d1 = day_number(ctx.p.end)
    d0 = day_number(ctx.prev.start) - 45
    names = Codes.names(ctx.conn, "category")
    series: dict[str, dict[date, float]] = defaultdict(dict)
    cats = [r.cat for r in ctx.conn.execute(select(feeds.c.cat).where(feeds.c.kind == KIND_CODE["price"]).distinct())]
    if not cats:
        return series
    rows = ctx.conn.execute(select(c.cat, c.day, func.avg(c.value)).where(
        c.cat.in_(cats), c.kind == KIND_CODE["price"], c.day >= d0, c.day <= d1, c.ts < ctx.p.t1).group_by(c.cat, c.day))
    for cat, day, avg in rows:
        series[names.get(cat, str(cat))][date(1970, 1, 1) + timedelta(days=day)] = avg
    return series


@produces("prices.change", "prices.ceiling", "prices.volatility")
def _prices(ctx: _Ctx, report: Report) -> None:
    series = _price_series(ctx)
    ceilings = ctx.kcfg.price_ceilings
    end_day = ctx.p.end.astimezone(WITA).date()
    prev_day = ctx.prev.end.astimezone(WITA).date()
    stats = {name: K.price_stats(s, end_day, ceilings.get(name)) for name, s in sorted(series.items())}
    before = {name: K.price_stats(s, prev_day, ceilings.get(name)) for name, s in series.items()}
    report.prices = [(n, st) for n, st in stats.items() if st.latest is not None]

    def largest(values):
        values = [v for v in values if v is not None]
        return max(values) if values else None

    cats = ctx.cats(list(series))
    fresh_days = [st.latest_date for st in stats.values() if st.latest_date]
    fresh = datetime.combine(max(fresh_days), datetime.min.time(), WITA) if fresh_days else None
    has = bool(report.prices)
    report.kpis["prices.change"] = ctx.finish(K.Kpi(
        "prices.change", largest(abs(s.change_month) for s in stats.values() if s.change_month is not None),
        "%", previous=largest(abs(s.change_month) for s in before.values() if s.change_month is not None)),
        cats, "price", fresh=fresh)
    report.kpis["prices.ceiling"] = ctx.finish(K.Kpi(
        "prices.ceiling", sum(s.above_ceiling for s in stats.values()) if has else None, "commodities",
        previous=sum(s.above_ceiling for s in before.values()) if has else None), cats, "price", fresh=fresh)
    report.kpis["prices.volatility"] = ctx.finish(K.Kpi(
        "prices.volatility", largest(s.cv30 for s in stats.values()), "%",
        previous=largest(s.cv30 for s in before.values())), cats, "price", fresh=fresh)


def compute(engine: Engine, kcfg: KpiConfig, key: str = DEFAULT_PERIOD, as_of: datetime | None = None) -> Report:
    as_of = (as_of or datetime.now(UTC)).replace(microsecond=0)
    ensure_schema(engine)
    p = period(key, as_of)
    report = Report(p)
    with reading(engine) as conn:
        ctx = _Ctx(conn, kcfg, p, as_of)
        for query in dict.fromkeys(QUERIES[kid] for kid in KPIS):  # each query once, in registry order
            query(ctx, report)
    for pillar, ids in kcfg.pillars.items():
        report.pillars[pillar] = (K.pillar_status([report.kpis[i].status for i in ids if i in report.kpis]), ids)
    return report


# ---- comparison by area ------------------------------------------------------------------


def area_values(engine: Engine, kcfg: KpiConfig, metric: str, level: str, key: str = DEFAULT_PERIOD,
                as_of: datetime | None = None) -> dict[str, float | None]:
    """metric per area code (kecamatan 51.71.kk or desa 51.71.kk.dddd) over the period."""
    as_of = (as_of or datetime.now(UTC)).replace(microsecond=0)
    ensure_schema(engine)
    p = period(key, as_of)

    def area(desa: int) -> str | None:
        code = desa_code_of(desa)
        if not code:
            return None
        return code if level == "desa" else kecamatan_code(code)

    with reading(engine) as conn:
        ctx = _Ctx(conn, kcfg, p, as_of)
        if metric in ("calls", "complaints", "floods", "traffic"):
            names = {"calls": EMERGENCY, "complaints": COMPLAINT, "floods": kcfg.flood_categories,
                     "traffic": kcfg.congestion_categories + kcfg.traffic_incident_categories}[metric]
            cats = ctx.cats(names)
            counts: dict[str, float] = defaultdict(float)
            if cats:
                for desa, n in conn.execute(select(c.desa, func.count()).where(
                        *_time([c.kind == KIND_CODE["incident"], c.cat.in_(cats)], p.t0, p.t1)).group_by(c.desa)):
                    if area(desa):
                        counts[area(desa)] += n
            return dict(counts)
        if metric == "response_p90":
            non = set(ctx.cats(kcfg.non_emergency_categories))
            cats = [x for x in ctx.cats(EMERGENCY) if x not in non]
            values: dict[str, list] = defaultdict(list)
            if cats:
                for desa, scene in conn.execute(select(c.desa, c.t_scene).where(
                        *_time([c.kind == KIND_CODE["incident"], c.cat.in_(cats)], p.t0, p.t1), c.t_scene.is_not(None))):
                    if area(desa):
                        values[area(desa)].append(scene)
            return {a: K.percentile(v, 90) for a, v in values.items()}
        cats = ctx.cats(COMPLAINT)
        result: dict[str, float | None] = {}
        if not cats:
            return result
        if metric == "resolved_pct":
            per: dict[str, list] = defaultdict(lambda: [0, 0])
            for desa, (met, n) in deadline_counts(ctx, cats, p, False, by_desa=True).items():
                if area(desa):
                    per[area(desa)][0] += met
                    per[area(desa)][1] += n
            return {a: K.share(m, n) for a, (m, n) in per.items()}
        counts: dict[str, float] = defaultdict(float)
        for _, desa in open_at(ctx, cats, p.t1):
            if area(desa):
                counts[area(desa)] += 1
        return dict(counts)
