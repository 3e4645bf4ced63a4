"""What the operator console shows, from the live store: the alarm queue as grid rows and
the changes since the rows a screen holds, and one page of the incident list (operators'
overlay merged, filtered, bounded).

Rows carry only what the console shows: nothing of a record's `details` (where a
caller's private data lives) is copied into them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.alerts.alarms import LEVEL_RANK
from engine.alerts.live import OpsLive
from engine.alerts.operations import with_overlays
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

    def keeps(self, row: dict) -> bool:
        checks = ((self.source, row["source"]), (self.domain, row["domain"]), (self.status, row["status"]),
                  (self.severity, row["severity"]), (self.kecamatan, row["kecamatan"]), (self.agency, row["agency_id"]))
        if any(wanted and value not in wanted for wanted, value in checks):
            return False
        if self.unassigned and row["agency_id"]:
            return False
        return not self.text or self.text.casefold() in row["search"]


def incident_row(merged: dict) -> dict:
    """One incident (feed record with the overlay merged) as the list shows it."""
    ops = merged.get("ops") or {}
    row = {
        "uid": f"{merged['source']}:{merged['id']}", "source": merged["source"], "id": merged["id"],
        "title": merged.get("title") or "", "category": merged.get("category") or "", "domain": merged.get("domain") or "",
        "severity": merged.get("severity") or "medium", "status": merged.get("effective_status") or merged.get("status"),
        "feed_status": merged.get("status"), "kecamatan": merged.get("kecamatan"), "desa": merged.get("desa"),
        "reported_at": merged.get("reported_at"), "agency_id": ops.get("agency"), "agency": merged.get("agency"),
        "unit": ops.get("unit"), "owner": merged.get("owner"), "acknowledged_by": merged.get("acknowledged_by"),
        "last_note": merged.get("last_note"),
    }
    row["search"] = " ".join(str(row[k] or "") for k in ("title", "category", "source", "id", "kecamatan", "desa")).casefold()
    return row


def incident_sources(live: LiveStore) -> list[str]:
    """The sources whose records may be incidents: a vessel or bus feed's thousands of
    positions are never read. A source without a description is read, to be safe."""
    described = live.sources()
    return sorted(s for s in live.versions() if s != HEALTH
                  and "incident" in (described.get(s, {}).get("kinds") or ["incident"]))


def live_incidents(live: LiveStore, sources: list[str] | None = None) -> list[dict]:
    """Every incident record in the live store, as the feeds wrote them."""
    sources = incident_sources(live) if sources is None else sources
    return [r for s in sources for r in live.raw_records(s) if r.get("kind") == "incident"]


def in_list_order(rows: list[dict]) -> list[dict]:
    """Open incidents first, then the most severe, then the newest (two stable sorts)."""
    newest_first = sorted(rows, key=lambda r: r["reported_at"] or "", reverse=True)
    return sorted(newest_first, key=lambda r: (r["status"] not in OPEN_STATUSES, -SEVERITY_RANK.get(r["severity"], 0)))


def incident_page(live: LiveStore, ops: OpsLive, agencies: dict, wanted: IncidentFilter, page: int = 1,
                  page_size: int = PAGE_SIZE, sources: list[str] | None = None) -> tuple[list[dict], int]:
    """The rows of page `page` (from 1) of the filtered list, and how many rows match in all."""
    rows = [incident_row(m) for m in with_overlays(live_incidents(live, sources), ops, agencies)]
    kept = in_list_order([r for r in rows if wanted.keeps(r)])
    start = (max(page, 1) - 1) * page_size
    return [{k: v for k, v in r.items() if k != "search"} for r in kept[start:start + page_size]], len(kept)


def forward_statuses(shown: str | None) -> list[str]:
    """The statuses an operator may move an incident to from `shown` (forward only)."""
    rank = status_rank(shown) if shown else -1
    return [s for s in STATUSES if status_rank(s) > rank]


def reopen_statuses() -> list[str]:
    return [s for s in STATUSES if s in OPEN_STATUSES]
