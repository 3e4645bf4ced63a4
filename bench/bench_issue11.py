"""Issue 11's table in one command: each figure beside its floor measured in the same run.

    .venv/bin/python bench/bench_issue11.py [--quakes 10] [--incidents 10000] [--push-screens 0] [--only-idle]

Floors, measured here: an empty Dash callback on gunicorn with the wall's workers and
threads (bench/floors.py), a bare SSE echo on uvicorn read by the same headless Chromium
(bench/floors.py), the 1 s interval of the file source itself. The app runs as a user
runs it (`damamaya run`, its own embedded Redis for the bench, SQLite in a temp folder):
- a quake file source polled every second, the wall in headless Chromium, with push and
  with push off: file written -> the quake's row on the wall (a MutationObserver's clock);
- the same wall: a live-store write -> its row on the wall (push);
- an app without sources: the idle tick of one signed-in wall (its conditional GET of
  /wall/idle, answered 304, as assets/idle.js sends it, measured in turns with the empty
  Dash callback; beside it the Dash poll answering 204, which every tick was before),
  idle ticks per second over 20 and 100 connections,
  10,000 live incidents: the first poll after one changed, /wall's layout, Redis memory
  per incident;
- the same app at 10,000 and 100,000 live incidents (`--render`): the first map render in
  headless Chromium, server cold and warm, beside the map floor (bench/render.py);
- the demo config: the bytes of a wall's polls while the demo runs.
Rows other benches own say where they are measured. `--push-screens N` adds the
N-screen store-to-screen figures of bench/bench_push.py (1,000 takes minutes).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import redis
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_push import PAGES_REQUEST, Http, find_store, free_port, pct, sign_in  # noqa: E402
from bench_wall import poll_body  # noqa: E402
from floors import EMPTY_CALLBACK  # noqa: E402

CHROMIUM = os.environ.get("DAMAMAYA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]
WATCH_JS = """sel => { window.__seen = window.__seen || {}; delete window.__seen[sel];
  const check = () => { if (document.querySelector(sel)) { window.__seen[sel] = Date.now(); return true; } return false; };
  if (check()) return; const obs = new MutationObserver(() => { if (check()) obs.disconnect(); });
  obs.observe(document.body, {childList: true, subtree: true, attributes: true}); }"""


def wait_url(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout} s")


@contextmanager
def process(cmd: list[str], log: Path, env: dict | None = None, cwd: Path = ROOT):
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)


class App:
    """`damamaya run` with a config of the bench's, on the bench's Redis under its own prefix."""

    def __init__(self, tmp: Path, redis_url: str, name: str, config: dict):
        self.port = free_port()
        base = yaml.safe_load((ROOT / "config.yaml").read_text())
        base.update(config)
        base["redis"] = {**base.get("redis", {}), "url": redis_url, "prefix": name}
        base["database"] = {"url": f"sqlite:///{tmp}/{name}.sqlite"}
        base["web"] = {**base["web"], "host": "127.0.0.1", "port": self.port}
        base["push"] = {**base.get("push", {}), **config.get("push", {}), "port": free_port()}
        self.config, self.tmp, self.name = base, tmp, name
        self.cfg = tmp / f"{name}.yaml"
        self.cfg.write_text(yaml.safe_dump(base))
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DAMAMAYA_")}
        self.live = None

    @contextmanager
    def running(self):
        from engine.live import LiveStore

        cmd = [sys.executable, "-m", "damamaya.cli", "--config", str(self.cfg), "run"]
        with process(cmd, self.tmp / f"{self.name}.log", self.env) as proc:
            wait_url(f"{self.base}/login")
            if self.config["push"].get("enabled", True):
                wait_url(f"http://127.0.0.1:{self.config['push']['port']}/push/health")
            self.live = LiveStore(redis.Redis.from_url(self.config["redis"]["url"]), self.name)
            yield proc

    def screen_link(self) -> str:
        from engine.accounts import Accounts

        accounts = Accounts(self.config["database"]["url"])
        try:
            accounts.create()
            import secrets

            return f"{self.base}/screen/{accounts.add_screen(f'bench-{secrets.token_hex(4)}')}"
        finally:
            accounts.dispose()

    def http(self) -> Http:
        [(cookies, csrf)] = sign_in(self.base, self.config["database"]["url"], 1)
        return Http("127.0.0.1", self.port, cookies, csrf)


# ---- HTTP measures ----------------------------------------------------------------------

def dash_post(body_of):
    """A request as the browser's Dash renderer sends it: POST /_dash-update-component."""
    async def send(http: Http) -> tuple[int, bytes]:
        return await http.post("/_dash-update-component", orjson.dumps(body_of()))
    return send


