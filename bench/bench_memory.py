"""Redis memory per live incident: the demo, then 10,000 incidents more, through the real writer.

    .venv/bin/python bench/bench_memory.py [--incidents 10000] [--screens-polls 30]

On a valkey server of the bench's own (nothing of other programs in INFO memory):
1. the demo: every enabled source of config.yaml polled by the real SourceRunner a few
   times (SQLite history), and the wall's read model asked for its first state;
2. `--incidents` Open311 requests (the sample's format, placed in Denpasar) from a file
   source, stored by the same SourceRunner (ResultWriter: history then the live store,
   the change stream), then changed one at a time (`--changes`, as a live feed does:
   each change is a new version), a wall screen asking for what changed after each;
3. INFO used_memory after each step and MEMORY USAGE of every key, grouped.

Goal (issue 11): under 2 KB per live incident beyond the demo.
"""
from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from pathlib import Path

import orjson

from feedkit import OwnRedis, ROOT, request, requests, sqlite_history, table

PREFIX = "dmy"


def used(client) -> int:
    return int(client.info("memory")["used_memory"])


def key_groups(client) -> dict[str, tuple[int, int]]:
    """Key family -> (keys, bytes), by MEMORY USAGE (SAMPLES 0: every element counted)."""
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for key in client.scan_iter(match=f"{PREFIX}:*", count=1000):
        parts = key.decode().split(":")
        family = ":".join(parts[1:3]) if parts[1] in ("cache", "rec", "rejects") else parts[1]
        if parts[1] == "cache":
            family = ":".join(parts[1:4])
        groups[family][0] += 1
        groups[family][1] += int(client.memory_usage(key, samples=0) or 0)
    return {k: (v[0], v[1]) for k, v in groups.items()}


def demo(client, history):
    from damamaya.config import load_config, make_adapters
    from engine.collector import SourceRunner, describe
    from engine.live import LiveStore

    config = load_config(ROOT / "config.yaml")
    live = LiveStore(client, PREFIX, config.collector.change_stream_length, config.collector.reject_list_length)
    adapters = make_adapters(config)
    live.describe_sources({a.source: describe(a.source, a.config, a) for a in adapters})
    runners = [SourceRunner(a, live, history) for a in adapters]
    for _ in range(3):
        for runner in runners:
            runner.poll()
    return config, live


def wall_model(config, live):
    from engine.cache import RedisCache
    from engine.wall.model import WallModel

    return WallModel(live, RedisCache(live.r, PREFIX), config.language, config.wall.incident_list_size, config.kpi)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--incidents", type=int, default=10_000)
    ap.add_argument("--changes", type=int, default=30, help="single-incident changes after the bulk, a screen poll after each")
    args = ap.parse_args()

    from data_sources import get_adapter
    from engine.collector import SourceRunner, describe

    redis = OwnRedis()
    client = redis.client()
    history = sqlite_history()
    try:
        empty = used(client)
        config, live = demo(client, history)
        screen = wall_model(config, live).snapshot("0" * 32)
        at_demo = used(client)
        demo_groups = key_groups(client)

        path = Path(tempfile.mkdtemp(prefix="dmy-mem-")) / "requests.json"
        items = requests(args.incidents)
        path.write_bytes(orjson.dumps(items))
        cls = get_adapter("open311")
        adapter = cls("pro-bench", cls.Config(path=str(path), interval=5, live_hours=72))
        live.describe_sources({**live.sources(), "pro-bench": describe("pro-bench", adapter.config, adapter)})
        runner = SourceRunner(adapter, live, history)
        outcome = runner.poll()
        assert outcome.ok and outcome.records == args.incidents, outcome
        state = wall_model(config, live).snapshot("0" * 32).state
        import random

        rng = random.Random(7)
        for n in range(args.changes):
            i = rng.randrange(len(items))
            items[i] = {**request(i, utcnow_minus(n), rng), "status": "in_progress"}
            path.write_bytes(orjson.dumps(items))
            assert runner.poll().ok
            changes = wall_model(config, live).changes(state)
            state = changes.state if changes else state
        after = used(client)
        groups = key_groups(client)
    finally:
        client.close()
        redis.stop()
        history.dispose()

    live_count = len(items)
    per = (after - at_demo) / live_count
    print(f"Redis used_memory: empty {empty / 1e6:.1f} MB, demo {at_demo / 1e6:.1f} MB, "
          f"demo + {live_count} incidents (+{args.changes} changes, wall screens polling) {after / 1e6:.1f} MB")
    print(f"beyond the demo: {(after - at_demo) / 1e6:.1f} MB = {per:.0f} bytes per live incident (goal: under 2048)\n")
    rows = []
    for family in sorted(set(groups) | set(demo_groups), key=lambda f: -groups.get(f, (0, 0))[1]):
        keys, size = groups.get(family, (0, 0))
        dkeys, dsize = demo_groups.get(family, (0, 0))
        rows.append({"key family": family, "keys (demo)": dkeys, "MB (demo)": f"{dsize / 1e6:.2f}",
                     "keys (after)": keys, "MB (after)": f"{size / 1e6:.2f}",
                     "bytes/incident": f"{(size - dsize) / live_count:.0f}"})
    print(table(rows, list(rows[0])))
    del screen


def utcnow_minus(n: int):
    from datetime import timedelta

    from engine.records import utcnow

    return utcnow() - timedelta(seconds=n)


if __name__ == "__main__":
    main()
