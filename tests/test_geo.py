from engine.geo import boundaries, locate_record
from engine.records import Incident
from datetime import datetime, timezone

T = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_all_43_desa_and_4_kecamatan():
    b = boundaries()
    assert len(b.places) == 43
    assert sorted({p.kecamatan for p in b.places}) == ["Denpasar Barat", "Denpasar Selatan", "Denpasar Timur", "Denpasar Utara"]


def test_desa_centroids_locate_to_their_own_desa():
    import json

    from engine.geo import DESA_FILE

    b = boundaries()
    misses = []
    for f in json.loads(DESA_FILE.read_text())["features"]:
        p = b.places[[x.desa_code for x in b.places].index(f["properties"]["kode"])]
        point = b.shapes[b.places.index(p)].representative_point()
        found = b.locate(point.y, point.x)
        if found is None or found.desa_code != p.desa_code:
            misses.append(p.desa)
    assert misses == []


def test_known_places():
    b = boundaries()
    assert b.locate(-8.6705, 115.2126).kecamatan in {"Denpasar Barat", "Denpasar Timur", "Denpasar Utara", "Denpasar Selatan"}
    sanur = b.locate(-8.6905, 115.2620)
    assert sanur and sanur.kecamatan == "Denpasar Selatan"


def test_outside_the_city_is_kept_and_flagged():
    rec = Incident(id="q", source="s", category="earthquake", reported_at=T, updated_at=T, lat=-8.15, lon=118.10)
    locate_record(rec)
    assert rec.in_city is False and rec.kecamatan is None and rec.desa is None


def test_inside_the_city_gets_kecamatan_and_desa():
    rec = Incident(id="q", source="s", category="fire", reported_at=T, updated_at=T, lat=-8.6571, lon=115.2167)
    locate_record(rec)
    assert rec.in_city is True and rec.desa and rec.desa_code.startswith("51.71.") and rec.kecamatan.startswith("Denpasar")


def test_map_layers_are_valid_geojson():
    b = boundaries()
    kec = b.kecamatan_geojson()
    assert len(kec["features"]) == 4
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in kec["features"])
    assert len(b.desa_geojson()["features"]) == 43