def idle_get(etag: str):
    """The wall's idle check as assets/idle.js sends it: GET /wall/idle with the tag it holds."""
    async def send(http: Http) -> tuple[int, bytes]:
        return await http.get("/wall/idle", f"If-None-Match: {etag}\r\n")
    return send


async def sequential_ms(http: Http, send, count: int, expect=(200, 204)) -> list[float]:
    times = []
    for _ in range(count):
        t = time.perf_counter()
        status, _ = await send(http)
        if status in expect:
            times.append((time.perf_counter() - t) * 1000)
    return times


async def per_second(make_http, send, connections: int, seconds: float, expect=(200, 204)) -> float:
    """Answers per second with a status in `expect` (any other is not counted)."""
    https = [make_http() for _ in range(connections)]
    done = 0
    stop = time.perf_counter() + seconds

    async def loop(http):
        nonlocal done
        while time.perf_counter() < stop:
            status, _ = await send(http)
            done += status in expect

    start = time.perf_counter()
    await asyncio.gather(*(loop(h) for h in https))
    for h in https:
        h.close()
    return done / (time.perf_counter() - start)


@contextmanager
def floor_running(tmp: Path, workers: int, threads: int):
    """The empty Dash callback on gunicorn; yields a maker of connections to it."""
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads", str(threads), "-b", f"127.0.0.1:{port}",
           "--control-socket", str(tmp / "floor.ctl"), "--chdir", str(ROOT / "bench"), "floors:floor_server"]
    with process(cmd, tmp / "floor.log"):
        wait_url(f"http://127.0.0.1:{port}/")
        yield lambda: Http("127.0.0.1", port, "", "")


FLOOR_CALL = dash_post(lambda: EMPTY_CALLBACK)


def measure_floor_dash(make_floor, polls: int) -> dict:
    async def run():
        http = make_floor()
        await sequential_ms(http, FLOOR_CALL, 50)  # warm
        seq = await sequential_ms(http, FLOOR_CALL, polls)
        return seq, await per_second(make_floor, FLOOR_CALL, 20, 5), await per_second(make_floor, FLOOR_CALL, 100, 5)

    seq, c20, c100 = asyncio.run(run())
    return {"p50": pct(seq, 50), "c20": c20, "c100": c100}


async def beside_floor(make_floor, make_app, check, polls: int, blocks: int = 10, turns: int = 6,
                       seconds: float = 1.5) -> dict:
    """The idle check and the floor measured in turns, in short blocks, so that the load of a
    shared machine weighs on both alike: one client's times (`blocks` blocks each), answers per
    second over 20 and 100 connections (`turns` windows of `seconds` each)."""
    floor_http, app_http = make_floor(), make_app()
    await sequential_ms(floor_http, FLOOR_CALL, 50)
    await sequential_ms(app_http, check, 50, expect=(304,))
    out = {"floor_seq": [], "seq": [], "floor_c20": 0.0, "c20": 0.0, "floor_c100": 0.0, "c100": 0.0}
    for _ in range(blocks):
        out["floor_seq"] += await sequential_ms(floor_http, FLOOR_CALL, polls // blocks)
        out["seq"] += await sequential_ms(app_http, check, polls // blocks, expect=(304,))
    for connections in (20, 100):
        for _ in range(turns):
            out[f"floor_c{connections}"] += await per_second(make_floor, FLOOR_CALL, connections, seconds) / turns
            out[f"c{connections}"] += await per_second(make_app, check, connections, seconds, (304,)) / turns
    floor_http.close()
    app_http.close()
    return out


# ---- the browser ----------------------------------------------------------------------------

@contextmanager
def chromium_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1920, "height": 1080}, bypass_csp=True)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def seen_after(page, selector: str, write, timeout_s: float = 30) -> float:
    """ms from `write()` to `selector` in the page (the page's own clock and ours are the system's)."""
    page.evaluate(WATCH_JS, selector)
    t = time.time() * 1000
    write()
    page.wait_for_function("sel => window.__seen && window.__seen[sel]", arg=selector, timeout=timeout_s * 1000)
    return page.evaluate("sel => window.__seen[sel]", selector) - t


