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
  map hold half the bench incidents: right after the layer changed (server cold), for the
  next screen (server warm), on a reload (browser cache warm); beside the map floor measured
  in the same run, the same points clustered by dash-leaflet alone (bench/render.py).
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
from concurrent.futures import ThreadPoolExecutor
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
    # the demo's floods and quakes call up event mode (the map zoomed to one desa) on every
    # wall: the renders measure the wall's own scene, so the alarms here call up none
    for rule in config.get("alerts", {}).get("rules", {}).values():
        rule["scene"] = None
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
            renders = measure_renders(base, config["database"]["url"], live, bulk, render_counts, args, config, tmp)
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
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}} | {'time':<34} | size")
    print("-" * (width + 50))
    for name, value, size in rows:
        print(f"{name:<{width}} | {value:<34} | {size}")
    if renders:
        print(f"\nfirst map render ({args.render_runs} runs each; floor: the same count of points clustered by "
              "dash-leaflet in the browser, bench/floors.py)")
        print_rows(("measure", "wall", "floor (same run)", "ratio"), renders)
    # the renders are CPU-bound on a machine often shared: their figures mean little without it
    print(f"\nload average (1 / 5 min) at the end: {' / '.join(f'{x:.1f}' for x in os.getloadavg()[:2])}, "
          f"{os.cpu_count()} cores")
    return 0


def print_rows(head: tuple, rows: list[tuple]) -> None:
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(f"{str(c):<{w}}" for c, w in zip(r, widths)))


CLUSTERS_VIEW = "?z=13&bbox=115.085358,-8.786495,115.361973,-8.557469"  # the wall's opening view at 1920x1080


def first_builds(base: str, count: int, requests: int = 8) -> tuple:
    """After a bulk load one web worker reads the layer whole to build its cluster index and
    shares it; the others wait for it and start from it (from then on each follows the
    changes): the clusters URL asked `requests` times, four at a time, so that every worker
    answers it; the slowest answer holds the whole read."""
    data = orjson.dumps(LAYOUT_REQUEST)
    csrf = next((c.value for c in JAR if c.name == "_csrf_token"), "")
    req = urllib.request.Request(f"{base}/_dash-update-component", data=data,
                                 headers={"Content-Type": "application/json", "X-CSRFToken": csrf})
    from bench_push import find_store

    with OPENER.open(req, timeout=30) as resp:
        url = base + find_store(orjson.loads(resp.read()), {"type": "layer", "source": "bench"})["urls"]["clusters"] + CLUSTERS_VIEW
    def timed(_) -> float:
        t = time.perf_counter()
        with OPENER.open(url, timeout=120) as resp:
            resp.read()
        return (time.perf_counter() - t) * 1000

    # a few at once: an idle worker would otherwise take every one of them in turn
    with ThreadPoolExecutor(4) as pool:
        times = list(pool.map(timed, range(requests)))
    return (f"clusters after loading {count:,} at once: the slowest answer (a whole read)", f"{max(times):.0f} ms",
            "-", f"then {statistics.median(times):.0f} ms p50")


def measure_renders(base: str, database_url: str, live, bulk: list, counts: list[int], args, config: dict,
                    tmp: Path) -> list[tuple]:
    """At each count of live incidents in the bench source: the layout, and the first map render
    beside the map floor (bench/render.py)."""
    import render

    rows = []
    changed = iter(range(10**9))

    def change():  # one incident of the big layer changes: its next body and index are built for the next screen
        i = next(changed) % len(bulk)
        live.apply("bench", [bulk[i].model_copy(update={"updated_at": datetime.now(timezone.utc), "title": f"run {i}"})])

    with render.chromium() as browser:
        for count in sorted(counts):
            have = len(live.ids("bench"))
            for start in range(have, count, 20_000):
                live.apply("bench", bulk[start:min(count, start + 20_000)])
            mode = "server clusters" if count > config["wall"]["cluster_above"] else "browser clusters"
            layout_ms, layout_size = measure_layout(base)
            rows.append((f"/wall layout with {count:,} live incidents ({layout_size / 1e3:.1f} KB)", f"{layout_ms:.0f} ms p50",
                         "-", "-"))
            if mode == "server clusters":
                rows.append(first_builds(base, count))
            m = render.measure(browser, base, lambda: screen_link(base, database_url), count, change, args.render_runs,
                               config["web"]["workers"], config["web"]["threads"], tmp, args.debug)
            rows += render.rows(count, mode, m)
    return rows


if __name__ == "__main__":
    sys.exit(main())
