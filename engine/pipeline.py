"""The one path from raw bytes to stored records, for polled and pushed sources alike.

- `parse_safely`: parse guarded and located.
- `ResultWriter`: stores a source's ParseResult in history and the live store.
  History is the system of record, but it may be down or slow: then the result
  goes to the spool (durable, on local disk) before the poll or delivery is
  acknowledged, the live store is written straight from the result, and the
  spool is replayed into history, in order, once history answers again.
"""
from __future__ import annotations

import logging
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

import orjson
from redis.exceptions import RedisError
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from engine.contract import Adapter, SourceConfig
from engine.fetch import FetchError
from engine.geo import locate_record
from engine.history import History, merge_state_update
from engine.live import LiveStore
from engine.records import OPEN_STATUSES, Incident, ParseResult, Reject, record_from_json, status_rank, utcnow
from engine.spool import Entry, Spool

log = logging.getLogger(__name__)

# Domains whose open incidents stay on the wall until closed, however old.
STICKY_DOMAINS = frozenset({"emergency", "complaint", "flood", "traffic"})
# What history raises when its database cannot be reached or is locked.
HISTORY_ERRORS = (SQLAlchemyError, OSError)
LIVE_ERRORS = (RedisError, OSError)
# What history raises for what a write holds, not for being unreachable: retrying cannot help.
REFUSED_ERRORS = (IntegrityError, DataError)


def parse_safely(adapter: Adapter, raw: bytes) -> ParseResult:
    """Run the adapter's parse; a bug in it becomes one reject, never a crash."""
    try:
        result = adapter.parse(raw)
    except Exception as exc:  # noqa: BLE001 - the collector must survive any adapter bug
        log.warning("adapter %s raised on parse: %s", adapter.name, traceback.format_exc(limit=3))
        return ParseResult(rejects=[Reject.of(f"parser error ({type(exc).__name__}: {exc})", raw[:120].decode("utf-8", "replace"))])
    for record in result.records:
        if not adapter.memo.reused(record):  # a record taken from the last parse is located already
            locate_record(record)
    return result


def keep_live(record, now: datetime, live_hours: float) -> bool:
    if isinstance(record, Incident):
        if record.expires_at and record.expires_at < now:
            return False
        if record.is_open and record.domain in STICKY_DOMAINS:
            return True
        return max(record.updated_at, record.reported_at) >= now - timedelta(hours=live_hours)
    return record.event_time >= now - timedelta(hours=live_hours)


def call_with_deadline(fn: Callable, seconds: float, late: type[Exception] = FetchError):
    """Run `fn` in a helper thread and give up after `seconds`: a fetch that hangs
    beyond its own timeouts costs one idle thread, never the source's schedule."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True, name="deadline")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise late(f"no answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


class Slow(Exception):
    """History did not answer within the wait; the work may still finish later."""


class HistoryLane:
    """Runs one source's history work one call at a time, in a helper thread, waiting
    at most a bounded time: a locked or hanging database costs the source a spooled
    batch, never its schedule or the live store's freshness."""

    def __init__(self, name: str):
        self.name = name
        self._busy = threading.Lock()

    @property
    def busy(self) -> bool:
        return self._busy.locked()

    def run(self, fn: Callable, wait: float):
        """fn's result within `wait` seconds; raises Slow when busy or late, or fn's error."""
        if not self._busy.acquire(blocking=False):
            raise Slow("history still busy with an earlier write")

        def guarded():
            try:
                return fn()
            finally:
                self._busy.release()  # when fn ends, even after the caller stopped waiting

        return call_with_deadline(guarded, wait, Slow)

    def start(self, fn: Callable) -> bool:
        """Run fn in the background unless the lane is busy; True when started."""
        if not self._busy.acquire(blocking=False):
            return False

        def target():
            try:
                fn()
            except Exception:  # noqa: BLE001 - the caller's fn logs; a failed replay is retried later
                pass
            finally:
                self._busy.release()

        threading.Thread(target=target, daemon=True, name=f"replay-{self.name}").start()
        return True


class PartsReport:
    """What this process knows of the history database and its spool; thread-safe.
    The collector (or the ingest endpoint) publishes it in the live store's `parts`."""

    def __init__(self):
        self._lock = threading.Lock()
        self.database = {"state": "up", "since": None, "error": None}
        self.changed = threading.Event()

    def history_failed(self, error: str, now: datetime) -> None:
        with self._lock:
            if self.database["state"] != "down":
                log.error("history database unavailable: %s; spooling", error)
                self.database = {"state": "down", "since": now.isoformat(), "error": error[:300]}
                self.changed.set()

    def history_ok(self, now: datetime) -> None:
        with self._lock:
            if self.database["state"] != "up":
                log.info("history database answers again (down since %s)", self.database["since"])
                self.database = {"state": "up", "since": now.isoformat(), "error": None}
                self.changed.set()


