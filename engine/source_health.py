"""Source health for the screens: each source's state (computed here, once, on the
server), the rows of the /sources page, its rejects and the wall screens' heartbeats.

A source is stale when its last poll failed or its last success is older than its
promise (`stale_after`, from `SourceConfig.stale_seconds`, written into the source's
description by the collector's wiring). Screens get the verdict and the times; the
browser only renders ages.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import orjson

from engine.live import parts_status
from engine.records import WITA


@dataclass(frozen=True)
class SourceState:
    status: str                    # ok | late | failing | waiting | disabled
    stale: bool                    # its data on screen is not current
    last_success: str | None       # ISO time of the last good poll
    failing_since: str | None
    stale_at: float | None         # epoch seconds when an ok source turns late; None when it cannot


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def _promise(meta: dict, health: dict) -> float | None:
    return meta.get("stale_after") or health.get("stale_after")


def source_state(meta: dict, health: dict | None, now: datetime) -> SourceState:
    health = health or {}
    last, failing_since = health.get("last_success"), health.get("failing_since")
    if not meta.get("enabled", True):
        return SourceState("disabled", False, last, None, None)
    if not health.get("last_attempt"):
        return SourceState("waiting", False, last, None, None)
    if health.get("status") == "failing":
        return SourceState("failing", True, last, failing_since, None)
    if not last:
        return SourceState("waiting", False, None, None, None)
    promise = _promise(meta, health)
    if promise is None:  # a source described without a promise is never late by age
        return SourceState("ok", False, last, None, None)
    stale_at = _epoch(last) + promise
    if now.timestamp() > stale_at:
        return SourceState("late", True, last, None, None)
    return SourceState("ok", False, last, None, stale_at)


def status_of(meta: dict, health: dict | None, now: datetime) -> str:
    """ok | late | failing | waiting | disabled."""
    return source_state(meta, health, now).status


def parts_notes(parts: dict) -> list[dict]:
    """What every screen says of Damamaya's own parts that are down (from
    `engine.live.parts_status`), as messages: the history database down since when and
    what waits in the spool, a spool still being replayed, a silent collector. Redis
    down needs no note here: a screen that cannot read Redis shows its outage view."""
    notes = []
    database, spool = parts.get("database") or {}, parts.get("spool") or {}
    backlog = int(spool.get("backlog") or 0)
    if database.get("state") == "down":
        notes.append({"msg": "parts.database_down", "since": _hhmm(database.get("since")), "n": backlog})
    elif backlog:
        notes.append({"msg": "parts.spool_replaying", "n": backlog})
    for collector in parts.get("collectors") or []:
        if collector.get("state") == "silent":
            notes.append({"msg": "parts.collector_silent", "owner": collector["owner"],
                          "since": _hhmm(collector.get("at"))})
    return notes


def _hhmm(value: str | None) -> str:
    return datetime.fromisoformat(value).astimezone(WITA).strftime("%H:%M") if value else "—"


def wall_health(sources: dict[str, dict], health: dict[str, dict], now: datetime, parts: dict | None = None) -> dict:
    """What the wall's chips and tiles need of every enabled source, the notes of parts
    that are down, and `due`: the next time (epoch s) a verdict changes by the clock
    alone, so the wall knows when to ask again."""
    out, due = {}, None
    for name, meta in sources.items():
        if not meta.get("enabled", True):
            continue
        state = source_state(meta, health.get(name), now)
        out[name] = {"title": meta.get("title") or name, "stale": state.stale, "waiting": state.status == "waiting",
                     "last_success": state.last_success, "failing_since": state.failing_since}
        if state.stale_at is not None:
            due = state.stale_at if due is None else min(due, state.stale_at)
    return {"sources": out, "due": due, "parts": parts_notes(parts or {})}


def _wita(value: str | None) -> str:
    return datetime.fromisoformat(value).astimezone(WITA).strftime("%d/%m %H:%M:%S") if value else ""


def source_rows(sources: dict[str, dict], health: dict[str, dict], now: datetime) -> list[dict]:
    rows = []
    for name, meta in sources.items():
        h = health.get(name) or {}
        rows.append({
            "source": name, "title": meta.get("title") or name, "adapter": meta.get("adapter", ""),
            "status": status_of(meta, h, now),
            "last_success": h.get("last_success"),
            "interval": meta.get("interval"), "stale_after": _promise(meta, h),
            "records": h.get("records", 0), "rejects_last": h.get("rejects_last", 0), "rejects_total": h.get("rejects_total", 0),
            "polls": h.get("polls", 0), "duration_ms": h.get("duration_ms"),
            "last_error": h.get("last_error") or "", "last_error_at": _wita(h.get("last_error_at")),
            "failing_since": _wita(h.get("failing_since")),
        })
    order = {"failing": 0, "late": 1, "waiting": 2, "ok": 3, "disabled": 4}
    return sorted(rows, key=lambda r: (order[r["status"]], r["title"]))


def reject_rows(rejects_by_source: dict[str, list[dict]], limit: int = 200) -> list[dict]:
    """The latest rejects, newest first; a feed that sends the same bad item on every
    poll shows it once, with how many times it came."""
    seen: dict[tuple, dict] = {}
    for source, items in rejects_by_source.items():
        for r in items:
            key = (source, r.get("reason", ""), r.get("item") or "", r.get("ref") or "")
            row = seen.get(key)
            if row is None:
                seen[key] = {"source": source, "at": r.get("at", ""), "time": _wita(r.get("at")), "reason": key[1],
                             "item": key[2][:200], "ref": key[3], "times": 1}
            else:
                row["times"] += 1
                if r.get("at", "") > row["at"]:
                    row["at"], row["time"] = r["at"], _wita(r["at"])
    rows = sorted(seen.values(), key=lambda r: r["at"], reverse=True)[:limit]
    for row in rows:
        digest = hashlib.blake2b(f"{row['reason']}\x00{row['item']}\x00{row['ref']}".encode(), digest_size=6).hexdigest()
        row["rid"] = f"{row['source']}:{digest}"  # stable across workers, so the grid keeps its rows
    return rows


def screen_rows(screens: dict[str, float], now: float, poll_seconds: float) -> list[dict]:
    """Wall screens by heartbeat: silent when no poll came for 3 poll intervals (at least 15 s)."""
    limit = max(3 * poll_seconds, 15)
    rows = [{"screen": screen, "last_seen": datetime.fromtimestamp(at, WITA).strftime("%d/%m %H:%M:%S"),
             "last_seen_ts": at, "status": "alive" if now - at <= limit else "silent"}
            for screen, at in screens.items()]
    return sorted(rows, key=lambda r: -r["last_seen_ts"])


REJECTS_PER_SOURCE = 20


def sources_view(live, now: datetime, poll_seconds: float) -> dict:
    """Everything the /sources page shows, from the live store: {"sources", "rejects",
    "screens", "digest"}; the digest changes only when something shown changes
    (statuses depend on the clock, so they are part of it)."""
    sources, health = live.sources(), live.health()
    rejects = {name: live.rejects(name, REJECTS_PER_SOURCE) for name in sources}
    screens = live.screens_seen_since(now.timestamp() - 86400)
    rows = source_rows(sources, health, now)
    screen_list = screen_rows(screens, now.timestamp(), poll_seconds)
    notes = parts_notes(parts_status(live, now))
    digest = hashlib.blake2b(orjson.dumps([rows, rejects, [(s["screen"], s["status"]) for s in screen_list], notes]),
                             digest_size=8).hexdigest()
    return {"sources": rows, "rejects": reject_rows(rejects), "screens": screen_list, "parts": notes, "digest": digest}
