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
