"""Does a record meet a rule's match, and what does the alarm say: pure functions of
record dicts (as the live store holds them) and a clock."""
from __future__ import annotations

import math
import re
from datetime import datetime
from functools import cache

import shapely
from shapely.geometry import shape

from engine.alerts.config import NOW, AlertRule, Area, Condition, Match, private_path
from engine.geo import boundaries, kecamatan_code
from engine.records import OPEN_STATUSES, WITA, Severity
from engine.taxonomy import category_label

_KM_PER_DEG_LAT = 110.574
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


# ---- field paths and conditions ------------------------------------------------------------

_MISSING = object()


def lookup(rec: dict, path: str):
    """`details.magnitude` in the record; a bare name not at the top (`magnitude`) is
    looked up in `details` too. Missing gives a sentinel, never an exception."""
    value = _walk(rec, path.split("."))
    if value is _MISSING and "." not in path and isinstance(rec.get("details"), dict):
        value = _walk(rec["details"], [path])
    return value


def _walk(value, parts: list[str]):
    for part in parts:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _number(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    try:
        n = float(str(value).replace(",", "."))
        return n if math.isfinite(n) else None
    except ValueError:
        return None


def _moment(value) -> datetime | None:
    if not isinstance(value, str) or not _ISO_TIME.match(value):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=WITA)


def _same(a, b) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().casefold() == b.strip().casefold()
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None and not isinstance(a, str) and not isinstance(b, str):
        return na == nb
    return a == b


def _contains(haystack, needle) -> bool:
    if isinstance(haystack, str):
        return str(needle).casefold() in haystack.casefold()
    if isinstance(haystack, list):
        return any(_same(item, needle) or (isinstance(item, str) and _contains(item, needle)) for item in haystack)
    if isinstance(haystack, dict):
        return any(_contains(v, needle) for v in haystack.values())
    return False


def condition_holds(cond: Condition, rec: dict, now: datetime) -> bool:
    """A missing field never meets a condition (nor its negation: unknown is not "not")."""
    value = lookup(rec, cond.path)
    if value is _MISSING or value is None:
        return False
    op = cond.op
    if op in (">=", "<=", ">", "<"):
        if cond.value == NOW:
            left, right = _moment(value), now
        else:
            left, right = _number(value), float(cond.value)
        if left is None:
            return False
        return {">=": left >= right, "<=": left <= right, ">": left > right, "<": left < right}[op]
    if op == "==":
        return _same(value, cond.value)
    if op == "!=":
        return not _same(value, cond.value)
    if op in ("in", "not in"):
        items = value if isinstance(value, list) else [value]
        found = any(_same(v, c) for v in items for c in cond.value)
        return found if op == "in" else not found
    found = _contains(value, cond.value)
    return found if op == "contains" else not found


# ---- areas -----------------------------------------------------------------------------------

def _projector(lat0: float):
    """Degrees -> km on a local plane: exact enough within a few hundred km of Bali."""
    kx = _KM_PER_DEG_LAT * math.cos(math.radians(lat0))

    def project(coords):
        out = coords.copy()
        out[:, 0] = coords[:, 0] * kx
        out[:, 1] = coords[:, 1] * _KM_PER_DEG_LAT
        return out

    return project


@cache
def _city_km():
    city = boundaries().city
    return shapely.transform(city, _projector(city.centroid.y))


def _record_shape(rec: dict):
    geometry = rec.get("geometry")
    if isinstance(geometry, dict) and geometry.get("type") and geometry.get("type") != "Point":
        try:
            shp = shape(geometry)
            if not shp.is_empty:
                return shp if shp.is_valid else shp.buffer(0)
        except (ValueError, TypeError, AttributeError):
            pass
    if rec.get("lat") is not None and rec.get("lon") is not None:
        return shapely.Point(rec["lon"], rec["lat"])
    return None


def distance_to_km(rec: dict, near) -> float | None:
    """Km from the record's point or shape to Denpasar's outline (0 inside) or to a point."""
    shp = _record_shape(rec)
    if shp is None:
        return None
    city = boundaries().city
    project = _projector(city.centroid.y)
    target = _city_km() if near.of == "denpasar" else shapely.transform(shapely.Point(near.of[1], near.of[0]), project)
    return float(shapely.transform(shp, project).distance(target))


