"""What the security layer costs per request, in process (Flask test client of app.server).

    .venv/bin/python bench/bench_security.py --repeat 500

Starts an embedded Redis and a temp SQLite history, then times, as the median and p95
of --repeat requests after a warm-up:
- a quiet wall poll (204) by a wall screen (token cookie: one hash lookup per request),
  by a signed-in operator (session cookie: one user lookup per request), and the same
  poll's callback function called directly (no HTTP, no security): the difference is
  the guard, CSRF check, session and headers;
- a refused poll (403) of a role that may not open the wall;
- GET /login (the server-rendered sign-in page);
- one password check (argon2id, the price of a sign-in).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "security"))


def timed(fn, repeat: int) -> tuple[float, float]:
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    from damamaya.redis_server import EmbeddedRedis
    from secure_client import PASSWORD, callback_body, client_as, point_runtime_at, post_callback, write_config

    redis_server = EmbeddedRedis()
    url = redis_server.start()
    tmp = Path(tempfile.mkdtemp())
    point_runtime_at(write_config(tmp / "config.yaml", url, f"sqlite:///{tmp}/h.sqlite"))
    import app as app_module
    from callbacks import wall
    from security.principal import accounts

    store = accounts()
    store.add_user("oka", "operator", PASSWORD)
    store.add_user("ani", "analyst", PASSWORD)
    screen = client_as(app_module, "screen", f"/screen/{store.add_screen('bench')}")
    operator = client_as(app_module, "operator")
    analyst = client_as(app_module, "analyst")
    key = next(k for k in app_module.app.callback_map if "wall-state.data" in k)
    from secure_client import wall_state

    first = post_callback(screen, callback_body(app_module.app, key, {("wall-state", "data"): wall_state()})).get_json()
    state = first["response"]["wall-state"]["data"]
    body = callback_body(app_module.app, key, {("wall-state", "data"): state})
    for client in (screen, operator, analyst):
        client.environ_base["HTTP_X_CSRFTOKEN"] = client.get_cookie("_csrf_token").value

    def direct():
        try:
            wall.poll(dict(state))
        except Exception:  # noqa: BLE001 - PreventUpdate is the quiet answer
            pass

    rows = [
        ("wall poll, screen token (204)", lambda: screen.post("/_dash-update-component", json=body)),
        ("wall poll, operator session (204)", lambda: operator.post("/_dash-update-component", json=body)),
        ("wall poll refused, analyst (403)", lambda: analyst.post("/_dash-update-component", json=body)),
        ("wall poll function, no HTTP", direct),
        ("GET /login", lambda: operator.get("/login")),
        ("argon2id password check", lambda: store.authenticate("oka", PASSWORD)),
    ]
    assert screen.post("/_dash-update-component", json=body).status_code == 204
    assert analyst.post("/_dash-update-component", json=body).status_code == 403
    print(f"{'request':40} {'p50 ms':>8} {'p95 ms':>8}")
    for label, fn in rows:
        p50, p95 = timed(fn, args.repeat if "argon2" not in label else max(10, args.repeat // 20))
        print(f"{label:40} {p50:8.2f} {p95:8.2f}")
    redis_server.stop()
    os.environ.pop("DAMAMAYA_CONFIG", None)


if __name__ == "__main__":
    main()
