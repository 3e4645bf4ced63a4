"""Wall benchmark: start-up time and a poll's server time, printed as a table.

    .venv/bin/python bench/bench_wall.py [--incidents 10000]

Starts the real thing (`damamaya run` with the demo config on a free port,
embedded Redis, SQLite in a temp folder), then measures over HTTP on loopback:
- start-up: process start to the first 200 from /wall;
- a poll when nothing changed (the answer is 204, nothing is sent);
- a poll after one incident changed, with N live incidents in the store;
- the full wall layout (what a screen loads once).
The server's side of that poll, in parts and at 100,000 incidents: bench/bench_change.py.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import http.cookiejar
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import orjson
import redis
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


JAR = http.cookiejar.CookieJar()
OPENER = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(JAR))  # a wall screen's cookies


def post(url: str, body: dict) -> tuple[int, int, float]:
    """A callback request as the signed-in wall's browser sends it (its cookies, the CSRF header)."""
    data = orjson.dumps(body)
    csrf = next((c.value for c in JAR if c.name == "_csrf_token"), "")
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", "X-CSRFToken": csrf})
    t = time.perf_counter()
    with OPENER.open(req, timeout=30) as resp:
        payload = resp.read()
        return resp.status, len(payload), (time.perf_counter() - t) * 1000


def sign_in_as_screen(base: str, database_url: str) -> None:
    """Open a new wall screen's link, as an unattended wall does: its cookie, then /wall."""
    from engine.accounts import Accounts

    accounts = Accounts(database_url)
    try:
        accounts.create()
        token = accounts.add_screen(f"bench-{int(time.time())}")
    finally:
        accounts.dispose()
    with OPENER.open(f"{base}/screen/{token}", timeout=30) as resp:
        resp.read()


BENCH_SCREEN = "b" * 32  # a server-issued screen id has this form (engine/wall/state.py)


def poll_body(state: dict, sources: list[str]) -> dict:
    outputs = [{"id": "wall-state", "property": "data"},
               [{"id": {"source": s, "type": "pts"}, "property": "data"} for s in sources],
               [{"id": {"source": s, "type": "shp"}, "property": "data"} for s in sources],
               {"id": "wall-tiles", "property": "data"}, {"id": "wall-health", "property": "data"},
               {"id": "wall-grid-changes", "property": "data"}]
    key = ("..wall-state.data...{\"source\":[\"ALL\"],\"type\":\"pts\"}.data...{\"source\":[\"ALL\"],\"type\":\"shp\"}.data"
           "...wall-tiles.data...wall-health.data...wall-grid-changes.data..")
    return {"output": key, "outputs": outputs, "inputs": [{"id": "wall-poll", "property": "n_intervals", "value": 1},
                       {"id": "wall-wake", "property": "data", "value": None}],
            "state": [{"id": "wall-state", "property": "data", "value": state}], "changedPropIds": ["wall-poll.n_intervals"]}


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--polls", type=int, default=300)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="dmy-bench-"))
    port = free_port()
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["database"] = {"url": f"sqlite:///{tmp}/history.sqlite"}
    config["web"] = {**config["web"], "port": port}
    cfg = tmp / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAMAMAYA_")}
    # the bench's own Redis: the embedded one of `damamaya run` has a password nobody is shown
    from damamaya.redis_server import EmbeddedRedis

    redis_server = EmbeddedRedis()
    env["DAMAMAYA_REDIS_URL"] = redis_url = redis_server.start()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "damamaya.cli", "--config", str(cfg), "run"], cwd=ROOT, env=env,
                            stdout=(tmp / "app.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{base}/login", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
            if time.perf_counter() - t0 > 120:
                raise SystemExit("the app did not start within 120 s")
        startup = time.perf_counter() - t0
        sign_in_as_screen(base, config["database"]["url"])
        r = redis.Redis.from_url(redis_url)
        from engine.live import LiveStore
        from engine.records import Incident

        live = LiveStore(r, config["redis"]["prefix"])
        now = datetime.now(timezone.utc)
        from data_sources.demo import random_point
        import random

        rng = random.Random(7)
        bulk = []
        for i in range(args.incidents):
            lat, lon = random_point(rng)
            bulk.append(Incident(id=f"b{i}", source="bench", category="medical", severity=rng.choice(["low", "medium", "high", "critical"]),
                                 reported_at=now, updated_at=now, lat=lat, lon=lon, in_city=True, desa="x"))
        live.describe_sources({**live.sources(), "bench": {"title": "bench", "kinds": ["incident"], "interval": 5, "stale_after": 60}})
        live.apply("bench", bulk)
        # the Dash pages router: /wall's layout as a browser's first request gets it
        layout_req = {"output": ".._pages_content.children..._pages_store.data..",
                      "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
                      "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/wall"},
                                 {"id": "_pages_location", "property": "search", "value": ""}],
                      "changedPropIds": ["_pages_location.pathname"]}
        layout_times, layout_size = [], 0
        for _ in range(5):
            _, layout_size, ms = post(f"{base}/_dash-update-component", layout_req)
            layout_times.append(ms)
        sources = list(live.sources())
        # pause the collector's effect: measure against a fixed state
        quiet, changed = [], []
        proc_state = None
        for i in range(args.polls):
            versions = live.versions()
            state = {"versions": versions, "minute": int(time.time() // 60), "tiles": None, "stream": live.stream_head(),
                     "screen": BENCH_SCREEN}
            if proc_state is None:
                status, size, ms = post(f"{base}/_dash-update-component", poll_body(state, sources))
                proc_state = True
            status, size, ms = post(f"{base}/_dash-update-component", poll_body(state, sources))
            if status == 204:
                quiet.append(ms)
        for i in range(min(50, args.polls)):
            versions = live.versions()
            state = {"versions": versions, "minute": int(time.time() // 60), "tiles": None, "stream": live.stream_head(),
                     "screen": BENCH_SCREEN}
            t = datetime.now(timezone.utc)
            live.apply("bench", [bulk[i].model_copy(update={"status": "dispatched", "updated_at": t})])
            status, size, ms = post(f"{base}/_dash-update-component", poll_body(state, sources))
            changed.append((ms, size))
        mem = r.info("memory")["used_memory"] / 1e6
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
        redis_server.stop()

    rows = [
        ("start-up: `damamaya run` to the first page (sign-in) 200", f"{startup:.2f} s", ""),
        (f"/wall layout with {args.incidents:,} live incidents", f"{statistics.median(layout_times):.0f} ms p50", f"{layout_size / 1e6:.2f} MB"),
        ("poll, nothing changed (204)", f"{statistics.median(quiet):.2f} ms p50 / {pct(quiet, 95):.2f} ms p95", f"0 B ({len(quiet)} polls)"),
        (f"poll, 1 of {args.incidents:,} incidents changed",
         f"{statistics.median([c[0] for c in changed]):.0f} ms p50 / {pct([c[0] for c in changed], 95):.0f} ms p95",
         f"{statistics.median([c[1] for c in changed]) / 1e3:.0f} KB"),
        ("Redis memory with the demo + bench data", f"{mem:.1f} MB", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}} | {'time':<34} | size")
    print("-" * (width + 50))
    for name, value, size in rows:
        print(f"{name:<{width}} | {value:<34} | {size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
