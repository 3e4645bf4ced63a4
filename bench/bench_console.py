"""Console benchmark: what one console's poll costs on the server, p50/p95, printed as a table.

    .venv/bin/python bench/bench_console.py [--incidents 5000] [--alarms 300] [--positions 20000] [--runs 50]

An embedded Redis is filled with incidents over three sources, a position feed (vessels)
that the incident list must never read, active alarms and operators' overlays. Then the
steps of the console's callbacks (callbacks/console.py) are timed as they run on a poll:
the alarm queue when nothing changed (one HGETALL of `{p}:opversions`), the queue's rows
and their changes when one alarm changed, the incident list's "anything changed?" digest,
and one page of the list without and with filters.
"""
from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from damamaya.redis_server import EmbeddedRedis  # noqa: E402
from engine.alerts import alarm_queue  # noqa: E402
from engine.alerts import console  # noqa: E402
from engine.alerts.console import IncidentFilter, alarm_rows, incident_page, incident_sources, row_changes  # noqa: E402
from engine.alerts.live import OpsLive  # noqa: E402
from engine.live import LiveStore  # noqa: E402
from engine.records import Incident, Position, utcnow  # noqa: E402

AGENCIES: dict = {}
KECAMATAN = ("Denpasar Barat", "Denpasar Timur", "Denpasar Selatan", "Denpasar Utara")
SEVERITIES = ("info", "low", "medium", "high", "critical")


def fill(live: LiveStore, ops: OpsLive, incidents: int, alarms: int, positions: int) -> None:
    now = utcnow()
    described = {}
    for s, source in enumerate(("ntpc-112", "lapor", "petabencana")):
        batch = [Incident(id=f"{source}-{i}", source=source, category="fire", severity=SEVERITIES[i % 5],
                          reported_at=now - timedelta(minutes=i), updated_at=now, kecamatan=KECAMATAN[i % 4],
                          title=f"Kejadian {i} Jl. Teuku Umar" if i % 50 == 0 else f"Kejadian {i}")
                 for i in range(s, incidents, 3)]
        live.apply(source, batch)
        described[source] = {"title": source, "kinds": ["incident"]}
    live.apply("ais", [Position(id=f"v{i}", source="ais", lat=-8.7, lon=115.2, observed_at=now, vehicle=f"v{i}",
                                name=f"KM {i}", vehicle_type="boat") for i in range(positions)])
    live.describe_sources({**described, "ais": {"title": "AIS", "kinds": ["position"]}})
    for i in range(1, alarms + 1):
        ops.put_alarm(fake_alarm(i, now, version=1))
    for i in range(0, incidents, 10):
        source = ("ntpc-112", "lapor", "petabencana")[i % 3]
        ops.put_overlay({"source": source, "record_id": f"{source}-{i}", "owner": "oka", "agency": "damkar", "unit": None,
                         "op_status": "dispatched", "reopened": False, "acknowledged_by": None, "acknowledged_at": None,
                         "last_note": None, "last_note_by": None, "last_note_at": None, "updated_by": "oka",
                         "updated_at": now.isoformat(), "version": 1})


def fake_alarm(i: int, now, version: int, state: str = "firing") -> dict:
    at = (now - timedelta(seconds=i)).isoformat()
    return {"id": i, "rule": "call-112-critical", "source": "ntpc-112", "subject": f"ntpc-112-{i}", "uid": f"ntpc-112:ntpc-112-{i}",
            "level": ("info", "warning", "critical")[i % 3], "state": state, "count": 1, "first_fired": at, "last_fired": at,
            "message": {"id": f"Panggilan 112 #{i}", "en": f"112 call #{i}"}, "silent": False, "scene": None,
            "acknowledged_by": "oka" if state == "acknowledged" else None, "acknowledged_at": at if state == "acknowledged" else None,
            "resolved_by": None, "resolved_at": None, "released_by": None, "released_at": None, "version": version}


def timed(fn, runs: int, before=None) -> list[float]:
    out = []
    for _ in range(runs):
        if before:
            before()
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=5000)
    parser.add_argument("--alarms", type=int, default=300)
    parser.add_argument("--positions", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    server = EmbeddedRedis()
    client = redis.Redis.from_url(server.start())
    try:
        live, ops = LiveStore(client, "bench"), OpsLive(client, "bench")
        fill(live, ops, args.incidents, args.alarms, args.positions)
        held = {r["key"]: r["version"] for r in alarm_rows(alarm_queue(ops), "en")}
        ops.put_alarm(fake_alarm(1, utcnow(), version=2, state="acknowledged"))
        sources = incident_sources(live)

        def page():
            incident_page(live, ops, AGENCIES, IncidentFilter(), 1, sources=sources)

        def digest():
            versions = live.versions()
            hashlib.blake2b(repr(([(s, versions.get(s)) for s in incident_sources(live)], ops.versions())).encode()).digest()

        def one_call_changed():
            now = utcnow()
            live.apply("ntpc-112", [Incident(id="ntpc-112-0", source="ntpc-112", category="fire", severity="critical",
                                             reported_at=now, updated_at=now, title=f"Kejadian {time.monotonic()}")])

        steps = [
            ("alarm queue, nothing changed", lambda: ops.versions(), None),
            ("alarm queue, one alarm changed", lambda: row_changes(held, alarm_rows(alarm_queue(ops), "en")), None),
            ("incident list, anything changed?", digest, None),
            ("list page, cold (nothing parsed yet)", page, console._PARSED.clear),
            ("list page, one source changed", page, one_call_changed),
            ("list page, filter changed", lambda: incident_page(
                live, ops, AGENCIES, IncidentFilter(severity=("critical", "high"), text="teuku"), 1, sources=sources), None),
        ]
        print(f"console poll steps: {args.incidents} incidents in 3 sources, {args.positions} positions (not read), "
              f"{args.alarms} active alarms, {args.runs} runs each\n")
        print(f"{'step':36} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for name, fn, before in steps:
            lat = timed(fn, args.runs, before)
            print(f"{name:36} {pct(lat, .5):>8.2f} {pct(lat, .95):>8.2f} {max(lat):>8.2f}")
    finally:
        client.close()
        server.stop()


if __name__ == "__main__":
    main()
