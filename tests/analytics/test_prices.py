"""engine.prices by hand: change over a day/week/month with the gap rule, 30-day CV.

The cases come from the former data_sources._prices.price_changes tests; that
function rounded pct and CV to 2 decimals, engine.prices does not (approx here).
"""
from datetime import date

import pytest

from data_sources._prices import market_day
from engine.prices import Change, change, cv, daily_series, market_date
from engine.records import Price


def _p(commodity, market, day, value):
    return Price(id=f"{commodity}{market}{day}", source="t", commodity=commodity, market=market, value=value,
                 date=market_day(day))


def _series(prices):
    return daily_series((p.commodity, p.market, market_date(p.event_time), p.value) for p in prices)


def _summary(series, tolerance=3):
    return {label: change(series, h, tolerance=tolerance) for label, h in (("1d", 1), ("7d", 7), ("30d", 30))}


def test_changes_with_gaps_and_tolerance():
    prices = [_p("cabai_rawit_merah", "Pasar Badung", d, v) for d, v in [
        ("2025-10-01", 40000), ("2025-10-20", 45000), ("2025-10-24", 50000), ("2025-10-28", 52000), ("2025-10-30", 60000)]]
    s = _series(prices)[("cabai_rawit_merah", "Pasar Badung")]
    c = _summary(s)
    assert (c["1d"].day, c["1d"].value) == (date(2025, 10, 30), 60000)
    # no price on 29 Oct: the most recent within 3 days before it, 28 Oct
    assert (c["1d"].ref_day, c["1d"].ref_value, c["1d"].diff) == (date(2025, 10, 28), 52000, 8000)
    assert c["1d"].pct == pytest.approx(15.38, abs=0.005)
    # target 23 Oct has no price; 20 Oct is within the 3-day tolerance (24 Oct is after the target)
    assert (c["7d"].ref_day, c["7d"].ref_value, c["7d"].diff) == (date(2025, 10, 20), 45000, 15000)
    assert c["7d"].pct == pytest.approx(33.33, abs=0.005)
    # target 30 Sep: nothing on or up to 3 (or even 7) days before it (1 Oct is after the target)
    assert c["30d"] is None and change(s, 30, tolerance=7) is None
    assert cv(s) == pytest.approx(15.26, abs=0.005)


def test_changes_exact_days_duplicates_and_markets():
    prices = [
        _p("bawang_merah", "Pasar Badung", "2025-10-31", 30000),
        _p("bawang_merah", "Pasar Badung", "2025-11-23", 35000),
        _p("bawang_merah", "Pasar Badung", "2025-11-29", 39000),
        _p("bawang_merah", "Pasar Badung", "2025-11-29", 40000),  # later duplicate of the day wins
        _p("bawang_merah", "Pasar Badung", "2025-11-30", 42000),
        _p("bawang_merah", "Pasar Kreneng", "2025-11-30", 41000),
    ]
    series = _series(prices)
    c = _summary(series[("bawang_merah", "Pasar Badung")])
    assert c["1d"] == Change(date(2025, 11, 30), 42000, date(2025, 11, 29), 40000, 2000, pytest.approx(5.0))
    assert c["7d"] == Change(date(2025, 11, 30), 42000, date(2025, 11, 23), 35000, 7000, pytest.approx(20.0))
    assert c["30d"] == Change(date(2025, 11, 30), 42000, date(2025, 10, 31), 30000, 12000, pytest.approx(40.0))
    k = series[("bawang_merah", "Pasar Kreneng")]
    assert k == {date(2025, 11, 30): 41000}
    assert _summary(k) == {"1d": None, "7d": None, "30d": None} and cv(k) is None


def test_changes_gap_beyond_tolerance_and_custom_tolerance():
    prices = [_p("beras_medium", "Kota Denpasar", "2025-11-05", 13000), _p("beras_medium", "Kota Denpasar", "2025-11-10", 13500)]
    s = _series(prices)[("beras_medium", "Kota Denpasar")]
    assert change(s, 1) is None  # 5 Nov is 4 days before the target 9 Nov
    wide = change(s, 1, tolerance=4)
    assert (wide.ref_day, wide.ref_value, wide.diff) == (date(2025, 11, 5), 13000, 500)
    assert wide.pct == pytest.approx(3.85, abs=0.005)
    assert _series([]) == {}
    assert change({}, 1) is None and cv({}) is None


def test_previous_reported_day_however_far_back_and_as_of():
    s = {date(2025, 11, 1): 100.0, date(2025, 11, 20): 110.0, date(2025, 11, 21): 99.0}
    prev = change(s, 1, tolerance=None)
    assert (prev.ref_day, prev.pct) == (date(2025, 11, 20), pytest.approx(-10.0))
    # as of 20 Nov the latest is 20 Nov; with no tolerance the 1 Nov price 19 days back counts, with 3 days it does not
    assert change(s, 1, as_of=date(2025, 11, 20), tolerance=None).pct == pytest.approx(10.0)
    assert change(s, 1, as_of=date(2025, 11, 20)) is None
    assert change(s, 1, as_of=date(2025, 10, 31)) is None


def test_market_date_is_the_wita_calendar_day():
    assert market_date(market_day("2025-11-16")) == date(2025, 11, 16)  # 16:00 UTC the day before
