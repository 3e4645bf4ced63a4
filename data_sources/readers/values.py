"""Values inside documents, read the same way by every adapter (total: bad values
give None, or ValueError where documented, never another exception):
- times: `parse_time` (only ValueError), `split_zone`, `zone_from_name`,
  `full_year` (the one rule for two-digit years),
  `utc_iso` / `utc_stamp` for times in details and ids;
- numbers: `parse_number` (amounts, '50.000' is fifty thousand) and
  `plain_number` (coordinates), both always finite; `finite_float`;
- `as_text` for ids that may arrive as numbers.
"""
from __future__ import annotations

import functools
import math
import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


_ID_MONTHS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "mei": 5, "may": 5, "jun": 6, "jul": 7, "agu": 8, "agt": 8,
              "aug": 8, "sep": 9, "okt": 10, "oct": 10, "nov": 11, "des": 12, "dec": 12}
# Zone labels Indonesian sources write after a time, in hours east of UTC.
ZONE_OFFSETS = {"UTC": 0, "GMT": 0, "Z": 0, "WIB": 7, "WITA": 8, "WIT": 9}
_TRAILING_ZONE = re.compile(r"^(.*?\d)\s*(WITA|WIB|WIT|UTC|GMT|Z)$", re.I)


@functools.lru_cache(maxsize=64)
def zone_from_name(name: str) -> tzinfo:
    """'WIB', 'WITA', 'WIT', 'UTC', '+07:00', 'UTC+8' or an IANA name ('Asia/Makassar') -> tzinfo; ValueError otherwise."""
    s = str(name).strip()
    if s.upper() in ZONE_OFFSETS:
        return timezone(timedelta(hours=ZONE_OFFSETS[s.upper()]), "UTC" if s.upper() == "Z" else s.upper())
    m = re.fullmatch(r"(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?", s, re.I)
    if m and int(m[2]) < 24 and int(m[3] or 0) < 60:
        delta = timedelta(hours=int(m[2]), minutes=int(m[3] or 0))
        return timezone(delta if m[1] == "+" else -delta)
    try:
        return ZoneInfo(s)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: 'America' is a folder of zones, or a name too long
        raise ValueError(f"unknown time zone {name!r}; use WIB, WITA, WIT, UTC, +07:00 or an IANA name") from None


def split_zone(text: str) -> tuple[str, tzinfo | None]:
    """'05 Okt 2021 18:00:27 WIB' or '2023-04-25T03:05:33WIB' (glued on) -> (the time, UTC+7); no label -> (text, None)."""
    m = _TRAILING_ZONE.match(text.strip())
    if not m:
        return text.strip(), None
    label = m[2].upper()
    return m[1].strip(), zone_from_name(label)


def parse_time(text: Any, default_tz: tzinfo | None = None) -> datetime:
    """An aware UTC datetime from ISO 8601, epoch seconds/milliseconds, BMKG's
    '05 Okt 2021 18:00:27 WIB' or a datetime; a trailing WIB/WITA/WIT/UTC label
    may stand apart or be glued to the time ('2023-04-25T03:05:33WIB').

    A time with no zone takes `default_tz` (the source's own zone); with neither
    it is an error, because guessing a zone silently shifts incidents by hours.
    Raises ValueError, and only ValueError, with a readable message: also for
    epochs and dates that fall outside years 1..9999 once converted to UTC.
    """
    if text is None or (isinstance(text, str) and not text.strip()):
        raise ValueError("time is missing")
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        try:
            return datetime.fromtimestamp(text / 1000 if text > 1e11 else text, timezone.utc)
        except (OSError, OverflowError, ValueError):  # also NaN, and ints too big for a float
            raise ValueError(f"epoch time {_shown(text)} is out of range") from None
    value, zone = (text, None) if isinstance(text, datetime) else _read_time(str(text))
    if value.tzinfo is None:
        tz = zone or default_tz
        if tz is None:
            raise ValueError(f"time {_shown(text)} has no zone")
        value = value.replace(tzinfo=tz)
    try:
        return value.astimezone(timezone.utc)
    except (OverflowError, OSError):  # '9999-12-31T23:59:59-01:00' is past year 9999 in UTC
        raise ValueError(f"time {_shown(text)} is out of range") from None


def _shown(text: Any) -> str:
    try:
        return repr(text.isoformat() if isinstance(text, datetime) else text)[:60]
    except ValueError:  # an int beyond Python's 4300-digit str limit
        return "(a number too long to show)"


