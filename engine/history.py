"""The history store: the system of record, on SQLite by default or PostgreSQL by URL.

Tables
- `records`: the latest version of every record, flat columns for querying.
- `record_versions`: every version ever stored, numbered per record; (source,
  record_id, version) is unique. The same content twice in a row is one
  version, but content that comes back after a change (M5.0 -> M5.2 -> M5.0)
  is a new version, so history never reverts without a trace.
- `rejects`: every input item that did not become a record, with its reason,
  counted rather than repeated when a feed sends the same bad item each poll.
- `source_outages`: when each source was failing, for KPI completeness.
- `poll_leases`: which collector polls a source while Redis (where the poll
  locks live) cannot be reached.
- `ingest_deliveries`: the delivery ids of pushed reports already taken, so a
  replayed delivery is refused.

Text stored here never holds NUL characters (PostgreSQL refuses them): they are
removed from records and rejects on the way in.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import orjson
from sqlalchemy import (Boolean, Column, DateTime, Float, Index, Integer, MetaData, String, Table, Text,
                        TypeDecorator, UniqueConstraint, and_, create_engine, delete, event, func, select, text, update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from engine.records import (OPEN_STATUSES, WITA, Incident, Reject, record_from_json, record_to_json, status_rank,
                            utcnow)

metadata = MetaData()


class UtcDateTime(TypeDecorator):
    """Timezone-aware in, timezone-aware (UTC) out, on both SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


