"""A control room with public and private data: history seeded by the demo seeder plus
hand-made records carrying private details, and the live store filled as the collector
fills it (real Redis, real SQLite). The app answers through its own WSGI app."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest

from engine.geo import locate_record
from engine.records import Incident, Price, Reading

UTC = timezone.utc
CALLER = "081234567890"
ADDRESS = "Jl. Tukad Yeh Aya No. 77"
# Exact points inside Denpasar desa: (lat, lon)
POINTS = [(-8.67123, 115.21234), (-8.70456, 115.21987), (-8.64321, 115.19876), (-8.65789, 115.24567),
          (-8.68888, 115.23111), (-8.71234, 115.20345)]


def located(record):
    locate_record(record)
    return record


def live_records(now: datetime) -> dict[str, list]:
    """source -> records, as adapters make them, with personal data where real feeds have it."""
    complaints = [located(Incident(
        id=f"PRO-{i}", source="pro-denpasar", category=("waste", "street_lighting", "infrastructure")[i % 3],
        status=("new", "acknowledged", "in_progress", "resolved")[i % 4], severity="low",
        lat=lat, lon=lon, reported_at=now - timedelta(hours=5 + i), updated_at=now - timedelta(hours=1 + i),
        title=f"Sampah menumpuk depan rumah {ADDRESS}, hubungi {CALLER}",
        details={"address": ADDRESS, "description": f"Pelapor {CALLER}", "private": {"phone": CALLER}}))
        for i, (lat, lon) in enumerate(POINTS)]
    calls = [located(Incident(
        id=f"112-{i}", source="ntpc-112", category="medical", status="dispatched", severity="high",
        lat=lat, lon=lon, reported_at=now - timedelta(minutes=20 + i), updated_at=now - timedelta(minutes=10),
        title=f"Pasien sesak napas, penelepon {CALLER}", details={"private": {"caller": CALLER, "address": ADDRESS}}))
        for i, (lat, lon) in enumerate(POINTS[:3])]
    floods = [located(Incident(
        id=f"FLD-{i}", source="flood-reports", category="flood_report", status="new", severity=("medium", "high")[i % 2],
        lat=lat, lon=lon, reported_at=now - timedelta(hours=2), updated_at=now - timedelta(hours=1),
        title=f"Genangan 40 cm di depan rumah {CALLER}", details={"private": {"reporter": CALLER}}))
        for i, (lat, lon) in enumerate(POINTS[3:])]
    gauges = [located(Reading(
        id=f"{sid}:{k}", source="flood-gauges", station=sid, station_name=name, quantity="water_level",
        value=value + k, unit="cm", alert_level=level, lat=lat, lon=lon, observed_at=now - timedelta(minutes=30 - k * 10)))
        for sid, name, value, level, (lat, lon) in [
            ("tk-badung-pesanggaran", "Tukad Badung - Pesanggaran", 265.0, 2, POINTS[1]),
            ("tk-mati-teuku-umar", "Tukad Mati - Teuku Umar", 70.0, 0, POINTS[0])]
        for k in range(3)]
    prices = [located(Price(
        id=f"{market}:{commodity}:{d}", source="pihps", commodity=commodity, market=market, unit="kg",
        value=base * (1 + 0.01 * d) * (1.02 if market == "Pasar Kreneng" else 1), lat=lat, lon=lon,
        date=datetime.combine((now - timedelta(days=35 - d)).date(), datetime.min.time(), tzinfo=UTC)))
        for commodity, base in (("beras_medium", 13000), ("cabai_rawit_merah", 60000))
        for market, (lat, lon) in (("Pasar Badung", POINTS[0]), ("Pasar Kreneng", POINTS[2]))
        for d in range(36)]
    warnings = [located(Incident(
        id="BMKG-CBT-1", source="bmkg-nowcast", category="extreme_weather", status="new", severity="high",
        lat=POINTS[4][0], lon=POINTS[4][1], reported_at=now - timedelta(hours=1), updated_at=now - timedelta(minutes=30),
        expires_at=now + timedelta(hours=3), title="Hujan lebat disertai angin kencang di Denpasar",
        details={"cap_identifier": "BMKG-CBT-1", "event": "Hujan Lebat", "urgency": "Immediate", "certainty": "Likely",
                 "description": f"Info lebih lanjut hubungi {CALLER} & <kantor>", "instruction": "Waspada genangan.",
                 "areas": ["Denpasar Selatan", "Denpasar Timur"], "sender_name": "BMKG"})),
        located(Incident(
            id="BMKG-EQ-1", source="bmkg-nowcast", category="earthquake", status="new", severity="medium",
            lat=-9.1, lon=114.9, reported_at=now - timedelta(hours=2), updated_at=now - timedelta(hours=2),
            title="Gempa M5.2 di laut selatan Bali", details={"magnitude": 5.2, "region": "Samudera Hindia"})),
        located(Incident(
            id="BMKG-OLD", source="bmkg-nowcast", category="extreme_weather", status="new", severity="high",
            lat=POINTS[4][0], lon=POINTS[4][1], reported_at=now - timedelta(days=1), updated_at=now - timedelta(days=1),
            expires_at=now - timedelta(hours=6), title="Peringatan yang sudah lewat", details={"cap_identifier": "BMKG-OLD"}))]
    return {"pro-denpasar": complaints, "ntpc-112": calls, "flood-reports": floods, "flood-gauges": gauges,
            "pihps": prices, "bmkg-nowcast": warnings}


@pytest.fixture(scope="module")
def public_env(tmp_path_factory, embedded_redis_url):
    """(now, records by source) with history and live store filled and the app's handles pointing at them."""
    import redis

    from damamaya import runtime
    from damamaya.seed import seed
    from engine.history import History
    from engine.live import LiveStore

    tmp = tmp_path_factory.mktemp("public")
    url = f"sqlite:///{tmp / 'history.sqlite'}"
    prefix = f"pub{os.getpid()}{id(tmp) % 10000}"
    cfg = tmp / "config.yaml"
    cfg.write_text(f"language: id\nredis:\n  url: {embedded_redis_url}\n  prefix: {prefix}\ndatabase:\n  url: {url}\n"
                   "public:\n  cache_seconds: 30\n")
    now = datetime.now(UTC).replace(microsecond=0)
    history = History(url)
    history.create()
    seed(history, 3000, days=40, end=now, seed=5)
    by_source = live_records(now)
    live = LiveStore(redis.Redis.from_url(embedded_redis_url), prefix)
    live.clear()
    for source, recs in by_source.items():
        history.apply(source, recs)
        live.apply(source, recs)
    live.describe_sources({s: {"title": s, "kinds": sorted({r.kind for r in recs})} for s, recs in by_source.items()})
    mp = pytest.MonkeyPatch()
    mp.setenv("DAMAMAYA_CONFIG", str(cfg))
    mp.delenv("DAMAMAYA_REDIS_URL", raising=False)
    mp.delenv("DAMAMAYA_DATABASE_URL", raising=False)
    handles = (runtime.config, runtime.redis_client, runtime.live, runtime.history)
    for f in handles:
        f.cache_clear()
    yield now, by_source, live
    live.clear()
    mp.undo()
    for f in handles:
        f.cache_clear()
    history.dispose()


@pytest.fixture(scope="module")
def client(public_env):
    import app as app_module

    with app_module.server.test_client() as c:
        yield c


@pytest.fixture
def fresh_cache(public_env):
    """No public entry cached: each test sees what it asks for computed now."""
    _, _, live = public_env
    for key in live.r.scan_iter(match=live.key("public", "*")):
        live.r.delete(key)
