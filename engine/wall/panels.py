"""The data of the wall's scene panels (engine/wall/scenes.py): camera cards, staple
prices, the gauges' recent levels. Pure functions of one source's live records (and,
for the gauges, their versions in history), computed per source and data version and
cached like the wall's other views (engine/wall/model.py).

No URL that could carry a secret reaches a screen: a camera's link is shown only when
it is a plain http(s) address without user, password, query or fragment.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable
from urllib.parse import urlsplit

import orjson
from sqlalchemy import select

from engine.live import HEALTH
from engine.prices import change as price_change, daily_series, market_date

MAX_CAMERAS = 500
MAX_PRICE_ROWS = 300
MAX_GAUGE_POINTS = 120  # per gauge: the chart is small


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def shown_url(url) -> str | None:
    """`url` when it is safe to show on a wall (no credentials, query or fragment), else None."""
    if not isinstance(url, str) or len(url) > 500:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username or parts.password or parts.query or parts.fragment or "@" in parts.netloc:
        return None
    return url.strip()


def camera_cards(records: Iterable[dict]) -> list[dict]:
    """One card per camera reading (quantity camera_online): name, online, time, link."""
    cards = []
    for rec in records:
        if rec.get("kind") != "reading" or rec.get("quantity") != "camera_online":
            continue
        details = rec.get("details") or {}
        observed = _time(rec.get("observed_at"))
        cards.append({
            "uid": f"{rec['source']}:{rec['id']}",
            "name": rec.get("station_name") or details.get("name") or rec.get("station") or rec["id"],
            "place": details.get("address") or rec.get("desa") or "",
            "online": rec.get("value", 0) >= 1,
            "known": details.get("online_known", True),
            "ts": observed.timestamp() if observed else None,
            "link": shown_url(details.get("stream_url")),
            "snapshot": shown_url(details.get("snapshot_url")),
        })
    cards.sort(key=lambda c: (c["online"], c["name"]))  # offline cameras first: they need someone
    return cards[:MAX_CAMERAS]


def price_rows(records: Iterable[dict]) -> list[dict]:
    """Latest price of each commodity at each market, with its change against the previous reported day."""
    prices = [r for r in records if r.get("kind") == "price"]
    units = {(p["commodity"], p["market"]): p.get("unit") or "" for p in prices}
    series = daily_series((p["commodity"], p["market"], market_date(_time(p["date"])), p["value"]) for p in prices)
    rows = []
    for (commodity, market), days in series.items():
        last = max(days)
        c = price_change(days, 1, tolerance=None)
        rows.append({"commodity": commodity.replace("_", " "), "market": market, "value": days[last],
                     "unit": units.get((commodity, market), ""), "day": last.isoformat(),
                     "pct": round(c.pct, 1) if c is not None else None})
    rows.sort(key=lambda r: (r["commodity"], r["market"]))
    return rows[:MAX_PRICE_ROWS]


def gauges_of(records: Iterable[dict]) -> list[dict]:
    return [r for r in records if r.get("kind") == "reading" and r.get("quantity") == "water_level"]


def gauge_series(gauges: list[dict], history_points: dict[str, list[tuple[float, float]]]) -> list[dict]:
    """One line per gauge: its name, Siaga level, thresholds and [epoch s, cm] points,
    history first and the live value last."""
    out = []
    for rec in sorted(gauges, key=lambda r: r.get("station_name") or r["id"]):
        points = sorted(history_points.get(rec["id"], []))
        observed = _time(rec.get("observed_at"))
        if observed and (not points or points[-1][0] < observed.timestamp()):
            points.append((observed.timestamp(), rec["value"]))
        step = max(1, len(points) // MAX_GAUGE_POINTS)
        thinned = points[::step] if step > 1 else points
        if points and thinned[-1] != points[-1]:
            thinned.append(points[-1])
        out.append({"uid": f"{rec['source']}:{rec['id']}", "name": rec.get("station_name") or rec["id"],
                    "level": int(rec.get("alert_level") or 0), "unit": rec.get("unit") or "",
                    "thresholds": (rec.get("details") or {}).get("thresholds") or {},
                    "points": [[round(t), v] for t, v in thinned]})
    return out


def gauge_history(engine, source: str, stations: list[str], since: datetime, limit: int = 20_000) -> dict[str, list[tuple[float, float]]]:
    """[(epoch s, value)] of each gauge from its stored versions seen since `since`."""
    from engine.history import record_versions

    if not stations:
        return {}
    q = (select(record_versions.c.record_id, record_versions.c.payload)
         .where(record_versions.c.source == source, record_versions.c.record_id.in_(stations[:200]),
                record_versions.c.seen_at >= since)
         .order_by(record_versions.c.id.desc()).limit(limit))
    found: dict[str, list[tuple[float, float]]] = {}
    with engine.connect() as conn:
        for rid, payload in conn.execute(q):
            rec = orjson.loads(payload)
            observed = _time(rec.get("observed_at"))
            if observed is not None and rec.get("value") is not None:
                found.setdefault(rid, []).append((observed.timestamp(), float(rec["value"])))
    return found


def since_hours(now: datetime, hours: float) -> datetime:
    return now - timedelta(hours=hours)


class PanelModel:
    """The scene panels' data for one request, per source and data version, cached."""

    def __init__(self, live, cache, history_engine=None, ttl: int = 600):
        self.live, self.cache, self.history_engine, self.ttl = live, cache, history_engine, ttl

    def _cached(self, key: str, compute):
        raw = self.cache.get(key)
        if raw is not None:
            return orjson.loads(raw)
        value = compute()
        self.cache.set(key, orjson.dumps(value), self.ttl)
        return value

    def data(self, panels: Iterable[str], versions: dict[str, int], gauge_hours: float = 6) -> dict:
        """{"cctv": cards, "prices": rows, "gauges": lines} for the panels asked for."""
        panels = set(panels)
        out: dict[str, list] = {}
        sources = sorted((s, v) for s, v in versions.items() if s != HEALTH)
        if "cctv" in panels:
            out["cctv"] = [c for s, v in sources for c in self._per_source("cams", s, v, camera_cards)][:MAX_CAMERAS]
        if "prices" in panels:
            out["prices"] = [r for s, v in sources for r in self._per_source("prices", s, v, price_rows)][:MAX_PRICE_ROWS]
        if "gauges" in panels:
            out["gauges"] = [g for s, v in sources for g in self._gauges(s, v, gauge_hours)]
        return out

    def _per_source(self, what: str, source: str, version: int, view) -> list:
        return self._cached(f"wall:panel:{what}:{source}:{version}", lambda: view(self.live.raw_records(source)))

    def _gauges(self, source: str, version: int, hours: float) -> list:
        def compute():
            gauges = gauges_of(self.live.raw_records(source))
            if not gauges:
                return []
            history = {}
            if self.history_engine is not None:
                now = datetime.now().astimezone()
                history = gauge_history(self.history_engine, source, [g["id"] for g in gauges], since_hours(now, hours))
            return gauge_series(gauges, history)
        return self._cached(f"wall:panel:gauges:{source}:{version}:{hours:g}", compute)
