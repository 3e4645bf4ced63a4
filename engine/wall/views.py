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
from typing import Iterable

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

def _point_properties(rec: dict, language: str) -> dict:
    kind = rec["kind"]
    props = {"uid": f"{rec['source']}:{rec['id']}", "kind": kind, "source": rec["source"],
             "desa": rec.get("desa") or "", "time": event_time(rec).astimezone(WITA).strftime("%d/%m %H:%M")}
    if kind == "incident":
        props.update(sev=rec["severity"], rank=int(Severity[rec["severity"]]), status=rec["status"],
                     open=rec["status"] in OPEN_STATUSES, cat=category_label(rec["category"], language),
                     title=rec.get("title") or "")
    elif kind == "reading":
        level = int(rec.get("alert_level") or 0)
        props.update(rank=level, alert=level, title=rec.get("station_name") or rec["station"],
                     value=f"{rec['value']:g} {rec.get('unit') or ''}".strip(), cat=rec["quantity"])
        if rec["quantity"] == "water_level":
            props["siaga"] = min(level, 3)  # the browser shows its catalog's word for the level
    elif kind == "position":
        props.update(rank=0, title=rec.get("name") or rec["vehicle"], vtype=rec.get("vehicle_type", "vehicle"), value="")
        if rec.get("speed_kmh") is not None:
            props["speed"] = round(rec["speed_kmh"])
    return props


def layer_geojson(records: Iterable[dict], language: str = "id") -> tuple[dict, dict]:
    """(points, shapes) FeatureCollections of one source's live records, in uid order
    so that two versions of a layer can be diffed (see `layer_patch`)."""
    points, shapes = [], []
    for rec in sorted(records, key=lambda r: r["id"]):  # == uid order within one source
        if rec.get("lat") is None or rec["kind"] == "price":
            continue
        props = _point_properties(rec, language)
        points.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [rec["lon"], rec["lat"]]}, "properties": props})
        if rec.get("geometry") and rec["geometry"].get("type") != "Point":
            shapes.append({"type": "Feature", "geometry": rec["geometry"], "properties": props})
    return {"type": "FeatureCollection", "features": points}, {"type": "FeatureCollection", "features": shapes}


# ---- KPI tiles ---------------------------------------------------------------------------

def _tile(key: str, value, detail: dict | None = None, sources: Iterable[str] = (), level: str = "normal", parts=None, score=None) -> dict:
    """`score` is what merging picks by, where a tile is not a sum (largest change, latest quake, worst level)."""
    return {"key": key, "value": value, "detail": detail, "sources": sorted(set(sources)), "level": level,
            "parts": parts or [], "score": score}


def open_by_severity(incidents: list[dict]) -> dict:
    counts = Counter(r["severity"] for r in incidents if r["status"] in OPEN_STATUSES and r.get("in_city") is not False)
    parts = [{"label": msg(f"severity.{s}"), "value": counts.get(s, 0), "cls": f"sev-{s}"}
             for s in reversed(SEVERITIES) if s != "info"]
    level = "critical" if counts.get("critical") else "high" if counts.get("high") else "normal"
    srcs = {r["source"] for r in incidents if r["domain"] not in ("disaster", "weather")}
    return _tile("open_incidents", sum(counts.values()), None, srcs, level, parts)


def calls_last_hour(incidents: list[dict], now: datetime) -> dict:
    calls = [r for r in incidents if r["domain"] == "emergency"]
    since = now - timedelta(hours=1)
    recent = [r for r in calls if _time(r["reported_at"]) >= since]
    emergencies = sum(1 for r in recent if r["category"] not in ("non_emergency", "hoax"))
    detail = msg("wall.tile.calls_hour.detail", n=emergencies) if calls else None
    return _tile("calls_hour", len(recent), detail, {r["source"] for r in calls})


def gauges_alert(readings: list[dict]) -> dict:
    gauges = [r for r in readings if r["quantity"] == "water_level"]
    alert = [r for r in gauges if (r.get("alert_level") or 0) >= 1]
    worst = max((r.get("alert_level") or 0 for r in gauges), default=0)
    level = {0: "normal", 1: "medium", 2: "high", 3: "critical", 4: "critical"}[worst]
    detail = msg("wall.tile.gauges_alert.detail", level=siaga(worst)) if gauges else None
    return _tile("gauges_alert", len(alert), detail, {r["source"] for r in gauges}, level,
                 [{"label": r.get("station_name") or r["station"], "value": siaga(r.get("alert_level") or 0), "rank": r.get("alert_level") or 0}
                  for r in sorted(alert, key=lambda r: -(r.get("alert_level") or 0))[:3]], score=worst)


