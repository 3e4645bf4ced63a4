"""Helpers for tests against the real app: configure it, sign a test client in as a role or a
wall screen, and post Dash callback requests as dash-renderer does."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

PASSWORD = "correct horse battery staple"
ROLE_USERS = {"admin": "ada", "supervisor": "sutri", "operator": "oka", "dispatcher": "dewi", "pimpinan": "pak-wali",
              "analyst": "ani"}


def write_config(path: Path, redis_url: str, database_url: str, **extra: str) -> Path:
    lines = [f"redis:\n  url: {redis_url}\n  prefix: sectest", f"database:\n  url: {database_url}", "language: en"]
    lines += [f"{key}:\n{value}" for key, value in extra.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def point_runtime_at(config: Path | str) -> None:
    """Make the process-wide handles (damamaya.runtime) read `config` from now on."""
    from damamaya import runtime

    os.environ["DAMAMAYA_CONFIG"] = str(config)
    for name in ("DAMAMAYA_REDIS_URL", "DAMAMAYA_DATABASE_URL"):
        os.environ.pop(name, None)
    for fn in (runtime.config, runtime.redis_client, runtime.live, runtime.history):
        fn.cache_clear()


def csrf_of(client) -> str:
    cookie = client.get_cookie("_csrf_token")
    if cookie is None:
        client.get("/login")
        cookie = client.get_cookie("_csrf_token")
    return cookie.value


def sign_in(client, name: str, password: str = PASSWORD, next_path: str = ""):
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token, "next": next_path})


def client_as(app_module, principal: str, screen_url: str | None = None):
    """A test client of the real server signed in as `principal`: a role, "screen" (with the
    screen link `screen_url`) or "public"."""
    client = app_module.server.test_client()
    if principal in ROLE_USERS:
        response = sign_in(client, ROLE_USERS[principal])
        assert response.status_code == 303, response.text
    elif principal == "screen":
        response = client.get(screen_url)
        assert response.status_code == 303 and response.headers["Location"] == "/wall"
    return client


# ---- Dash callback requests, as dash-renderer sends them ------------------------------------

def _parts(key: str) -> list[tuple[object, str]]:
    multi = key.startswith("..") and key.endswith("..")
    parts = key[2:-2].split("...") if multi else [key]
    out = []
    for part in parts:
        ident, prop = part.rsplit(".", 1)
        out.append((json.loads(ident) if ident.startswith("{") else ident, prop))
    return out, multi


def _wild(ident) -> bool:
    return isinstance(ident, dict) and any(isinstance(v, list) for v in ident.values())


DEFAULTS = {"n_intervals": 1, "pathname": "/wall", "search": "", "n_clicks": None}


def callback_body(app, key: str, values: dict | None = None) -> dict:
    """The body of a POST to /_dash-update-component for the callback `key`, with each input
    and state given by `values[(id, property)]` or a neutral default."""
    values = values or {}
    spec = app.callback_map[key]
    parts, multi = _parts(key)
    outputs = [[] if _wild(i) else {"id": i, "property": p} for i, p in parts]

    def item(dep):
        ident, prop = dep["id"], dep["property"]
        ident = json.loads(ident) if isinstance(ident, str) and ident.startswith("{") else ident
        if _wild(ident):
            return []
        return {"id": ident, "property": prop, "value": values.get((ident, prop), DEFAULTS.get(prop))}

    inputs = [item(d) for d in spec["inputs"]]
    first = next((i for i in inputs if isinstance(i, dict)), None)
    return {"output": key, "outputs": outputs if multi else outputs[0], "inputs": inputs,
            "state": [item(d) for d in spec["state"]],
            "changedPropIds": [f"{first['id']}.{first['property']}"] if first and isinstance(first["id"], str) else []}


def post_callback(client, body: dict, csrf: str | None = "cookie"):
    headers = {}
    if csrf == "cookie":
        headers["X-CSRFToken"] = csrf_of(client)
    elif csrf:
        headers["X-CSRFToken"] = csrf
    return client.post("/_dash-update-component", json=body, headers=headers)


def wall_state() -> dict:
    """A wall's first state as the server hands it out (what every poll sends back)."""
    from engine.wall.state import new_screen_id
    from layouts.parts import wall as parts

    return parts.model().snapshot(new_screen_id()).state.model_dump()
