"""What a wall's idle check reads: the counters the wall poll compares with a screen's state.

The wall poll (callbacks/wall.py) has something to send exactly when the live store's
versions hash differs from the screen's `versions`, the minute moved, a source turns late
by the clock (`due`), or the alarms' and operator actions' counters differ from the
screen's `wall-opversions`. The counters are read here in one Redis round trip and
answered with a tag (an ETag) over them: a screen asks every poll interval, compares
them with what it holds (assets/idle.js), and runs the Dash poll only when they differ
or its clock says so. An idle tick is then a conditional GET answered 304.
"""
from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass

from engine.live import LiveStore

# engine.alerts.live.OpsLive's hash of the alarms' and operator actions' counters
# (the wall's `wall-opversions` store holds these two)
OPVERSIONS = "opversions"
OPVERSION_FIELDS = ("alarms", "ops")


@dataclass(frozen=True)
class WallCounters:
    tag: str  # a digest of both hashes as read: equal tags, equal counters
    raw_versions: dict[bytes, bytes]
    raw_opversions: dict[bytes, bytes]

    def body(self) -> dict:
        """{"versions": the live store's versions (as the wall state holds them), "opversions": {alarms, ops}}."""
        opv = {k.decode(): int(v) for k, v in self.raw_opversions.items()}
        return {"versions": {k.decode(): int(v) for k, v in self.raw_versions.items()},
                "opversions": {name: opv.get(name, 0) for name in OPVERSION_FIELDS}}


def read_counters(live: LiveStore) -> WallCounters:
    pipe = live.r.pipeline(transaction=False)
    pipe.hgetall(live.key("versions"))
    pipe.hgetall(live.key(OPVERSIONS))
    versions, opversions = pipe.execute()
    h = hashlib.blake2b(digest_size=8)
    for part in (versions, opversions):
        h.update(len(part).to_bytes(4, "big"))
        for key in sorted(part):
            for item in (key, part[key]):  # length-prefixed: no two contents read alike
                h.update(len(item).to_bytes(4, "big") + item)
    return WallCounters(h.hexdigest(), versions, opversions)


class CounterWatch:
    """The counters for every idle check of this process, read from Redis again only after they
    may have moved: every write that moves them publishes on the live store's wake channel
    (LiveStore.wake, OpsLive), which a thread here listens to. While it is not subscribed (not
    yet, or its connection broke) every check reads Redis. A write that publishes nothing
    (LiveStore.clear, OpsLive.clear) is seen after `max_age` seconds at the latest.

    The only window for a stale answer is between a write and its wake reaching this process
    (sub-millisecond on one host): the wall's next check sees it, nothing is missed."""

    def __init__(self, live: LiveStore, max_age: float = 0.5):
        self.live, self.max_age = live, max_age
        self.generation = 0  # moved by every wake (and every (re)subscription)
        self.listening = False
        self._held: tuple[WallCounters, float, int] | None = None  # counters, read at (monotonic), generation
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._pubsub = None
        self._stopped = False

    def read(self) -> WallCounters:
        self._start()
        held = self._held
        if (held is not None and self.listening and held[2] == self.generation
                and time.monotonic() - held[1] < self.max_age):
            return held[0]
        generation = self.generation  # before the read: a wake during it leaves the answer stale
        counters = read_counters(self.live)
        self._held = (counters, time.monotonic(), generation)
        return counters

    def stop(self) -> None:
        self._stopped = True
        self.listening = False
        if self._pubsub is not None:
            try:
                self._pubsub.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass

    def _start(self) -> None:
        if self._pid == os.getpid() or self._stopped:
            return
        with self._lock:
            if self._pid != os.getpid():  # first use in this process (a thread does not survive a fork)
                self._pid = os.getpid()
                self.listening = False
                threading.Thread(target=self._listen, name="wall-idle-watch", daemon=True).start()

    def _listen(self) -> None:
        while not self._stopped:
            try:
                self._pubsub = self.live.r.pubsub()
                self._pubsub.subscribe(self.live.key("wake"))
                while not self._stopped:
                    message = self._pubsub.get_message(timeout=1.0)  # waits without the client's socket timeout
                    if message is None:
                        continue
                    self.generation += 1
                    if message.get("type") == "subscribe":
                        self.listening = True
            except Exception:  # noqa: BLE001 - any failure: read Redis on every check until subscribed again
                self.listening = False
                self.generation += 1
                if not self._stopped:
                    time.sleep(1.0)
