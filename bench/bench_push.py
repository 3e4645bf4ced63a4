"""Push benchmark: N wall screens, store-to-screen latency and server CPU per screen, with
push and without it (polling), beside the floor measured in the same run.

    .venv/bin/python bench/bench_push.py [--screens 1000] [--rate 0.5] [--seconds 30]

Starts an embedded Redis, `damamaya web` (gunicorn, as configured) and `damamaya push`
(uvicorn) on free ports. Each screen is what a browser holds: its own wall state, its
own keep-alive connection for Dash polls and, with push, its own SSE stream. Changes
(one incident each) are written into the live store with LiveStore.apply at `--rate`
per second, and every screen's latency is taken from the write to the moment its own
poll response carries the new version.
- push:    on each wake a screen POSTs the wall's poll callback (/_dash-update-component);
           it also polls every push.safety_poll_seconds, as the browser does;
- polling: push off, each screen polls every wall.poll_seconds from a random phase;
- floor:   the write to the wake event at the screen (Redis pub/sub + SSE alone), from
           the push run.
CPU is read from /proc for the gunicorn master and workers and the push process over
the measuring window. The client runs in this process on the same machine: its own CPU
competes with the servers', so the figures are an upper bound.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import orjson
import redis
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_wall import poll_body  # noqa: E402 - the wall's poll request as the browser sends it

SOURCE = "bench"
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


# ---- server processes and their CPU ---------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live children (gunicorn's workers)."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICK
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += cpu_seconds(int(child))
    except (OSError, IndexError, ValueError):
        pass
    return total


class Servers:
    def __init__(self, redis_url: str, tmp: Path, prefix: str):
        self.web_port, self.push_port = free_port(), free_port()
        config = yaml.safe_load((ROOT / "config.yaml").read_text())
        config.update(redis={"url": redis_url, "prefix": prefix}, database={"url": f"sqlite:///{tmp}/h.sqlite"},
                      sources={})
        config["web"] = {**config["web"], "port": self.web_port}
        config["push"] = {**config.get("push", {}), "port": self.push_port}
        self.config = config
        self.cfg = tmp / "config.yaml"
        self.cfg.write_text(yaml.safe_dump(config))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DAMAMAYA_")}
        self.env["DAMAMAYA_PUSH_SECRET"] = secrets.token_urlsafe(32)
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, url: str) -> None:
        log = (self.tmp / f"{name}.log").open("w")
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "damamaya.cli", "--config", str(self.cfg), name],
                                            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        import urllib.request

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=3):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"{name} did not start:\n{(self.tmp / f'{name}.log').read_text()[-2000:]}")

    def cpu(self) -> dict[str, float]:
        return {name: cpu_seconds(p.pid) for name, p in self.procs.items()}

    def stop(self) -> None:
        for p in self.procs.values():
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(p.pid, signal.SIGKILL)


# ---- a light HTTP/1.1 client: a Python client must not be the bottleneck at 1,000 screens --

class Http:
    """One keep-alive connection (reopened when the server closes it)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        for attempt in (0, 1):
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
                                  f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                return await self._response()
            except (OSError, asyncio.IncompleteReadError, ConnectionError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _response(self) -> tuple[int, bytes]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        length = int(headers.get("content-length", "0"))
        body = await self.reader.readexactly(length) if length else b""
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def sse_lines(host: str, port: int, path: str):
    """The lines of an SSE stream (chunked, as uvicorn sends it)."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
    pending = ""
    try:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            if size == 0:
                return
            pending += (await reader.readexactly(size + 2))[:-2].decode()
            *lines, pending = pending.split("\n")
            for line in lines:
                yield line
    finally:
        writer.close()


# ---- screens -------------------------------------------------------------------------------

class Clock:
    """Write times of each version of the bench source, and what each screen saw when."""

    def __init__(self):
        self.written: dict[int, float] = {}
        self.shown: list[float] = []   # ms, store write to poll response carrying it, per screen and version
        self.woken: list[float] = []   # ms, store write to the wake event, per screen and version
        self.measuring = False


class Screen:
    def __init__(self, n: int, web: tuple[str, int], state: dict, sources: list[str], clock: Clock):
        self.http = Http(*web)
        self.state = state
        self.sources = sources
        self.clock = clock
        self.seen = state["versions"].get(SOURCE, 0)
        self.lock = asyncio.Lock()
        self.errors = 0

    async def poll(self) -> None:
        async with self.lock:  # a browser's Dash sends one poll at a time per screen
            try:
                status, body = await self.http.post("/_dash-update-component",
                                                    orjson.dumps(poll_body(self.state, self.sources)))
            except (OSError, asyncio.IncompleteReadError, ConnectionError):
                self.errors += 1
                return
            now = time.perf_counter()
            if status != 200:
                self.errors += status != 204
                return
            self.state = orjson.loads(body)["response"]["wall-state"]["data"]
            version = self.state["versions"].get(SOURCE, 0)
            if self.clock.measuring:
                for v in range(self.seen + 1, version + 1):
                    if v in self.clock.written:
                        self.clock.shown.append((now - self.clock.written[v]) * 1000)
            self.seen = max(self.seen, version)

    async def on_push(self, push: tuple[str, int], token: str, safety_s: float, ready: asyncio.Event) -> None:
        from tests.push.sse import EventParser

        parser = EventParser()
        safety = asyncio.create_task(self._every(safety_s))
        try:
            async for line in sse_lines(*push, f"/push/events?token={token}"):
                for kind, payload in parser.feed(line):
                    if kind == "hello":
                        ready.set()
                    elif kind == "message":
                        version = payload["v"].get(SOURCE)
                        if version in self.clock.written and self.clock.measuring:
                            self.clock.woken.append((time.perf_counter() - self.clock.written[version]) * 1000)
                        asyncio.create_task(self.poll())
        finally:
            safety.cancel()

    async def _every(self, seconds: float) -> None:
        await asyncio.sleep(random.uniform(0, seconds))
        while True:
            await self.poll()
            await asyncio.sleep(seconds)

    async def polling(self, seconds: float) -> None:
        await self._every(seconds)


def publisher(live, rate: float, seconds: float, clock: Clock, stop: threading.Event) -> int:
    from engine.records import Incident

    count, start = 0, time.perf_counter()
    version = live.versions().get(SOURCE, 0)
    while not stop.is_set() and time.perf_counter() - start < seconds:
        now = datetime.now(timezone.utc)
        incident = Incident(id=f"p{count % 200}", source=SOURCE, category="fire", title="bench", reported_at=now,
                            updated_at=now, lat=-8.65 + random.uniform(-0.02, 0.02), lon=115.21, in_city=True)
        clock.written[version + 1] = time.perf_counter()  # before the write: its wake may come back first
        version = live.apply(SOURCE, [incident])  # this bench is the source's only writer
        count += 1
        stop.wait(max(0.0, start + count / rate - time.perf_counter()))
    return count


async def run_mode(mode: str, servers: Servers, live, args) -> dict:
    from push import tokens

    clock = Clock()
    sources = list(live.sources())
    web = ("127.0.0.1", servers.web_port)
    screens = [Screen(i, web, {"versions": live.versions(), "minute": int(time.time() // 60), "tiles": None,
                               "stream": live.stream_head(), "screen": secrets.token_hex(16)}, sources, clock)
               for i in range(args.screens)]
    secret = servers.env["DAMAMAYA_PUSH_SECRET"].encode()
    tasks, readies = [], []
    poll_s = servers.config["wall"]["poll_seconds"]
    safety_s = servers.config["push"].get("safety_poll_seconds", 30)
    for s in screens:
        await s.poll()  # the first poll after the layout, as a browser's first interval
        if mode == "push":
            ready = asyncio.Event()
            readies.append(ready)
            tasks.append(asyncio.create_task(s.on_push(("127.0.0.1", servers.push_port),
                                                       tokens.mint(secret, s.state["screen"], 3600), safety_s, ready)))
        else:
            tasks.append(asyncio.create_task(s.polling(poll_s)))
    for ready in readies:
        await asyncio.wait_for(ready.wait(), 120)
    await asyncio.sleep(2)
    clock.measuring = True
    cpu0, t0 = servers.cpu(), time.perf_counter()
    stop = threading.Event()
    changes = await asyncio.to_thread(publisher, live, args.rate, args.seconds, clock, stop)
    await asyncio.sleep(max(3.0, poll_s * 1.5))  # the last change reaches every screen
    cpu1, elapsed = servers.cpu(), time.perf_counter() - t0
    clock.measuring = False
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for s in screens:
        s.http.close()
    cpu = {k: cpu1[k] - cpu0.get(k, 0) for k in cpu1}
    expected = changes * args.screens
    return {"mode": mode, "changes": changes, "shown": clock.shown, "woken": clock.woken, "expected": expected,
            "cpu": cpu, "elapsed": elapsed, "errors": sum(s.errors for s in screens)}


def row(label: str, values: list[float], floor_p50: float, cpu_ms: float | None, note: str = "") -> str:
    p50, p95 = pct(values, 50), pct(values, 95)
    cpu = f"{cpu_ms:10.3f}" if cpu_ms is not None else f"{'-':>10}"
    return (f"{label:34} {p50:8.1f} {p95:8.1f} {p50 / floor_p50:8.1f}x {cpu} {note}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--screens", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=0.5, help="changes per second written into the live store")
    parser.add_argument("--seconds", type=float, default=30, help="how long changes are written, per mode")
    args = parser.parse_args()

    from damamaya.redis_server import EmbeddedRedis
    from engine.live import LiveStore

    tmp = Path(tempfile.mkdtemp(prefix="dmy-bench-push-"))
    embedded = EmbeddedRedis()
    redis_url = embedded.start()
    servers = Servers(redis_url, tmp, "benchpush")
    live = LiveStore(redis.Redis.from_url(redis_url), "benchpush")
    live.describe_sources({SOURCE: {"title": "bench", "kinds": ["incident"], "interval": 1, "stale_after": 600}})
    live.apply(SOURCE, [])
    try:
        servers.start("web", f"http://127.0.0.1:{servers.web_port}/wall")
        servers.start("push", f"http://127.0.0.1:{servers.push_port}/push/health")
        results = [asyncio.run(run_mode(mode, servers, live, args)) for mode in ("push", "polling")]
    finally:
        servers.stop()
        embedded.stop()

    push, polling = results
    floor = pct(push["woken"], 50)
    print(f"\n{args.screens} screens, {args.rate:g} changes/s for {args.seconds:g} s per mode; "
          f"wall.poll_seconds {servers.config['wall']['poll_seconds']}, safety poll "
          f"{servers.config['push'].get('safety_poll_seconds', 30)} s; {os.cpu_count()} cores\n")
    print(f"{'store write -> screen':34} {'p50 ms':>8} {'p95 ms':>8} {'/floor':>9} {'CPU ms/screen/s':>10}")
    for result in results:
        cpu_total = sum(result["cpu"].values())
        per_screen = cpu_total * 1000 / args.screens / result["elapsed"]
        seen = len(result["shown"])
        note = (f"web {result['cpu'].get('web', 0) / result['elapsed'] * 100:.0f}% + push "
                f"{result['cpu'].get('push', 0) / result['elapsed'] * 100:.0f}% of a core; "
                f"{seen}/{result['expected']} seen, {result['errors']} errors")
        label = "push: wake, then Dash poll" if result["mode"] == "push" else "polling (push off)"
        print(row(label, result["shown"], floor, per_screen, note))
    print(row("floor: wake event alone (SSE)", push["woken"], floor, None, f"{len(push['woken'])} wakes"))
    ratio = pct(polling["shown"], 95) / pct(push["shown"], 95)
    print(f"\npolling p95 / push p95: {ratio:.1f}x;  CPU push / polling: "
          f"{sum(push['cpu'].values()) / max(sum(polling['cpu'].values()), 1e-9):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
