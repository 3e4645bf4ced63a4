"""A plausible live Denpasar, for the demo configuration and the tests.

Each demo source simulates one feed (`feed:`): 112 calls, complaints, flood
gauges, congested road segments or staple prices. `fetch` advances the
simulation to now and returns it as canonical JSON, the same bytes a real
upstream system could publish; `parse` validates them like any feed. The
simulation lives in the collector process; `time_scale` speeds up incident
lifecycles so the wall visibly moves.
"""
from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any, Literal

import orjson
from pydantic import Field

from data_sources.readers.documents import load_json
from data_sources.readers.values import utc_stamp
from engine.contract import Adapter, SourceConfig
from engine.geo import boundaries
from engine.records import WITA, Incident, ParseResult, Price, Reading, Reject, record_from_json, utcnow


class DemoConfig(SourceConfig):
    adapter: str = "demo"
    feed: Literal["calls", "complaints", "gauges", "traffic", "cameras", "prices", "quakes"] = "calls"
    rate_per_minute: float = Field(default=4.0, ge=0, description="new calls or complaints per simulated minute")
    time_scale: float = Field(default=10.0, ge=1, le=1000, description="simulated seconds per real second")
    seed: int | None = None
    interval: float = 3


CALL_MIX = [  # category, share, severity weights (critical, high, medium, low)
    ("medical", 0.28, (0.15, 0.35, 0.4, 0.1)), ("accident", 0.16, (0.1, 0.4, 0.4, 0.1)),
    ("fire", 0.06, (0.3, 0.5, 0.2, 0.0)), ("public_order", 0.10, (0.0, 0.2, 0.5, 0.3)),
    ("conflict", 0.03, (0.1, 0.5, 0.4, 0.0)), ("disaster", 0.02, (0.4, 0.4, 0.2, 0.0)),
    ("other_emergency", 0.05, (0.0, 0.1, 0.5, 0.4)), ("non_emergency", 0.22, (0.0, 0.0, 0.2, 0.8)),
    ("hoax", 0.08, (0.0, 0.0, 0.0, 1.0)),
]
CALL_TITLES = {
    "medical": ["Pasien sesak napas", "Ibu hamil perlu ambulans", "Orang pingsan di jalan"],
    "accident": ["Tabrakan motor", "Kecelakaan tunggal", "Mobil terbalik"],
    "fire": ["Kebakaran rumah", "Kebakaran warung", "Asap dari gudang"],
    "public_order": ["Keributan warga", "Pencurian dilaporkan", "Orang mencurigakan"],
    "conflict": ["Perkelahian kelompok", "Bentrokan massa"],
    "disaster": ["Pohon tumbang menimpa rumah", "Tanah longsor kecil"],
    "other_emergency": ["Hewan liar masuk rumah", "Kabel listrik putus"],
    "non_emergency": ["Tanya informasi layanan", "Salah sambung"],
    "hoax": ["Panggilan iseng"],
}
COMPLAINT_MIX = [("infrastructure", 0.25), ("street_lighting", 0.12), ("waste", 0.18), ("illegal_parking", 0.08),
                 ("water_supply", 0.1), ("traffic_order", 0.08), ("environment", 0.07), ("public_service", 0.08),
                 ("social", 0.04)]
