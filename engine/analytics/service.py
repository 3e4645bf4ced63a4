"""The read service of /kpi and /history: one call per view, answers as plain data.

Created once per process with the history's engine; it makes sure the analytics
tables exist once, holds the engine (the screens hold none), and keeps the KPI
report of a (period, minute) in a cache shared by the web workers. Inputs are
checked against the known sets before they reach a query or a cache key, so
made-up values get `BadInput`, never a computation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

from pydantic import TypeAdapter
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, SQLAlchemyError

from engine.analytics import kpis as KP
from engine.analytics import queries as Q
from engine.analytics.config import KpiConfig
from engine.analytics.filters import PAGE_SIZE, HistoryFilter
from engine.analytics.registry import AREA_LEVELS, AREA_METRICS, PERIODS
from engine.analytics.schema import ensure_schema
from engine.cache import Cache

REPORT_TTL = 120  # seconds; reports are keyed by the minute anyway


class BadInput(ValueError):
    """A request value outside what the screen offers."""


def _known(value, choices) -> bool:
    return isinstance(value, str) and value in choices


def check_period(key) -> str:
    if not _known(key, PERIODS):
        raise BadInput(f"unknown period {str(key)[:40]!r}; known: {', '.join(PERIODS)}")
    return key


def check_area(metric, level) -> tuple[str, str]:
    if not _known(metric, AREA_METRICS):
        raise BadInput(f"unknown metric {str(metric)[:40]!r}; known: {', '.join(AREA_METRICS)}")
    if not _known(level, AREA_LEVELS):
        raise BadInput(f"unknown level {str(level)[:40]!r}; known: {', '.join(AREA_LEVELS)}")
    return metric, level


_NO_CONNECTION = ("unable to open database", "could not connect", "connection refused", "connection to server",
                  "server closed the connection", "timeout expired", "no such host")


def unreachable(exc: SQLAlchemyError) -> bool:
    """Whether a database error means the database cannot be reached (rather than that
    it refused what was asked), so a screen says the right thing."""
    if isinstance(exc, InterfaceError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return True
    text = str(getattr(exc, "orig", None) or exc).lower()
    return any(phrase in text for phrase in _NO_CONNECTION)


@dataclass
class HistorySummary:
    total: int
    page: int
    pages: int
    rows: list[dict]
    by_category: list[tuple[str, int]]
    by_desa: dict[str, int]
    points: list[dict]


@dataclass
class HistoryTimeline:
    series: list[tuple[datetime, int]]
    grid: list[list[int]]
    granularity: str


REPORT = TypeAdapter(KP.Report)
AREA_VALUES = TypeAdapter(dict[str, float | None])


class AnalyticsService:
    def __init__(self, engine: Engine, kpi_config: KpiConfig, cache: Cache | None = None):
        self.engine, self.kpi_config, self.cache = engine, kpi_config, cache
        ensure_schema(engine)

    # ---- /kpi ------------------------------------------------------------------------------
    def kpi_report(self, period: str, as_of: datetime) -> KP.Report:
        period = check_period(period)
        return self._cached(f"kpi:report:{period}:{int(as_of.timestamp())}", REPORT,
                            lambda: KP.compute(self.engine, self.kpi_config, period, as_of))

    def area_values(self, metric: str, level: str, period: str, as_of: datetime) -> dict[str, float | None]:
        metric, level = check_area(metric, level)
        period = check_period(period)
        return self._cached(f"kpi:area:{metric}:{level}:{period}:{int(as_of.timestamp())}", AREA_VALUES,
                            lambda: KP.area_values(self.engine, self.kpi_config, metric, level, period, as_of))

    def _cached(self, key: str, shape: TypeAdapter, compute):
        """Kept as JSON of `shape` (never pickle: what Redis holds is read as data, not run).
        The cache is a help, not a need: the screen still works (uncached) when it fails."""
        if self.cache is not None:
            try:
                hit = self.cache.get(key)
                if hit is not None:
                    return shape.validate_json(hit)
            except Exception:  # noqa: BLE001 - a stale or foreign entry: computed again
                pass
        value = compute()
        if self.cache is not None:
            try:
                self.cache.set(key, shape.dump_json(value), REPORT_TTL)
            except Exception:  # noqa: BLE001
                pass
        return value

    # ---- /history ------------------------------------------------------------------------------
    def history_summary(self, f: HistoryFilter, now: datetime) -> HistorySummary:
        """The breakdowns (one query), the table page and the map points: everything but time."""
        with Q.reading(self.engine) as conn:
            s = Q.scope(conn, f, now)
            b = Q.breakdown(conn, s)
            pages = max(1, math.ceil(b.total / PAGE_SIZE))
            number = min(f.page, pages)
            rows = Q.page(conn, s, number, PAGE_SIZE)
            pts = Q.points(conn, s)
        return HistorySummary(b.total, number, pages, rows, b.by_category, b.by_desa, pts)

    def history_timeline(self, f: HistoryFilter, now: datetime) -> HistoryTimeline:
        """Counts over time and the hour x weekday grid, from one query."""
        with Q.reading(self.engine) as conn:
            s = Q.scope(conn, f, now)
            series, grid = Q.time_grid(conn, s)
        return HistoryTimeline(series, grid, s.granularity)

    def source_names(self) -> list[str]:
        with Q.reading(self.engine) as conn:
            return Q.facet_values(conn, "source")

    def export_rows(self, f: HistoryFilter, at: datetime) -> Iterator[dict]:
        """Every row of the filtered view, streamed in batches (for the CSV and GeoJSON exports)."""
        with Q.reading(self.engine) as conn:
            s = Q.scope(conn, f, at)
            yield from Q.rows_for_export(conn, s)
