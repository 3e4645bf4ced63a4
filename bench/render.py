"""The first map render, in headless Chromium, beside its floor measured in the same run.

Shared by `bench_wall.py` and `bench_issue11.py`. The clock starts when a page is opened in
a new browser context (empty cache, 1920x1080) and stops when the markers and clusters on
its map hold half the points asked for. Measured:

- the wall, opened by a new wall screen's link, twice per run: with the server cold (one
  incident of the big layer changed just before, so its body and cluster index are built
  for this screen, as for the first screen after any change) and warm (the next screen,
  same layer version); then a reload of /wall (the browser's cache warm);
- the floor: `floors:map_floor_server()` under gunicorn with the wall's workers and
  threads, the same count of points clustered by dash-leaflet in the browser.

Runs alternate floor and wall, so a spell of load on a shared machine touches both.
"""
from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from floors import MAP_FLOOR_DRAWN

ROOT = Path(__file__).resolve().parents[1]
VIEWPORT = {"width": 1920, "height": 1080}

# the wall's markers and clusters (assets/map.js draws them) holding at least n incidents
WALL_DRAWN = ("(n) => Array.from(document.querySelectorAll('.leaflet-container .cluster-icon span'))"
              ".reduce((a, s) => a + (+s.innerText || 0), 0) + document.querySelectorAll('path.dmy-marker').length >= n")


@contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    path = os.environ.get("DAMAMAYA_CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            browser.close()


def drawn_after(page, url: str, predicate: str, n: int, debug: bool = False) -> float:
    """Seconds from opening `url` in `page` until `predicate(n)` holds."""
    t = time.perf_counter()
    if debug:
        page.on("request", lambda r: print(f"{time.perf_counter() - t:6.2f} request:", r.url[:160]))
        page.on("response", lambda r: print(f"{time.perf_counter() - t:6.2f} response:", r.status, r.url[:160]))
    page.goto(url)
    # polling in ms: the default (requestAnimationFrame) would add frames of its own to the page's work
    page.wait_for_function(predicate, arg=n, timeout=120_000, polling=50)
    return time.perf_counter() - t


def new_page(browser):
    # bypass_csp: wait_for_function evaluates its predicate with eval, which the wall's policy forbids
    context = browser.new_context(viewport=VIEWPORT, bypass_csp=True)
    return context, context.new_page()


def wall_run(browser, base: str, link: Callable[[], str], count: int, change: Callable[[], None],
             debug: bool = False) -> dict[str, float]:
    """One run: a screen opened right after a change (server cold), another screen (server
    warm), and a reload of /wall in the second one (browser cache warm)."""
    out = {}
    change()
    for key in ("cold", "warm"):
        context, page = new_page(browser)
        try:
            out[key] = drawn_after(page, link(), WALL_DRAWN, count // 2, debug)
            if key == "warm":
                out["reload"] = drawn_after(page, f"{base}/wall", WALL_DRAWN, count // 2)
        finally:
            context.close()
    return out


def floor_run(browser, base: str, count: int) -> float:
    context, page = new_page(browser)
    try:
        return drawn_after(page, base + "/", MAP_FLOOR_DRAWN, count // 2)
    finally:
        context.close()


@contextmanager
def map_floor(count: int, workers: int, threads: int, log: Path):
    """The floor app serving `count` points; yields its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DMY_FLOOR_POINTS": str(count)}
    cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads", str(threads), "-b", f"127.0.0.1:{port}",
           "--chdir", str(ROOT / "bench"), "floors:map_floor_server()"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/floor/points.json", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the map floor did not start: see {log}")
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(20)


def measure(browser, base: str, link: Callable[[], str], count: int, change: Callable[[], None], runs: int,
            workers: int, threads: int, tmp: Path, debug: bool = False) -> dict[str, list[float]]:
    """`runs` runs of the wall and of the floor at `count` points, alternating."""
    out: dict[str, list[float]] = {"cold": [], "warm": [], "reload": [], "floor": []}
    with map_floor(count, workers, threads, tmp / f"map-floor-{count}.log") as floor_base:
        floor_run(browser, floor_base, count)  # its points are made at the first request: not part of the floor
        for _ in range(runs):
            out["floor"].append(floor_run(browser, floor_base, count))
            for key, value in wall_run(browser, base, link, count, change, debug).items():
                out[key].append(value)
    return out


def rows(count: int, mode: str, m: dict[str, list[float]]) -> list[tuple[str, str, str, str]]:
    """(figure, measured p50 (range), floor p50, ratio) for a render table."""
    floor = statistics.median(m["floor"])

    def cell(values):
        return f"{statistics.median(values):.2f} s p50 ({min(values):.2f}-{max(values):.2f})"

    return [
        (f"first map render, {count:,} incidents ({mode}), server cold", cell(m["cold"]), f"{floor:.2f} s",
         f"{statistics.median(m['cold']) / floor:.2f}x"),
        (f"first map render, {count:,} incidents ({mode}), server warm", cell(m["warm"]), f"{floor:.2f} s",
         f"{statistics.median(m['warm']) / floor:.2f}x"),
        (f"reload of /wall, {count:,} incidents (browser cache)", cell(m["reload"]), "-", "-"),
    ]
