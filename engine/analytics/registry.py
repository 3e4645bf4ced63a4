"""The KPI registry: what each KPI of /kpi is, in one entry. Its query is a function of
engine/analytics/kpis.py registered under the same id (`@produces`), its words are
`kpi.<id>` in layouts/messages/analytics.py.

A new KPI: one entry here, one query function there, its messages.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PILLARS = ("governance", "branding", "economy", "living", "society", "environment")


@dataclass(frozen=True)
class KpiDef:
    id: str
    section: str                      # the /kpi section it is shown in (message kpi.section.<section>)
    unit: str                         # %, s, h, level, or what is counted (calls, spots, ...)
    decimals: int                     # shown with this many decimals (seconds are shown as minutes)
    better: Literal["lower", "higher"]
    rests_on: tuple[str, ...]         # the data it is computed from: categories, quantities or KPI config keys
    pillars: tuple[str, ...] = ()     # smart-city pillars it counts in by default
    rank: int = 0                     # its place in those pillars' lists


def _kpi(id, section, unit, decimals, better, rests_on, pillars=(), rank=0) -> KpiDef:
    return KpiDef(id, section, unit, decimals, better, tuple(rests_on), tuple(pillars), rank)


_ENTRIES = (
    _kpi("calls.volume", "calls", "calls", 0, "lower", ["emergency categories"], ["society"], 1),
    _kpi("calls.non_emergency_share", "calls", "%", 1, "lower", ["emergency categories", "non_emergency_categories"], ["society"], 2),
    _kpi("calls.dispatch_time", "calls", "s", 1, "lower", ["emergency categories", "non_emergency_categories"], ["governance"], 4),
    _kpi("calls.response_time", "calls", "s", 1, "lower", ["emergency categories", "non_emergency_categories"], ["living"], 1),
    _kpi("complaints.first_response", "complaints", "%", 1, "higher", ["complaint categories", "first_response_days"], ["governance"], 1),
    _kpi("complaints.resolved", "complaints", "%", 1, "higher", ["complaint categories", "resolution_days"], ["governance"], 2),
    _kpi("complaints.backlog", "complaints", "complaints", 0, "lower", ["complaint categories"], ["governance"], 3),
    _kpi("floods.active_spots", "floods", "spots", 0, "lower", ["flood_categories"], ["branding", "environment"], 5),
    _kpi("floods.max_alert", "floods", "level", 0, "lower", ["gauge_quantity"], ["environment"], 1),
    _kpi("floods.siaga_hours", "floods", "h", 1, "lower", ["gauge_quantity", "gauge_max_gap_minutes"], ["environment"], 2),
    _kpi("traffic.congested_segments", "traffic", "segments", 0, "lower", ["congestion_categories"], ["branding"], 1),
    _kpi("traffic.incidents", "traffic", "incidents", 0, "lower", ["traffic_incident_categories"], ["living"], 2),
    _kpi("traffic.cctv_online", "traffic", "%", 1, "higher", ["cctv_quantity"], ["living"], 3),
    _kpi("prices.change", "prices", "%", 1, "lower", ["price records"], ["economy"], 1),
    _kpi("prices.ceiling", "prices", "commodities", 0, "lower", ["price records", "price_ceilings"], ["economy"], 2),
    _kpi("prices.volatility", "prices", "%", 1, "lower", ["price records"], ["economy"], 3),
)

KPIS: dict[str, KpiDef] = {k.id: k for k in _ENTRIES}
KPI_IDS = tuple(KPIS)
SECTIONS: dict[str, list[str]] = {}
for _k in _ENTRIES:
    SECTIONS.setdefault(_k.section, []).append(_k.id)
DEFAULT_PILLARS: dict[str, list[str]] = {
    p: [k.id for k in sorted((k for k in _ENTRIES if p in k.pillars), key=lambda k: k.rank)] for p in PILLARS}


# ---- the comparison by area --------------------------------------------------------------------
@dataclass(frozen=True)
class AreaMetric:
    id: str
    better: Literal["lower", "higher"]
    decimals: int
    scale: float = 1.0  # shown value = value * scale (seconds -> minutes)


AREA_METRICS: dict[str, AreaMetric] = {m.id: m for m in (
    AreaMetric("calls", "lower", 0), AreaMetric("response_p90", "lower", 1, 1 / 60),
    AreaMetric("complaints", "lower", 0), AreaMetric("resolved_pct", "higher", 1),
    AreaMetric("backlog", "lower", 0), AreaMetric("floods", "lower", 0), AreaMetric("traffic", "lower", 0),
)}
AREA_LEVELS = ("kecamatan", "desa")

# ---- periods --------------------------------------------------------------------------------------
PERIODS = {"1d": 1, "7d": 7, "30d": 30, "90d": 90}  # key -> days
DEFAULT_PERIOD = "30d"