def measure_sse_floor(tmp: Path, count: int) -> list[float]:
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "bench"), "floors:sse_echo", "--port", str(port),
           "--log-level", "warning"]
    with process(cmd, tmp / "sse.log"), chromium_page() as page:
        wait_url(f"http://127.0.0.1:{port}/")
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_function("window.opened === true", timeout=10_000)
        out = []
        for i in range(count):
            t = time.time() * 1000
            urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/say", data=str(i).encode()), timeout=5).read()
            page.wait_for_function("n => window.arrivals.length > n", arg=i, timeout=10_000)
            out.append(page.evaluate("n => window.arrivals[n][1]", i) - t)
            time.sleep(0.1)
    return out


def quake_file(when: datetime, magnitude: float) -> bytes:
    wib = when.astimezone(timezone(timedelta(hours=7)))
    return orjson.dumps({"Infogempa": {"gempa": {
        "Tanggal": wib.strftime("%d %b %Y"), "Jam": wib.strftime("%H:%M:%S WIB"), "DateTime": when.isoformat(),
        "Coordinates": "-8.90,115.10", "Lintang": "8.90 LS", "Bujur": "115.10 BT", "Magnitude": f"{magnitude:.1f}",
        "Kedalaman": "10 km", "Wilayah": "30 km BaratDaya DENPASAR-BALI", "Potensi": "Tidak berpotensi tsunami",
        "Dirasakan": "II Tabanan"}}})


def write_atomic(path: Path, data: bytes) -> None:
    part = path.with_suffix(".part")
    part.write_bytes(data)
    part.replace(path)


def measure_wall_in_browser(app: App, quake_path: Path, quakes: int, live_writes: int) -> dict:
    from engine.records import Incident

    out = {"quake": [], "live": []}
    with chromium_page() as page:
        page.goto(app.screen_link())
        page.wait_for_selector(".wall-grid .ag-row", timeout=60_000)
        page.wait_for_timeout(3000)
        for _ in range(quakes):
            time.sleep(random.uniform(1.0, 2.0))  # a random phase against the source's 1 s interval
            when = datetime.now(timezone.utc).replace(microsecond=0)
            selector = f'.wall-grid .ag-row[row-id="quakes:{when.strftime("%Y%m%dT%H%M%SZ")}"]'
            # M 4.1, felt outside the city: below the shipped quake rule, so no alarm calls up the quake
            # scene (event mode), whose list shows only quakes and would hide the live writes below
            out["quake"].append(seen_after(page, selector, lambda: write_atomic(quake_path, quake_file(when, 4.1))))
        for i in range(live_writes):
            time.sleep(random.uniform(0.3, 0.8))
            now = datetime.now(timezone.utc)
            rid = f"live{i}-{random.randint(0, 10**6)}"
            incident = Incident(id=rid, source="calls", category="fire", title=rid, reported_at=now, updated_at=now,
                                lat=-8.65, lon=115.22)
            out["live"].append(seen_after(page, f'.wall-grid .ag-row[row-id="calls:{rid}"]',
                                          lambda: app.live.apply("calls", [incident])))
    return out


def quake_config(path: Path, push: bool) -> dict:
    return {"sources": {"quakes": {"adapter": "bmkg-quake", "title": "Gempa", "path": str(path), "interval": 1,
                                   "live_hours": 48}},
            "push": {"enabled": push}}


# ---- the app without sources: polls, 10,000 incidents -----------------------------------------

def quiet_sources(app: App) -> list[str]:
    app.live.describe_sources({"bench": {"title": "bench", "kinds": ["incident"], "interval": 5, "stale_after": 600}})
    app.live.apply("bench", [])
    return ["bench"]


