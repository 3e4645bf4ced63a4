"""`damamaya run` as a new user starts it: a first start that logs no traceback, and a
Ctrl+C (SIGINT to the whole foreground process group, as a terminal sends it) that stops
the collector and the web server before the embedded Redis, so no source reports Redis
as unavailable on the way out."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def _sources_stored(db: Path) -> int:
    """How many sources the collector stored records of (the seeded past has its own `seed-*` sources)."""
    import sqlite3

    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT COUNT(DISTINCT source) FROM records WHERE source NOT LIKE 'seed-%'").fetchone()[0]
    except sqlite3.Error:
        return 0


def _wait(condition, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"{what} within {seconds:g} s; log:\n{log.read_text(errors='replace')[-3000:]}")


def test_first_start_and_ctrl_c_log_no_error(tmp_path):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    port = free_port()
    config["web"] = {**config.get("web", {}), "host": "127.0.0.1", "port": port}
    config["database"] = {"url": f"sqlite:///{tmp_path}/history.sqlite"}
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    log = tmp_path / "run.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAMAMAYA_")}
    proc = subprocess.Popen([sys.executable, "-m", "damamaya.cli", "--config", str(cfg), "run", "--demo-history", "2000"],
                            cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(lambda: _answers(f"http://127.0.0.1:{port}/wall"), 120, "the wall did not answer", log)
        _wait(lambda: "polling" in log.read_text(errors="replace"), 30, "the collector did not start", log)
        # several demo sources polled and stored at once (with their analytics rollups), beside the seeded past
        _wait(lambda: _sources_stored(tmp_path / "history.sqlite") >= 3, 60,
              "three demo sources did not store records", log)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl+C in a terminal does
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    assert "Redis unavailable" not in text, text[-3000:]
    assert " ERROR " not in text, text[-3000:]
    assert proc.returncode == 0, text[-3000:]


def test_embedded_redis_outlives_a_terminal_ctrl_c():
    """The terminal's SIGINT reaches the embedded server too; it must keep serving until its
    owner stops it (after the collector), and stop when told."""
    import redis

    from damamaya.redis_server import EmbeddedRedis

    server = EmbeddedRedis()
    client = redis.Redis.from_url(server.start())
    try:
        os.kill(server.server._process.pid, signal.SIGINT)
        time.sleep(0.5)
        assert client.ping()
    finally:
        server.stop()
    try:
        client.ping()
        alive = True
    except redis.ConnectionError:
        alive = False
    assert not alive
