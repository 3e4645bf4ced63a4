"""KPI arithmetic against hand-computed cases: no database, no clock."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.analytics import kpi as K
from engine.analytics.config import KpiConfig, Target
from engine.records import WITA

UTC = timezone.utc


def wita(y, m, d, h=0, mi=0):
    return datetime(y, m, d, h, mi, tzinfo=WITA)


# ---- deadlines across weekends ------------------------------------------------------------
# 2025-01-03 is a Friday.
@pytest.mark.parametrize("received, days, expected", [
    (wita(2025, 1, 3, 16), 3, wita(2025, 1, 9)),    # Fri: Mon 6, Tue 7, Wed 8 -> due before Thu 00:00
    (wita(2025, 1, 4, 10), 3, wita(2025, 1, 9)),    # Sat: counting starts Monday, same deadline
    (wita(2025, 1, 5, 23, 59), 3, wita(2025, 1, 9)),  # Sun late evening: still Mon, Tue, Wed
    (wita(2025, 1, 6, 0, 1), 3, wita(2025, 1, 10)),   # Mon: Tue, Wed, Thu -> before Fri 00:00
    (wita(2025, 1, 3, 9), 1, wita(2025, 1, 7)),     # Fri, one working day: Monday, so before Tue 00:00
    (wita(2025, 1, 3, 9), 5, wita(2025, 1, 11)),    # Fri, five: Mon..Fri next week -> before Sat 00:00
])
def test_working_deadline_skips_weekends(received, days, expected):
    assert K.working_deadline(received, days) == expected


def test_working_deadline_counts_in_wita_not_utc():
    # 2025-01-03 16:30 UTC is Saturday 00:30 in Denpasar: a Saturday receipt, not a Friday one
    received = datetime(2025, 1, 3, 16, 30, tzinfo=UTC)
    assert K.working_deadline(received, 1) == wita(2025, 1, 7)  # Monday counts -> before Tue 00:00
    friday_evening = datetime(2025, 1, 3, 15, 30, tzinfo=UTC)  # 23:30 WITA Friday
    assert K.working_deadline(friday_evening, 1) == wita(2025, 1, 7)


def test_working_deadline_skips_holidays_and_configured_weekdays():
    # Tuesday 7 Jan a holiday: Fri -> Mon 6, Wed 8, Thu 9 -> before Fri 10 00:00
    assert K.working_deadline(wita(2025, 1, 3, 16), 3, holidays=[date(2025, 1, 7)]) == wita(2025, 1, 10)
    # a six-day week (Saturday works): Fri -> Sat 4, Mon 6, Tue 7 -> before Wed 8 00:00
    assert K.working_deadline(wita(2025, 1, 3, 16), 3, working_days=[0, 1, 2, 3, 4, 5]) == wita(2025, 1, 8)


def test_backlog_aging_buckets_by_whole_days():
    as_of = wita(2025, 1, 20, 12)
    ages = [0, 3, 3.99, 4, 7.5, 8, 14.9, 15, 40]
    received = [as_of - timedelta(days=a) for a in ages]
    assert K.backlog_aging(received, as_of) == {"0-3": 3, "4-7": 2, "8-14": 2, ">14": 2}


def test_backlog_aging_of_nothing_is_all_zero():
    assert K.backlog_aging([], wita(2025, 1, 1)) == {"0-3": 0, "4-7": 0, "8-14": 0, ">14": 0}


# ---- percentiles with few samples ------------------------------------------------------------
def test_percentiles_nearest_rank_on_few_samples():
    assert K.percentile([], 50) is None
    assert K.percentile([420.0], 50) == 420.0 and K.percentile([420.0], 90) == 420.0
    assert K.percentile([20.0, 10.0], 50) == 10.0   # rank ceil(0.5*2)=1
    assert K.percentile([20.0, 10.0], 90) == 20.0   # rank ceil(0.9*2)=2
    assert K.percentile([300, 60, 180, 240, 120], 90) == 300  # rank ceil(4.5)=5
    assert K.percentile(list(range(1, 11)), 90) == 9  # rank 9 of 10
    assert K.percentile(list(range(1, 11)), 50) == 5


def test_spread_flags_few_samples_and_ignores_missing():
    s = K.spread_of_counts([(v, 1) for v in (60.0, None, 120.0, float("nan"), 180.0)], min_samples=10)
    assert (s.p50, s.p90, s.n, s.few) == (120.0, 180.0, 3, True)
    s = K.spread_of_counts([(float(v), 1) for v in range(1, 21)], min_samples=10)
    assert (s.p50, s.p90, s.n, s.few) == (10.0, 18.0, 20, False)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=60), st.floats(min_value=1, max_value=100))
def test_percentile_is_an_observed_value_with_enough_below(values, q):
    p = K.percentile(values, q)
    assert p in values
    assert sum(v <= p for v in values) >= q / 100 * len(values) - 1e-9


def test_share_of_nothing_is_no_data_not_zero():
    assert K.share(0, 0) is None
    assert K.share(3, 4) == 75.0


# ---- completeness from outages --------------------------------------------------------------
def test_completeness_merges_overlapping_outages_and_clips_to_period():
    start, end = wita(2025, 1, 1), wita(2025, 1, 11)  # 10 days
    outages = [(wita(2024, 12, 31), wita(2025, 1, 1, 12)),   # half a day inside
               (wita(2025, 1, 5), wita(2025, 1, 6)),          # one day
               (wita(2025, 1, 5, 12), wita(2025, 1, 6, 12))]  # overlaps: half a day more
    assert K.completeness({"a": outages}, start, end) == pytest.approx(1 - 2 / 10)


def test_completeness_takes_the_least_available_source_and_runs_open_outages_to_the_end():
    start, end = wita(2025, 1, 1), wita(2025, 1, 11)
    got = K.completeness({"up": [], "down": [(wita(2025, 1, 9), None)]}, start, end)
    assert got == pytest.approx(0.8)
    assert K.completeness({}, start, end) is None


def test_a_source_outage_makes_the_kpi_incomplete_and_hides_number_and_trend():
    kpi = K.Kpi("calls.volume", 120, "calls", previous=100, completeness=0.9)
    K.finish(kpi, None, min_completeness=0.99)
    assert kpi.incomplete and kpi.status == "incomplete"
    assert kpi.delta is None


def test_an_incomplete_previous_period_drops_the_trend_only():
    target = Target(better="lower", good=420, warn=600)
    kpi = K.Kpi("calls.response_time", 400, "s", previous=700, completeness=1.0)
    K.finish(kpi, target, min_completeness=0.99, previous_completeness=0.5)
    assert not kpi.incomplete and kpi.status == "good" and kpi.value == 400
    assert kpi.previous is None and kpi.delta is None


def test_empty_period_has_no_value_and_no_status():
    kpi = K.finish(K.Kpi("complaints.resolved", K.share(0, 0), "%", previous=K.share(0, 0), completeness=1.0),
                   KpiConfig().targets["complaints.resolved"], 0.99)
    assert kpi.value is None and kpi.delta is None and kpi.status == "none" and not kpi.incomplete


# ---- floods ---------------------------------------------------------------------------------------
def test_siaga_hours_by_hand():
    start, end = wita(2025, 1, 1), wita(2025, 1, 2)
    gap = timedelta(minutes=90)
    readings = [(wita(2025, 1, 1, 0), 1), (wita(2025, 1, 1, 1), 2), (wita(2025, 1, 1, 1, 15), 3),
                (wita(2025, 1, 1, 2), 1),                       # 01:00-02:00 at II or I: 1 h
                (wita(2025, 1, 1, 20), 2)]                      # then silent: counts 90 min only
    assert K.siaga_hours(readings, start, end, gap) == pytest.approx(1 + 1.5)
    # a reading before the period carries in, clipped at the start
    assert K.siaga_hours([(wita(2024, 12, 31, 23, 30), 2)], start, end, gap) == pytest.approx(1.0)
    assert K.siaga_hours([], start, end, gap) == 0


# ---- prices ---------------------------------------------------------------------------------------
def test_price_changes_ceiling_and_volatility_by_hand():
    d = date(2025, 2, 1)
    series = {d - timedelta(days=30): 40000, d - timedelta(days=7): 50000, d - timedelta(days=1): 55000, d: 60000}
    s = K.price_stats(series, d, ceiling=57000)
    assert s.latest == 60000 and s.latest_date == d
    assert s.change_day == pytest.approx(100 * 5000 / 55000)
    assert s.change_week == pytest.approx(20.0)
    assert s.change_month == pytest.approx(50.0)
    assert s.vs_ceiling == pytest.approx(100 * 60000 / 57000) and s.above_ceiling
    # CV over the last 30 days (the day 30 days back is outside): 50000, 55000, 60000
    # mean 55000, sample sd 5000 -> 9.0909 %
    assert s.cv30 == pytest.approx(100 * 5000 / 55000)


def test_price_change_looks_back_at_most_three_days_for_a_missing_day():
    d = date(2025, 2, 10)
    assert K.price_stats({d - timedelta(days=3): 100, d: 110}, d).change_day == pytest.approx(10.0)
    assert K.price_stats({d - timedelta(days=5): 100, d: 110}, d).change_day is None
    one = K.price_stats({d: 110}, d)
    assert one.cv30 is None and one.change_week is None and one.vs_ceiling is None


# ---- judging and the scorecard ------------------------------------------------------------------
def test_judge_both_directions():
    lower = Target(better="lower", good=420, warn=600)
    higher = Target(better="higher", good=95, warn=80)
    assert [K.judge(v, lower) for v in (300, 420, 500, 601)] == ["good", "good", "warn", "bad"]
    assert [K.judge(v, higher) for v in (99, 95, 85, 79.9)] == ["good", "good", "warn", "bad"]
    assert K.judge(None, lower) == "none" and K.judge(3, None) == "none"


def test_pillar_status_is_the_worst_and_incomplete_beats_good():
    assert K.pillar_status(["good", "warn", "bad"]) == "bad"
    assert K.pillar_status(["good", "incomplete"]) == "incomplete"
    assert K.pillar_status(["good", "none"]) == "good"
    assert K.pillar_status([]) == "none"


def test_config_rejects_unknown_kpis_and_pillars():
    with pytest.raises(ValueError, match="unknown KPI"):
        KpiConfig(targets={"calls.nonsense": Target(better="lower", good=1, warn=2)})
    with pytest.raises(ValueError, match="unknown pillar"):
        KpiConfig(pillars={"smartness": []})
    with pytest.raises(ValueError, match="default"):
        KpiConfig(resolution_days={"waste": 5})
    partial = KpiConfig(pillars={"economy": ["prices.change"]}, targets={"calls.volume": {"better": "higher", "good": 1, "warn": 0}},
                        price_ceilings={"gula_pasir": 17500})
    assert partial.pillars["economy"] == ["prices.change"] and partial.pillars["living"] == KpiConfig().pillars["living"]
    assert partial.targets["calls.volume"].better == "higher" and "calls.response_time" in partial.targets
    assert partial.price_ceilings["gula_pasir"] == 17500 and partial.price_ceilings["beras_medium"] == 13500


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=600), min_size=0, max_size=80), st.sampled_from([50, 90, 99]))
def test_percentile_from_a_histogram_equals_the_percentile_of_the_list(values, q):
    from collections import Counter

    assert K.percentile_of_counts(Counter(values).items(), q) == K.percentile([float(v) for v in values], q)


def test_spread_of_counts_few_samples():
    s = K.spread_of_counts([(300.0, 1), (600.0, 1), (900.0, 1)], min_samples=10)
    assert (s.p50, s.p90, s.n, s.few) == (600.0, 900.0, 3, True)
    assert K.spread_of_counts([], 10).p90 is None