def measure_idle(app: App, polls: int, make_floor) -> dict:
    """A quiet wall's idle tick as its browser now sends it (GET /wall/idle with the tag it holds:
    304), one client and over 20 and 100 connections, in turns with the empty Dash callback;
    and the Dash poll that answers 204 (what every idle tick was before; now it runs only
    when the check says something moved)."""
    from engine.wall.idle import read_counters

    sources = quiet_sources(app)

    async def run():
        http = app.http()
        _, layout = await http.post("/_dash-update-component", orjson.dumps(PAGES_REQUEST))
        state = find_store(orjson.loads(layout), "wall-state")
        opv = find_store(orjson.loads(layout), "wall-opversions")
        first = await http.post("/_dash-update-component", orjson.dumps(poll_body(state, sources, opv)))
        if first[0] == 200:
            response = orjson.loads(first[1])["response"]
            state = response.get("wall-state", {}).get("data", state)
            opv = response.get("wall-opversions", {}).get("data", opv)
        dash_idle = dash_post(lambda: poll_body(state, sources, opv))  # nothing changes: every answer is 204
        await sequential_ms(http, dash_idle, 50)
        dash_ms = await sequential_ms(http, dash_idle, polls)
        status, _ = await http.get("/wall/idle")  # the browser's first check: the counters and their tag
        if status != 200:
            raise SystemExit(f"GET /wall/idle answered {status}")
        check = idle_get(f'"{read_counters(app.live).tag}"')  # the tag that answer carried
        logins = sign_in(app.base, app.config["database"]["url"], 4)
        make = lambda: Http("127.0.0.1", app.port, *random.choice(logins))  # noqa: E731
        measured = await beside_floor(make_floor, make, check, polls)
        answered = await sequential_ms(http, check, 20, expect=(304,))  # still 304: nothing moved meanwhile
        return measured, dash_ms, len(answered)

    m, dash_ms, answered = asyncio.run(run())
    if answered < 20:
        raise SystemExit("the idle check did not answer 304 throughout: the counters moved during the bench")
    return {"idle": pct(m["seq"], 50), "c20": m["c20"], "c100": m["c100"], "dash_204": pct(dash_ms, 50),
            "floor": {"p50": pct(m["floor_seq"], 50), "c20": m["floor_c20"], "c100": m["floor_c100"]}}


def measure_polls(app: App, polls: int, incidents: int, make_floor) -> dict:
    from data_sources.demo import random_point
    from engine.records import Incident

    live = app.live
    out = measure_idle(app, polls, make_floor)
    sources = ["bench"]

    before = live.r.info("memory")["used_memory"]
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    bulk = []
    for i in range(incidents):
        lat, lon = random_point(rng)
        bulk.append(Incident(id=f"b{i}", source="bench", category="medical", reported_at=now, updated_at=now, lat=lat, lon=lon,
                             in_city=True, desa="x", severity=rng.choice(["low", "medium", "high", "critical"])))
    for i in range(0, incidents, 2000):
        live.apply("bench", bulk[i:i + 2000])
    memory = (live.r.info("memory")["used_memory"] - before) / max(incidents, 1)

    async def after_bulk():
        http = app.http()
        layout_ms, layout_bytes = [], 0
        for _ in range(3):
            t = time.perf_counter()
            _, body = await http.post("/_dash-update-component", orjson.dumps(PAGES_REQUEST))
            layout_ms.append((time.perf_counter() - t) * 1000)
            layout_bytes = len(body)
        fresh = find_store(orjson.loads(body), "wall-state")
        changed = []
        for i in range(10):
            t = datetime.now(timezone.utc)
            live.apply("bench", [bulk[i].model_copy(update={"status": "dispatched", "updated_at": t})])
            start = time.perf_counter()
            await http.post("/_dash-update-component", orjson.dumps(poll_body(fresh, sources)))
            changed.append((time.perf_counter() - start) * 1000)
            fresh = {**fresh, "versions": live.versions(), "stream": live.stream_head()}
        return layout_ms, layout_bytes, changed

    layout_ms, layout_bytes, changed = asyncio.run(after_bulk())
    return {**out, "memory": memory, "layout_ms": pct(layout_ms, 50), "layout_bytes": layout_bytes,
            "changed": pct(changed, 50)}


