"""Query building over analytics_events, on SQLite and on PostgreSQL (a throwaway schema each test).

The `history` fixture (tests/conftest.py) runs every test on both databases; the
PostgreSQL run is skipped, with the reason, only when PostgreSQL is not reachable.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.analytics import kpis as KP
from engine.analytics import queries as Q
from engine.analytics.config import KpiConfig
from engine.analytics.facts import update_rollups
from engine.analytics.filters import HistoryFilter
from engine.records import WITA, Incident, Reading

UTC = timezone.utc
NOW = datetime(2025, 3, 14, 4, 30, tzinfo=UTC)  # Friday 12:30 WITA
PLACES = [("51.71.01.2008", "Pemogan", "Denpasar Selatan"), ("51.71.03.2006", "Dauh Puri Kangin", "Denpasar Barat"),
          ("51.71.04.1007", "Ubung", "Denpasar Utara"), (None, None, None)]
CATS = ["fire", "medical", "waste", "congestion", "hoax"]
SEVS = ["critical", "high", "medium", "low"]
STATS = ["new", "dispatched", "closed", "resolved", "in_progress"]


def make_incidents(n: int = 120) -> list[Incident]:
    out = []
    for i in range(n):
        code, desa, kec = PLACES[i % len(PLACES)]
        at = NOW - timedelta(hours=3 * i + 1)
        title = f"Kejadian {i} di Jl. Teuku Umar" if i % 5 == 0 else f"Kejadian {i} di Jl. Gatot Subroto"
        if i == 7:
            title = "Diskon 50%_off di Jl. Sudirman"
        out.append(Incident(
            id=f"inc-{i}", source="src-a" if i % 3 else "src-b", category=CATS[i % len(CATS)],
            severity=SEVS[i % len(SEVS)], status=STATS[i % len(STATS)], reported_at=at, updated_at=at, title=title,
            kecamatan=kec, desa=desa, desa_code=code, in_city=code is not None,
            lat=-8.66 if code else None, lon=115.21 if code else None))
    return out


def expected(records: list[Incident], f: HistoryFilter, start: datetime, end: datetime) -> list[Incident]:
    """The filter's meaning, written plainly in Python."""
    out = []
    for r in records:
        local = r.reported_at.astimezone(WITA)
        if not (start <= r.reported_at < end) or r.kind != f.kind:
            continue
        if f.source and r.source not in f.source or f.category and r.category not in f.category:
            continue
        if f.severity and r.severity not in f.severity or f.status and r.status not in f.status:
            continue
        if f.desa and r.desa_code not in f.desa:
            continue
        if not f.desa and f.kecamatan and (not r.desa_code or r.desa_code.rsplit(".", 1)[0] not in f.kecamatan):
            continue
        if f.weekday and local.weekday() not in f.weekday or f.hour and local.hour not in f.hour:
            continue
        if f.q and f.q.lower() not in r.title.lower():
            continue
        out.append(r)
    return sorted(out, key=lambda r: r.reported_at, reverse=True)


@pytest.fixture
def loaded(history):
    records = make_incidents()
    applied = history.apply("mixed", records)
    update_rollups(history, applied.changed)
    return history, records


CASES = [
    "", "?range=7d", "?range=all", "?category=fire,medical", "?severity=critical&status=closed",
    "?kecamatan=51.71.01", "?kecamatan=51.71.01,51.71.04&category=waste", "?desa=51.71.03.2006",
    "?source=src-b", "?q=teuku", "?q=TEUKU%20umar", "?q=50%25_", "?q=%25", "?weekday=4", "?hour=9,10,11",
    "?weekday=0&hour=1", "?range=custom&from=2025-03-10&to=2025-03-12T06:00", "?category=nonexistent",
    "?source=nobody", "?kind=reading",
]


