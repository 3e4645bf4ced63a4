from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from engine.records import WITA, Incident, Price, Reading, record_from_json, record_to_json, status_rank

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=WITA)


def incident(**kw):
    base = dict(id="a", source="s", category="fire", reported_at=T0, updated_at=T0, lat=-8.65, lon=115.22)
    return Incident(**{**base, **kw})


def test_times_are_stored_in_utc():
    rec = incident()
    assert rec.reported_at == datetime(2026, 3, 1, 0, 0, tzinfo=timezone.utc)
    assert rec.reported_at.utcoffset() == timedelta(0)


def test_time_without_zone_is_refused():
    with pytest.raises(ValidationError, match="no zone"):
        incident(reported_at=datetime(2026, 3, 1, 8, 0))


@pytest.mark.parametrize("lat,lon", [(91, 115), (-8.6, 181), (float("nan"), 115), (0, 0)])
def test_impossible_coordinates_are_refused(lat, lon):
    with pytest.raises(ValidationError, match="coordinates"):
        incident(lat=lat, lon=lon)


def test_half_a_location_is_refused():
    with pytest.raises(ValidationError, match="both"):
        incident(lat=-8.6, lon=None)


def test_domain_follows_category_and_unknown_is_other():
    assert incident().domain == "emergency"
    assert incident(category="congestion").domain == "traffic"
    assert incident(category="something_new").domain == "other"


def test_json_round_trip_keeps_kind_and_values():
    for rec in [incident(details={"x": 1}),
                Reading(id="g1", source="s", station="g1", quantity="water_level", value=812.5, unit="cm", alert_level=1, observed_at=T0),
                Price(id="p", source="s", commodity="cabai_rawit_merah", market="Pasar Badung", value=60000, date=T0)]:
        back = record_from_json(record_to_json(rec))
        assert type(back) is type(rec) and back == rec


def test_content_hash_ignores_nothing_but_is_stable():
    assert incident().content_hash() == incident().content_hash()
    assert incident().content_hash() != incident(status="closed").content_hash()


def test_status_rank_orders_the_lifecycle():
    assert status_rank("new") < status_rank("dispatched") < status_rank("resolved") < status_rank("closed")
    assert status_rank("cancelled") == status_rank("closed")


def test_price_must_be_positive():
    with pytest.raises(ValidationError):
        Price(id="p", source="s", commodity="x", market="m", value=0, date=T0)
