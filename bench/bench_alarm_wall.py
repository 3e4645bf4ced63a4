"""Alarm-to-wall benchmark: a critical 112 call written to a file source -> the alarm banner on
the wall in headless Chromium; and the console's acknowledgement -> the banner gone. Printed
as a table (p50, p95, max over N runs).

    .venv/bin/python bench/bench_alarm_wall.py [--runs 20] [--interval 1] [--poll 1] [--no-push]

Starts the real thing (`damamaya run` on a free port, its own embedded Redis, SQLite in a
temp folder) with one `emergency-calls` source reading a CSV file every `--interval` s and
the rule `call-112-critical`; a wall screen's link opened in Chromium started as a kiosk
(`--autoplay-policy=no-user-gesture-required`). Each run appends a new critical call to the
file and waits for its row in the role=alert banner; then acknowledges the alarm through
`engine.alerts` (what the console calls) and waits for the banner to empty.

What a run measures: the collector's wait for its next poll of the file (0..interval), its
parse, history write, live write and rule evaluation, the push wake-up (or, with --no-push,
the wall's poll interval), the wall's alarm poll and the browser's drawing.
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
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = os.environ.get("DAMAMAYA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required"]
HEADER = "No Tiket,Kategori,Prioritas,Waktu Terima,Waktu Selesai,Latitude,Longitude\n"
COLUMNS = {"id": "No Tiket", "call_type": "Kategori", "priority": "Prioritas", "received": "Waktu Terima",
           "closed": "Waktu Selesai", "lat": "Latitude", "lon": "Longitude"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def calls_csv(tickets: list[str]) -> bytes:
    from engine.records import WITA

    received = datetime.now(timezone.utc).astimezone(WITA).strftime("%d/%m/%Y %H:%M:%S")
    rows = [f"{t},Kebakaran rumah {t},1,{received},,-8.6563,115.2167\n" for t in tickets]
    return (HEADER + "".join(rows)).encode()


def config_for(tmp: Path, feed: Path, port: int, interval: float, poll: float, push: bool) -> dict:
    return {
        "language": "id",
        "web": {"host": "127.0.0.1", "port": port, "workers": 2, "threads": 4},
        "database": {"url": f"sqlite:///{tmp}/history.sqlite"},
        "wall": {"poll_seconds": poll},
        "push": {"enabled": push},
        "collector": {"max_backoff": interval},
        "sources": {"calls": {
            "adapter": "emergency-calls", "title": "NTPC 112", "path": str(feed), "interval": interval, "stale_after": 60,
            "preset": "generic", "timezone": "Asia/Makassar", "columns": COLUMNS, "time_formats": ["%d/%m/%Y %H:%M:%S"],
            "severities": {"1": "critical", "2": "high", "3": "medium"}}},
        "alerts": {"rules": {"call-112-critical": {
            "match": {"domain": "emergency", "severity": "critical"}, "level": "critical",
            "message": {"id": "Panggilan 112 KRITIS: {title}", "en": "CRITICAL 112 call: {title}"}}}},
    }


def wait_for_app(base: str, proc: subprocess.Popen, limit: float = 120) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if proc.poll() is not None:
            raise SystemExit(f"damamaya run exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/login", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the app did not start within {limit} s")


def screen_link(base: str, database_url: str) -> str:
    from engine.accounts import Accounts

    accounts = Accounts(database_url)
    try:
        accounts.create()
        return f"{base}/screen/{accounts.add_screen(f'bench-alarm-{int(time.time())}')}"
    finally:
        accounts.dispose()


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def row(name: str, values: list[float]) -> str:
    return (f"| {name:<38} | {len(values):>3} | {statistics.median(values):>8.0f} | {pct(values, 95):>8.0f} "
            f"| {max(values):>8.0f} |")


def measure(page, feed: Path, alerts, runs: int, timeout_ms: int) -> tuple[list[float], list[float]]:
    shown, cleared, tickets = [], [], []
    for i in range(runs):
        ticket = f"B{i:03d}"
        tickets.append(ticket)
        feed.write_bytes(calls_csv(tickets))
        written = time.monotonic()
        page.wait_for_selector(f"[role=alert] .alarm-row[data-uid='calls:{ticket}']", timeout=timeout_ms)
        shown.append((time.monotonic() - written) * 1000)
        [alarm] = [a for a in alerts.alarms.active() if a["subject"] == ticket]
        acked = time.monotonic()
        alerts.alarms.acknowledge(alarm["id"], "bench")
        page.wait_for_selector("[role=alert] .alarm-row", state="detached", timeout=timeout_ms)
        cleared.append((time.monotonic() - acked) * 1000)
        time.sleep(0.3)  # a calm moment between runs, as between real calls
    return shown, cleared


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--interval", type=float, default=1.0, help="the calls source's poll interval (s)")
    parser.add_argument("--poll", type=float, default=1.0, help="the wall's poll interval (s)")
    parser.add_argument("--no-push", action="store_true", help="the wall polls only (no push wake-ups)")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright
    import redis

    from damamaya.redis_server import EmbeddedRedis
    from engine.alerts import open_alerts
    from engine.history import History

    tmp = Path(tempfile.mkdtemp(prefix="dmy-bench-alarm-"))
    feed = tmp / "calls.csv"
    feed.write_bytes(calls_csv([]))
    port = free_port()
    config = config_for(tmp, feed, port, args.interval, args.poll, not args.no_push)
    cfg = tmp / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    redis_server = EmbeddedRedis()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAMAMAYA_")}
    env["DAMAMAYA_REDIS_URL"] = redis_url = redis_server.start()
    proc = subprocess.Popen([sys.executable, "-m", "damamaya.cli", "--config", str(cfg), "run"], cwd=ROOT, env=env,
                            stdout=(tmp / "app.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    history = None
    try:
        wait_for_app(base, proc)
        history = History(config["database"]["url"])
        alerts = open_alerts(history, redis.Redis.from_url(redis_url), "dmy")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(screen_link(base, config["database"]["url"]))
            page.wait_for_selector(".wall-grid .ag-header-cell", timeout=60_000)
            page.wait_for_timeout(3000)  # the push stream open, the first polls done
            timeout_ms = int((args.interval + args.poll + 30) * 1000)
            shown, cleared = measure(page, feed, alerts, args.runs, timeout_ms)
            audio = page.evaluate("window.dmy.alarms.status().audio")
            browser.close()
    finally:
        if history is not None:
            history.dispose()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        redis_server.stop()

    mode = "polling only" if args.no_push else "push on"
    print(f"\nAlarm on the wall: source interval {args.interval:g} s, wall poll {args.poll:g} s, {mode}; "
          f"audio {audio}; {os.cpu_count()} CPUs\n")
    print("| what (ms)                              |   n |      p50 |      p95 |      max |")
    print("|----------------------------------------|-----|----------|----------|----------|")
    print(row("feed file written -> banner shown", shown))
    print(row("acknowledged -> banner gone", cleared))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
