"""What operators do to incidents, kept apart from what feeds say.

An incident's overlay (`incident_ops`) holds its owner, the agency and unit it is
assigned to, its operational status, who acknowledged its alarm and the last
note. Feeds write `records`; operators write only here, so the feed's next poll
never undoes an assignment, an acknowledgement or a note. Every action is an
audit row in `incident_actions` (who, when, what, before, after) written in the
same transaction as the overlay, which changes by compare-and-set on its version.

Operational status moves forward through `engine.records.STATUSES`; going back
to an open status is `reopen`, an explicit action with a reason. The status a
screen shows (`effective_status`) is the operators' when they reopened the
incident or have taken it at least as far as the feed, else the feed's.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

import orjson
from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from engine.alerts.config import Agency
from engine.alerts.live import OpsLive
from engine.alerts.schema import ensure_schema, incident_actions, incident_ops
from engine.history import History, records
from engine.records import OPEN_STATUSES, STATUSES, WITA, status_rank, utcnow

OVERLAY_FIELDS = ("owner", "agency", "unit", "op_status", "reopened", "acknowledged_by", "acknowledged_at",
                  "last_note", "last_note_by", "last_note_at")
CLOSED_RANK = status_rank("resolved")


class OperationError(Exception):
    """An action that cannot be done, with a sentence saying why."""


def _iso(t):
    return t.isoformat() if isinstance(t, datetime) else t


def overlay_dict(row) -> dict:
    m = row._mapping
    return {"source": m["source"], "record_id": m["record_id"], **{k: _iso(m[k]) for k in OVERLAY_FIELDS},
            "reopened": bool(m["reopened"]), "updated_by": m["updated_by"], "updated_at": _iso(m["updated_at"]),
            "version": m["version"]}


def effective_status(feed_status: str | None, overlay: dict | None) -> str | None:
    op = (overlay or {}).get("op_status")
    if not op:
        return feed_status
    if overlay.get("reopened") or feed_status is None or status_rank(op) >= status_rank(feed_status):
        return op
    return feed_status


def merge_overlay(rec: dict, overlay: dict | None, agencies: dict[str, Agency] | None = None) -> dict:
    """The live record as screens show it: the feed's fields, plus the operators' under
    `ops` and, for lists, `owner`, `agency`, `effective_status`, `acknowledged_by`, `last_note`."""
    out = dict(rec)
    overlay = overlay or {}
    agency = overlay.get("agency")
    out["ops"] = {k: overlay.get(k) for k in OVERLAY_FIELDS}
    out["ops"]["agency_name"] = agencies[agency].name if agencies and agency in agencies else agency
    out["owner"] = overlay.get("owner")
    out["agency"] = out["ops"]["agency_name"]
    out["acknowledged_by"] = overlay.get("acknowledged_by")
    out["last_note"] = overlay.get("last_note")
    out["effective_status"] = effective_status(rec.get("status"), overlay) if rec.get("kind") == "incident" else None
    return out


def with_overlays(recs: list[dict], live: OpsLive, agencies: dict[str, Agency] | None = None) -> list[dict]:
    """Merge each record's overlay from the live store (one HMGET for the lot)."""
    overlays = live.overlay_many([f"{r['source']}:{r['id']}" for r in recs])
    return [merge_overlay(r, o, agencies) for r, o in zip(recs, overlays)]


