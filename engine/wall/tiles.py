"""The wall's KPI tiles, source headlines and incident list kept per source in Redis,
advanced by the change stream: a change costs in proportion to what changed, not to
how many records the source holds.

Each live record has a *contribution*: the counters it adds one to, its times in a few
sorted sets, the station it names, its price. A source's aggregate is the sum of its
records' contributions, and keeps each record's last contribution so that a change
takes the old one off and puts the new one on (one Lua script, atomic). The tiles and
headline are then built from counters, the time windows (calls in the last hour,
complaints past deadline) are `ZCOUNT`s, the gauges' top 3, the latest quake and the
newest incidents are ranges of sorted indexes. The dicts built are those of
engine/wall/views.py, from its builders (tests/test_wall_tiles.py checks they equal
the functions over all records, after random inserts, updates and deletes).

Keys, under the live store's prefix (`LiveStore.clear` drops them; everything here is
rebuilt from the source's records when missing, made for another `kpi` block, or too
far behind the change stream):
- `{p}:tiles:{source}:c`      hash  counter -> n; `_as_of` (stream id the aggregate has
                                     every change up to), `_ver` (the source's version
                                     then), `_form` (what it was made with)
- `{p}:tiles:{source}:k`      hash  record id -> its contribution (compact JSON)
- `{p}:tiles:{source}:z:{n}`  zset  record id -> time (rows, calls, emerg, quake),
                                     resolution deadline (due), minus alert level (galert)
- `{p}:tiles:{source}:r:{n}`  hash  station -> records naming it (sa: readings, sw: gauges)
- `{p}:tiles:{source}:p`      hash  price id -> [commodity, market, date, value]
"""
from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime

import orjson

from engine.live import LiveStore
from engine.records import OPEN_STATUSES
from engine.wall import views

FORM = 1  # bump when a contribution's meaning changes: aggregates of another form are rebuilt
REPLAY_LIMIT = 2000  # more changes than this behind: rebuild from the records
ZSETS = ("rows", "calls", "emerg", "due", "quake", "galert")
REFS = ("sa", "sw")

# KEYS: counters hash, contributions hash. ARGV: key base, expected _as_of, new _as_of,
# new _ver, then (id, contribution or "" when gone) pairs. 0: someone else moved it first.
_APPLY = """
local base = ARGV[1]
if redis.call('hget', KEYS[1], '_as_of') ~= ARGV[2] then return 0 end
local function put(c, id, sign)
  for _, name in ipairs(c.c or {}) do
    if redis.call('hincrby', KEYS[1], name, sign) == 0 then redis.call('hdel', KEYS[1], name) end
  end
  for _, name in ipairs(c.z or {}) do
    if sign > 0 then redis.call('zadd', base .. ':z:' .. name, c.t, id) else redis.call('zrem', base .. ':z:' .. name, id) end
  end
  for name, score in pairs(c.o or {}) do
    if sign > 0 then redis.call('zadd', base .. ':z:' .. name, score, id) else redis.call('zrem', base .. ':z:' .. name, id) end
  end
  for name, member in pairs(c.r or {}) do
    if redis.call('hincrby', base .. ':r:' .. name, member, sign) <= 0 then redis.call('hdel', base .. ':r:' .. name, member) end
  end
  if c.p then
    if sign > 0 then redis.call('hset', base .. ':p', id, c.p) else redis.call('hdel', base .. ':p', id) end
  end
end
for i = 5, #ARGV, 2 do
  local id, new = ARGV[i], ARGV[i + 1]
  local old = redis.call('hget', KEYS[2], id) or ''
  if old ~= new then
    if old ~= '' then put(cjson.decode(old), id, -1) end
    if new ~= '' then
      put(cjson.decode(new), id, 1)
      redis.call('hset', KEYS[2], id, new)
    else
      redis.call('hdel', KEYS[2], id)
    end
  end
end
redis.call('hset', KEYS[1], '_as_of', ARGV[3], '_ver', ARGV[4])
return 1
"""


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def contribution(rec: dict, kcfg=None) -> dict:
    """What one record adds to its source's tiles and headline (see the module doc)."""
    kind = rec["kind"]
    if kind == "incident":
        return _incident(rec, kcfg)
    if kind == "reading":
        return _reading(rec)
    if kind == "position":
        boat = rec.get("vehicle_type") == "boat"
        fishing = boat and bool((rec.get("details") or {}).get("engaged_in_fishing"))
        return {"c": ["pos"] + (["boat"] if boat else []) + (["fish"] if fishing else [])}
    if kind == "price":
        return {"p": orjson.dumps([rec["commodity"], rec["market"], rec["date"], rec["value"]]).decode()}
    return {}


