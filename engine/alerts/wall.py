"""What a wall screen may see of alarms and of the operators' overlay (issue 9, wall side).

The wall polls `{p}:opversions` and reads the rest only when it moved. What leaves here is
a projection: an alarm's id, rule, level, state, count, first firing, silence, its message
in the wall's language, the subject's uid and position, and the wall tiles it concerns;
of an incident's overlay, who owns it, the agency and who acknowledged it. Nothing of
the record itself (its details, a caller's number) is copied.
"""
from __future__ import annotations

from engine.alerts.alarms import LEVEL_RANK
from engine.alerts.live import OpsLive
from engine.live import LiveStore
from engine.wall.views import TILE_ORDER

MAX_ALARMS = 50     # a wall shows a few; the console holds the queue
MAX_OVERLAYS = 500  # the most recently changed overlays: more than a wall's incident list holds
ACTIVE = ("firing", "acknowledged")


def tiles_of(record: dict | None) -> list[str]:
    """The wall tiles (engine.wall.views.TILE_ORDER) an alarm on `record` concerns."""
    if record is None:
        return []
    kind = record.get("kind")
    if kind == "reading":
        return ["gauges_alert"] if record.get("quantity") == "water_level" else []
    if kind == "price":
        return ["price_change"]
    if kind != "incident":
        return []
    if record.get("category") in ("earthquake", "tsunami"):
        return ["latest_quake"]
    domain = record.get("domain")
    if domain == "emergency":
        return ["open_incidents", "calls_hour"]
    if domain == "complaint":
        return ["complaints_overdue"]
    return ["open_incidents"]


def position_of(record: dict | None) -> list[float] | None:
    """[lat, lon] of the record, None when it has no point."""
    if not record or record.get("lat") is None or record.get("lon") is None:
        return None
    return [float(record["lat"]), float(record["lon"])]


def wall_alarm(alarm: dict, record: dict | None, language: str) -> dict:
    message = alarm.get("message") or {}
    tiles = [t for t in tiles_of(record) if t in TILE_ORDER]
    return {
        "id": alarm["id"], "rule": alarm["rule"], "level": alarm["level"], "state": alarm["state"],
        "count": alarm["count"], "uid": alarm["uid"], "first_fired": alarm["first_fired"],
        "last_fired": alarm.get("last_fired"), "silent": bool(alarm.get("silent")),
        "message": message.get(language) or message.get("id") or "",
        "position": position_of(record), "tiles": tiles,
    }


def wall_order(alarms) -> list[dict]:
    """Unacknowledged first, then the loudest, then the newest."""
    newest_first = sorted(alarms, key=lambda a: a["first_fired"] or "", reverse=True)
    return sorted(newest_first, key=lambda a: (a["state"] != "firing", -LEVEL_RANK.get(a["level"], 0)))


def active_alarms(ops: OpsLive, live: LiveStore, language: str, limit: int = MAX_ALARMS) -> list[dict]:
    """The active alarms as a wall shows them (see `wall_alarm`), most pressing first."""
    active = wall_order(a for a in ops.alarms() if a["state"] in ACTIVE)[:limit]
    with_subject = [a for a in active if a["subject"]]
    found = live.get_many([(a["source"], a["subject"]) for a in with_subject])
    records = {a["id"]: rec for a, rec in zip(with_subject, found)}
    return [wall_alarm(a, records.get(a["id"]), language) for a in active]


def wall_overlay(overlay: dict, agencies: dict | None = None) -> dict | None:
    """An incident's overlay as the wall's list shows it; None when it has nothing to show."""
    agency = overlay.get("agency")
    name = agencies[agency].name if agencies and agency in agencies else agency
    shown = {"owner": overlay.get("owner"), "agency": name, "agency_id": agency, "unit": overlay.get("unit"),
             "ack_by": overlay.get("acknowledged_by"), "ack_at": overlay.get("acknowledged_at")}
    return shown if any(shown.values()) else None


def list_overlays(ops: OpsLive, agencies: dict | None = None, limit: int = MAX_OVERLAYS) -> dict[str, dict]:
    """uid -> owner, agency, unit and acknowledgement, the most recently changed first."""
    newest = sorted(ops.overlays().items(), key=lambda kv: kv[1].get("updated_at") or "", reverse=True)
    out = {}
    for uid, overlay in newest:
        shown = wall_overlay(overlay, agencies)
        if shown:
            out[uid] = shown
            if len(out) >= limit:
                break
    return out


def wall_alarm_view(ops: OpsLive, live: LiveStore, language: str, agencies: dict | None = None,
                    seen: dict[str, int] | None = None) -> tuple[dict[str, int], dict | None]:
    """(versions, view): the operator-data versions now, and the wall's alarm store
    (`{"alarms": [...], "ops": {uid: ...}}`), or None when `seen` is already current
    (then only the versions hash was read)."""
    now = ops.versions()
    versions = {"alarms": now.get("alarms", 0), "ops": now.get("ops", 0)}
    if seen is not None and versions == seen:
        return versions, None
    return versions, {"alarms": active_alarms(ops, live, language), "ops": list_overlays(ops, agencies)}
