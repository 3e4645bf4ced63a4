"""Push benchmark: N wall screens, store-to-screen latency and server CPU per screen, for
the fan-out, plain wakes and polling, beside the floor measured in the same run.

    .venv/bin/python bench/bench_push.py [--screens 1000] [--rate 0.5] [--seconds 30]
                                         [--modes fanout,wake,polling] [--accounts 50]

Starts an embedded Redis, `damamaya web` (gunicorn, as configured) and `damamaya push`
(uvicorn) on free ports. The screens sign in as wall screens do (a screen link's cookie,
then the CSRF header on every callback; `--accounts` links shared round-robin, as tabs of
one wall share theirs), and each loads /wall's layout through the Dash pages router to
get its own first state, as a browser does. Each then holds what a browser holds: its
own state, its own keep-alive connection for Dash polls and, with push, its own SSE
stream (a token minted for its screen id). Changes (one incident each) are written into
the live store with LiveStore.apply at `--rate` per second, and every screen's latency is
taken from the write to the moment it holds the new version:
- fanout:  push.fan_out on: the change event is applied when the screen's state is its
           `from` (as assets/push.js does); otherwise the screen polls;
- wake:    push.fan_out off: each wake makes the screen POST the wall's poll callback;
- polling: no push, each screen polls every wall.poll_seconds from a random phase;
- floor:   the write to the event's arrival at the screen (Redis pub/sub + SSE, no
           work), from the wake run (or the fan-out run when wake is not run).
Screens on push also poll every push.safety_poll_seconds, as the browser does. CPU is
read from /proc for the gunicorn master and workers and the push process over the
measuring window. The client runs in this process on the same 2 cores: its own CPU
competes with the servers', so the figures are an upper bound.
"""
from __future__ import annotations

import argparse
import asyncio
from collections import Counter
import http.cookiejar
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
import urllib.request
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
MISMATCH: "Counter[str]" = Counter()  # state fields that differed from a change's `from`
TICK = os.sysconf("SC_CLK_TCK")
PAGES_REQUEST = {"output": ".._pages_content.children..._pages_store.data..",
                 "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
                 "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/wall"},
                            {"id": "_pages_location", "property": "search", "value": ""}],
                 "changedPropIds": ["_pages_location.pathname"]}


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
        self.tmp = tmp
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DAMAMAYA_")}
        self.env["DAMAMAYA_PUSH_SECRET"] = secrets.token_urlsafe(32)
        self.procs: dict[str, subprocess.Popen] = {}

    def config_file(self, fan_out: bool) -> Path:
        path = self.tmp / f"config-{'fan' if fan_out else 'wake'}.yaml"
        path.write_text(yaml.safe_dump({**self.config, "push": {**self.config["push"], "fan_out": fan_out}}))
        return path

    def start(self, name: str, url: str, fan_out: bool = True) -> None:
        log = (self.tmp / f"{name}.log").open("a")
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "damamaya.cli", "--config", str(self.config_file(fan_out)),
                                             name], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
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

    def stop(self, name: str | None = None) -> None:
        for key in [name] if name else list(self.procs):
            p = self.procs.pop(key, None)
            if p is None:
                continue
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(p.pid, signal.SIGKILL)


def sign_in(base: str, database_url: str, count: int) -> list[tuple[str, str]]:
    """`count` wall screens signed in by their links: (Cookie header, CSRF token) each."""
    from engine.accounts import Accounts

    accounts = Accounts(database_url)
    try:
        accounts.create()
        tokens = [accounts.add_screen(f"bench-{secrets.token_hex(4)}") for _ in range(count)]
    finally:
        accounts.dispose()
    out = []
    for token in tokens:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        with opener.open(f"{base}/screen/{token}", timeout=30) as resp:  # the cookie, then /wall
            resp.read()
        cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
        out.append((cookies, next((c.value for c in jar if c.name == "_csrf_token"), "")))
    return out


# ---- a light HTTP/1.1 client: a Python client must not be the bottleneck at 1,000 screens --

