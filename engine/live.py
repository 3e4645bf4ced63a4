"""The live store on Redis: current state per source, versions, health, a change stream.

Keys (prefix `dmy` by default):
- `{p}:rec:{source}`   hash  record id -> record JSON (what the wall shows now)
- `{p}:versions`       hash  source -> int, bumped only when that source's live data
                             changes; `health` -> int, bumped when health changes
- `{p}:health`         hash  source -> health JSON
- `{p}:sources`        hash  source -> description JSON (title, adapter, kinds, interval)
- `{p}:changes`        stream of {s: source, i: id, op: u|d, k: kind}, trimmed to a bound
- `{p}:rejects:{source}` list of the latest rejects, newest first
- `{p}:parts`          hash  part -> state JSON: how Damamaya's own parts are (see `parts_status`)
                             `database`          {"state": "up"|"down", "since", "error", "by", "at"}
                             `spool:{writer}`    {"backlog": n, "oldest": time or null, "at"}
                             `collector:{owner}` {"at": heartbeat time, "sources": [...], "polling": [...]}
- `{p}:alive`          string, written by each collector; its absence tells a collector
                             Redis came back empty (restarted without data) and must be refilled
- `{p}:lock:{source}`  string, the owner of a source's poll lock (expires)
- `{p}:delivery:{source}:{id}` string, a pushed delivery already taken (expires)
- `{p}:epoch`          string, this store's generation (random, made on first use; see `epoch`)
- `{p}:wake`           pub/sub channel: {s: source or `health`, v: new version} after every bump
Everything but the locks can be rebuilt from the history store (`damamaya rebuild-live`).
"""
from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Iterable

import orjson
import redis
from redis.exceptions import RedisError

from engine.records import record_from_json
from engine.wall.state import is_screen_id

HEARTBEAT_EVERY = 5.0  # seconds between two heartbeat writes of one wall from one process
HEALTH = "health"  # the field of the versions hash bumped when any source's health changes; never a source name
# kept by `clear`: the running collectors' poll locks, the parts they report, their sentinel
_KEPT = ("lock:", "parts", "alive", "delivery:")