def _incident(rec: dict, kcfg) -> dict:
    severity, domain, category = rec["severity"], rec["domain"], rec["category"]
    is_open = rec["status"] in OPEN_STATUSES
    counters, zsets, other = ["inc"], ["rows"], {}
    if domain not in ("disaster", "weather"):
        counters.append("nd")
    if is_open:
        counters.append(f"oa:{severity}")
        if rec.get("in_city") is not False:
            counters.append(f"oc:{severity}")
    if domain == "emergency":
        counters.append("call")
        zsets += ["calls"] if category in views.NON_EMERGENCY else ["calls", "emerg"]
    if domain == "complaint":
        counters += ["cmp", "cmpo"] if is_open else ["cmp"]
        due = views.complaint_due(rec, kcfg) if is_open else None
        if due is not None:
            other["due"] = repr(due.timestamp())
    out = {"c": counters, "t": repr(_ts(rec["reported_at"])), "z": zsets}
    if category in views.QUAKE_CATEGORIES:
        out["z"].append("quake")
        details = rec.get("details") or {}
        out["q"] = {"reported_at": rec["reported_at"], "category": category, "severity": severity, "title": rec.get("title"),
                    "details": {k: details[k] for k in ("magnitude", "region") if k in details}}
    if other:
        out["o"] = other
    return out


def _reading(rec: dict) -> dict:
    counters, refs, out = ["rd"], {"sa": rec["station"]}, {}
    if rec["quantity"] == "water_level":
        level = int(rec.get("alert_level") or 0)
        counters += ["gauge", f"glv:{level}"]
        refs["sw"] = rec["station"]
        if level >= 1:
            counters.append("galert")
            out.update(o={"galert": repr(float(-level))}, l=rec.get("station_name") or rec["station"])
    elif rec["quantity"] == "camera_online":
        counters += ["cam", "camon"] if rec["value"] >= 1 else ["cam"]
    return {"c": counters, "r": refs, **out}


def encode(c: dict) -> str:
    return orjson.dumps(c).decode() if c else ""


