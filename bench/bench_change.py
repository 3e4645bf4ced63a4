"""What one change costs the wall's server: the first poll after one incident of N changed.

    .venv/bin/python bench/bench_change.py [--sizes 10000 100000] [--repeats 30]

In one process, on an embedded Redis of its own: N live incidents in one source (and a
small gauge source beside it), a screen's first state, then `repeats` times: one incident
changes, and the first screen to poll (a new `WallModel`, the shared Redis cache, as a
web request has them) asks what changed. Printed per N, p50 / p95 in ms:
- first poll: all of `WallModel.changes` (the map's edits included);
- its parts: tiles + headlines, grid rows, map edits;
- main's way for the tiles + headline: every record of the changed source read and the
  views computed over them (what `WallModel` did per data version before);
- the same poll without the map layers (the rest: tiles, headlines, grid rows, health);
- a Redis PING after each poll: the round trip the machine gives at that moment (the
  tiles take 4 to 5 round trips: read the cache, read/replay, apply, write the cache);
- Redis memory of the kept tiles per live incident (beside the record's own), and the
  time to build them once from all records (a screen's first load after a flush).
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from damamaya.redis_server import EmbeddedRedis  # noqa: E402
from engine.analytics.config import KpiConfig  # noqa: E402
from engine.cache import RedisCache  # noqa: E402
from engine.live import LiveStore  # noqa: E402
from engine.records import Incident, Reading  # noqa: E402
from engine.wall import views  # noqa: E402
from engine.wall.model import WallModel  # noqa: E402

PREFIX = "bench"
LIST_SIZE = 50


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def fill(live: LiveStore, n: int, rng: random.Random) -> list[Incident]:
    now = datetime.now(timezone.utc)
    incidents = [Incident(id=f"b{i:06d}", source="bench", category=rng.choice(["medical", "fire", "traffic_accident", "hoax"]),
                          severity=rng.choice(["low", "medium", "high", "critical"]), reported_at=now, updated_at=now,
                          lat=-8.65 + rng.random() / 10, lon=115.2 + rng.random() / 10, in_city=True, desa="Dauh Puri",
                          title="Laporan warga") for i in range(n)]
    for start in range(0, n, 5000):
        live.apply("bench", incidents[start:start + 5000])
    live.apply("gauges", [Reading(id=f"g{i}", source="gauges", station=f"g{i}", quantity="water_level", value=100.0,
                                  alert_level=i % 3, observed_at=now, lat=-8.6, lon=115.2) for i in range(12)])
    live.describe_sources({"bench": {"title": "bench", "kinds": ["incident"]}, "gauges": {"title": "g", "kinds": ["reading"]}})
    return incidents


def timed(parts: dict[str, float], name: str, method):
    def run(*args, **kwargs):
        t = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            parts[name] = parts.get(name, 0.0) + (time.perf_counter() - t) * 1000
    return run


def model(live: LiveStore, cache: RedisCache, parts: dict[str, float]) -> WallModel:
    m = WallModel(live, cache, "id", LIST_SIZE, KpiConfig())
    m.tiles = timed(parts, "tiles", m.tiles)
    m.layer_edits = timed(parts, "layers", m.layer_edits)
    m._grid_changes = timed(parts, "grid", m._grid_changes)
    return m


def main_way(live: LiveStore) -> float:
    """The tiles and headline of the changed source as main computes them per version (ms)."""
    t = time.perf_counter()
    records = live.raw_records("bench")
    views.wall_tiles(records, datetime.now(timezone.utc), KpiConfig())
    views.source_headline(records)
    return (time.perf_counter() - t) * 1000


def measure(client: redis.Redis, n: int, repeats: int) -> dict:
    client.flushdb()
    rng = random.Random(7)
    live, cache = LiveStore(client, PREFIX), RedisCache(client, PREFIX)
    incidents = fill(live, n, rng)
    loading: dict[str, float] = {}
    state = model(live, cache, loading).snapshot("b" * 32).state  # a screen loads the wall: kept tiles built
    polls, parts_seen, before, grid_rows, pings = [], [], [], [], []
    for i in range(repeats):
        changed = incidents[rng.randrange(n)]
        status = "dispatched" if i % 2 == 0 else "closed"
        live.apply("bench", [changed.model_copy(update={"status": status, "updated_at": datetime.now(timezone.utc)})])
        parts: dict[str, float] = {}
        t = time.perf_counter()
        out = model(live, cache, parts).changes(state)
        polls.append((time.perf_counter() - t) * 1000)
        parts_seen.append(parts)
        grid_rows.append(len(out.grid["upsert"]) if out.grid and "upsert" in out.grid else -1)
        state = out.state
        before.append(main_way(live))
        t = time.perf_counter()
        client.ping()
        pings.append((time.perf_counter() - t) * 1000)
    usage = sum(client.memory_usage(k) or 0 for k in client.scan_iter(match=f"{PREFIX}:tiles:bench*"))
    records = client.memory_usage(f"{PREFIX}:rec:bench") or 0
    return {"polls": polls, "parts": parts_seen, "before": before, "rows": grid_rows,
            "tiles_bytes": usage / n, "record_bytes": records / n, "build": loading["tiles"] / 1000, "pings": pings}


def line(values: list[float]) -> str:
    return f"{statistics.median(values):7.1f} / {pct(values, 95):7.1f}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    server = EmbeddedRedis(maxmemory="3gb")
    client = redis.Redis.from_url(server.start())
    try:
        results = {n: measure(client, n, args.repeats) for n in args.sizes}
    finally:
        client.close()
        server.stop()
    print(f"first poll after 1 of N incidents changed; ms p50 / p95 over {args.repeats} changes")
    header = f"{'N':>8} | {'first poll':>17} | {'without layers':>17} | {'tiles+headlines':>17} | {'grid rows':>17} | " \
             f"{'map layers':>17} | {'main: tiles+hl':>17} | {'Redis PING':>17} | rows sent | kept B/inc | record B/inc | build s"
    print(header)
    print("-" * len(header))
    for n, r in results.items():
        part = lambda name: [p.get(name, 0.0) for p in r["parts"]]  # noqa: E731
        unlayered = [poll - layers for poll, layers in zip(r["polls"], part("layers"))]
        print(f"{n:>8,} | {line(r['polls'])} | {line(unlayered)} | {line(part('tiles'))} | {line(part('grid'))} | "
              f"{line(part('layers'))} | {line(r['before'])} | {line(r['pings'])} | {max(r['rows']):>9} | "
              f"{r['tiles_bytes']:>10.0f} | {r['record_bytes']:>12.0f} | {r['build']:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
