"""The open data's endpoints: their query parameters, one definition each, read by the handlers
(to parse and refuse) and by the OpenAPI document (to describe), so the two cannot drift apart;
and the columns and defaults of what they answer.

A bad value is a `BadParameter` (the API answers 400 with a JSON error), never an
exception the server does not expect.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable

from engine.public import WARNING_DOMAINS, PublicConfig, desa_places, kecamatan_names, known_area
from engine.records import STATUSES, WITA
from engine.taxonomy import CATEGORIES

AREA_PATTERN = r"^51\.71\.\d{2}(\.\d{4})?$"
COMMODITY_PATTERN = r"^[a-z0-9_]{1,80}$"
MARKET_MAX = 120
EARLIEST = datetime(2000, 1, 1, tzinfo=WITA)
LATEST = datetime(2100, 1, 1, tzinfo=WITA)


class BadParameter(ValueError):
    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    schema: dict
    parse: Callable[[str], Any]
    example: str | None = None


def _time(name: str) -> Callable[[str], datetime]:
    def parse(text: str) -> datetime:
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                d = date.fromisoformat(text)
                value = datetime(d.year, d.month, d.day, tzinfo=WITA)
            elif re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?", text):
                value = datetime.fromisoformat(text.replace("Z", "+00:00"))
            else:
                raise ValueError
        except ValueError:
            raise BadParameter(name, "not an ISO 8601 date (2026-12-01) or date-time (2026-12-01T08:00, "
                                     "2026-12-01T00:00:00Z); a time without a zone is WITA") from None
        value = value if value.tzinfo else value.replace(tzinfo=WITA)
        if not EARLIEST <= value <= LATEST:
            raise BadParameter(name, "must lie between 2000-01-01 and 2100-01-01")
        return value
    return parse


def _choice(name: str, values: list[str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in values:
            raise BadParameter(name, f"must be one of: {', '.join(values)}")
        return text
    return parse


def _pattern(name: str, pattern: str, message: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not re.fullmatch(pattern, text):
            raise BadParameter(name, message)
        return text
    return parse


def _area(text: str) -> str:
    if not re.fullmatch(AREA_PATTERN, text):
        raise BadParameter("area", "must be a kecamatan code (51.71.01) or a desa/kelurahan code (51.71.01.1004)")
    if not known_area(text):
        raise BadParameter("area", f"{text} is no kecamatan or desa/kelurahan of Kota Denpasar")
    return text


def _market(text: str) -> str:
    if not text.strip() or len(text) > MARKET_MAX or any(ord(c) < 32 for c in text):
        raise BadParameter("market", f"must be a market name of 1 to {MARKET_MAX} printable characters")
    return text.strip()


def _limit(maximum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not re.fullmatch(r"\d{1,7}", text) or not 1 <= int(text) <= maximum:
            raise BadParameter("limit", f"must be a whole number from 1 to {maximum}")
        return int(text)
    return parse


def _time_param(name: str, what: str) -> Param:
    return Param(name, f"{what} (ISO 8601 date or date-time; without a zone it is WITA, UTC+8). ",
                 {"type": "string", "maxLength": 40,
                  "pattern": r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$"},
                 _time(name), "2026-12-01")


INCIDENT_STATUSES = ["open", *STATUSES]


def incident_params(public_domains: list[str], max_rows: int) -> list[Param]:
    return [
        _time_param("since", "Reported at or after this time. Default: `until` minus 7 days"),
        _time_param("until", "Reported before this time. Default: now"),
        Param("kind", "What kind of incident: its domain.", {"type": "string", "enum": public_domains},
              _choice("kind", public_domains), public_domains[0]),
        Param("category", "The incident category (canonical taxonomy).", {"type": "string", "enum": sorted(CATEGORIES)},
              _choice("category", sorted(CATEGORIES)), "waste"),
        Param("status", "`open` (new, acknowledged, dispatched, in progress) or one status.",
              {"type": "string", "enum": INCIDENT_STATUSES}, _choice("status", INCIDENT_STATUSES), "open"),
        area_param(),
        limit_param(max_rows),
    ]


WARNING_KINDS = ["disaster", "weather", "flood"]  # a CAP flood alert is a warning in the flood domain


def warning_params() -> list[Param]:
    return [
        _time_param("since", "First issued at or after this time. Default: no bound"),
        _time_param("until", "First issued before this time. Default: no bound"),
        Param("kind", "What kind of warning: its domain.", {"type": "string", "enum": WARNING_KINDS},
              _choice("kind", WARNING_KINDS), "disaster"),
        Param("category", "The warning category (canonical taxonomy).", {"type": "string", "enum": sorted(CATEGORIES)},
              _choice("category", sorted(CATEGORIES)), "earthquake"),
        area_param(),
    ]


def price_params(max_rows: int) -> list[Param]:
    return [
        _time_param("since", "Market day on or after this date. Default: `until` minus 30 days"),
        _time_param("until", "Market day before this date. Default: now"),
        Param("kind", "What kind of record: only `price` is published here.", {"type": "string", "enum": ["price"]},
              _choice("kind", ["price"]), "price"),
        Param("category", "The commodity (canonical name, e.g. beras_medium, cabai_rawit_merah).",
              {"type": "string", "pattern": COMMODITY_PATTERN, "maxLength": 80},
              _pattern("category", COMMODITY_PATTERN, "must be a commodity name: a-z, 0-9 and _, at most 80"),
              "beras_medium"),
        Param("market", "The market's name, exactly as published.", {"type": "string", "minLength": 1, "maxLength": MARKET_MAX},
              _market, "Pasar Badung"),
        area_param(),
        limit_param(max_rows),
    ]


def area_param() -> Param:
    return Param("area", "A kecamatan code (51.71.kk) or a desa/kelurahan code (51.71.kk.dddd) of Kota Denpasar.",
                 {"type": "string", "enum": area_codes()}, _area, "51.71.01")


def area_codes() -> list[str]:
    return sorted([*kecamatan_names(), *desa_places()])


def limit_param(max_rows: int) -> Param:
    return Param("limit", f"At most this many rows, newest first (1 to {max_rows}; default 1000).",
                 {"type": "integer", "minimum": 1, "maximum": max_rows}, _limit(max_rows), "100")


@dataclass
class Query:
    values: dict = field(default_factory=dict)

    def get(self, name: str, default=None):
        return self.values.get(name, default)


def parse_query(args, params: list[Param]) -> Query:
    """The request's query arguments (a werkzeug MultiDict) parsed by `params`; BadParameter for
    an unknown or repeated name or a bad value."""
    known = {p.name: p for p in params}
    values = {}
    for name in args.keys():
        if name not in known:
            shown = name if len(name) <= 40 and name.isprintable() else name[:40].encode("unicode_escape").decode()
            raise BadParameter(shown, f"unknown parameter; this endpoint takes: {', '.join(known)}")
        given = args.getlist(name)
        if len(given) > 1:
            raise BadParameter(name, "given more than once")
        values[name] = known[name].parse(given[0])
    return Query(values)


def time_range(query: Query, now: datetime, default_days: int | None, max_days: int) -> tuple[datetime | None, datetime | None]:
    """[since, until) with defaults filled; BadParameter when empty or longer than `max_days`."""
    until = query.get("until")
    since = query.get("since")
    if default_days is not None:
        until = until or now
        since = since or until - timedelta(days=default_days)
    if since and until:
        if since >= until:
            raise BadParameter("since", "must be earlier than until")
        if until - since > timedelta(days=max_days):
            raise BadParameter("since", f"the range since..until may span at most {max_days} days")
    return since, until


# ---- the endpoints ------------------------------------------------------------------------

INCIDENT_COLUMNS = ("id", "reported_at", "updated_at", "source", "domain", "category", "category_label", "severity",
                    "status", "open", "kecamatan_code", "kecamatan", "desa_code", "desa", "lat", "lon")
PRICE_COLUMNS = ("date", "commodity", "market", "unit", "value", "source", "kecamatan_code", "kecamatan", "desa_code",
                 "desa", "lat", "lon")
DEFAULT_LIMIT = 1000
# days back from `until` when `since` is not given; None: no bound
DEFAULT_DAYS = {"incidents.geojson": 7, "incidents.csv": 7, "warnings.cap.xml": None, "prices.csv": 30}


def public_kinds(cfg: PublicConfig) -> list[str]:
    """The incident domains the open data publishes: the configured ones and the warnings'."""
    return list(dict.fromkeys([*cfg.domains, *WARNING_DOMAINS]))


def endpoint_params(name: str, cfg: PublicConfig) -> list[Param]:
    if name.startswith("incidents."):
        return incident_params(public_kinds(cfg), cfg.max_rows)
    if name == "warnings.cap.xml":
        return warning_params()
    return price_params(cfg.max_rows)
