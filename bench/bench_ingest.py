"""Ingest burst: 500 incidents in one file, then 50 a second; time from the feed written
to the live store, and nothing lost.

    .venv/bin/python bench/bench_ingest.py [--minutes 10] [--rate 50] [--burst 500]
                                           [--interval 1] [--window 60] [--database sqlite|postgresql]

A real `damamaya collect` process polls an Open311 file source (`--interval` s) on a
valkey server of the bench's own and a history database (SQLite in a temp file, or a
throwaway schema of the PostgreSQL database `test`). The bench is the feed: it writes
the file as a producer does (a new file renamed over the old one), first with
`--burst` requests, then every second with `--rate` new ones; the document holds the
requests of the last `--window` seconds (a feed drops old items), never fewer than
the burst while it is young.

Feed-to-live time of an incident: from the rename that first published it to the
change-stream entry that put it in the live store (the entry id is Redis' clock, the
same machine's). Nothing lost: after the feed stops, history holds every incident with
exactly one version, the live store holds every one, and the change stream announced
each once.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import orjson

from feedkit import ROOT, OwnRedis, requests, table

SOURCE = "pro-burst"
PREFIX = "burst"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class FileFeed:
    """Writes the Open311 document: `publish(n)` adds n requests, renames the new file in place,
    and notes when each request was first published."""

    def __init__(self, path: Path, window: float, keep_at_least: int):
        self.path, self.window, self.keep_at_least = path, window, keep_at_least
        self.items: list[tuple[float, dict]] = []
        self.published: dict[str, float] = {}
        self.next = 0

    def publish(self, count: int) -> None:
        new = requests(count, start=self.next)
        self.next += count
        now = time.time()
        self.items += [(now, item) for item in new]
        young = [(at, item) for at, item in self.items if now - at <= self.window]
        self.items = young if len(young) >= self.keep_at_least else self.items[-self.keep_at_least:]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps([item for _, item in self.items]))
        os.replace(tmp, self.path)
        at = time.time()
        self.published.update((item["service_request_id"], at) for item in new)


class StreamWatch(threading.Thread):
    """Reads the live store's change stream as it grows: the first time each id of the source went live."""

    def __init__(self, client):
        super().__init__(daemon=True)
        self.client, self.key = client, f"{PREFIX}:changes"
        self.first: dict[str, float] = {}
        self.announced: dict[str, int] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        last = "0-0"
        while not self.stop.is_set():
            for _, entries in self.client.xread({self.key: last}, count=5000, block=500) or []:
                for entry_id, fields in entries:
                    last = entry_id.decode()
                    if fields.get(b"s") != SOURCE.encode() or fields.get(b"op") != b"u":
                        continue
                    rid = fields[b"i"].decode()
                    self.announced[rid] = self.announced.get(rid, 0) + 1
                    self.first.setdefault(rid, int(last.split("-")[0]) / 1000)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_url(kind: str, workdir: Path) -> tuple[str, callable]:
    if kind == "sqlite":
        return f"sqlite:///{workdir}/history.sqlite", lambda: None
    from sqlalchemy import create_engine, text

    schema = f"dmy_burst_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG)
    with admin.begin() as conn:
        conn.execute(text(f'create schema "{schema}"'))

    def drop():
        with admin.begin() as conn:
            conn.execute(text(f'drop schema "{schema}" cascade'))
        admin.dispose()

    return f"{PG}?options=-csearch_path%3D{schema}", drop


def write_config(workdir: Path, redis_url: str, database: str, feed: Path, interval: float) -> Path:
    path = workdir / "config.yaml"
    path.write_text(
        f"redis: {{url: '{redis_url}', prefix: {PREFIX}}}\n"
        f"database: {{url: '{database}'}}\n"
        f"collector: {{spool_dir: '{workdir}/spool', lock_seconds: 30}}\n"
        f"sources:\n  {SOURCE}: {{adapter: open311, title: Burst feed, path: '{feed}', interval: {interval:g},"
        f" timeout: 30, live_hours: 72}}\n")
    return path


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def phase_row(name: str, ids: list[str], feed: FileFeed, watch: StreamWatch) -> dict:
    waits = [watch.first[i] - feed.published[i] for i in ids if i in watch.first]
    return {"phase": name, "incidents": len(ids), "live": len(waits),
            "p50 s": f"{percentile(waits, 0.5):.2f}", "p95 s": f"{percentile(waits, 0.95):.2f}",
            "max s": f"{max(waits):.2f}" if waits else "-"}


