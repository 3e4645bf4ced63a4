"""The collector: one poller per source, feeding the history store and the live store.

Modelled on Home Assistant's DataUpdateCoordinator: data is replaced only on a
successful poll; each source keeps `last_update_success` and its last error; one
log line when a source starts failing and one when it recovers.

Each source runs in its own thread, so a hanging or failing source never delays
another. Several collector processes may run: a Redis lock per source makes sure
each source is polled by exactly one of them at a time.
"""
from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from redis.exceptions import LockError, LockNotOwnedError, RedisError

from engine.analytics.config import KpiConfig
from engine.contract import Adapter
from engine.fetch import FetchError
from engine.history import History
from engine.live import LiveStore
from engine.pipeline import parse_safely
from engine.records import Incident, ParseResult, utcnow

log = logging.getLogger("damamaya.collector")

# Domains whose open incidents stay on the wall until closed, however old.
STICKY_DOMAINS = frozenset({"emergency", "complaint", "flood", "traffic"})


def next_delay(interval: float, failures: int, max_backoff: float, rng: random.Random | None = None) -> float:
    """Seconds until the next poll: the interval after success; after failures an
    exponential backoff from the interval, capped, with +-25 % jitter so that many
    failing sources do not retry in lockstep."""
    if failures <= 0:
        return interval
    base = min(max_backoff, interval * 2 ** (failures - 1))
    jitter = (rng or random).uniform(0.75, 1.25)
    return max(1.0, min(max_backoff, base * jitter))