@dataclass
class Stored:
    records: int = 0
    rejects: int = 0
    changed: int = 0
    removed: int = 0
    spooled: bool = False
    live_ok: bool = True
    live_count: int | None = None


def replay_into_history(spool: Spool, history: History, kpi=None) -> dict[str, int]:
    """Replay a spool nobody writes any more (its collector's identity is gone: a changed
    configuration or host) into history alone, in order: entries per source replayed. The live
    store is then brought up from history by the collector that polls those sources now. An
    entry history refuses is kept aside, as in ResultWriter.replay."""
    from engine.analytics import update_rollups

    done: dict[str, int] = {}

    def apply(entry: Entry) -> None:
        try:
            if entry.kind == "outage_started":
                history.outage_started(entry.source, entry.at, entry.body.get("error", ""))
            elif entry.kind == "outage_ended":
                history.outage_ended(entry.source, entry.at)
            else:
                applied = history.apply(entry.source, entry.records, entry.at)
                history.add_rejects(entry.source, entry.rejects, entry.at)
                update_rollups(history, applied.changed, kpi)
        except REFUSED_ERRORS as exc:
            log.error("history refuses entry %d of %s (%s); kept aside", entry.seq, spool.path, short_error(exc))
            spool.bury(entry, short_error(exc))
        done[entry.source] = done.get(entry.source, 0) + 1

    spool.drain(apply)
    return done