@pytest.mark.parametrize("query", CASES)
def test_count_and_rows_match_the_plain_meaning(loaded, query):
    history, records = loaded
    f = HistoryFilter.from_query(query)
    with history.engine.connect() as conn:
        s = Q.scope(conn, f, NOW)
        want = expected(records, f, s.start, s.end)
        assert Q.count(conn, s) == len(want)
        assert [r["id"] for r in Q.rows_for_export(conn, s)] == [r.id for r in want]


@pytest.mark.parametrize("query", ["", "?range=all", "?range=24h", "?kecamatan=51.71.01&q=jl", "?weekday=2,3"])
def test_every_view_adds_up_to_the_count(loaded, query):
    history, records = loaded
    f = HistoryFilter.from_query(query)
    with history.engine.connect() as conn:
        s = Q.scope(conn, f, NOW)
        n = Q.count(conn, s)
        series, grid = Q.time_grid(conn, s)
        assert sum(c for _, c in series) == n
        assert sum(c for _, c in Q.breakdown(conn, s).by_category) == n
        per_desa = Q.breakdown(conn, s).by_desa
        assert sum(per_desa.values()) == n == sum(Q.fold_kecamatan(per_desa).values())
        assert sum(map(sum, grid)) == n
        want = expected(records, f, s.start, s.end)
        assert dict(Q.breakdown(conn, s).by_category) == {c: sum(r.category == c for r in want) for c in {r.category for r in want}}
        assert per_desa.get("", 0) == sum(r.desa_code is None for r in want)


def test_timeseries_buckets_follow_the_range(loaded):
    history, _ = loaded
    with history.engine.connect() as conn:
        hourly = Q.time_grid(conn, Q.scope(conn, HistoryFilter.from_query("?range=24h"), NOW))[0]
        daily = Q.time_grid(conn, Q.scope(conn, HistoryFilter.from_query("?range=30d"), NOW))[0]
        weekly = Q.time_grid(conn, Q.scope(conn, HistoryFilter.from_query("?range=1y"), NOW))[0]
    assert len(hourly) in (24, 25) and all(b - a == timedelta(hours=1) for (a, _), (b, _) in zip(hourly, hourly[1:]))
    assert len(daily) in (30, 31) and daily[0][0].tzinfo is not None and daily[0][0].hour == 0
    assert all(a.weekday() == 0 for a, _ in weekly)  # weeks start on Monday


def test_heatmap_is_in_wita(loaded):
    history, records = loaded
    with history.engine.connect() as conn:
        grid = Q.time_grid(conn, Q.scope(conn, HistoryFilter.from_query("?range=all"), NOW))[1]
    newest = records[0].reported_at.astimezone(WITA)  # NOW - 1 h = Friday 11:30 WITA
    assert (newest.weekday(), newest.hour) == (4, 11)
    assert grid[4][11] >= 1


def test_pages_are_newest_first_and_do_not_overlap(loaded):
    history, records = loaded
    f = HistoryFilter.from_query("?range=all")
    with history.engine.connect() as conn:
        s = Q.scope(conn, f, NOW)
        first, second = Q.page(conn, s, 1, 50), Q.page(conn, s, 2, 50)
    assert [r["id"] for r in first + second] == [r.id for r in records[:100]]
    assert first[0]["time"] == records[0].reported_at


def test_update_rollups_follows_a_status_change_and_keeps_every_reading(history):
    at = NOW - timedelta(hours=2)
    inc = Incident(id="x", source="s", category="fire", status="new", reported_at=at, updated_at=at)
    update_rollups(history, history.apply("s", [inc]).changed)
    later = inc.model_copy(update={"status": "closed", "updated_at": at + timedelta(hours=1)})
    update_rollups(history, history.apply("s", [later]).changed)
    readings = [Reading(id="gauge-1", source="g", station="gauge-1", quantity="water_level", value=100 + i,
                        alert_level=i % 3, observed_at=NOW - timedelta(minutes=15 * (i + 1))) for i in range(4)]
    for r in readings:  # the gauge reuses its id: history keeps the latest, analytics every observation
        update_rollups(history, history.apply("g", [r]).changed)
    with history.engine.connect() as conn:
        for query, n in (("?status=new", 0), ("?status=closed", 1), ("?kind=reading&range=24h", 4)):
            assert Q.count(conn, Q.scope(conn, HistoryFilter.from_query(query), NOW)) == n
    assert update_rollups(history, []) == 0


