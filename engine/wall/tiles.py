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
                                     then), `_form` (what it was made with); `mp`, `ms`
                                     count the source's map points and shapes
- `{p}:tiles:{source}:k`      hash  record id -> its contribution (compact JSON)
- `{p}:tiles:{source}:z:{n}`  zset  record id -> time (rows, calls, emerg, quake),
                                     resolution deadline (due), minus alert level (galert)
- `{p}:tiles:{source}:r:{n}`  hash  station -> records naming it (sa: readings, sw: gauges)
- `{p}:tiles:{source}:p`      hash  price id -> [commodity, market, date, value]
"""
from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime, timezone
from typing import NamedTuple

import orjson

from engine.live import LiveStore
from engine.records import OPEN_STATUSES
from engine.wall import views

FORM = 2  # bump when a contribution's meaning changes: aggregates of another form are rebuilt
REPLAY_LIMIT = 2000  # more changes than this behind: rebuild from the records
ZSETS = ("rows", "calls", "emerg", "due", "quake", "galert")
REFS = ("sa", "sw")

# The scripts below run atomically in Redis: an aggregate is read as one state and moved
# as one step. Key names are built from ARGV[1], the aggregate's key base.

# What `render` returns: counters, the two time windows, overdue complaints, the ids and
# contributions of the worst three gauges, the latest quake's contribution, the prices,
# distinct gauge stations, distinct reading stations.
_RENDER = """
local function render(b, since, before)
  local top = redis.call('zrange', b .. ':z:galert', 0, 2)
  local picked = {}
  for i, id in ipairs(top) do picked[i] = redis.call('hget', b .. ':k', id) or '' end
  local quake = redis.call('zrevrange', b .. ':z:quake', 0, 0)
  local q = ''
  if #quake > 0 then q = redis.call('hget', b .. ':k', quake[1]) or '' end
  return {'tiles', redis.call('hgetall', b .. ':c'),
          redis.call('zcount', b .. ':z:calls', since, '+inf'), redis.call('zcount', b .. ':z:emerg', since, '+inf'),
          redis.call('zcount', b .. ':z:due', '-inf', before), picked, q, redis.call('hgetall', b .. ':p'),
          redis.call('hlen', b .. ':r:sw'), redis.call('hlen', b .. ':r:sa')}
end
"""

# ARGV: base, stream key, versions key, source, form, wanted version, replay limit, since, before,
# the source's records key. The rendering when the aggregate is at the wanted version or newer;
# else {'replay', as_of, newest stream id, the source's version, then (id, record) of each
# record of the source that changed}; {'build'} when the aggregate is missing, of another
# form, or the stream no longer reaches back to it.
_SUMMARY = _RENDER + """
local b = ARGV[1]
local meta = redis.call('hmget', b .. ':c', '_as_of', '_ver', '_form')
local as_of = meta[1]
if not as_of or not meta[2] or meta[3] ~= ARGV[5] then return {'build'} end
if tonumber(meta[2]) >= tonumber(ARGV[6]) then
  -- the source unchanged since: its aggregate is as of the stream's head, so that other
  -- sources' changes do not leave it behind the stream's reach
  if redis.call('hget', ARGV[3], ARGV[4]) == meta[2] then
    local head = redis.call('xrevrange', ARGV[2], '+', '-', 'COUNT', 1)
    if #head > 0 and head[1][1] ~= as_of then redis.call('hset', b .. ':c', '_as_of', head[1][1]) end
  end
  return render(b, ARGV[8], ARGV[9])