records = Table(
    "records", metadata,
    Column("source", String(64), primary_key=True),
    Column("record_id", String(300), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(32), nullable=False),
    Column("domain", String(24)),
    Column("category", String(80)),
    Column("severity", String(16)),
    Column("status", String(16)),
    Column("lat", Float),
    Column("lon", Float),
    Column("kecamatan", String(64)),
    Column("desa", String(80)),
    Column("desa_code", String(20)),
    Column("in_city", Boolean),
    Column("event_time", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("first_seen", UtcDateTime(), nullable=False),
    Column("title", String(500)),
    Column("value", Float),
    Column("payload", Text, nullable=False),
)
Index("ix_records_kind_time", records.c.kind, records.c.event_time)
Index("ix_records_source_time", records.c.source, records.c.event_time)
Index("ix_records_domain_time", records.c.domain, records.c.event_time)

record_versions = Table(
    "record_versions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("record_id", String(300), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(32), nullable=False),
    Column("seen_at", UtcDateTime(), nullable=False),
    Column("payload", Text, nullable=False),
    UniqueConstraint("source", "record_id", "version", name="uq_record_versions_version"),
)
Index("ix_record_versions_content", record_versions.c.source, record_versions.c.record_id, record_versions.c.content_hash)

rejects = Table(
    "rejects", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("fingerprint", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("item", Text, nullable=False),
    Column("ref", String(300)),
    Column("first_seen", UtcDateTime(), nullable=False),
    Column("last_seen", UtcDateTime(), nullable=False),
    Column("times", Integer, nullable=False, default=1),
    UniqueConstraint("source", "fingerprint", name="uq_rejects_fingerprint"),
)

source_outages = Table(
    "source_outages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False, index=True),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("ended_at", UtcDateTime()),
    Column("error", Text),
)

poll_leases = Table(
    "poll_leases", metadata,
    Column("source", String(64), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)

ingest_deliveries = Table(
    "ingest_deliveries", metadata,
    Column("source", String(64), primary_key=True),
    Column("delivery_id", String(200), primary_key=True),
    Column("received_at", UtcDateTime(), nullable=False),
)


@dataclass
class Applied:
    """What a batch did to history: the records that are new or changed, and the ones ignored."""

    changed: list
    unchanged: int
    out_of_order: int
    unchanged_records: list  # the same as stored: a live store that lost them takes them back


def schema_lock(conn) -> None:
    """Serialise schema creation between processes (two collectors starting at once would
    race on CREATE TABLE on PostgreSQL); held until the transaction ends. SQLite
    serialises writers by itself."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(7243110)"))


class SchemaOnce:
    """The tables of one MetaData, created once per database and process: the first caller
    creates them under `schema_lock` (other processes may be creating them right now),
    runs `after(engine)` if given, and later callers return at once."""

    def __init__(self, metadata: MetaData, after=None):
        self.metadata, self.after = metadata, after
        self._ready: set[str] = set()
        self._lock = threading.Lock()

    def ensure(self, engine: Engine) -> None:
        key = str(engine.url)
        if key in self._ready:
            return
        with self._lock:
            if key not in self._ready:
                with engine.begin() as conn:
                    schema_lock(conn)
                    self.metadata.create_all(conn, checkfirst=True)
                if self.after is not None:
                    self.after(engine)
                self._ready.add(key)

    def forget(self, engine: Engine) -> None:
        self._ready.discard(str(engine.url))


def without_nul(value):
    """`value` with every NUL character removed from its text, at any depth."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


def storable(record):
    """The record, or a copy without NUL characters when its text holds any."""
    if b"\\u0000" not in record_to_json(record):
        return record
    return type(record).model_validate(without_nul(record.model_dump()))


def merge_state_update(stored, update_: Incident) -> Incident:
    """A state update (details.state_update) moves status, severity and time of a
    stored incident and keeps what it does not carry: geometry, place, first report.
    History and the live store (while history is down) merge alike."""
    if not isinstance(stored, Incident):
        return update_
    details = {**stored.details, **{k: v for k, v in update_.details.items() if k != "state_update"}}
    return stored.model_copy(update={
        "status": update_.status, "severity": update_.severity, "updated_at": update_.updated_at,
        "title": update_.title or stored.title, "details": details,
        "geometry": update_.geometry or stored.geometry,
        **({} if update_.lat is None else {"lat": update_.lat, "lon": update_.lon, "kecamatan": update_.kecamatan,
                                           "desa": update_.desa, "desa_code": update_.desa_code, "in_city": update_.in_city}),
    })


def _migrate(conn) -> None:
    """Bring a database made before versions were numbered per record up to date:
    the old unique (source, record_id, content_hash) swallowed a revision that
    returned to an earlier content."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE record_versions DROP CONSTRAINT IF EXISTS uq_record_versions_content"))
        conn.execute(text("CREATE UNIQUE INDEX IF NOT EXISTS uq_record_versions_version "
                          "ON record_versions (source, record_id, version)"))
        conn.execute(text("CREATE INDEX IF NOT EXISTS ix_record_versions_content "
                          "ON record_versions (source, record_id, content_hash)"))
        return
    sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE type='table' AND name='record_versions'")).scalar()
    if sql and "uq_record_versions_content" in sql:  # SQLite cannot drop a constraint: copy into a new table
        conn.execute(text("ALTER TABLE record_versions RENAME TO record_versions_old"))
        conn.execute(text("DROP INDEX IF EXISTS ix_record_versions_content"))
        record_versions.create(conn)  # with its indexes (a second Index object would join the table's list)
        conn.execute(text("INSERT INTO record_versions (id, source, record_id, version, content_hash, seen_at, payload) "
                          "SELECT id, source, record_id, version, content_hash, seen_at, payload FROM record_versions_old"))
        conn.execute(text("DROP TABLE record_versions_old"))


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # a database that does not answer must fail a write soon (the result is then spooled), not hang it
    connect_args = {"connect_timeout": 5} if url.startswith("postgresql") else {}
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record):
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers never block the collector's writes
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()
    return engine


def _insert(engine: Engine, table: Table):
    return (postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert)(table)


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


_EVENT_TIME = {"incident": "reported_at", "reading": "observed_at", "position": "observed_at", "price": "date"}
_CATEGORY = {"incident": "category", "reading": "quantity", "position": "vehicle_type", "price": "commodity"}
_TITLE = {"incident": ("title",), "reading": ("station_name", "station"), "position": ("name", "vehicle"),
          "price": ("market",)}


def record_row(p: dict, version: int, digest: str, first_seen: datetime | None, payload: str) -> dict:
    """The `records` row of a record given as its python dump (times as datetimes): what
    `History.apply` and the bulk seeder write, so both fill the columns alike. `first_seen`
    defaults to the record's update time."""
    kind = p["kind"]
    event = p[_EVENT_TIME[kind]]
    event = event if event.tzinfo else event.replace(tzinfo=WITA)  # a price's market day is WITA
    updated = p.get("updated_at") or event
    title = next((p[k] for k in _TITLE[kind] if p.get(k)), "")
    if kind in ("reading", "price"):
        value = p["value"]
    elif kind == "incident":
        value = (p.get("details") or {}).get("magnitude")
    else:
        value = p.get("speed_kmh")
    return {
        "source": p["source"], "record_id": p["id"], "kind": kind, "version": version, "content_hash": digest,
        "domain": p.get("domain"), "category": p.get(_CATEGORY[kind]), "severity": p.get("severity"),
        "status": p.get("status"), "lat": p.get("lat"), "lon": p.get("lon"), "kecamatan": p.get("kecamatan"),
        "desa": p.get("desa"), "desa_code": p.get("desa_code"), "in_city": p.get("in_city"),
        "event_time": event, "updated_at": updated, "first_seen": first_seen or updated, "title": title[:500],
        "value": value if isinstance(value, (int, float)) and not isinstance(value, bool) else None,
        "payload": payload,
    }


class History:
    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.created = False  # the schema was made (or checked) by this process

    def create(self) -> None:
        with self.engine.begin() as conn:
            schema_lock(conn)
            metadata.create_all(conn)
            _migrate(conn)
        self.created = True

    def dispose(self) -> None:
        self.engine.dispose()

    # ---- writes ----------------------------------------------------------------
    def apply(self, source: str, batch: Iterable, now: datetime | None = None) -> Applied:
        """Store new and changed records; same content twice is one row.

        An incident update older than the stored one is ignored, and a newer
        one never moves the status backwards (it keeps the stored status).
        """
        now = now or utcnow()
        latest: dict[str, object] = {}
        for record in batch:
            latest[record.id] = storable(record)  # last one wins within a batch
        changed, same, out_of_order = [], [], 0
        with self.engine.begin() as conn:
            for ids in _chunks(list(latest), 500):
                stored = {
                    r.record_id: r for r in conn.execute(
                        select(records.c.record_id, records.c.content_hash, records.c.version, records.c.status,
                               records.c.updated_at, records.c.first_seen)
                        .where(records.c.source == source, records.c.record_id.in_(ids)))
                }
                rows, versions = [], []
                for rid in ids:
                    record = latest[rid]
                    old = stored.get(rid)
                    if old is not None and isinstance(record, Incident) and record.details.get("state_update"):
                        record = self._merge_state_update(conn, source, rid, record)
                    if old is not None and isinstance(record, Incident):
                        if record.updated_at < old.updated_at:
                            out_of_order += 1
                            continue
                        if old.status and status_rank(record.status) < status_rank(old.status):
                            record = record.model_copy(update={"status": old.status})
                    canonical = record.canonical_json()
                    digest = record.content_hash(canonical)
                    if old is not None and old.content_hash == digest:
                        same.append(record)
                        continue
                    version = 1 if old is None else old.version + 1
                    payload = canonical.decode()
                    rows.append(record_row(record.model_dump(), version, digest, old.first_seen if old else now, payload))
                    versions.append({"source": source, "record_id": rid, "version": version, "content_hash": digest,
                                     "seen_at": now, "payload": payload})
                    changed.append(record)
                if rows:
                    ins = _insert(self.engine, records)
                    conn.execute(ins.on_conflict_do_update(
                        index_elements=[records.c.source, records.c.record_id],
                        set_={c.name: ins.excluded[c.name] for c in records.c if c.name not in ("source", "record_id", "first_seen")}),
                        rows)
                    vins = _insert(self.engine, record_versions)
                    conn.execute(vins.on_conflict_do_nothing(), versions)
        return Applied(changed, len(same), out_of_order, same)

    @staticmethod
    def _merge_state_update(conn, source: str, rid: str, update_: Incident) -> Incident:
        payload = conn.execute(select(records.c.payload).where(records.c.source == source, records.c.record_id == rid)).scalar_one()
        return merge_state_update(record_from_json(payload), update_)

    def add_rejects(self, source: str, items: Sequence[Reject], now: datetime | None = None) -> None:
        if not items:
            return
        now = now or utcnow()
        rows = {}
        for r in items:
            r = Reject(reason=without_nul(r.reason), item=without_nul(r.item), ref=without_nul(r.ref))
            fp = hashlib.blake2b(f"{r.reason}\x00{r.item}\x00{r.ref}".encode(), digest_size=12).hexdigest()
            rows[fp] = {"source": source, "fingerprint": fp, "reason": r.reason, "item": r.item, "ref": r.ref,
                        "first_seen": now, "last_seen": now, "times": 1}
        ins = _insert(self.engine, rejects)
        stmt = ins.on_conflict_do_update(
            index_elements=[rejects.c.source, rejects.c.fingerprint],
            set_={"last_seen": ins.excluded.last_seen, "times": rejects.c.times + 1})
        with self.engine.begin() as conn:
            conn.execute(stmt, list(rows.values()))

    def take_lease(self, source: str, owner: str, seconds: float, now: datetime | None = None) -> bool:
        """Take or renew the poll lease of `source` for `owner`: granted when free, expired
        or already held by `owner`. One statement each way, so two collectors asking at
        once cannot both get it."""
        now = now or utcnow()
        until = now + timedelta(seconds=seconds)
        with self.engine.begin() as conn:
            renewed = conn.execute(update(poll_leases).where(
                poll_leases.c.source == source,
                (poll_leases.c.owner == owner) | (poll_leases.c.expires_at < now)).values(owner=owner, expires_at=until))
            if renewed.rowcount:
                return True
            taken = conn.execute(_insert(self.engine, poll_leases).on_conflict_do_nothing().values(
                source=source, owner=owner, expires_at=until).returning(poll_leases.c.source))
            return taken.first() is not None

    def release_lease(self, source: str, owner: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(poll_leases).where(poll_leases.c.source == source, poll_leases.c.owner == owner))

    def lease_owner(self, source: str, now: datetime | None = None) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(poll_leases.c.owner).where(
                poll_leases.c.source == source, poll_leases.c.expires_at >= (now or utcnow()))).scalar()

    def remember_delivery(self, source: str, delivery_id: str, at: datetime | None = None) -> bool:
        """Note a pushed delivery; False when that id was taken before (a replay)."""
        with self.engine.begin() as conn:
            done = conn.execute(_insert(self.engine, ingest_deliveries).on_conflict_do_nothing().values(
                source=source, delivery_id=delivery_id, received_at=at or utcnow()).returning(ingest_deliveries.c.source))
            return done.first() is not None

    def outage_started(self, source: str, at: datetime, error: str) -> None:
        with self.engine.begin() as conn:
            open_ = conn.execute(select(source_outages.c.id).where(
                source_outages.c.source == source, source_outages.c.ended_at.is_(None))).first()
            if open_ is None:
                conn.execute(source_outages.insert().values(source=source, started_at=at, error=without_nul(error)[:2000]))

    def outage_ended(self, source: str, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(source_outages).where(
                source_outages.c.source == source, source_outages.c.ended_at.is_(None)).values(ended_at=at))

    # ---- reads -----------------------------------------------------------------
    def live_records(self, source: str, since: datetime) -> list:
        """Records the live view should hold: open incidents, and anything updated since `since`."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(records.c.payload).where(
                records.c.source == source,
                (records.c.updated_at >= since) | (records.c.event_time >= since)
                | and_(records.c.kind == "incident", records.c.status.in_(sorted(OPEN_STATUSES)))))
            return [record_from_json(r.payload) for r in rows]

    def sources(self) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(select(records.c.source).distinct())]

    def count(self, source: str | None = None) -> int:
        with self.engine.connect() as conn:
            q = select(func.count()).select_from(records)
            if source:
                q = q.where(records.c.source == source)
            return conn.execute(q).scalar_one()

    def versions_of(self, source: str, record_id: str) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(record_versions.c.version, record_versions.c.payload)
                                .where(record_versions.c.source == source, record_versions.c.record_id == record_id)
                                .order_by(record_versions.c.version))
            return [{"version": r.version, **orjson.loads(r.payload)} for r in rows]

    def recent_rejects(self, source: str, limit: int = 50) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(rejects).where(rejects.c.source == source)
                                .order_by(rejects.c.last_seen.desc()).limit(limit))
            return [dict(r._mapping) for r in rows]

    def outages(self, source: str | None = None) -> list[dict]:
        with self.engine.connect() as conn:
            q = select(source_outages).order_by(source_outages.c.started_at)
            if source:
                q = q.where(source_outages.c.source == source)
            return [dict(r._mapping) for r in conn.execute(q)]
