"""Derived views of the live store for the wall: map layers, KPI tiles, incident rows.

Pure functions of record dicts (as stored in Redis) and a clock, so they are
tested without a browser and cached by data version (engine/wall/model.py).
Personal data under `details.private` never leaves these functions.

No words here: where a screen shows text, a view returns a message, `{"msg": key,
**values}`, that the screen looks up in its catalog (layouts/messages), or a number
the browser formats. Category labels come from engine.taxonomy, their one owner.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Iterable, Mapping

from engine.prices import change as price_change, daily_series, market_date
from engine.analytics.kpi import with_complaint_deadlines
from engine.records import OPEN_STATUSES, SEVERITIES, WITA, Severity
from engine.taxonomy import category_label



def msg(key: str, **values) -> dict:
    """A message for the screen's catalog: the key and the values it fills in."""
    return {"msg": key, **values}


def siaga(level: int) -> dict:
    """Alert level 0..4 of a gauge as a message (4 and 3 are both Siaga I)."""
    return msg(f"siaga.{min(int(level), 3)}")


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def event_time(rec: dict) -> datetime:
    for key in ("reported_at", "observed_at", "date"):
        if rec.get(key):
            return _time(rec[key])
    raise ValueError("record has no time")


# ---- map layers -----------------------------------------------------------------------

def point_rank(rec: dict) -> int:
    """How alarming a drawn record is, 0..4: an incident's severity, a reading's alert level."""
    if rec["kind"] == "incident":
        return int(Severity[rec["severity"]])
    if rec["kind"] == "reading":
        return int(rec.get("alert_level") or 0)
    return 0


def point_row(rec: dict | None) -> tuple[float, float, int] | None:
    """(lon, lat, rank) of a drawn record, as the server's clustering holds it; None if not drawn."""
    if rec is None or not has_point(rec):
        return None
    return rec["lon"], rec["lat"], point_rank(rec)


def _point_properties(rec: dict, language: str) -> dict:
    kind = rec["kind"]
    props = {"uid": f"{rec['source']}:{rec['id']}", "kind": kind, "source": rec["source"],
             "desa": rec.get("desa") or "", "time": event_time(rec).astimezone(WITA).strftime("%d/%m %H:%M"),
             "rank": point_rank(rec)}
    if kind == "incident":
        props.update(sev=rec["severity"], status=rec["status"],
                     open=rec["status"] in OPEN_STATUSES, cat=category_label(rec["category"], language),
                     title=rec.get("title") or "")
    elif kind == "reading":
        level = props["rank"]
        props.update(alert=level, title=rec.get("station_name") or rec["station"],
                     value=f"{rec['value']:g} {rec.get('unit') or ''}".strip(), cat=rec["quantity"])
        if rec["quantity"] == "water_level":
            props["siaga"] = min(level, 3)  # the browser shows its catalog's word for the level
    elif kind == "position":
        props.update(title=rec.get("name") or rec["vehicle"], vtype=rec.get("vehicle_type", "vehicle"), value="")
        if rec.get("speed_kmh") is not None:
            props["speed"] = round(rec["speed_kmh"])
    return props


def has_point(rec: dict) -> bool:
    """A record drawn on the map: located, and not a price."""
    return rec.get("lat") is not None and rec["kind"] != "price"


def has_shape(rec: dict) -> bool:
    """A drawn record with a line or area besides its point."""
    return has_point(rec) and bool(rec.get("geometry")) and rec["geometry"].get("type") != "Point"


def record_features(rec: dict, language: str = "id") -> tuple[dict | None, dict | None]:
    """(point feature, shape feature) of one record; None where it has none."""
    if not has_point(rec):
        return None, None
    props = _point_properties(rec, language)
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [rec["lon"], rec["lat"]]}, "properties": props}
    return point, ({"type": "Feature", "geometry": rec["geometry"], "properties": props} if has_shape(rec) else None)


def layer_geojson(records: Iterable[dict], language: str = "id") -> tuple[dict, dict]:
    """(points, shapes) FeatureCollections of one source's live records."""
    points, shapes = [], []
    for rec in records:
        point, shape = record_features(rec, language)
        if point is not None:
            points.append(point)
        if shape is not None:
            shapes.append(shape)
    return {"type": "FeatureCollection", "features": points}, {"type": "FeatureCollection", "features": shapes}


# ---- KPI tiles ---------------------------------------------------------------------------

