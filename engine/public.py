"""What the public may see: the one owner of the public projection.

Every public view (the /publik page, the open data under /api/v1) turns canonical
records into public records here, and nowhere else:
- no personal data: no `details` at all (callers' numbers, addresses, names live
  there), no free-text title of an incident (a 112 or complaint title may carry a
  name, a number or an address; the category label stands in for it), no source
  record id (a public id is a hash of it);
- every location rounded to its desa: the desa's code and name and one fixed point
  inside it (its representative point), never the record's own coordinates; a
  record outside the city or without a place has no location at all;
- only the domains and sources `public:` in config.yaml names.
Warnings (CAP alerts, BMKG quakes) are public by nature; their issuer's texts are
kept but any run of six or more digits is masked, as in reject excerpts.
"""
from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Iterable

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from engine.geo import boundaries
from engine.prices import change as price_change
from engine.prices import market_date
from engine.privacy import mask_digits
from engine.records import OPEN_STATUSES, Severity
from engine.taxonomy import DOMAINS, category_label

WARNING_DOMAINS = ("disaster", "weather")
SIAGA = {0: "Normal", 1: "Siaga III", 2: "Siaga II", 3: "Siaga I", 4: "Siaga I"}


class PublicConfig(BaseModel):
    """The `public:` block of config.yaml."""

    model_config = ConfigDict(extra="forbid")

    domains: list[str] = Field(default=["complaint", "flood", "disaster", "weather"],
                               description="incident domains published (engine.taxonomy.DOMAINS); 112 calls are not")
    sources: list[str] | None = Field(default=None, description="None: every source; else only these sources")
    cache_seconds: int = Field(default=60, ge=5, le=3600, description="public data is computed at most this often")
    refresh_seconds: int = Field(default=120, ge=60, le=3600, description="how often an open /publik refreshes")
    max_days: int = Field(default=366, ge=1, le=3660, description="longest since..until range of the open data")
    max_rows: int = Field(default=10_000, ge=10, le=100_000, description="largest `limit` of the open data")
    cap_sender: str = Field(default="damamaya@denpasarkota.go.id", min_length=1, max_length=200,
                            pattern=r"^[^\s,<&]+$", description="CAP <sender> of the warnings feed")

    @field_validator("domains")
    @classmethod
    def _known_domains(cls, value: list[str]) -> list[str]:
        unknown = [d for d in value if d not in DOMAINS]
        if unknown:
            raise ValueError(f"unknown domain {unknown[0]!r}; domains are: {', '.join(DOMAINS)}")
        return value

    # the key of the public ids (public_id): a server secret, set by the web side (`keyed`), never in the file
    _id_key: bytes = PrivateAttr(default=b"")

    def source_allowed(self, source: str) -> bool:
        return self.sources is None or source in self.sources

    def keyed(self, key: bytes) -> "PublicConfig":
        """This configuration with the key public ids are made with."""
        out = self.model_copy()
        out._id_key = key
        return out


# ---- places ----------------------------------------------------------------------------

@dataclass(frozen=True)
class PublicPlace:
    kecamatan_code: str
    kecamatan: str
    desa_code: str
    desa: str
    lat: float
    lon: float


@cache
def desa_places() -> dict[str, PublicPlace]:
    """desa code -> its public place: names and a fixed point inside its polygon (5 decimals, about 1 m)."""
    b = boundaries()
    out = {}
    for place, shape in zip(b.places, b.shapes):
        point = shape.representative_point()
        out[place.desa_code] = PublicPlace(place.kecamatan_code, place.kecamatan, place.desa_code, place.desa,
                                           round(point.y, 5), round(point.x, 5))
    return out


def kecamatan_names() -> dict[str, str]:
    return boundaries().kecamatan_names()


def public_place(rec: dict) -> PublicPlace | None:
    """The desa a record lies in, or None (outside the city, no location, or an unknown code)."""
    if rec.get("in_city") is False:
        return None
    return desa_places().get(rec.get("desa_code") or "")


def _place_fields(place: PublicPlace | None) -> dict:
    if place is None:
        return {"kecamatan_code": None, "kecamatan": None, "desa_code": None, "desa": None, "lat": None, "lon": None}
    return {"kecamatan_code": place.kecamatan_code, "kecamatan": place.kecamatan, "desa_code": place.desa_code,
            "desa": place.desa, "lat": place.lat, "lon": place.lon}