GAUGES = [  # id, name, lat, lon, normal level cm, Siaga III/II/I lower bounds
    ("tk-badung-pesanggaran", "Tukad Badung - Pesanggaran", -8.7148, 115.2069, 120, (200, 260, 320)),
    ("tk-badung-gajahmada", "Tukad Badung - Jl. Gajah Mada", -8.6573, 115.2110, 90, (160, 210, 260)),
    ("tk-ayung-kesiman", "Tukad Ayung - Kesiman", -8.6420, 115.2640, 150, (260, 330, 400)),
    ("tk-mati-teuku-umar", "Tukad Mati - Teuku Umar", -8.6820, 115.1960, 60, (110, 150, 190)),
]
CAMERAS = [  # id, name, lat, lon: simulated ATCS cameras at busy junctions
    ("cam-simpang-dewa-ruci", "Simpang Dewa Ruci", -8.7126, 115.1793),
    ("cam-simpang-enam-teuku-umar", "Simpang Enam Teuku Umar", -8.6787, 115.2077),
    ("cam-catur-muka", "Catur Muka", -8.6561, 115.2161),
    ("cam-simpang-tohpati", "Simpang Tohpati", -8.6311, 115.2592),
    ("cam-simpang-gatsu-cokroaminoto", "Simpang Gatsu - Cokroaminoto", -8.6316, 115.2051),
    ("cam-simpang-sanur", "Simpang Sanur (Bypass)", -8.6893, 115.2565),
    ("cam-imam-bonjol-pulau-galang", "Imam Bonjol - Pulau Galang", -8.6842, 115.2002),
    ("cam-renon-niti-mandala", "Renon - Niti Mandala", -8.6732, 115.2339),
    ("cam-waturenggong", "Jl. Waturenggong", -8.6842, 115.2247),
    ("cam-ubung-terminal", "Terminal Ubung", -8.6253, 115.1990),
    ("cam-simpang-pesanggaran", "Simpang Pesanggaran", -8.7168, 115.2105),
    ("cam-gajah-mada", "Jl. Gajah Mada", -8.6565, 115.2114),
]

ROADS = [  # id, name, [(lat, lon), ...]
    ("jl-gatsu-barat", "Jl. Gatot Subroto Barat", [(-8.6325, 115.1800), (-8.6318, 115.1930), (-8.6307, 115.2050)]),
    ("jl-teuku-umar", "Jl. Teuku Umar", [(-8.6785, 115.1930), (-8.6795, 115.2050), (-8.6805, 115.2160)]),
    ("jl-imam-bonjol", "Jl. Imam Bonjol", [(-8.6700, 115.2040), (-8.6830, 115.2000), (-8.6960, 115.1960)]),
    ("jl-bypass-ngurah-rai", "Jl. Bypass Ngurah Rai", [(-8.6700, 115.2630), (-8.6950, 115.2580), (-8.7200, 115.2420)]),
    ("jl-hayam-wuruk", "Jl. Hayam Wuruk", [(-8.6500, 115.2240), (-8.6560, 115.2330), (-8.6600, 115.2420)]),
    ("jl-gajah-mada", "Jl. Gajah Mada", [(-8.6560, 115.2050), (-8.6570, 115.2120), (-8.6575, 115.2190)]),
    ("jl-sunset-road", "Jl. Sunset Road", [(-8.6960, 115.1800), (-8.7050, 115.1900), (-8.7150, 115.1960)]),
]
COMMODITIES = [  # canonical name, unit, base Rp, daily volatility
    ("beras_medium", "kg", 13500, 0.003), ("beras_premium", "kg", 15500, 0.003),
    ("daging_ayam_ras", "kg", 37000, 0.01), ("daging_sapi", "kg", 135000, 0.004),
    ("telur_ayam_ras", "kg", 29000, 0.008), ("bawang_merah", "kg", 38000, 0.03),
    ("bawang_putih", "kg", 40000, 0.015), ("cabai_merah_besar", "kg", 45000, 0.04),
    ("cabai_rawit_merah", "kg", 60000, 0.05), ("minyak_goreng_curah", "liter", 16500, 0.004),
    ("gula_pasir", "kg", 17500, 0.003),
]
MARKETS = ["Pasar Badung", "Pasar Kreneng", "Pasar Sanglah"]


