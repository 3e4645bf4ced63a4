"""Shared by the price adapters (pihps, panel-harga) at parse time: commodity names, units, dates, rupiah.

Canonical commodity names are snake_case, after the staple list in DOMAIN.md
(PIHPS Bank Indonesia and Bapanas Panel Harga name the same goods differently).
A source name that is not in the table still becomes a record, under a
snake_case form of its own name, with details["commodity_mapped"] = False.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

from data_sources.readers.values import full_year, parse_number
from engine.records import WITA

# normalised source name -> canonical name. Group names of the PIHPS tree that
# have exactly one sub-commodity ("Telur Ayam" -> "Telur Ayam Ras Segar") map
# to that sub-commodity; groups with several keep a group name (cabai_merah).
COMMODITIES: dict[str, str] = {
    # rice
    "beras": "beras",
    "beras kualitas bawah i": "beras_bawah_1",
    "beras kualitas bawah ii": "beras_bawah_2",
    "beras kualitas medium i": "beras_medium_1",
    "beras kualitas medium ii": "beras_medium_2",
    "beras kualitas super i": "beras_super_1",
    "beras kualitas super ii": "beras_super_2",
    "beras medium": "beras_medium",
    "beras premium": "beras_premium",
    "beras sphp": "beras_sphp",
    # meat and eggs
    "daging ayam": "daging_ayam_ras",
    "daging ayam ras": "daging_ayam_ras",
    "daging ayam ras segar": "daging_ayam_ras",
    "daging sapi": "daging_sapi",
    "daging sapi murni": "daging_sapi",
    "daging sapi kualitas 1": "daging_sapi_1",
    "daging sapi kualitas 2": "daging_sapi_2",
    "daging kerbau beku impor luar negeri": "daging_kerbau_beku_impor",
    "daging kerbau segar lokal": "daging_kerbau_segar",
    "telur ayam": "telur_ayam_ras",
    "telur ayam ras": "telur_ayam_ras",
    "telur ayam ras segar": "telur_ayam_ras",
    # shallot, garlic, chilli
    "bawang merah": "bawang_merah",
    "bawang merah ukuran sedang": "bawang_merah",
    "bawang putih": "bawang_putih",
    "bawang putih ukuran sedang": "bawang_putih",
    "bawang putih bonggol": "bawang_putih",
    "cabai merah": "cabai_merah",
    "cabai merah besar": "cabai_merah_besar",
    "cabai merah keriting": "cabai_merah_keriting",
    "cabai rawit": "cabai_rawit",
    "cabai rawit hijau": "cabai_rawit_hijau",
    "cabai rawit merah": "cabai_rawit_merah",
    # oil and sugar
    "minyak goreng": "minyak_goreng",
    "minyak goreng curah": "minyak_goreng_curah",
    "minyak goreng kemasan": "minyak_goreng_kemasan",
    "minyak goreng kemasan bermerk 1": "minyak_goreng_kemasan_1",
    "minyak goreng kemasan bermerk 2": "minyak_goreng_kemasan_2",
    "minyakita": "minyakita",
    "gula pasir": "gula_pasir",
    "gula konsumsi": "gula_pasir",
    "gula pasir kualitas premium": "gula_pasir_premium",
    "gula pasir lokal": "gula_pasir_lokal",
    # other Panel Harga goods
    "kedelai biji kering impor": "kedelai_impor",
    "tepung terigu curah": "tepung_terigu_curah",
    "tepung terigu kemasan": "tepung_terigu_kemasan",
    "jagung tk peternak": "jagung_peternak",
    "garam konsumsi": "garam_konsumsi",
    "ikan kembung": "ikan_kembung",
    "ikan tongkol": "ikan_tongkol",
    "ikan bandeng": "ikan_bandeng",
}

LITRE_COMMODITIES = frozenset({"minyak_goreng", "minyak_goreng_curah", "minyak_goreng_kemasan",
                               "minyak_goreng_kemasan_1", "minyak_goreng_kemasan_2", "minyakita"})

_MONTHS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "mei": 5, "may": 5, "jun": 6, "jul": 7, "agu": 8, "agt": 8,
           "aug": 8, "sep": 9, "okt": 10, "oct": 10, "nov": 11, "des": 12, "dec": 12}


def normalise_name(name: str) -> str:
    text = unicodedata.normalize("NFKC", str(name)).lower()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


def canonical_commodity(name: Any, extra: dict[str, str] | None = None) -> tuple[str, bool]:
    """(canonical name, whether it was in the table). `extra` maps source names too and wins."""
    key = normalise_name(name)
    for source_name, canonical in (extra or {}).items():
        if normalise_name(source_name) == key:
            return canonical, True
    if key in COMMODITIES:
        return COMMODITIES[key], True
    return key.replace(" ", "_"), False


def unit_of(commodity: str, source_unit: Any = None) -> str:
    """'Rp./Kg' -> 'kg', 'Rp/Liter' -> 'liter'; without a source unit, litres for cooking oil."""
    text = str(source_unit or "").lower()
    if "lt" in text or "liter" in text or "litre" in text:
        return "liter"
    if "kg" in text:
        return "kg"
    return "liter" if commodity in LITRE_COMMODITIES else "kg"


def market_day(text: Any) -> datetime:
    """A market date as midnight WITA of that calendar day.

    Accepts '2025-09-13', '13-9-2025', '13/09/2025', '20 Jul 20', '20 Juli 2020'.
    The calendar day is kept as published (a Bandung price of 13 Sep stays 13 Sep).
    Raises ValueError.
    """
    s = str(text or "").strip()
    if not s:
        raise ValueError("date is missing")
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T].*)?", s)
    if m:
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
    elif m := re.fullmatch(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})", s):
        d, mo, y = int(m[1]), int(m[2]), int(m[3])
    elif m := re.fullmatch(r"(\d{1,2})\s+([A-Za-z]{3,})\s+(\d{2}|\d{4})", s):
        d, mo = int(m[1]), _MONTHS.get(m[2][:3].lower(), 0)
        try:
            y = full_year(m[3], mo, d)
        except ValueError:
            raise ValueError(f"impossible date {s!r}") from None
    else:
        raise ValueError(f"unreadable date {s!r}")
    try:
        return datetime(y, mo, d, tzinfo=WITA)
    except ValueError:
        raise ValueError(f"impossible date {s!r}") from None


def rupiah(value: Any) -> float | None:
    """'Rp50.000', '-Rp100', '50,000', 25900.0 -> float; '-', '' and None -> None."""
    if isinstance(value, str):
        value = re.sub(r"rp\.?", "", value, flags=re.IGNORECASE)
    return parse_number(value)


def price_id(commodity: str, market: str, day: datetime) -> str:
    return f"{commodity}|{normalise_name(market).replace(' ', '_')}|{day:%Y-%m-%d}"