@dataclass
class ResultWriter:
    """Stores one source's results. Used by the collector for each poll and by the
    ingest endpoint for each pushed delivery, so both take the same path."""

    source: str
    config: SourceConfig
    snapshot: bool
    live: LiveStore
    history: History
    spool: Spool
    parts: PartsReport = field(default_factory=PartsReport)
    kpi: object = None
    history_wait: float = 5.0
    listener: object = None  # told of what reached the live store (alert rules: engine.alerts.AlarmMonitor)
    live_behind: bool = False  # a live write failed: the source is resynced from history when Redis answers
    _lane: HistoryLane = field(init=False)
    _last_prune: float = field(default=0.0, init=False)
    _rollups_pending: list = field(default_factory=list, init=False)
    _known: dict = field(default_factory=dict, init=False)  # record id -> content hash durably spooled or stored
    _stored: dict = field(default_factory=dict, init=False)  # record id -> the record object history last took

    def __post_init__(self):
        self._lane = HistoryLane(self.source)
        self._rollups_lock = threading.Lock()

    # ---- storing a result -------------------------------------------------------
    def write(self, result: ParseResult, now: datetime) -> Stored:
        """History first while it answers in time, then the live store; otherwise the
        spool first (durable) and the live store straight from the result."""
        stored = Stored(records=len(result.records), rejects=len(result.rejects))
        applied = None
        # records history took from this writer as these very objects (an adapter's ItemMemo
        # hands the same object for the same item): history would find them unchanged
        held = [r for r in result.records if self._stored.get(r.id) is r]
        fresh = [r for r in result.records if self._stored.get(r.id) is not r] if held else result.records
        if not self._lane.busy and not self.spool.backlog(self.source):
            try:
                applied = self._lane.run(lambda: self._apply(fresh, result.rejects, now), self.history_wait)
                self.parts.history_ok(now)
            except (Slow, *HISTORY_ERRORS) as exc:
                self.parts.history_failed(short_error(exc), now)
        if applied is None:
            self.spool.append_batch(self.source, now, self._unseen(result.records), result.rejects)
            stored.spooled = True
            self.replay_soon()
        else:
            self._remember(fresh)
        try:
            live_ids = self.live.ids(self.source)
            if applied is not None:
                candidates = applied.changed + [r for r in applied.unchanged_records + held if r.id not in live_ids]
            else:
                candidates = self._newer_than_live(result.records)
            self._to_live(candidates, {r.id for r in result.records}, now, stored, live_ids=live_ids)
            self.live.push_rejects(self.source, [{"at": now.isoformat(), **r.model_dump()} for r in result.rejects])
            stored.live_ok = True
        except LIVE_ERRORS as exc:
            log.warning("source %s: live store unavailable (%s); history keeps the records", self.source, short_error(exc))
            self.live_behind, stored.live_ok = True, False
        self.roll_up_after_live()
        return stored

    def _unseen(self, records: list) -> list:
        """The records not already spooled or stored as they are now: a feed repeats
        its whole window on every poll, the spool need not."""
        fresh = [r for r in records if self._known.get(r.id) != r.content_hash()]
        self._remember(fresh)
        return fresh

    def _remember(self, records: list) -> None:
        if len(self._known) > 200_000:  # only saves work and spool space: forgetting costs a repeat, never a loss
            self._known.clear()
            self._stored.clear()
        self._known.update((r.id, r.content_hash()) for r in records)
        self._stored.update((r.id, r) for r in records)

    def note_outage(self, started: bool, at: datetime, error: str = "") -> None:
        """Open or close the source's outage in history, through the spool when history cannot take it."""
        def apply():
            if started:
                self.history.outage_started(self.source, at, error)
            else:
                self.history.outage_ended(self.source, at)

        if not self._lane.busy and not self.spool.backlog(self.source):
            try:
                self._lane.run(apply, self.history_wait)
                return
            except (Slow, *HISTORY_ERRORS) as exc:
                self.parts.history_failed(short_error(exc), at)
        self.spool.append(self.source, "outage_started" if started else "outage_ended", at, {"error": error})
        self.replay_soon()

    # ---- replay -----------------------------------------------------------------
    def replay_soon(self) -> bool:
        """Replay this source's spooled entries in the background (unless history is busy)."""
        if not self.spool.backlog(self.source):
            return False
        return self._lane.start(self.replay)

    def replay(self) -> int:
        """Replay in order into history; the records history took are written to the live store too."""
        try:
            done = self.spool.drain(self._replay_entry, self.source)
        except HISTORY_ERRORS as exc:
            self.parts.history_failed(short_error(exc), utcnow())
            return 0
        if done:
            log.info("source %s: %d spooled entries replayed into history", self.source, done)
        self.roll_up()  # in the lane already (replay runs there)
        return done

    def _replay_entry(self, entry: Entry) -> None:
        try:
            self._replay_one(entry)
        except REFUSED_ERRORS as exc:
            log.error("source %s: history refuses spooled entry %d (%s); kept aside in %s",
                      self.source, entry.seq, short_error(exc), self.spool.path)
            self.spool.bury(entry, short_error(exc))

    def _replay_one(self, entry: Entry) -> None:
        if entry.kind == "outage_started":
            self.history.outage_started(self.source, entry.at, entry.body.get("error", ""))
        elif entry.kind == "outage_ended":
            self.history.outage_ended(self.source, entry.at)
        else:
            applied = self._apply(entry.records, entry.rejects, entry.at)
            now = utcnow()
            self.parts.history_ok(now)
            try:
                live_now = self.live.raw_by_id(self.source, [r.id for r in applied.changed])
                fresh = [r for r in applied.changed if live_now.get(r.id) != _live_json(r)]
                self._to_live(fresh, None, now, Stored())
            except LIVE_ERRORS:
                self.live_behind = True

    # ---- history ----------------------------------------------------------------
    def _apply(self, records: list, rejects: list, now: datetime):
        applied = self.history.apply(self.source, records, now)
        self.history.add_rejects(self.source, rejects, now)
        with self._rollups_lock:
            self._rollups_pending.extend(applied.changed)
        return applied

    def roll_up_after_live(self) -> None:
        """Bring the analytics tables (/kpi, /history) up to the records history took, once
        the live store is written: a burst reaches the wall without waiting for them (500
        new incidents: 0.7 s of rollups). Bounded by the history wait like any history work."""
        if not self._rollups_pending or self._lane.busy:
            return
        try:
            self._lane.run(self.roll_up, self.history_wait)
        except Slow:
            pass  # it goes on in the lane; the next write waits for it or spools

    def roll_up(self) -> None:
        """Derived data: a failure is logged and retried with the next write, never lost."""
        from engine.analytics import update_rollups

        with self._rollups_lock:
            batch, self._rollups_pending = self._rollups_pending, []
        if not batch:
            return
        try:
            update_rollups(self.history, batch, self.kpi)
        except Exception:  # noqa: BLE001 - retried next write
            log.exception("source %s: analytics rollup of %d records failed; retrying", self.source, len(batch))
            with self._rollups_lock:
                self._rollups_pending[:0] = batch

    # ---- live store -------------------------------------------------------------
    def _newer_than_live(self, records: list) -> list:
        """Without history: the records that change the live store, merged by history's
        rules against the live copy (an older incident update is ignored, a status never
        moves back, a state update keeps what it does not carry)."""
        held = self.live.raw_by_id(self.source, [r.id for r in records])
        out = []
        for record in {r.id: r for r in records}.values():
            raw = held.get(record.id)
            if raw is not None:
                old = record_from_json(raw)
                if isinstance(record, Incident) and isinstance(old, Incident):
                    if record.updated_at < old.updated_at:
                        continue
                    if record.details.get("state_update"):
                        record = merge_state_update(old, record)
                    if old.status and status_rank(record.status) < status_rank(old.status):
                        record = record.model_copy(update={"status": old.status})
                if _live_json(record) == raw:
                    continue
            out.append(record)
        return out

    def _to_live(self, candidates: list, current_ids: set[str] | None, now: datetime, stored: Stored,
                 expired: set[str] = frozenset(), live_ids: set[str] | None = None) -> None:
        live_hours = self.config.live_hours
        live_ids = self.live.ids(self.source) if live_ids is None else live_ids
        upserts = [r for r in candidates if keep_live(r, now, live_hours)]
        removals = {r.id for r in candidates if not keep_live(r, now, live_hours)} | expired
        if self.snapshot and current_ids is not None:
            removals |= live_ids - current_ids
        elif current_ids is not None:
            removals |= self._expired(now)
        removals &= live_ids
        self.live.apply(self.source, upserts, removals)
        if self.listener is not None and (upserts or removals):
            self.listener.records_applied(self.source, upserts, removals, now)
        stored.changed, stored.removed = len(upserts), len(removals)
        stored.live_count = len((live_ids | {r.id for r in upserts}) - removals)

    def _expired(self, now: datetime) -> set[str]:
        """Ids of live records that aged out of the live window; looked for at most once a minute."""
        if self.snapshot or time.monotonic() - self._last_prune <= 60:
            return set()
        self._last_prune = time.monotonic()
        live_hours = self.config.live_hours
        cutoff = now - timedelta(hours=live_hours)
        return {rid for rid, raw in self.live.raw_all(self.source).items()
                if not _clearly_live(orjson.loads(raw), now, cutoff) and not keep_live(record_from_json(raw), now, live_hours)}

    def expire(self, now: datetime) -> Stored:
        """What a poll that found nothing new still owes the live store: records that aged
        out of the live window leave it (as a changed poll would remove them)."""
        stored = Stored()
        try:
            gone = self._expired(now)
            if gone:
                self._to_live([], None, now, stored, gone)
        except LIVE_ERRORS as exc:
            log.warning("source %s: live store unavailable (%s)", self.source, short_error(exc))
            stored.live_ok = False
        return stored

    def resync_live(self, now: datetime) -> int:
        """After the live store missed writes (Redis was unreachable): write what history
        says is live for this source and the live store lacks or holds differently."""
        since = now - timedelta(hours=self.config.live_hours)
        wanted = [r for r in self.history.live_records(self.source, since) if keep_live(r, now, self.config.live_hours)]
        held = self.live.raw_by_id(self.source, [r.id for r in wanted])
        fresh = [r for r in wanted if held.get(r.id) != _live_json(r)]
        self.live.apply(self.source, fresh)
        self.live_behind = False
        return len(fresh)


def _when(value) -> datetime | None:
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return when if when is not None and when.tzinfo is not None else None


def _clearly_live(raw: dict, now: datetime, cutoff: datetime) -> bool:
    """True when `keep_live` keeps the stored record whatever else it holds (it has not
    expired and its newest time is inside the live window), read from the JSON without
    building the record; False means: ask keep_live. A sweep of 10,000 records so
    builds only the few near the edge."""
    if "expires_at" in raw and raw["expires_at"] is not None:
        expires = _when(raw["expires_at"])
        if expires is None or expires < now:
            return False
    if raw.get("kind") == "incident":
        if raw.get("status") in OPEN_STATUSES and raw.get("domain") in STICKY_DOMAINS:
            return True
        times = [_when(raw.get("updated_at")), _when(raw.get("reported_at"))]
    elif raw.get("kind") in ("reading", "position"):
        times = [_when(raw.get("observed_at"))]
    else:
        return False
    return all(t is not None for t in times) and max(times) >= cutoff


def _live_json(record) -> bytes:
    """The bytes the live store holds for a record (LiveStore.apply writes them so)."""
    return orjson.dumps(record.model_dump(mode="json"))


def short_error(exc: BaseException) -> str:
    """One line naming the error, for logs and the parts status."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]
