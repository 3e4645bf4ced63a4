"""POST /api/v1/ingest/<source> on real Redis and real SQLite/PostgreSQL history:
good, forged, stale, replayed and oversized deliveries."""
from __future__ import annotations

import time
import uuid

import orjson
import pytest
from flask import Flask

from api.ingest import CONTEXT_KEY, IngestContext, ingest_api, sign
from damamaya.config import config_from_dict
from engine.live import LiveStore

SECRET = "push-secret-for-tests"


def request_of(i: int, **kw) -> dict:
    return {"service_request_id": f"P-{i}", "status": "open", "service_name": "Jalan Rusak", "service_code": "JR",
            "requested_datetime": "2026-12-01T04:00:00+00:00", "lat": -8.65, "long": 115.22, **kw}


def body_of(*items) -> bytes:
    return orjson.dumps(list(items))


def headers(body: bytes, delivery: str | None = None, timestamp: int | None = None, secret: str = SECRET) -> dict:
    delivery = delivery or uuid.uuid4().hex
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"X-Damamaya-Timestamp": ts, "X-Damamaya-Delivery": delivery,
            "X-Damamaya-Signature": sign(secret, ts, delivery, body), "Content-Type": "application/json"}


@pytest.fixture
def ingest(redis_client, history, tmp_path, monkeypatch):
    monkeypatch.setenv("DMY_TEST_PUSH_SECRET", SECRET)
    config = config_from_dict({
        "collector": {"spool_dir": str(tmp_path / "spool")},
        "sources": {
            "warga": {"adapter": "open311", "ingest": {"secret_env": "DMY_TEST_PUSH_SECRET", "max_body": 4096}},
            "polled": {"adapter": "open311", "url": "http://127.0.0.1:9/never"},
        }})
    live = LiveStore(redis_client, "ing")
    app = Flask(__name__)
    app.config[CONTEXT_KEY] = IngestContext.build(config, live, history)
    app.register_blueprint(ingest_api)
    return app.test_client(), live, history


def post(client, body: bytes, hdrs: dict, source: str = "warga"):
    return client.post(f"/api/v1/ingest/{source}", data=body, headers=hdrs)


def test_a_good_delivery_is_stored_like_a_poll(ingest):
    client, live, history = ingest
    body = body_of(request_of(1), request_of(2), {"service_request_id": "bad", "status": "open"})
    answer = post(client, body, headers(body))
    assert answer.status_code == 202, answer.json
    assert answer.json["accepted"] == 2 and answer.json["rejected"] == 1 and answer.json["spooled"] is False
    assert history.count("warga") == 2 and {r.id for r in live.records("warga")} == {"P-1", "P-2"}
    assert len(history.recent_rejects("warga")) == 1
    health = live.health()["warga"]
    assert health["status"] == "ok" and health["records"] == 2 and health["last_success"]


def test_forged_deliveries_are_refused_and_store_nothing(ingest):
    client, live, history = ingest
    body = body_of(request_of(1))
    assert post(client, body, headers(body, secret="someone-else")).status_code == 401
    tampered = body_of(request_of(1, description="changed after signing"))
    assert post(client, tampered, headers(body)).status_code == 401
    unsigned = {"X-Damamaya-Timestamp": str(int(time.time())), "X-Damamaya-Delivery": "d1"}
    answer = post(client, body, unsigned)
    assert answer.status_code == 401 and "X-Damamaya-Signature" in answer.json["error"]
    assert history.count("warga") == 0 and live.records("warga") == []


def test_a_stale_delivery_is_refused(ingest):
    client, _, history = ingest
    body = body_of(request_of(1))
    answer = post(client, body, headers(body, timestamp=int(time.time()) - 301))
    assert answer.status_code == 401 and "window" in answer.json["error"]
    assert post(client, body, headers(body, timestamp=int(time.time()) + 301)).status_code == 401
    assert history.count("warga") == 0


def test_a_replayed_delivery_is_refused_also_after_redis_lost_it(ingest):
    client, live, history = ingest
    body = body_of(request_of(1))
    hdrs = headers(body, delivery="delivery-42")
    assert post(client, body, hdrs).status_code == 202
    answer = post(client, body, hdrs)
    assert answer.status_code == 409 and "delivery-42" in answer.json["error"]
    live.r.flushdb()  # Redis forgot: the database still knows
    assert post(client, body, hdrs).status_code == 409
    assert history.count("warga") == 1 and [v["version"] for v in history.versions_of("warga", "P-1")] == [1]


def test_an_oversized_delivery_is_refused(ingest):
    client, _, history = ingest
    body = body_of(*[request_of(i, description="x" * 200) for i in range(30)])
    assert len(body) > 4096
    answer = post(client, body, headers(body))
    assert answer.status_code == 413 and "4096" in answer.json["error"]
    assert history.count("warga") == 0


