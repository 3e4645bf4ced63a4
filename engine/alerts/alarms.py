"""Alarms: firing -> acknowledged -> resolved, one per rule, source and subject.

The same rule on the same subject (a record id, or '' for a source's NoData) is one
alarm while it is active: a repeated firing raises its count and last-fired time.
A resolved alarm that fires again is a NEW alarm (a new id and a new row), so each
alarm's history reads start to end. An acknowledged alarm still resolves by itself
when its condition clears.

Every state change is a compare-and-set on the row's `version` inside one database
transaction, written together with its `alarm_events` row; then the live store
gets the new state. Two operators acknowledging at once: one wins, the other gets
`AlarmConflict("already acknowledged by ...")`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from engine.alerts.live import OpsLive
from engine.alerts.schema import ACTIVE_STATES, alarm_events, alarms, ensure_schema
from engine.history import History
from engine.records import WITA, utcnow

log = logging.getLogger("damamaya.alarms")

LEVEL_RANK = {"info": 0, "warning": 1, "critical": 2}
SYSTEM = "system"


class AlarmError(Exception):
    """An operator action that cannot be done, with a sentence saying why."""


class AlarmNotFound(AlarmError):
    pass


class AlarmConflict(AlarmError):
    """Someone else got there first: the message says who and when."""

    def __init__(self, message: str, alarm: dict):
        super().__init__(message)
        self.alarm = alarm


@dataclass(frozen=True)
class Firing:
    """A rule holds for a subject. `repeat`: a new change of the subject that still
    holds counts as one more firing (periodic re-checks do not count)."""

    rule: str
    source: str
    subject: str
    level: str
    message_id: str
    message_en: str
    silent: bool = False
    scene: str | None = None
    repeat: bool = True


@dataclass(frozen=True)
class Clearing:
    rule: str
    source: str
    subject: str
    reason: str


@dataclass(frozen=True)
class Transition:
    alarm: dict
    action: str  # fire | repeat | acknowledge | resolve | release | noop (already done by the same user)
    from_state: str | None
    to_state: str
    who: str
    note: str = ""


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def alarm_dict(row) -> dict:
    m = row._mapping
    return {
        "id": m["id"], "rule": m["rule"], "source": m["source"], "subject": m["subject"],
        "uid": f"{m['source']}:{m['subject']}" if m["subject"] else m["source"],
        "level": m["level"], "state": m["state"], "count": m["count"],
        "first_fired": _iso(m["first_fired"]), "last_fired": _iso(m["last_fired"]),
        "message": {"id": m["message_id"], "en": m["message_en"]}, "silent": bool(m["silent"]), "scene": m["scene"],
        "acknowledged_by": m["acknowledged_by"], "acknowledged_at": _iso(m["acknowledged_at"]),
        "resolved_by": m["resolved_by"], "resolved_at": _iso(m["resolved_at"]),
        "released_by": m["released_by"], "released_at": _iso(m["released_at"]),
        "version": m["version"],
    }


def _wita(iso: str | None) -> str:
    return datetime.fromisoformat(iso).astimezone(WITA).strftime("%d/%m %H:%M:%S WITA") if iso else "?"


def queue_order(alarm: dict) -> tuple:
    """The console's alarm queue: unacknowledged first, then by level, then oldest first."""
    return (alarm["state"] != "firing", -LEVEL_RANK.get(alarm["level"], 0), alarm["first_fired"] or "")


