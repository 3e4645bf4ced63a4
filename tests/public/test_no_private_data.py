"""Property: whatever the records hold, no private value and no exact coordinate leaves through the
public projection, the /publik summary or the open data API."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.geo import locate_record
from engine.public import PublicConfig, desa_places, public_incident, public_warning, summary
from engine.records import Incident, Reading
from engine.taxonomy import CATEGORIES

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)

phones = st.one_of(
    st.from_regex(r"08[1-9]\d{8,10}", fullmatch=True),
    st.from_regex(r"\+62 8\d{2}-\d{4}-\d{4}", fullmatch=True),
    st.from_regex(r"\(0361\) \d{6}", fullmatch=True),
)
addresses = st.builds(lambda street, no: f"Jl. {street} No. {no}", st.sampled_from(["Melati", "Tukad Badung", "Gatsu"]),
                      st.integers(1, 999))
words = st.sampled_from(["Banjir", "Sampah", "Pasien", "pingsan", "hubungi", "di", "depan", "rumah", "M5.2", "RT 04"])
# exact points with more than 5 decimals, around Denpasar (some outside the city)
coordinate = st.tuples(st.floats(-8.76, -8.60), st.floats(115.16, 115.28)).map(
    lambda p: (round(p[0], 7) + 1e-7, round(p[1], 7) + 1e-7))


@st.composite
def private_incident(draw):
    phone, address = draw(phones), draw(addresses)
    category = draw(st.sampled_from(sorted(CATEGORIES)))
    lat, lon = draw(coordinate)
    title = " ".join(draw(st.lists(words, max_size=4)) + [phone] + draw(st.lists(words, max_size=3)))
    details = {"private": {"caller": phone, "address": address}, "address": address, "reporter_phone": phone}
    if draw(st.booleans()):
        details.update(cap_identifier=f"X-{draw(st.integers(0, 10**6))}", description=f"Kontak {phone}",
                       event=f"Peringatan {phone}", areas=[f"Dekat {phone}"], sender_name=f"Petugas {phone}")
    reported = NOW - timedelta(minutes=draw(st.integers(0, 5000)))
    record = Incident(id=f"{draw(st.sampled_from(['c', 'PRO-', '112-']))}{phone}", source=draw(st.sampled_from(["calls", "complaints", "bmkg"])),
                      category=category, status=draw(st.sampled_from(["new", "in_progress", "closed"])),
                      severity=draw(st.sampled_from(["low", "medium", "high", "critical"])),
                      lat=lat, lon=lon, reported_at=reported, updated_at=reported, title=title, details=details)
    locate_record(record)
    return record, (phone, address), (lat, lon)


def _assert_public(text: str, secrets, points) -> None:
    for secret in secrets:
        assert secret not in text, f"private value {secret!r} in public output"
    for lat, lon in points:
        assert repr(lat) not in text and repr(lon) not in text, "exact coordinate in public output"


def _desa_points() -> set[tuple[float, float]]:
    return {(p.lat, p.lon) for p in desa_places().values()}


@settings(max_examples=300, deadline=None)
@given(st.lists(private_incident(), min_size=1, max_size=8))
def test_projection_and_summary_show_nothing_private(batch):
    cfg = PublicConfig(domains=list({d for d, *_ in CATEGORIES.values()}))  # every domain public: the worst case
    dumps = [r.model_dump(mode="json") for r, _, _ in batch]
    out = [public_incident(d, cfg) for d in dumps] + [public_warning(d, cfg) for d in dumps]
    out.append(summary(dumps, NOW, cfg))
    text = orjson.dumps(out).decode()
    _assert_public(text, [s for _, secrets, _ in batch for s in secrets], [p for _, _, p in batch])
    for item in out[:-1]:
        if item and item["lat"] is not None:
            assert (item["lat"], item["lon"]) in _desa_points()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(private_incident(), min_size=1, max_size=5))
def test_api_shows_nothing_private(client, public_env, batch):
    from damamaya import runtime

    _, _, live = public_env
    for record, _, _ in batch:
        record.reported_at = record.updated_at = datetime.now(timezone.utc) - timedelta(minutes=5)
        record.status = "new"
    records = [r for r, _, _ in batch]
    gauge = Reading(id="g1", source="complaints", station="g", station_name="Pos", quantity="water_level", value=10,
                    lat=batch[0][2][0], lon=batch[0][2][1], observed_at=datetime.now(timezone.utc))
    locate_record(gauge)
    for source in {r.source for r in records}:
        mine = [r for r in records if r.source == source]
        runtime.history().apply(source, mine)
        live.apply(source, mine + ([gauge] if source == "complaints" else []))
    for key in live.r.scan_iter(match=live.key("public", "*")):
        live.r.delete(key)
    texts = [client.get(path).data.decode() for path in (
        "/api/v1/incidents.geojson?limit=10000", "/api/v1/incidents.csv?limit=10000", "/api/v1/warnings.cap.xml")]
    _assert_public("\n".join(texts), [s for _, secrets, _ in batch for s in secrets], [p for _, _, p in batch])
    features = orjson.loads(texts[0])["features"]
    assert all(tuple(reversed(f["geometry"]["coordinates"])) in _desa_points() for f in features if f["geometry"])
    from api.public_summary import summary_for

    _assert_public(orjson.dumps(summary_for("id")).decode(), [s for _, secrets, _ in batch for s in secrets],
                   [p for _, _, p in batch])
