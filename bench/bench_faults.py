"""Faults on real parts: incidents published vs stored exactly once, and recovery time.

    .venv/bin/python bench/bench_faults.py [--fault-seconds 20] [--rate 4] [--only redis,sqlite-lock]

For each fault, a real HTTP feed publishes numbered Open311 requests (`--rate` a
second, each kept in the feed for 90 s) while `damamaya collect` runs in its own
process against its own valkey server and a history database (SQLite in a temp
file, or PostgreSQL in a throwaway schema of the database `test`, reached through
a TCP proxy the bench can cut). One part is broken for `--fault-seconds`, then
restored; the bench waits until history and the live store hold every incident.

Columns:
- published / once / missing / doubled: incidents the feed offered, and how many
  history holds with exactly one version, none, or more than one;
- recovered s: from the part's return until every incident published so far is in
  history and the live store is whole again (sources described, health ok, every
  incident live); for `collector kill -9`, until the restarted process polls
  (its `first poll s`), for `1 of 2 collectors`, from the kill until the other
  collector holds the lease.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "faults")]

from faultkit import SOURCE, Rig, SqliteLock, TcpProxy, pg_terminate, wait_for  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def caught_up(rig: Rig):
    """Everything published until now (the part's return) is in history and live; what
    the feed publishes later is the next polls' business."""
    published = rig.feed.ids()
    return lambda: published <= set(rig.history_ids()) and rig.wall_whole(published)


def fault_redis(rig: Rig, seconds: float) -> dict:
    rig.start()
    rig.redis.kill()
    time.sleep(seconds)
    rig.redis.start()
    back = time.monotonic()
    wait_for(caught_up(rig), 120, "recovery after Redis came back")
    return {"recovered_s": round(time.monotonic() - back, 1)}


def fault_collector_kill(rig: Rig, seconds: float) -> dict:
    rig.start()
    [collector] = rig.collectors
    collector.kill9()
    time.sleep(seconds)
    collector.start()
    back, restarted = time.monotonic(), collector.started_at.isoformat()
    wait_for(lambda: (rig.live.health().get(SOURCE) or {}).get("last_attempt", "") > restarted, 120,
             "the restarted collector polling")
    first = round(time.monotonic() - back, 1)
    wait_for(caught_up(rig), 120, "recovery after the restart")
    return {"recovered_s": round(time.monotonic() - back, 1), "first_poll_s": first}


def fault_failover(rig: Rig, seconds: float) -> dict:
    rig.start(collectors=2)
    holder = wait_for(lambda: rig.history.lease_owner(SOURCE), 10, "a lease holder")
    [victim] = [c for c in rig.collectors if c.owner() == holder]
    victim.kill9()
    killed = time.monotonic()
    wait_for(lambda: rig.history.lease_owner(SOURCE) not in (None, holder), 120, "the other collector taking over")
    took = round(time.monotonic() - killed, 1)
    time.sleep(max(0.0, seconds - took))
    return {"recovered_s": took}


def fault_sqlite_lock(rig: Rig, seconds: float) -> dict:
    rig.start()
    lock = SqliteLock(rig.workdir / "history.sqlite")
    time.sleep(seconds)
    lock.release()
    back = time.monotonic()
    wait_for(caught_up(rig), 120, "recovery after the lock")
    return {"recovered_s": round(time.monotonic() - back, 1)}


def fault_pg_down(rig: Rig, seconds: float) -> dict:
    rig.start()
    rig.proxy.stop()
    time.sleep(seconds)
    rig.proxy.start()
    back = time.monotonic()
    wait_for(caught_up(rig), 120, "recovery after PostgreSQL came back")
    return {"recovered_s": round(time.monotonic() - back, 1)}


def fault_pg_terminate(rig: Rig, seconds: float) -> dict:
    rig.start()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pg_terminate(rig.admin_url, rig.application_name)
        time.sleep(0.5)
    back = time.monotonic()
    wait_for(caught_up(rig), 120, "recovery after the terminations")
    return {"recovered_s": round(time.monotonic() - back, 1)}


def fault_source(mode: str):
    def run(rig: Rig, seconds: float) -> dict:
        rig.start()
        rig.feed.mode = mode
        time.sleep(seconds)
        rig.feed.mode = "ok"
        back = time.monotonic()
        wait_for(caught_up(rig), 120, f"recovery after the source stopped to {mode}")
        return {"recovered_s": round(time.monotonic() - back, 1)}
    return run


FAULTS = {  # name: (label, database, run)
    "redis": ("Redis killed, back empty", "sqlite", fault_redis),
    "collector": ("collector kill -9, restart", "sqlite", fault_collector_kill),
    "failover": ("1 of 2 collectors kill -9", "sqlite", fault_failover),
    "sqlite-lock": ("SQLite locked (exclusive)", "sqlite", fault_sqlite_lock),
    "pg-down": ("PostgreSQL unreachable", "postgresql", fault_pg_down),
    "pg-terminate": ("PostgreSQL conns terminated", "postgresql", fault_pg_terminate),
    "hang": ("source hangs", "sqlite", fault_source("hang")),
    "garble": ("source garbles", "sqlite", fault_source("garble")),
}


def run_fault(name: str, seconds: float, rate: float, workdir: Path) -> dict:
    label, database, run = FAULTS[name]
    proxy = schema = admin = None
    if database == "sqlite":
        rig = Rig(workdir, f"sqlite:///{workdir}/history.sqlite", rate=rate, lock_seconds=60 if name == "collector" else 5)
    else:
        from sqlalchemy import create_engine, text

        schema, proxy, app = f"dmy_bench_{uuid.uuid4().hex[:8]}", TcpProxy(), f"dmy_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG)
        with admin.begin() as conn:
            conn.execute(text(f'create schema "{schema}"'))
        options = f"options=-csearch_path%3D{schema}"
        rig = Rig(workdir, f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/test?{options}&application_name={app}",
                  rate=rate)
        rig.proxy, rig.application_name, rig.admin_url = proxy, app, f"{PG}?{options}"
    try:
        try:
            figures = run(rig, seconds)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {rig.diagnose()}") from None
        return {"fault": label, "db": database, **rig.settle(120), **figures}
    finally:
        rig.close()
        if proxy:
            proxy.stop()
        if admin:
            from sqlalchemy import text

            with admin.begin() as conn:
                conn.execute(text(f'drop schema "{schema}" cascade'))
            admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault-seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=4, help="incidents published a second")
    parser.add_argument("--only", default=",".join(FAULTS), help=f"comma-separated: {','.join(FAULTS)}")
    parser.add_argument("--keep", metavar="DIR", help="work (collector logs, spools) in DIR and keep it")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="dmy-bench-faults-") as tmp:
        tmp = args.keep or tmp
        for name in args.only.split(","):
            print(f"... {name}", file=sys.stderr, flush=True)
            try:
                rows.append(run_fault(name, args.fault_seconds, args.rate, Path(tmp) / name))
            except AssertionError as exc:
                print(f"{name} FAILED: {exc}", file=sys.stderr, flush=True)
                rows.append({"fault": FAULTS[name][0], "db": FAULTS[name][1], "error": str(exc)[:120]})
    head = f"{'fault':30} {'db':10} {'published':>9} {'once':>5} {'missing':>7} {'doubled':>7} {'recovered s':>11} {'first poll s':>12}"
    print(f"faults of {args.fault_seconds:g} s, {args.rate:g} incidents/s\n{head}\n{'-' * len(head)}")
    for r in rows:
        if "error" in r:
            print(f"{r['fault']:30} {r['db']:10} FAILED: {r['error']}")
            continue
        print(f"{r['fault']:30} {r['db']:10} {r['published']:>9} {r['stored_once']:>5} {r['missing']:>7} {r['doubled']:>7} "
              f"{r['recovered_s']:>11} {r.get('first_poll_s', ''):>12}")
    return 0 if all("error" not in r and r["missing"] == r["doubled"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