def weighted(rng: random.Random, pairs):
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def random_point(rng: random.Random) -> tuple[float, float]:
    """A point inside a random desa of Denpasar."""
    b = boundaries()
    shape = rng.choice(b.shapes)
    minx, miny, maxx, maxy = shape.bounds
    from shapely import Point

    for _ in range(50):
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if shape.contains(Point(lon, lat)):
            return round(lat, 6), round(lon, 6)
    c = shape.representative_point()
    return round(c.y, 6), round(c.x, 6)


def felt_in_denpasar(magnitude: float, lat: float, lon: float) -> str | None:
    """BMKG's `Dirasakan` text (MMI scale) for a quake close and strong enough to be felt in Denpasar."""
    km = math.hypot((lat + 8.67) * 110.6, (lon - 115.21) * 109.3)
    if magnitude < 4 or km > 25 * magnitude:
        return None
    return f"{'III-IV' if magnitude >= 5.5 else 'III' if magnitude >= 4.8 else 'II-III'} Denpasar, II Badung"


class Simulator:
    """The simulated world of one demo feed. `advance(now)` returns canonical dicts."""

    def __init__(self, feed: str, rate: float, time_scale: float, seed: int | None, source: str, start: datetime):
        self.feed, self.rate, self.scale, self.source = feed, rate, time_scale, source
        self.rng = random.Random(seed)
        self.real_start = start
        self.sim_now = start
        self.items: dict[str, dict] = {}
        self.counter = 0
        self.levels = {g[0]: float(g[4]) for g in GAUGES}
        self.prices: dict[tuple[str, str], list[tuple[str, float]]] = {}
        if feed == "complaints":
            self._complaint_backlog()
        if feed == "prices":
            self._price_history()

    def advance(self, real_now: datetime) -> list[dict]:
        elapsed = max(0.0, (real_now - self.real_start).total_seconds()) * self.scale
        step = self.real_start + timedelta(seconds=elapsed) - self.sim_now
        self.sim_now = self.sim_now + step
        getattr(self, f"_step_{self.feed}")(step.total_seconds(), real_now)
        return list(self.items.values())

    # ---- 112 calls ------------------------------------------------------------------
    def _arrivals(self, seconds: float, per_minute: float) -> int:
        lam = per_minute * seconds / 60
        # Knuth's Poisson for small lambda, normal approximation beyond
        if lam > 30:
            return max(0, int(self.rng.gauss(lam, math.sqrt(lam))))
        k, p, limit = 0, 1.0, math.exp(-lam)
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1

    def _step_calls(self, seconds: float, real_now: datetime) -> None:
        for _ in range(self._arrivals(seconds, self.rate)):
            self._new_call(real_now)
        for call in self.items.values():
            self._progress_call(call, real_now)
        cutoff = real_now - timedelta(hours=2)
        for cid in [k for k, c in self.items.items() if c["status"] == "closed" and c["updated_at"] < cutoff.isoformat()]:
            del self.items[cid]

    def _new_call(self, now: datetime) -> None:
        self.counter += 1
        category = weighted(self.rng, [(c, s) for c, s, _ in CALL_MIX])
        sev_weights = next(w for c, _, w in CALL_MIX if c == category)
        severity = self.rng.choices(["critical", "high", "medium", "low"], weights=sev_weights)[0]
        lat, lon = random_point(self.rng)
        cid = f"112-{now.astimezone(WITA):%Y%m%d}-{self.counter:05d}"
        # durations of each step in real seconds (already divided by the time scale)
        plan = {"answered": self.rng.uniform(5, 25), "dispatched": self.rng.uniform(60, 300),
                "on_scene": self.rng.uniform(300, 900), "closed": self.rng.uniform(900, 2400)}
        self.items[cid] = {
            "kind": "incident", "id": cid, "source": self.source, "category": category, "severity": severity,
            "status": "new", "lat": lat, "lon": lon, "reported_at": now.isoformat(), "updated_at": now.isoformat(),
            "title": self.rng.choice(CALL_TITLES[category]),
            "details": {"timeline": {"received": now.isoformat()}, "channel": "112",
                        "_plan": {k: v / self.scale for k, v in plan.items()},
                        "private": {"caller": f"08{self.rng.randint(100000000, 999999999)}"}},
        }

    def _progress_call(self, call: dict, now: datetime) -> None:
        received = datetime.fromisoformat(call["details"]["timeline"]["received"])
        plan = call["details"]["_plan"]
        quick = call["category"] in ("non_emergency", "hoax")
        steps = [("answered", "acknowledged"), ("dispatched", "dispatched"), ("on_scene", "in_progress"), ("closed", "closed")]
        offset = 0.0
        for step, status in steps:
            if quick and step in ("dispatched", "on_scene"):
                continue
            offset += plan[step] if not quick else plan[step] / 20
            at = received + timedelta(seconds=offset)
            if at <= now and step not in call["details"]["timeline"]:
                call["details"]["timeline"][step] = at.isoformat()
                call["status"], call["updated_at"] = status, at.isoformat()

    # ---- complaints --------------------------------------------------------------------
    def _complaint_backlog(self) -> None:
        for _ in range(40):
            age = timedelta(days=self.rng.uniform(0, 21))
            self._new_complaint(self.real_start - age, backlog=True)

    def _new_complaint(self, at: datetime, backlog: bool = False) -> None:
        self.counter += 1
        category = weighted(self.rng, COMPLAINT_MIX)
        lat, lon = random_point(self.rng)
        cid = f"PRO-{at.astimezone(WITA):%y%m}-{self.counter:04d}"
        days = 14 if category in ("infrastructure", "water_supply") else 5
        status = "new"
        if backlog:
            status = self.rng.choices(["new", "acknowledged", "in_progress", "resolved"], weights=[2, 3, 4, 3])[0]
        self.items[cid] = {
            "kind": "incident", "id": cid, "source": self.source, "category": category,
            "severity": self.rng.choices(["low", "medium", "high"], weights=[5, 4, 1])[0],
            "status": status, "lat": lat, "lon": lon, "reported_at": at.isoformat(), "updated_at": at.isoformat(),
            "title": f"Pengaduan {category.replace('_', ' ')}",
            "details": {"channel": self.rng.choice(["PRO Denpasar", "SP4N-LAPOR!", "WhatsApp"]),
                        "first_response_due": (at + timedelta(days=3)).isoformat(),
                        "resolution_due": (at + timedelta(days=days)).isoformat()},
        }

    def _step_complaints(self, seconds: float, real_now: datetime) -> None:
        for _ in range(self._arrivals(seconds, self.rate / 60)):
            self._new_complaint(real_now)
        order = ["new", "acknowledged", "in_progress", "resolved"]
        for c in self.items.values():
            if c["status"] in ("resolved", "closed"):
                continue
            # each open complaint moves on about once per simulated day and a half
            if self.rng.random() < min(1.0, seconds / 86400 / 1.5):
                c["status"] = order[order.index(c["status"]) + 1]
                c["updated_at"] = real_now.isoformat()
                if c["status"] == "acknowledged":
                    c["details"]["first_response_at"] = real_now.isoformat()

    # ---- gauges ----------------------------------------------------------------------------
    def _step_gauges(self, seconds: float, real_now: datetime) -> None:
        hour = real_now.astimezone(WITA).hour
        rain = 1.0 + (0.8 if 13 <= hour <= 18 else 0.0)
        self.items = {}
        for gid, name, lat, lon, normal, (s3, s2, s1) in GAUGES:
            level = self.levels[gid]
            drift = self.rng.gauss(0, 3) * math.sqrt(max(seconds, 1) / 60) * rain
            pull = (normal - level) * min(1.0, seconds / 3600)
            if self.rng.random() < seconds / 3600 * 0.3 * rain:  # a downpour upstream
                drift += self.rng.uniform(20, 80)
            level = max(0.0, level + drift + pull)
            self.levels[gid] = level
            alert = 3 if level >= s1 else 2 if level >= s2 else 1 if level >= s3 else 0
            self.items[gid] = {
                "kind": "reading", "id": gid, "source": self.source, "station": gid, "station_name": name,
                "quantity": "water_level", "value": round(level, 1), "unit": "cm", "alert_level": alert,
                "observed_at": real_now.isoformat(), "lat": lat, "lon": lon,
                "details": {"thresholds": {"siaga_3": s3, "siaga_2": s2, "siaga_1": s1}},
            }

    # ---- traffic ---------------------------------------------------------------------------
    def _step_traffic(self, seconds: float, real_now: datetime) -> None:
        hour = real_now.astimezone(WITA).hour
        rush = 1.6 if hour in (7, 8, 16, 17, 18) else 1.0
        for rid, name, line in ROADS:
            current = self.items.get(rid)
            level = current["details"]["level"] if current else self.rng.randint(1, 3)
            if self.rng.random() < min(1.0, seconds / 120):
                level = max(1, min(5, level + self.rng.choice([-1, 0, 1]) + (1 if rush > 1 and self.rng.random() < 0.3 else 0)))
            if level < 3:
                self.items.pop(rid, None)
                continue
            mid = line[len(line) // 2]
            since = current["reported_at"] if current else real_now.isoformat()
            self.items[rid] = {
                "kind": "incident", "id": rid, "source": self.source, "category": "congestion",
                "severity": {3: "low", 4: "medium", 5: "high"}[level], "status": "in_progress",
                "lat": mid[0], "lon": mid[1], "reported_at": since, "updated_at": real_now.isoformat() if not current or current["details"]["level"] != level else current["updated_at"],
                "title": f"Kemacetan {name}",
                "geometry": {"type": "LineString", "coordinates": [[lon, lat] for lat, lon in line]},
                "details": {"level": level, "speed_kmh": {3: 18, 4: 10, 5: 4}[level], "road": name},
            }

    # ---- ATCS cameras ---------------------------------------------------------------------
    def _step_cameras(self, seconds: float, real_now: datetime) -> None:
        for cid, name, lat, lon in CAMERAS:
            current = self.items.get(cid)
            online = current["value"] >= 1 if current else self.rng.random() > 0.1
            if self.rng.random() < min(1.0, seconds / 3600 * (2.0 if not online else 0.3)):  # offline ones come back sooner
                online = not online
            self.items[cid] = {
                "kind": "reading", "id": cid, "source": self.source, "station": cid, "station_name": name,
                "quantity": "camera_online", "value": 1.0 if online else 0.0, "unit": "", "alert_level": 0 if online else 1,
                "observed_at": real_now.isoformat(), "lat": lat, "lon": lon,
                "details": {"name": name, "address": "", "online_known": True},
            }

    # ---- earthquakes around Bali --------------------------------------------------------------
    def _step_quakes(self, seconds: float, real_now: datetime) -> None:
        if not self.items:  # start with the latest felt quake of the past day
            self._new_quake(real_now - timedelta(hours=self.rng.uniform(1, 20)))
        for _ in range(self._arrivals(seconds, self.rate / 60)):
            self._new_quake(real_now)
        for qid in sorted(self.items)[:-20]:
            del self.items[qid]

    def _new_quake(self, at: datetime) -> None:
        magnitude = round(min(7.5, 2.5 + self.rng.expovariate(1.6)), 1)  # Gutenberg-Richter-like tail
        lat, lon = round(self.rng.uniform(-10.0, -7.6), 2), round(self.rng.uniform(114.2, 117.2), 2)
        depth = self.rng.choice([10, 10, 15, 30, 60, 120])
        qid = utc_stamp(at)
        severity = "critical" if magnitude >= 7 else "high" if magnitude >= 6 else "medium" if magnitude >= 5 else "low" if magnitude >= 4 else "info"
        region = self.rng.choice(["Karangasem", "Buleleng", "Jembrana", "Lombok Barat", "Nusa Penida", "Samudera Hindia Selatan Bali"])
        self.items[qid] = {
            "kind": "incident", "id": qid, "source": self.source, "category": "earthquake", "severity": severity,
            "status": "new", "lat": lat, "lon": lon, "reported_at": at.isoformat(), "updated_at": at.isoformat(),
            "title": f"Gempa M{magnitude:g} {region}",
            "details": {"magnitude": magnitude, "depth_km": depth, "region": region, "tsunami": False,
                        "felt": felt_in_denpasar(magnitude, lat, lon)},
        }

    # ---- prices ------------------------------------------------------------------------------
    def _price_history(self) -> None:
        today = self.real_start.astimezone(WITA).date()
        for name, unit, base, vol in COMMODITIES:
            for market in MARKETS:
                value = base * self.rng.uniform(0.95, 1.05)
                series = []
                for back in range(35, -1, -1):
                    value = max(base * 0.5, value * (1 + self.rng.gauss(0, vol)))
                    series.append(((today - timedelta(days=back)).isoformat(), round(value, -2)))
                self.prices[(name, market)] = series
        self._emit_prices()

    def _emit_prices(self) -> None:
        units = {c[0]: c[1] for c in COMMODITIES}
        self.items = {}
        for (name, market), series in self.prices.items():
            for day, value in series:
                pid = f"{name}:{market}:{day}"
                self.items[pid] = {
                    "kind": "price", "id": pid, "source": self.source, "commodity": name, "market": market,
                    "unit": units[name], "value": value, "date": f"{day}T00:00:00+08:00", "details": {},
                }

    def _step_prices(self, seconds: float, real_now: datetime) -> None:
        today = real_now.astimezone(WITA).date().isoformat()
        vol = {c[0]: c[3] for c in COMMODITIES}
        changed = False
        for (name, market), series in self.prices.items():
            if series[-1][0] != today:
                series.append((today, round(series[-1][1] * (1 + self.rng.gauss(0, vol[name])), -2)))
                del series[0]
                changed = True
            elif self.rng.random() < min(1.0, seconds / 3600 * 0.5):  # a market re-reports during the day
                series[-1] = (today, round(series[-1][1] * (1 + self.rng.gauss(0, vol[name] / 2)), -2))
                changed = True
        if changed:
            self._emit_prices()


class Demo(Adapter):
    name = "demo"
    Config = DemoConfig
    kinds = ("incident", "reading", "price")
    description = "Simulated Denpasar feeds for the demo configuration"

    def __init__(self, source: str, config: DemoConfig | None = None):
        super().__init__(source, config)
        self.snapshot = self.config.feed in ("gauges", "traffic", "cameras")
        self.sim: Simulator | None = None

    def fetch(self) -> bytes:
        now = utcnow()
        if self.sim is None:
            c = self.config
            self.sim = Simulator(c.feed, c.rate_per_minute, c.time_scale, c.seed, self.source, now)
        items = self.sim.advance(now)
        public = [{**i, "details": {k: v for k, v in i.get("details", {}).items() if not k.startswith("_")}} for i in items]
        return orjson.dumps({"generated_at": now.isoformat(), "feed": self.config.feed, "records": public})

    document = staticmethod(load_json)

    def read(self, data: Any) -> ParseResult:
        result = ParseResult()
        items = data.get("records") if isinstance(data, dict) else None
        if not isinstance(items, list):
            result.rejects.append(Reject.of("no `records` list in the document", data))
            return result
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                result.rejects.append(Reject.of("record is not an object", item, i))
                continue
            fields = {k: v for k, v in item.items() if k != "source"}
            self.collect(result, self.build(_any_record, i, item, **fields))
        return result


def _any_record(**fields) -> Incident | Reading | Price:
    """The record of whatever kind the item says (the model `build` needs)."""
    return record_from_json(fields)