end
local limit = tonumber(ARGV[7])
local entries = redis.call('xrange', ARGV[2], '(' .. as_of, '+', 'COUNT', limit + 1)
if #entries > limit then return {'build'} end
if as_of ~= '0-0' and #redis.call('xrange', ARGV[2], as_of, as_of) == 0 then return {'build'} end
local out, seen = {'replay', as_of, as_of, redis.call('hget', ARGV[3], ARGV[4]) or '0'}, {}
for _, e in ipairs(entries) do
  out[3] = e[1]
  local f, s, i = e[2], nil, nil
  for j = 1, #f, 2 do
    if f[j] == 's' then s = f[j + 1] elseif f[j] == 'i' then i = f[j + 1] end
  end
  if s == ARGV[4] and i and not seen[i] then
    seen[i] = true
    out[#out + 1] = i
    out[#out + 1] = redis.call('hget', ARGV[10], i)  -- false (nil to the caller): gone
  end
end
return out
"""

# ARGV: base, expected _as_of, new _as_of, new _ver, since, before, then (id, contribution
# or "" when gone) pairs. Each record's old contribution is taken off and the new one put
# on; then the rendering. {'stale'}: another reader moved the aggregate first.
_APPLY = _RENDER + """
local b = ARGV[1]
if redis.call('hget', b .. ':c', '_as_of') ~= ARGV[2] then return {'stale'} end
local function put(c, id, sign)
  for _, name in ipairs(c.c or {}) do
    if redis.call('hincrby', b .. ':c', name, sign) == 0 then redis.call('hdel', b .. ':c', name) end
  end
  for _, name in ipairs(c.z or {}) do
    if sign > 0 then redis.call('zadd', b .. ':z:' .. name, c.t, id) else redis.call('zrem', b .. ':z:' .. name, id) end
  end
  for name, score in pairs(c.o or {}) do
    if sign > 0 then redis.call('zadd', b .. ':z:' .. name, score, id) else redis.call('zrem', b .. ':z:' .. name, id) end
  end
  for name, member in pairs(c.r or {}) do
    if redis.call('hincrby', b .. ':r:' .. name, member, sign) <= 0 then redis.call('hdel', b .. ':r:' .. name, member) end
  end
  if c.p then
    if sign > 0 then redis.call('hset', b .. ':p', id, c.p) else redis.call('hdel', b .. ':p', id) end
  end
end
for i = 7, #ARGV, 2 do
  local id, new = ARGV[i], ARGV[i + 1]
  local old = redis.call('hget', b .. ':k', id) or ''
  if old ~= new then
    if old ~= '' then put(cjson.decode(old), id, -1) end
    if new ~= '' then
      put(cjson.decode(new), id, 1)
      redis.call('hset', b .. ':k', id, new)
    else
      redis.call('hdel', b .. ':k', id)
    end
  end
end
redis.call('hset', b .. ':c', '_as_of', ARGV[3], '_ver', ARGV[4])
return render(b, ARGV[5], ARGV[6])
"""


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def contribution(rec: dict, kcfg=None) -> dict:
    """What one record adds to its source's tiles, headline and map counts (see the module doc)."""
    kind = rec["kind"]
    if kind == "price":
        return {"p": orjson.dumps([rec["commodity"], rec["market"], rec["date"], rec["value"]]).decode()}
    if kind == "incident":
        out = _incident(rec, kcfg)
    elif kind == "reading":
        out = _reading(rec)
    elif kind == "position":
        boat = rec.get("vehicle_type") == "boat"
        fishing = boat and bool((rec.get("details") or {}).get("engaged_in_fishing"))
        out = {"c": ["pos"] + (["boat"] if boat else []) + (["fish"] if fishing else [])}
    else:
        out = {"c": []}
    out["c"] += ["mp"] * views.has_point(rec) + ["ms"] * views.has_shape(rec)  # the map layer's points, shapes
    return out if out["c"] or len(out) > 1 else {}


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


class Summary(NamedTuple):
    tiles: list[dict]
    headline: dict | None
    map: dict  # {"points", "shapes"}: the features of the source's map layer


class SourceTiles:
    """The aggregates of every source in one live store, for one `kpi` block."""

    def __init__(self, live: LiveStore, kcfg=None):
        self.live, self.kcfg = live, kcfg
        made_with = kcfg.model_dump_json() if kcfg is not None else ""
        self.form = f"{FORM}:{hashlib.blake2b(made_with.encode(), digest_size=6).hexdigest()}"
        self._scripts = {}

    def base(self, source: str) -> str:
        return self.live.key("tiles", source)

    # ---- keeping an aggregate current and reading it ---------------------------------------
    def _script(self, name: str, text: str):
        if name not in self._scripts:
            self._scripts[name] = self.live.r.register_script(text)
        return self._scripts[name]

    def summary(self, source: str, version: int, now: datetime, reply: list | None = None) -> Summary:
        """(tiles at `now`, headline, map counts) of a source whose version is at least `version`, as
        views.wall_tiles, views.source_headline and views.layer_geojson over its records give
        them. Brings the aggregate up first: replays the source's changes since it, or builds it. `reply`:
        the summary script's answer when it was already asked (see `summaries`)."""
        window = _window(now)
        for attempt in range(4):
            if reply is None:
                wanted = version if attempt < 3 else 0  # others kept moving it: what is there is newer still
                reply = self._script("summary", _SUMMARY)(args=self._summary_args(source, wanted, window))
            if reply[0] == b"replay":
                reply = self._replay(source, reply[1:], window)
            if reply[0] == b"tiles":
                return Summary(self._tiles(source, reply[1:]), self._headline(reply[1:]), _map_counts(reply[1]))
            if reply[0] == b"build":
                self.build(source)
            reply = None
        raise RuntimeError(f"the tiles of {source} could not be read")  # never seen: three builds in a row moved

    def summaries(self, wanted: list[tuple[str, int]], now: datetime) -> dict[str, Summary]:
        """`summary` of several sources, asked in one round trip (a minute's tick asks every source)."""
        pipe = self.live.r.pipeline(transaction=False)
        script, window = self._script("summary", _SUMMARY), _window(now)
        for source, version in wanted:
            script(args=self._summary_args(source, version, window), client=pipe)
        replies = pipe.execute()
        return {source: self.summary(source, version, now, reply) for (source, version), reply in zip(wanted, replies)}

    def _summary_args(self, source: str, version: int, window: list[str]) -> list:
        return [self.base(source), self.live.key("changes"), self.live.key("versions"), source, self.form, version,
                REPLAY_LIMIT, *window, self.live.key("rec", source)]

    def _replay(self, source: str, reply: list, window: list[str]) -> list:
        """Put the changed records' contributions in place of their old ones; the rendering or ['stale']."""
        args = [self.base(source), *reply[:3], *window]
        for rid, stored in zip(reply[3::2], reply[4::2]):
            args += [rid, encode(contribution(orjson.loads(stored), self.kcfg)) if stored else ""]
        return self._script("apply", _APPLY)(args=args)

    def _tiles(self, source: str, reply: list) -> list[dict]:
        raw, recent, emergencies, overdue, picked, quake, prices = reply[:7]
        n = _counters(raw)
        has = lambda counter: [source] if n.get(counter) else []  # noqa: E731
        top = [orjson.loads(c) for c in picked if c]
        latest = orjson.loads(quake) if quake else None
        return [
            views.open_tile(_by_severity(n, "oc:"), has("nd")),
            views.calls_tile(recent, emergencies, bool(n.get("call")), has("call")),
            views.gauges_tile(n.get("galert", 0), _worst_level(n), bool(n.get("gauge")), has("gauge"),
                              [(c["l"], -int(float(c["o"]["galert"]))) for c in top]),
            views.complaints_tile(overdue, n.get("cmpo", 0), bool(n.get("cmp")), has("cmp")),
            views.price_change_today([_price(source, prices[i], prices[i + 1]) for i in range(0, len(prices), 2)]),
            views.quake_tile(latest["q"] if latest else None, [source] if latest else []),
        ]

    @staticmethod
    def _headline(reply: list) -> dict | None:
        n, water_stations, stations = _counters(reply[0]), reply[7], reply[8]
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

    def rows(self, source: str, version: int, limit: int, language: str) -> list[dict]:
        """The source's newest `limit` incidents as rows, as views.incident_rows gives them."""
        self.summary(source, version, datetime.now(timezone.utc))
        ids = [i.decode() for i in self.live.r.zrevrange(self.base(source) + ":z:rows", 0, limit - 1)]
        found = (orjson.loads(v) for v in self.live.raw_by_id(source, ids).values())
        return views.incident_rows(found, limit, language)  # as they are now (one may have changed since)


def _window(now: datetime) -> list[str]:
    """The scripts' time bounds: calls since an hour ago (inclusive), deadlines before now (exclusive)."""
    at = now.timestamp()
    return [repr(at - 3600), f"({at!r}"]


def _counters(flat: list[bytes]) -> dict[str, int]:
    """A HGETALL's flat reply of the counters hash, without its `_` fields."""
    pairs = zip(flat[::2], flat[1::2])
    return {k.decode(): int(v) for k, v in pairs if not k.startswith(b"_")}


def _map_counts(flat: list[bytes]) -> dict[str, int]:
    n = _counters(flat)
    return {"points": n.get("mp", 0), "shapes": n.get("ms", 0)}


def _by_severity(n: dict[str, int], prefix: str) -> dict[str, int]:
    return {k.removeprefix(prefix): v for k, v in n.items() if k.startswith(prefix)}


def _worst_level(n: dict[str, int]) -> int:
    return max((int(k.removeprefix("glv:")) for k, v in n.items() if k.startswith("glv:") and v), default=0)


def _price(source: str, rid: bytes, raw: bytes) -> dict:
    commodity, market, date, value = orjson.loads(raw)
    return {"id": rid.decode(), "source": source, "commodity": commodity, "market": market, "date": date, "value": value}
