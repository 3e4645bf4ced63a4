"""The history store on SQLite and on PostgreSQL (a throwaway schema)."""
from datetime import datetime, timedelta, timezone

from engine.records import Incident, Price, Reading, Reject

T = datetime(2026, 11, 27, 1, 0, tzinfo=timezone.utc)


def call(**kw):
    base = dict(id="112-1", source="calls", category="medical", reported_at=T, updated_at=T, lat=-8.65, lon=115.22,
                status="new", severity="high", kecamatan="Denpasar Barat", desa="Dauh Puri", in_city=True)
    return Incident(**{**base, **kw})


def test_same_record_twice_is_one_row(history):
    assert len(history.apply("calls", [call()]).changed) == 1
    again = history.apply("calls", [call(), call()])
    assert again.changed == [] and again.unchanged == 1
    assert history.count("calls") == 1
    assert [v["version"] for v in history.versions_of("calls", "112-1")] == [1]


def test_a_change_is_a_new_version(history):
    history.apply("calls", [call()])
    history.apply("calls", [call(status="dispatched", updated_at=T + timedelta(minutes=3))])
    versions = history.versions_of("calls", "112-1")
    assert [(v["version"], v["status"]) for v in versions] == [(1, "new"), (2, "dispatched")]
    assert history.count() == 1


def test_out_of_order_update_never_moves_status_back(history):
    history.apply("calls", [call(status="dispatched", updated_at=T + timedelta(minutes=5))])
    late = history.apply("calls", [call(status="acknowledged", updated_at=T + timedelta(minutes=2))])
    assert late.out_of_order == 1 and late.changed == []
    regress = history.apply("calls", [call(status="new", updated_at=T + timedelta(minutes=9), title="updated title")])
    assert regress.changed[0].status == "dispatched" and regress.changed[0].title == "updated title"


def test_live_records_hold_open_incidents_and_recent_ones(history):
    old_open = call(id="old-open", reported_at=T - timedelta(days=10), updated_at=T - timedelta(days=10))
    old_closed = call(id="old-closed", status="closed", reported_at=T - timedelta(days=10), updated_at=T - timedelta(days=10))
    reading = Reading(id="g", source="calls", station="g", quantity="water_level", value=5, observed_at=T)
    history.apply("calls", [old_open, old_closed, reading])
    ids = {r.id for r in history.live_records("calls", T - timedelta(hours=24))}
    assert ids == {"old-open", "g"}


def test_flat_columns_for_queries(history):
    from sqlalchemy import select

    from engine.history import records

    price = Price(id="p1", source="prices", commodity="cabai_rawit_merah", market="Pasar Badung", value=61000,
                  date=datetime(2026, 11, 27, tzinfo=timezone(timedelta(hours=8))))
    history.apply("calls", [call()])
    history.apply("prices", [price])
    with history.engine.connect() as conn:
        rows = {r.record_id: r for r in conn.execute(select(records))}
    assert rows["112-1"].domain == "emergency" and rows["112-1"].kecamatan == "Denpasar Barat"
    assert rows["112-1"].event_time == T
    assert rows["p1"].category == "cabai_rawit_merah" and rows["p1"].value == 61000


def test_rejects_counted_and_outages_opened_once(history):
    r = Reject.of("Magnitude 'x' is not a number", {"Magnitude": "x"}, 0)
    history.add_rejects("q", [r, r])
    history.add_rejects("q", [r])
    [row] = history.recent_rejects("q")
    assert row["times"] == 2 and row["reason"].startswith("Magnitude")
    history.outage_started("q", T, "HTTP 500")
    history.outage_started("q", T + timedelta(minutes=1), "HTTP 500")
    history.outage_ended("q", T + timedelta(minutes=5))
    [outage] = history.outages("q")
    assert outage["started_at"] == T and outage["ended_at"] == T + timedelta(minutes=5)


def test_a_state_update_keeps_the_area_it_does_not_carry(history):
    area = {"type": "Polygon", "coordinates": [[[115.2, -8.6], [115.21, -8.6], [115.21, -8.61], [115.2, -8.6]]]}
    flooded = Incident(id="area:5", source="pb", category="flooded_area", severity="medium", reported_at=T, updated_at=T,
                       lat=-8.605, lon=115.205, geometry=area, details={"state": 2, "area_id": "5"})
    history.apply("pb", [flooded])
    later = T + timedelta(hours=1)
    update = Incident(id="area:5", source="pb", category="flooded_area", severity="high", reported_at=later, updated_at=later,
                      details={"state": 3, "area_id": "5", "state_update": True})
    [merged] = history.apply("pb", [update]).changed
    assert merged.geometry == area and (merged.lat, merged.lon) == (-8.605, 115.205)
    assert merged.severity == "high" and merged.details["state"] == 3 and merged.reported_at == T
    assert "state_update" not in merged.details