class Alarms:
    def __init__(self, history: History, live: OpsLive, operations=None):
        self.history = history
        self.engine = history.engine
        self.live = live
        self.operations = operations  # told of acknowledgements, so an incident's overlay shows them
        ensure_schema(self.engine)

    # ---- rule outcomes (the collector) ------------------------------------------------------
    def apply(self, outcomes: Iterable[Firing | Clearing], now: datetime | None = None) -> list[Transition]:
        now = now or utcnow()
        outcomes = list(outcomes)
        if not outcomes:
            return []
        active = self._active_for({(o.source, o.subject) for o in outcomes})
        done: list[Transition] = []
        for o in outcomes:
            current = active.get((o.rule, o.source, o.subject))
            if isinstance(o, Clearing):
                if current is not None:
                    t = self._transition(current["id"], "resolve", SYSTEM, o.reason, now, system=True)
                    if t:
                        done.append(t)
                        active.pop((o.rule, o.source, o.subject), None)
                continue
            if current is not None:
                if o.repeat:
                    t = self._repeat(current["id"], o, now)
                    if t:
                        done.append(t)
                        continue
                else:
                    continue
            t = self._fire(o, now)
            if t:
                done.append(t)
                active[(o.rule, o.source, o.subject)] = t.alarm
        for t in done:
            self.live.put_alarm(t.alarm)
        return done

    def _active_for(self, pairs: set[tuple[str, str]]) -> dict[tuple[str, str, str], dict]:
        out: dict[tuple[str, str, str], dict] = {}
        by_source: dict[str, list[str]] = {}
        for source, subject in pairs:
            by_source.setdefault(source, []).append(subject)
        with self.engine.connect() as conn:
            for source, subjects in by_source.items():
                for i in range(0, len(subjects), 500):
                    rows = conn.execute(select(alarms).where(alarms.c.source == source, alarms.c.state.in_(ACTIVE_STATES),
                                                             alarms.c.subject.in_(subjects[i:i + 500])))
                    for row in rows:
                        out[(row.rule, row.source, row.subject)] = alarm_dict(row)
        return out

    def _fire(self, o: Firing, now: datetime) -> Transition | None:
        try:
            with self.engine.begin() as conn:
                alarm_id = conn.execute(insert(alarms).values(
                    rule=o.rule, source=o.source, subject=o.subject, level=o.level, state="firing", count=1,
                    first_fired=now, last_fired=now, message_id=o.message_id, message_en=o.message_en,
                    silent=o.silent, scene=o.scene, version=1)).inserted_primary_key[0]
                conn.execute(insert(alarm_events).values(
                    alarm_id=alarm_id, rule=o.rule, source=o.source, subject=o.subject, action="fire", from_state=None,
                    to_state="firing", who=SYSTEM, at=now, note="silent (quiet hours)" if o.silent else "",
                    level=o.level, message=o.message_id))
                row = conn.execute(select(alarms).where(alarms.c.id == alarm_id)).one()
        except IntegrityError:  # another collector opened it a moment ago: count this firing on it
            existing = self._active_for({(o.source, o.subject)}).get((o.rule, o.source, o.subject))
            return self._repeat(existing["id"], o, now) if existing and o.repeat else None
        return Transition(alarm_dict(row), "fire", None, "firing", SYSTEM)

    def _repeat(self, alarm_id: int, o: Firing, now: datetime) -> Transition | None:
        with self.engine.begin() as conn:
            res = conn.execute(update(alarms).where(alarms.c.id == alarm_id, alarms.c.state.in_(ACTIVE_STATES)).values(
                count=alarms.c.count + 1, last_fired=now, level=o.level, message_id=o.message_id,
                message_en=o.message_en, version=alarms.c.version + 1))
            if res.rowcount == 0:
                return None
            row = conn.execute(select(alarms).where(alarms.c.id == alarm_id)).one()
        return Transition(alarm_dict(row), "repeat", row.state, row.state, SYSTEM)

    # ---- operator actions ---------------------------------------------------------------------
    def acknowledge(self, alarm_id: int, user: str, note: str = "", now: datetime | None = None) -> dict:
        """firing -> acknowledged. Again by the same user: no change. By another user, or on a
        resolved alarm: AlarmConflict naming who acted and when."""
        return self._act(alarm_id, "acknowledge", user, note, now)

    def resolve(self, alarm_id: int, user: str, note: str = "", now: datetime | None = None) -> dict:
        """A supervisor ends an alarm whatever its condition says (the caller checks the role)."""
        return self._act(alarm_id, "resolve", user, note, now)

    def release(self, alarm_id: int, user: str, note: str = "", now: datetime | None = None) -> dict:
        """A supervisor releases the wall from the alarm's scene (event mode); the alarm stays."""
        return self._act(alarm_id, "release", user, note, now)

    def _act(self, alarm_id: int, action: str, user: str, note: str, now: datetime | None) -> dict:
        user = (user or "").strip()
        if not user or user == SYSTEM:
            raise AlarmError(f"{action} needs the name of the user who does it")
        t = self._transition(alarm_id, action, user, note or "", now or utcnow())
        if t is None:  # nothing changed: say why, or return it as it is when this user already did it
            alarm = self.get(alarm_id)
            raise AlarmConflict(self._why_not(alarm, action), alarm)
        if t.action == "noop":
            return t.alarm
        self.live.put_alarm(t.alarm)
        if self.operations is not None and action == "acknowledge" and t.alarm["subject"]:
            self.operations.record_acknowledgement(t.alarm, user, now or utcnow())
        return t.alarm

    def resolve_subject(self, source: str, subject: str, who: str, reason: str, now: datetime | None = None) -> list[dict]:
        """Resolve every active alarm on one record (an operator closed the incident)."""
        now = now or utcnow()
        done = []
        for (_, _, _), alarm in self._active_for({(source, subject)}).items():
            t = self._transition(alarm["id"], "resolve", who, reason, now, system=True)
            if t and t.action != "noop":
                self.live.put_alarm(t.alarm)
                done.append(t.alarm)
        return done

    def resolve_retired(self, alarm_id: int, reason: str, now: datetime | None = None) -> dict | None:
        t = self._transition(alarm_id, "resolve", SYSTEM, reason, now or utcnow(), system=True)
        if t is None or t.action == "noop":
            return None
        self.live.put_alarm(t.alarm)
        return t.alarm

    def _why_not(self, alarm: dict, action: str) -> str:
        if alarm["state"] == "resolved":
            return f"alarm {alarm['id']} already resolved by {alarm['resolved_by']} at {_wita(alarm['resolved_at'])}"
        if action == "acknowledge":
            return f"alarm {alarm['id']} already acknowledged by {alarm['acknowledged_by']} at {_wita(alarm['acknowledged_at'])}"
        return f"alarm {alarm['id']} already released by {alarm['released_by']} at {_wita(alarm['released_at'])}"

    def _transition(self, alarm_id: int, action: str, who: str, note: str, now: datetime,
                    system: bool = False) -> Transition | None:
        """Compare-and-set on the row's version, with its event row, in one transaction.
        None when the alarm is already where the action would take it (by someone else)."""
        for _ in range(5):
            row = self._row(alarm_id)
            before = row.state
            if action == "acknowledge":
                if before != "firing":
                    if before == "acknowledged" and row.acknowledged_by == who:
                        return Transition(alarm_dict(row), "noop", before, before, who)
                    return None
                values, after = {"state": "acknowledged", "acknowledged_by": who, "acknowledged_at": now}, "acknowledged"
            elif action == "resolve":
                if before == "resolved":
                    if row.resolved_by == who and not system:
                        return Transition(alarm_dict(row), "noop", before, before, who)
                    return None
                values, after = {"state": "resolved", "resolved_by": who, "resolved_at": now}, "resolved"
            elif action == "release":
                if row.released_by:
                    if row.released_by == who:
                        return Transition(alarm_dict(row), "noop", before, before, who)
                    return None
                if before == "resolved":
                    return None
                values, after = {"released_by": who, "released_at": now}, before
            else:
                raise ValueError(f"unknown alarm action {action!r}")
            with self.engine.begin() as conn:
                res = conn.execute(update(alarms).where(alarms.c.id == alarm_id, alarms.c.version == row.version)
                                   .values(**values, version=row.version + 1))
                if res.rowcount == 1:
                    conn.execute(insert(alarm_events).values(
                        alarm_id=alarm_id, rule=row.rule, source=row.source, subject=row.subject, action=action,
                        from_state=before, to_state=after, who=who, at=now, note=note[:2000], level=row.level,
                        message=row.message_id))
                    fresh = conn.execute(select(alarms).where(alarms.c.id == alarm_id)).one()
                    return Transition(alarm_dict(fresh), action, before, after, who, note)
            # lost the race to another writer: read again and decide again
        raise AlarmError(f"alarm {alarm_id} keeps changing; try again")

    def _row(self, alarm_id: int):
        with self.engine.connect() as conn:
            row = conn.execute(select(alarms).where(alarms.c.id == alarm_id)).first()
        if row is None:
            raise AlarmNotFound(f"no alarm {alarm_id}")
        return row

    # ---- reads ----------------------------------------------------------------------------------
    def get(self, alarm_id: int) -> dict:
        return alarm_dict(self._row(alarm_id))

    def active(self) -> list[dict]:
        """From the history store (the live store's `alarms` hash is what screens read)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(alarms).where(alarms.c.state.in_(ACTIVE_STATES)))
            return sorted((alarm_dict(r) for r in rows), key=queue_order)

    def events(self, alarm_id: int | None = None, limit: int = 1000) -> list[dict]:
        q = select(alarm_events).order_by(alarm_events.c.id)
        if alarm_id is not None:
            q = q.where(alarm_events.c.alarm_id == alarm_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q.limit(limit))]

    def rebuild_live(self, keep_resolved_minutes: float = 10, now: datetime | None = None) -> int:
        """Put the active alarms (and the recently resolved) back into the live store."""
        since = (now or utcnow()) - timedelta(minutes=keep_resolved_minutes)
        with self.engine.connect() as conn:
            rows = conn.execute(select(alarms).where(or_(alarms.c.state.in_(ACTIVE_STATES), alarms.c.resolved_at >= since)))
            found = [alarm_dict(r) for r in rows]
        for alarm in found:
            self.live.put_alarm(alarm)
        return sum(1 for a in found if a["state"] != "resolved")

    def prune_live(self, keep_resolved_minutes: float, now: datetime | None = None) -> int:
        """Drop resolved alarms older than the window from the live store."""
        cutoff = ((now or utcnow()) - timedelta(minutes=keep_resolved_minutes)).isoformat()
        gone = 0
        for alarm in self.live.alarms():
            if alarm["state"] == "resolved" and (alarm["resolved_at"] or "") < cutoff:
                gone += self.live.drop_resolved(alarm["id"])
        return gone
