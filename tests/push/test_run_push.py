"""`damamaya run` starts the push process beside the collector and web server, and brings
it back when it dies (the walls poll meanwhile) instead of stopping everything."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from tests.push.conftest import ROOT, free_port


def _children(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


def _push_health(port: int) -> dict | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/push/health", timeout=2).json()
    except httpx.HTTPError:
        return None


def _wait(condition, seconds: float, what: str, log: Path):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"{what} within {seconds:g} s; log:\n{log.read_text(errors='replace')[-3000:]}")


def test_run_starts_push_and_restarts_it_when_it_dies(tmp_path):
    web_port, push_port = free_port(), free_port()
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"database": {"url": f"sqlite:///{tmp_path}/h.sqlite"}, "sources": {},
                                   "web": {"host": "127.0.0.1", "port": web_port, "workers": 1},
                                   "push": {"port": push_port}}))
    log = tmp_path / "run.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAMAMAYA_")}
    proc = subprocess.Popen([sys.executable, "-m", "damamaya.cli", "--config", str(cfg), "run"], cwd=ROOT, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(lambda: (_push_health(push_port) or {}).get("subscribed"), 90, "push did not subscribe", log)
        push_pid = next(p for p in _children(proc.pid)
                        if b"push" in Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0"))
        os.kill(push_pid, signal.SIGKILL)
        _wait(lambda: push_pid not in _children(proc.pid), 10, "the killed push process was not reaped", log)
        _wait(lambda: (_push_health(push_port) or {}).get("subscribed"), 60, "push did not come back", log)
        assert proc.poll() is None  # the collector and the web server were not stopped for it
        assert "restarting it" in log.read_text()
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, log.read_text()[-3000:]
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