def history_versions(database: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from engine.history import History, record_versions

    history = History(database)
    try:
        with history.engine.connect() as conn:
            rows = conn.execute(select(record_versions.c.record_id, func.count())
                                .where(record_versions.c.source == SOURCE).group_by(record_versions.c.record_id))
            return {r[0]: r[1] for r in rows}
    finally:
        history.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10, help="how long the feed publishes --rate a second")
    ap.add_argument("--rate", type=int, default=50)
    ap.add_argument("--burst", type=int, default=500)
    ap.add_argument("--interval", type=float, default=1, help="the source's poll interval, seconds")
    ap.add_argument("--window", type=float, default=60, help="seconds a request stays in the document")
    ap.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = ap.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="dmy-burst-"))
    feed = FileFeed(workdir / "requests.json", args.window, args.burst)
    feed.path.write_bytes(b"[]")
    redis = OwnRedis()
    client = redis.client()
    database, drop_database = database_url(args.database, workdir)
    config = write_config(workdir, redis.url, database, feed.path, args.interval)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAMAMAYA_")}
    log = open(workdir / "collector.log", "wb")
    collector = subprocess.Popen([sys.executable, "-m", "damamaya.cli", "--config", str(config), "collect"],
                                 cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    watch = StreamWatch(client)
    watch.start()
    try:
        wait_until(lambda: client.hget(f"{PREFIX}:health", SOURCE), 60, "the collector's first poll")
        cpu_start = cpu_seconds(collector.pid)
        feed.publish(args.burst)
        burst_ids = list(feed.published)
        started = time.monotonic()
        ticks = int(args.minutes * 60)
        for tick in range(1, ticks + 1):
            delay = started + tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            feed.publish(args.rate)
        published = list(feed.published)
        wait_until(lambda: all(i in watch.first for i in published), 120, "every incident reaching the live store")
        feed_seconds = time.monotonic() - started
        cpu = cpu_seconds(collector.pid) - cpu_start
        time.sleep(2 * args.interval)  # a late duplicate would show in the stream or history
        versions = history_versions(database)
        live_ids = {k.decode() for k in client.hkeys(f"{PREFIX}:rec:{SOURCE}")}
    finally:
        watch.stop.set()
        collector.terminate()
        collector.wait(20)
        log.close()
        client.close()
        redis.stop()
        drop_database()

    steady = [i for i in published if i not in set(burst_ids)]
    rows = [phase_row(f"burst of {args.burst}", burst_ids, feed, watch),
            phase_row(f"{args.rate}/s for {args.minutes:g} min", steady, feed, watch),
            phase_row("all", published, feed, watch)]
    print(f"ingest burst: open311 file source polled every {args.interval:g} s, {args.database} history, "
          f"document window {args.window:g} s; collector CPU {cpu / feed_seconds * 100:.0f} % of a core "
          f"({cpu:.0f} s over {feed_seconds:.0f} s)")
    print(table(rows, list(rows[0])))
    lost_history = [i for i in published if i not in versions]
    doubled = [i for i in published if versions.get(i, 0) > 1]
    lost_live = [i for i in published if i not in live_ids]
    announced_twice = [i for i in published if watch.announced.get(i, 0) > 1]
    print(f"\nnothing lost: {len(published)} published; history holds {len(published) - len(lost_history)} "
          f"({len(doubled)} with more than one version); live store holds {len(published) - len(lost_live)}; "
          f"change stream announced {len(announced_twice)} more than once")
    print("PASS" if not (lost_history or doubled or lost_live or announced_twice) and
          float(rows[-1]["p95 s"]) < 1 else "FAIL (goal: p95 under 1 s, nothing lost)")


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise SystemExit(f"not within {seconds:g} s: {what}")


if __name__ == "__main__":
    main()
