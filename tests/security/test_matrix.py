"""The whole role matrix against the real app: every principal x every page, every server
callback, every export and every action, as a browser would ask (signed-in test clients of
app.server, real Redis and SQLite). Allowed cells answer 200/204; refused cells 403, or a
redirect to sign-in for a page or export asked by the public."""
from __future__ import annotations

from datetime import datetime, timezone

import uuid

import pytest

from security import roles
from security.guard import ROUTER
from secure_client import ROLE_USERS, callback_body, client_as, post_callback

PRINCIPALS = roles.PRINCIPALS
VALUES = {("kpi-area-metric", "value"): "calls", ("kpi-area-level", "value"): "kecamatan", ("kpi-period", "value"): "7d"}


def _values() -> dict:
    from secure_client import wall_state

    return {**VALUES, ("wall-state", "data"): wall_state()}
INCIDENT_UID = "calls-112:c-1"


@pytest.fixture(scope="module")
def world(secured):
    """The app, one client per principal, and an incident with a caller's private details."""
    app_module, accounts = secured
    from damamaya import runtime
    from engine.records import Incident

    now = datetime.now(timezone.utc)
    history = runtime.history()
    history.create()
    history.apply("calls-112", [Incident(id="c-1", source="calls-112", category="fire", reported_at=now, updated_at=now,
                                         lat=-8.65, lon=115.22, title="Kebakaran",
                                         details={"private": {"caller_phone": "081234567890", "address": "Jl. Kenanga 7"}})])
    runtime.live().describe_sources({})
    screen_url = f"/screen/{accounts.add_screen(f'matrix-wall-{uuid.uuid4().hex[:6]}')}"
    clients = {p: client_as(app_module, p, screen_url) for p in PRINCIPALS}
    return app_module.app, clients


def _page_of_path(path: str) -> str:
    return roles.PAGE_PATHS[path]


def _expect(response, allowed: bool, principal: str, html: bool):
    if allowed:
        assert response.status_code in (200, 204), (principal, response.status_code, response.text[:300])
    elif html and principal == roles.PUBLIC:
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next="), (
            principal, response.status_code)
    else:
        assert response.status_code == 403, (principal, response.status_code, response.text[:200])


def _served_pages(app) -> list[str]:
    """Page paths this build serves: Dash pages plus server routes (/publik comes with open data)."""
    from security.guard import DASH_INDEX_ENDPOINTS

    rules = {r.rule for r in app.server.url_map.iter_rules() if r.endpoint not in DASH_INDEX_ENDPOINTS}
    dash_pages = {"/wall", "/sources", "/kpi", "/history", "/console"}
    return [p for p in roles.PAGE_PATHS if p in dash_pages or p in rules]


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_pages(world, principal):
    app, clients = world
    client = clients[principal]
    for path in _served_pages(app):
        query = f"?uid={INCIDENT_UID}" if path == "/insiden" else ""
        response = client.get(path + query)
        _expect(response, roles.may_open(principal, _page_of_path(path)), principal, html=True)


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_page_rendering_callback_follows_the_page(world, principal):
    """The callback that renders a page from the URL is refused for a page the role may not open."""
    app, clients = world
    router = [k for k in app.callback_map if "callback" in app.callback_map[k] and _router(app, k)]
    assert router, "no page-rendering callback found"
    for path in ("/wall", "/sources", "/kpi", "/history", "/console"):
        for key in router:
            body = callback_body(app, key, {("url", "pathname"): path, ("_pages_location", "pathname"): path})
            response = post_callback(clients[principal], body)
            _expect(response, roles.may_open(principal, _page_of_path(path)), principal, html=False)


def _router(app, key) -> bool:
    from security.guard import _declared_page

    return _declared_page(app.callback_map[key], key) == ROUTER


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_every_server_callback(world, principal):
    from security.guard import CallbackPages

    app, clients = world
    pages = CallbackPages(app.callback_map)
    assert pages.undeclared == [], "a callback whose module declares no PAGE is refused to everyone"
    checked = 0
    values = _values()
    for key, page in pages.pages.items():
        if page == ROUTER:
            continue
        response = post_callback(clients[principal], callback_body(app, key, values))
        _expect(response, roles.may_open(principal, page), principal, html=False)
        checked += 1
    assert checked >= 8


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_exports(world, principal):
    app, clients = world
    client = clients[principal]
    for path in ("/history/export.csv", "/history/export.geojson"):
        response = client.get(path + "?range=7d")
        _expect(response, roles.may_export(principal, "history"), principal, html=True)
        response.close()
    api = sorted(r.rule for r in app.server.url_map.iter_rules() if r.rule.startswith("/api/v1/") and "<" not in r.rule)
    for path in api:
        response = client.get(path)
        _expect(response, roles.may_export(principal, "open-data"), principal, html=True)


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_action_private_incident_details(world, secured, principal):
    """Only dispatcher and admin see the caller's number; each view is an audit row."""
    _, clients = world
    _, accounts = secured
    before = len(accounts.audit_rows(1000))
    response = clients[principal].get(f"/insiden?uid={INCIDENT_UID}")
    allowed = roles.may(principal, "incident.private")
    _expect(response, allowed, principal, html=True)
    rows = accounts.audit_rows(1000)
    if allowed:
        assert "081234567890" in response.text and "Jl. Kenanga 7" in response.text
        assert len(rows) == before + 1
        newest = rows[0]
        assert newest["record"] == INCIDENT_UID and newest["fields"] == "address,caller_phone"
        assert newest["actor"] == f"user:{ROLE_USERS[principal]}"
        assert newest["action"] == "incident.private"
    else:
        assert "081234567890" not in response.text
        assert len(rows) == before


CONSOLE_ACTIONS = {"acknowledge": "alarm.acknowledge", "resolve": "alarm.resolve", "release": "alarm.release",
                   "assign": "incident.assign", "status": "incident.status", "reopen": "incident.reopen",
                   "note": "incident.note"}


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_console_actions(world, principal):
    """Each console button, clicked (with nothing selected, so nothing changes): answered for the
    roles with that action's right, 403 for everyone else, whether or not they may open /console."""
    app, clients = world
    [key] = [k for k in app.callback_map if k.startswith("..console-feedback.children")]
    for button, right in CONSOLE_ACTIONS.items():
        body = callback_body(app, key, {(f"console-{button}", "n_clicks"): 1})
        body["changedPropIds"] = [f"console-{button}.n_clicks"]
        response = post_callback(clients[principal], body)
        _expect(response, roles.may(principal, right), principal, html=False)


def test_unknown_callback_is_refused_even_to_admin(world):
    app, clients = world
    body = {"output": "made-up.children", "outputs": {"id": "made-up", "property": "children"}, "inputs": [],
            "state": [], "changedPropIds": []}
    response = post_callback(clients["admin"], body)
    assert response.status_code == 403 and response.headers["X-Damamaya-Denied"] == "forbidden"


def test_a_route_not_in_the_matrix_is_refused(world):
    """Closed by default: a server route nobody named in security.roles answers 403 to every role."""
    app, clients = world
    from security.guard import CallbackPages, check

    server = app.server
    with server.test_request_context("/not-in-the-matrix"):
        from flask import request
        from werkzeug.routing import Rule

        request.url_rule = Rule("/not-in-the-matrix", endpoint="someone.new_route")
        from flask_login import login_user

        from security.principal import SignedInUser

        login_user(SignedInUser("ada", "admin"))
        refusal = check(CallbackPages({}))
    assert refusal is not None and refusal.status_code == 403
