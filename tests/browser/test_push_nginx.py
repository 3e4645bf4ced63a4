"""The README's nginx configuration (push/nginx.example.conf), run for real on loopback
ports: gunicorn for `/`, two uvicorn push processes for `/push/`, and a wall screen in
headless chromium on push through it."""
from __future__ import annotations

import shutil
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import redis
import yaml

from engine.live import LiveStore
from engine.records import Incident
from push import tokens
from tests.push.conftest import ROOT, SECRET, PushProcess, WebProcess, free_port, push_env, screen_link
from tests.push.sse import Reader

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
EXAMPLE = ROOT / "push" / "nginx.example.conf"
STATUS = "window.dmy.push.status()"


def nginx_config(tmp: Path, listen: int, web: int, pushes: list[int]) -> Path:
    """The example site with its ports moved to free loopback ones, inside a main config
    that lets nginx run unprivileged from a temporary folder."""
    site = EXAMPLE.read_text()
    site = site.replace("listen 80;", f"listen 127.0.0.1:{listen};").replace("127.0.0.1:8050", f"127.0.0.1:{web}")
    site = site.replace("127.0.0.1:8051", f"127.0.0.1:{pushes[0]}").replace("127.0.0.1:8052", f"127.0.0.1:{pushes[1]}")
    (tmp / "damamaya.conf").write_text(site)
    main = tmp / "nginx.conf"
    temp = " ".join(f"{kind}_temp_path {tmp}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main.write_text(f"daemon off; pid {tmp}/nginx.pid; error_log {tmp}/error.log warn;\n"
                    f"events {{ worker_connections 1024; }}\n"
                    f"http {{ access_log off; {temp} include {tmp}/damamaya.conf; }}\n")
    return main


@pytest.fixture
def behind_nginx(tmp_path, embedded_redis_url):
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (Debian: apt-get install nginx)")
    listen, web_port, push_ports = free_port(), free_port(), [free_port(), free_port()]
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        "redis": {"url": embedded_redis_url, "prefix": "nginxtest"},
        "database": {"url": f"sqlite:///{tmp_path}/h.sqlite"},
        "wall": {"poll_seconds": 1},
        "web": {"host": "127.0.0.1", "port": web_port, "workers": 1, "threads": 4},
        "push": {"browser_url": "/push", "safety_poll_seconds": 60, "heartbeat_seconds": 1}}))
    live = LiveStore(redis.Redis.from_url(embedded_redis_url), "nginxtest")
    live.clear()
    live.describe_sources({"calls": {"title": "112", "kinds": ["incident"], "interval": 1}})
    env = push_env()
    web = WebProcess(cfg, web_port, env, tmp_path / "web.log")
    pushes = [PushProcess(cfg, port, {**env, "DAMAMAYA_PUSH_PORT": str(port)}, tmp_path / f"push{port}.log").start()
              for port in push_ports]
    conf = nginx_config(tmp_path, listen, web_port, push_ports)
    check = subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proxy = subprocess.Popen([NGINX, "-c", str(conf)], stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{listen}"
    for _ in range(100):
        try:
            httpx.get(f"{base}/push/health", timeout=2)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield base, pushes, live, f"sqlite:///{tmp_path}/h.sqlite"
    proxy.terminate()
    proxy.wait(10)
    for p in pushes:
        p.stop()
    web.stop()
    live.clear()


def incident(rid: str) -> Incident:
    t = datetime.now(timezone.utc)
    return Incident(id=rid, source="calls", category="fire", title=rid, reported_at=t, updated_at=t, lat=-8.65, lon=115.22)


def test_streams_through_nginx_reach_both_push_processes_unbuffered(behind_nginx):
    base, pushes, live, _ = behind_nginx
    screens = [Reader(f"{base}/push/events?token={tokens.mint(SECRET.encode(), f'wall-{i}', 60)}") for i in range(4)]
    try:
        for s in screens:
            s.wait_for(lambda e: e[0] == "hello")
            s.wait_for(lambda e: e == ("comment", "hb"))  # a 1 s heartbeat comes through: nothing is buffered
        held = [httpx.get(f"{p.url}/health", timeout=5).json()["screens"] for p in pushes]
        assert sum(held) == 4 and all(n >= 1 for n in held)  # nginx spread the screens over both processes
        version = live.apply("calls", [incident("through-nginx")])
        for s in screens:
            s.wait_for(lambda e: e[0] in ("message", "change") and e[1]["v"].get("calls") == version)

        # One push process dies: its screens' streams end, and their reconnects land on the other.
        pushes[0].kill()
        later = [Reader(f"{base}/push/events?token={tokens.mint(SECRET.encode(), f'again-{i}', 60)}") for i in range(3)]
        screens += later
        for s in later:
            s.wait_for(lambda e: e[0] == "hello")
        assert httpx.get(f"{pushes[1].url}/health", timeout=5).json()["screens"] >= held[1] + 3
    finally:
        for s in screens:
            s.close()


@pytest.mark.browser
def test_a_wall_behind_nginx_is_on_push_on_its_own_origin(behind_nginx, page):
    base, pushes, live, database = behind_nginx
    live.apply("calls", [incident("first")])
    page.goto(screen_link(base, database, "nginx-wall"))
    page.locator('.wall-grid .ag-row[row-id="calls:first"]').wait_for(timeout=30_000)
    page.wait_for_function(f"{STATUS}.mode === 'push' && {STATUS}.open", timeout=30_000)
    live.apply("calls", [incident("pushed")])
    page.locator('.wall-grid .ag-row[row-id="calls:pushed"]').wait_for(timeout=30_000)
    assert page.evaluate(STATUS)["mode"] == "push"
    assert page.evaluate(STATUS)["url"] == "/push/events"  # same origin: through nginx, no CORS
