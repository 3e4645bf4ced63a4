"""`damamaya seed-history`: realistic historical records for Denpasar, in bulk.

Writes N canonical records over a span of days, into the history store
(`records`, `record_versions`) and its analytics projection, as if the
collector had run for that long:
- 112 calls (Permenkominfo categories) with their received/answered/dispatched/
  on-scene/closed timeline; busier in the evening, slower at rush hour and in rain;
- PRO Denpasar complaints with SP4N-LAPOR! deadlines (working days), first
  responses, resolutions, a backlog that ages;
- flood reports clustered on heavy-rain hours in the low-lying south;
- traffic incidents at rush hours (congestion, accidents, ceremony road closures);
- flood gauge readings (cm) with Siaga alert levels following the rain;
- CCTV availability per ATCS corridor, with outage episodes;
- staple prices per commodity per market per day, chilli and shallot volatile
  and dearer in the wet season.
Rain follows Bali's season (wet November to March) and the 10 Sep 2025 Tukad
Badung flood is replayed when the span covers it. Every point lies inside its
desa polygon, so kecamatan and desa are right. Deterministic for a given --seed.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator

import numpy as np
import orjson
import shapely
from sqlalchemy import func, select

from engine.analytics import facts as afacts
from engine.analytics.config import KpiConfig
from engine.analytics.kpi import working_deadline
from engine.analytics.schema import (INDEXES, Codes, drop_text_triggers, ensure_schema, events,
                                     rebuild_daily, rebuild_text_index)
from engine.geo import boundaries
from engine.history import History, record_row, record_versions, records
from engine.records import WITA
from engine.taxonomy import CATEGORIES, category_label

UTC = timezone.utc
_DUMP = orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z

SHARES = {"calls": 0.50, "complaints": 0.12, "traffic": 0.14, "floods": 0.04, "gauges": 0.10, "cctv": 0.08,
          "prices": 0.02}
STREAM_SOURCE = {"calls": "112", "complaints": "pro-denpasar", "traffic": "atcs-incidents", "floods": "flood-reports",
                 "gauges": "flood-gauges", "cctv": "atcs-cctv", "prices": "pihps"}

ROADS = ["Jl. Gatot Subroto", "Jl. Teuku Umar", "Jl. Imam Bonjol", "Jl. Diponegoro", "Jl. Hayam Wuruk",
         "Jl. By Pass Ngurah Rai", "Jl. Cokroaminoto", "Jl. Gunung Agung", "Jl. Mahendradatta", "Jl. Sudirman",
         "Jl. Raya Puputan", "Jl. WR Supratman", "Jl. Raya Sesetan", "Jl. Pulau Kawe", "Jl. Gajah Mada",
         "Jl. Hang Tuah", "Jl. Danau Tamblingan", "Jl. Tukad Badung", "Jl. Ahmad Yani", "Jl. Kebo Iwa",
         "Jl. Gunung Soputan", "Jl. Letda Tantular", "Jl. Noja", "Jl. Waturenggong", "Jl. Raya Pemogan"]
LOW_LYING = {"Pemogan", "Pedungan", "Sesetan", "Sidakarya", "Serangan", "Sanur Kauh", "Dauh Puri Kelod",
             "Pemecutan Kelod", "Padangsambian Kelod", "Panjer", "Kesiman Petilan", "Tegal Kertha"}

CALLS = {"medical": .20, "accident": .11, "fire": .03, "conflict": .02, "disaster": .02, "public_order": .08,
         "other_emergency": .06, "non_emergency": .38, "hoax": .10}
CALL_SEVERITY = {"medical": "high", "accident": "high", "fire": "critical", "conflict": "high", "disaster": "critical",
                 "public_order": "medium", "other_emergency": "low", "non_emergency": "info", "hoax": "info"}
COMPLAINTS = {"infrastructure": .22, "street_lighting": .12, "waste": .16, "illegal_parking": .09, "water_supply": .08,
              "traffic_order": .07, "environment": .08, "public_service": .09, "social": .04, "whistleblowing": .01,
              "other_complaint": .04}
COMPLAINT_TEXT = {
    "infrastructure": ["Jalan berlubang di {road}", "Saluran drainase tersumbat di {road}", "Trotoar rusak di {road}"],
    "street_lighting": ["Lampu jalan mati di {road}", "LPJU berkedip di {road}"],
    "waste": ["Tumpukan sampah liar di {road}", "TPS penuh belum diangkut di {desa}"],
    "illegal_parking": ["Parkir liar di {road}", "Kendaraan parkir di trotoar {road}"],
    "water_supply": ["Air PDAM tidak mengalir di {desa}", "Pipa PDAM bocor di {road}"],
    "traffic_order": ["Lampu lalu lintas mati di simpang {road}", "Rambu hilang di {road}"],
    "environment": ["Pohon tumbang di {road}", "Bau limbah di {desa}"],
    "public_service": ["Antrean layanan KTP lama di {desa}", "Petugas kantor desa {desa} tidak di tempat"],
    "social": ["Gelandangan di {road}", "Bantuan sosial belum diterima warga {desa}"],
    "whistleblowing": ["Dugaan pungli di {road}"],
    "other_complaint": ["Kebisingan malam hari di {road}", "Anjing liar di {desa}"],
}
CHANNELS = ["web", "whatsapp", "sms", "aplikasi", "media sosial"]
TRAFFIC = {"congestion": .60, "traffic_accident": .20, "road_closure": .12, "road_hazard": .08}
TRAFFIC_TEXT = {"congestion": "Kemacetan di {road}", "traffic_accident": "Kecelakaan lalu lintas di {road}",
                "road_closure": "Penutupan jalan (upacara adat) di {road}", "road_hazard": "Pohon/baliho roboh di {road}"}
TRAFFIC_SEVERITY = {"congestion": "medium", "traffic_accident": "high", "road_closure": "medium", "road_hazard": "medium"}
FLOODS = {"flood_report": .6, "flooded_area": .3, "flood": .1}

# station id, name, desa, normal level cm, thresholds Siaga III / II / I (cm)
GAUGES = [
    ("tb-gunung-agung", "Tukad Badung - Jembatan Gunung Agung", "Padangsambian", 80, (180, 240, 300)),
    ("tb-pemecutan", "Tukad Badung - Pemecutan", "Pemecutan", 90, (190, 250, 310)),
    ("tb-pedungan", "Tukad Badung - Bendung Pedungan", "Pedungan", 110, (210, 270, 330)),
    ("ta-kesiman", "Tukad Ayung - Kesiman", "Kesiman", 120, (260, 340, 420)),
    ("tm-padangsambian", "Tukad Mati - Padangsambian Kelod", "Padangsambian Kelod", 60, (150, 200, 250)),
    ("tp-pemogan", "Tukad Punggawa - Pemogan", "Pemogan", 70, (160, 210, 260)),
]
CORRIDORS = [("atcs-gatsu", "Koridor Gatot Subroto", 16), ("atcs-teuku-umar", "Koridor Teuku Umar", 14),
             ("atcs-bypass", "Koridor By Pass Ngurah Rai", 18), ("atcs-imam-bonjol", "Koridor Imam Bonjol", 10),
             ("atcs-diponegoro", "Koridor Diponegoro", 12), ("atcs-sudirman", "Koridor Sudirman", 11),
             ("atcs-cokroaminoto", "Koridor Cokroaminoto", 9), ("atcs-puputan", "Koridor Raya Puputan", 13)]
# commodity, unit, base price Rp, daily volatility, wet-season uplift
COMMODITIES = [
    ("beras_medium", "kg", 13200, .002, 0.0), ("beras_premium", "kg", 14800, .002, 0.0),
    ("gula_pasir", "kg", 17800, .003, 0.0), ("minyak_goreng_curah", "liter", 15500, .003, 0.0),
    ("telur_ayam_ras", "kg", 28500, .010, 0.05), ("daging_ayam_ras", "kg", 37000, .012, 0.05),
    ("daging_sapi", "kg", 135000, .004, 0.0), ("bawang_merah", "kg", 38000, .025, 0.20),
    ("bawang_putih", "kg", 36000, .010, 0.0), ("cabai_merah_keriting", "kg", 45000, .035, 0.35),
    ("cabai_merah_besar", "kg", 48000, .035, 0.30), ("cabai_rawit_merah", "kg", 52000, .045, 0.45),
]
MARKETS = [("pasar-badung", "Pasar Badung", "Dauh Puri Kangin"), ("pasar-kreneng", "Pasar Kreneng", "Dangin Puri Kaja"),
           ("pasar-sanglah", "Pasar Sanglah", "Dauh Puri Kelod"), ("pasar-intaran", "Pasar Intaran", "Sanur Kauh")]
MONTH_RAIN = {1: 11.0, 2: 10.0, 3: 7.0, 4: 3.0, 5: 2.0, 6: 1.5, 7: 1.2, 8: 1.0, 9: 1.5, 10: 3.0, 11: 6.0, 12: 10.0}
WET = {11, 12, 1, 2, 3}


# ---- progress ------------------------------------------------------------------------
class Progress:
    """A one-line progress bar on stderr, redrawn at most 5 times a second."""

    def __init__(self, total: int, stream=None, enabled: bool = True):
        self.total, self.done, self.stream, self.enabled = max(total, 1), 0, stream or sys.stderr, enabled
        self.started = self.last = time.monotonic()
        self.phase = ""

    def set_phase(self, phase: str) -> None:
        self.phase = phase
        self.draw(force=True)

    def advance(self, n: int) -> None:
        self.done += n
        self.draw()

    def draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self.last < 0.2 and self.done < self.total):
            return
        self.last = now
        frac = min(self.done / self.total, 1.0)
        elapsed = now - self.started
        eta = elapsed / frac - elapsed if frac > 0 else 0
        bar = "#" * int(frac * 30)
        self.stream.write(f"\r[{bar:<30}] {frac * 100:5.1f}% {self.done:>10,}/{self.total:,} "
                          f"{elapsed:6.1f}s ETA {eta:5.0f}s {self.phase:<22}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.draw(force=True)
            self.stream.write("\n")
            self.stream.flush()


# ---- the world ---------------------------------------------------------------------------
class World:
    """Hours of the span, their rain, and random places inside each desa."""

    def __init__(self, rng: np.random.Generator, start: datetime, hours: int):
        self.rng, self.start, self.hours = rng, start, hours
        self.hour_ts = int(start.timestamp()) + 3600 * np.arange(hours, dtype=np.int64)
        local = self.hour_ts + 8 * 3600
        self.hod = (local % 86400) // 3600
        self.dow = ((local // 86400) + 3) % 7
        self.month = np.array([datetime.fromtimestamp(int(t), WITA).month for t in self.hour_ts[::24]])
        self.rain = self._rain()
        self.places = boundaries().places
        self.pools = self._pools()
        self.desa_by_name = {p.desa: i for i, p in enumerate(self.places)}
        area = np.array([s.area for s in boundaries().shapes])
        self.w_people = area / area.sum()
        low = np.array([3.0 if p.desa in LOW_LYING else 0.3 for p in self.places])
        self.w_flood = low * area / (low * area).sum()

    def _rain(self) -> np.ndarray:
        """mm per hour: wet days by season, afternoon storms, the 10 Sep 2025 flood replayed."""
        days = len(self.month)
        mean = np.array([MONTH_RAIN[m] for m in self.month])
        wet_prob = np.clip(mean / 14.0 + 0.1, 0.1, 0.85)
        wet = self.rng.random(days) < wet_prob
        amount = np.where(wet, self.rng.gamma(0.9, mean / wet_prob / 0.9 + 0.01), 0.0)
        profile = np.array([.02, .02, .02, .02, .02, .02, .02, .02, .02, .03, .03, .04,
                            .05, .07, .09, .10, .10, .09, .07, .05, .04, .03, .03, .02])
        profile = profile / profile.sum()
        rain = np.zeros(self.hours)
        for d in range(days):
            if amount[d] <= 0:
                continue
            lo, hi = d * 24, min(d * 24 + 24, self.hours)
            shape = self.rng.dirichlet(profile * 20)[: hi - lo]
            rain[lo:hi] = amount[d] * shape
        flood_day = int((datetime(2025, 9, 10, tzinfo=WITA).timestamp() - self.hour_ts[0]) // 3600)
        if 0 <= flood_day < self.hours - 24:
            rain[flood_day - 6: flood_day + 12] += np.linspace(4, 25, 18)  # the night of 9-10 Sep 2025
        return rain

    def _pools(self, size: int = 3000) -> list[np.ndarray]:
        """Random (lat, lon) per desa, rounded to 6 decimals, each inside that desa and no other
        (neighbouring polygons overlap a little along their borders), so engine.geo agrees."""
        b = boundaries()
        pools = []
        for d, shape in enumerate(b.shapes):
            minx, miny, maxx, maxy = shape.bounds
            got = []
            while sum(len(g) for g in got) < size:
                xs = np.round(self.rng.uniform(minx, maxx, size * 2), 6)
                ys = np.round(self.rng.uniform(miny, maxy, size * 2), 6)
                pts = shapely.points(xs, ys)
                which, tree = b.tree.query(pts, predicate="intersects")
                hits = np.bincount(which, minlength=len(xs))
                mine = np.zeros(len(xs), dtype=bool)
                mine[which[tree == d]] = True
                ok = mine & (hits == 1)  # in this desa and no other: whatever order locate() meets them
                got.append(np.column_stack([ys[ok], xs[ok]]))
            pools.append(np.concatenate(got)[:size])
        return pools

    def times(self, n: int, weights: np.ndarray) -> np.ndarray:
        """n event times (epoch s), drawn hour by hour from the weights, sorted."""
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        p = np.clip(weights, 0, None)
        hours = self.rng.choice(self.hours, size=n, p=p / p.sum())
        return np.sort(self.hour_ts[hours] + self.rng.integers(0, 3600, n))

    def where(self, n: int, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        desa = self.rng.choice(len(self.places), size=n, p=weights)
        idx = self.rng.integers(0, 3000, n)
        pts = np.array([self.pools[d][i] for d, i in zip(desa, idx)]) if n else np.zeros((0, 2))
        return desa, pts

    def rain_at(self, ts: np.ndarray) -> np.ndarray:
        i = np.clip((ts - self.hour_ts[0]) // 3600, 0, self.hours - 1)
        return self.rain[i]

    def rush_at(self, ts: np.ndarray) -> np.ndarray:
        i = np.clip((ts - self.hour_ts[0]) // 3600, 0, self.hours - 1)
        h, d = self.hod[i], self.dow[i]
        return ((d < 5) & (((h >= 7) & (h <= 9)) | ((h >= 16) & (h <= 19)))).astype(float)


def _dt(ts) -> datetime:
    return datetime.fromtimestamp(int(ts), UTC)


def _located(world: World, base: dict, desa: int, pt) -> dict:
    place = world.places[desa]
    base.update(lat=float(pt[0]), lon=float(pt[1]), kecamatan=place.kecamatan, desa=place.desa,
                desa_code=place.desa_code, in_city=True)
    return base


def _incident(source, rid, world, desa, pt, category, severity, status, reported, updated, title, details):
    return _located(world, {
        "id": rid, "source": source, "kind": "incident", "category": category, "domain": CATEGORIES[category][0],
        "severity": severity, "status": status, "reported_at": reported, "updated_at": updated, "title": title,
        "details": details, "geometry": None, "expires_at": None}, desa, pt)


# ---- streams: each yields payload dicts (the JSON form of a canonical record) -------------
def _pick(rng, table: dict, n: int) -> np.ndarray:
    keys = list(table)
    return np.array(keys)[rng.choice(len(keys), size=n, p=np.array(list(table.values())) / sum(table.values()))]


def calls(world: World, n: int, end_ts: int, source: str) -> Iterator[dict]:
    rng = world.rng
    diurnal = np.array([.45, .35, .3, .28, .3, .4, .6, .85, 1, 1.05, 1.1, 1.1, 1.05, 1, 1, 1.05, 1.1, 1.2, 1.3, 1.35,
                        1.3, 1.15, .9, .65])
    w = diurnal[world.hod] * np.where(world.dow >= 5, 1.1, 1.0) * (1 + 0.04 * world.rain)
    ts = world.times(n, w)
    desa, pts = world.where(n, world.w_people)
    cats = _pick(rng, CALLS, n)
    rush, rain = world.rush_at(ts), world.rain_at(ts)
    answer = np.clip(rng.lognormal(math.log(8), 0.6, n), 2, 240).round()
    dispatch = answer + np.clip(rng.lognormal(math.log(95), 0.55, n) * (1 + 0.2 * rush), 15, 3600).round()
    scene = dispatch + np.clip(rng.lognormal(math.log(230), 0.45, n) * (1 + 0.35 * rush + 0.03 * rain), 60, 7200).round()
    close = scene + np.clip(rng.lognormal(math.log(2400), 0.5, n), 300, 6 * 3600).round()
    talk = answer + np.clip(rng.lognormal(math.log(150), 0.5, n), 20, 1800).round()
    no_scene = rng.random(n) < 0.04
    for i in range(n):
        t0, cat = int(ts[i]), str(cats[i])
        emergency = cat not in ("non_emergency", "hoax")
        steps = {"received": t0, "answered": t0 + int(answer[i])}
        if emergency:
            steps["dispatched"] = t0 + int(dispatch[i])
            if not no_scene[i]:
                steps["on_scene"] = t0 + int(scene[i])
            steps["closed"] = t0 + int(close[i])
        else:
            steps["closed"] = t0 + int(talk[i])
        known = {k: v for k, v in steps.items() if v <= end_ts}
        last = max(known.values())
        status = ("closed" if "closed" in known else "in_progress" if "on_scene" in known
                  else "dispatched" if "dispatched" in known else "acknowledged")
        label = category_label(cat)
        road = ROADS[(i * 7 + int(desa[i])) % len(ROADS)]
        yield _incident(source, f"112-{t0}-{i}", world, int(desa[i]), pts[i], cat, CALL_SEVERITY[cat], status,
                        _dt(t0), _dt(last), f"Panggilan 112: {label}, {road}",
                        {"timeline": {k: _dt(v) for k, v in known.items()}, "line": "112" if i % 9 else "223333"})


def complaints(world: World, n: int, end_ts: int, source: str, kcfg: KpiConfig) -> Iterator[dict]:
    rng = world.rng
    office = np.where((world.hod >= 8) & (world.hod <= 16), 1.0, 0.25) * np.where(world.dow >= 5, 0.35, 1.0)
    wet = np.isin(world.month[np.arange(world.hours) // 24], list(WET))
    ts = world.times(n, office * np.where(wet, 1.25, 1.0))
    desa, pts = world.where(n, world.w_people)
    cats = _pick(rng, COMPLAINTS, n)
    first_delay = rng.lognormal(math.log(1.6 * 86400), 0.7, n)
    done_ratio = rng.lognormal(math.log(0.4), 0.45, n)
    fate = rng.random(n)
    for i in range(n):
        t0, cat = int(ts[i]), str(cats[i])
        received = _dt(t0)
        due_first = working_deadline(received, kcfg.first_response_days, kcfg.working_days, kcfg.holidays)
        res_days = kcfg.resolution_days_for(cat)
        due_done = working_deadline(received, res_days, kcfg.working_days, kcfg.holidays)
        first_at = t0 + int(first_delay[i])
        done_at = first_at + int(done_ratio[i] * res_days * 1.4 * 86400)
        place = world.places[int(desa[i])]
        road = ROADS[(i * 5 + int(desa[i])) % len(ROADS)]
        templates = COMPLAINT_TEXT[cat]
        title = templates[i % len(templates)].format(road=road, desa=place.desa)
        details = {"channel": CHANNELS[i % len(CHANNELS)], "first_response_due": due_first, "resolution_due": due_done,
                   "original_category": category_label(cat)}
        if first_at <= end_ts:
            details["first_response_at"] = _dt(first_at)
        if fate[i] < 0.05 and first_at <= end_ts:
            status, updated = "rejected", first_at  # invalid or duplicate
        elif fate[i] < 0.06:
            status, updated = ("in_progress", first_at) if first_at <= end_ts else ("new", t0)  # stuck: the aging backlog
        elif done_at <= end_ts:
            status, updated = "resolved", done_at
            details["resolved_at"] = _dt(done_at)
        elif first_at <= end_ts:
            status, updated = "in_progress", first_at
        else:
            status, updated = "new", t0
        yield _incident(source, f"PRO-{t0}-{i}", world, int(desa[i]), pts[i], cat, "low", status, received,
                        _dt(updated), title, details)


def traffic(world: World, n: int, end_ts: int, source: str) -> Iterator[dict]:
    rng = world.rng
    base = np.where(world.dow < 5, 1.0, 0.7) * (0.3 + np.isin(world.hod, [7, 8, 9, 16, 17, 18, 19]) * 1.7)
    ts = world.times(n, base * (1 + 0.15 * world.rain))
    desa, pts = world.where(n, world.w_people)
    cats = _pick(rng, TRAFFIC, n)
    duration = rng.lognormal(math.log(50 * 60), 0.6, n)
    for i in range(n):
        t0, cat = int(ts[i]), str(cats[i])
        stop = t0 + int(duration[i] * (3 if cat == "road_closure" else 1))
        status, updated = ("closed", stop) if stop <= end_ts else ("in_progress", t0)
        road = ROADS[(i * 3 + int(desa[i])) % len(ROADS)]
        yield _incident(source, f"TRF-{t0}-{i}", world, int(desa[i]), pts[i], cat, TRAFFIC_SEVERITY[cat], status,
                        _dt(t0), _dt(updated), TRAFFIC_TEXT[cat].format(road=road), {"road": road})


def floods(world: World, n: int, end_ts: int, source: str) -> Iterator[dict]:
    rng = world.rng
    ts = world.times(n, 0.002 + world.rain ** 1.6)
    desa, pts = world.where(n, world.w_flood)
    cats = _pick(rng, FLOODS, n)
    depth = np.clip(rng.lognormal(math.log(35), 0.7, n) * (1 + 0.05 * world.rain_at(ts)), 5, 250).round()
    hours = rng.lognormal(math.log(4), 0.6, n)
    for i in range(n):
        t0, cat, d = int(ts[i]), str(cats[i]), int(depth[i])
        state = 2 if d <= 70 else 3 if d <= 150 else 4
        severity = {2: "medium", 3: "high", 4: "critical"}[state]
        stop = t0 + int(hours[i] * 3600)
        status, updated = ("resolved", stop) if stop <= end_ts else ("in_progress", t0)
        road = ROADS[(i * 11 + int(desa[i])) % len(ROADS)]
        yield _incident(source, f"FLD-{t0}-{i}", world, int(desa[i]), pts[i], cat, severity, status, _dt(t0),
                        _dt(updated), f"Genangan {d} cm di {road}", {"depth_cm": d, "flood_state": state})


def gauges(world: World, n: int, end_ts: int, source: str) -> Iterator[dict]:
    if n == 0:
        return
    per = [n // len(GAUGES) + (1 if k < n % len(GAUGES) else 0) for k in range(len(GAUGES))]
    span = world.hours * 3600
    # water follows the rain of the last six hours, upstream gauges first
    kernel = np.array([.1, .25, .25, .2, .12, .08])
    wet = np.convolve(world.rain, kernel)[: world.hours]
    for k, (sid, name, desa_name, normal, (s3, s2, s1)) in enumerate(GAUGES):
        if per[k] == 0:
            continue
        desa = world.desa_by_name[desa_name]
        pt = world.pools[desa][k]
        ts = int(world.hour_ts[0]) + np.linspace(0, span - 1, per[k]).astype(np.int64)
        idx = np.clip((ts - world.hour_ts[0]) // 3600, 0, world.hours - 1)
        level = normal + 14 * wet[idx] * (1 + 0.15 * k) + world.rng.normal(0, 4, per[k])
        level = np.clip(level, 5, s1 * 1.5).round(1)
        for j in range(per[k]):
            v = float(level[j])
            alert = 3 if v >= s1 else 2 if v >= s2 else 1 if v >= s3 else 0
            at = _dt(ts[j])
            yield _located(world, {
                "id": f"{sid}:{int(ts[j])}", "source": source, "kind": "reading", "station": sid, "station_name": name,
                "quantity": "water_level", "value": v, "unit": "cm", "alert_level": alert, "observed_at": at,
                "details": {"siaga": ["IV", "III", "II", "I"][alert], "thresholds_cm": [s3, s2, s1]}}, desa, pt)


def cctv(world: World, n: int, end_ts: int, source: str) -> Iterator[dict]:
    if n == 0:
        return
    rng = world.rng
    per = [n // len(CORRIDORS) + (1 if k < n % len(CORRIDORS) else 0) for k in range(len(CORRIDORS))]
    span = world.hours * 3600
    for k, (sid, name, cameras) in enumerate(CORRIDORS):
        if per[k] == 0:
            continue
        desa = int(rng.integers(0, len(world.places)))
        pt = world.pools[desa][k]
        ts = int(world.hour_ts[0]) + np.linspace(0, span - 1, per[k]).astype(np.int64)
        down = np.zeros(per[k])
        for _ in range(max(1, per[k] // 300)):  # outage episodes: a switch or a power cut
            a = int(rng.integers(0, per[k]))
            down[a: a + int(rng.integers(1, 8))] = rng.uniform(0.3, 0.8)
        offline = np.minimum(cameras, rng.binomial(cameras, 0.03, per[k]) + (down * cameras).astype(int))
        for j in range(per[k]):
            online = int(cameras - offline[j])
            yield _located(world, {
                "id": f"{sid}:{int(ts[j])}", "source": source, "kind": "reading", "station": sid, "station_name": name,
                "quantity": "camera_online", "value": round(online / cameras, 4), "unit": "ratio", "alert_level": 0,
                "observed_at": _dt(ts[j]), "details": {"cameras": cameras, "online": online}}, desa, pt)


def prices(world: World, n: int, end_ts: int, source: str) -> Iterator[dict]:
    if n == 0:
        return
    rng = world.rng
    days = max(1, world.hours // 24)
    markets = int(np.clip(math.ceil(n / (len(COMMODITIES) * days)), 1, len(MARKETS)))
    per_day = len(COMMODITIES) * markets
    n_days = min(days, math.ceil(n / per_day))
    first = datetime.fromtimestamp(int(world.hour_ts[-1]), WITA).date() - timedelta(days=n_days - 1)
    walk = {}
    for c, (name, unit, base, vol, uplift) in enumerate(COMMODITIES):
        x = np.zeros(n_days)
        shocks = rng.normal(0, vol, n_days)
        for d in range(1, n_days):
            x[d] = 0.93 * x[d - 1] + shocks[d]  # mean-reverting log deviation
        # dearer in the wet season, peaking mid-January
        doy = np.array([(first + timedelta(days=d)).timetuple().tm_yday for d in range(n_days)])
        season = uplift * (1 + np.cos(2 * np.pi * (doy - 15) / 365)) / 2
        walk[name] = base * np.exp(x * 1.5 + season)
    written = 0
    for d in range(n_days):
        day = first + timedelta(days=d)
        at = datetime(day.year, day.month, day.day, tzinfo=WITA)
        for m in range(markets):
            mid, mname, desa_name = MARKETS[m]
            desa = world.desa_by_name[desa_name]
            for name, unit, *_ in COMMODITIES:
                if written >= n:
                    return
                value = float(round(walk[name][d] * (1 + 0.02 * (m - 1.5)) / 50) * 50)
                written += 1
                yield _located(world, {
                    "id": f"{mid}:{name}:{day.isoformat()}", "source": source, "kind": "price", "commodity": name,
                    "market": mname, "unit": unit, "value": value, "date": at, "details": {"currency": "IDR"}},
                    desa, world.pools[desa][m])


# ---- writing --------------------------------------------------------------------------------
def _sqlite_value(value):
    """The storage form engine.history.UtcDateTime gives a datetime on SQLite."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


