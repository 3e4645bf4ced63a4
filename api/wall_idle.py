"""`GET /wall/idle`: a wall's idle check, cheaper than its Dash poll.

Answers the counters the wall poll compares with a screen's state (engine/wall/idle.py:
read from Redis once per change in each process, not once per check) with an ETag over
them; a screen that sends back the tag it holds (`If-None-Match`) gets 304 and no body
while nothing moved. The screen compares the counters with its own
stores and runs the Dash poll (callbacks/wall.py) only when they differ or when the
server's clock (the `Date` header) says the minute moved or a source turned late
(assets/idle.js). The wall's heartbeat is written here: a screen with nothing to fetch
still counts as seen.

Only wall roles and wall screens get it (security/roles.py ROUTES, checked by the guard
before this module runs, and again here). It reads no parameters: the only input is the
tag, compared as a string.
"""
from __future__ import annotations

import threading
import time

import orjson
from flask import Blueprint, Response, request
from redis.exceptions import RedisError

from damamaya import runtime
from engine.wall.idle import CounterWatch
from security import resolve, screen_identity
from security.roles import may_open
from security.views import denied_json

blueprint = Blueprint("wall_idle", __name__)
_watch: CounterWatch | None = None
_watch_lock = threading.Lock()


def watch() -> CounterWatch:
    """This process's watch of the counters, on the running configuration's live store."""
    global _watch
    live = runtime.live()
    if _watch is None or _watch.live is not live:
        with _watch_lock:
            if _watch is None or _watch.live is not live:
                if _watch is not None:
                    _watch.stop()
                _watch = CounterWatch(live)
    return _watch


@blueprint.get("/wall/idle")
def idle() -> Response:
    who = resolve()
    if not may_open(who.role, "wall"):  # the guard refused already; the route checks again
        return denied_json(who)
    live = runtime.live()
    try:
        identity = screen_identity()  # the server's name for this wall, never one the browser sends
        if identity:
            live.screen_seen(identity, time.time())
        counters = watch().read()
    except RedisError as exc:
        return _answer(orjson.dumps({"error": "unavailable", "message": f"the live store cannot be reached now "
                                                                        f"({type(exc).__name__})"}), 503)
    etag = f'"{counters.tag}"'
    if request.headers.get("If-None-Match") == etag:
        response = _answer(b"", 304)
    else:
        response = _answer(orjson.dumps(counters.body()), 200)
    response.headers["ETag"] = etag
    return response


def _answer(body: bytes, status: int) -> Response:
    response = Response(body, status, mimetype="application/json" if body else None)
    response.headers["Cache-Control"] = "no-store"  # assets/idle.js keeps the tag and the last body itself
    return response
