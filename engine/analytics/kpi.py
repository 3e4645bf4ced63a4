"""KPI arithmetic: pure functions, no database, no clock. Hand-checked in tests/analytics.

Conventions
- Times are timezone-aware; calendar questions (working days, day buckets) are
  asked in WITA, where the city lives.
- A percentage of nothing is None ("no data"), never 0 %.
- Percentiles are nearest-rank: the p90 is a value that actually occurred, and
  "90 % of calls within p90" is true for any number of samples.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Iterable, Sequence

from engine import prices
from engine.records import WITA

DAY = timedelta(days=1)
BACKLOG_BUCKETS = ("0-3", "4-7", "8-14", ">14")


# ---- deadlines ----------------------------------------------------------------
def complaint_deadlines(received: datetime, category: str, kcfg) -> tuple[datetime, datetime]:
    """(first response due, resolution due) of a complaint whose source gives none: the
    SP4N-LAPOR! working days of the `kpi` block (`KpiConfig`), counted as /kpi counts them.
    The one rule for /kpi, the wall's overdue tile and the overdue alarm."""
    first = working_deadline(received, kcfg.first_response_days, kcfg.working_days, kcfg.holidays)
    done = working_deadline(received, kcfg.resolution_days_for(category), kcfg.working_days, kcfg.holidays)
    return first, done


def with_complaint_deadlines(rec: dict, kcfg) -> dict:
    """A complaint record (JSON form) with `details.first_response_due` and
    `details.resolution_due` filled where its source gave none (ISO UTC); other records,
    and complaints that carry both, come back as they are. A copy: the record is not touched."""
    if rec.get("kind") != "incident" or rec.get("domain") != "complaint" or kcfg is None:
        return rec
    details = rec.get("details") or {}
    if details.get("resolution_due") and details.get("first_response_due"):
        return rec
    first, done = complaint_deadlines(datetime.fromisoformat(rec["reported_at"].replace("Z", "+00:00")),
                                      rec.get("category", ""), kcfg)
    filled = {**details,
              "first_response_due": details.get("first_response_due") or first.astimezone(timezone.utc).isoformat(),
              "resolution_due": details.get("resolution_due") or done.astimezone(timezone.utc).isoformat()}
    return {**rec, "details": filled}


def working_deadline(received: datetime, days: int, working_days: Iterable[int] = (0, 1, 2, 3, 4),
                     holidays: Iterable[date] = ()) -> datetime:
    """The end of the `days`-th working day after the day of receipt, in WITA.

    Counting starts the day after receipt, whatever the hour (the SP4N-LAPOR!
    "N hari kerja" reading); weekends and holidays do not count. The result is
    the first instant after the deadline day (00:00 WITA next day): a response
    is on time when it comes strictly before it.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    work, off = set(working_days), set(holidays)
    day = received.astimezone(WITA).date()
    counted = 0
    while counted < days:
        day += DAY
        if day.weekday() in work and day not in off:
            counted += 1
    return datetime.combine(day + DAY, datetime.min.time(), WITA)


def backlog_aging(received: Iterable[datetime], as_of: datetime) -> dict[str, int]:
    """Open items by age in whole days: 0-3, 4-7, 8-14, over 14."""
    buckets = dict.fromkeys(BACKLOG_BUCKETS, 0)
    for at in received:
        age = (as_of - at) // DAY
        key = "0-3" if age <= 3 else "4-7" if age <= 7 else "8-14" if age <= 14 else ">14"
        buckets[key] += 1
    return buckets


# ---- shares and percentiles ---------------------------------------------------
def share(part: float, whole: float) -> float | None:
    return None if not whole else 100.0 * part / whole


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of the non-missing values; None when empty."""
    data = sorted(v for v in values if v is not None and not math.isnan(v))
    if not data:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(data)))
    return data[rank - 1]


def percentile_of_counts(counts: Iterable[tuple[float, int]], q: float) -> float | None:
    """The nearest-rank percentile of a histogram of (value, how many): the same answer as
    `percentile` on the expanded list, without expanding it."""
    items = sorted((v, n) for v, n in counts if v is not None and n > 0)
    total = sum(n for _, n in items)
    if not total:
        return None
    rank = max(1, math.ceil(q / 100.0 * total))
    seen = 0
    for value, n in items:
        seen += n
        if seen >= rank:
            return value
    return items[-1][0]


@dataclass
class Spread:
    p50: float | None
    p90: float | None
    n: int
    few: bool


def spread_of_counts(counts: Sequence[tuple[float, int]], min_samples: int) -> Spread:
    n = sum(c for v, c in counts if v is not None and v >= 0)
    kept = [(v, c) for v, c in counts if v is not None and v >= 0]
    return Spread(percentile_of_counts(kept, 50), percentile_of_counts(kept, 90), n, n < min_samples)


