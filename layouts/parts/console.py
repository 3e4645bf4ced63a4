"""What the console page (layouts/console.py) and its callbacks share: input bounds, the
actions and the right each needs (security/roles.py ACTIONS), the operators' live store."""
from __future__ import annotations

from damamaya import runtime
from engine.alerts.live import OpsLive

POLL_MS = 2000
TEXT_MAX = 100  # the free-text filter
NOTE_MAX = 1000  # a note
REASON_MAX = 500  # a reason for reopening
ACTIONS = ("acknowledge", "resolve", "release", "assign", "status", "reopen", "note")
ACTION_RIGHT = {"acknowledge": "alarm.acknowledge", "resolve": "alarm.resolve", "release": "alarm.release",
                "assign": "incident.assign", "status": "incident.status", "reopen": "incident.reopen",
                "note": "incident.note"}


def ops_live() -> OpsLive:
    cfg = runtime.config()
    return OpsLive(runtime.redis_client(), cfg.redis.prefix, cfg.collector.change_stream_length)