class SourceTiles:
    """The aggregates of every source in one live store, for one `kpi` block."""

    def __init__(self, live: LiveStore, kcfg=None):
        self.live, self.kcfg = live, kcfg
        made_with = kcfg.model_dump_json() if kcfg is not None else ""
        self.form = f"{FORM}:{hashlib.blake2b(made_with.encode(), digest_size=6).hexdigest()}"
        self._script = None

    def base(self, source: str) -> str:
        return self.live.key("tiles", source)

    # ---- keeping an aggregate current ------------------------------------------------------
    def _meta(self, source: str) -> dict[str, str]:
        raw = self.live.r.hmget(self.base(source) + ":c", "_as_of", "_ver", "_form")
        return {k: v.decode() for k, v in zip(("as_of", "ver", "form"), raw) if v is not None}

    def _fresh(self, meta: dict, version: int) -> bool:
        return meta.get("form") == self.form and "as_of" in meta and int(meta.get("ver", -1)) >= version

    def ensure(self, source: str, version: int) -> None:
        """Bring a source's aggregate to at least `version` (a version read from the store)."""
        for _ in range(3):
            meta = self._meta(source)
            if self._fresh(meta, version):
                return
            if meta.get("form") != self.form or "as_of" not in meta or not self._advance(source, meta["as_of"]):
                self.build(source)
                return
        self.build(source)  # other readers kept moving it: take the records as they are

    def _stream_since(self, source: str, as_of: str):
        """(changes after `as_of`, newest id, the source's version), read at one instant; None
        when the stream no longer reaches back to `as_of` or holds too many changes."""
        stream = self.live.key("changes")
        pipe = self.live.r.pipeline(transaction=True)
        pipe.xrange(stream, min=f"({as_of}", count=REPLAY_LIMIT + 1)
        pipe.xrange(stream, count=1)
        pipe.xrange(stream, min=as_of, max=as_of) if as_of != "0-0" else pipe.echo("")
        pipe.hget(self.live.key("versions"), source)
        entries, first, at_as_of, version = pipe.execute()
        if len(entries) > REPLAY_LIMIT:
            return None
        if as_of != "0-0" and not at_as_of and (not first or _id(first[0][0]) > _id(as_of.encode())):
            return None  # trimmed past `as_of`, or the stream was emptied
        newest = entries[-1][0].decode() if entries else as_of
        return entries, newest, int(version or 0)

    def _advance(self, source: str, as_of: str) -> bool:
        """Replay the changes after `as_of`; False when they cannot be replayed (rebuild)."""
        read = self._stream_since(source, as_of)
        if read is None:
            return False
        entries, newest, version = read
        name = source.encode()
        ids = list(dict.fromkeys(f[b"i"].decode() for _, f in entries if f.get(b"s") == name))
        stored = self.live.raw_by_id(source, ids)
        args = [self.base(source), as_of, newest, version]
        for rid in ids:
            args += [rid, encode(contribution(orjson.loads(stored[rid]), self.kcfg)) if rid in stored else ""]
        base = self.base(source)
        if self._script is None:
            self._script = self.live.r.register_script(_APPLY)
        self._script(keys=[base + ":c", base + ":k"], args=args)
        return True  # a 0 (another reader moved it first) is seen by `ensure`'s next look

    def build(self, source: str) -> None:
        """The aggregate from all the source's records (first use, or too far behind)."""
        pipe = self.live.r.pipeline(transaction=True)
        pipe.xrevrange(self.live.key("changes"), count=1)
        pipe.hget(self.live.key("versions"), source)
        head, version = pipe.execute()
        as_of = head[0][0].decode() if head else "0-0"  # read before the records: a change after is replayed
        counters, zsets, refs, prices, contribs = Counter(), {n: {} for n in ZSETS}, {n: Counter() for n in REFS}, {}, {}
        for raw in self.live.r.hvals(self.live.key("rec", source)):
            rec = orjson.loads(raw)
            c = contribution(rec, self.kcfg)
            if not c:
                continue
            rid = rec["id"]
            contribs[rid] = encode(c)
            counters.update(c.get("c", ()))
            for name in c.get("z", ()):
                zsets[name][rid] = float(c["t"])
            for name, score in c.get("o", {}).items():
                zsets[name][rid] = float(score)
            for name, member in c.get("r", {}).items():
                refs[name][member] += 1
            if "p" in c:
                prices[rid] = c["p"]
        self._write(source, as_of, int(version or 0), counters, zsets, refs, prices, contribs)

    def _write(self, source, as_of, version, counters, zsets, refs, prices, contribs) -> None:
        base = self.base(source)
        pipe = self.live.r.pipeline(transaction=True)
        pipe.delete(base + ":c", base + ":k", base + ":p", *(f"{base}:z:{n}" for n in ZSETS), *(f"{base}:r:{n}" for n in REFS))
        pipe.hset(base + ":c", mapping={**counters, "_as_of": as_of, "_ver": version, "_form": self.form})
        for key, mapping in ((base + ":k", contribs), (base + ":p", prices)):
            if mapping:
                pipe.hset(key, mapping=mapping)
        for name, scores in zsets.items():
            if scores:
                pipe.zadd(f"{base}:z:{name}", scores)
        for name, members in refs.items():
            if members:
                pipe.hset(f"{base}:r:{name}", mapping=dict(members))
        pipe.execute()

    # ---- reading it ---------------------------------------------------------------------------
    def _counters(self, source: str) -> dict[str, int]:
        raw = self.live.r.hgetall(self.base(source) + ":c")
        return {k.decode(): int(v) for k, v in raw.items() if not k.startswith(b"_")}

    def tiles(self, source: str, version: int, now: datetime) -> list[dict]:
        """The source's tiles at `now`, as views.wall_tiles over its records gives them."""
        self.ensure(source, version)
        base, at = self.base(source), now.timestamp()
        pipe = self.live.r.pipeline(transaction=True)
        pipe.hgetall(base + ":c")
        pipe.zcount(base + ":z:calls", at - 3600, "+inf")
        pipe.zcount(base + ":z:emerg", at - 3600, "+inf")
        pipe.zcount(base + ":z:due", "-inf", f"({at!r}")
        pipe.zrange(base + ":z:galert", 0, 2)
        pipe.zrevrange(base + ":z:quake", 0, 0)
        pipe.hgetall(base + ":p")
        raw, recent, emergencies, overdue, top, quake, prices = pipe.execute()
        n = {k.decode(): int(v) for k, v in raw.items() if not k.startswith(b"_")}
        picked = self._contributions(source, top + quake)
        has = lambda counter: [source] if n.get(counter) else []  # noqa: E731
        top_gauges = [(picked[i]["l"], int(-float(picked[i]["o"]["galert"]))) for i in top if i in picked]
        latest = picked.get(quake[0]) if quake else None
        return [
            views.open_tile(_by_severity(n, "oc:"), has("nd")),
            views.calls_tile(recent, emergencies, bool(n.get("call")), has("call")),
            views.gauges_tile(n.get("galert", 0), _worst_level(n), bool(n.get("gauge")), has("gauge"), top_gauges),
            views.complaints_tile(overdue, n.get("cmpo", 0), bool(n.get("cmp")), has("cmp")),
            views.price_change_today([_price(source, rid, raw_price) for rid, raw_price in prices.items()]),
            views.quake_tile(latest["q"] if latest else None, [source] if quake else []),
        ]

    def _contributions(self, source: str, ids: list[bytes]) -> dict[bytes, dict]:
        if not ids:
            return {}
        raw = self.live.r.hmget(self.base(source) + ":k", ids)
        return {i: orjson.loads(v) for i, v in zip(ids, raw) if v}

    def headline(self, source: str, version: int) -> dict | None:
        """The source's headline, as views.source_headline over its records gives it."""
        self.ensure(source, version)
        base = self.base(source)
        pipe = self.live.r.pipeline(transaction=True)
        pipe.hgetall(base + ":c")
        pipe.hlen(base + ":r:sw")
        pipe.hlen(base + ":r:sa")
        raw, water_stations, stations = pipe.execute()
        n = {k.decode(): int(v) for k, v in raw.items() if not k.startswith(b"_")}
        if n.get("inc"):
            return views.open_headline(_by_severity(n, "oa:"))
        if n.get("cam"):
            return views.cameras_headline(n.get("camon", 0), n["cam"])
        if n.get("gauge"):
            return views.gauges_headline(n.get("galert", 0), water_stations, _worst_level(n))
        if n.get("pos"):
            return views.positions_headline(n.get("boat", 0), n.get("fish", 0), n["pos"])
        if n.get("rd"):
            return views.stations_headline(stations)
        return None

    def rows(self, source: str, version: int, limit: int, language: str) -> list[dict]:
        """The source's newest `limit` incidents as rows, as views.incident_rows gives them."""
        self.ensure(source, version)
        ids = [i.decode() for i in self.live.r.zrevrange(self.base(source) + ":z:rows", 0, limit - 1)]
        found = (orjson.loads(v) for v in self.live.raw_by_id(source, ids).values())
        return views.incident_rows(found, limit, language)  # as they are now (one may have changed since)


def _by_severity(n: dict[str, int], prefix: str) -> dict[str, int]:
    return {k.removeprefix(prefix): v for k, v in n.items() if k.startswith(prefix)}


def _worst_level(n: dict[str, int]) -> int:
    return max((int(k.removeprefix("glv:")) for k, v in n.items() if k.startswith("glv:") and v), default=0)


def _price(source: str, rid: bytes, raw: bytes) -> dict:
    commodity, market, date, value = orjson.loads(raw)
    return {"id": rid.decode(), "source": source, "commodity": commodity, "market": market, "date": date, "value": value}


def _id(stream_id: bytes) -> tuple[int, int]:
    ms, _, seq = stream_id.decode().partition("-")
    return int(ms), int(seq or 0)
