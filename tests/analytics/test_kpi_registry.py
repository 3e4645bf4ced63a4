"""The KPI registry: one entry per KPI, one query for each, the words for each, and the
/kpi screen built from it."""
from __future__ import annotations

import pytest

from engine.analytics import kpis as KP
from engine.analytics.config import DEFAULT_TARGETS, KpiConfig
from engine.analytics.registry import AREA_METRICS, KPIS, PILLARS, SECTIONS
from layouts.messages import CATALOG


def test_every_kpi_has_one_query_and_every_query_a_kpi():
    assert set(KP.QUERIES) == set(KPIS)


def test_every_kpi_has_its_words_and_a_section():
    for kid, entry in KPIS.items():
        assert f"kpi.{kid}" in CATALOG, kid
        assert f"kpi.section.{entry.section}" in CATALOG, entry.section
        assert set(entry.pillars) <= set(PILLARS)
    for metric in AREA_METRICS:
        assert f"kpi.metric.{metric}" in CATALOG, metric


def test_sections_and_pillars_come_from_the_registry():
    assert [k for ids in SECTIONS.values() for k in ids] == list(KPIS)
    pillars = KpiConfig().pillars
    for kid, entry in KPIS.items():
        for pillar in PILLARS:
            assert (kid in pillars[pillar]) == (pillar in entry.pillars), (kid, pillar)


def test_targets_point_the_way_the_registry_says():
    for kid, target in DEFAULT_TARGETS.items():
        assert target.better == KPIS[kid].better, kid


def test_a_query_for_an_unknown_kpi_is_refused():
    with pytest.raises(ValueError, match="not in the KPI registry"):
        KP.produces("calls.made_up")(lambda ctx, report: None)
    with pytest.raises(ValueError, match="two queries"):
        KP.produces("calls.volume")(lambda ctx, report: None)


@pytest.mark.parametrize("kid", list(KPIS))
def test_values_are_shown_with_the_registry_decimals(kid):
    from engine.analytics.kpi import Kpi
    from layouts.parts.kpi import value_text

    entry = KPIS[kid]
    text = value_text(Kpi(kid, 7.25 * 60 if entry.unit == "s" else 7.25, entry.unit), "en")
    if entry.unit == "level":
        assert text.startswith("Siaga")
    elif entry.decimals:
        assert "7.2" in text or "7.3" in text
    else:
        assert text == "7"