class Http:
    """One keep-alive connection (reopened when the server closes it), signed in as a wall screen."""

    def __init__(self, host: str, port: int, cookies: str, csrf: str):
        self.host, self.port = host, port
        self.head = (f"Host: {host}:{port}\r\nContent-Type: application/json\r\nCookie: {cookies}\r\n"
                     f"X-CSRFToken: {csrf}\r\n")
        self.reader = self.writer = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        return await self.send(f"POST {path} HTTP/1.1\r\n{self.head}Content-Length: {len(body)}\r\n\r\n".encode() + body)

    async def get(self, path: str, headers: str = "") -> tuple[int, bytes]:
        """`headers`: more header lines, each ending in CRLF."""
        return await self.send(f"GET {path} HTTP/1.1\r\n{self.head}{headers}\r\n".encode())

    async def send(self, request: bytes) -> tuple[int, bytes]:
        for attempt in (0, 1):
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                self.writer.write(request)
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
    reader, writer = await asyncio.open_connection(host, port, limit=2**24)
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


def find_store(node, store_id: str):
    """The data of the dcc.Store `store_id` in a Dash layout (as JSON)."""
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and props.get("id") == store_id:
            return props.get("data")
        values = node.values()
    elif isinstance(node, list):
        values = node
    else:
        return None
    for value in values:
        found = find_store(value, store_id)
        if found is not None:
            return found
    return None


# ---- screens -------------------------------------------------------------------------------

class Clock:
    """Write times of each version of the bench source, and what each screen saw when."""

    def __init__(self):
        self.written: dict[int, float] = {}
        self.shown: list[float] = []   # ms, store write to the screen holding it, per screen and version
        self.woken: list[float] = []   # ms, store write to the event's arrival, per screen and version
        self.measuring = False


def without_screen(state: dict) -> dict:
    return {k: v for k, v in state.items() if k != "screen"}


def stream_id(value: str) -> tuple[int, int]:
    ms, _, seq = (value or "0-0").partition("-")
    return int(ms), int(seq or 0)


def holds(own: dict, state: dict) -> bool:
    """As assets/push.js: every field equal but the stream position, where the screen may be ahead."""
    return (all(own.get(k) == v for k, v in state.items() if k != "stream") and len(own) == len(state) + 1
            and stream_id(own["stream"]) >= stream_id(state["stream"]))


PARSED: dict[str, dict] = {}  # every screen gets the same bytes: parse each change once (read only)


def parse_change(data: str) -> dict:
    if data not in PARSED:
        PARSED.clear()
        PARSED[data] = orjson.loads(data)
    return PARSED[data]


