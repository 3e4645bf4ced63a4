"""The collector's side of alarms: evaluate rules on each applied change and each
health report, and every `evaluate_every` seconds re-check what time alone changes
(deadlines passing, sources going stale without a poll finishing)."""
from __future__ import annotations

import logging
import threading
from datetime import datetime

from engine.alerts.alarms import Alarms, Clearing, Transition
from engine.alerts.config import AlertsConfig
from engine.alerts.evaluate import record_outcomes, stale_outcomes
from engine.analytics.config import KpiConfig
from engine.live import HEALTH, LiveStore
from engine.records import utcnow

log = logging.getLogger("damamaya.alarms")


class AlarmMonitor:
    """Passed to the collector as its `listener`. Never raises into a poll: a failure
    is logged and the next change or tick evaluates again."""

    def __init__(self, config: AlertsConfig, alarms: Alarms, live: LiveStore, started: datetime | None = None,
                 kpi: KpiConfig | None = None):
        self.config = config
        self.kpi = kpi or KpiConfig()  # complaint deadlines where a source gives none
        self.rules = config.enabled_rules()
        self.record_rules = {k: r for k, r in self.rules.items() if not r.match.stale}
        self.time_rules = {k: r for k, r in self.record_rules.items() if r.match.uses_now}
        self.stale_rules = {k: r for k, r in self.rules.items() if r.match.stale}
        self.alarms = alarms
        self.live = live
        self.started = started or utcnow()
        self._thread: threading.Thread | None = None

    # ---- the collector's hooks ---------------------------------------------------------------
    def live_refilled(self) -> None:
        """Redis came back empty: the live alarms and incident overlays come back from history."""
        try:
            self.alarms.live.clear()
            self.alarms.rebuild_live(self.config.keep_resolved_minutes)
            if self.alarms.operations is not None:
                self.alarms.operations.rebuild_live()
        except Exception:  # noqa: BLE001 - the next refill or a rebuild-live tries again
            log.exception("refilling the live alarms from history failed")

    def records_applied(self, source: str, changed: list, removed, now: datetime | None = None) -> list[Transition]:
        now = now or utcnow()
        try:
            removed = set(removed)
            recs = [r.model_dump(mode="json") for r in changed if r.id not in removed]
            return self.alarms.apply(record_outcomes(self.record_rules, source, recs, removed, now, kpi=self.kpi), now)
        except Exception:  # noqa: BLE001 - alarms must never break a poll
            log.exception("source %s: evaluating alert rules failed", source)
            return []

    def health_changed(self, source: str, health: dict, now: datetime | None = None) -> list[Transition]:
        if not self.stale_rules:
            return []
        now = now or utcnow()
        try:
            promise = float(health.get("stale_after") or 180)
            outcomes = stale_outcomes(self.stale_rules, source, health.get("title") or source,
                                      self.stale_for(health, now), promise, health, now)
            return self.alarms.apply(outcomes, now)
        except Exception:  # noqa: BLE001
            log.exception("source %s: evaluating NoData rules failed", source)
            return []

    def stale_for(self, health: dict, now: datetime) -> float | None:
        """Seconds since the source's last success (or, never successful, since it started
        failing), counted from this collector's start at the earliest: a collector that was
        down for a day gives each source its promise to answer before calling it stale."""
        moment = health.get("last_success") or health.get("failing_since")
        since = max(datetime.fromisoformat(moment), self.started) if moment else self.started
        return max(0.0, (now - since).total_seconds())

    # ---- periodic ----------------------------------------------------------------------------------
    def tick(self, now: datetime | None = None, every_rule: bool = False) -> list[Transition]:
        """Re-evaluate time-based rules (or, at start, `every_rule`) over the live records,
        NoData over the live health, and drop long-resolved alarms from the live store."""
        now = now or utcnow()
        done: list[Transition] = []
        rules = self.record_rules if every_rule else self.time_rules
        try:
            if rules:
                for source in self.live.versions():  # every source with live data
                    if source == HEALTH:
                        continue
                    if any(r.match.source_matches(source) for r in rules.values()):
                        recs = self.live.raw_records(source)
                        done += self.alarms.apply(record_outcomes(rules, source, recs, (), now, repeat=False, kpi=self.kpi), now)
            described = self.live.sources()  # what config.yaml says now (the CLI writes it at start)
            for source, health in self.live.health().items():
                meta = described.get(source)
                if described and (meta is None or not meta.get("enabled", True)):
                    continue  # health left behind by a source no longer polled
                done += self.health_changed(source, health, now)
            self.alarms.prune_live(self.config.keep_resolved_minutes, now)
        except Exception:  # noqa: BLE001 - the next tick tries again
            log.exception("periodic alarm evaluation failed")
        return done

    def clear_orphans(self, now: datetime | None = None) -> list[Transition]:
        """Record alarms whose record is no longer in the live store (it left while no
        collector ran, or Redis was rebuilt without it) resolve: no change will come for them."""
        now = now or utcnow()
        live_ids: dict[str, set[str]] = {}
        outcomes = []
        for alarm in self.alarms.active():
            if not alarm["subject"]:
                continue
            ids = live_ids.setdefault(alarm["source"], self.live.ids(alarm["source"]))
            if alarm["subject"] not in ids:
                outcomes.append(Clearing(alarm["rule"], alarm["source"], alarm["subject"], "record left the live view"))
        return self.alarms.apply(outcomes, now)

    def retire_removed_rules(self, now: datetime | None = None) -> int:
        """Alarms of rules no longer in config.yaml resolve: nothing would ever clear them."""
        gone = [a for a in self.alarms.active() if a["rule"] not in self.rules]
        for alarm in gone:
            self.alarms.resolve_retired(alarm["id"], "rule removed from config.yaml", now or utcnow())
        return len(gone)

    def start(self, stop: threading.Event) -> threading.Thread:
        def loop():
            try:
                self.retire_removed_rules()
                self.clear_orphans()
            except Exception:  # noqa: BLE001 - the periodic checks still run
                log.exception("clearing alarms of removed rules and records failed")
            self.tick(every_rule=True)
            while not stop.wait(self.config.evaluate_every):
                self.tick()

        self._thread = threading.Thread(target=loop, name="alarms", daemon=True)
        self._thread.start()
        return self._thread
