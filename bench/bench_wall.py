"""Wall benchmark: start-up, a poll's server time, the layout and the first map render, printed as a table.

    .venv/bin/python bench/bench_wall.py [--incidents 10000]

Starts the real thing (`damamaya run` with the demo config on a free port,
embedded Redis, SQLite in a temp folder), then measures over HTTP on loopback:
- start-up: process start to the first 200 from /wall;
- a poll when nothing changed (the answer is 204, nothing is sent);
- a poll after one incident changed, with N live incidents in the store;
- the full wall layout (what a screen loads once);
- at each count of `--render` (default 10,000 and 100,000 live incidents in one source): the
  layout's bytes and time, and the first map render in headless Chromium (Debian's, through
  Playwright), from opening a new wall screen's link until the markers and clusters on the
  map hold half the bench incidents, cold and with the browser's cache (a reload).
The server's side of the changed poll, in parts and at 100,000 incidents: bench/bench_change.py.
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


def poll_body(state: dict, sources: list[str], opversions: dict | None = None) -> dict:
    """The wall's poll request as the browser sends it; `opversions`: the alarm counters the screen holds."""
    outputs = [{"id": "wall-state", "property": "data"},
               [{"id": {"source": s, "type": "layer"}, "property": "data"} for s in sources],
               {"id": "wall-tiles", "property": "data"}, {"id": "wall-health", "property": "data"},
               {"id": "wall-grid-changes", "property": "data"}, {"id": "wall-opversions", "property": "data"}]
    key = ("..wall-state.data...{\"source\":[\"ALL\"],\"type\":\"layer\"}.data"
           "...wall-tiles.data...wall-health.data...wall-grid-changes.data...wall-opversions.data..")
    return {"output": key, "outputs": outputs, "inputs": [{"id": "wall-wake", "property": "data", "value": {"n": 1, "reason": "idle"}}],
            "state": [{"id": "wall-state", "property": "data", "value": state},
                      {"id": "wall-opversions", "property": "data", "value": opversions}], "changedPropIds": ["wall-wake.data"]}


def held_opversions(r, prefix: str) -> dict:
    """The alarm and operator-action counters a screen that is up to date holds (layouts/parts/wall.py opversions)."""
    from engine.alerts.live import ALARMS, OPS, OpsLive

    held = OpsLive(r, prefix).versions()
    return {"alarms": held.get(ALARMS, 0), "ops": held.get(OPS, 0)}


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def bench_incidents(count: int, now: datetime) -> list:
    from data_sources.demo import random_point
    from engine.records import Incident
    import random

    rng = random.Random(7)
    out = []
    for i in range(count):
        lat, lon = random_point(rng)
        out.append(Incident(id=f"b{i}", source="bench", category="medical", severity=rng.choice(["low", "medium", "high", "critical"]),
                            reported_at=now, updated_at=now, lat=lat, lon=lon, in_city=True, desa="x"))
    return out


LAYOUT_REQUEST = {  # the Dash pages router: /wall's layout as a browser's first request gets it
    "output": ".._pages_content.children..._pages_store.data..",
    "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
    "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/wall"},
               {"id": "_pages_location", "property": "search", "value": ""}],
    "changedPropIds": ["_pages_location.pathname"]}


def measure_layout(base: str, times: int = 5) -> tuple[float, int]:
    """(median ms, bytes) of /wall's layout; the first request (which builds a new layer version) is left out."""
    post(f"{base}/_dash-update-component", LAYOUT_REQUEST)
    results = [post(f"{base}/_dash-update-component", LAYOUT_REQUEST) for _ in range(times)]
    return statistics.median(r[2] for r in results), results[-1][1]


# markers and clusters on the map holding at least this many incidents (the bench layer is drawn, not only the demo's)
MAP_DRAWN = ("(n) => Array.from(document.querySelectorAll('.leaflet-container .cluster-icon span'))"
             ".reduce((a, s) => a + (+s.innerText || 0), 0) + document.querySelectorAll('path.dmy-marker').length >= n")