# Take the lock when it is free or already ours (a collector restarted under the
# same identity takes its own stale locks at once), and extend it.
_TAKE_LOCK = """
local v = redis.call('get', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE_LOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class LiveStore:
    def __init__(self, client: redis.Redis, prefix: str = "dmy", stream_length: int = 10_000, reject_length: int = 50):
        self.r = client
        self.p = prefix
        self.stream_length = stream_length
        self.reject_length = reject_length
        self._seen: dict[str, float] = {}  # screen -> when this process last wrote its heartbeat

    def key(self, *parts: str) -> str:
        return ":".join((self.p, *parts))

    # ---- collector side -----------------------------------------------------------
    def describe_sources(self, descriptions: dict[str, dict]) -> None:
        pipe = self.r.pipeline()
        pipe.delete(self.key("sources"))
        if descriptions:
            pipe.hset(self.key("sources"), mapping={k: orjson.dumps(v) for k, v in descriptions.items()})
        pipe.execute()

    def apply(self, source: str, upserts: Iterable, removals: Iterable[str] = ()) -> int:
        """Write changed records and remove gone ones in one transaction; bump the
        source's version only if something changed. Returns the new version or 0."""
        upserts, removals = list(upserts), list(removals)
        if not upserts and not removals:
            return 0
        pipe = self.r.pipeline(transaction=True)
        rec_key, stream = self.key("rec", source), self.key("changes")
        if upserts:
            pipe.hset(rec_key, mapping={r.id: orjson.dumps(r.model_dump(mode="json")) for r in upserts})
        if removals:
            pipe.hdel(rec_key, *removals)
        for r in upserts:
            pipe.xadd(stream, {"s": source, "i": r.id, "op": "u", "k": r.kind}, maxlen=self.stream_length, approximate=True)
        for rid in removals:
            pipe.xadd(stream, {"s": source, "i": rid, "op": "d", "k": ""}, maxlen=self.stream_length, approximate=True)
        pipe.hincrby(self.key("versions"), source, 1)
        version = int(pipe.execute()[-1])
        self.wake(source, version)
        return version

    def set_health(self, source: str, health: dict, bump: bool) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(self.key("health"), source, orjson.dumps(health))
        if bump:
            pipe.hincrby(self.key("versions"), HEALTH, 1)
        done = pipe.execute()
        if bump:
            self.wake(HEALTH, int(done[-1]))

    def wake(self, source: str, version: int) -> None:
        """Tell push processes (`{p}:wake`) that `source` is now at `version`: a signal, not the data."""
        self.r.publish(self.key("wake"), orjson.dumps({"s": source, "v": version}))

    def push_rejects(self, source: str, rejects: list[dict]) -> None:
        if not rejects:
            return
        key = self.key("rejects", source)
        pipe = self.r.pipeline()
        pipe.lpush(key, *[orjson.dumps(r) for r in rejects[-self.reject_length:]])  # the last pushed is the head
        pipe.ltrim(key, 0, self.reject_length - 1)
        pipe.execute()

    def ids(self, source: str) -> set[str]:
        return {k.decode() for k in self.r.hkeys(self.key("rec", source))}

    def raw_by_id(self, source: str, ids: list[str]) -> dict[str, bytes]:
        """The stored JSON of the given records, for those the store holds."""
        if not ids:
            return {}
        return {i: v for i, v in zip(ids, self.r.hmget(self.key("rec", source), ids)) if v is not None}

    def clear(self) -> None:
        """Drop the data this store holds (the screens' cached views too), not the
        running collectors' poll locks, the parts they report or their sentinel."""
        kept = tuple(self.key(k).encode() for k in _KEPT)
        for key in self.r.scan_iter(match=self.key("*"), count=1000):
            if not key.startswith(kept):
                self.r.delete(key)

    # ---- poll locks, sentinel and parts ----------------------------------------------
    def take_lock(self, source: str, owner: str, seconds: float) -> bool:
        return bool(self.r.eval(_TAKE_LOCK, 1, self.key("lock", source), owner, int(seconds * 1000)))

    def force_lock(self, source: str, owner: str, seconds: float) -> None:
        """Set the lock to `owner` whoever held it: the database lease decided."""
        self.r.set(self.key("lock", source), owner, px=int(seconds * 1000))

    def release_lock(self, source: str, owner: str) -> None:
        self.r.eval(_RELEASE_LOCK, 1, self.key("lock", source), owner)

    def lock_owner(self, source: str) -> str | None:
        value = self.r.get(self.key("lock", source))
        return value.decode() if value else None

    def mark_alive(self, owner: str) -> None:
        self.r.set(self.key("alive"), owner)

    def is_marked_alive(self) -> bool:
        return bool(self.r.exists(self.key("alive")))

    def set_part(self, part: str, state: dict) -> None:
        self.r.hset(self.key("parts"), part, orjson.dumps(state))

    def drop_part(self, part: str) -> None:
        self.r.hdel(self.key("parts"), part)

    def parts(self) -> dict[str, dict]:
        return {k.decode(): orjson.loads(v) for k, v in self.r.hgetall(self.key("parts")).items()}

    def take_delivery(self, source: str, delivery_id: str, seconds: float) -> bool:
        """Note a pushed delivery id for `seconds`; False when it was noted before."""
        return bool(self.r.set(self.key("delivery", source, delivery_id), b"1", nx=True, ex=max(1, int(seconds))))

    # ---- wall screens' heartbeat ---------------------------------------------------
    def screen_seen(self, screen: str, at: float) -> None:
        """A wall screen polled: the control room can see which walls are alive. Only a
        server-issued screen id is a field here, never what a client makes up."""
        if not is_screen_id(screen):
            raise ValueError("not a screen id the server issued")
        # a wall polls every second or two; it is called silent after 15 s at the least, so one
        # write per HEARTBEAT_EVERY from this process says as much and spares the idle poll a write
        if at - self._seen.get(screen, float("-inf")) < HEARTBEAT_EVERY:
            return
        if len(self._seen) > 10_000:
            self._seen.clear()
        self._seen[screen] = at
        self.r.hset(self.key("screens"), screen, f"{at:.0f}")

    def screens(self) -> dict[str, float]:
        return {k.decode(): float(v) for k, v in self.r.hgetall(self.key("screens")).items()}

    def screens_seen_since(self, since: float) -> dict[str, float]:
        """Screens heard from since `since`; older ones are forgotten on the way."""
        screens = self.screens()
        gone = [k for k, v in screens.items() if v < since]
        if gone:
            self.r.hdel(self.key("screens"), *gone)
        return {k: v for k, v in screens.items() if v >= since}

    # ---- web side -----------------------------------------------------------------
    def versions(self) -> dict[str, int]:
        """Every source's data version, plus the health version under HEALTH."""
        return {k.decode(): int(v) for k, v in self.r.hgetall(self.key("versions")).items()}

    def raw_all(self, source: str) -> dict[str, bytes]:
        """Every record of the source: id -> the stored JSON."""
        return {k.decode(): v for k, v in self.r.hgetall(self.key("rec", source)).items()}

    def raw_records(self, source: str) -> list[dict]:
        return [orjson.loads(v) for v in self.r.hvals(self.key("rec", source))]

    def records(self, source: str) -> list:
        return [record_from_json(v) for v in self.r.hvals(self.key("rec", source))]

    def get_many(self, pairs: list[tuple[str, str]]) -> list[dict | None]:
        """(source, id) pairs -> record dicts, None where gone."""
        pipe = self.r.pipeline()
        for source, rid in pairs:
            pipe.hget(self.key("rec", source), rid)
        return [orjson.loads(v) if v else None for v in pipe.execute()]

    def health(self) -> dict[str, dict]:
        return {k.decode(): orjson.loads(v) for k, v in self.r.hgetall(self.key("health")).items()}

    def sources(self) -> dict[str, dict]:
        return {k.decode(): orjson.loads(v) for k, v in self.r.hgetall(self.key("sources")).items()}

    def rejects(self, source: str, limit: int = 20) -> list[dict]:
        return [orjson.loads(v) for v in self.r.lrange(self.key("rejects", source), 0, limit - 1)]

    def epoch(self) -> str:
        """This store's generation: made when first asked, dropped by `clear` (and lost with the
        store), so names built from versions (which count from 1 again) never repeat."""
        key = self.key("epoch")
        self.r.set(key, secrets.token_hex(8), nx=True)
        return self.r.get(key).decode()

    def stream_head(self) -> str:
        """The id of the newest change, '0-0' when there is none."""
        last = self.r.xrevrange(self.key("changes"), count=1)
        return last[0][0].decode() if last else "0-0"

    def changes_since(self, last_id: str, limit: int = 2000) -> tuple[list[dict], str, bool]:
        """Changes after `last_id`: (entries, newest id, complete); each entry holds its own
        stream id under "at". `complete` is False
        when the stream no longer reaches back to `last_id` or holds more than
        `limit` entries: the reader must then reload in full."""
        stream = self.key("changes")
        entries = self.r.xrange(stream, min=f"({last_id}", count=limit + 1)
        if last_id != "0-0":
            first = self.r.xrange(stream, count=1)
            if first and _id_tuple(first[0][0].decode()) > _id_tuple(last_id) and not self.r.xrange(stream, min=last_id, max=last_id):
                return [], self.stream_head(), False
        if len(entries) > limit:
            return [], self.stream_head(), False
        out = [{**{k.decode(): v.decode() for k, v in fields.items()}, "at": sid.decode()} for sid, fields in entries]
        newest = entries[-1][0].decode() if entries else last_id
        return out, newest, True


