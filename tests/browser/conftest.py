"""Browser tests: the whole app started as a user starts it, driven in Debian's headless chromium."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("DAMAMAYA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM}: `apt-get install chromium chromium-driver` (scripts/test does it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    # bypass_csp: Playwright's wait_for_function evaluates its predicate with eval, which the
    # app's Content-Security-Policy forbids; tests/security/test_browser_csp.py drives the
    # screens under the real policy.
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, accept_downloads=True, bypass_csp=True)
    pg = context.new_page()
    yield pg
    context.close()


class RunningApp:
    def __init__(self, base_url: str, proc: subprocess.Popen, config_path: Path, log_path: Path):
        self.base_url, self.proc, self.config_path, self.log_path = base_url, proc, config_path, log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def _accounts(self):
        from engine.accounts import Accounts

        accounts = Accounts(yaml.safe_load(self.config_path.read_text())["database"]["url"])
        accounts.create()
        return accounts

    def sign_in(self, page, role: str = "admin", next_path: str = "/wall") -> None:
        """Sign `page` in as a user of `role` (made if missing) through the sign-in form."""
        name, password = f"browser-{role}", "a browser test password"
        accounts = self._accounts()
        try:
            if accounts.user(name) is None:
                accounts.add_user(name, role, password)
        finally:
            accounts.dispose()
        page.goto(f"{self.base_url}/login?next={next_path}")
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"**{next_path.split('?')[0]}*", timeout=30000)

    def screen_url(self, name: str = "browser-wall") -> str:
        """A wall screen's link (a new screen each call with a suffix if the name is taken)."""
        import secrets

        accounts = self._accounts()
        try:
            taken = {s.name for s in accounts.screens()}
            token = accounts.add_screen(name if name not in taken else f"{name}-{secrets.token_hex(3)}")
        finally:
            accounts.dispose()
        return f"{self.base_url}/screen/{token}"


@pytest.fixture
def start_app(tmp_path):
    """start_app(config_dict) runs `damamaya run` (embedded Redis unless the config names one)
    on a free port and returns a RunningApp once /wall answers."""
    running: list[RunningApp] = []

    def start(config: dict, timeout: float = 90) -> RunningApp:
        port = free_port()
        config = {**config, "web": {"host": "127.0.0.1", "port": port, "workers": 2, "threads": 4, **config.get("web", {})}}
        config.setdefault("database", {"url": f"sqlite:///{tmp_path}/history.sqlite"})
        cfg = tmp_path / "config.yaml"
        cfg.write_text(yaml.safe_dump(config))
        log_path = tmp_path / "app.log"
        env = {k: v for k, v in os.environ.items() if k not in ("DAMAMAYA_REDIS_URL", "DAMAMAYA_DATABASE_URL", "DAMAMAYA_CONFIG")}
        proc = subprocess.Popen([sys.executable, "-m", "damamaya.cli", "--config", str(cfg), "run"], cwd=ROOT, env=env,
                                stdout=log_path.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        app = RunningApp(f"http://127.0.0.1:{port}", proc, cfg, log_path)
        running.append(app)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"damamaya run exited with {proc.returncode}:\n{app.log()}")
            try:
                with urllib.request.urlopen(f"{app.base_url}/wall", timeout=2) as resp:
                    if resp.status == 200:
                        return app
            except OSError:
                time.sleep(0.3)
        pytest.fail(f"the app did not answer within {timeout} s:\n{app.log()}")

    yield start
    for app in running:
        if app.proc.poll() is None:
            os.killpg(app.proc.pid, signal.SIGTERM)
            try:
                app.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(app.proc.pid, signal.SIGKILL)