def _tile(key: str, value, detail: dict | None = None, sources: Iterable[str] = (), level: str = "normal", parts=None, score=None) -> dict:
    """`score` is what merging picks by, where a tile is not a sum (largest change, latest quake, worst level)."""
    return {"key": key, "value": value, "detail": detail, "sources": sorted(set(sources)), "level": level,
            "parts": parts or [], "score": score}


def open_by_severity(incidents: list[dict]) -> dict:
    counts = Counter(r["severity"] for r in incidents if r["status"] in OPEN_STATUSES and r.get("in_city") is not False)
    return open_tile(counts, {r["source"] for r in incidents if r["domain"] not in ("disaster", "weather")})


def open_tile(counts: Mapping[str, int], sources: Iterable[str]) -> dict:
    """`counts`: open incidents in the city by severity."""
    parts = [{"label": msg(f"severity.{s}"), "value": counts.get(s, 0), "cls": f"sev-{s}"}
             for s in reversed(SEVERITIES) if s != "info"]
    level = "critical" if counts.get("critical") else "high" if counts.get("high") else "normal"
    return _tile("open_incidents", sum(counts.values()), None, sources, level, parts)


def calls_last_hour(incidents: list[dict], now: datetime) -> dict:
    calls = [r for r in incidents if r["domain"] == "emergency"]
    since = now - timedelta(hours=1)
    recent = [r for r in calls if _time(r["reported_at"]) >= since]
    emergencies = sum(1 for r in recent if r["category"] not in NON_EMERGENCY)
    return calls_tile(len(recent), emergencies, bool(calls), {r["source"] for r in calls})


NON_EMERGENCY = ("non_emergency", "hoax")


def calls_tile(recent: int, emergencies: int, any_calls: bool, sources: Iterable[str]) -> dict:
    detail = msg("wall.tile.calls_hour.detail", n=emergencies) if any_calls else None
    return _tile("calls_hour", recent, detail, sources)


def gauges_alert(readings: list[dict]) -> dict:
    gauges = [r for r in readings if r["quantity"] == "water_level"]
    alert = [r for r in gauges if (r.get("alert_level") or 0) >= 1]
    worst = max((r.get("alert_level") or 0 for r in gauges), default=0)
    top = sorted(alert, key=lambda r: (-(r.get("alert_level") or 0), r["id"]))[:3]  # ties: by id, as a sorted index keeps them
    return gauges_tile(len(alert), worst, bool(gauges), {r["source"] for r in gauges},
                       [(r.get("station_name") or r["station"], r.get("alert_level") or 0) for r in top])


def gauges_tile(n_alert: int, worst: int, any_gauges: bool, sources: Iterable[str], top: list[tuple[str, int]]) -> dict:
    """`top`: (label, level) of at most three gauges at alert, worst first."""
    level = {0: "normal", 1: "medium", 2: "high", 3: "critical", 4: "critical"}[worst]
    detail = msg("wall.tile.gauges_alert.detail", level=siaga(worst)) if any_gauges else None
    return _tile("gauges_alert", n_alert, detail, sources, level,
                 [{"label": label, "value": siaga(rank), "rank": rank} for label, rank in top], score=worst)


def complaint_due(rec: dict, kcfg=None) -> datetime | None:
    """A complaint's resolution deadline: the source's own, else the `kpi` block's working days."""
    due = with_complaint_deadlines(rec, kcfg).get("details", {}).get("resolution_due")
    return _time(due) if due else None


def complaints_overdue(incidents: list[dict], now: datetime, kcfg=None) -> dict:
    """Open complaints past their resolution deadline: the source's own, else the SP4N-LAPOR!
    working days of the `kpi` block (`kcfg`), as /kpi and the overdue alarm count them."""
    complaints = [r for r in incidents if r["domain"] == "complaint"]
    open_ = [r for r in complaints if r["status"] in OPEN_STATUSES]
    overdue = [r for r in open_ if (due := complaint_due(r, kcfg)) and due < now]
    return complaints_tile(len(overdue), len(open_), bool(complaints), {r["source"] for r in complaints})


def complaints_tile(overdue: int, n_open: int, any_complaints: bool, sources: Iterable[str]) -> dict:
    detail = msg("wall.tile.complaints_overdue.detail", n=n_open) if any_complaints else None
    return _tile("complaints_overdue", overdue, detail, sources, "high" if overdue else "normal")


