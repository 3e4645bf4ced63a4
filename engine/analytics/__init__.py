"""Analytics for /kpi and /history: the event projection, its queries and the KPI arithmetic.

The collector calls `update_rollups(history, applied.changed)` after every
`History.apply`; `backfill(history)` builds the projection for a database that
already holds records.
"""
from engine.analytics.facts import backfill, update_rollups

__all__ = ["backfill", "update_rollups"]
