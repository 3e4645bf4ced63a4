"""The push process: a minimal ASGI app that uvicorn serves (`damamaya push`).

One subscription per process to the live store's wake channel (`{prefix}:wake`);
every open wall screen holds one Server-Sent Events stream and is told, at once,
which versions moved. Each screen is one small asyncio task, not a thread, so a
process holds thousands.

Routes, under `path` (default `/push`):
- `GET {path}/events?token=...`  the SSE stream (403 without a valid token, 503 while
  Redis is unreachable: the screen then keeps polling and comes back later);
- `GET {path}/health`            JSON: open screens and whether the subscription is up.

Events on the stream:
- `retry: <ms>` once, then `event: hello` with the process's wake count and, with the
  fan-out, the state every screen holds now (`state`): a screen that holds another
  polls once on it to catch up on whatever it missed while connecting;
- with the fan-out (push/fanout.py, the default): `event: change` with
  `{"n", "v", "from", "to", "out"}` on each change: the poll's answer, computed once for
  every screen that holds `from`; screens that hold another state poll;
- `data: {"n": <wake count>, "v": {source: version, ...}}`: a plain wake (the fan-out
  off, failed, or a screen too far behind); the screen polls. Wakes that arrive while a
  screen's previous event is still being written merge into one;
- `: hb` comment lines every `heartbeat` seconds so that proxies keep the stream open.
"""
from __future__ import annotations

import asyncio
import logging
import os
import secrets
from typing import Callable
from urllib.parse import parse_qs

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from push import tokens
from push.fanout import Fanout

log = logging.getLogger("damamaya.push")
MAX_QUEUED = 16  # change messages a slow screen may have waiting; beyond, it gets a plain wake and polls


class Screen:
    """One open stream: the versions it has not been told yet, and a flag to wake its task."""

    __slots__ = ("id", "pending", "queue", "wake", "closing")

    def __init__(self, screen_id: str):
        self.id = screen_id
        self.pending: dict[str, int] = {}
        self.queue: list[bytes] = []  # change messages (already encoded, shared by every screen)
        self.wake = asyncio.Event()
        self.closing = False

    def close(self) -> None:
        self.closing = True
        self.wake.set()


