"""Every screen says which of Damamaya's own parts is down: the notes /sources and the
wall's header show, from what the collectors report in the live store (real Redis)."""
from __future__ import annotations

from datetime import timedelta

from engine.cache import DictCache
from engine.live import LiveStore
from engine.records import utcnow
from engine.source_health import parts_notes, sources_view
from engine.wall.model import WallModel
from layouts.messages import localize


def test_a_database_outage_and_its_spool_are_noted_on_sources_and_the_wall(redis_client):
    live = LiveStore(redis_client, "pt")
    now = utcnow()
    assert sources_view(live, now, 2)["parts"] == []
    since = (now - timedelta(minutes=3)).isoformat()
    live.set_part("database", {"state": "down", "since": since, "error": "OperationalError", "by": "c1", "at": now.isoformat()})
    live.set_part("spool:c1", {"backlog": 7, "oldest": since, "at": now.isoformat()})
    live.set_part("collector:c1", {"at": now.isoformat(), "sources": ["a"], "polling": ["a"]})

    view = sources_view(live, now, 2)
    assert [n["msg"] for n in view["parts"]] == ["parts.database_down"]
    assert view["parts"][0]["n"] == 7
    text = localize(view["parts"], "en")[0]
    assert text.startswith("History database down since") and "7 results" in text
    assert "Basis data riwayat terputus" in localize(view["parts"], "id")[0]

    wall = WallModel(live, DictCache(), "id", 50).health({})
    assert wall["parts"] == view["parts"]


def test_replaying_spool_and_a_silent_collector_are_noted_until_they_are_done(redis_client):
    live = LiveStore(redis_client, "pt2")
    now = utcnow()
    live.set_part("database", {"state": "up", "at": now.isoformat()})
    live.set_part("spool:c1", {"backlog": 3, "oldest": now.isoformat(), "at": now.isoformat()})
    live.set_part("collector:c2", {"at": (now - timedelta(minutes=5)).isoformat(), "sources": [], "polling": []})
    before = sources_view(live, now, 2)
    assert [n["msg"] for n in before["parts"]] == ["parts.spool_replaying", "parts.collector_silent"]
    live.set_part("spool:c1", {"backlog": 0, "oldest": None, "at": now.isoformat()})
    live.set_part("collector:c2", {"at": now.isoformat(), "sources": [], "polling": []})
    after = sources_view(live, now, 2)
    assert after["parts"] == [] and after["digest"] != before["digest"]


def test_notes_of_an_unknown_database_state_say_nothing():
    assert parts_notes({"database": {"state": "unknown"}, "spool": {"backlog": 0}, "collectors": []}) == []