def price_change_today(prices: list[dict]) -> dict:
    """The largest change of one commodity at one market, its latest price against the previous reported day.
    Of two prices of one day, the one of the larger id counts (an order that does not depend on the store)."""
    prices = sorted(prices, key=lambda p: p["id"])
    series = daily_series((p["commodity"], p["market"], market_date(_time(p["date"])), p["value"]) for p in prices)
    best = None
    for (commodity, market), days in series.items():
        c = price_change(days, 1, tolerance=None)
        if c is not None and (best is None or abs(c.pct) > abs(best[0])):
            best = (c.pct, commodity, market, c.value)
    sources = {p["source"] for p in prices}
    if best is None:
        return _tile("price_change", None, None, sources)
    change, commodity, market, value = best
    level = "high" if abs(change) >= 5 else "medium" if abs(change) >= 2 else "normal"
    detail = msg("wall.tile.price_change.detail", commodity=commodity.replace("_", " "), market=market,
                 price=f"{value:,.0f}".replace(",", "."))
    return _tile("price_change", f"{change:+.1f}%", detail, sources, level, score=abs(change))


QUAKE_CATEGORIES = ("earthquake", "tsunami")


def latest_quake(incidents: list[dict]) -> dict:
    quakes = [r for r in incidents if r["category"] in QUAKE_CATEGORIES]
    latest = max(quakes, key=lambda r: (_time(r["reported_at"]), r["id"]), default=None)
    return quake_tile(latest, {r["source"] for r in quakes})


def quake_tile(q: dict | None, sources: Iterable[str]) -> dict:
    """`q`: the latest quake record (None: no quake)."""
    if q is None:
        return _tile("latest_quake", None, None, ())
    mag = q.get("details", {}).get("magnitude")
    when = _time(q["reported_at"]).astimezone(WITA).strftime("%d/%m %H:%M")
    region = (q.get("details", {}).get("region") or q.get("title") or "")[:70]
    level = "critical" if q["category"] == "tsunami" else q["severity"]
    detail = msg("wall.tile.latest_quake.detail", when=when, region=region)
    return _tile("latest_quake", f"M{mag:g}" if mag is not None else "-", detail, sources, level,
                 score=q["reported_at"])


# The wall's tiles, in the order the wall shows them (its one owner).
TILE_ORDER = ("open_incidents", "calls_hour", "gauges_alert", "complaints_overdue", "price_change", "latest_quake")


def wall_tiles(records: Iterable[dict], now: datetime, kcfg=None) -> list[dict]:
    by_kind: dict[str, list[dict]] = {"incident": [], "reading": [], "price": [], "position": []}
    for rec in records:
        by_kind.setdefault(rec["kind"], []).append(rec)
    inc = by_kind["incident"]
    return [open_by_severity(inc), calls_last_hour(inc, now), gauges_alert(by_kind["reading"]),
            complaints_overdue(inc, now, kcfg), price_change_today(by_kind["price"]), latest_quake(inc)]


def source_headline(records: list[dict]) -> dict | None:
    """The one number worth watching of a source, for its chip on the wall:
    open incidents, cameras online, gauges at alert, vehicles or boats tracked."""
    incidents = [r for r in records if r["kind"] == "incident"]
    readings = [r for r in records if r["kind"] == "reading"]
    positions = [r for r in records if r["kind"] == "position"]
    if incidents:
        open_ = [r for r in incidents if r["status"] in OPEN_STATUSES]
        return open_headline(Counter(r["severity"] for r in open_))
    cameras = [r for r in readings if r["quantity"] == "camera_online"]
    if cameras:
        return cameras_headline(sum(1 for r in cameras if r["value"] >= 1), len(cameras))
    gauges = [r for r in readings if r["quantity"] == "water_level"]
    if gauges:
        alert = sum(1 for r in gauges if (r.get("alert_level") or 0) >= 1)
        worst = max((r.get("alert_level") or 0 for r in gauges), default=0)
        return gauges_headline(alert, len({r["station"] for r in gauges}), worst)
    if positions:
        boats = [r for r in positions if r.get("vehicle_type") == "boat"]
        fishing = sum(1 for r in boats if r.get("details", {}).get("engaged_in_fishing"))
        return positions_headline(len(boats), fishing, len(positions))
    if readings:
        return stations_headline(len({r["station"] for r in readings}))
    return None