def first_render(base: str, database_url: str, browser, count: int, runs: int, debug: bool = False) -> tuple[float, float]:
    """(median s from opening a new wall screen's link until the markers and clusters on the map hold
    half the `count` bench incidents (cold browser cache), the same for a reload of /wall (warm cache))."""
    cold, warm = [], []
    for _ in range(runs):
        # bypass_csp: wait_for_function evaluates its predicate with eval, which the app's policy forbids
        context = browser.new_context(viewport={"width": 1920, "height": 1080}, bypass_csp=True)
        page = context.new_page()
        link = screen_link(base, database_url)
        t = time.perf_counter()
        if debug:
            page.on("console", lambda m: print(f"{time.perf_counter() - t:6.2f} console:", m.text))
            page.on("response", lambda r: print(f"{time.perf_counter() - t:6.2f} response:", r.status, r.url[:110]))
        page.goto(link)
        page.wait_for_function(MAP_DRAWN, arg=count // 2, timeout=120_000, polling=50)
        cold.append(time.perf_counter() - t)
        t = time.perf_counter()
        page.goto(f"{base}/wall")
        page.wait_for_function(MAP_DRAWN, arg=count // 2, timeout=120_000, polling=50)
        warm.append(time.perf_counter() - t)
        context.close()
    return statistics.median(cold), statistics.median(warm)


def screen_link(base: str, database_url: str) -> str:
    from engine.accounts import Accounts

    accounts = Accounts(database_url)
    try:
        accounts.create()
        token = accounts.add_screen(f"bench-{time.time_ns()}")
    finally:
        accounts.dispose()
    return f"{base}/screen/{token}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--polls", type=int, default=300)
    parser.add_argument("--render", default="10000,100000",
                        help="live incident counts at which to measure the layout and the first map render ('' to skip)")
    parser.add_argument("--render-runs", type=int, default=3)
    parser.add_argument("--cluster-above", type=int, default=None,
                        help="wall.cluster_above for this run (default: config.yaml's)")
    parser.add_argument("--debug", action="store_true", help="print the browser's console and map data requests")
    args = parser.parse_args()
    render_counts = [int(n) for n in args.render.split(",") if n]

    tmp = Path(tempfile.mkdtemp(prefix="dmy-bench-"))
    port = free_port()
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["database"] = {"url": f"sqlite:///{tmp}/history.sqlite"}
    config["web"] = {**config["web"], "port": port}
    if args.cluster_above is not None:
        config["wall"]["cluster_above"] = args.cluster_above
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
    renders = []
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

        live = LiveStore(r, config["redis"]["prefix"])
        now = datetime.now(timezone.utc)
        bulk = bench_incidents(max([args.incidents, *render_counts]), now)
        live.describe_sources({**live.sources(), "bench": {"title": "bench", "kinds": ["incident"], "interval": 5, "stale_after": 60}})
        live.apply("bench", bulk[:args.incidents])
        layout_ms, layout_size = measure_layout(base)
        sources = list(live.sources())
        # pause the collector's effect: measure against a fixed state
        quiet, changed = [], []
        proc_state = None
        for i in range(args.polls):
            versions = live.versions()
            state = {"versions": versions, "minute": int(time.time() // 60), "tiles": None, "stream": live.stream_head(),
                     "screen": BENCH_SCREEN}
            opv = held_opversions(r, config["redis"]["prefix"])  # as a screen holds them: the demo's alarms move them
            if proc_state is None:
                status, size, ms = post(f"{base}/_dash-update-component", poll_body(state, sources, opv))
                proc_state = True
            status, size, ms = post(f"{base}/_dash-update-component", poll_body(state, sources, opv))
            if status == 204:
                quiet.append(ms)
        for i in range(min(50, args.polls)):
            versions = live.versions()
            state = {"versions": versions, "minute": int(time.time() // 60), "tiles": None, "stream": live.stream_head(),
                     "screen": BENCH_SCREEN}
            t = datetime.now(timezone.utc)
            live.apply("bench", [bulk[i].model_copy(update={"status": "dispatched", "updated_at": t})])
            status, size, ms = post(f"{base}/_dash-update-component",
                                    poll_body(state, sources, held_opversions(r, config["redis"]["prefix"])))
            changed.append((ms, size))
        mem = r.info("memory")["used_memory"] / 1e6
        if render_counts:
            renders = measure_renders(base, config["database"]["url"], live, bulk, render_counts, args,
                                      config["wall"]["cluster_above"])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
        redis_server.stop()

    rows = [
        ("start-up: `damamaya run` to the first page (sign-in) 200", f"{startup:.2f} s", ""),
        (f"/wall layout with {args.incidents:,} live incidents", f"{layout_ms:.0f} ms p50", f"{layout_size / 1e3:.1f} KB"),
        ("poll, nothing changed (204)", f"{statistics.median(quiet):.2f} ms p50 / {pct(quiet, 95):.2f} ms p95" if quiet
         else "none: the demo changed something before every poll", f"0 B ({len(quiet)} polls)"),
        (f"poll, 1 of {args.incidents:,} incidents changed",
         f"{statistics.median([c[0] for c in changed]):.0f} ms p50 / {pct([c[0] for c in changed], 95):.0f} ms p95",
         f"{statistics.median([c[1] for c in changed]) / 1e3:.0f} KB"),
        ("Redis memory with the demo + bench data", f"{mem:.1f} MB", ""),
        *renders,
        # the renders are CPU-bound on a machine often shared: their figures mean little without it
        ("load average (1 / 5 min) at the end", " / ".join(f"{x:.1f}" for x in os.getloadavg()[:2]), f"{os.cpu_count()} cores"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}} | {'time':<34} | size")
    print("-" * (width + 50))
    for name, value, size in rows:
        print(f"{name:<{width}} | {value:<34} | {size}")
    return 0


def measure_renders(base: str, database_url: str, live, bulk: list, counts: list[int], args, cluster_above: int) -> list[tuple]:
    """At each count of live incidents in the bench source: the layout and the first map render."""
    from playwright.sync_api import sync_playwright

    rows = []
    chromium = os.environ.get("DAMAMAYA_CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            for count in sorted(counts):
                have = len(live.ids("bench"))
                for start in range(have, count, 20_000):
                    live.apply("bench", bulk[start:min(count, start + 20_000)])
                mode = "server clusters" if count > cluster_above else "browser clusters"
                layout_ms, layout_size = measure_layout(base)
                cold, warm = first_render(base, database_url, browser, count, args.render_runs, args.debug)
                rows += [(f"/wall layout with {count:,} live incidents", f"{layout_ms:.0f} ms p50", f"{layout_size / 1e3:.1f} KB"),
                         (f"first map render, {count:,} live incidents ({mode})", f"{cold:.2f} s p50 (cold cache)", ""),
                         (f"reload of /wall, {count:,} live incidents", f"{warm:.2f} s p50 (browser cache)", "")]
        finally:
            browser.close()
    return rows


if __name__ == "__main__":
    sys.exit(main())