def measure_renders(app: App, counts: list[int], runs: int) -> list[tuple]:
    """The first map render at each count of live bench incidents, beside the map floor (bench/render.py)."""
    import render
    from data_sources.demo import random_point
    from engine.records import Incident

    live, rng, rows = app.live, random.Random(11), []
    now = datetime.now(timezone.utc)

    def incident(i: int) -> Incident:
        lat, lon = random_point(rng)
        return Incident(id=f"b{i}", source="bench", category="medical", reported_at=now, updated_at=now, lat=lat, lon=lon,
                        in_city=True, desa="x", severity=rng.choice(["low", "medium", "high", "critical"]))

    def change():  # one incident changes just before a run: the first screen meets a new layer version
        live.apply("bench", [incident(rng.randrange(len(live.ids("bench"))))])

    with render.chromium() as browser:
        for count in sorted(counts):
            have = len(live.ids("bench"))
            for start in range(have, count, 5000):
                live.apply("bench", [incident(i) for i in range(start, min(count, start + 5000))])
            # after a bulk load each web worker reads the layer whole once: not what this row is about
            render.measure(browser, app.base, app.screen_link, count, change, 1, app.config["web"]["workers"],
                           app.config["web"]["threads"], app.tmp)
            m = render.measure(browser, app.base, app.screen_link, count, change, runs, app.config["web"]["workers"],
                               app.config["web"]["threads"], app.tmp)
            rows += render.rows(count, "server clusters" if count > app.config["wall"]["cluster_above"] else "browser clusters", m)
    return rows


def measure_demo_bytes(app: App, seconds: float) -> dict:
    async def run():
        http = app.http()
        _, layout = await http.post("/_dash-update-component", orjson.dumps(PAGES_REQUEST))
        tree = orjson.loads(layout)
        state = find_store(tree, "wall-state")
        opv = find_store(tree, "wall-opversions")
        whole_health = len(orjson.dumps(find_store(tree, "wall-health")))
        sources = [s for s in app.live.sources()]
        sizes, health, parts = [], [], {}
        stop = time.perf_counter() + seconds
        poll_s = app.config["wall"]["poll_seconds"]
        while time.perf_counter() < stop:
            await asyncio.sleep(poll_s)
            status, body = await http.post("/_dash-update-component", orjson.dumps(poll_body(state, sources, opv)))
            sizes.append(len(body))
            if status == 200:
                response = orjson.loads(body)["response"]
                state = response.get("wall-state", {}).get("data", state)
                opv = response.get("wall-opversions", {}).get("data", opv)
                health.append(len(orjson.dumps(response["wall-health"])) if "wall-health" in response else 0)
                for key, value in response.items():
                    name = "map layers" if '"layer"' in key else key
                    parts[name] = parts.get(name, 0) + len(orjson.dumps(value))
            else:
                health.append(0)
        return sizes, health, whole_health, parts

    time.sleep(15)  # the demo's feeds have written their first data
    sizes, health, whole, parts = asyncio.run(run())
    return {"p50": pct(sizes, 50), "mean": sum(sizes) / max(len(sizes), 1), "max": max(sizes, default=0),
            "health_mean": sum(health) / max(len(health), 1), "health_whole": whole, "polls": len(sizes),
            "parts": {k: v / max(len(sizes), 1) for k, v in sorted(parts.items(), key=lambda kv: -kv[1])}}


# ---- the table --------------------------------------------------------------------------------

