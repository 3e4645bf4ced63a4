"""Public page and open data benchmark: requests per second with N concurrent clients, cached and not.

    .venv/bin/python bench/bench_public.py [--records 20000] [--clients 1,8,32] [--seconds 4]

Seeds a history (the demo seeder) in a temp folder, starts the real thing (`damamaya run`
with the demo sources: embedded Redis, collector, gunicorn with the configured workers and
threads) on a free port, and drives it over loopback with N client threads, each on its own
keep-alive connection, for a bounded time per cell:
- cached: the same request again and again; the shared cache answers (api/cache.py);
- uncached: every /api/v1 request with a new `limit`, so no two share a cache entry; for
  the /publik data callback the cached entry is deleted before each request (a crowd of
  requests can still share one computation now and then: the figure is an upper bound).
The /publik callback is asked with a stale etag, so every answer carries the whole page body, and
with the current etag (what an open page's refresh sends while nothing changed: an empty answer).
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import orjson
import redis
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PUBLIK_CALLBACK = {
    "output": "..publik-body.children...publik-etag.data..",
    "outputs": [{"id": "publik-body", "property": "children"}, {"id": "publik-etag", "property": "data"}],
    "inputs": [{"id": "publik-refresh", "property": "n_intervals", "value": 1}],
    "state": [{"id": "publik-etag", "property": "data", "value": "stale"},
              {"id": "publik-lang", "property": "data", "value": "id"}],
    "changedPropIds": ["publik-refresh.n_intervals"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.n = itertools.count()

    def next(self) -> int:
        with self.lock:
            return next(self.n)


def run_cell(port: int, clients: int, seconds: float, request, before=None) -> tuple[float, float, int, int]:
    """(requests/s, p50 ms, errors, bytes of the last answer) of `clients` threads calling request(i)."""
    stop = time.perf_counter() + seconds
    times: list[float] = []
    errors = [0]
    size = [0]
    counter = Counter()
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        while time.perf_counter() < stop:
            i = counter.next()
            method, path, body = request(i)
            if before:
                before()
            t = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 200:
                    errors[0] += 1
                size[0] = len(data)
            except (OSError, http.client.HTTPException):
                errors[0] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            mine.append((time.perf_counter() - t) * 1000)
        conn.close()
        with lock:
            times.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - started
    return len(times) / elapsed, statistics.median(times) if times else float("nan"), errors[0], size[0]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000, help="history records seeded (demo seeder, 60 days)")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--seconds", type=float, default=4.0, help="measuring time per cell")
    parser.add_argument("--page", action="store_true", help="also load /publik in headless chromium at 390x844 "
                                                            "(needs the test extra: playwright)")
    args = parser.parse_args()
    client_counts = [int(c) for c in args.clients.split(",")]

    from damamaya.seed import seed
    from engine.history import History

    tmp = Path(tempfile.mkdtemp(prefix="dmy-bench-public-"))
    url = f"sqlite:///{tmp}/history.sqlite"
    history = History(url)
    history.create()
    seed(history, args.records, days=60, seed=3)
    history.dispose()
    port = free_port()
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["database"] = {"url": url}
    config["web"] = {**config["web"], "port": port}
    config["public"] = {"cache_seconds": 60}
    cfg = tmp / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAMAMAYA_")}
    proc = subprocess.Popen([sys.executable, "-m", "damamaya.cli", "--config", str(cfg), "run"], cwd=ROOT, env=env,
                            stdout=(tmp / "app.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    rows = []
    try:
        t0 = time.perf_counter()
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
            if time.perf_counter() - t0 > 120:
                raise SystemExit("the app did not start within 120 s")
        time.sleep(3)  # the collector's first polls fill the live store
        log = (tmp / "app.log").read_text()
        r = redis.Redis.from_url(next(w for w in log.split() if w.startswith("redis://127.0.0.1")))
        summary_key = f"{config['redis']['prefix']}:public:summary:id"
        cases = [
            ("/api/v1/incidents.geojson (7 days)", lambda i, lim="": ("GET", f"/api/v1/incidents.geojson{lim}", None)),
            ("/api/v1/incidents.csv (7 days)", lambda i, lim="": ("GET", f"/api/v1/incidents.csv{lim}", None)),
            ("/api/v1/prices.csv (30 days)", lambda i, lim="": ("GET", f"/api/v1/prices.csv{lim}", None)),
            ("/api/v1/warnings.cap.xml", lambda i, lim="": ("GET", f"/api/v1/warnings.cap.xml{lim}", None)),
        ]
        for name, make in cases:
            for n in client_counts:
                cached = run_cell(port, n, args.seconds, lambda i: make(i))
                if "warnings" in name:
                    uncached_make = lambda i: make(i, f"?since={date(2000, 1, 1) + timedelta(days=i)}")  # noqa: E731
                else:
                    uncached_make = lambda i: make(i, f"?limit={1000 + i % 9000}")  # noqa: E731
                uncached = run_cell(port, n, args.seconds, uncached_make)
                rows.append((name, n, cached, uncached))
        body = orjson.dumps(PUBLIK_CALLBACK)
        for n in client_counts:
            cached = run_cell(port, n, args.seconds, lambda i: ("POST", "/_dash-update-component", body))
            uncached = run_cell(port, n, args.seconds, lambda i: ("POST", "/_dash-update-component", body),
                                before=lambda: r.delete(summary_key))
            rows.append(("/publik data callback (whole body)", n, cached, uncached))
        etag = orjson.loads(urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{port}/_dash-update-component", data=body,
            headers={"Content-Type": "application/json"})).read())["response"]["publik-etag"]["data"]
        same = orjson.dumps({**PUBLIK_CALLBACK, "state": [{"id": "publik-etag", "property": "data", "value": etag},
                                                           PUBLIK_CALLBACK["state"][1]]})
        for n in client_counts:
            unchanged = run_cell(port, n, args.seconds, lambda i: ("POST", "/_dash-update-component", same))
            rows.append(("/publik refresh, data unchanged", n, unchanged, (float("nan"), float("nan"), 0, 0)))
        page_load = measure_page(port) if args.page else None
        live_records = sum(r.hlen(k) for k in r.scan_iter(match=f"{config['redis']['prefix']}:rec:*"))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)

    print(f"history: {args.records:,} seeded records; live store: {live_records:,} records; "
          f"gunicorn {config['web']['workers']} workers x {config['web']['threads']} threads; {args.seconds:g} s per cell; "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    head = f"{'endpoint':<36} | {'clients':>7} | {'cached req/s':>12} | {'p50 ms':>7} | {'uncached req/s':>14} | {'p50 ms':>7} | {'size':>9} | errors"
    print(head)
    print("-" * len(head))
    for name, n, (c_rps, c_p50, c_err, c_size), (u_rps, u_p50, u_err, _) in rows:
        print(f"{name:<36} | {n:>7} | {c_rps:>12.0f} | {c_p50:>7.1f} | {u_rps:>14.1f} | {u_p50:>7.1f} | "
              f"{c_size / 1e3:>7.1f}KB | {c_err + u_err}")
    if page_load:
        print(f"/publik first load in chromium at 390x844: {page_load[0]:.2f} s to every section shown, "
              f"{page_load[1] / 1e6:.2f} MB over {page_load[2]} requests (uncompressed; Dash's bundles are most of it)")
    return 0


def measure_page(port: int) -> tuple[float, int, int]:
    """(seconds to every section, bytes, requests) of a first /publik load in headless chromium."""
    from playwright.sync_api import sync_playwright

    sizes = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
        page.on("requestfinished", lambda req: sizes.append(req.sizes()["responseBodySize"]))
        t = time.perf_counter()
        page.goto(f"http://127.0.0.1:{port}/publik")
        page.wait_for_selector("#pb-prices", timeout=60000)
        seconds = time.perf_counter() - t
        page.wait_for_load_state("networkidle")
        browser.close()
    return seconds, sum(sizes), len(sizes)


if __name__ == "__main__":
    sys.exit(main())
