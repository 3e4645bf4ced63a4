"""What the operator console shows, from the live store: the alarm queue as grid rows and
the changes since the rows a screen holds, and one page of the incident list (operators'
overlay merged, filtered, bounded).

Rows carry only what the console shows: nothing of a record's `details` (where a
caller's private data lives) is copied into them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from engine.alerts.alarms import LEVEL_RANK
from engine.alerts.live import OpsLive
from engine.alerts.operations import effective_status, merge_overlay
from engine.live import HEALTH, LiveStore
from engine.records import OPEN_STATUSES, STATUSES, status_rank

ALARM_ROWS = 500  # the queue's head: more active alarms than this is an outage, not a queue
PAGE_SIZE = 50
SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


# ---- the alarm queue ---------------------------------------------------------------------------

def queue_key(alarm: dict) -> str:
    """A text that sorts like `alarms.queue_order`, so the grid keeps the queue's order
    as rows come and go one by one: unacknowledged first, then by level, then oldest first."""
    waiting = "0" if alarm["state"] == "firing" else "1"
    return f"{waiting}{2 - LEVEL_RANK.get(alarm['level'], 0)}{alarm['first_fired'] or ''}"


def alarm_row(alarm: dict, lang: str) -> dict:
    message = alarm.get("message") or {}
    return {
        "key": str(alarm["id"]), "id": alarm["id"], "level": alarm["level"], "state": alarm["state"],
        "message": message.get(lang) or message.get("id") or "", "count": alarm["count"],
        "first_fired": alarm["first_fired"], "acknowledged_by": alarm["acknowledged_by"],
        "acknowledged_at": alarm["acknowledged_at"], "released_by": alarm["released_by"], "scene": alarm["scene"],
        "uid": alarm["uid"], "version": alarm["version"], "order": queue_key(alarm),
    }


def alarm_rows(queue: list[dict], lang: str, limit: int = ALARM_ROWS) -> list[dict]:
    """`queue` (from `engine.alerts.alarm_queue`, already in order) as grid rows, its head only."""
    return [alarm_row(a, lang) for a in queue[:limit]]


@dataclass
class RowChanges:
    add: list[dict] = field(default_factory=list)
    update: list[dict] = field(default_factory=list)
    remove: list[dict] = field(default_factory=list)
    held: dict[str, int] = field(default_factory=dict)  # row key -> version, what the screen holds after

    def __bool__(self) -> bool:
        return bool(self.add or self.update or self.remove)

    def transaction(self) -> dict:
        return {"add": self.add, "update": self.update, "remove": self.remove}


def row_changes(held: dict[str, int], rows: list[dict]) -> RowChanges:
    """The rows a screen lacks or holds at another version, and the keys it holds that are gone."""
    out = RowChanges(held={r["key"]: r["version"] for r in rows})
    for row in rows:
        known = held.get(row["key"])
        if known is None:
            out.add.append(row)
        elif known != row["version"]:
            out.update.append(row)
    out.remove = [{"key": key} for key in held if key not in out.held]
    return out


# ---- the incident list -------------------------------------------------------------------------

@dataclass(frozen=True)
class IncidentFilter:
    source: tuple[str, ...] = ()
    domain: tuple[str, ...] = ()
    status: tuple[str, ...] = ()  # the status shown (the operators' where it counts, see effective_status)
    severity: tuple[str, ...] = ()
    kecamatan: tuple[str, ...] = ()
    agency: tuple[str, ...] = ()  # agency ids of config.yaml `agencies:`
    unassigned: bool = False
    text: str = ""

    def keeps(self, rec: dict, overlay: dict | None, shown: str | None) -> bool:
        """Whether the feed's record `rec`, with the operators' `overlay` and the status
        `shown`, is in the list (checked before any row is built)."""
        agency = (overlay or {}).get("agency")
        checks = ((self.source, rec["source"]), (self.domain, rec.get("domain") or ""), (self.status, shown),
                  (self.severity, rec.get("severity")), (self.kecamatan, rec.get("kecamatan")), (self.agency, agency))
        if any(wanted and value not in wanted for wanted, value in checks):
            return False
        if self.unassigned and agency:
            return False
        return not self.text or self.text.casefold() in search_text(rec)


def search_text(rec: dict) -> str:
    return " ".join(str(rec.get(k) or "") for k in ("title", "category", "source", "id", "kecamatan", "desa")).casefold()


def incident_row(merged: dict) -> dict:
    """One incident (feed record with the overlay merged) as the list shows it."""
    ops = merged.get("ops") or {}
    return {
        "uid": f"{merged['source']}:{merged['id']}", "source": merged["source"], "id": merged["id"],
        "title": merged.get("title") or "", "category": merged.get("category") or "", "domain": merged.get("domain") or "",
        "severity": merged.get("severity") or "medium", "status": merged.get("effective_status") or merged.get("status"),
        "feed_status": merged.get("status"), "kecamatan": merged.get("kecamatan"), "desa": merged.get("desa"),
        "reported_at": merged.get("reported_at"), "agency_id": ops.get("agency"), "agency": merged.get("agency"),
        "unit": ops.get("unit"), "owner": merged.get("owner"), "acknowledged_by": merged.get("acknowledged_by"),
        "last_note": merged.get("last_note"),
    }


def incident_sources(live: LiveStore) -> list[str]:
    """The sources whose records may be incidents: a vessel or bus feed's thousands of
    positions are never read. A source without a description is read, to be safe."""
    described = live.sources()
    return sorted(s for s in live.versions() if s != HEALTH
                  and "incident" in (described.get(s, {}).get("kinds") or ["incident"]))


# A web worker keeps each source's parsed incidents for as long as the source's version
# stands (and a minute at most, in case Redis restarted and counts versions afresh): a
# busy 112 feed then costs one source's parsing per change, not every source's.
_PARSED: dict[tuple, tuple[int, float, list[dict]]] = {}
_PARSED_SECONDS = 60


def _kept(client, key: str, version: int | None, read):
    """`read()`, or what it gave last time while `version` stands."""
    slot = (id(client.connection_pool), key)
    held = _PARSED.get(slot)
    now = time.monotonic()
    if held and version is not None and held[0] == version and now - held[1] < _PARSED_SECONDS:
        return held[2]
    found = read()
    if len(_PARSED) > 256:
        _PARSED.clear()
    if version is not None:
        _PARSED[slot] = (version, now, found)
    return found


def _incidents_of(live: LiveStore, source: str, version: int | None) -> list[dict]:
    return _kept(live.r, live.key("rec", source), version,
                 lambda: [r for r in live.raw_records(source) if r.get("kind") == "incident"])


def live_overlays(ops: OpsLive) -> dict[str, dict]:
    """Every overlay ("source:record_id" -> overlay), read again only when one changed."""
    return _kept(ops.r, ops.key("ops"), ops.versions().get("ops"), ops.overlays)


def live_incidents(live: LiveStore, sources: list[str] | None = None) -> list[dict]:
    """Every incident record in the live store, as the feeds wrote them (shared: never change them)."""
    versions = live.versions()  # before the records: a change in between shows at the next poll
    sources = incident_sources(live) if sources is None else sources
    return [r for s in sources for r in _incidents_of(live, s, versions.get(s))]


def in_list_order(found: list[tuple[dict, dict | None, str | None]]) -> list[tuple]:
    """(record, overlay, status shown): open incidents first, then the most severe, then the newest."""
    newest_first = sorted(found, key=lambda f: f[0].get("reported_at") or "", reverse=True)
    return sorted(newest_first, key=lambda f: (f[2] not in OPEN_STATUSES, -SEVERITY_RANK.get(f[0].get("severity"), 0)))


def incident_page(live: LiveStore, ops: OpsLive, agencies: dict, wanted: IncidentFilter, page: int = 1,
                  page_size: int = PAGE_SIZE, sources: list[str] | None = None) -> tuple[list[dict], int]:
    """The rows of page `page` (from 1) of the filtered list, and how many rows match in all.
    Filters and order work on the records as they are; rows are built for the page only."""
    overlays = live_overlays(ops)
    kept = []
    for rec in live_incidents(live, sources):
        overlay = overlays.get(f"{rec['source']}:{rec['id']}")
        shown = effective_status(rec.get("status"), overlay)
        if wanted.keeps(rec, overlay, shown):
            kept.append((rec, overlay, shown))
    start = (max(page, 1) - 1) * page_size
    shown_rows = in_list_order(kept)[start:start + page_size]
    return [incident_row(merge_overlay(rec, overlay, agencies)) for rec, overlay, _ in shown_rows], len(kept)


def forward_statuses(shown: str | None) -> list[str]:
    """The statuses an operator may move an incident to from `shown` (forward only)."""
    rank = status_rank(shown) if shown else -1
    return [s for s in STATUSES if status_rank(s) > rank]