def open_headline(open_by_severity: Mapping[str, int]) -> dict:
    n_open = sum(open_by_severity.values())
    worst = max((Severity[s] for s, n in open_by_severity.items() if n), default=Severity.info)
    return {"value": str(n_open), "label": msg("wall.headline.open"), "level": worst.name if n_open else "normal"}


def cameras_headline(online: int, cameras: int) -> dict:
    return {"value": f"{online}/{cameras}", "label": msg("wall.headline.online"),
            "level": "normal" if online == cameras else "medium"}


def gauges_headline(alert: int, stations: int, worst: int) -> dict:
    return {"value": f"{alert}/{stations}", "label": msg("wall.headline.siaga"),
            "level": ["normal", "medium", "high", "critical", "critical"][worst]}


def positions_headline(boats: int, fishing: int, positions: int) -> dict:
    if boats:
        return {"value": str(boats), "label": msg("wall.headline.boats", fishing=fishing), "level": "normal"}
    return {"value": str(positions), "label": msg("wall.headline.vehicles"), "level": "normal"}


def stations_headline(stations: int) -> dict:
    return {"value": str(stations), "label": msg("wall.headline.stations"), "level": "normal"}


_LEVELS = ["normal", "info", "low", "medium", "high", "critical"]


def merge_tiles(per_source: list[list[dict]]) -> list[dict]:
    """Combine tiles computed per source into the wall's tiles: counts add up, the
    largest change, latest quake and worst level win, source lists join."""
    merged: dict[str, dict] = {}
    for tiles in per_source:
        for tile in tiles:
            key = tile["key"]
            if key not in merged:
                merged[key] = {**tile, "parts": [dict(p) for p in tile["parts"]]}
                continue
            m = merged[key]
            m["sources"] = sorted(set(m["sources"]) | set(tile["sources"]))
            if key in ("open_incidents", "calls_hour", "complaints_overdue", "gauges_alert"):
                m["level"] = max(m["level"], tile["level"], key=_LEVELS.index)
            if key in ("open_incidents", "calls_hour", "complaints_overdue"):
                m["value"] = (m["value"] or 0) + (tile["value"] or 0)
                if key == "open_incidents":
                    for mp, tp in zip(m["parts"], tile["parts"]):
                        mp["value"] += tp["value"]
                elif tile["detail"]:
                    m["detail"] = _add_n(m["detail"], tile["detail"])
            elif key == "gauges_alert":
                m["value"] = (m["value"] or 0) + (tile["value"] or 0)
                m["parts"] = sorted(m["parts"] + tile["parts"], key=lambda p: -p["rank"])[:3]
                if tile["detail"] and (not m["detail"] or (tile["score"] or 0) > (m["score"] or 0)):  # the worst level
                    m["detail"], m["score"] = tile["detail"], tile["score"]
            elif tile["score"] is not None and (m["score"] is None or tile["score"] > m["score"]):
                merged[key] = {**tile, "sources": m["sources"]}
    return [merged[k] for k in TILE_ORDER if k in merged]


def _add_n(merged: dict | None, detail: dict) -> dict:
    return {**detail, "n": detail["n"] + (merged["n"] if merged else 0)}


# ---- incident list ---------------------------------------------------------------------

def incident_row(rec: dict, language: str = "id", now: datetime | None = None) -> dict:
    reported = _time(rec["reported_at"]).astimezone(WITA)
    today = (now or datetime.now(WITA)).astimezone(WITA).date()
    return {
        "uid": f"{rec['source']}:{rec['id']}",
        "time": reported.strftime("%H:%M" if reported.date() == today else "%d/%m"),
        "ts": reported.timestamp(),
        "category": category_label(rec["category"], language),
        "cat": rec["category"],  # the code, for a scene that lists only some categories
        "severity": rec["severity"],
        "rank": int(Severity[rec["severity"]]),
        "desa": rec.get("desa") or "",
        "outside": rec.get("in_city") is False,  # no desa: the screen says "outside the city" or "unknown"
        "status": rec["status"],
        "title": rec.get("title") or "",
        "source": rec["source"],
    }


def incident_rows(records: Iterable[dict], limit: int, language: str = "id") -> list[dict]:
    """The newest incidents first; of two at the same time, the larger id first (as a sorted index keeps them)."""
    incidents = [r for r in records if r["kind"] == "incident"]
    incidents.sort(key=lambda r: (_time(r["reported_at"]), r["id"]), reverse=True)
    return [incident_row(r, language) for r in incidents[:limit]]
