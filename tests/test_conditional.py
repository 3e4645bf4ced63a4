"""An unchanged feed costs next to nothing: conditional HTTP requests (ETag, Last-Modified,
304), a file's unchanged stamp, and the same bytes as last stored all skip the parse,
and still count as a successful poll. Real HTTP server, real files, real Redis and SQLite."""
from __future__ import annotations

import email.utils
import os
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from data_sources import get_adapter
from engine.collector import SourceRunner
from engine.history import History
from engine.live import HEALTH, LiveStore
from engine.records import utcnow

QUAKE_TIME = (utcnow() - timedelta(hours=1)).replace(microsecond=0)


def quake(minutes_later: int = 0) -> bytes:
    when = (QUAKE_TIME + timedelta(minutes=minutes_later)).isoformat()
    return orjson.dumps({"Infogempa": {"gempa": {"DateTime": when, "Coordinates": "-8.65,115.22",
                                                 "Magnitude": "4.1", "Wilayah": "Denpasar"}}})


class Origin:
    """A real HTTP server with one document; it answers 304 to a matching If-None-Match or
    If-Modified-Since (as it is told to validate), and keeps the headers of every request."""

    def __init__(self, body: bytes, etag: bool = True, last_modified: bool = True):
        self.body, self.version = body, 1
        self.use_etag, self.use_modified = etag, last_modified
        self.modified = email.utils.formatdate(time.time() - 3600, usegmt=True)
        self.requests: list[dict] = []
        self.answers: list[int] = []
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                origin.requests.append(dict(self.headers))
                etag = f'"v{origin.version}"'
                fresh = (origin.use_etag and self.headers.get("If-None-Match") == etag) or (
                    origin.use_modified and self.headers.get("If-Modified-Since") == origin.modified)
                origin.answers.append(304 if fresh else 200)
                self.send_response(304 if fresh else 200)
                if origin.use_etag:
                    self.send_header("ETag", etag)
                if origin.use_modified:
                    self.send_header("Last-Modified", origin.modified)
                if fresh:
                    self.end_headers()
                    return
                self.send_header("Content-Length", str(len(origin.body)))
                self.end_headers()
                self.wfile.write(origin.body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/quake.json"

    def publish(self, body: bytes) -> None:
        self.body, self.version = body, self.version + 1
        self.modified = email.utils.formatdate(time.time() - 60 + self.version, usegmt=True)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def origin():
    servers = []

    def make(body: bytes = quake(), **kw) -> Origin:
        servers.append(Origin(body, **kw))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def live(redis_client):
    return LiveStore(redis_client, "cond")


@pytest.fixture
def history(tmp_path):
    h = History(f"sqlite:///{tmp_path}/h.sqlite")
    h.create()
    yield h
    h.dispose()


class CountingQuake(get_adapter("bmkg-quake")):
    """The real BMKG adapter, counting its parses."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.parses = 0

    def parse(self, raw: bytes):
        self.parses += 1
        return super().parse(raw)


def runner_for(live, history, **origin) -> SourceRunner:
    adapter = CountingQuake("quake", CountingQuake.Config(interval=5, timeout=5, **origin))
    return SourceRunner(adapter, live, history)


def old_file(path, body: bytes) -> None:
    """Write `body` and date the file a minute back (a stamp is trusted only when not racy)."""
    path.write_bytes(body)
    past = time.time() - 60
    os.utime(path, (past, past))


# ---- HTTP -------------------------------------------------------------------------------

def test_a_second_poll_sends_the_etag_and_a_304_is_parsed_never(origin, live, history):
    server = origin(last_modified=False)
    runner = runner_for(live, history, url=server.url)
    assert runner.poll().ok
    outcome = runner.poll()
    assert outcome.ok and outcome.unchanged
    assert server.requests[1].get("If-None-Match") == '"v1"' and server.answers == [200, 304]
    assert runner.adapter.parses == 1


def test_last_modified_alone_makes_the_poll_conditional(origin, live, history):
    server = origin(etag=False)
    runner = runner_for(live, history, url=server.url)
    runner.poll()
    assert runner.poll().unchanged
    assert server.requests[1].get("If-Modified-Since") == server.modified and "If-None-Match" not in server.requests[1]


def test_a_304_is_a_success_that_writes_no_live_version(origin, live, history):
    server = origin()
    runner = runner_for(live, history, url=server.url)
    first_at = utcnow()
    runner.poll(first_at)
    versions, head = live.versions(), live.stream_head()
    later = first_at + timedelta(seconds=40)
    runner.poll(later)
    health = live.health()["quake"]
    assert health["status"] == "ok" and health["last_success"] == later.isoformat()
    assert health["last_change"] == first_at.isoformat()
    assert live.versions()["quake"] == versions["quake"] and live.stream_head() == head
    assert history.count("quake") == 1


def test_a_changed_document_after_a_304_is_parsed_and_stored(origin, live, history):
    server = origin()
    runner = runner_for(live, history, url=server.url)
    runner.poll()
    runner.poll()
    server.publish(quake(minutes_later=5))
    outcome = runner.poll()
    assert outcome.ok and not outcome.unchanged and outcome.changed == 1
    assert len(live.records("quake")) == 2 and runner.adapter.parses == 2


def test_the_same_bytes_without_validators_skip_the_parse(origin, live, history):
    server = origin(etag=False, last_modified=False)
    runner = runner_for(live, history, url=server.url)
    runner.poll()
    outcome = runner.poll()
    assert outcome.ok and outcome.unchanged and server.answers == [200, 200]
    assert runner.adapter.parses == 1


def test_a_body_that_failed_is_fetched_in_full_and_fails_again(origin, live, history):
    server = origin(b'{"Infogempa": ')
    runner = runner_for(live, history, url=server.url)
    assert not runner.poll().ok
    outcome = runner.poll()
    assert not outcome.ok and "If-None-Match" not in server.requests[1]
    assert live.health()["quake"]["status"] == "failing"


def test_the_first_poll_after_a_restart_parses(origin, live, history):
    server = origin()
    runner_for(live, history, url=server.url).poll()
    restarted = runner_for(live, history, url=server.url)
    outcome = restarted.poll()
    assert outcome.ok and not outcome.unchanged and restarted.adapter.parses == 1
    assert "If-None-Match" not in server.requests[-1] and server.answers[-1] == 200


def test_a_record_that_ages_out_leaves_the_live_store_on_an_unchanged_feed(origin, live, history):
    server = origin()
    runner = runner_for(live, history, url=server.url)
    runner.poll()
    runner.writer._last_prune = 0.0  # the once-a-minute sweep is due
    outcome = runner.poll(utcnow() + timedelta(hours=25))
    assert outcome.ok and outcome.unchanged and outcome.removed == 1
    assert live.records("quake") == []


def test_health_version_is_not_bumped_by_every_unchanged_poll(origin, live, history):
    server = origin()
    runner = runner_for(live, history, url=server.url)
    at = utcnow()
    runner.poll(at)
    runner.poll(at + timedelta(seconds=1))
    bumped = live.versions()[HEALTH]
    runner.poll(at + timedelta(seconds=2))
    assert live.versions()[HEALTH] == bumped


# ---- files ------------------------------------------------------------------------------

def test_a_file_with_the_same_stamp_is_not_read(tmp_path, live, history):
    path = tmp_path / "quake.json"
    old_file(path, quake())
    runner = runner_for(live, history, path=str(path))
    runner.poll()
    stored = live.raw_records("quake")
    stamp = path.stat()
    # other bytes of the same size, the stamp put back: only a read would notice
    path.write_bytes(quake().replace(b"Denpasar", b"Badung!!"))
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    outcome = runner.poll()
    assert outcome.ok and outcome.unchanged and runner.adapter.parses == 1
    assert live.raw_records("quake") == stored


def test_a_touched_file_with_the_same_bytes_is_read_not_parsed(tmp_path, live, history):
    path = tmp_path / "quake.json"
    old_file(path, quake())
    runner = runner_for(live, history, path=str(path))
    runner.poll()
    old_file(path, quake())
    os.utime(path, (time.time() - 30, time.time() - 30))
    assert runner.poll().unchanged and runner.adapter.parses == 1


def test_a_changed_file_is_parsed(tmp_path, live, history):
    path = tmp_path / "quake.json"
    old_file(path, quake())
    runner = runner_for(live, history, path=str(path))
    runner.poll()
    path.write_bytes(quake(minutes_later=5))
    outcome = runner.poll()
    assert outcome.ok and outcome.changed == 1 and runner.adapter.parses == 2


def test_a_file_written_just_now_is_read_again(tmp_path, live, history):
    """Within the clock's resolution a rewrite may keep the stamp: a fresh stamp is not trusted."""
    path = tmp_path / "quake.json"
    path.write_bytes(quake())
    runner = runner_for(live, history, path=str(path))
    runner.poll()
    assert runner.adapter.validators.stamp is None
    stamp = path.stat()
    path.write_bytes(quake(minutes_later=5))
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert runner.poll().changed == 1
