"""Where in Denpasar a point lies, by point-in-polygon on the vendored desa boundaries."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import shapely
from shapely.geometry import mapping, shape
from shapely.ops import unary_union

BOUNDARIES = Path(__file__).parent / "boundaries"
DESA_FILE = BOUNDARIES / "denpasar_desa_kelurahan_51.71.geojson"
KECAMATAN_FILE = BOUNDARIES / "denpasar_kecamatan_51.71.geojson"


def kecamatan_code(desa_code: str) -> str:
    """'51.71.03.2004' -> '51.71.03': the kecamatan a desa/kelurahan code lies in."""
    return desa_code.rsplit(".", 1)[0]


@dataclass(frozen=True)
class Place:
    kecamatan: str
    kecamatan_code: str
    desa: str
    desa_code: str


class Boundaries:
    def __init__(self, desa_path: Path = DESA_FILE, kecamatan_path: Path = KECAMATAN_FILE):
        desa = json.loads(desa_path.read_text())["features"]
        kec_names = {f["properties"]["kode"]: f["properties"]["nama"] for f in json.loads(kecamatan_path.read_text())["features"]}
        self.places: list[Place] = []
        self.shapes = []
        for f in desa:
            code = f["properties"]["kode"]
            kec_code = kecamatan_code(code)
            self.places.append(Place(kec_names.get(kec_code, kec_code), kec_code, f["properties"]["nama"], code))
            self.shapes.append(shape(f["geometry"]).buffer(0))
        self.tree = shapely.STRtree(self.shapes)
        self.city = unary_union(self.shapes)

    def locate(self, lat: float, lon: float) -> Place | None:
        point = shapely.Point(lon, lat)
        for i in self.tree.query(point, predicate="intersects"):
            return self.places[int(i)]
        return None

    def desa_geojson(self) -> dict:
        return {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "geometry": mapping(s.simplify(0.00005)),
                 "properties": {"kode": p.desa_code, "nama": p.desa, "kecamatan": p.kecamatan}}
                for p, s in zip(self.places, self.shapes)
            ],
        }

    def kecamatan_geojson(self) -> dict:
        groups: dict[str, list] = {}
        names: dict[str, str] = {}
        for p, s in zip(self.places, self.shapes):
            groups.setdefault(p.kecamatan_code, []).append(s)
            names[p.kecamatan_code] = p.kecamatan
        return {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "geometry": mapping(unary_union(g).buffer(0.00002).buffer(-0.00002).simplify(0.00005)),
                 "properties": {"kode": code, "nama": names[code]}}
                for code, g in sorted(groups.items())
            ],
        }

    def desa_names(self) -> list[tuple[str, str, str]]:
        """(desa_code, desa, kecamatan) for every desa/kelurahan."""
        return sorted((p.desa_code, p.desa, p.kecamatan) for p in self.places)

    def kecamatan_names(self) -> dict[str, str]:
        """kecamatan code -> name, in code order."""
        return dict(sorted({p.kecamatan_code: p.kecamatan for p in self.places}.items()))


@cache
def boundaries() -> Boundaries:
    return Boundaries()


def locate_record(record) -> None:
    """Fill kecamatan/desa and the in-city flag of a located record in place."""
    if record.lat is None:
        record.in_city = None
        return
    place = boundaries().locate(record.lat, record.lon)
    record.in_city = place is not None
    if place:
        record.kecamatan, record.desa, record.desa_code = place.kecamatan, place.desa, place.desa_code
    else:
        record.kecamatan = record.desa = record.desa_code = None
