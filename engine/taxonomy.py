"""Canonical incident domains and categories, with their labels.

A category belongs to one domain; KPIs and filters work on both. Adapters map a
source's own categories onto these and keep the original in `details`.
"""
from __future__ import annotations

# category: (domain, Bahasa Indonesia label, English label)
CATEGORIES: dict[str, tuple[str, str, str]] = {
    # 112 calls, Permenkominfo 10/2016, plus the two non-emergency outcomes
    "fire": ("emergency", "Kebakaran", "Fire"),
    "conflict": ("emergency", "Kerusuhan/Konflik", "Riot/conflict"),
    "accident": ("emergency", "Kecelakaan", "Accident"),
    "disaster": ("emergency", "Bencana Alam", "Natural disaster"),
    "medical": ("emergency", "Kesehatan/Medis", "Health/medical"),
    "public_order": ("emergency", "Kamtibmas", "Public order"),
    "other_emergency": ("emergency", "Lainnya", "Other"),
    "non_emergency": ("emergency", "Bukan Darurat", "Non-emergency"),
    "hoax": ("emergency", "Panggilan Iseng", "Hoax call"),
    # PRO Denpasar / SP4N-LAPOR! complaints
    "infrastructure": ("complaint", "Infrastruktur", "Infrastructure"),
    "street_lighting": ("complaint", "LPJU", "Street lighting"),
    "waste": ("complaint", "Sampah/TPS Liar", "Waste"),
    "illegal_parking": ("complaint", "Parkir Liar", "Illegal parking"),
    "water_supply": ("complaint", "PDAM/Air", "Water supply"),
    "traffic_order": ("complaint", "Lalu Lintas", "Traffic"),
    "environment": ("complaint", "Lingkungan", "Environment"),
    "public_service": ("complaint", "Layanan Publik", "Public service"),
    "social": ("complaint", "Sosial & Tenaga Kerja", "Social & labour"),
    "whistleblowing": ("complaint", "Whistle-blowing", "Whistle-blowing"),
    "other_complaint": ("complaint", "Lain-lain", "Other complaint"),
    # floods
    "flood": ("flood", "Banjir", "Flood"),
    "flood_report": ("flood", "Laporan Banjir", "Flood report"),
    "flooded_area": ("flood", "Area Tergenang", "Flooded area"),
    # traffic
    "congestion": ("traffic", "Kemacetan", "Congestion"),
    "road_closure": ("traffic", "Penutupan Jalan", "Road closure"),
    "road_hazard": ("traffic", "Bahaya Jalan", "Road hazard"),
    "traffic_accident": ("traffic", "Kecelakaan Lalu Lintas", "Traffic accident"),
    "camera_offline": ("traffic", "CCTV Mati", "Camera offline"),
    # hazards and warnings
    "earthquake": ("disaster", "Gempa Bumi", "Earthquake"),
    "tsunami": ("disaster", "Tsunami", "Tsunami"),
    "volcano": ("disaster", "Gunung Api", "Volcano"),
    "wildfire": ("disaster", "Kebakaran Hutan/Lahan", "Wildfire"),
    "alert": ("disaster", "Peringatan", "Alert"),
    "extreme_weather": ("weather", "Cuaca Ekstrem", "Extreme weather"),
}

DOMAINS: dict[str, tuple[str, str]] = {
    "emergency": ("Panggilan 112", "112 calls"),
    "complaint": ("Pengaduan", "Complaints"),
    "flood": ("Banjir", "Floods"),
    "traffic": ("Lalu Lintas", "Traffic"),
    "disaster": ("Bencana", "Hazards"),
    "weather": ("Cuaca", "Weather"),
    "other": ("Lainnya", "Other"),
}


def known_categories(values: list[str]) -> list[str]:
    """`values` when each is a category of CATEGORIES; a configuration validator's error otherwise."""
    for c in values:
        if c not in CATEGORIES:
            raise ValueError(f"unknown category {c!r} (see engine/taxonomy.py)")
    return values


def domain_of(category: str) -> str:
    entry = CATEGORIES.get(category)
    return entry[0] if entry else "other"


def category_label(category: str, language: str = "id") -> str:
    entry = CATEGORIES.get(category)
    if not entry:
        return category.replace("_", " ")
    return entry[1] if language == "id" else entry[2]