class Operations:
    def __init__(self, history: History, live: OpsLive, agencies: dict[str, Agency], alarms=None):
        self.history = history
        self.engine = history.engine
        self.live = live
        self.agencies = agencies
        self.alarms = alarms  # resolves an incident's alarms when an operator closes it
        ensure_schema(self.engine)

    # ---- actions --------------------------------------------------------------------------------
    def assign(self, source: str, record_id: str, agency: str, user: str, unit: str | None = None,
               note: str = "", now: datetime | None = None) -> dict:
        if agency not in self.agencies:
            raise OperationError(f"unknown agency {agency!r} (known: {', '.join(self.agencies) or 'none configured'})")
        unit = (unit or "").strip() or None
        known_units = self.agencies[agency].units
        if unit and known_units and unit not in known_units:
            raise OperationError(f"unknown unit {unit!r} of {agency} (known: {', '.join(known_units)})")

        def change(current: dict, feed_status: str) -> dict:
            if current.get("agency") == agency and current.get("unit") == unit:
                return current
            return {**current, "agency": agency, "unit": unit, "owner": current.get("owner") or user}

        return self._change(source, record_id, "assign", user, note, change, now)

    def set_status(self, source: str, record_id: str, status: str, user: str, note: str = "",
                   now: datetime | None = None) -> dict:
        if status not in STATUSES:
            raise OperationError(f"unknown status {status!r} (known: {', '.join(STATUSES)})")

        def change(current: dict, feed_status: str) -> dict:
            shown = effective_status(feed_status, current)
            if status == shown:
                return current
            if status_rank(status) <= status_rank(shown):
                raise OperationError(f"status moves forward only, and this incident is already {shown}: "
                                     "reopening is its own action, with a reason")
            return {**current, "op_status": status, "owner": current.get("owner") or user,
                    "reopened": bool(current.get("reopened")) and status in OPEN_STATUSES}

        overlay = self._change(source, record_id, "status", user, note, change, now)
        if status_rank(status) >= CLOSED_RANK and self.alarms is not None:
            self.alarms.resolve_subject(source, record_id, user, f"incident {status} by the operator", now or utcnow())
        return overlay

    def reopen(self, source: str, record_id: str, user: str, reason: str, status: str = "acknowledged",
               now: datetime | None = None) -> dict:
        if not (reason or "").strip():
            raise OperationError("reopening needs a reason")
        if status not in OPEN_STATUSES:
            raise OperationError(f"reopen to an open status ({', '.join(s for s in STATUSES if s in OPEN_STATUSES)})")

        def change(current: dict, feed_status: str) -> dict:
            shown = effective_status(feed_status, current)
            if shown in OPEN_STATUSES:
                raise OperationError(f"the incident is still open ({shown}): nothing to reopen")
            return {**current, "op_status": status, "reopened": True, "owner": current.get("owner") or user}

        return self._change(source, record_id, "reopen", user, reason, change, now)

    def add_note(self, source: str, record_id: str, user: str, note: str, now: datetime | None = None) -> dict:
        note = (note or "").strip()
        if not note:
            raise OperationError("a note needs some text")
        at = now or utcnow()

        def change(current: dict, feed_status: str) -> dict:
            return {**current, "last_note": note[:2000], "last_note_by": user, "last_note_at": at.isoformat()}

        return self._change(source, record_id, "note", user, note, change, at)

    def record_acknowledgement(self, alarm: dict, user: str, now: datetime) -> dict | None:
        """An alarm on this incident was acknowledged: the incident's list row shows who has it."""
        def change(current: dict, feed_status: str) -> dict:
            return {**current, "acknowledged_by": user, "acknowledged_at": now.isoformat(),
                    "owner": current.get("owner") or user}

        try:
            return self._change(alarm["source"], alarm["subject"], "acknowledge", user, f"alarm {alarm['id']} ({alarm['rule']})",
                                change, now)
        except OperationError:  # the alarm's subject is not an incident (a gauge reading): nothing to show
            return None

    # ---- the compare-and-set ----------------------------------------------------------------------
    def _change(self, source: str, record_id: str, action: str, user: str, note: str,
                change: Callable[[dict, str], dict], now: datetime | None) -> dict:
        user = (user or "").strip()
        if not user:
            raise OperationError(f"{action} needs the name of the user who does it")
        now = now or utcnow()
        for _ in range(5):
            feed_status = self._feed_status(source, record_id)
            row = self._row(source, record_id)
            current = overlay_dict(row) if row else {}
            before = {k: current.get(k) for k in OVERLAY_FIELDS}
            wanted = change(current, feed_status)
            after = {k: _iso(wanted.get(k)) for k in OVERLAY_FIELDS}
            if after == before and row is not None:
                return current  # already so: nothing to write
            values = {**after, "reopened": bool(after["reopened"]), "updated_by": user, "updated_at": now}
            for k in ("acknowledged_at", "last_note_at"):
                values[k] = datetime.fromisoformat(values[k]) if values[k] else None
            try:
                with self.engine.begin() as conn:
                    if row is None:
                        conn.execute(insert(incident_ops).values(source=source, record_id=record_id, version=1, **values))
                    else:
                        res = conn.execute(update(incident_ops).where(
                            incident_ops.c.source == source, incident_ops.c.record_id == record_id,
                            incident_ops.c.version == row.version).values(version=row.version + 1, **values))
                        if res.rowcount != 1:
                            continue  # someone else changed it: decide again on what is there now
                    conn.execute(insert(incident_actions).values(
                        source=source, record_id=record_id, action=action, who=user, at=now,
                        before=orjson.dumps(before).decode(), after=orjson.dumps(after).decode(), note=(note or "")[:2000]))
                    fresh = overlay_dict(conn.execute(select(incident_ops).where(
                        incident_ops.c.source == source, incident_ops.c.record_id == record_id)).one())
            except IntegrityError:
                continue  # created by someone else at the same moment
            self.live.put_overlay(fresh)
            return fresh
        raise OperationError(f"{source}:{record_id} keeps changing; try again")

    def _feed_status(self, source: str, record_id: str) -> str:
        with self.engine.connect() as conn:
            row = conn.execute(select(records.c.kind, records.c.status).where(
                records.c.source == source, records.c.record_id == record_id)).first()
        if row is None or row.kind != "incident":
            raise OperationError(f"no incident {record_id!r} from {source!r}")
        return row.status

    def _row(self, source: str, record_id: str):
        with self.engine.connect() as conn:
            return conn.execute(select(incident_ops).where(
                incident_ops.c.source == source, incident_ops.c.record_id == record_id)).first()

    # ---- reads --------------------------------------------------------------------------------------
    def overlay(self, source: str, record_id: str) -> dict | None:
        row = self._row(source, record_id)
        return overlay_dict(row) if row else None

    def actions(self, source: str | None = None, record_id: str | None = None, limit: int = 1000) -> list[dict]:
        q = select(incident_actions).order_by(incident_actions.c.id)
        if source is not None:
            q = q.where(incident_actions.c.source == source)
        if record_id is not None:
            q = q.where(incident_actions.c.record_id == record_id)
        with self.engine.connect() as conn:
            return [{**dict(r._mapping), "before": orjson.loads(r.before), "after": orjson.loads(r.after)}
                    for r in conn.execute(q.limit(limit))]

    def rebuild_live(self, days: float = 30, now: datetime | None = None) -> int:
        """Overlays changed in the last `days`, and every one still open, back into the live store."""
        since = (now or utcnow()) - timedelta(days=days)
        with self.engine.connect() as conn:
            rows = [overlay_dict(r) for r in conn.execute(select(incident_ops).where(or_(
                incident_ops.c.updated_at >= since, incident_ops.c.op_status.in_(sorted(OPEN_STATUSES)))))]
        for overlay in rows:
            self.live.put_overlay(overlay)
        return len(rows)


def describe_action(action: dict) -> str:
    """One line for an audit list: `12/03 22:10 WITA budi assign: agency None -> damkar`."""
    changed = [f"{k} {action['before'].get(k)} -> {action['after'].get(k)}" for k in OVERLAY_FIELDS
               if action["before"].get(k) != action["after"].get(k)]
    return f"{action['at'].astimezone(WITA):%d/%m %H:%M} WITA {action['who']} {action['action']}: {'; '.join(changed) or '-'}"
