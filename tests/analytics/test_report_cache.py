"""The KPI reports the read service keeps in Redis are JSON, read back equal to what was
computed; an entry that is not a report (a stale or foreign one) is computed again."""
from __future__ import annotations

from datetime import datetime, timezone

import redis

from engine.analytics.config import KpiConfig
from engine.analytics.service import AnalyticsService
from engine.cache import RedisCache


def test_a_cached_report_is_json_and_reads_back_equal(tmp_path, embedded_redis_url):
    from damamaya.seed import seed
    from engine.history import History

    history = History(f"sqlite:///{tmp_path / 'h.sqlite'}")
    history.create()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    seed(history, 500, days=10, end=now, seed=3)
    client = redis.Redis.from_url(embedded_redis_url)
    cache = RedisCache(client, "reportcache")
    try:
        service = AnalyticsService(history.engine, KpiConfig(), cache)
        computed = service.kpi_report("7d", now)
        raw = cache.get(f"kpi:report:7d:{int(now.timestamp())}")
        assert raw is not None and raw.startswith(b'{"period":')  # JSON, not a pickle
        assert service.kpi_report("7d", now) == computed
        areas = service.area_values("calls", "kecamatan", "7d", now)
        assert service.area_values("calls", "kecamatan", "7d", now) == areas

        cache.set(f"kpi:report:7d:{int(now.timestamp())}", b"\x80\x04not json", 60)  # what a pickle would look like
        assert service.kpi_report("7d", now) == computed
    finally:
        for key in client.scan_iter("reportcache:*"):
            client.delete(key)
        client.close()
        history.dispose()