class Screen:
    def __init__(self, http: Http, sources: list[str], clock: Clock):
        self.http = http
        self.state: dict = {}
        self.sources = sources
        self.clock = clock
        self.seen = 0
        self.lock = asyncio.Lock()
        self.errors = self.polls = self.applied = 0
        self.spawned: set[asyncio.Task] = set()
        self.deferred: list[dict] = []  # changes that came while a poll was on the way

    def poll_soon(self) -> None:
        task = asyncio.create_task(self.poll())
        self.spawned.add(task)
        task.add_done_callback(self.spawned.discard)

    def stop(self) -> None:
        for task in list(self.spawned):
            task.cancel()
        self.http.close()

    async def load(self) -> None:
        """/wall's layout through the pages router, as a browser's first request: its state."""
        status, body = await self.http.post("/_dash-update-component", orjson.dumps(PAGES_REQUEST))
        if status != 200:
            raise RuntimeError(f"/wall layout: HTTP {status} {body[:200]!r}")
        self.state = find_store(orjson.loads(body), "wall-state")
        self.opversions = find_store(orjson.loads(body), "wall-opversions")
        self.seen = self.state["versions"].get(SOURCE, 0)

    def holding(self, version: int) -> None:
        now = time.perf_counter()
        if self.clock.measuring:
            for v in range(self.seen + 1, version + 1):
                if v in self.clock.written:
                    self.clock.shown.append((now - self.clock.written[v]) * 1000)
        self.seen = max(self.seen, version)

    async def poll(self) -> None:
        async with self.lock:  # a browser's Dash sends one poll at a time per screen
            try:
                status, body = await self.http.post("/_dash-update-component",
                                                    orjson.dumps(poll_body(self.state, self.sources, self.opversions)))
            except (OSError, asyncio.IncompleteReadError, ConnectionError):
                self.errors += 1
                return
            self.polls += 1
            if status != 200:
                self.errors += status != 204
                return
            response = orjson.loads(body)["response"]
            self.state = response.get("wall-state", {}).get("data", self.state)
            self.opversions = response.get("wall-opversions", {}).get("data", self.opversions)
            self.holding(self.state["versions"].get(SOURCE, 0))
        if self.deferred:
            self.take_deferred()

    def on_change(self, change: dict) -> None:
        """What assets/push.js does with a change event: take it when holding its `from`; while a
        poll of its own is on the way, keep it until that poll is answered; else poll."""
        self.deferred.append(change)
        if not self.lock.locked():
            self.take_deferred()

    def take_deferred(self) -> None:
        changes, self.deferred = self.deferred, []
        for change in changes:
            if holds(self.state, change["to"]):
                continue
            if not holds(self.state, change["from"]):
                own = without_screen(self.state)
                MISMATCH.update(k for k in set(own) | set(change["from"]) if own.get(k) != change["from"].get(k))
                self.poll_soon()
                return
            stream = max(self.state["stream"], change["to"]["stream"], key=stream_id)
            self.state = {**change["to"], "screen": self.state["screen"], "stream": stream}
            self.applied += 1
            self.holding(self.state["versions"].get(SOURCE, 0))

    def _woken(self, versions: dict) -> None:
        version = versions.get(SOURCE)
        if version in self.clock.written and self.clock.measuring:
            self.clock.woken.append((time.perf_counter() - self.clock.written[version]) * 1000)

    async def on_push(self, push: tuple[str, int], token: str, safety_s: float, ready: asyncio.Event) -> None:
        safety = asyncio.create_task(self._every(safety_s))
        kind = "message"
        try:
            async for line in sse_lines(*push, f"/push/events?token={token}"):
                if line.startswith("event:"):
                    kind = line[6:].strip()
                    continue
                if not line.startswith("data:"):
                    if line == "":
                        kind = "message"
                    continue
                payload = parse_change(line[5:])
                if kind == "hello":
                    if not payload.get("state") or not holds(self.state, payload["state"]):
                        self.poll_soon()
                    ready.set()
                elif kind == "change":
                    self._woken(payload["v"])
                    self.on_change(payload)
                else:
                    self._woken(payload["v"])
                    self.poll_soon()
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


async def run_mode(mode: str, servers: Servers, live, args, logins: list[tuple[str, str]]) -> dict:
    from push import tokens

    clock = Clock()
    sources = list(live.sources())
    screens = [Screen(Http("127.0.0.1", servers.web_port, *logins[i % len(logins)]), sources, clock)
               for i in range(args.screens)]
    for batch in range(0, len(screens), 50):
        await asyncio.gather(*(s.load() for s in screens[batch:batch + 50]))
    secret = servers.env["DAMAMAYA_PUSH_SECRET"].encode()
    tasks, readies = [], []
    poll_s = servers.config["wall"]["poll_seconds"]
    safety_s = servers.config["push"].get("safety_poll_seconds", 30)
    for s in screens:
        if mode == "polling":
            tasks.append(asyncio.create_task(s.polling(poll_s)))
            continue
        ready = asyncio.Event()
        readies.append(ready)
        tasks.append(asyncio.create_task(s.on_push(("127.0.0.1", servers.push_port),
                                                   tokens.mint(secret, s.state["screen"], 3600), safety_s, ready)))
    for ready in readies:
        await asyncio.wait_for(ready.wait(), 120)
    await asyncio.sleep(3)
    polls0 = sum(s.polls for s in screens)
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
        s.stop()
    cpu = {k: cpu1[k] - cpu0.get(k, 0) for k in cpu1}
    return {"mode": mode, "changes": changes, "shown": clock.shown, "woken": clock.woken,
            "expected": changes * args.screens, "cpu": cpu, "elapsed": elapsed,
            "errors": sum(s.errors for s in screens), "polls": sum(s.polls for s in screens) - polls0,
            "applied": sum(s.applied for s in screens)}


