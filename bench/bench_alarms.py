"""Alarm benchmark: a feed change to the alarm in the live store, p50/p95, printed as a table.

    .venv/bin/python bench/bench_alarms.py [--changes 200] [--calls 50]

A real 112 feed (the emergency-calls adapter reading a CSV export over HTTP on
loopback) gets one new critical call per change; the collector's SourceRunner
polls it (fetch, parse, history, live store, alert rules) and a separate Redis
client waiting on the alarm stream (XREAD BLOCK) notes when the alarm appears.
"change -> alarm" is from the start of the poll that sees the change to that
moment. The same polls without alert rules give the share the rules cost. The
wait for the next poll (on average half the source's interval) comes on top; the
wall's half of the figure (alarm in Redis -> banner on the screen) is measured by
the wall's own bench once the banner exists. SQLite always; PostgreSQL when
DAMAMAYA_TEST_PG_URL (default the local test database) answers.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from damamaya.config import load_config  # noqa: E402
from damamaya.redis_server import EmbeddedRedis  # noqa: E402
from data_sources import get_adapter  # noqa: E402
from engine.alerts import AlarmMonitor, open_alerts  # noqa: E402
from engine.collector import SourceRunner  # noqa: E402
from engine.history import History  # noqa: E402
from engine.live import LiveStore  # noqa: E402
from engine.records import WITA, utcnow  # noqa: E402

COLUMNS = {"id": "No Tiket", "call_type": "Kategori", "priority": "Prioritas", "received": "Waktu Terima",
           "lat": "Latitude", "lon": "Longitude"}


class Feed:
    def __init__(self):
        self.body = b""
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = feed.body
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/calls.csv"

    def calls(self, first: int, last: int) -> None:
        now = utcnow()
        rows = ["No Tiket,Kategori,Prioritas,Waktu Terima,Latitude,Longitude"]
        for i in range(first, last + 1):
            at = (now - timedelta(seconds=last - i)).astimezone(WITA).strftime("%d/%m/%Y %H:%M:%S")
            rows.append(f"B{i:06d},Kebakaran rumah,1,{at},-8.65,115.22")
        self.body = ("\n".join(rows) + "\n").encode()


class Watcher(threading.Thread):
    """Notes when each alarm's firing reaches the live store's alarm stream."""

    def __init__(self, url: str, stream: str):
        super().__init__(daemon=True)
        self.client = redis.Redis.from_url(url)
        self.stream = stream
        self.seen: dict[str, float] = {}
        self.stop = False

    def run(self):
        last = "$"
        while not self.stop:
            for _, entries in self.client.xread({self.stream: last}, block=200) or []:
                for entry_id, fields in entries:
                    last = entry_id
                    if fields.get(b"to") == b"firing":
                        self.seen.setdefault(fields[b"i"].decode(), time.perf_counter())


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def run(db_url: str, redis_url: str, changes: int, window: int) -> dict:
    client = redis.Redis.from_url(redis_url)
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    live, history = LiveStore(client, prefix), History(db_url)
    history.create()
    config = load_config(ROOT / "config.yaml")  # the shipped alert rules
    state = open_alerts(history, client, prefix, config.agencies)
    feed = Feed()
    cls = get_adapter("emergency-calls")
    cfg = cls.Config(url=feed.url, preset="generic", columns=COLUMNS, timezone="Asia/Makassar",
                     time_formats=["%d/%m/%Y %H:%M:%S"], severities={"1": "critical"})
    with_rules = SourceRunner(cls("ntpc-112", cfg), live, history, listener=AlarmMonitor(config.alerts, state.alarms, live))
    without = SourceRunner(cls("plain-112", cfg), LiveStore(client, prefix + "x"), history)
    watcher = Watcher(redis_url, f"{prefix}:alarm-events")
    watcher.start()
    time.sleep(0.3)
    latencies, plain = [], []
    for i in range(1, changes + 1):
        feed.calls(max(1, i - window + 1), i)
        start = time.perf_counter()
        without.poll()
        plain.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        with_rules.poll()
        deadline = time.perf_counter() + 5
        while f"B{i:06d}" not in watcher.seen and time.perf_counter() < deadline:
            time.sleep(0.0005)
        if f"B{i:06d}" in watcher.seen:
            latencies.append((watcher.seen[f"B{i:06d}"] - start) * 1000)
    watcher.stop = True
    active = len(state.alarms.active())
    feed.httpd.shutdown()
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    history.dispose()
    return {"latencies": latencies, "plain": plain, "active": active}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--changes", type=int, default=200)
    p.add_argument("--calls", type=int, default=50, help="calls in each export (the feed's size)")
    args = p.parse_args()
    server = EmbeddedRedis()
    redis_url = server.start()
    stores = []
    with tempfile.TemporaryDirectory() as tmp:
        stores.append(("SQLite", f"sqlite:///{tmp}/bench.sqlite"))
        pg_base = os.environ.get("DAMAMAYA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        schema = None
        try:
            from sqlalchemy import create_engine, text

            admin = create_engine(pg_base, connect_args={"connect_timeout": 3})
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with admin.begin() as conn:
                conn.execute(text(f'create schema "{schema}"'))
            stores.append(("PostgreSQL", f"{pg_base}?options=-csearch_path%3D{schema}"))
        except Exception as exc:  # noqa: BLE001 - PostgreSQL is optional here
            print(f"(PostgreSQL skipped: {type(exc).__name__})")
            schema = None
        print(f"feed change -> alarm in the live store, {args.changes} changes, {args.calls} calls per export\n")
        print(f"{'history store':14} {'alarms':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'poll w/o rules p50':>19} {'rules share':>12}")
        try:
            for name, url in stores:
                r = run(url, redis_url, args.changes, args.calls)
                lat, plain = r["latencies"], r["plain"]
                share = (statistics.median(lat) - statistics.median(plain)) / statistics.median(lat) * 100
                print(f"{name:14} {len(lat):>6} {pct(lat, .5):>8.1f} {pct(lat, .95):>8.1f} {max(lat):>8.1f} "
                      f"{pct(plain, .5):>16.1f} ms {share:>10.0f} %")
                if len(lat) != args.changes:
                    print(f"  ! {args.changes - len(lat)} changes gave no alarm within 5 s")
        finally:
            if schema:
                with admin.begin() as conn:
                    conn.execute(text(f'drop schema "{schema}" cascade'))
            server.stop()
    print("\nadd the wait for the next poll: on average half the source's interval (demo-112: 1.5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
