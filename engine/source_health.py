"""Rows of the /sources page: each configured source's health and its latest rejects."""
from __future__ import annotations

import hashlib
from datetime import datetime

from engine.records import WITA


def status_of(meta: dict, health: dict | None, now: datetime) -> str:
    """ok | late | failing | waiting | disabled: `late` is a source whose last
    success is older than its promise although its last poll did not fail."""
    if not meta.get("enabled", True):
        return "disabled"
    if not health or not health.get("last_attempt"):
        return "waiting"
    if health.get("status") == "failing":
        return "failing"
    last = health.get("last_success")
    if not last:
        return "waiting"
    age = (now - datetime.fromisoformat(last)).total_seconds()
    return "late" if age > (meta.get("stale_after") or 180) else "ok"


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
            "interval": meta.get("interval"), "stale_after": meta.get("stale_after"),
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
