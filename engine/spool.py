"""The spool: what was fetched or pushed but could not reach history yet, on local disk.

One SQLite file per writer (a collector's identity, or `ingest` for the web
workers), append-only: an entry is written and committed before the poll or
the delivery is acknowledged, and replayed into history in the order written
once history answers again. Replay is safe to repeat: history applies records
by content hash, counts rejects by fingerprint and opens an outage only once.

Entries: (seq, source, kind, at, body) where kind is
- `batch`: {"records": [record JSON], "rejects": [reject JSON]}
- `outage_started`: {"error": text}
- `outage_ended`: {}

An entry history refuses for what it holds (not for being unreachable) would
block the ones after it forever: it moves to the `dead` table with the reason,
kept for a person to look at, and replay goes on.
"""
from __future__ import annotations

import fcntl
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable

import orjson

from engine.records import Reject, record_from_json

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_spool_source ON spool (source, seq);
CREATE TABLE IF NOT EXISTS dead (
    seq INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    body BLOB NOT NULL,
    reason TEXT NOT NULL
);
"""


@dataclass
class Entry:
    seq: int
    source: str
    kind: str
    at: datetime
    body: dict

    @property
    def records(self) -> list:
        return [record_from_json(r) for r in self.body.get("records", [])]

    @property
    def rejects(self) -> list[Reject]:
        return [Reject(**r) for r in self.body.get("rejects", [])]


class Spool:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as conn:
            conn.executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # autocommit: each append is its own durable transaction; drain opens its own
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # an acknowledged entry survives a power cut
            self._local.conn = conn
        return conn

    # ---- writing -------------------------------------------------------------
    def append(self, source: str, kind: str, at: datetime, body: dict) -> int:
        cur = self._conn().execute("INSERT INTO spool (source, kind, at, body) VALUES (?, ?, ?, ?)",
                                   (source, kind, at.isoformat(), orjson.dumps(body)))
        return int(cur.lastrowid)

    def append_batch(self, source: str, at: datetime, records: Iterable, rejects: Iterable[Reject]) -> int:
        body = {"records": [r.model_dump(mode="json") for r in records],
                "rejects": [r.model_dump(mode="json") for r in rejects]}
        return self.append(source, "batch", at, body)

    # ---- reading -------------------------------------------------------------
    def backlog(self, source: str | None = None) -> int:
        q, args = ("SELECT count(*) FROM spool WHERE source = ?", (source,)) if source else ("SELECT count(*) FROM spool", ())
        return int(self._conn().execute(q, args).fetchone()[0])

    def oldest(self) -> str | None:
        row = self._conn().execute("SELECT min(at) FROM spool").fetchone()
        return row[0] if row else None

    def sources(self) -> list[str]:
        return [r[0] for r in self._conn().execute("SELECT DISTINCT source FROM spool")]

    def drain(self, apply: Callable[[Entry], None], source: str | None = None, limit: int = 200) -> int:
        """Replay entries in order through `apply`, deleting each one it took. Stops at
        the first entry `apply` raises on (it stays, with the ones after it) and
        re-raises. One replayer at a time per spool file (an flock beside it, so also
        across processes): a second caller returns 0 at once. Appends never wait for
        a replay, which may be slow while history is. Returns the count replayed."""
        conn = self._conn()
        done = 0
        with open(f"{self.path}.replay", "a+") as guard:
            try:
                fcntl.flock(guard, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0
            while True:
                q = "SELECT seq, source, kind, at, body FROM spool {} ORDER BY seq LIMIT ?"
                rows = conn.execute(q.format("WHERE source = ?"), (source, limit)).fetchall() if source else \
                    conn.execute(q.format(""), (limit,)).fetchall()
                for seq, src, kind, at, body in rows:
                    apply(Entry(seq, src, kind, datetime.fromisoformat(at), orjson.loads(body)))
                    conn.execute("DELETE FROM spool WHERE seq = ?", (seq,))
                    done += 1
                if len(rows) < limit:
                    return done

    def bury(self, entry: Entry, reason: str) -> None:
        """Keep an entry history refuses aside, to be deleted from the spool by `drain`."""
        self._conn().execute("INSERT OR REPLACE INTO dead (seq, source, kind, at, body, reason) VALUES (?, ?, ?, ?, ?, ?)",
                             (entry.seq, entry.source, entry.kind, entry.at.isoformat(), orjson.dumps(entry.body), reason))

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