def complaints_overdue(incidents: list[dict], now: datetime, kcfg=None) -> dict:
    """Open complaints past their resolution deadline: the source's own, else the SP4N-LAPOR!
    working days of the `kpi` block (`kcfg`), as /kpi and the overdue alarm count them."""
    complaints = [with_complaint_deadlines(r, kcfg) for r in incidents if r["domain"] == "complaint"]
    open_ = [r for r in complaints if r["status"] in OPEN_STATUSES]
    overdue = [r for r in open_ if (due := r.get("details", {}).get("resolution_due")) and _time(due) < now]
    detail = msg("wall.tile.complaints_overdue.detail", n=len(open_)) if complaints else None
    return _tile("complaints_overdue", len(overdue), detail, {r["source"] for r in complaints},
                 "high" if overdue else "normal")


def price_change_today(prices: list[dict]) -> dict:
    """The largest change of one commodity at one market, its latest price against the previous reported day."""
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


def latest_quake(incidents: list[dict]) -> dict:
    quakes = [r for r in incidents if r["category"] in ("earthquake", "tsunami")]
    if not quakes:
        return _tile("latest_quake", None, None, ())
    q = max(quakes, key=lambda r: r["reported_at"])
    mag = q.get("details", {}).get("magnitude")
    when = _time(q["reported_at"]).astimezone(WITA).strftime("%d/%m %H:%M")
    region = (q.get("details", {}).get("region") or q.get("title") or "")[:70]
    level = "critical" if q["category"] == "tsunami" else q["severity"]
    detail = msg("wall.tile.latest_quake.detail", when=when, region=region)
    return _tile("latest_quake", f"M{mag:g}" if mag is not None else "-", detail, {r["source"] for r in quakes}, level,
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
        worst = max((Severity[r["severity"]] for r in open_), default=Severity.info)
        return {"value": str(len(open_)), "label": msg("wall.headline.open"),
                "level": worst.name if open_ else "normal"}
    cameras = [r for r in readings if r["quantity"] == "camera_online"]
    if cameras:
        online = sum(1 for r in cameras if r["value"] >= 1)
        return {"value": f"{online}/{len(cameras)}", "label": msg("wall.headline.online"),
                "level": "normal" if online == len(cameras) else "medium"}
    gauges = [r for r in readings if r["quantity"] == "water_level"]
    if gauges:
        alert = sum(1 for r in gauges if (r.get("alert_level") or 0) >= 1)
        worst = max((r.get("alert_level") or 0 for r in gauges), default=0)
        return {"value": f"{alert}/{len({r['station'] for r in gauges})}", "label": msg("wall.headline.siaga"),
                "level": ["normal", "medium", "high", "critical", "critical"][worst]}
    if positions:
        boats = [r for r in positions if r.get("vehicle_type") == "boat"]
        fishing = sum(1 for r in boats if r.get("details", {}).get("engaged_in_fishing"))
        if boats:
            return {"value": str(len(boats)), "label": msg("wall.headline.boats", fishing=fishing), "level": "normal"}
        return {"value": str(len(positions)), "label": msg("wall.headline.vehicles"), "level": "normal"}
    if readings:
        return {"value": str(len({r['station'] for r in readings})), "label": msg("wall.headline.stations"), "level": "normal"}
    return None


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

def replace_features(collection: dict, uids: set[str], features: list[dict]) -> dict:
    """`collection` with the features of `uids` replaced by `features` (uid order kept)."""
    kept = [f for f in collection["features"] if f["properties"]["uid"] not in uids]
    merged = sorted(kept + features, key=lambda f: f["properties"]["uid"])
    return {"type": "FeatureCollection", "features": merged}


def features_diff(old: list[dict], new: list[dict]) -> list[tuple] | None:
    """Edit operations turning `old` into `new` (both in uid order): ('del', i),
    ('ins', j, feature) and ('set', j, feature), to apply in that order. None when
    a full resend is cheaper."""
    old_index = {f["properties"]["uid"]: i for i, f in enumerate(old)}
    new_uids = {f["properties"]["uid"] for f in new}
    ops: list[tuple] = [("del", i) for uid, i in sorted(old_index.items(), key=lambda kv: -kv[1]) if uid not in new_uids]
    for j, feature in enumerate(new):
        i = old_index.get(feature["properties"]["uid"])
        if i is None:
            ops.append(("ins", j, feature))
        elif old[i] != feature:
            ops.append(("set", j, feature))
    return None if len(ops) > max(20, len(new) // 4) else ops


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
    incidents = [r for r in records if r["kind"] == "incident"]
    incidents.sort(key=lambda r: r["reported_at"], reverse=True)
    return [incident_row(r, language) for r in incidents[:limit]]
