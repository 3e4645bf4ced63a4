"""The /history filter state, and its round trip through the URL query string.

The URL is the state: a link reproduces the view. Keys left at their default are
not written, so links stay short. Times in the URL are WITA (the city's clock).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, urlencode

from engine.records import KINDS, SEVERITIES, STATUSES, WITA

PRESETS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30),
           "90d": timedelta(days=90), "1y": timedelta(days=365)}
RANGES = (*PRESETS, "all", "custom")
DEFAULT_RANGE = "30d"
PAGE_SIZE = 50
_LISTS = ("source", "category", "severity", "status", "kecamatan", "desa", "weekday", "hour")


@dataclass(frozen=True)
class HistoryFilter:
    range: str = DEFAULT_RANGE
    start: datetime | None = None  # custom range, WITA, inclusive
    end: datetime | None = None  # custom range, WITA, exclusive
    kind: str = "incident"
    source: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    severity: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    kecamatan: tuple[str, ...] = ()  # 51.71.kk
    desa: tuple[str, ...] = ()  # 51.71.kk.dddd
    weekday: tuple[int, ...] = ()  # 0 Monday .. 6 Sunday (WITA)
    hour: tuple[int, ...] = ()  # 0..23 (WITA)
    q: str = ""
    page: int = 1

    # ---- time ----------------------------------------------------------------
    def bounds(self, now: datetime, earliest: datetime | None = None) -> tuple[datetime, datetime]:
        """[start, end) in UTC-aware datetimes."""
        if self.range == "custom" and self.start and self.end:
            return self.start, self.end
        if self.range == "all":
            return (earliest or now - PRESETS["1y"]), now
        return now - PRESETS.get(self.range, PRESETS[DEFAULT_RANGE]), now

    def with_(self, **changes) -> "HistoryFilter":
        if "page" not in changes:
            changes["page"] = 1  # any change of what is shown starts again at page 1
        return replace(self, **changes)

    # ---- URL -----------------------------------------------------------------
    def to_query(self) -> str:
        pairs: list[tuple[str, str]] = []
        if self.range != DEFAULT_RANGE:
            pairs.append(("range", self.range))
        if self.range == "custom" and self.start and self.end:
            pairs += [("from", _fmt(self.start)), ("to", _fmt(self.end))]
        if self.kind != "incident":
            pairs.append(("kind", self.kind))
        for name in _LISTS:
            values = getattr(self, name)
            if values:
                pairs.append((name, ",".join(str(v) for v in values)))
        if self.q:
            pairs.append(("q", self.q))
        if self.page > 1:
            pairs.append(("page", str(self.page)))
        return "?" + urlencode(pairs) if pairs else ""

    @classmethod
    def from_query(cls, search: str | None) -> "HistoryFilter":
        """Parse a query string; anything unreadable falls back to its default, never an error."""
        raw = parse_qs((search or "").lstrip("?"), keep_blank_values=False)
        one = {k: v[-1] for k, v in raw.items()}
        values: dict = {}
        rng = one.get("range", DEFAULT_RANGE)
        values["range"] = rng if rng in RANGES else DEFAULT_RANGE
        start, end = _parse_time(one.get("from")), _parse_time(one.get("to"), end=True)
        if values["range"] == "custom":
            if start and end and start < end:
                values["start"], values["end"] = start, end
            else:
                values["range"] = DEFAULT_RANGE
        kind = one.get("kind", "incident")
        values["kind"] = kind if kind in KINDS else "incident"
        for name in _LISTS:
            items = [s.strip() for s in one.get(name, "").split(",") if s.strip()]
            values[name] = tuple(_clean(name, items))
        values["q"] = clean_text(one.get("q", ""))
        try:
            values["page"] = max(1, min(int(one.get("page", "1")), 100000))
        except ValueError:
            values["page"] = 1
        return cls(**values)


def clean_text(text: str, limit: int = 200) -> str:
    """Search text as the store can take it: no NUL or other control characters (a NUL
    breaks the full-text index's query), trimmed, bounded."""
    return "".join(ch for ch in text if ch >= " " and ch != "\x7f").strip()[:limit]


def _clean(name: str, items: list[str]) -> list:
    if name == "severity":
        return [i for i in items if i in SEVERITIES]
    if name == "status":
        return [i for i in items if i in STATUSES]
    if name in ("weekday", "hour"):
        top = 6 if name == "weekday" else 23
        return sorted({int(i) for i in items if i.isdigit() and int(i) <= top})
    return [i[:300] for i in dict.fromkeys(items)]


def _fmt(value: datetime) -> str:
    local = value.astimezone(WITA)
    return local.strftime("%Y-%m-%d") if local.hour == local.minute == 0 else local.strftime("%Y-%m-%dT%H:%M")


def _parse_time(text: str | None, end: bool = False) -> datetime | None:
    """A WITA date or date-time; a bare date is its midnight. `to` is always exclusive."""
    if not text:
        return None
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=WITA)
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=WITA)


def granularity(start: datetime, end: datetime) -> str:
    span = end - start
    if span <= timedelta(days=2):
        return "hour"
    if span <= timedelta(days=92):
        return "day"
    if span <= timedelta(days=730):
        return "week"
    return "month"