def area_matches(place: PublicPlace | None, area: str | None) -> bool:
    """`area` is a kecamatan code (51.71.kk) or a desa code (51.71.kk.dddd); None matches everything."""
    if area is None:
        return True
    if place is None:
        return False
    return place.desa_code == area or place.kecamatan_code == area


def known_area(area: str) -> bool:
    return area in desa_places() or area in kecamatan_names()


# ---- records -----------------------------------------------------------------------------

def public_id(rec: dict, key: bytes) -> str:
    """A stable id that does not show the source's own record id, keyed with a server secret:
    whoever knows or guesses a source's ids (ticket numbers) cannot find their public records."""
    return hashlib.blake2b(f"{rec['source']}:{rec['id']}".encode(), digest_size=8, key=key[:64]).hexdigest()


def is_warning(rec: dict) -> bool:
    return rec.get("kind") == "incident" and (rec.get("domain") in WARNING_DOMAINS
                                              or bool((rec.get("details") or {}).get("cap_identifier")))


def incident_is_public(rec: dict, cfg: PublicConfig) -> bool:
    return (rec.get("kind") == "incident" and cfg.source_allowed(rec.get("source", ""))
            and (rec.get("domain") in cfg.domains or is_warning(rec)))


def public_incident(rec: dict, cfg: PublicConfig, language: str = "id") -> dict | None:
    """The public form of an incident, None when it is not public."""
    if not incident_is_public(rec, cfg):
        return None
    category = rec["category"]
    return {
        "id": public_id(rec, cfg._id_key), "source": rec["source"], "domain": rec.get("domain") or "other",
        "category": category, "category_label": category_label(category, language),
        "severity": rec.get("severity") or "medium", "status": rec.get("status") or "new",
        "open": rec.get("status") in OPEN_STATUSES,
        "reported_at": rec["reported_at"], "updated_at": rec.get("updated_at") or rec["reported_at"],
        **_place_fields(public_place(rec)),
    }


def _public_text(value, limit: int = 2000) -> str:
    return mask_digits(str(value))[:limit] if value else ""


def public_warning(rec: dict, cfg: PublicConfig, language: str = "id") -> dict | None:
    """A warning's public form: the incident's fields plus the issuer's texts, digit runs masked."""
    if not is_warning(rec):
        return None
    base = public_incident(rec, cfg, language)
    if base is None:
        return None
    details = rec.get("details") or {}
    areas = details.get("areas") if isinstance(details.get("areas"), list) else []
    area_text = ", ".join(str(a) for a in areas[:20]) or details.get("region") or ""
    return {
        **base,
        "headline": _public_text(rec.get("title"), 500) or category_label(rec["category"], language),
        "event": _public_text(details.get("event"), 200),
        "description": _public_text(details.get("description")),
        "instruction": _public_text(details.get("instruction")),
        "area": _public_text(area_text, 500),
        "sender_name": _public_text(details.get("sender_name"), 200),
        "urgency": details.get("urgency") if details.get("urgency") in CAP_URGENCY else None,
        "certainty": details.get("certainty") if details.get("certainty") in CAP_CERTAINTY else None,
        "expires_at": rec.get("expires_at"),
        "magnitude": details.get("magnitude") if isinstance(details.get("magnitude"), (int, float)) else None,
    }


CAP_URGENCY = ("Immediate", "Expected", "Future", "Past", "Unknown")
CAP_CERTAINTY = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")


def warning_is_active(rec: dict, now: datetime) -> bool:
    if rec.get("status") not in OPEN_STATUSES:
        return False
    expires = rec.get("expires_at")
    return not expires or _time(expires) > now


def public_price(rec: dict, cfg: PublicConfig) -> dict | None:
    if rec.get("kind") != "price" or not cfg.source_allowed(rec.get("source", "")):
        return None
    return {
        "source": rec["source"], "commodity": rec["commodity"], "market": rec["market"], "unit": rec.get("unit") or "kg",
        "value": rec["value"], "date": market_date(_time(rec["date"])).isoformat(), **_place_fields(public_place(rec)),
    }


