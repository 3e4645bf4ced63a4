"""Dimension codes of the analytics projection, allocated by many writers at once.

Source threads of one collector, and several collector processes on PostgreSQL, write
rollups for sources and categories nobody has coded yet at the same moment; each
value must get exactly one code and no writer may fail (the first run of a fresh
clone logged `UNIQUE constraint failed: analytics_codes.dim, analytics_codes.code`).
"""
from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from engine.analytics.facts import update_rollups
from engine.analytics.schema import codes, forget_schema
from engine.history import History
from engine.records import Incident, utcnow

WRITERS = 8


def _incidents(writer: int) -> list[Incident]:
    at = utcnow() - timedelta(minutes=5)
    return [Incident(id=f"w{writer}-{i}", source=f"source-{writer}", category=f"custom-{writer}-{i}", reported_at=at,
                     updated_at=at) for i in range(3)]


def _write_at_once(url: str) -> list[BaseException]:
    """Every writer on its own History (own engine and pool, as separate processes have)."""
    stores = [History(url) for _ in range(WRITERS)]
    start, errors = threading.Barrier(WRITERS), []

    def write(i: int) -> None:
        try:
            start.wait()
            update_rollups(stores[i], stores[i].apply(f"source-{i}", _incidents(i)).changed)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for store in stores:
        forget_schema(store.engine)
        store.dispose()
    return errors


def test_concurrent_writers_get_one_code_per_value(history):
    url = history.url
    errors = _write_at_once(url)
    assert errors == []
    with history.engine.connect() as conn:
        rows = conn.execute(select(codes.c.dim, codes.c.value, codes.c.code)).all()
    by_dim: dict[str, list] = {}
    for dim, value, code in rows:
        by_dim.setdefault(dim, []).append((value, code))
    sources = dict(by_dim["source"])
    categories = dict(by_dim["category"])
    assert set(sources) == {f"source-{i}" for i in range(WRITERS)}
    assert set(categories) == {f"custom-{w}-{i}" for w in range(WRITERS) for i in range(3)}
    for pairs in by_dim.values():
        assigned = [code for _, code in pairs]
        assert len(assigned) == len(set(assigned)), "a code was handed out twice"