class Writer:
    """Bulk writes: COPY on PostgreSQL, executemany on SQLite; analytics indexes built once at the end."""

    def __init__(self, history: History, versions: bool, kcfg: KpiConfig):
        self.history, self.versions, self.kcfg = history, versions, kcfg
        self.pg = history.engine.dialect.name == "postgresql"
        history.create()
        ensure_schema(history.engine)
        with history.engine.connect() as conn:
            self.fresh = conn.execute(select(func.count()).select_from(events)).scalar_one() == 0
        if self.fresh:  # load first, index once at the end: several times faster than indexing row by row
            with history.engine.begin() as conn:
                for name in [ix.name for ix in INDEXES] + ["ix_ae_title_trgm"]:
                    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
                drop_text_triggers(conn)

    def write(self, batch: list[dict]) -> None:
        rec_rows, ver_rows, fact_rows = [], [], []
        for p in batch:
            raw = orjson.dumps(p, option=_DUMP)
            digest = hashlib.blake2b(raw, digest_size=12).hexdigest()
            payload = raw.decode()
            row = record_row(p, 1, digest, None, payload)
            rec_rows.append(row)
            if self.versions:
                ver_rows.append({"source": p["source"], "record_id": p["id"], "version": 1, "content_hash": digest,
                                 "seen_at": row["first_seen"], "payload": payload})
            fact = afacts.fact_from_payload(p, self.kcfg)
            if fact:
                fact_rows.append(fact)
        with self.history.engine.begin() as conn:
            coded_rows = afacts.coded(conn, fact_rows)
            afacts._note_feeds(conn, coded_rows)
            self._insert(conn, records, rec_rows)
            if ver_rows:
                self._insert(conn, record_versions, ver_rows)
            self._insert(conn, events, coded_rows)

    def _insert(self, conn, table, rows: list[dict]) -> None:
        if not rows:
            return
        cols = [c.name for c in table.c if c.name in rows[0]]
        if not self.pg:
            # straight to sqlite3: SQLAlchemy's per-row bind processing would cost more than the insert
            marks = ", ".join("?" * len(cols))
            conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({marks})",
                                 [tuple(_sqlite_value(r[c]) for c in cols) for r in rows])
            return
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            with cur.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row([r[c] for c in cols])

    def finish(self, progress: Progress | None = None) -> None:
        if self.fresh:
            for ix in INDEXES:
                if progress:
                    progress.set_phase(f"index {ix.name}")
                ix.create(self.history.engine, checkfirst=True)
        if progress:
            progress.set_phase("daily rollup")
        rebuild_daily(self.history.engine)
        if progress:
            progress.set_phase("text index")
        if self.fresh:
            rebuild_text_index(self.history.engine)
        if progress:
            progress.set_phase("analyze")
        afacts.analyze(self.history.engine)