def test_unknown_and_polled_sources_take_no_push(ingest):
    client, _, _ = ingest
    body = body_of(request_of(1))
    assert post(client, body, headers(body), source="nope").status_code == 404
    assert post(client, body, headers(body), source="polled").status_code == 404


def test_nothing_usable_is_422_with_the_reasons_kept(ingest):
    client, _, history = ingest
    body = body_of({"service_request_id": "x1", "status": "open"}, {"status": "open"})
    answer = post(client, body, headers(body))
    assert answer.status_code == 422 and answer.json["accepted"] == 0 and answer.json["rejected"] == 2
    assert all(r["reason"] for r in answer.json["rejects"])
    assert len(history.recent_rejects("warga")) == 2
    garbage = b"<html>not a report</html>"
    assert post(client, garbage, headers(garbage)).status_code == 422


def test_a_delivery_refused_whole_may_come_again_corrected_under_its_id(ingest):
    client, _, history = ingest
    bad = body_of({"status": "open"})
    assert post(client, bad, headers(bad, delivery="fix-7")).status_code == 422
    good = body_of(request_of(7))
    assert post(client, good, headers(good, delivery="fix-7")).status_code == 202
    assert post(client, good, headers(good, delivery="fix-7")).status_code == 409  # taken now
    assert history.count("warga") == 1


def test_no_secret_in_the_environment_refuses_every_delivery(ingest, monkeypatch):
    client, _, history = ingest
    monkeypatch.delenv("DMY_TEST_PUSH_SECRET")
    body = body_of(request_of(1))
    assert post(client, body, headers(body)).status_code == 503
    assert history.count("warga") == 0


def test_the_dash_app_serves_the_endpoint(tmp_path, embedded_redis_url, monkeypatch):
    """The real app (app.server) routes the blueprint."""
    import api.ingest
    from damamaya import runtime

    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"redis: {{url: '{embedded_redis_url}', prefix: ingapp}}\n"
                   f"database: {{url: 'sqlite:///{tmp_path}/h.sqlite'}}\n"
                   f"collector: {{spool_dir: '{tmp_path}/spool'}}\n"
                   "sources:\n  warga: {adapter: open311, ingest: {secret_env: DMY_TEST_PUSH_SECRET}}\n")
    monkeypatch.setenv("DAMAMAYA_CONFIG", str(cfg))
    monkeypatch.setenv("DMY_TEST_PUSH_SECRET", SECRET)
    for f in (runtime.config, runtime.redis_client, runtime.live, runtime.history):
        f.cache_clear()
    runtime.history().create()
    monkeypatch.setattr(api.ingest, "_default", None)
    import app as app_module

    body = body_of(request_of(7))
    answer = app_module.server.test_client().post("/api/v1/ingest/warga", data=body, headers=headers(body))
    assert answer.status_code == 202 and answer.json["accepted"] == 1
    assert runtime.history().count("warga") == 1
    runtime.history().dispose()
    for f in (runtime.config, runtime.redis_client, runtime.live, runtime.history):
        f.cache_clear()


def test_a_delivery_while_history_is_locked_is_spooled_then_stored(redis_client, tmp_path, monkeypatch):
    """202 from the spool: the sender is not held by a locked database, nothing is lost."""
    import sqlite3

    from engine.history import History

    monkeypatch.setenv("DMY_TEST_PUSH_SECRET", SECRET)
    history = History(f"sqlite:///{tmp_path}/h.sqlite")
    history.create()
    config = config_from_dict({
        "collector": {"spool_dir": str(tmp_path / "spool"), "history_wait": 0.5},
        "sources": {"warga": {"adapter": "open311", "ingest": {"secret_env": "DMY_TEST_PUSH_SECRET"}}}})
    ctx = IngestContext.build(config, LiveStore(redis_client, "ing"), history)
    app = Flask(__name__)
    app.config[CONTEXT_KEY] = ctx
    app.register_blueprint(ingest_api)
    locker = sqlite3.connect(tmp_path / "h.sqlite", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        body = body_of(request_of(1), request_of(2))
        answer = post(app.test_client(), body, headers(body))
        assert answer.status_code == 202 and answer.json["spooled"] is True and answer.json["accepted"] == 2
        assert {r.id for r in ctx.live.records("warga")} == {"P-1", "P-2"}
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    writer = ctx.writers["warga"]
    deadline = time.monotonic() + 30
    while writer.spool.backlog("warga") and time.monotonic() < deadline:
        writer.replay_soon()
        time.sleep(0.2)
    assert history.count("warga") == 2, "the spooled delivery did not reach history within 30 s of the unlock"
    history.dispose()
