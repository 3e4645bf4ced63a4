"""The live store on Redis: current state per source, versions, health, a change stream.

Keys (prefix `dmy` by default):
- `{p}:rec:{source}`   hash  record id -> record JSON (what the wall shows now)
- `{p}:versions`       hash  source -> int, bumped only when that source's live data
                             changes; `health` -> int, bumped when health changes
- `{p}:health`         hash  source -> health JSON
- `{p}:sources`        hash  source -> description JSON (title, adapter, kinds, interval)
- `{p}:changes`        stream of {s: source, i: id, op: u|d, k: kind}, trimmed to a bound
- `{p}:rejects:{source}` list of the latest rejects, newest first
- `{p}:wake`           pub/sub channel: {s: source or `health`, v: new version} after every bump
Everything here can be rebuilt from the history store (`damamaya rebuild-live`).
"""
from __future__ import annotations

from typing import Iterable

import orjson
import redis

from engine.records import record_from_json

HEALTH = "health"  # the field of the versions hash bumped when any source's health changes; never a source name


class LiveStore:
    def __init__(self, client: redis.Redis, prefix: str = "dmy", stream_length: int = 10_000, reject_length: int = 50):
        self.r = client
        self.p = prefix
        self.stream_length = stream_length
        self.reject_length = reject_length

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

    def clear(self) -> None:
        """Drop everything this store owns (the flask-caching entries too)."""
        for key in self.r.scan_iter(match=self.key("*"), count=1000):
            self.r.delete(key)

    # ---- wall screens' heartbeat ---------------------------------------------------
    def screen_seen(self, screen: str, at: float) -> None:
        """A wall screen polled: the control room can see which walls are alive."""
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

    def has_data(self) -> bool:
        """Whether any source's live data is here (a new or emptied Redis has none)."""
        return any(k != HEALTH for k in self.versions())

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

    def stream_head(self) -> str:
        """The id of the newest change, '0-0' when there is none."""
        last = self.r.xrevrange(self.key("changes"), count=1)
        return last[0][0].decode() if last else "0-0"

    def changes_since(self, last_id: str, limit: int = 2000) -> tuple[list[dict], str, bool]:
        """Changes after `last_id`: (entries, newest id, complete). `complete` is False
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
        out = [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]
        newest = entries[-1][0].decode() if entries else last_id
        return out, newest, True


def _id_tuple(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)
