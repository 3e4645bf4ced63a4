"""KPI configuration: deadlines, thresholds, price ceilings and the smart-city pillars.

The lead adds it to AppConfig as `kpi: KpiConfig = KpiConfig()`; every number
here is a local policy choice, so it is configuration, not code.
"""
from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Every KPI the /kpi screen computes (targets and pillars may only name these) and the
# default pillars come from the KPI registry.
from engine.analytics.registry import DEFAULT_PILLARS, KPI_IDS, KPIS, PILLARS  # noqa: F401



class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Target(_Strict):
    """`good` and `warn` are limits in the KPI's own unit; `better` says which way is good."""

    better: Literal["lower", "higher"]
    good: float
    warn: float

    @model_validator(mode="after")
    def _ordered(self):
        if self.better == "lower" and self.warn < self.good:
            raise ValueError("with better: lower, warn must be at least good")
        if self.better == "higher" and self.warn > self.good:
            raise ValueError("with better: higher, warn must be at most good")
        return self


def _target(kpi: str, good: float, warn: float) -> Target:
    return Target(better=KPIS[kpi].better, good=good, warn=warn)


DEFAULT_TARGETS = {
    "calls.non_emergency_share": _target("calls.non_emergency_share", good=50, warn=60),       # % of calls
    "calls.dispatch_time": _target("calls.dispatch_time", good=180, warn=300),                 # p90, seconds
    "calls.response_time": _target("calls.response_time", good=420, warn=600),                 # p90, seconds (7 min to on-scene)
    "complaints.first_response": _target("complaints.first_response", good=95, warn=80),       # % within deadline
    "complaints.resolved": _target("complaints.resolved", good=96, warn=85),                   # % within deadline
    "complaints.backlog": _target("complaints.backlog", good=0, warn=5),                       # open > 14 days
    "floods.active_spots": _target("floods.active_spots", good=0, warn=2),
    "floods.max_alert": _target("floods.max_alert", good=0, warn=1),                           # 0 = Siaga IV .. 3 = Siaga I
    "floods.siaga_hours": _target("floods.siaga_hours", good=0, warn=6),
    "traffic.cctv_online": _target("traffic.cctv_online", good=95, warn=85),                   # %
    "prices.change": _target("prices.change", good=10, warn=25),                               # largest |month change| %
    "prices.ceiling": _target("prices.ceiling", good=0, warn=2),                               # commodities above ceiling
    "prices.volatility": _target("prices.volatility", good=5, warn=10),                        # largest 30-day CV %
}

# Rp per unit. Beras and minyak goreng: HET; the others: HAP at consumer level
# (Perbadan 2023-2025). Example values: set them from the regulation in force.
DEFAULT_CEILINGS = {
    "beras_medium": 13500, "beras_premium": 14900, "gula_pasir": 18000, "minyak_goreng_curah": 15700,
    "telur_ayam_ras": 30000, "daging_ayam_ras": 40000, "daging_sapi": 140000, "bawang_merah": 41500,
    "bawang_putih": 40000, "cabai_merah_keriting": 55000, "cabai_merah_besar": 55000, "cabai_rawit_merah": 57000,
}


class KpiConfig(_Strict):
    # -- complaints (SP4N-LAPOR!) ------------------------------------------------
    working_days: list[int] = Field(default=[0, 1, 2, 3, 4], description="0 = Monday .. 6 = Sunday")
    holidays: list[date] = Field(default_factory=list, description="public holidays, skipped like weekends")
    first_response_days: int = Field(default=3, ge=1, le=60, description="working days to the first response")
    resolution_days: dict[str, int] = Field(
        default_factory=lambda: {"default": 14, "street_lighting": 5, "waste": 5, "illegal_parking": 5,
                                 "infrastructure": 60},
        description="working days to resolution by complaint category; `default` for the rest")
    # -- what counts as what -----------------------------------------------------
    non_emergency_categories: list[str] = ["non_emergency", "hoax"]
    flood_categories: list[str] = ["flood", "flood_report", "flooded_area"]
    congestion_categories: list[str] = ["congestion"]
    traffic_incident_categories: list[str] = ["traffic_accident", "road_closure", "road_hazard"]
    gauge_quantity: str = "water_level"
    cctv_quantity: str = "camera_online"  # what the cctv adapter writes: 1 online, 0 offline per camera
    gauge_max_gap_minutes: int = Field(default=90, ge=1, description="a reading counts for at most this long")
    # -- quality -----------------------------------------------------------------
    min_samples: int = Field(default=10, ge=1, description="fewer samples: a percentile is marked 'few samples'")
    min_completeness: float = Field(default=0.99, gt=0, le=1,
                                    description="below this share of the period with its sources up: incomplete")
    # -- prices ------------------------------------------------------------------
    price_ceilings: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_CEILINGS))
    # -- scorecard ---------------------------------------------------------------
    targets: dict[str, Target] = Field(default_factory=lambda: dict(DEFAULT_TARGETS))
    pillars: dict[str, list[str]] = Field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_PILLARS.items()})

    @field_validator("working_days")
    @classmethod
    def _days(cls, v):
        if not v or any(d < 0 or d > 6 for d in v):
            raise ValueError("must list weekdays 0 (Monday) to 6 (Sunday), at least one")
        return sorted(set(v))

    @field_validator("resolution_days")
    @classmethod
    def _resolution(cls, v):
        if "default" not in v:
            raise ValueError("needs a `default` entry")
        if any(n < 1 for n in v.values()):
            raise ValueError("deadlines must be at least 1 working day")
        return v

    @field_validator("targets")
    @classmethod
    def _targets(cls, v):
        """Given targets replace the defaults one KPI at a time; the others keep theirs."""
        unknown = sorted(set(v) - set(KPI_IDS))
        if unknown:
            raise ValueError(f"unknown KPI {unknown[0]!r}; known: {', '.join(KPI_IDS)}")
        return {**DEFAULT_TARGETS, **v}

    @field_validator("price_ceilings")
    @classmethod
    def _ceilings(cls, v):
        """Given ceilings replace the defaults one commodity at a time."""
        if any(x <= 0 for x in v.values()):
            raise ValueError("ceilings must be positive Rupiah amounts")
        return {**DEFAULT_CEILINGS, **v}

    @field_validator("pillars")
    @classmethod
    def _pillars(cls, v):
        for name, kpis in v.items():
            if name not in PILLARS:
                raise ValueError(f"unknown pillar {name!r}; known: {', '.join(PILLARS)}")
            unknown = sorted(set(kpis) - set(KPI_IDS))
            if unknown:
                raise ValueError(f"{name}: unknown KPI {unknown[0]!r}")
        return {p: v.get(p, DEFAULT_PILLARS[p]) for p in PILLARS}  # a pillar not given keeps its default

    def resolution_days_for(self, category: str) -> int:
        return self.resolution_days.get(category, self.resolution_days["default"])


def kpi_config(app_config) -> KpiConfig:
    """The app's KPI block, or the defaults while AppConfig has no `kpi` key yet."""
    return getattr(app_config, "kpi", None) or KpiConfig()