def _id_tuple(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def parts_status(live: LiveStore, now: datetime | None = None, collector_silent_after: float = 60) -> dict:
    """Which of Damamaya's own parts are down, for every screen to say so.

    {"redis": {"state": "up"|"down", "error"?},
     "database": {"state": "up"|"down"|"unknown", "since"?, "error"?},
     "spool": {"backlog": n, "oldest": time or None},   # records waiting for the database
     "collectors": [{"owner", "state": "up"|"silent", "at", "polling"}],
     "down": ["redis"|"database"|"collector:{owner}", ...]}   # empty when all is well

    Never raises: a Redis that cannot be reached is the answer "redis down"
    (then nothing else is known)."""
    now = now or datetime.now(timezone.utc)
    try:
        raw = live.parts()
    except (RedisError, OSError) as exc:
        return {"redis": {"state": "down", "error": type(exc).__name__}, "database": {"state": "unknown"},
                "spool": {"backlog": 0, "oldest": None}, "collectors": [], "down": ["redis"]}
    database = raw.get("database") or {"state": "unknown"}
    spools = [v for k, v in raw.items() if k.startswith("spool:")]
    oldest = min((s["oldest"] for s in spools if s.get("oldest")), default=None)
    collectors = []
    for key, value in raw.items():
        if key.startswith("collector:"):
            age = (now - datetime.fromisoformat(value["at"])).total_seconds()
            collectors.append({"owner": key.removeprefix("collector:"), "at": value["at"],
                               "polling": value.get("polling", []),
                               "state": "up" if age <= collector_silent_after else "silent"})
    down = (["database"] if database.get("state") == "down" else []) + \
        [f"collector:{c['owner']}" for c in collectors if c["state"] == "silent"]
    return {"redis": {"state": "up"}, "database": database,
            "spool": {"backlog": sum(s.get("backlog", 0) for s in spools), "oldest": oldest},
            "collectors": sorted(collectors, key=lambda c: c["owner"]), "down": down}
