"""What an unchanged feed costs the collector: CPU per poll of a 10,000-request Open311
document that does not change, read from a file and fetched over HTTP.

    .venv/bin/python bench/bench_unchanged.py [--requests 10000] [--polls 10] [--interval 5]

The real SourceRunner (fetch -> parse -> history -> live store) of the open311 adapter
polls a real file and a real local HTTP server (which answers ETag/Last-Modified and
304), on a valkey server of the bench's own and a SQLite history. The first poll
stores everything; the figures are the mean of the `--polls` unchanged polls after it.
CPU is this process's (all its threads); the servers run in other processes.

Columns: cpu ms/poll, wall ms/poll, and the share of one core the source costs when
polled every `--interval` seconds.
"""
from __future__ import annotations

import argparse
import email.utils
import hashlib
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson

from feedkit import OwnRedis, requests, sqlite_history, table


class ConditionalServer:
    """Serves one body with an ETag and Last-Modified; answers 304 to a matching condition."""

    def __init__(self, body: bytes):
        self.body = body
        self.etag = '"' + hashlib.sha1(body).hexdigest() + '"'
        self.modified = email.utils.formatdate(time.time() - 60, usegmt=True)
        self.hits = {"200": 0, "304": 0}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if self.headers.get("If-None-Match") == server.etag or self.headers.get("If-Modified-Since") == server.modified:
                    server.hits["304"] += 1
                    self.send_response(304)
                    self.send_header("ETag", server.etag)
                    self.end_headers()
                    return
                server.hits["200"] += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(server.body)))
                self.send_header("ETag", server.etag)
                self.send_header("Last-Modified", server.modified)
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/requests.json"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def measure(origin: dict, polls: int, interval: float, redis: OwnRedis, label: str) -> dict:
    from data_sources import get_adapter
    from engine.collector import SourceRunner
    from engine.live import LiveStore

    cls = get_adapter("open311")
    adapter = cls("pro", cls.Config(interval=interval, timeout=30, **origin))
    history = sqlite_history()
    client = redis.client()
    client.flushdb()
    runner = SourceRunner(adapter, LiveStore(client, "bench"), history)
    first = runner.poll()
    assert first.ok and first.records, first.error
    version = LiveStore(client, "bench").versions()["pro"]
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(polls):
        outcome = runner.poll()
        assert outcome.ok, outcome.error
    cpu_ms = (time.process_time() - cpu) / polls * 1000
    wall_ms = (time.perf_counter() - wall) / polls * 1000
    assert LiveStore(client, "bench").versions()["pro"] == version, "an unchanged poll changed the live version"
    sweep_ms = expiry_sweep_ms(runner)
    history.dispose()
    # the sweep runs on one poll a minute at most: its share of a poll every `interval` s
    per_poll = cpu_ms + sweep_ms * min(1.0, interval / 60)
    return {"origin": label, "records": first.records, "cpu ms/poll": f"{cpu_ms:.1f}", "wall ms/poll": f"{wall_ms:.1f}",
            "expiry sweep ms (1/min)": f"{sweep_ms:.0f}" if sweep_ms else "-",
            f"% core at {interval:g} s": f"{per_poll / 10 / interval:.2f}"}


def expiry_sweep_ms(runner) -> float:
    """CPU of the once-a-minute look for records that aged out, on an unchanged poll
    (0 where the collector has no such sweep: before conditional polling every poll parsed)."""
    writer = runner.writer
    if not hasattr(writer, "expire"):
        return 0.0
    writer._last_prune = 0.0
    cpu = time.process_time()
    assert runner.poll().ok
    return (time.process_time() - cpu) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--polls", type=int, default=10)
    ap.add_argument("--interval", type=float, default=5)
    args = ap.parse_args()

    body = orjson.dumps(requests(args.requests))
    path = Path(tempfile.mkdtemp(prefix="dmy-unchanged-")) / "requests.json"
    path.write_bytes(body)
    server = ConditionalServer(body)
    redis = OwnRedis()
    try:
        rows = [measure({"path": str(path)}, args.polls, args.interval, redis, "file"),
                measure({"url": server.url}, args.polls, args.interval, redis, "http (ETag, Last-Modified)")]
    finally:
        server.close()
        redis.stop()
    print(f"unchanged Open311 document: {args.requests} requests, {len(body) / 1e6:.1f} MB, {args.polls} polls after the first")
    print(table(rows, list(rows[0])))
    print(f"http answers: {server.hits['200']} x 200, {server.hits['304']} x 304")


if __name__ == "__main__":
    main()