def public_gauge(rec: dict, cfg: PublicConfig) -> dict | None:
    if rec.get("kind") != "reading" or rec.get("quantity") != "water_level" or not cfg.source_allowed(rec.get("source", "")):
        return None
    level = int(rec.get("alert_level") or 0)
    return {
        "source": rec["source"], "station": rec["station"], "station_name": rec.get("station_name") or rec["station"],
        "value": rec["value"], "unit": rec.get("unit") or "", "alert_level": level, "siaga": SIAGA.get(level, ""),
        "observed_at": rec["observed_at"], **_place_fields(public_place(rec)),
    }


def _time(value) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


# ---- the /publik summary ---------------------------------------------------------------------

def commodity_label(commodity: str) -> str:
    return commodity.replace("_", " ").capitalize()


def price_changes(prices: Iterable[dict]) -> list[dict]:
    """Per commodity: the latest city price (the mean over markets of its day) and its change
    against the previous reported day, a week and a month before, by engine.prices' gap rule."""
    by_day: dict[tuple[str, str], dict[date, list[float]]] = defaultdict(lambda: defaultdict(list))
    for p in prices:
        by_day[(p["commodity"], p["unit"])][date.fromisoformat(p["date"])].append(p["value"])
    out = []
    for (commodity, unit), days in sorted(by_day.items()):
        series = {d: sum(v) / len(v) for d, v in days.items()}
        last = max(series)
        changes = {name: price_change(series, n, tolerance=None if n == 1 else 3)
                   for name, n in (("day", 1), ("week", 7), ("month", 30))}
        out.append({"commodity": commodity, "label": commodity_label(commodity), "unit": unit, "day": last.isoformat(),
                    "value": round(series[last]), "markets": len(days[last]),
                    **{f"change_{k}_pct": (round(c.pct, 1) if c else None) for k, c in changes.items()}})
    return out


def summary(records: Iterable[dict], now: datetime, cfg: PublicConfig, language: str = "id") -> dict:
    """Everything /publik shows, from the live records: public records only, every place a desa."""
    complaints: dict[str, Counter] = defaultdict(Counter)
    floods: dict[str, Counter] = defaultdict(Counter)
    places: dict[str, dict] = {}
    warnings, prices, gauges = [], [], {}
    for rec in records:
        kind = rec.get("kind")
        if kind == "incident":
            warning = public_warning(rec, cfg, language)
            if warning is not None:
                if warning_is_active(rec, now):
                    warnings.append(warning)
                continue
            pub = public_incident(rec, cfg, language)
            if pub is None or not pub["open"] or pub["desa_code"] is None:
                continue
            places[pub["desa_code"]] = {k: pub[k] for k in ("desa_code", "desa", "kecamatan_code", "kecamatan")}
            if pub["domain"] == "complaint":
                complaints[pub["desa_code"]][pub["status"]] += 1
            elif pub["domain"] == "flood":
                floods[pub["desa_code"]][pub["severity"]] += 1
        elif kind == "price":
            if (p := public_price(rec, cfg)) is not None:
                prices.append(p)
        elif kind == "reading":
            g = public_gauge(rec, cfg)
            key = (g or {}).get("station")
            if g is not None and (key not in gauges or g["observed_at"] > gauges[key]["observed_at"]):
                gauges[key] = g
    return {
        "as_of": now.isoformat().replace("+00:00", "Z"),
        "complaints": _by_desa(complaints, places, "statuses"),
        "floods": [{**row, "worst": max(row["severities"], key=lambda s: Severity[s])}
                   for row in _by_desa(floods, places, "severities")],
        "gauges": sorted(gauges.values(), key=lambda g: (-g["alert_level"], g["station_name"])),
        "warnings": sorted(warnings, key=lambda w: (-Severity[w["severity"]], w["reported_at"])),
        "prices": price_changes(prices),
    }


def _by_desa(counts: dict[str, Counter], places: dict[str, dict], name: str) -> list[dict]:
    rows = [{**places[code], "total": sum(c.values()), name: dict(c)} for code, c in counts.items()]
    return sorted(rows, key=lambda r: (-r["total"], r["desa"]))