# ---- KPIs end to end ----------------------------------------------------------------------------
def _call(i, category, minutes_ago, scene_s=None, dispatch_s=None, source="c112"):
    at = NOW - timedelta(minutes=minutes_ago)
    timeline = {"received": at.isoformat()}
    if dispatch_s is not None:
        timeline["dispatched"] = (at + timedelta(seconds=dispatch_s)).isoformat()
    if scene_s is not None:
        timeline["on_scene"] = (at + timedelta(seconds=scene_s)).isoformat()
    return Incident(id=f"call-{i}", source=source, category=category, status="closed", reported_at=at, updated_at=at,
                    details={"timeline": timeline})


def test_kpis_by_hand_with_few_samples_an_outage_and_an_empty_domain(history):
    day = 24 * 60
    calls = [_call(1, "medical", 60, scene_s=300, dispatch_s=60), _call(2, "fire", 120, scene_s=600, dispatch_s=90),
             _call(3, "accident", 2 * day, scene_s=900, dispatch_s=120), _call(4, "hoax", 3 * day),
             _call(5, "medical", 8 * day, scene_s=120, dispatch_s=30)]  # the previous week
    update_rollups(history, history.apply("c112", calls).changed)
    received = NOW - timedelta(days=6)
    complaint = Incident(
        id="pro-1", source="pro", category="waste", status="resolved", reported_at=received,
        updated_at=NOW - timedelta(days=1),
        details={"first_response_due": (received + timedelta(days=2)).isoformat(),
                 "first_response_at": (received + timedelta(hours=5)).isoformat(),
                 "resolution_due": (received + timedelta(days=3)).isoformat(),
                 "resolved_at": (NOW - timedelta(days=1)).isoformat()})
    update_rollups(history, history.apply("pro", [complaint]).changed)
    history.outage_started("pro", NOW - timedelta(days=4), "timeout")
    history.outage_ended("pro", NOW - timedelta(days=1))  # down 3 of the 7 days

    report = KP.compute(history.engine, KpiConfig(), "7d", NOW)
    k = report.kpis
    assert k["calls.volume"].value == 4 and k["calls.volume"].previous == 1
    assert k["calls.non_emergency_share"].value == pytest.approx(25.0)
    response = k["calls.response_time"]
    assert (response.value, response.detail["p50"], response.samples, response.few_samples) == (900, 600, 3, True)
    assert response.previous == 120 and response.delta == 780 and response.status == "bad"  # p90 15 min > 10 min
    assert k["calls.dispatch_time"].value == 120 and k["calls.dispatch_time"].status == "good"
    assert k["calls.volume"].completeness == 1.0
    assert k["calls.volume"].freshness == NOW - timedelta(minutes=60)
    # the complaints source was down 3/7 of the week: numbers withheld
    for kid in ("complaints.first_response", "complaints.resolved", "complaints.backlog"):
        assert k[kid].incomplete and k[kid].status == "incomplete"
        assert k[kid].completeness == pytest.approx(4 / 7)
    assert k["complaints.first_response"].detail == {"met": 1, "judged": 1}
    assert k["complaints.resolved"].detail == {"met": 0, "judged": 1}  # resolved after its deadline
    # nothing about floods, traffic or prices: no data, no source, no status
    for kid in ("floods.max_alert", "floods.siaga_hours", "traffic.cctv_online", "prices.volatility"):
        assert k[kid].value is None and k[kid].completeness is None and k[kid].status == "none"
    assert report.pillars["governance"][0] in ("incomplete", "bad")
    by_area = KP.area_values(history.engine, KpiConfig(), "calls", "kecamatan", "7d", NOW)
    assert by_area == {}  # the calls carry no place