def _places(area: Area) -> tuple[set[str], set[str]]:
    """Desa codes of the area, and the lower-cased names it accepts."""
    names = {n.strip().casefold() for n in area.kecamatan + area.desa}
    codes = set()
    for p in boundaries().places:
        if p.desa_code in area.desa or p.desa.casefold() in names or p.kecamatan_code in area.kecamatan \
                or p.kecamatan.casefold() in names:
            codes.add(p.desa_code)
    return codes, names


def in_area(area: Area, rec: dict) -> bool:
    shp = _record_shape(rec)
    if area.near is not None:
        km = distance_to_km(rec, area.near)
        if km is None or km > area.near.km:
            return False
    if area.denpasar:
        if shp is None or not boundaries().city.intersects(shp):
            return False
    if area.kecamatan or area.desa:
        codes, _ = _places(area)
        code = rec.get("desa_code")
        if code:
            if code not in codes and kecamatan_code(code) not in area.kecamatan:
                return False
        elif shp is None or not any(s.intersects(shp) for p, s in zip(boundaries().places, boundaries().shapes)
                                    if p.desa_code in codes):
            return False
    return True


# ---- the match ----------------------------------------------------------------------------------

def expired(rec: dict, now: datetime) -> bool:
    until = _moment(rec.get("expires_at"))
    return until is not None and until < now


def matches(match: Match, rec: dict, now: datetime) -> bool:
    if match.stale or not match.source_matches(rec.get("source", "")):
        return False
    kind = rec.get("kind")
    if match.kind and kind != match.kind:
        return False
    if (match.domain or match.category or match.severity or match.severity_at_least) and kind != "incident":
        return False
    if match.domain and rec.get("domain") not in match.domain:
        return False
    if match.category and rec.get("category") not in match.category:
        return False
    if match.severity and rec.get("severity") not in match.severity:
        return False
    if match.min_severity is not None and int(Severity[rec.get("severity", "info")]) < match.min_severity:
        return False
    if kind == "incident":
        status = rec.get("status")
        if match.status == "open" and status not in OPEN_STATUSES:
            return False
        if isinstance(match.status, list) and status not in match.status:
            return False
        if expired(rec, now):
            return False
    if not all(condition_holds(c, rec, now) for c in match.where):
        return False
    if match.area is not None and not in_area(match.area, rec):  # after `where`: geometry costs more
        return False
    return not match.any or any(matches(m, rec, now) for m in match.any)


def why_not(rec: dict | None, now: datetime) -> str:
    """The reason written when an alarm resolves because its record no longer matches."""
    if rec is None:
        return "record left the live view"
    if rec.get("kind") == "incident":
        if rec.get("status") not in OPEN_STATUSES:
            return f"incident {rec.get('status')}"
        if expired(rec, now):
            return "incident expired"
    return "condition cleared"


# ---- messages -------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


def _shown(value, name: str, language: str) -> str:
    if value is _MISSING or value is None or value == "":
        return "-"
    if name == "category" and isinstance(value, str):
        return category_label(value, language)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(_shown(v, name, language) for v in value) or "-"
    moment = _moment(value)
    if moment is not None:
        return moment.astimezone(WITA).strftime("%d/%m %H:%M WITA")
    return str(value)


def fill(template: str, rec: dict, extra: dict | None = None, language: str = "id") -> str:
    """`{title}`, `{desa}`, `{magnitude}`, `{details.felt}` from the record; `extra`
    (source title, minutes stale) first. Whatever is missing shows as "-"."""
    extra = extra or {}

    def one(m: re.Match) -> str:
        name = m.group(1)
        value = extra[name] if name in extra else _MISSING if private_path(name) else lookup(rec, name)
        return _shown(value, name, language)

    return _PLACEHOLDER.sub(one, template)


def silent_at(rule: AlertRule, now: datetime) -> bool:
    return rule.quiet_hours is not None and rule.quiet_hours.covers(now.astimezone(WITA).time(), rule.level)