def fmt_ms(values: list[float]) -> str:
    return f"p50 {pct(values, 50):.0f} ms, p95 {pct(values, 95):.0f} ms" if values else "-"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quakes", type=int, default=10, help="quakes written per wall (push on, push off)")
    parser.add_argument("--live-writes", type=int, default=20)
    parser.add_argument("--polls", type=int, default=300)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--demo-seconds", type=float, default=40)
    parser.add_argument("--push-screens", type=int, default=0, help="also run bench_push with this many screens")
    parser.add_argument("--only-demo", action="store_true", help="only the bytes per poll while the demo runs")
    parser.add_argument("--only-idle", action="store_true", help="only the idle-poll rows and their floor")
    parser.add_argument("--render", default="10000,100000", help="live incident counts of the first map render ('' to skip)")
    parser.add_argument("--render-runs", type=int, default=3)
    args = parser.parse_args()

    from damamaya.redis_server import EmbeddedRedis

    tmp = Path(tempfile.mkdtemp(prefix="dmy-issue11-"))
    base_cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    workers, threads = base_cfg["web"]["workers"], base_cfg["web"]["threads"]
    embedded = EmbeddedRedis()
    redis_url = embedded.start()
    results: dict = {}
    stack = ExitStack()
    try:
        if args.only_demo:
            app = App(tmp, redis_url, "demo", {})
            with app.running():
                demo = measure_demo_bytes(app, args.demo_seconds)
            print(f"bytes per poll while the demo runs: p50 {demo['p50']} B, mean {demo['mean']:.0f} B, max {demo['max']} B "
                  f"over {demo['polls']} polls; mean bytes per poll by output: "
                  + ", ".join(f"{k} {v:.0f} B" for k, v in demo["parts"].items()))
            return 0
        floor = stack.enter_context(floor_running(tmp, workers, threads))  # up until the idle rows, measured beside it
        print("floor: empty Dash callback ...", file=sys.stderr)
        results["floor"] = measure_floor_dash(floor, args.polls)
        if args.only_idle:
            app = App(tmp, redis_url, "quiet", {"sources": {}})
            with app.running():
                results["polls"] = measure_idle(app, args.polls, floor)
            print_idle_rows(results)
            return 0
        print("floor: bare SSE echo in chromium ...", file=sys.stderr)
        results["sse"] = measure_sse_floor(tmp, 30)
        for push in (True, False):
            print(f"quake file source, push {'on' if push else 'off'} ...", file=sys.stderr)
            quake_path = tmp / f"quake-{push}.json"
            write_atomic(quake_path, quake_file(datetime.now(timezone.utc) - timedelta(hours=1), 4.0))
            app = App(tmp, redis_url, f"quake{int(push)}", quake_config(quake_path, push))
            with app.running():
                results[f"wall{int(push)}"] = measure_wall_in_browser(app, quake_path, args.quakes,
                                                                      args.live_writes if push else 0)
        print("polls and 10,000 incidents ...", file=sys.stderr)
        app = App(tmp, redis_url, "quiet", {"sources": {}})
        with app.running():
            results["polls"] = measure_polls(app, args.polls, args.incidents, floor)
            if args.render:
                print("first map render ...", file=sys.stderr)
                results["render"] = measure_renders(app, [int(n) for n in args.render.split(",")], args.render_runs)
        print("bytes per poll while the demo runs ...", file=sys.stderr)
        app = App(tmp, redis_url, "demo", {})
        with app.running():
            results["demo"] = measure_demo_bytes(app, args.demo_seconds)
    finally:
        stack.close()
        embedded.stop()
    if args.push_screens:
        from bench_push import floor_of, measure

        print(f"bench_push with {args.push_screens} screens ...", file=sys.stderr)
        results["push"] = measure(args.push_screens, 0.5, 30, ("fanout",), 50)
        results["push_floor"] = floor_of(results["push"])
    print_table(results, args)
    return 0


def idle_rows(polls: dict) -> list[tuple]:
    """The idle check beside the empty Dash callback measured in turns with it (`polls["floor"]`)."""
    floor = polls["floor"]
    return [
        ("idle tick, one client (GET /wall/idle: 304)", f"p50 {polls['idle']:.2f} ms",
         f"empty Dash callback p50 {floor['p50']:.2f} ms", f"{polls['idle'] / floor['p50']:.2f}x"),
        ("idle ticks per second, 20 connections", f"{polls['c20']:.0f}/s", f"{floor['c20']:.0f}/s",
         f"{polls['c20'] / floor['c20']:.2f}x"),
        ("idle ticks per second, 100 connections", f"{polls['c100']:.0f}/s", f"{floor['c100']:.0f}/s",
         f"{polls['c100'] / floor['c100']:.2f}x"),
        ("  the Dash poll, nothing changed (204; run only on a change now)", f"p50 {polls['dash_204']:.2f} ms",
         f"empty Dash callback p50 {floor['p50']:.2f} ms", f"{polls['dash_204'] / floor['p50']:.2f}x"),
    ]