def row(label: str, values: list[float], floor_p50: float, cpu_ms: float | None, note: str = "") -> str:
    p50, p95 = pct(values, 50), pct(values, 95)
    cpu = f"{cpu_ms:10.3f}" if cpu_ms is not None else f"{'-':>10}"
    return f"{label:34} {p50:8.1f} {p95:8.1f} {p50 / floor_p50:8.1f}x {cpu} {note}"


LABELS = {"fanout": "push: change sent once (fan-out)", "wake": "push: wake, then Dash poll",
          "polling": "polling (push off)"}


def measure(screens: int = 1000, rate: float = 0.5, seconds: float = 30, modes=("fanout", "wake", "polling"),
            accounts: int = 50) -> dict:
    """Run the modes; returns {"args", "config", mode: result}. Used by bench/bench_issue11.py too."""
    from damamaya.redis_server import EmbeddedRedis
    from engine.live import LiveStore

    args = argparse.Namespace(screens=screens, rate=rate, seconds=seconds)
    tmp = Path(tempfile.mkdtemp(prefix="dmy-bench-push-"))
    embedded = EmbeddedRedis()
    redis_url = embedded.start()
    servers = Servers(redis_url, tmp, "benchpush")
    live = LiveStore(redis.Redis.from_url(redis_url), "benchpush")
    live.describe_sources({SOURCE: {"title": "bench", "kinds": ["incident"], "interval": 1, "stale_after": 600}})
    live.apply(SOURCE, [])
    results = {"args": args, "config": servers.config}
    try:
        base = f"http://127.0.0.1:{servers.web_port}"
        servers.start("web", f"{base}/login")
        logins = sign_in(base, servers.config["database"]["url"], min(accounts, screens))
        for mode in modes:
            if mode != "polling":
                servers.start("push", f"http://127.0.0.1:{servers.push_port}/push/health", fan_out=mode == "fanout")
            results[mode] = asyncio.run(run_mode(mode, servers, live, args, logins))
            servers.stop("push")
    finally:
        servers.stop()
        embedded.stop()
    return results


def floor_of(results: dict) -> list[float]:
    return (results.get("wake") or results.get("fanout") or {}).get("woken") or [float("nan")]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--screens", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=0.5, help="changes per second written into the live store")
    parser.add_argument("--seconds", type=float, default=30, help="how long changes are written, per mode")
    parser.add_argument("--modes", default="fanout,wake,polling")
    parser.add_argument("--accounts", type=int, default=50, help="screen links signed in, shared round-robin")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    results = measure(args.screens, args.rate, args.seconds, modes, args.accounts)
    config = results["config"]
    floor = pct(floor_of(results), 50)
    print(f"\n{args.screens} screens ({min(args.accounts, args.screens)} sign-ins), {args.rate:g} changes/s for "
          f"{args.seconds:g} s per mode; wall.poll_seconds {config['wall']['poll_seconds']}, safety poll "
          f"{config['push'].get('safety_poll_seconds', 30)} s; {os.cpu_count()} cores\n")
    print(f"{'store write -> screen':34} {'p50 ms':>8} {'p95 ms':>8} {'/floor':>9} {'CPU ms/screen/s':>10}")
    for mode in modes:
        result = results[mode]
        per_screen = sum(result["cpu"].values()) * 1000 / args.screens / result["elapsed"]
        note = (f"web {result['cpu'].get('web', 0) / result['elapsed'] * 100:.0f}% + push "
                f"{result['cpu'].get('push', 0) / result['elapsed'] * 100:.0f}% of a core; "
                f"{len(result['shown'])}/{result['expected']} seen, {result['polls']} polls, "
                f"{result['applied']} applied, {result['errors']} errors")
        print(row(LABELS[mode], result["shown"], floor, per_screen, note))
    print(row("floor: event at the screen (SSE)", floor_of(results), floor, None, "Redis pub/sub + SSE, no work"))
    if MISMATCH:
        print(f"state fields that differed from a change's `from` (the screen then polled): {dict(MISMATCH)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
