"""Tiles, headlines and rows kept by the change stream (engine/wall/tiles.py) equal the
views computed from all records, on a real Redis, through inserts, updates, deletes,
the clock, a flush and a rebuild."""
import random
from datetime import datetime, timedelta, timezone

import pytest

from engine.analytics.config import KpiConfig
from engine.live import LiveStore
from engine.records import Incident, Position, Price, Reading
from engine.wall import tiles as tiles_module
from engine.wall import views
from engine.wall.tiles import SourceTiles

NOW = datetime(2026, 11, 27, 4, 30, tzinfo=timezone.utc)
KPI = KpiConfig()


def random_record(rng: random.Random, source: str, rid: str):
    t = NOW - timedelta(minutes=rng.randint(0, 150), microseconds=rng.choice([0, rng.randint(1, 999_999)]))
    kind = rng.choice(["call", "call", "complaint", "quake", "fire", "gauge", "camera", "station", "boat", "car", "price"])
    status = rng.choice(["new", "dispatched", "closed", "resolved"])
    severity = rng.choice(["info", "low", "medium", "high", "critical"])
    where = dict(lat=-8.65, lon=115.22, in_city=rng.choice([True, False, None]))
    if kind == "call":
        return Incident(id=rid, source=source, category=rng.choice(["medical", "hoax", "non_emergency", "fire"]),
                        reported_at=t, updated_at=t, status=status, severity=severity, **where)
    if kind == "complaint":
        due = {"resolution_due": (t + timedelta(minutes=rng.randint(-30, 30))).isoformat()} if rng.random() < 0.5 else {}
        return Incident(id=rid, source=source, category="waste", reported_at=t - timedelta(days=rng.randint(0, 20)),
                        updated_at=t, status=status, severity=severity, details=due, **where)
    if kind == "quake":
        return Incident(id=rid, source=source, category=rng.choice(["earthquake", "tsunami"]), reported_at=t, updated_at=t,
                        severity=severity, title=f"q{rid}",
                        details={"magnitude": rng.randint(30, 70) / 10, "region": rng.choice(["Bali", "Lombok"])})
    if kind == "fire":
        area = rng.choice([None, {"type": "Polygon", "coordinates": [[[115.2, -8.6], [115.3, -8.6], [115.3, -8.7], [115.2, -8.6]]]}])
        return Incident(id=rid, source=source, category=rng.choice(["flood", "traffic_accident"]), reported_at=t,
                        updated_at=t, status=status, severity=severity, geometry=area, **where)
    if kind == "gauge":
        return Reading(id=rid, source=source, station=f"st{rng.randint(0, 5)}", station_name=rng.choice(["", "Badung"]),
                       quantity="water_level", value=1.0, alert_level=rng.randint(0, 4), observed_at=t)
    if kind == "camera":
        return Reading(id=rid, source=source, station=f"cam{rid}", quantity="camera_online", value=float(rng.random() < 0.7),
                       observed_at=t)
    if kind == "station":
        return Reading(id=rid, source=source, station=f"aq{rng.randint(0, 3)}", quantity="pm25", value=12.0, observed_at=t)
    if kind in ("boat", "car"):
        return Position(id=rid, source=source, vehicle=f"v{rid}", vehicle_type=kind if kind == "boat" else "ambulance",
                        observed_at=t, lat=-8.7, lon=115.2,
                        details={"engaged_in_fishing": rng.random() < 0.5} if kind == "boat" else {})
    return Price(id=rid, source=source, commodity=f"c{rng.randint(0, 2)}", market=rng.choice(["Badung", "Kreneng"]),
                 value=rng.randint(10, 20) * 1000, date=NOW - timedelta(days=rng.randint(0, 3)))


def expected(live: LiveStore, source: str, now: datetime):
    records = live.raw_records(source)
    points, shapes = views.layer_geojson(records)
    return (views.wall_tiles(records, now, KPI), views.source_headline(records),
            {"points": len(points["features"]), "shapes": len(shapes["features"])}, views.incident_rows(records, 7, "en"))


def kept(agg: SourceTiles, live: LiveStore, source: str, now: datetime):
    version = live.versions().get(source, 0)
    return (*agg.summary(source, version, now), agg.rows(source, version, 7, "en"))


def change_randomly(rng: random.Random, live: LiveStore, source: str, ids: list[str]) -> None:
    upserts, removals = [], []
    for _ in range(rng.randint(1, 6)):
        if ids and rng.random() < 0.25:
            removals.append(ids.pop(rng.randrange(len(ids))))
        else:
            rid = rng.choice(ids) if ids and rng.random() < 0.6 else f"r{rng.randint(0, 10**6)}"
            if rid not in ids and rid not in removals:
                ids.append(rid)
            upserts.append(random_record(rng, source, rid))
    upserts = list({r.id: r for r in upserts if r.id not in removals}.values())
    live.apply(source, upserts, removals)


@pytest.fixture
def live(redis_client):
    return LiveStore(redis_client, "tt")


@pytest.mark.parametrize("seed", range(4))
def test_kept_tiles_equal_tiles_from_all_records_through_random_changes(live, seed):
    rng = random.Random(seed)
    agg = SourceTiles(live, KPI)
    ids = {"a": [], "b": []}
    for source in ids:
        for _ in range(8):
            change_randomly(rng, live, source, ids[source])
    for step in range(120):
        source = rng.choice("ab")
        change_randomly(rng, live, source, ids[source])
        now = NOW + timedelta(minutes=rng.randint(-60, 60))
        assert kept(agg, live, source, now) == expected(live, source, now), f"step {step}"


