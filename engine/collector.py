"""The collector: one poller per source, feeding the history store and the live store.

Modelled on Home Assistant's DataUpdateCoordinator: data is replaced only on a
successful poll; each source keeps `last_update_success` and its last error; one
log line when a source starts failing and one when it recovers.

Each source runs in its own thread, so a hanging or failing source never delays
another. Several collector processes may run: a poll lease per source makes sure
each source is polled by exactly one of them at a time. The lease lives in the
history database (`poll_leases`) and is mirrored to a Redis lock; while the
database cannot be reached the Redis lock decides, so either part may be down.

A collector's owner identity is stable per host and configuration (see
`stable_identity`), so one restarted after a crash takes its own leases at once
instead of waiting them out.

No step of a poll can end a source's thread: history down or slow sends the
result to the spool (engine/spool.py) and the live store is written from it;
Redis down leaves history to take everything and the live store is refilled
from history when Redis answers again (a collector notices an emptied Redis by
its missing `alive` sentinel).
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import random
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine.analytics.config import KpiConfig
from engine.contract import Adapter
from engine.fetch import FetchError, Unchanged, scrub
from engine.geo import boundaries
from engine.history import History
from engine.live import LiveStore
from engine.pipeline import (HISTORY_ERRORS, LIVE_ERRORS, STICKY_DOMAINS, PartsReport, ResultWriter, Slow,
                             call_with_deadline, keep_live, parse_safely, replay_into_history, short_error)
from engine.records import utcnow
from engine.spool import Spool

__all__ = ["Collector", "SourceRunner", "STICKY_DOMAINS", "keep_live", "next_delay", "stable_identity"]

log = logging.getLogger("damamaya.collector")

# How often a watched file source's file is looked at (a stat) between polls.
WATCH_SECONDS = 0.2
ADOPT_EVERY = 60.0  # seconds between two looks for spools of retired identities


def next_delay(interval: float, failures: int, max_backoff: float, rng: random.Random | None = None) -> float:
    """Seconds until the next poll: the interval after success; after failures an
    exponential backoff from the interval, capped, with +-25 % jitter so that many
    failing sources do not retry in lockstep."""
    if failures <= 0:
        return interval
    base = min(max_backoff, interval * 2 ** (failures - 1))
    jitter = (rng or random).uniform(0.75, 1.25)
    return max(1.0, min(max_backoff, base * jitter))


def stable_identity(spool_dir: str | Path, key: str) -> tuple[str, object]:
    """An owner name stable per host and `key` (the configuration), held by this
    process: `host:digest` (or `host:digest-2`... when another live collector with
    the same configuration holds that one). The flock on `{spool_dir}/{name}.lock`
    goes with the process, also on kill -9, so a restarted collector gets the same
    name back and, with it, its own poll leases and spool."""
    host = socket.gethostname()
    digest = hashlib.blake2b(key.encode(), digest_size=4).hexdigest()
    Path(spool_dir).mkdir(parents=True, exist_ok=True)
    for n in range(1, 100):
        name = f"{host}:{digest}" + ("" if n == 1 else f"-{n}")
        handle = open(Path(spool_dir) / f"{file_safe(name)}.lock", "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        return name, handle
    raise RuntimeError(f"no free collector identity in {spool_dir}")


def _unheld(lock: Path) -> bool:
    """True when no process holds the identity whose lock file this is (a spool without one
    was never a stable identity's: not ours to take)."""
    if not lock.exists():
        return False
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def file_safe(owner: str) -> str:
    """An owner name as a file name (spool, identity lock)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in owner)


def _private_spool() -> Spool:
    """A spool for a collector given none (tests, library use): its own directory."""
    return Spool(Path(tempfile.mkdtemp(prefix="damamaya-spool-")) / "spool.sqlite")


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
    spooled: int = 0  # polls of the current history outage waiting in the spool

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
    spooled: bool = False
    unchanged: bool = False  # the origin or the bytes said nothing changed: nothing was parsed


class SourceRunner:
    """Polls one source: fetch -> parse -> store (ResultWriter), and keeps its health."""

    def __init__(self, adapter: Adapter, live: LiveStore, history: History, max_backoff: float = 300,
                 owner: str = "", kpi: KpiConfig | None = None, spool: Spool | None = None,
                 parts: PartsReport | None = None, history_wait: float = 5.0, listener=None):
        self.name = name = adapter.source
        self.config = config = adapter.config
        self.adapter = adapter
        self.live = live
        self.history = history
        self.max_backoff = max_backoff
        self.writer = ResultWriter(name, config, adapter.snapshot, live, history, spool or _private_spool(),
                                   parts or PartsReport(), kpi, history_wait, listener=listener)
        # Told of each applied change (through the writer) and each health report (alert rules: engine.alerts).
        self.listener = listener
        self.health = Health(name, config.title or name, config.adapter, config.interval, config.stale_seconds, owner=owner)
        self._published_success: datetime | None = None
        self.health_unpublished = False
        # digest of the bytes last parsed and stored; in memory, so the first poll after a start parses
        self._stored_digest: bytes | None = None
        self.polled_stamp: tuple | None = None  # a file source's stamp when its last poll began

    @property
    def last_update_success(self) -> bool | None:
        return self.health.last_update_success

    def delay(self) -> float:
        return next_delay(self.config.interval, self.health.failures, self.max_backoff)

    def file_stamp(self) -> tuple | None:
        """(mtime, size, inode) of a file source's file, None for other sources or a missing file."""
        if not self.config.path:
            return None
        try:
            st = os.stat(self.config.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def file_changed(self) -> bool:
        """A watched file source whose file changed since its last poll began (a stat, no read)."""
        return bool(self.config.path and self.config.watch_file and self.file_stamp() != self.polled_stamp)

    def next_poll_at(self, began: float) -> float:
        """When to poll next (monotonic), for a poll that began at `began`: successful polls
        keep their interval from start to start (a 0.4 s poll every 1 s rests 0.6 s, so a
        new item waits at most the interval), resting at least a tenth of it; after a
        failure the backoff counts from the end."""
        now = time.monotonic()
        if self.health.failures:
            return now + self.delay()
        return max(began + self.config.interval, now + self.config.interval / 10)

    def poll(self, now: datetime | None = None) -> PollOutcome:
        """One poll. Never raises: every failure becomes the source's health."""
        now = now or utcnow()
        started = time.perf_counter()
        self.polled_stamp = self.file_stamp()
        self.health.last_attempt = now.isoformat()
        self.health.polls += 1
        try:
            raw = call_with_deadline(self.adapter.fetch, self.config.timeout + 5)
            digest = hashlib.blake2b(raw, digest_size=16).digest()
            if digest == self._stored_digest:
                self.adapter.validators.commit()  # they describe the stored bytes (a file touched, not changed)
                raise Unchanged("the same bytes as last stored")
            outcome = self._store(parse_safely(self.adapter, raw), digest, now)
        except Unchanged:
            outcome = self._unchanged(now)
        except (FetchError, OSError, ValueError) as exc:
            outcome = PollOutcome(ok=False, error=self._scrub(str(exc) or type(exc).__name__))
        except Exception as exc:  # noqa: BLE001 - one broken source must not stop the collector
            log.exception("source %s: unexpected error", self.name)
            outcome = PollOutcome(ok=False, error=self._scrub(f"{type(exc).__name__}: {exc}"))
        self.health.duration_ms = round((time.perf_counter() - started) * 1000, 1)
        try:
            self._record_health(outcome, now)
        except Exception:  # noqa: BLE001 - health is reporting; the next poll reports again
            log.exception("source %s: recording health failed", self.name)
        return outcome

    def _store(self, result, digest: bytes, now: datetime) -> PollOutcome:
        if not result.records and result.rejects:
            # Nothing usable: keep the last good data rather than replace it with garbage.
            raise FetchError(f"no usable record: {result.rejects[0].reason}")
        stored = self.writer.write(result, now)
        if stored.live_ok:  # else the next poll parses again, whatever the origin says
            self.adapter.validators.commit()
            self._stored_digest = digest
        if stored.live_count is not None:
            self.health.records = stored.live_count
        return PollOutcome(ok=True, records=stored.records, rejects=stored.rejects, changed=stored.changed,
                           removed=stored.removed, spooled=stored.spooled)

    def _unchanged(self, now: datetime) -> PollOutcome:
        """A successful poll with nothing new: only records that aged out of the live window leave it."""
        stored = self.writer.expire(now)
        if stored.live_count is not None:
            self.health.records = stored.live_count
        return PollOutcome(ok=True, records=self.health.records, removed=stored.removed, unchanged=True)

    def _scrub(self, message: str) -> str:
        return scrub(message, self.config.url, self.config.headers)

    def _record_health(self, outcome: PollOutcome, now: datetime) -> None:
        h = self.health
        before = (h.status, h.last_error, bool(h.spooled))
        if outcome.ok:
            if h.status == "failing":
                log.info("source %s recovered after %d failed polls", self.name, h.failures)
                self.writer.note_outage(False, now)
            h.status, h.last_update_success, h.failures = "ok", True, 0
            h.failing_since = None
            h.last_success = now.isoformat()
            if outcome.changed or outcome.removed:
                h.last_change = now.isoformat()  # an unchanged poll moves last_success on, not this
            if not outcome.unchanged:  # an unchanged poll repeats the last parse's rejects, it adds none
                h.rejects_last = outcome.rejects
                h.rejects_total += outcome.rejects
            h.spooled = h.spooled + 1 if outcome.spooled else 0
        else:
            if h.status != "failing":
                log.warning("source %s failing: %s", self.name, outcome.error)
                h.failing_since = now.isoformat()
                self.writer.note_outage(True, now, outcome.error or "")
            h.status, h.last_update_success = "failing", False
            h.failures += 1
            h.last_error, h.last_error_at = outcome.error, now.isoformat()
        # Publish a new health version on any change of state, and on success at
        # most every min(stale_after / 2, 30 s): screens tell fresh from stale by
        # last_success, so it must be republished well within stale_after.
        refresh = min(self.config.stale_seconds / 2, 30)
        due = outcome.ok and (self._published_success is None or (now - self._published_success).total_seconds() >= refresh)
        bump = before != (h.status, h.last_error, bool(h.spooled)) or due or outcome.changed or outcome.removed
        self.publish_health(bool(bump) or self.health_unpublished, now if bump and outcome.ok else None)
        if self.listener is not None:
            self.listener.health_changed(self.name, h.as_dict(), now)

    def publish_health(self, bump: bool, success_at: datetime | None = None) -> None:
        try:
            self.live.set_health(self.name, self.health.as_dict(), bump=bump)
            self.health_unpublished = False
            if success_at is not None:
                self._published_success = success_at
        except LIVE_ERRORS:
            self.health_unpublished = True


class Collector:
    """Runs each adapter (one per enabled, polled source) on its own thread until `stop` is set,
    and a caretaker thread that replays spools, reports Damamaya's parts and refills an
    emptied live store."""

    def __init__(self, adapters: list[Adapter], live: LiveStore, history: History,
                 max_backoff: float = 300, lock_seconds: float = 60, kpi: KpiConfig | None = None,
                 owner: str | None = None, spool: Spool | None = None, descriptions: dict[str, dict] | None = None,
                 history_wait: float = 5.0, care_every: float = 2.0, extra_writers: list[ResultWriter] | None = None,
                 listener=None):
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.live = live
        self.history = history
        self.lock_seconds = lock_seconds
        self.care_every = care_every
        self.spool = spool or _private_spool()
        self.parts = PartsReport()
        polled = [a for a in adapters if not _ingest_only(a)]
        self.runners = {a.source: SourceRunner(a, live, history, max_backoff, self.owner, kpi, self.spool, self.parts,
                                               history_wait, listener) for a in polled}
        self.listener = listener
        # writers replayed by the caretaker: every runner's, and those of pushed sources' spool
        self.writers = [r.writer for r in self.runners.values()] + list(extra_writers or [])
        self.descriptions = descriptions if descriptions is not None else {
            a.source: describe(a.source, a.config, a) for a in adapters}
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.polling: set[str] = set()
        self.identity_lock = None  # the flock of a stable identity, held while the process lives
        self.kpi = kpi
        self._next_adoption = 0.0

    def start(self) -> None:
        boundaries()  # loaded now, not by the first poll that brings located records (a burst waits for it)
        try:  # describe the sources and fill what the live store lacks before the first poll
            self.refill(utcnow())
            self.report_parts(utcnow())
        except LIVE_ERRORS as exc:
            log.error("live store unreachable at start (%s); filled when it answers", exc)
        except Exception:  # noqa: BLE001 - the caretaker tries again
            log.exception("collector start-up refill failed; retrying in the background")
        for name, runner in self.runners.items():
            t = threading.Thread(target=self._loop, args=(runner,), name=f"source-{name}", daemon=True)
            t.start()
            self.threads.append(t)
        t = threading.Thread(target=self._care_loop, name="caretaker", daemon=True)
        t.start()
        self.threads.append(t)

    def close(self, timeout: float = 5) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout)
        for runner in self.runners.values():
            runner.adapter.close()
        try:
            self.live.drop_part(f"collector:{self.owner}")
        except LIVE_ERRORS:
            pass

    # ---- polling under a lease -------------------------------------------------------
    def _loop(self, runner: SourceRunner) -> None:
        # The lease only has to outlive one poll: the holder renews it every lease/3,
        # so a dead collector's sources move on within a lease.
        lease = max(self.lock_seconds, runner.config.timeout + 15)
        held, renewed = False, 0.0
        while not self.stop.is_set():
            try:
                if not held or time.monotonic() - renewed >= lease / 3:
                    held, renewed = self._hold(runner.name, lease, held), time.monotonic()
                if held:
                    self.polling.add(runner.name)
                    began = time.monotonic()
                    runner.poll()
                    deadline = runner.next_poll_at(began)
                    watch = WATCH_SECONDS if runner.config.path and runner.config.watch_file else float("inf")
                    while held and not self.stop.is_set() and time.monotonic() < deadline:
                        renew_in = renewed + lease / 3 - time.monotonic()
                        self.stop.wait(max(0.0, min(deadline - time.monotonic(), renew_in, watch)))
                        if runner.file_changed() and not runner.health.failures:
                            break  # a watched file changed: poll it now
                        if time.monotonic() - renewed >= lease / 3:
                            held, renewed = self._hold(runner.name, lease, True), time.monotonic()
                else:  # another collector polls this source; stand by to take over
                    self.polling.discard(runner.name)
                    self.stop.wait(min(lease / 3, 10))
            except Exception:  # noqa: BLE001 - the thread must outlive any failure
                log.exception("source %s: poll loop error; retrying", runner.name)
                self.stop.wait(2)
        self.polling.discard(runner.name)
        if held:
            self._let_go(runner.name)

    def _hold(self, name: str, lease: float, held: bool) -> bool:
        """Take or renew the source's lease: the database decides while it answers
        (and the holder mirrors it to Redis); the Redis lock while it does not."""
        try:
            granted = call_with_deadline(lambda: self.history.take_lease(name, self.owner, lease), 3, Slow)
        except (Slow, *HISTORY_ERRORS):
            granted = None
        if granted is False:
            if held:
                log.warning("source %s: lost its poll lease to another collector", name)
            return False
        try:
            if granted:
                self.live.force_lock(name, self.owner, lease)
                return True
            return self.live.take_lock(name, self.owner, lease)
        except LIVE_ERRORS:
            # Neither part answers (or only the database does): keep what we had; the
            # spool keeps the results and history takes them by content, never twice.
            return bool(granted) or held

    def _let_go(self, name: str) -> None:
        try:
            self.history.release_lease(name, self.owner)
        except HISTORY_ERRORS:
            pass
        try:
            self.live.release_lock(name, self.owner)
        except LIVE_ERRORS:
            pass

    # ---- the caretaker ---------------------------------------------------------------
    def _care_loop(self) -> None:
        while not self.stop.wait(self.care_every):
            try:
                self.care_once()
            except Exception:  # noqa: BLE001 - retried next round
                log.exception("collector care failed; retrying")

    def care_once(self, now: datetime | None = None) -> None:
        """Replay spools, refill an emptied live store, catch up sources the live store
        missed, republish health Redis lost, report the parts."""
        now = now or utcnow()
        try:  # first, so that a slow step below never keeps the screens from hearing of the parts
            self.report_parts(now)
        except LIVE_ERRORS:
            pass
        if not self.history.created:
            try:  # a collector started while the database was down
                call_with_deadline(self.history.create, 10, Slow)
            except (Slow, *HISTORY_ERRORS) as exc:
                self.parts.history_failed(short_error(exc), now)
        for writer in self.writers:
            writer.replay_soon()
        if self.identity_lock is not None and time.monotonic() >= self._next_adoption:
            self._next_adoption = time.monotonic() + ADOPT_EVERY
            self.adopt_orphan_spools()
        try:
            if not self.live.is_marked_alive():
                self.refill(now)
            for runner in self.runners.values():
                if runner.writer.live_behind:
                    self._resync(runner.writer, now)
                if runner.health_unpublished:
                    runner.publish_health(True)
        except LIVE_ERRORS as exc:
            log.debug("live store unreachable: %s", exc)

    def adopt_orphan_spools(self) -> int:
        """Replay into history the spools beside this one whose identity no collector holds (a
        configuration changed, so the identity did): nobody else would. Sources polled here are
        then resynced to the live store from history. Returns the entries replayed."""
        folder, total = self.spool.path.parent, 0
        for path in sorted(folder.glob("*.sqlite")):
            if path == self.spool.path or not _unheld(path.with_suffix(".lock")):
                continue
            orphan = Spool(path)
            try:
                if not orphan.backlog():
                    continue
                done = replay_into_history(orphan, self.history, self.kpi)
            except HISTORY_ERRORS as exc:
                log.warning("spool %s of a retired identity: history unavailable (%s); retrying", path.name, short_error(exc))
                continue
            finally:
                orphan.close()
            total += sum(done.values())
            log.info("spool %s of a retired identity: %d entries replayed into history", path.name, sum(done.values()))
            for writer in self.writers:
                if writer.source in done:
                    writer.live_behind = True  # the caretaker brings its live copy up from history
        return total

    def refill(self, now: datetime) -> int:
        """Redis came back empty (or is new): describe the sources, fill each source the
        live store lacks from history, republish health, then set the sentinel."""
        self.live.describe_sources(self.descriptions)
        have = self.live.versions()
        filled = 0
        for writer in self.writers:
            if writer.source not in have:
                filled += self._resync(writer, now)
        for runner in self.runners.values():
            runner.publish_health(True)
        if self.listener is not None:
            self.listener.live_refilled()
        self.live.mark_alive(self.owner)
        log.info("live store refilled from history: %d records", filled)
        return filled

    @staticmethod
    def _resync(writer: ResultWriter, now: datetime) -> int:
        try:
            return writer.resync_live(now)
        except HISTORY_ERRORS:
            return 0  # history is down too; the flag stays and the next round tries again

    def report_parts(self, now: datetime) -> None:
        at = now.isoformat()
        self.live.set_part("database", {**self.parts.database, "by": self.owner, "at": at})
        spools = {str(w.spool.path): w.spool for w in self.writers} | {str(self.spool.path): self.spool}
        oldest = min((o for o in (s.oldest() for s in spools.values()) if o), default=None)
        self.live.set_part(f"spool:{self.owner}", {"backlog": sum(s.backlog() for s in spools.values()),
                                                    "oldest": oldest, "at": at})
        self.live.set_part(f"collector:{self.owner}", {"at": at, "sources": sorted(self.runners),
                                                        "polling": sorted(self.polling)})


def describe(source: str, config, adapter: type[Adapter] | Adapter) -> dict:
    """A source's description on the live store's `sources` (what /sources and the wall list)."""
    return {"title": config.title or source, "adapter": config.adapter, "kinds": list(adapter.kinds),
            "enabled": config.enabled, "interval": config.interval, "stale_after": config.stale_seconds,
            "description": adapter.description}


def _ingest_only(adapter: Adapter) -> bool:
    """A pushed source with nothing to poll: its records arrive at the ingest endpoint."""
    cfg = adapter.config
    return getattr(cfg, "ingest", None) is not None and not (cfg.url or cfg.path)
