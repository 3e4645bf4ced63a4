"""Staple-price arithmetic shared by the wall tile and the /kpi screen: pure, no clock.

A series is one commodity's daily prices, {calendar day in WITA: rupiah}
(one market, or already averaged over markets).

Gap rule: a change over h days compares the latest price with the most recent
price dated on or before (latest day - h), and no more than `tolerance` days
before that target (default 3: a day without a survey - weekend, holiday -
falls back to the nearest earlier one). With no such price there is no change.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterable

from engine.records import WITA

TOLERANCE_DAYS = 3
CV_WINDOW_DAYS = 30


@dataclass(frozen=True)
class Change:
    day: date  # of the latest price
    value: float
    ref_day: date
    ref_value: float
    diff: float  # rupiah
    pct: float


def market_date(at: datetime) -> date:
    """The calendar day (WITA) a price is for."""
    return (at if at.tzinfo else at.replace(tzinfo=WITA)).astimezone(WITA).date()


def daily_series(points: Iterable[tuple[str, str, date, float]]) -> dict[tuple[str, str], dict[date, float]]:
    """(commodity, market, day, value) -> {(commodity, market): {day: value}}; of several prices on one day the last given counts."""
    out: dict[tuple[str, str], dict[date, float]] = defaultdict(dict)
    for commodity, market, day, value in points:
        out[(commodity, market)][day] = value
    return dict(out)


def latest_day(series: dict[date, float], as_of: date | None = None) -> date | None:
    return max((d for d in series if as_of is None or d <= as_of), default=None)


def change(series: dict[date, float], days: int, as_of: date | None = None,
           tolerance: int | None = TOLERANCE_DAYS) -> Change | None:
    """The latest price (on or before `as_of`) against the one `days` before it, by the gap rule above.

    tolerance=None takes any earlier day: change(series, 1, tolerance=None) is
    "against the previous reported day", however long ago that was.
    """
    last = latest_day(series, as_of)
    if last is None:
        return None
    target = last - timedelta(days=days)
    earliest = None if tolerance is None else target - timedelta(days=tolerance)
    ref_day = max((d for d in series if d <= target and (earliest is None or d >= earliest)), default=None)
    if ref_day is None or not series[ref_day]:
        return None
    now, then = series[last], series[ref_day]
    return Change(last, now, ref_day, then, now - then, 100.0 * (now - then) / then)


def cv(series: dict[date, float], as_of: date | None = None, window: int = CV_WINDOW_DAYS) -> float | None:
    """Coefficient of variation (%): sample standard deviation over mean of the daily prices
    in the `window` days ending on the latest day; None with fewer than two days."""
    last = latest_day(series, as_of)
    if last is None:
        return None
    values = [v for d, v in series.items() if last - timedelta(days=window) < d <= last]
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    if not mean:
        return None
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return 100.0 * math.sqrt(var) / mean