def test_a_change_is_replayed_not_rebuilt(live, monkeypatch):
    rng = random.Random(11)
    agg = SourceTiles(live, KPI)
    ids = []
    for _ in range(20):
        change_randomly(rng, live, "a", ids)
    kept(agg, live, "a", NOW)
    monkeypatch.setattr(SourceTiles, "build", lambda *a: pytest.fail("rebuilt from all records"))
    change_randomly(rng, live, "a", ids)
    assert kept(agg, live, "a", NOW) == expected(live, "a", NOW)


def test_tiles_are_right_again_after_a_flush_and_a_rebuild_from_history(live):
    rng = random.Random(3)
    agg = SourceTiles(live, KPI)
    ids = []
    for _ in range(30):
        change_randomly(rng, live, "a", ids)
    kept(agg, live, "a", NOW)
    records = live.records("a")
    live.r.flushdb()
    assert kept(agg, live, "a", NOW) == expected(live, "a", NOW)  # nothing there: empty tiles, no headline
    live.apply("a", records[: len(records) // 2])  # what `damamaya rebuild-live` and the caretaker's refill do
    live.apply("a", records[len(records) // 2:])
    assert kept(agg, live, "a", NOW) == expected(live, "a", NOW)


def test_an_aggregate_behind_a_trimmed_stream_is_rebuilt(redis_client, monkeypatch):
    live = LiveStore(redis_client, "tt", stream_length=10)
    rng = random.Random(5)
    agg = SourceTiles(live, KPI)
    ids = []
    change_randomly(rng, live, "a", ids)
    kept(agg, live, "a", NOW)
    for _ in range(200):  # far more changes than the stream keeps
        change_randomly(rng, live, "a", ids)
    assert kept(agg, live, "a", NOW) == expected(live, "a", NOW)
    monkeypatch.setattr(tiles_module, "REPLAY_LIMIT", 3)
    for _ in range(5):
        change_randomly(rng, live, "a", ids)
    assert kept(agg, live, "a", NOW) == expected(live, "a", NOW)


def test_another_kpi_block_rebuilds_the_complaint_deadlines(live):
    t = NOW - timedelta(days=3)
    live.apply("lapor", [Incident(id="k1", source="lapor", category="waste", reported_at=t, updated_at=t)])
    version = live.versions()["lapor"]
    overdue = lambda agg: {x["key"]: x for x in agg.summary("lapor", version, NOW)[0]}["complaints_overdue"]["value"]  # noqa: E731
    assert overdue(SourceTiles(live, KpiConfig(resolution_days={"default": 14, "waste": 1}))) == 1
    assert overdue(SourceTiles(live, KpiConfig(resolution_days={"default": 14, "waste": 10}))) == 0


def test_kept_tiles_take_a_few_hundred_bytes_per_incident(live):
    """The aggregate of 2,000 incidents stays small beside the records themselves."""
    t = NOW
    many = [Incident(id=f"c{i:05d}", source="calls", category="medical", reported_at=t - timedelta(seconds=i), updated_at=t,
                     lat=-8.65, lon=115.22, desa="Dauh Puri", title="Kecelakaan lalu lintas") for i in range(2000)]
    live.apply("calls", many)
    SourceTiles(live, KPI).summary("calls", live.versions()["calls"], NOW)
    usage = lambda pattern: sum(live.r.memory_usage(k) for k in live.r.scan_iter(match=pattern))  # noqa: E731
    per_incident = usage("tt:tiles:calls*") / len(many)
    assert per_incident < 400, per_incident


def test_a_reader_overtaken_by_another_takes_its_result_instead_of_replaying_twice(live, monkeypatch):
    rng = random.Random(8)
    ids = []
    for _ in range(10):
        change_randomly(rng, live, "a", ids)
    slow, quick = SourceTiles(live, KPI), SourceTiles(live, KPI)
    kept(slow, live, "a", NOW)
    change_randomly(rng, live, "a", ids)
    replies = []
    original = SourceTiles._replay

    def overtaken(self, source, reply, window):
        if self is slow and not replies:
            kept(quick, live, "a", NOW)  # the other reader moves the aggregate in between
        replies.append(original(self, source, reply, window))
        return replies[-1]

    monkeypatch.setattr(SourceTiles, "_replay", overtaken)
    assert kept(slow, live, "a", NOW) == expected(live, "a", NOW)
    assert replies[-1] == [b"stale"]


def test_a_quiet_source_is_not_left_behind_by_busy_ones(live, monkeypatch):
    rng = random.Random(9)
    agg = SourceTiles(live, KPI)
    quiet, busy = [], []
    for _ in range(10):
        change_randomly(rng, live, "quiet", quiet)
    kept(agg, live, "quiet", NOW)
    monkeypatch.setattr(tiles_module, "REPLAY_LIMIT", 5)
    monkeypatch.setattr(SourceTiles, "build", lambda *a: pytest.fail("rebuilt from all records"))
    for _ in range(4):
        for _ in range(4):  # more changes of another source than a replay takes, between two looks
            change_randomly(rng, live, "busy", busy)
        kept(agg, live, "quiet", NOW)
    change_randomly(rng, live, "quiet", quiet)
    assert kept(agg, live, "quiet", NOW) == expected(live, "quiet", NOW)


def test_several_sources_asked_at_once_equal_each_asked_alone(live):
    rng = random.Random(12)
    ids = {s: [] for s in "abc"}
    for source in ids:
        for _ in range(6):
            change_randomly(rng, live, source, ids[source])
    agg = SourceTiles(live, KPI)
    kept(agg, live, "a", NOW)  # a: current; b, c: never built
    change_randomly(rng, live, "a", ids["a"])  # a: one change to replay
    versions = live.versions()
    together = agg.summaries([(s, versions[s]) for s in "abc"], NOW)
    assert together == {s: expected(live, s, NOW)[:3] for s in "abc"}