def test_kpis_of_an_empty_database(history):
    report = KP.compute(history.engine, KpiConfig(), "30d", NOW)
    assert report.kpis["calls.volume"].value == 0
    assert report.kpis["calls.non_emergency_share"].value is None
    assert report.kpis["complaints.resolved"].value is None
    assert all(s in ("none", "good") for s, _ in report.pillars.values())


# ---- the URL round trip ---------------------------------------------------------------------------
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-", min_size=1, max_size=12)


@settings(max_examples=50, deadline=None)
@given(st.fixed_dictionaries({
    "range": st.sampled_from(["24h", "7d", "30d", "90d", "1y", "all"]),
    "source": st.lists(names, max_size=3, unique=True).map(tuple),
    "category": st.lists(names, max_size=3, unique=True).map(tuple),
    "severity": st.lists(st.sampled_from(["critical", "high", "low"]), max_size=2, unique=True).map(tuple),
    "weekday": st.lists(st.integers(0, 6), max_size=2, unique=True).map(lambda v: tuple(sorted(v))),
    "hour": st.lists(st.integers(0, 23), max_size=2, unique=True).map(lambda v: tuple(sorted(v))),
    "q": st.text(alphabet="ab %&=?#_é", max_size=10).map(str.strip),
    "page": st.integers(1, 50),
}))
def test_filter_survives_the_url(values):
    f = HistoryFilter(**values)
    assert HistoryFilter.from_query(f.to_query()) == f


def test_custom_range_survives_the_url_and_garbage_falls_back():
    f = HistoryFilter(range="custom", start=datetime(2025, 3, 1, tzinfo=WITA), end=datetime(2025, 3, 2, 6, tzinfo=WITA))
    assert f.to_query() == "?range=custom&from=2025-03-01&to=2025-03-02T06%3A00"
    assert HistoryFilter.from_query(f.to_query()) == f
    junk = HistoryFilter.from_query("?range=custom&from=yesterday&kind=zzz&severity=awful&hour=99&page=-3")
    assert junk == HistoryFilter()


def test_flood_gauge_kpis_by_hand(history):
    def reading(station, minutes_ago, level):
        return Reading(id=station, source="gauges", station=station, quantity="water_level", value=100 + 50 * level,
                       alert_level=level, observed_at=NOW - timedelta(minutes=minutes_ago))

    series = [("G1", 600, 1), ("G1", 540, 2), ("G1", 525, 3), ("G1", 480, 1), ("G1", 180, 2),  # 1 h + 1.5 h (silent)
              ("G2", 300, 0), ("G2", 120, 0),
              ("G1", 8 * 1440, 2), ("G1", 8 * 1440 - 30, 0)]  # the previous week: half an hour
    for station, ago, level in sorted(series, key=lambda x: -x[1]):
        update_rollups(history, history.apply("gauges", [reading(station, ago, level)]).changed)
    report = KP.compute(history.engine, KpiConfig(), "7d", NOW)
    hours, top = report.kpis["floods.siaga_hours"], report.kpis["floods.max_alert"]
    assert hours.value == pytest.approx(2.5) and hours.previous == pytest.approx(0.5) and hours.samples == 2
    assert top.value == 3 and top.previous == 2 and top.status == "bad"
    assert {g["gauge"]: (g["hours"], g["max_alert"]) for g in report.gauges} == {"G1": (2.5, 3), "G2": (0.0, 0)}


def _daily_from_events(conn):
    from sqlalchemy import func, select

    from engine.analytics.schema import daily, events

    e = events.c
    cols = [e.day, e.kind, e.src, e.cat, func.coalesce(e.sev, -1), func.coalesce(e.st, -1), e.desa]
    built = {tuple(r[:-1]): r[-1] for r in conn.execute(select(*cols, func.count()).group_by(*cols))}
    kept = {tuple(r[:-1]): r[-1] for r in conn.execute(select(*(daily.c[k] for k in
                                                                  ("day", "kind", "src", "cat", "sev", "st", "desa")),
                                                                daily.c.n))}
    return built, kept


