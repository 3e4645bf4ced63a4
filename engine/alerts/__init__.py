"""Alert rules, alarms and operator actions on incidents (issue 9, engine side).

- `config`: the `alerts:` and `agencies:` blocks of config.yaml
- `rules`: does a record meet a rule, and the alarm's message
- `evaluate`: changes -> rule outcomes (pure)
- `alarms`: alarm states, count, compare-and-set transitions, history rows
- `operations`: the operators' overlay on incidents and its audit
- `live`: their keys in Redis; `schema`: their tables
- `monitor`: the collector's listener and the periodic re-check
"""
from __future__ import annotations

from dataclasses import dataclass

import redis

from engine.alerts.alarms import AlarmConflict, AlarmError, AlarmNotFound, Alarms, queue_order
from engine.alerts.config import AlertsConfig
from engine.alerts.live import OpsLive
from engine.alerts.monitor import AlarmMonitor
from engine.alerts.operations import OperationError, Operations, effective_status, merge_overlay, with_overlays
from engine.history import History
from engine.live import LiveStore


@dataclass
class AlertState:
    live: OpsLive
    alarms: Alarms
    operations: Operations


def open_alerts(history: History, client: redis.Redis, prefix: str = "dmy", agencies: dict | None = None,
                stream_length: int = 10_000) -> AlertState:
    """The alarm and operations stores over one history store and one Redis, wired to each other."""
    live = OpsLive(client, prefix, stream_length)
    alarms = Alarms(history, live)
    operations = Operations(history, live, agencies or {}, alarms)
    alarms.operations = operations
    return AlertState(live, alarms, operations)


def alerts_of(config, live: LiveStore, history: History) -> AlertState:
    """The stores for an `engine.config.AppConfig`, beside its live store."""
    return open_alerts(history, live.r, live.p, config.agencies, config.collector.change_stream_length)


def collector_monitor(config, live: LiveStore, history: History) -> AlarmMonitor:
    """The collector's listener for `config.alerts`; fills the live alarm state from
    history first when Redis has none (a new or emptied Redis)."""
    state = alerts_of(config, live, history)
    if not state.live.versions():
        rebuild_live(state, config.alerts)
    return AlarmMonitor(config.alerts, state.alarms, live, kpi=config.kpi)


def alarm_queue(live: OpsLive) -> list[dict]:
    """The active alarms from the live store, as the console lists them: unacknowledged
    first, then by level (critical first), then oldest first."""
    return sorted((a for a in live.alarms() if a["state"] != "resolved"), key=queue_order)


def rebuild_live(state: AlertState, config: AlertsConfig) -> tuple[int, int]:
    """Refill Redis from the history store: (active alarms, incident overlays)."""
    state.live.clear()
    return state.alarms.rebuild_live(config.keep_resolved_minutes), state.operations.rebuild_live()


__all__ = ["alarm_queue", "AlarmConflict", "AlarmError", "AlarmMonitor", "AlarmNotFound", "Alarms", "AlertState", "AlertsConfig",
           "OperationError", "Operations", "OpsLive", "alerts_of", "collector_monitor", "effective_status", "merge_overlay", "open_alerts", "queue_order",
           "rebuild_live", "with_overlays"]