def _read_time(text: str) -> tuple[datetime, tzinfo | None]:
    s, zone = split_zone(text)
    try:
        return datetime.fromisoformat(s), zone
    except ValueError:
        pass
    try:
        return _parse_day_month_name(s), zone
    except ValueError:
        raise ValueError(f"unreadable time {_shown(text)}") from None


_DAY_MONTH_NAME = re.compile(r"^(\d{1,2})[-\s/]+([a-z]+)\.?[-\s/,]+(\d+)(?:[\s,T]+(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?)?$", re.I)


def _parse_day_month_name(s: str) -> datetime:
    """'05 Okt 2021 18:00:27', '27-Aug-19 13:31:23' (pre-2021 BMKG), '4 Agustus 2021'."""
    m = _DAY_MONTH_NAME.match(s.strip())
    month = _ID_MONTHS.get(m[2][:3].lower()) if m else None
    if m is None or month is None:
        raise ValueError(f"unreadable time {s!r}")
    day = int(m[1])
    year = full_year(m[3], month, day)
    try:
        return datetime(year, month, day, int(m[4] or 0), int(m[5] or 0), int(m[6] or 0))
    except ValueError:
        raise ValueError(f"unreadable time {s!r}") from None


def full_year(written: str, month: int, day: int, today: date | None = None) -> int:
    """The year of a date as written: four digits as they are; two digits are 20xx unless
    that date is still to come (then 19xx: '27-Aug-19' is 2019, '01-Jan-99' 1999).
    Any other number of digits is a ValueError: a year is never read as year 19 AD."""
    digits = written.strip()
    if not digits.isdigit() or len(digits) not in (2, 4):
        raise ValueError(f"year {written!r} is neither two nor four digits")
    if len(digits) == 4:
        return int(digits)
    today = today or datetime.now(timezone.utc).date()
    year = 2000 + int(digits)
    try:
        future = date(year, month, day) > today + timedelta(days=1)  # a day of slack for zones east of UTC
    except ValueError:
        raise ValueError(f"no day {day} in month {month} of {year}") from None
    return year - 100 if future else year


def parse_number(text: Any) -> float | None:
    """'50,000', 'Rp50.000', '4.5', '-', '' -> float or None (not reported). For amounts, not coordinates.

    A group separator is told from a decimal point by position: '50.000' and
    '50,000' are fifty thousand, '4.5' and '4,5' are four and a half.
    The result is always finite: NaN, infinity ('nan', 'inf', 1e999) and numbers
    beyond a float are None, like any other value that is not a number.
    """
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        try:
            return finite_float(text)
        except OverflowError:  # an int beyond a double
            return None
    s = str(text).strip().lower().replace(" ", "").replace("\u00a0", "")
    negative = s.startswith("-") and len(s) > 1
    s = s.removeprefix("-").removeprefix("rp")
    s = ("-" + s) if negative else s
    if s in {"", "-", "--", "n/a", "na", "null", "none"}:
        return None
    sign = -1.0 if s.startswith("-") else 1.0
    s = s.lstrip("+-")
    seps = [c for c in s if c in ",."]
    if seps:
        last = max(s.rfind(","), s.rfind("."))
        head, tail = s[:last], s[last + 1:]
        only_grouping = len(set(seps)) == 1 and len(tail) == 3 and (len(seps) > 1 or head not in {"", "0"})
        s = s.replace(",", "").replace(".", "") if only_grouping else head.replace(",", "").replace(".", "") + "." + tail
    try:
        return finite_float(sign * float(s))
    except ValueError:
        return None


def finite_float(value: float | int) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def plain_number(value: Any) -> float | None:
    """A number as written, with no grouping rules: coordinates and counts ('-6.359' stays -6.359).

    None when missing, unreadable, NaN or infinite. Amounts written '50.000' want `parse_number`.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        return finite_float(value if isinstance(value, (int, float)) else str(value).strip())
    except (ValueError, OverflowError):
        return None


def as_text(value: Any) -> str:
    """An id or label that may arrive as a number or a string ('42', 42, 42.0 -> '42'); None, objects and lists are ''."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def utc_iso(value: datetime) -> str:
    """'2025-09-10T00:17:30Z': how details carry times (deadlines, timelines)."""
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def utc_stamp(value: datetime) -> str:
    """'20211005T110027Z': the time part of ids built from a time."""
    return value.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