def call_with_deadline(fn: Callable[[], bytes], seconds: float) -> bytes:
    """Run `fn` in a helper thread and give up after `seconds`: a fetch that hangs
    beyond its own timeouts costs one idle thread, never the source's schedule."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True, name="fetch")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise FetchError(f"no answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def keep_live(record, now: datetime, live_hours: float) -> bool:
    if isinstance(record, Incident):
        if record.expires_at and record.expires_at < now:
            return False
        if record.is_open and record.domain in STICKY_DOMAINS:
            return True
        return max(record.updated_at, record.reported_at) >= now - timedelta(hours=live_hours)
    return record.event_time >= now - timedelta(hours=live_hours)


@dataclass
class Health:
    source: str
    title: str
    adapter: str
    interval: float
    stale_after: float
    status: str = "waiting"  # waiting | ok | failing
    last_update_success: bool | None = None
    last_success: str | None = None
    last_attempt: str | None = None
    last_change: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    failing_since: str | None = None
    failures: int = 0
    records: int = 0
    rejects_last: int = 0
    rejects_total: int = 0
    polls: int = 0
    duration_ms: float = 0
    owner: str = ""

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class PollOutcome:
    ok: bool
    records: int = 0
    rejects: int = 0
    changed: int = 0
    removed: int = 0
    error: str | None = None


class SourceRunner:
    """Polls one source: fetch -> parse -> history -> live, and keeps its health."""

    def __init__(self, adapter: Adapter, live: LiveStore, history: History, max_backoff: float = 300,
                 owner: str = "", kpi: KpiConfig | None = None, listener=None):
        self.name = name = adapter.source
        self.config = config = adapter.config
        self.adapter = adapter
        self.kpi = kpi
        self.live = live
        self.history = history
        self.max_backoff = max_backoff
        self.health = Health(name, config.title or name, config.adapter, config.interval, config.stale_seconds, owner=owner)
        self._published_success: datetime | None = None
        self._last_prune = 0.0
        self._rollups_pending: list = []
        # Told of each applied change and each health report (alert rules: engine.alerts.AlarmMonitor).
        self.listener = listener

    @property
    def last_update_success(self) -> bool | None:
        return self.health.last_update_success

    def delay(self) -> float:
        return next_delay(self.config.interval, self.health.failures, self.max_backoff)

    def poll(self, now: datetime | None = None) -> PollOutcome:
        now = now or utcnow()
        started = time.perf_counter()
        self.health.last_attempt = now.isoformat()
        self.health.polls += 1
        try:
            raw = call_with_deadline(self.adapter.fetch, self.config.timeout + 5)
            result = parse_safely(self.adapter, raw)
            if not result.records and result.rejects:
                # Nothing usable: keep the last good data rather than replace it with garbage.
                raise FetchError(f"no usable record: {result.rejects[0].reason}")
            outcome = self._store(result, now)
        except (FetchError, OSError, ValueError) as exc:
            outcome = PollOutcome(ok=False, error=str(exc) or type(exc).__name__)
        except RedisError:
            raise
        except Exception as exc:  # noqa: BLE001 - one broken source must not stop the collector
            log.exception("source %s: unexpected error", self.name)
            outcome = PollOutcome(ok=False, error=f"{type(exc).__name__}: {exc}")
        self.health.duration_ms = round((time.perf_counter() - started) * 1000, 1)
        self._record_health(outcome, now)
        return outcome

    def _store(self, result: ParseResult, now: datetime) -> PollOutcome:
        live_hours = self.config.live_hours
        applied = self.history.apply(self.name, result.records, now)
        self.history.add_rejects(self.name, result.rejects, now)
        self._update_rollups(applied.changed)
        live_ids = self.live.ids(self.name)
        # changed records, and unchanged ones the live store lacks (it was emptied or is new)
        missing = [r for r in applied.unchanged_records if r.id not in live_ids]
        upserts = [r for r in applied.changed + missing if keep_live(r, now, live_hours)]
        removals: set[str] = {r.id for r in applied.changed if not keep_live(r, now, live_hours)}
        if self.adapter.snapshot:
            removals |= live_ids - {r.id for r in result.records}
        elif time.monotonic() - self._last_prune > 60:
            removals |= self._expired(now)
            self._last_prune = time.monotonic()
        removals &= live_ids
        version = self.live.apply(self.name, upserts, removals)
        self.health.records = len((live_ids | {r.id for r in upserts}) - removals)
        self.live.push_rejects(self.name, [{"at": now.isoformat(), **r.model_dump()} for r in result.rejects])
        if version:
            self.health.last_change = now.isoformat()
        if self.listener is not None:
            self.listener.records_applied(self.name, applied.changed, removals, now)
        return PollOutcome(ok=True, records=len(result.records), rejects=len(result.rejects),
                           changed=len(upserts), removed=len(removals))

    def _update_rollups(self, changed: list) -> None:
        """Keep the analytics tables (/kpi, /history) in step with history. They are
        derived data: a failure is logged and retried with the next poll, never lost."""
        from engine.analytics import update_rollups

        self._rollups_pending.extend(changed)
        if not self._rollups_pending:
            return
        try:
            update_rollups(self.history, self._rollups_pending, self.kpi)
            self._rollups_pending = []
        except Exception:  # noqa: BLE001 - retried next poll
            log.exception("source %s: analytics rollup of %d records failed; retrying next poll",
                          self.name, len(self._rollups_pending))

    def _expired(self, now: datetime) -> set[str]:
        return {r.id for r in self.live.records(self.name) if not keep_live(r, now, self.config.live_hours)}

    def _record_health(self, outcome: PollOutcome, now: datetime) -> None:
        h = self.health
        before = (h.status, h.last_error)
        if outcome.ok:
            if h.status == "failing":
                log.info("source %s recovered after %d failed polls", self.name, h.failures)
                self.history.outage_ended(self.name, now)
            h.status, h.last_update_success, h.failures = "ok", True, 0
            h.failing_since = None
            h.last_success = now.isoformat()
            h.rejects_last = outcome.rejects
            h.rejects_total += outcome.rejects
        else:
            if h.status != "failing":
                log.warning("source %s failing: %s", self.name, outcome.error)
                h.failing_since = now.isoformat()
                self.history.outage_started(self.name, now, outcome.error or "")
            h.status, h.last_update_success = "failing", False
            h.failures += 1
            h.last_error, h.last_error_at = outcome.error, now.isoformat()
        # Publish a new health version on any change of state, and on success at
        # most every max(interval, 30 s): enough for screens to tell fresh from stale
        # without sending an update on every poll.
        refresh = max(self.config.interval, 30)
        due = outcome.ok and (self._published_success is None or (now - self._published_success).total_seconds() >= refresh)
        bump = before != (h.status, h.last_error) or due or outcome.changed or outcome.removed
        if bump and outcome.ok:
            self._published_success = now
        self.live.set_health(self.name, h.as_dict(), bump=bool(bump))
        if self.listener is not None:
            self.listener.health_changed(self.name, h.as_dict(), now)


class Collector:
    """Runs each adapter (one per enabled source) on its own thread until `stop` is set."""

    def __init__(self, adapters: list[Adapter], live: LiveStore, history: History,
                 max_backoff: float = 300, lock_seconds: float = 60, kpi: KpiConfig | None = None, listener=None):
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.live = live
        self.history = history
        self.lock_seconds = lock_seconds
        self.runners = {a.source: SourceRunner(a, live, history, max_backoff, self.owner, kpi, listener) for a in adapters}
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for name, runner in self.runners.items():
            t = threading.Thread(target=self._loop, args=(runner,), name=f"source-{name}", daemon=True)
            t.start()
            self.threads.append(t)

    def close(self, timeout: float = 5) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout)
        for runner in self.runners.values():
            runner.adapter.close()

    def _loop(self, runner: SourceRunner) -> None:
        # The lease only has to outlive one poll: between polls the holder renews
        # it every lease/3, so a dead collector's sources move on within a lease.
        lease = max(self.lock_seconds, runner.config.timeout + 15)
        lock = self.live.r.lock(self.live.key("lock", runner.name), timeout=lease, blocking=False, thread_local=False)
        held = False
        while not self.stop.is_set():
            try:
                held = self._hold(lock, held, runner.name)
                if held:
                    runner.poll()
                    self._wait(runner.delay(), lease / 3, lock, runner.name)
                else:  # another collector polls this source; stand by to take over
                    self.stop.wait(min(lease / 3, 10))
            except RedisError as exc:
                log.error("source %s: Redis unavailable (%s)", runner.name, exc)
                held = False
                self.stop.wait(5)
        if held:
            try:
                lock.release()
            except (LockError, RedisError):
                pass

    def _hold(self, lock, held: bool, name: str) -> bool:
        if not held:
            return bool(lock.acquire())
        try:
            lock.reacquire()
            return True
        except (LockError, LockNotOwnedError):
            log.warning("source %s: lost its poll lock to another collector", name)
            return False

    def _wait(self, seconds: float, renew_every: float, lock, name: str) -> None:
        deadline = time.monotonic() + seconds
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.stop.wait(min(left, renew_every))
            if not self._hold(lock, True, name):
                return