# ---- completeness and freshness -----------------------------------------------
def _merged(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def downtime(outages: Iterable[tuple[datetime, datetime | None]], start: datetime, end: datetime) -> timedelta:
    """Time within [start, end) covered by outages; an outage still open runs to `end`."""
    clipped = []
    for a, b in outages:
        a, b = max(a, start), min(b or end, end)
        if a < b:
            clipped.append((a, b))
    return sum((b - a for a, b in _merged(clipped)), timedelta())


def completeness(outages_by_source: dict[str, list[tuple[datetime, datetime | None]]], start: datetime,
                 end: datetime) -> float | None:
    """Share of the period the KPI's least available source was up (0..1); None: no source known."""
    if not outages_by_source:
        return None
    length = (end - start).total_seconds()
    if length <= 0:
        return None
    return min(1.0 - downtime(o, start, end).total_seconds() / length for o in outages_by_source.values())


# ---- floods -------------------------------------------------------------------
def siaga_hours(readings: Iterable[tuple[datetime, int]], start: datetime, end: datetime,
                max_gap: timedelta, min_level: int = 2) -> float:
    """Hours within [start, end) one gauge spent at alert level >= min_level (2 = Siaga II, 3 = Siaga I).

    A reading holds until the next one, but for at most `max_gap`: a gauge that
    went silent is not assumed to stay at its last level.
    """
    rows = sorted(readings)
    total = timedelta()
    for i, (at, level) in enumerate(rows):
        if level < min_level:
            continue
        until = at + max_gap
        if i + 1 < len(rows):
            until = min(until, rows[i + 1][0])
        a, b = max(at, start), min(until, end)
        if a < b:
            total += b - a
    return total.total_seconds() / 3600.0


# ---- prices -------------------------------------------------------------------
@dataclass
class PriceStats:
    latest: float | None
    latest_date: date | None
    change_day: float | None
    change_week: float | None
    change_month: float | None
    ceiling: float | None
    vs_ceiling: float | None  # % of the ceiling
    cv30: float | None  # coefficient of variation over 30 days, %
    above_ceiling: bool = False


def price_stats(series: dict[date, float], as_of: date, ceiling: float | None = None) -> PriceStats:
    """Stats of one commodity's daily price (already averaged over markets), by engine.prices:
    change against 1, 7 and 30 days before the latest day (gap rule there), 30-day CV."""
    last = prices.latest_day(series, as_of)
    if last is None:
        return PriceStats(None, None, None, None, None, ceiling, None, None)
    now = series[last]

    def pct(days: int) -> float | None:
        c = prices.change(series, days, as_of)
        return None if c is None else c.pct

    vs = share(now, ceiling) if ceiling else None
    return PriceStats(
        latest=now, latest_date=last, change_day=pct(1), change_week=pct(7), change_month=pct(30),
        ceiling=ceiling, vs_ceiling=vs, cv30=prices.cv(series, as_of), above_ceiling=bool(ceiling and now > ceiling),
    )


# ---- judging ------------------------------------------------------------------
def judge(value: float | None, target) -> str:
    """good / warn / bad against a Target; 'none' without a value or a target."""
    if value is None or target is None:
        return "none"
    if target.better == "lower":
        return "good" if value <= target.good else "warn" if value <= target.warn else "bad"
    return "good" if value >= target.good else "warn" if value >= target.warn else "bad"


def trend(current: float | None, previous: float | None) -> float | None:
    if current is None or previous is None:
        return None
    return current - previous


@dataclass
class Kpi:
    """One number for the mayor's office, with what makes it trustworthy."""

    id: str
    value: float | None
    unit: str = ""
    previous: float | None = None
    freshness: datetime | None = None  # newest datum the KPI rests on
    completeness: float | None = None  # 0..1, None: no source known
    incomplete: bool = False
    few_samples: bool = False
    samples: int | None = None
    status: str = "none"  # good / warn / bad / none / incomplete
    detail: dict = field(default_factory=dict)

    @property
    def delta(self) -> float | None:
        return None if self.incomplete else trend(self.value, self.previous)


def finish(kpi: Kpi, target, min_completeness: float, previous_completeness: float | None = None) -> Kpi:
    """Set incomplete and status; a trend against an incomplete previous period is dropped."""
    if kpi.completeness is not None and kpi.completeness < min_completeness:
        kpi.incomplete = True
        kpi.status = "incomplete"
    else:
        kpi.status = judge(kpi.value, target)
    if previous_completeness is not None and previous_completeness < min_completeness:
        kpi.previous = None
    return kpi


def pillar_status(statuses: Sequence[str]) -> str:
    """The worst of a pillar's KPI statuses; incomplete beats good, a pillar without KPIs is 'none'."""
    order = ["bad", "incomplete", "warn", "good"]
    for s in order:
        if s in statuses:
            return s
    return "none"
