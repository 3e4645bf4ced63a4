"""Words of the wall's scenes (layouts/parts/scenes.py, assets/scenes.js)."""
MESSAGES = {
    "wall.scene.unknown_scene": {"id": "Adegan \u201c{name}\u201d tidak dikenal", "en": "Unknown scene \u201c{name}\u201d"},
    "wall.scene.unknown_playlist": {"id": "Daftar putar \u201c{name}\u201d tidak dikenal", "en": "Unknown playlist \u201c{name}\u201d"},
    "wall.scene.known": {"id": "Yang dikenal: {names}", "en": "Known: {names}"},
    "wall.scene.gauges": {"id": "Tinggi Muka Air (jam terakhir)", "en": "Water levels (last hours)"},
    "wall.scene.cctv": {"id": "Kamera CCTV", "en": "CCTV cameras"},
    "wall.scene.prices": {"id": "Harga Pangan", "en": "Staple prices"},
    "wall.scene.prices.commodity": {"id": "Komoditas", "en": "Commodity"},
    "wall.scene.prices.market": {"id": "Pasar", "en": "Market"},
    "wall.scene.prices.value": {"id": "Harga (Rp)", "en": "Price (Rp)"},
    "wall.scene.prices.change": {"id": "Perubahan", "en": "Change"},
    "wall.scene.cam.online": {"id": "AKTIF", "en": "ONLINE"},
    "wall.scene.cam.offline": {"id": "MATI", "en": "OFFLINE"},
    "wall.scene.cam.unknown": {"id": "status tidak diketahui", "en": "state unknown"},
    "wall.scene.cam.stream": {"id": "siaran", "en": "stream"},
    "wall.scene.none": {"id": "belum ada data", "en": "no data yet"},
}
