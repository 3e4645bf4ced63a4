"""The real app (app.server) for the console's callbacks: a temp SQLite history, the session's
embedded Redis under a prefix of each test's own, config.yaml's shipped alert rules and
agencies; callbacks posted to /_dash-update-component as dash-renderer posts them, by
test clients signed in as a role."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
import yaml

from engine.config import DEFAULT_CONFIG
from engine.records import Incident, utcnow

SOURCE = "ntpc-112"


def _write_config(path, redis_url: str, database_url: str, prefix: str) -> None:
    shipped = yaml.safe_load(DEFAULT_CONFIG.read_text())
    path.write_text(yaml.safe_dump({
        "language": "en", "redis": {"url": redis_url, "prefix": prefix}, "database": {"url": database_url},
        "auth": {"login_rate": "1000/minute"}, "alerts": shipped["alerts"], "agencies": shipped["agencies"]}))


def _clear_runtime() -> None:
    from damamaya import runtime

    for fn in (runtime.config, runtime.redis_client, runtime.live, runtime.history):
        fn.cache_clear()


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('console')}/history.sqlite"


@pytest.fixture(scope="module")
def pg_database_url():
    """A schema of its own in the test PostgreSQL for one module, dropped afterwards."""
    import os

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    base = os.environ.get("DAMAMAYA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    schema = f"dmy_console_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as conn:
            conn.execute(text(f'create schema "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {base}: {type(exc).__name__}")
    yield f"{base}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'drop schema "{schema}" cascade'))
    admin.dispose()


@pytest.fixture
def app_module(tmp_path, database_url, embedded_redis_url, monkeypatch):
    """The app, configured on this test's own Redis prefix (its live store starts empty)."""
    prefix = f"cons{uuid.uuid4().hex[:8]}"
    config = tmp_path / "config.yaml"
    _write_config(config, embedded_redis_url, database_url, prefix)
    monkeypatch.setenv("DAMAMAYA_CONFIG", str(config))
    monkeypatch.delenv("DAMAMAYA_REDIS_URL", raising=False)
    monkeypatch.delenv("DAMAMAYA_DATABASE_URL", raising=False)
    _clear_runtime()
    import app

    yield app
    from damamaya import runtime

    client = runtime.redis_client()
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    _clear_runtime()


@dataclass
class World:
    """The stores the app reads, and ways to put an incident and its alarm into them."""

    def __post_init__(self):
        from damamaya import runtime
        from engine.alerts import alerts_of

        self.config = runtime.config()
        self.live = runtime.live()
        self.history = runtime.history()
        self.history.create()
        self.alerts = alerts_of(self.config, self.live, self.history)

    def incident(self, title: str = "Kebakaran gudang", **fields) -> Incident:
        """A new incident of the 112 source, in the history store (what the engine checks) and the live store."""
        now = utcnow()
        values = {"id": f"T{uuid.uuid4().hex[:8]}", "source": SOURCE, "category": "fire", "severity": "critical",
                  "reported_at": now - timedelta(minutes=3), "updated_at": now, "lat": -8.65, "lon": 115.22,
                  "kecamatan": "Denpasar Barat", "title": title, **fields}
        record = Incident(**values)
        self.history.apply(record.source, [record])
        self.live.apply(record.source, [record])
        return record

    def fire(self, record: Incident, level: str = "critical", rule: str = "call-112-critical") -> dict:
        from engine.alerts.alarms import Firing

        [done] = self.alerts.alarms.apply([Firing(rule=rule, source=record.source, subject=record.id, level=level,
                                                  message_id=f"Panggilan 112: {record.title}",
                                                  message_en=f"112 call: {record.title}")])
        return done.alarm


@pytest.fixture
def world(app_module) -> World:
    return World()


def callback_request(app, output_part: str, values: dict, changed: str | None) -> dict:
    """The body a browser posts for the callback whose outputs mention `output_part`, with
    `values` by "id.property" (inputs and states not given are None)."""
    key = next(k for k in app.callback_map if output_part in k and "callback" in app.callback_map[k])
    spec = app.callback_map[key]

    def item(dep):
        return {"id": dep["id"], "property": dep["property"], "value": values.get(f"{dep['id']}.{dep['property']}")}

    multi = key.startswith("..")
    outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]} for o in key.strip(".").split("...")]
    return {"output": key, "outputs": outputs if multi else outputs[0], "inputs": [item(d) for d in spec["inputs"]],
            "state": [item(d) for d in spec["state"]], "changedPropIds": [changed] if changed else []}


@pytest.fixture
def post(app_module, sign_in_as):
    """post(role, output_part, values, changed) -> the response of the console callback."""
    clients = {}

    def send(role: str, output_part: str, values: dict, changed: str | None = None):
        if role not in clients:
            clients[role] = sign_in_as(app_module.server, role)
        body = callback_request(app_module.app, output_part, values, changed)
        return clients[role].post("/_dash-update-component", json=body)

    return send