class Hub:
    """The one subscription of this process, fanned out to every open screen."""

    def __init__(self, client: aioredis.Redis, channel: str, fanout: Fanout | None = None):
        self.client = client
        self.channel = channel
        self.screens: set[Screen] = set()
        self.wakes = 0
        self.subscribed = False
        self.fanout = fanout
        self.fan_wake = asyncio.Event()
        self.fan_versions: dict[str, int] = {}  # versions woken since the fan-out's last step
        self.fan_steps = self.fan_failures = 0

    def broadcast(self, source: str, version: int) -> None:
        self.wakes += 1
        # "@alarms" / "@ops" (engine/alerts/live.py): not the wall read model's data, so the
        # fan-out has nothing to send for them; the walls poll their alarm and scene stores
        if self.fanout is not None and not source.startswith("@"):
            if self.fan_versions.get(source, -1) < version:
                self.fan_versions[source] = version
            self.fan_wake.set()
            return
        self.broadcast_versions({source: version})

    def broadcast_versions(self, versions: dict[str, int]) -> None:
        """A plain wake: every screen polls."""
        for screen in self.screens:
            for source, version in versions.items():
                if screen.pending.get(source, -1) < version:
                    screen.pending[source] = version
            screen.wake.set()

    def broadcast_change(self, message: bytes, versions: dict[str, int]) -> None:
        for screen in self.screens:
            if len(screen.queue) < MAX_QUEUED:
                screen.queue.append(message)
            else:  # too far behind to catch up by changes: it polls
                screen.queue.clear()
                for source, version in versions.items():
                    screen.pending[source] = max(version, screen.pending.get(source, -1))
            screen.wake.set()

    def hello_state(self) -> dict | None:
        return self.fanout.public() if self.fanout is not None and self.subscribed else None

    async def run_fanout(self) -> None:
        """Step the canonical state on each wake, each minute and when a source turns late."""
        while True:
            try:
                async with asyncio.timeout(self.fanout.next_due()):
                    await self.fan_wake.wait()
            except TimeoutError:
                pass
            self.fan_wake.clear()
            if not self.subscribed:
                continue
            versions, self.fan_versions = self.fan_versions, {}
            message = await asyncio.to_thread(self._fan_step, self.wakes, versions)
            if message is False:
                if versions:
                    self.broadcast_versions(versions)
            elif message is not None:
                self.broadcast_change(message, versions)

    def _fan_step(self, wakes: int, versions: dict[str, int]) -> bytes | None | bool:
        try:
            change = self.fanout.step()
        except Exception as exc:  # noqa: BLE001 - on any doubt the screens poll, as without the fan-out
            log.warning("push: fan-out step failed (%s: %s); screens poll", type(exc).__name__, exc)
            self.fan_failures += 1
            self.fanout.reset()
            return False
        if not isinstance(change, dict):
            return change
        self.fan_steps += 1
        return b"event: change\ndata: " + orjson.dumps({"n": wakes, "v": versions, **change}) + b"\n\n"

    def drop_all(self) -> None:
        """Close every stream: their screens fall back to polling until they can reconnect."""
        for screen in list(self.screens):
            screen.close()

    async def run(self) -> None:
        delay = 0.5
        while True:
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                if self.fanout is not None:  # changes may have been missed while unsubscribed
                    self.fanout.reset()
                    self.fan_wake.set()
                self.subscribed, delay = True, 0.5
                log.info("push: subscribed to %s", self.channel)
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        self._on_message(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("push: lost the wake channel (%s); retrying in %.1f s", exc, delay)
            finally:
                self.subscribed = False
                self.drop_all()  # changes may be missed from here on: screens must poll
                try:
                    await pubsub.aclose()
                except (RedisError, OSError):
                    pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)

    def _on_message(self, data: bytes) -> None:
        try:
            wake = orjson.loads(data)
            self.broadcast(str(wake["s"]), int(wake["v"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("push: ignored a malformed wake message %r", data[:100])


class PushApp:
    """The ASGI application. `redis_url` and `prefix` name the live store."""

    def __init__(self, redis_url: str, prefix: str = "dmy", path: str = "/push", heartbeat: float = 15.0,
                 retry_ms: int = 2000, fanout: Callable[[], Fanout] | None = None):
        self.redis_url, self.prefix = redis_url, prefix
        self.make_fanout = fanout  # None: plain wakes only
        self.path = "/" + path.strip("/") if path.strip("/") else ""
        self.heartbeat = heartbeat
        self.retry_ms = retry_ms
        self.client: aioredis.Redis | None = None
        self.hub: Hub | None = None
        self._hub_task: asyncio.Task | None = None
        self._fan_task: asyncio.Task | None = None

    # ---- ASGI ------------------------------------------------------------------
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def start(self) -> None:
        self.client = aioredis.Redis.from_url(self.redis_url, socket_connect_timeout=5)
        self.hub = Hub(self.client, f"{self.prefix}:wake", self.make_fanout() if self.make_fanout else None)
        self._hub_task = asyncio.create_task(self.hub.run())
        if self.hub.fanout is not None:
            self._fan_task = asyncio.create_task(self.hub.run_fanout())

    async def stop(self) -> None:
        if self.hub:
            self.hub.drop_all()
        for task in (self._hub_task, self._fan_task):
            if task:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        if self.client:
            await self.client.aclose()

    async def _http(self, scope, receive, send) -> None:
        route = scope["path"]
        if scope["method"] not in ("GET", "HEAD"):
            await _plain(send, 405, b"method not allowed")
        elif route == f"{self.path}/events":
            await self._events(scope, receive, send)
        elif route == f"{self.path}/health":
            hub = self.hub
            body = orjson.dumps({"screens": len(hub.screens) if hub else 0, "subscribed": bool(hub and hub.subscribed),
                                 "wakes": hub.wakes if hub else 0, "fanout": bool(hub and hub.fanout),
                                 "fan_steps": hub.fan_steps if hub else 0, "fan_failures": hub.fan_failures if hub else 0})
            await _plain(send, 200, body, b"application/json")
        else:
            await _plain(send, 404, b"not found")

    # ---- the stream ----------------------------------------------------------------
    async def _events(self, scope, receive, send) -> None:
        hub = self.hub
        origin = _header(scope, b"origin")
        if hub is None or not hub.subscribed:
            await _plain(send, 503, b"push is not subscribed to the live store yet", origin=origin)
            return
        token = (parse_qs(scope.get("query_string", b"").decode()).get("token") or [""])[0]
        try:
            screen_id = tokens.verify(await self._secret(), token)
        except tokens.TokenError as exc:
            await _plain(send, 403, str(exc).encode(), origin=origin)
            return
        except (RedisError, OSError):
            await _plain(send, 503, b"cannot read the push secret", origin=origin)
            return
        screen = Screen(screen_id)
        hub.screens.add(screen)
        watcher = asyncio.create_task(_until_disconnect(receive, screen))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": _stream_headers(origin)})
            hello = orjson.dumps({"n": hub.wakes, "screen": screen_id, "state": hub.hello_state()})
            await _send_text(send, f"retry: {self.retry_ms}\nevent: hello\ndata: {hello.decode()}\n\n")
            await self._serve(hub, screen, send)
        except OSError:
            pass  # the client went away mid-write
        finally:
            hub.screens.discard(screen)
            watcher.cancel()

    async def _serve(self, hub: Hub, screen: Screen, send) -> None:
        while not screen.closing:
            try:
                async with asyncio.timeout(self.heartbeat):
                    await screen.wake.wait()
            except TimeoutError:
                await _send_text(send, ": hb\n\n")
                continue
            screen.wake.clear()
            if screen.closing:
                break
            chunks, screen.queue = screen.queue, []
            if screen.pending:
                changed, screen.pending = screen.pending, {}
                chunks.append(f"data: {orjson.dumps({'n': hub.wakes, 'v': changed}).decode()}\n\n".encode())
            if chunks:
                await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _secret(self) -> bytes:
        from_env = os.environ.get(tokens.SECRET_ENV)
        if from_env:
            return from_env.encode()
        key = f"{self.prefix}:push:secret"
        await self.client.set(key, secrets.token_urlsafe(32), nx=True)
        return await self.client.get(key)


async def _until_disconnect(receive, screen: Screen) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            screen.close()
            return


def _header(scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


def _cors(origin: bytes | None) -> list[tuple[bytes, bytes]]:
    # The token, not the origin, is what admits a screen; the header only lets the
    # wall page on the web port read a stream served from the push port.
    return [(b"access-control-allow-origin", origin), (b"vary", b"Origin")] if origin else []


def _stream_headers(origin: bytes | None) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache, no-store"),
            (b"x-accel-buffering", b"no"), *_cors(origin)]


async def _send_text(send, text: str) -> None:
    await send({"type": "http.response.body", "body": text.encode(), "more_body": True})


async def _plain(send, status: int, body: bytes, content_type: bytes = b"text/plain; charset=utf-8",
                 origin: bytes | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store"), *_cors(origin)]})
    await send({"type": "http.response.body", "body": body})


def serve(redis_url: str, prefix: str, host: str, port: int, path: str, heartbeat: float,
          fanout: Callable[[], Fanout] | None = None) -> None:
    """Run one push process until SIGINT/SIGTERM."""
    import uvicorn

    app = PushApp(redis_url, prefix, path, heartbeat, fanout=fanout)
    # Open streams never end by themselves: on shutdown give them two seconds, then cut
    # them; the screens fall back to polling and reconnect to another process.
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=2,
                backlog=4096, timeout_keep_alive=5)
