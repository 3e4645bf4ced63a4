"""The fan-out: the push process works out a change once, from the state the screens hold,
in the poll's own wire format; and a source polled again sends only what moved."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from engine.cache import RedisCache
from engine.live import LiveStore
from engine.records import Incident
from engine.wall.model import WallModel
from engine.wall.state import new_screen_id
from push.fanout import Fanout, public_state

PREFIX = "fantest"


def incident(rid: str, category: str = "fire") -> Incident:
    t = datetime.now(timezone.utc)
    return Incident(id=rid, source="calls", category=category, title=rid, reported_at=t, updated_at=t, lat=-8.65, lon=115.22)


@pytest.fixture
def live(redis_client):
    store = LiveStore(redis_client, PREFIX)
    store.describe_sources({"calls": {"title": "112", "kinds": ["incident"], "interval": 5, "stale_after": 600}})
    store.apply("calls", [incident("first")])
    return store


def model(live: LiveStore) -> WallModel:
    return WallModel(live, RedisCache(live.r, PREFIX), "id", 200)


def test_the_change_starts_from_the_state_a_freshly_loaded_screen_holds(live):
    fanout = Fanout(lambda: model(live), "id")
    assert fanout.step() is False  # no canonical state yet: taken from the store, screens poll
    screen = model(live).snapshot(new_screen_id()).state  # what a wall loaded now holds
    assert fanout.public() == public_state(screen)

    version = live.apply("calls", [incident("second", "accident")])
    change = fanout.step()
    assert change["from"] == public_state(screen)
    assert change["to"]["versions"]["calls"] == version and "screen" not in change["to"]
    layer = change["out"]["layers"]["calls"]  # the layer message the poll sends (engine.wall.layers)
    assert layer["v"] == version and layer["from"] == screen.versions["calls"]
    [insert] = layer["ops"]  # the edits of model.layer_edits: only the new feature travels
    assert insert[:2] == ["u", "calls:second"] and "calls:first" not in json.dumps(insert)
    assert insert[4] is None  # it has no shape
    assert [r["uid"] for r in change["out"]["grid"]["upsert"]] == ["calls:second"]
    assert change["out"]["tiles"]["tiles"][0]["value"] == 2


def test_nothing_changed_sends_nothing(live):
    fanout = Fanout(lambda: model(live), "id")
    fanout.step()
    assert fanout.step() is None


def test_the_canonical_state_follows_its_own_changes(live):
    fanout = Fanout(lambda: model(live), "id")
    fanout.step()
    live.apply("calls", [incident("a")])
    first = fanout.step()
    live.apply("calls", [incident("b")])
    second = fanout.step()
    assert second["from"] == first["to"]


def test_a_source_polled_again_sends_only_its_last_success(live):
    t = datetime.now(timezone.utc)
    live.set_health("calls", {"status": "ok", "last_attempt": t.isoformat(), "last_success": t.isoformat()}, bump=True)
    screen = model(live).snapshot(new_screen_id()).state
    later = (t + timedelta(seconds=5)).isoformat()
    live.set_health("calls", {"status": "ok", "last_attempt": later, "last_success": later}, bump=True)
    changes = model(live).changes(screen)
    assert changes.health is not None
    paths = [op[1] for op in changes.health_ops]
    assert ["sources", "calls", "last_success"] in paths
    assert not any(p[:2] == ["sources", "calls"] and len(p) == 2 for p in paths)  # not the whole chip
    assert all(p[-1] != "title" for p in paths)


def test_health_goes_whole_when_the_screen_holds_one_no_longer_cached(live):
    t = datetime.now(timezone.utc).isoformat()
    screen = model(live).snapshot(new_screen_id()).state.model_copy(update={"health": "0" * 16})
    live.set_health("calls", {"status": "ok", "last_attempt": t, "last_success": t}, bump=True)
    changes = model(live).changes(screen)
    assert changes.health is not None and changes.health_ops is None


def test_the_fan_out_covers_every_output_of_the_wall_poll(tmp_path, embedded_redis_url, monkeypatch):
    from push.fanout import POLL_OUTPUTS

    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"redis:\n  url: {embedded_redis_url}\n  prefix: {PREFIX}\n"
                   f"database:\n  url: sqlite:///{tmp_path}/h.sqlite\n")
    monkeypatch.setenv("DAMAMAYA_CONFIG", str(cfg))
    from damamaya import runtime

    caches = (runtime.config, runtime.redis_client, runtime.live, runtime.history)
    for f in caches:
        f.cache_clear()
    try:
        import app as app_module

        polls = [key for key in app_module.app.callback_map if "wall-state.data" in key.split("...")[0]]
    finally:
        for f in caches:  # later tests read their own config
            f.cache_clear()
    assert polls == [POLL_OUTPUTS]
