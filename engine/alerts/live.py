"""Alarms and the operators' overlay in Redis, beside the live store.

Keys (prefix `dmy` by default):
- `{p}:alarms`         hash  alarm id -> alarm JSON (active ones, and resolved ones
                             for `keep_resolved_minutes` so screens see them go)
- `{p}:ops`            hash  "source:record_id" -> overlay JSON (owner, agency,
                             operational status, acknowledged by, last note)
- `{p}:opsrev`         hash  "a:{id}" / "o:{uid}" -> row version last written, so a
                             slower writer never puts an older state over a newer one
- `{p}:opversions`     hash  `alarms` / `ops` -> int, bumped on every change: a
                             screen's poll reads it beside `{p}:versions`
- `{p}:alarm-events`   stream of {a: alarm id, r: rule, s: source, i: subject,
                             to: state, lv: level, sl: 1 when silent}, trimmed
- `{p}:wake`           every change is also published there as {s: "@alarms" or "@ops",
                             v: the new counter}, so push processes wake the walls
                             (an acknowledgement reaches a pushed wall at once)
All of it is rebuilt from the history store by `engine.alerts.rebuild_live`.
"""
from __future__ import annotations

import orjson
import redis

ALARMS, OPS = "alarms", "ops"

# KEYS: hash, revisions, versions, stream. ARGV: field, rev field, version, json, version field,
# stream length, then stream field/value pairs. Writes only when `version` is newer than the
# one last written for that field; returns the new counter of `opversions` when it wrote, else 0.
_SET_IF_NEWER = """
local last = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
if tonumber(ARGV[3]) <= last then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
local counter = redis.call('HINCRBY', KEYS[3], ARGV[5], 1)
if #ARGV > 6 then
  local fields = {}
  for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[6], '*', unpack(fields))
end
return counter
"""

# KEYS: hash, revisions, versions. ARGV: field, rev field, version field. Drops a resolved alarm
# (minutes after it resolved, when no slower writer can still be on its way).
_DROP_RESOLVED = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
if not string.find(cur, '"state":"resolved"', 1, true) then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[2])
return redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
"""


class OpsLive:
    def __init__(self, client: redis.Redis, prefix: str = "dmy", stream_length: int = 10_000):
        self.r = client
        self.p = prefix
        self.stream_length = stream_length
        self._set = client.register_script(_SET_IF_NEWER)
        self._drop = client.register_script(_DROP_RESOLVED)

    def key(self, *parts: str) -> str:
        return ":".join((self.p, *parts))

    # ---- writers -------------------------------------------------------------------------
    def put_alarm(self, alarm: dict) -> bool:
        stream = ["a", str(alarm["id"]), "r", alarm["rule"], "s", alarm["source"], "i", alarm["subject"],
                  "to", alarm["state"], "lv", alarm["level"], "sl", "1" if alarm["silent"] else "0"]
        return self._woken(ALARMS, self._set(
            keys=[self.key(ALARMS), self.key("opsrev"), self.key("opversions"), self.key("alarm-events")],
            args=[str(alarm["id"]), f"a:{alarm['id']}", alarm["version"], orjson.dumps(alarm), ALARMS, self.stream_length, *stream]))

    def drop_resolved(self, alarm_id: int | str) -> bool:
        return self._woken(ALARMS, self._drop(keys=[self.key(ALARMS), self.key("opsrev"), self.key("opversions")],
                                              args=[str(alarm_id), f"a:{alarm_id}", ALARMS]))

    def put_overlay(self, overlay: dict) -> bool:
        uid = f"{overlay['source']}:{overlay['record_id']}"
        return self._woken(OPS, self._set(keys=[self.key(OPS), self.key("opsrev"), self.key("opversions"), self.key("alarm-events")],
                                          args=[uid, f"o:{uid}", overlay["version"], orjson.dumps(overlay), OPS, self.stream_length]))

    def _woken(self, field: str, counter) -> bool:
        """Publish a written change on the live store's wake channel; True when one was written."""
        if not counter:
            return False
        self.r.publish(self.key("wake"), orjson.dumps({"s": f"@{field}", "v": int(counter)}))
        return True

    def clear(self) -> None:
        self.r.delete(self.key(ALARMS), self.key(OPS), self.key("opsrev"), self.key("alarm-events"))
        self.r.hincrby(self.key("opversions"), ALARMS, 1)
        self.r.hincrby(self.key("opversions"), OPS, 1)

    # ---- readers -------------------------------------------------------------------------
    def versions(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.r.hgetall(self.key("opversions")).items()}

    def alarms(self) -> list[dict]:
        return [orjson.loads(v) for v in self.r.hvals(self.key(ALARMS))]

    def alarm(self, alarm_id: int | str) -> dict | None:
        raw = self.r.hget(self.key(ALARMS), str(alarm_id))
        return orjson.loads(raw) if raw else None

    def overlays(self) -> dict[str, dict]:
        return {k.decode(): orjson.loads(v) for k, v in self.r.hgetall(self.key(OPS)).items()}

    def overlay_many(self, uids: list[str]) -> list[dict | None]:
        if not uids:
            return []
        return [orjson.loads(v) if v else None for v in self.r.hmget(self.key(OPS), uids)]

    def events_since(self, last_id: str = "0-0", count: int = 1000) -> tuple[list[dict], str]:
        entries = self.r.xrange(self.key("alarm-events"), min=f"({last_id}" if last_id != "0-0" else "-", count=count)
        out = [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]
        return out, (entries[-1][0].decode() if entries else last_id)
