"""`damamaya seed-history`: exactly N records, faithful to the canonical models, placed in their desa."""
from __future__ import annotations

import argparse
import io
from datetime import datetime, timezone

import orjson
import pytest
from sqlalchemy import func, select

from damamaya import seed as S
from engine.analytics import queries as Q
from engine.analytics.filters import HistoryFilter
from engine.analytics.schema import events
from engine.geo import boundaries
from engine.history import records
from engine.records import record_from_json

END = datetime(2025, 9, 12, 12, tzinfo=timezone.utc)  # just after the Tukad Badung flood of 10 Sep 2025


def test_split_gives_exactly_n_and_every_stream_a_share():
    for n, days in ((7, 1), (1000, 30), (1_000_000, 365), (20000, 2)):
        counts = S.split(n, days)
        assert sum(counts.values()) == n and all(v >= 1 for v in counts.values())
    assert S.split(1_000_000, 365)["prices"] <= len(S.COMMODITIES) * len(S.MARKETS) * 365


def test_seed_writes_n_faithful_records_inside_their_desa(history):
    out = io.StringIO()
    result = S.seed(history, 1500, days=20, end=END, seed=3, progress=S.Progress(1500, stream=out))
    assert result.total == 1500 and set(result.counts) == set(S.SHARES)
    with history.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(records)).scalar() == 1500
        assert conn.execute(select(func.count()).select_from(events)).scalar() == 1500
        rows = conn.execute(select(records.c.payload, records.c.content_hash, records.c.desa_code)).all()
    kinds, cats = set(), set()
    for payload, digest, desa_code in rows:
        record = record_from_json(payload)  # every payload is a valid canonical record
        assert record.content_hash() == digest  # the same hash the collector would store
        place = boundaries().locate(record.lat, record.lon)
        assert place is not None and place.desa_code == desa_code == record.desa_code
        kinds.add(record.kind)
        cats.add(getattr(record, "category", None) or getattr(record, "quantity", None))
        if record.kind == "incident" and record.domain == "emergency" and record.category not in ("hoax", "non_emergency"):
            assert {"received", "answered", "dispatched"} <= set(record.details["timeline"])
        if record.kind == "incident" and record.domain == "complaint":
            assert datetime.fromisoformat(record.details["first_response_due"]) > record.reported_at
    assert kinds == {"incident", "reading", "price"}
    assert {"medical", "hoax", "waste", "congestion", "flood_report", "water_level", "camera_online"} <= cats
    assert "100.0%" in out.getvalue() and "\r[" in out.getvalue()


def test_seed_is_seasonal_and_replays_the_september_flood(tmp_path):
    from engine.history import History

    h = History(f"sqlite:///{tmp_path}/h.sqlite")
    S.seed(h, 6000, days=20, end=END, seed=5, versions=False)
    with h.engine.connect() as conn:
        flood = HistoryFilter.from_query("?range=custom&from=2025-09-09&to=2025-09-11&category=flood_report,flooded_area,flood")
        calm = HistoryFilter.from_query("?range=custom&from=2025-08-30&to=2025-09-01&category=flood_report,flooded_area,flood")
        n_flood = Q.count(conn, Q.scope(conn, flood, END))
        n_calm = Q.count(conn, Q.scope(conn, calm, END))
        grid = Q.time_grid(conn, Q.scope(conn, HistoryFilter.from_query("?range=all&category=congestion"), END))[1]
    assert n_flood > 3 * max(n_calm, 1)
    rush = sum(grid[d][h] for d in range(5) for h in (7, 8, 17, 18))
    night = sum(grid[d][h] for d in range(5) for h in (1, 2, 3, 4))
    assert rush > 3 * night  # congestion at rush hours


def test_cli_run_writes_to_the_given_database(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    S.add_arguments(parser)
    url = f"sqlite:///{tmp_path}/cli.sqlite"
    args = parser.parse_args(["--records", "300", "--days", "5", "--database", url, "--end", "2025-01-10T08:00"])
    assert S.run(args) == 0
    err = capsys.readouterr().err
    assert "wrote 300 records" in err and "100.0%" in err
    bad = parser.parse_args(["--records", "0", "--database", url])
    assert S.run(bad) == 2
    bad_end = parser.parse_args(["--records", "5", "--end", "someday", "--database", url])
    assert S.run(bad_end) == 2


def test_seed_appends_to_a_seeded_database_with_its_indexes(tmp_path):
    from engine.history import History

    h = History(f"sqlite:///{tmp_path}/h.sqlite")
    S.seed(h, 400, days=5, end=END, seed=1, prefix="one-")
    S.seed(h, 400, days=5, end=END, seed=2, prefix="two-")
    with h.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar() == 800
        got = Q.count(conn, Q.scope(conn, HistoryFilter.from_query("?range=all&q=teuku"), END))
        plain = sum("teuku" in orjson.loads(p)["title"].lower() for (p,) in conn.execute(
            select(records.c.payload).where(records.c.kind == "incident")))
    assert got == plain  # the text index follows rows appended after the first load


@pytest.mark.parametrize("bad", [0, -5])
def test_progress_bar_never_divides_by_zero(bad):
    out = io.StringIO()
    p = S.Progress(bad, stream=out)
    p.advance(1)
    p.close()
    last = out.getvalue().split("\r")[-1]
    # an empty or negative total counts as one: one step done is the whole bar, never past it
    assert "[" + "#" * 30 + "]" in last and "100.0%" in last and "1/1" in last