def test_processes_starting_together_create_the_schema_once(pg_url):
    """Two collectors starting at once raced on CREATE TABLE on PostgreSQL."""
    import threading

    from engine.analytics.schema import ensure_schema, forget_schema
    from engine.history import History

    stores = [History(pg_url) for _ in range(4)]
    errors = []

    def start(store):
        try:
            store.create()
            forget_schema(store.engine)
            ensure_schema(store.engine)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in stores:
        s.dispose()
    assert errors == []


def quake(magnitude: float):
    """A BMKG quake as revised: updated_at stays the origin time (the feed gives no other)."""
    return Incident(id="q1", source="bmkg", category="earthquake", reported_at=T, updated_at=T, lat=-8.7, lon=115.2,
                    title=f"M{magnitude}", details={"magnitude": magnitude})


def test_a_revision_back_to_earlier_content_is_a_new_version(history):
    from sqlalchemy import select

    from engine.history import records

    for magnitude in (5.0, 5.2, 5.0):
        assert len(history.apply("bmkg", [quake(magnitude)]).changed) == 1
    versions = history.versions_of("bmkg", "q1")
    assert [(v["version"], v["details"]["magnitude"]) for v in versions] == [(1, 5.0), (2, 5.2), (3, 5.0)]
    with history.engine.connect() as conn:
        row = conn.execute(select(records.c.version, records.c.value)).one()
    assert (row.version, row.value) == (3, 5.0)
    assert history.apply("bmkg", [quake(5.0)]).changed == []  # the same as now is still no new version


def test_nul_characters_are_removed_before_storage(history):
    """PostgreSQL refuses NUL in text: a feed with one would fail every poll of its source."""
    dirty = call(title="Kebakaran\x00 gudang", details={"note": "lantai\x002", "list": ["a\x00"]})
    [stored] = history.apply("calls", [dirty]).changed
    assert stored.title == "Kebakaran gudang" and stored.details == {"note": "lantai2", "list": ["a"]}
    [version] = history.versions_of("calls", "112-1")
    assert version["title"] == "Kebakaran gudang"
    history.add_rejects("calls", [Reject.of("bad\x00 field", "raw\x00item", "ref\x00")])
    [row] = history.recent_rejects("calls")
    assert (row["reason"], row["item"], row["ref"]) == ("bad field", "rawitem", "ref")
    history.outage_started("calls", T, "error \x00 text")
    assert history.outages("calls")[0]["error"] == "error  text"


def test_poll_lease_is_held_by_one_owner_until_it_expires(history):
    assert history.take_lease("quake", "a", 30, now=T)
    assert not history.take_lease("quake", "b", 30, now=T + timedelta(seconds=10))
    assert history.take_lease("quake", "a", 30, now=T + timedelta(seconds=20))  # renewed by its owner
    assert history.lease_owner("quake", now=T + timedelta(seconds=40)) == "a"
    assert history.take_lease("quake", "b", 30, now=T + timedelta(seconds=51))  # expired: taken over
    assert not history.take_lease("quake", "a", 30, now=T + timedelta(seconds=52))
    history.release_lease("quake", "b")
    assert history.take_lease("quake", "a", 30, now=T + timedelta(seconds=53))


def test_a_delivery_id_is_taken_once(history):
    assert history.remember_delivery("push", "d-1")
    assert not history.remember_delivery("push", "d-1")
    assert history.remember_delivery("other", "d-1")


def test_a_database_made_before_numbered_versions_is_migrated(tmp_path):
    """Older databases have unique (source, record_id, content_hash) on record_versions."""
    import sqlite3

    from engine.history import History

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE record_versions (id INTEGER PRIMARY KEY, source VARCHAR(64) NOT NULL, "
                     "record_id VARCHAR(300) NOT NULL, version INTEGER NOT NULL, content_hash VARCHAR(32) NOT NULL, "
                     "seen_at DATETIME NOT NULL, payload TEXT NOT NULL, "
                     "CONSTRAINT uq_record_versions_content UNIQUE (source, record_id, content_hash))")
        conn.execute("INSERT INTO record_versions VALUES (1, 'old', 'x', 1, 'h', '2026-01-01 00:00:00', '{}')")
    store = History(f"sqlite:///{path}")
    store.create()
    for magnitude in (5.0, 5.2, 5.0):
        store.apply("bmkg", [quake(magnitude)])
    assert [v["version"] for v in store.versions_of("bmkg", "q1")] == [1, 2, 3]
    assert store.versions_of("old", "x") == [{"version": 1}]
    store.create()  # a second start leaves it as it is
    store.dispose()