def print_rows(rows: list[tuple]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    head = ("figure", "measured", "floor (same run)", "ratio")
    print()
    print(" | ".join(h.ljust(w) for h, w in zip(head, widths)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths)))


def print_idle_rows(r: dict) -> None:
    print_rows(idle_rows(r["polls"]))
    web = yaml.safe_load((ROOT / "config.yaml").read_text())["web"]
    print(f"\n{os.cpu_count()} cores; gunicorn {web['workers']} workers x {web['threads']} threads for the app and the "
          f"floor; load average {os.getloadavg()[0]:.1f} at the end")


def print_table(r: dict, args) -> None:
    floor, sse, polls, demo = r["floor"], r["sse"], r["polls"], r["demo"]
    sse50 = pct(sse, 50)
    rows = [
        ("new quake in a 1 s-polled file, written -> on the wall (Chromium), push", fmt_ms(r["wall1"]["quake"]),
         "the source's 1 s interval (0-1 s wait)", f"p95 {pct(r['wall1']['quake'], 95) / 1000:.2f}x 1 s"),
        ("  same, push off (wall polls every wall.poll_seconds)", fmt_ms(r["wall0"]["quake"]),
         "1 s interval", f"p95 {pct(r['wall0']['quake'], 95) / 1000:.2f}x 1 s"),
        ("live store written -> wall shows it (Chromium, push)", fmt_ms(r["wall1"]["live"]),
         f"bare SSE echo {fmt_ms(sse)}", f"{pct(r['wall1']['live'], 50) / sse50:.1f}x / "
         f"{pct(r['wall1']['live'], 95) / max(pct(sse, 95), 1e-9):.1f}x"),
        *idle_rows(polls),
        (f"1 of {args.incidents:,} incidents changed: first screen's poll", f"p50 {polls['changed']:.1f} ms (client-side)",
         f"empty Dash callback {floor['p50']:.2f} ms", f"{polls['changed'] / floor['p50']:.1f}x (tiles: bench of the tiles work)"),
        (f"/wall layout with {args.incidents:,} live incidents", f"{polls['layout_bytes'] / 1e3:.0f} KB, {polls['layout_ms']:.0f} ms",
         "-", "see the mapdata bench for the map's own data"),
        *(r.get("render") or [("first map render", "skipped (--render '')", "-", "-")]),
        (f"Redis memory per live incident ({args.incidents:,} beyond an empty store)", f"{polls['memory'] / 1e3:.2f} KB",
         "-", "goal < 2 KB"),
        ("bytes per poll while the demo runs", f"p50 {demo['p50'] / 1e3:.2f} KB, mean {demo['mean'] / 1e3:.2f} KB, "
         f"max {demo['max'] / 1e3:.1f} KB ({demo['polls']} polls)",
         f"health mean {demo['health_mean']:.0f} B of {demo['health_whole'] / 1e3:.1f} KB whole", "what changed"),
    ]
    if "push" in r:
        res = r["push"]["fanout"]
        rows.append((f"{r['push']['args'].screens} screens: store written -> screen holds it (fan-out)", fmt_ms(res["shown"]),
                     f"event at the screen (SSE) {fmt_ms(r['push_floor'])}",
                     f"{sum(res['cpu'].values()) * 1000 / r['push']['args'].screens / res['elapsed']:.3f} ms CPU/screen/s"))
    else:
        rows.append(("1,000 screens: store written -> screen (p95)", "see bench/bench_push.py --screens 1000", "-", "-"))
    rows.append(("unchanged feed CPU, ingest burst", "see the feeds bench (bench/)", "-", "-"))
    print_rows(rows)
    web = yaml.safe_load((ROOT / "config.yaml").read_text())["web"]
    print("bytes per poll while the demo runs, mean by output: "
          + ", ".join(f"{k} {v:.0f} B" for k, v in demo["parts"].items()))
    print(f"\n{os.cpu_count()} cores; gunicorn {web['workers']} workers x {web['threads']} threads for the app and the "
          f"floor; load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    sys.exit(main())