@dataclass
class SeedResult:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def split(n: int, days: int) -> dict[str, int]:
    """Records per stream, summing to exactly n. Prices are capped at one per commodity,
    market and day; what does not fit goes to the 112 calls."""
    counts = {k: int(n * share) for k, share in SHARES.items()}
    if n >= len(SHARES):
        for k in counts:
            counts[k] = max(counts[k], 1)
    counts["prices"] = min(counts["prices"], len(COMMODITIES) * len(MARKETS) * max(1, days))
    counts["calls"] += n - sum(counts.values())
    return counts


def seed(history: History, n: int, days: int = 365, end: datetime | None = None, seed: int = 1,
         prefix: str = "seed-", versions: bool = True, kcfg: KpiConfig | None = None,
         progress: Progress | None = None, batch: int = 20000) -> SeedResult:
    """Write exactly n records over `days` days ending at `end` (default now)."""
    started = time.monotonic()
    kcfg = kcfg or KpiConfig()
    end = (end or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    hours = max(24, days * 24)
    start = end - timedelta(hours=hours)
    rng = np.random.default_rng(seed)
    world = World(rng, start, hours)
    end_ts = int(end.timestamp())
    counts = split(n, hours // 24)
    writer = Writer(history, versions, kcfg)
    makers: dict[str, Callable[[], Iterator[dict]]] = {
        "calls": lambda: calls(world, counts["calls"], end_ts, prefix + STREAM_SOURCE["calls"]),
        "complaints": lambda: complaints(world, counts["complaints"], end_ts, prefix + STREAM_SOURCE["complaints"], kcfg),
        "traffic": lambda: traffic(world, counts["traffic"], end_ts, prefix + STREAM_SOURCE["traffic"]),
        "floods": lambda: floods(world, counts["floods"], end_ts, prefix + STREAM_SOURCE["floods"]),
        "gauges": lambda: gauges(world, counts["gauges"], end_ts, prefix + STREAM_SOURCE["gauges"]),
        "cctv": lambda: cctv(world, counts["cctv"], end_ts, prefix + STREAM_SOURCE["cctv"]),
        "prices": lambda: prices(world, counts["prices"], end_ts, prefix + STREAM_SOURCE["prices"]),
    }
    result = SeedResult()
    for name, make in makers.items():
        if progress:
            progress.set_phase(name)
        buf: list[dict] = []
        written = 0
        for payload in make():
            buf.append(payload)
            if len(buf) >= batch:
                writer.write(buf)
                written += len(buf)
                if progress:
                    progress.advance(len(buf))
                buf = []
        if buf:
            writer.write(buf)
            written += len(buf)
            if progress:
                progress.advance(len(buf))
        result.counts[name] = written
    _outages(history, rng, start, end, prefix)
    writer.finish(progress)
    Codes.forget(history.engine)
    result.seconds = time.monotonic() - started
    return result


def _outages(history: History, rng, start: datetime, end: datetime, prefix: str) -> None:
    """A few realistic source outages (a feed down for hours), so completeness has something to show."""
    from engine.history import source_outages

    rows = []
    days = (end - start).days
    for name in STREAM_SOURCE.values():
        for _ in range(max(0, days // 120)):  # about three a year per source, one to six hours each
            at = start + timedelta(seconds=float(rng.uniform(0, (end - start).total_seconds())))
            rows.append({"source": prefix + name, "started_at": at,
                         "ended_at": min(end, at + timedelta(hours=float(rng.uniform(1, 6)))),
                         "error": "connection timed out (seeded outage)"})
    if rows:
        with history.engine.begin() as conn:
            conn.execute(source_outages.insert(), rows)


# ---- CLI ----------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--records", type=int, default=100_000, help="how many records to write (default 100000)")
    parser.add_argument("--days", type=int, default=365, help="span in days, ending at --end (default 365)")
    parser.add_argument("--end", default=None, help="end of the span, ISO date or time in WITA (default: now)")
    parser.add_argument("--database", default=None, help="history URL (default: database.url of config.yaml)")
    parser.add_argument("--seed", type=int, default=1, help="random seed; the same seed writes the same records")
    parser.add_argument("--prefix", default="seed-", help="prefix of the source names written (default seed-)")
    parser.add_argument("--no-versions", action="store_true", help="skip record_versions (halves the size)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _parse_end(text_value: str | None) -> datetime | None:
    if not text_value:
        return None
    value = datetime.fromisoformat(text_value)
    return value if value.tzinfo else value.replace(tzinfo=WITA)


def run(args: argparse.Namespace) -> int:
    if args.records < 1 or args.days < 1:
        print("seed-history: --records and --days must be at least 1", file=sys.stderr)
        return 2
    try:
        end = _parse_end(args.end)
    except ValueError:
        print(f"seed-history: --end {args.end!r} is not an ISO date or time", file=sys.stderr)
        return 2
    url = args.database
    kcfg = None
    if getattr(args, "config", None):  # `damamaya --config FILE seed-history`
        import os
        from pathlib import Path

        os.environ["DAMAMAYA_CONFIG"] = str(Path(args.config).resolve())
    if not url:
        from damamaya import runtime
        from engine.analytics.config import kpi_config

        url = runtime.config().database.url
        kcfg = kpi_config(runtime.config())
    history = History(url)
    progress = Progress(args.records, enabled=not args.quiet)
    result = seed(history, args.records, days=args.days, end=end, seed=args.seed, prefix=args.prefix,
                  versions=not args.no_versions, kcfg=kcfg, progress=progress)
    progress.close()
    parts = ", ".join(f"{k} {v:,}" for k, v in result.counts.items())
    print(f"seed-history: wrote {result.total:,} records in {result.seconds:.0f} s ({parts})", file=sys.stderr)
    history.dispose()
    return 0


def main(argv=None) -> int:  # python -m damamaya.seed
    parser = argparse.ArgumentParser(prog="damamaya seed-history", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
