"""The real app (app.server) on a throwaway SQLite history and the session's embedded Redis."""
from __future__ import annotations

import os

import pytest
from secure_client import PASSWORD, ROLE_USERS, point_runtime_at, write_config


@pytest.fixture(scope="module")
def secured(tmp_path_factory, embedded_redis_url):
    """The app module, configured on a fresh history; yields (app_module, accounts)."""
    from security.principal import accounts

    tmp = tmp_path_factory.mktemp("secured")
    config = write_config(tmp / "config.yaml", embedded_redis_url, f"sqlite:///{tmp}/history.sqlite",
                          auth="  login_rate: 1000/minute")
    point_runtime_at(config)
    import app as app_module
    store = accounts()
    for role, name in ROLE_USERS.items():
        if store.user(name) is None:
            store.add_user(name, role, PASSWORD)
    yield app_module, store
    os.environ.pop("DAMAMAYA_CONFIG", None)


@pytest.fixture(scope="module")
def running_app(tmp_path_factory):
    """`damamaya run` as a user starts it (embedded Redis with its password, gunicorn, collector)
    on a free port; yields (base_url, first-start output lines, config path)."""
    import re
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    tmp = tmp_path_factory.mktemp("running")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp / "config.yaml"
    config.write_text(f"database:\n  url: sqlite:///{tmp}/history.sqlite\nweb:\n  host: 127.0.0.1\n  port: {port}\n"
                      f"  workers: 1\n  threads: 4\nlanguage: en\n")
    log = tmp / "run.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAMAMAYA_")}
    proc = subprocess.Popen([sys.executable, "-m", "damamaya.cli", "--config", str(config), "run"], cwd=root, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"damamaya run exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/login", timeout=2) as resp:
                    if resp.status == 200 and "/screen/" in log.read_text():
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the app did not answer within 90 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        text = log.read_text()
        password = re.search(r"as admin with the password (\S+)", text).group(1)
        screen_url = re.search(r"(http://\S+/screen/\S+)", text).group(1)
        yield {"base": base, "log": log, "password": password, "screen_url": screen_url, "config": config}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
