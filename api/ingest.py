"""`POST /api/v1/ingest/<source>`: reports pushed by partner systems and citizen apps.

A source takes pushed reports when its config block has `ingest: {secret_env: NAME}`. The
body is whatever the source's adapter parses (Open311 POST requests, CAP, JSON
records...), and goes the same way as a polled feed: `parse_safely`, then the
source's `ResultWriter` into history and the live store (the spool when history
is down).

Each delivery is signed by the sender with the secret held in the environment
variable NAME (never in config.yaml):

    X-Damamaya-Timestamp: <unix seconds>
    X-Damamaya-Delivery:  <the sender's unique id for this delivery, 1-200 of A-Z a-z 0-9 . _ : ->
    X-Damamaya-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<delivery>." + raw body)>

Answers (JSON):
    202 {"accepted": n, "rejected": m, "rejects": [{"reason", "ref"}], "delivery": id, "spooled": bool}
    422 {"accepted": 0, "rejected": m, "rejects": [...]}  nothing usable (the rejects are kept in history)
    401 missing or bad signature, or a timestamp outside the window (`ingest.window_seconds`)
    404 no such source, or it takes no pushed reports
    409 that delivery id was taken before (ids are remembered in Redis for twice the
        window and in the history database for good)
    413 body over `ingest.max_body`
    503 the ingest secret is not set, or neither Redis nor the database can note the delivery
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import time
from dataclasses import dataclass, field

from flask import Blueprint, current_app, jsonify, request

from engine.pipeline import call_with_deadline
from engine.pipeline import HISTORY_ERRORS, LIVE_ERRORS, ResultWriter, Slow, parse_safely
from engine.records import utcnow

log = logging.getLogger("damamaya.ingest")

ingest_api = Blueprint("ingest_api", __name__)

DELIVERY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")
SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")
CONTEXT_KEY = "DAMAMAYA_INGEST"  # app.config key of an IngestContext; unset: built from damamaya.runtime


@dataclass
class IngestContext:
    """What the endpoint needs: the config, the stores, a writer and an adapter per pushed source."""

    config: object  # damamaya.config.AppConfig
    live: object  # engine.live.LiveStore
    history: object  # engine.history.History
    writers: dict[str, ResultWriter] = field(default_factory=dict)
    adapters: dict[str, object] = field(default_factory=dict)

    @classmethod
    def build(cls, config, live, history) -> "IngestContext":
        from damamaya.wiring import ingest_writers
        from data_sources import get_adapter

        writers = ingest_writers(config, live, history)
        adapters = {name: get_adapter(config.sources[name].adapter)(name, config.sources[name]) for name in writers}
        return cls(config, live, history, writers, adapters)


_default: IngestContext | None = None


def _context() -> IngestContext:
    global _default
    ctx = current_app.config.get(CONTEXT_KEY)
    if ctx is not None:
        return ctx
    if _default is None:
        from damamaya import runtime

        _default = IngestContext.build(runtime.config(), runtime.live(), runtime.history())
    return _default


def sign(secret: str, timestamp: str, delivery: str, body: bytes) -> str:
    """The X-Damamaya-Signature value of a delivery."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{delivery}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _answer(status: int, **body):
    return jsonify(body), status


@ingest_api.post("/api/v1/ingest/<source>")
def ingest(source: str):
    ctx = _context()
    writer, adapter = ctx.writers.get(source), ctx.adapters.get(source)
    if writer is None or adapter is None:
        return _answer(404, error=f"no source {source!r} takes pushed reports")
    rules = writer.config.ingest
    if request.content_length is not None and request.content_length > rules.max_body:
        return _answer(413, error=f"body over the {rules.max_body} byte limit")
    body = request.stream.read(rules.max_body + 1)
    if len(body) > rules.max_body:
        return _answer(413, error=f"body over the {rules.max_body} byte limit")
    secret = os.environ.get(rules.secret_env)
    if not secret:
        log.error("source %s: ingest secret variable %s is not set; refusing deliveries", source, rules.secret_env)
        return _answer(503, error="this source's ingest secret is not configured")
    problem = _authentic(secret, body, rules.window_seconds)
    if problem:
        return _answer(401, error=problem)
    delivery = request.headers["X-Damamaya-Delivery"]
    result = parse_safely(adapter, body)
    # the id is taken only by a delivery with something to store: one refused whole (422)
    # may be sent again, corrected, under the same id
    if result.records:
        first = _first_delivery(ctx, source, delivery, rules.window_seconds)
        if first is None:
            return _answer(503, error="cannot note the delivery id now (Redis and the database are down); retry later")
        if not first:
            return _answer(409, error=f"delivery {delivery} was taken before")
    now = utcnow()
    stored = writer.write(result, now)
    _note_health(ctx, source, writer, stored, now)
    rejects = [{"reason": r.reason, "ref": r.ref} for r in result.rejects[:100]]
    if not result.records:
        return _answer(422, accepted=0, rejected=len(result.rejects), rejects=rejects, delivery=delivery)
    return _answer(202, accepted=len(result.records), rejected=len(result.rejects), rejects=rejects,
                   delivery=delivery, spooled=stored.spooled)


def _authentic(secret: str, body: bytes, window: float) -> str | None:
    """Why the delivery is not authentic, or None."""
    timestamp = request.headers.get("X-Damamaya-Timestamp", "")
    delivery = request.headers.get("X-Damamaya-Delivery", "")
    given = SIGNATURE.match(request.headers.get("X-Damamaya-Signature", ""))
    if not timestamp.isdigit() or not DELIVERY_ID.match(delivery) or not given:
        return "X-Damamaya-Timestamp, X-Damamaya-Delivery and X-Damamaya-Signature: sha256=<hex> are required"
    if not hmac.compare_digest(sign(secret, timestamp, delivery, body), f"sha256={given.group(1).lower()}"):
        return "bad signature"
    if abs(time.time() - int(timestamp)) > window:
        return f"timestamp outside the {window:g} s window"
    return None


def _first_delivery(ctx: IngestContext, source: str, delivery: str, window: float) -> bool | None:
    """True the first time a delivery id comes, False after; None when neither Redis
    nor the database can say. Redis answers fast within the window (the timestamp
    check refuses anything older), the database remembers for good."""
    answers = []
    try:
        answers.append(ctx.live.take_delivery(source, delivery, 2 * window))
    except LIVE_ERRORS:
        pass
    try:  # bounded: a locked or hanging database must not hold the sender
        answers.append(call_with_deadline(lambda: ctx.history.remember_delivery(source, delivery), 2, Slow))
    except (Slow, *HISTORY_ERRORS):
        pass
    return all(answers) if answers else None


def _note_health(ctx: IngestContext, source: str, writer: ResultWriter, stored, now) -> None:
    """A pushed source's row on /sources: when it last delivered, and what."""
    try:
        health = ctx.live.health().get(source) or {
            "source": source, "title": writer.config.title or source, "adapter": writer.config.adapter,
            "interval": writer.config.interval, "stale_after": writer.config.stale_seconds, "polls": 0,
            "rejects_total": 0, "failures": 0, "owner": "ingest"}
        health.update(status="ok", last_update_success=True, last_success=now.isoformat(), last_attempt=now.isoformat(),
                      polls=health.get("polls", 0) + 1, rejects_last=stored.rejects,
                      rejects_total=health.get("rejects_total", 0) + stored.rejects)
        if stored.live_count is not None:
            health["records"] = stored.live_count
        if stored.changed or stored.removed:
            health["last_change"] = now.isoformat()
        ctx.live.set_health(source, health, bump=True)
    except LIVE_ERRORS:
        pass
