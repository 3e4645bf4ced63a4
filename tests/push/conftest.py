"""The real push process (`damamaya push`) on a free port, against the session's embedded Redis."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-push-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PushProcess:
    def __init__(self, config_path: Path, port: int, env: dict, log_path: Path):
        self.config_path, self.port, self.env, self.log_path = config_path, port, env, log_path
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{port}/push"

    def start(self, timeout: float = 30) -> "PushProcess":
        self.proc = subprocess.Popen([sys.executable, "-m", "damamaya.cli", "--config", str(self.config_path), "push"],
                                     cwd=ROOT, env=self.env, stdout=self.log_path.open("a"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"damamaya push exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).json()["subscribed"]:
                    return self
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        pytest.fail(f"push did not subscribe within {timeout} s:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def write_config(tmp_path: Path, redis_url: str, port: int, **push) -> Path:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"redis": {"url": redis_url, "prefix": "dmy"},
                                   "database": {"url": f"sqlite:///{tmp_path}/h.sqlite"},
                                   "push": {"port": port, **push}}))
    return cfg


def push_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAMAMAYA_")}
    env["DAMAMAYA_PUSH_SECRET"] = SECRET
    return env


@pytest.fixture(scope="module")
def push_server(tmp_path_factory, embedded_redis_url):
    """One `damamaya push` (heartbeat every second) for a test module, once subscribed."""
    tmp = tmp_path_factory.mktemp("push")
    port = free_port()
    proc = PushProcess(write_config(tmp, embedded_redis_url, port, heartbeat_seconds=1), port, push_env(), tmp / "push.log")
    proc.start()
    yield proc
    proc.stop()


class WebProcess:
    """`damamaya web` (gunicorn, one worker) with the given config, once /wall answers."""

    def __init__(self, config_path: Path, port: int, env: dict, log_path: Path, timeout: float = 90):
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.proc = subprocess.Popen([sys.executable, "-m", "damamaya.cli", "--config", str(config_path), "web"], cwd=ROOT,
                                     env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.base}/login", timeout=3).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                pytest.fail(f"web did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def screen_link(base: str, database_url: str, name: str) -> str:
    """A wall screen's sign-in link (`/screen/<token>`), as an admin hands it out."""
    from engine.accounts import Accounts

    accounts = Accounts(database_url)
    accounts.create()
    try:
        return f"{base}/screen/{accounts.add_screen(name)}"
    finally:
        accounts.dispose()