def test_daily_rollup_follows_every_change(loaded):
    import random

    history, records = loaded
    rng = random.Random(4)
    current = {r.id: r for r in records}
    for step in range(6):  # status changes, reclassification, moves in time and place, new records
        batch = []
        for r in rng.sample(sorted(current.values(), key=lambda x: x.id), 15):
            code, desa, kec = PLACES[rng.randrange(len(PLACES))]
            batch.append(r.model_copy(update={
                "status": rng.choice(["closed", "resolved", "rejected"]), "category": rng.choice(CATS),
                "reported_at": r.reported_at - timedelta(hours=rng.choice([0, 20, 30])),
                "updated_at": r.updated_at + timedelta(minutes=1), "desa_code": code, "desa": desa, "kecamatan": kec}))
        batch.append(make_incidents(1)[0].model_copy(update={"id": f"new-{step}"}))
        current.update({b.id: b for b in batch})
        update_rollups(history, history.apply("mixed", batch).changed)
    with history.engine.connect() as conn:
        built, kept = _daily_from_events(conn)
        assert kept == built
        for query in ("?range=all", "?range=7d&category=fire,waste", "?range=30d&kecamatan=51.71.01&status=closed"):
            s = Q.scope(conn, HistoryFilter.from_query(query), NOW)
            assert Q.breakdown(conn, s) == Q.breakdown(conn, s, use_daily=False)


def test_backfill_builds_the_projection_of_an_existing_history(history):
    from engine.analytics.facts import backfill

    records = make_incidents(40)
    history.apply("mixed", records)  # written before analytics existed: no update_rollups
    seen = []
    assert backfill(history, batch=15, progress=lambda done, total: seen.append((done, total))) == 40
    assert seen[-1] == (40, 40)
    with history.engine.connect() as conn:
        s = Q.scope(conn, HistoryFilter.from_query("?range=all"), NOW)
        assert Q.count(conn, s) == 40 == Q.breakdown(conn, s).total
        built, kept = _daily_from_events(conn)
        assert built == kept


@pytest.mark.parametrize("query", [
    "?range=all&desa=x", "?range=all&desa=51.71.01.99999999999999999999999", "?range=all&kecamatan=51.71.999999999999999999999",
    "?range=all&kecamatan=x", "?range=all&desa=51.71.01.2008.1", "?range=all&desa=%D9%A3",
])
def test_a_place_code_that_is_no_place_matches_nothing(loaded, query):
    """Not the rows without a place (desa_int of junk is 0), and no OverflowError from a huge code."""
    history, _ = loaded
    with history.engine.connect() as conn:
        assert Q.count(conn, Q.scope(conn, HistoryFilter.from_query(query), NOW)) == 0


def test_a_wrong_code_beside_a_right_one_keeps_the_right_one(loaded):
    history, records = loaded
    with history.engine.connect() as conn:
        n = Q.count(conn, Q.scope(conn, HistoryFilter.from_query("?range=all&desa=x,51.71.01.2008"), NOW))
    assert n == sum(r.desa_code == "51.71.01.2008" for r in records)


@pytest.mark.parametrize("q", ["Teuku\x00Umar", "\x00\x00\x00", "Teu\x00", "\"\x00\"", "Teuku\x1fUmar"])
def test_search_text_with_nul_or_control_bytes_is_searched_without_them(loaded, q):
    """A NUL made SQLite's full-text query fail ("unterminated string"); it is dropped before any query."""
    history, records = loaded
    f = HistoryFilter.from_query("?" + urlencode({"range": "all", "q": q}))
    assert "\x00" not in f.q and "\x1f" not in f.q
    with history.engine.connect() as conn:
        n = Q.count(conn, Q.scope(conn, f, NOW))
    assert n == sum(f.q.lower() in r.title.lower() for r in records)
