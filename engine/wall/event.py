"""Event mode on the live store: the scene every wall shows because of an alarm.

`event_now` reads the live alarms (`{p}:alarms`) and, for a scene focused on the
alarm's subject, that record; `engine.wall.scenes.event_for` decides.
"""
from __future__ import annotations

from engine.alerts.live import ALARMS, OpsLive
from engine.wall.scenes import event_for


def alarms_version(ops: OpsLive) -> int:
    """The alarms' change counter (`{p}:opversions` field `alarms`): one small read per poll."""
    return int(ops.r.hget(ops.key("opversions"), ALARMS) or 0)


def event_now(ops: OpsLive, live, scenes: dict) -> dict | None:
    def subject_of(alarm: dict) -> dict | None:
        if not alarm.get("subject"):
            return None
        found = live.get_many([(alarm["source"], alarm["subject"])])
        return found[0] if found else None

    return event_for(ops.alarms(), scenes, subject_of)
