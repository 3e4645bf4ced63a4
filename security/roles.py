"""The one owner of who may do what: pages (with their callbacks), exports, actions and routes.

A callback belongs to the page its callbacks module declares (`PAGE = "wall"`), so
"may open the page" and "may run its callbacks" are one rule. Anything not named
here is refused (see security/guard.py).
"""
from __future__ import annotations

from engine.accounts import ROLES

PUBLIC = "public"  # anyone, signed in or not
SCREEN = "screen"  # an unattended wall browser signed in by token
PRINCIPALS = ROLES + (SCREEN, PUBLIC)

_WALL = frozenset({"operator", "dispatcher", "supervisor", "admin", SCREEN})
_EVERYONE = frozenset(PRINCIPALS)
_CONSOLE = frozenset({"operator", "dispatcher", "supervisor", "admin"})  # people at desks act on the wall
_SUPERVISORS = frozenset({"supervisor", "admin"})

PAGES: dict[str, frozenset[str]] = {
    "wall": _WALL,
    "sources": frozenset({"operator", "supervisor", "admin"}),
    "kpi": frozenset({"pimpinan", "supervisor", "analyst", "admin"}),
    "history": frozenset({"analyst", "supervisor", "admin", "pimpinan"}),  # pimpinan: view, no export
    "insiden": frozenset({"dispatcher", "admin"}),  # one incident with the caller's private details
    "console": _CONSOLE,  # the operator console: alarm queue, incidents, actions (layouts/console.py)
    "publik": _EVERYONE,
}

# The path each page is served at (Dash page or server-rendered route).
PAGE_PATHS: dict[str, str] = {"/wall": "wall", "/sources": "sources", "/kpi": "kpi", "/history": "history",
                              "/insiden": "insiden", "/publik": "publik", "/console": "console"}

EXPORTS: dict[str, frozenset[str]] = {
    "history": frozenset({"analyst", "supervisor", "admin"}),  # /history/export.csv and .geojson
    "open-data": _EVERYONE,  # /api/v1/: public incidents, warnings, prices
}

ACTIONS: dict[str, frozenset[str]] = {
    "incident.private": frozenset({"dispatcher", "admin"}),  # see a caller's number and exact address (audited)
    "screen.heartbeat": _WALL,  # count as a live wall on /sources
    # the console's actions (callbacks/console.py), each written by engine.alerts with its audit row
    "alarm.acknowledge": _CONSOLE,
    "alarm.resolve": _SUPERVISORS,  # end an alarm whatever its condition says
    "alarm.release": _SUPERVISORS,  # release the wall from an alarm's event mode
    "incident.assign": _CONSOLE,  # hand an incident to an agency (and unit) of config.yaml `agencies:`
    "incident.status": _CONSOLE,  # move its operational status forward
    "incident.reopen": _CONSOLE,  # take a closed incident back to an open status, with a reason
    "incident.note": _CONSOLE,
}

# Server routes that are not pages, by path prefix (first match): what each needs.
# "signed": the route authenticates each request itself (an HMAC over the body, no
# cookies), so no session, role or CSRF token applies; it bounds its own body size.
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("/api/v1/ingest/", "signed", "push"),  # partner systems push reports (api/ingest.py)
    ("/history/export.", "export", "history"),
    ("/analytics/topojson/", "pages", "kpi,history"),  # the area maps of /kpi and /history
    ("/wall/data/", "pages", "wall"),  # the wall's map layers, clusters and boundaries (api/wall_data.py)
    ("/wall/idle", "pages", "wall"),  # the wall's idle check: anything newer than it holds? (api/wall_idle.py)
    ("/api/v1/", "export", "open-data"),
)

# The first page each role lands on after sign-in (and at "/").
HOME: dict[str, str] = {"admin": "/wall", "supervisor": "/wall", "operator": "/wall", "dispatcher": "/wall",
                        "pimpinan": "/kpi", "analyst": "/history", SCREEN: "/wall", PUBLIC: "/publik"}


def may_open(role: str, page: str) -> bool:
    return role in PAGES.get(page, ())


def may_export(role: str, export: str) -> bool:
    return role in EXPORTS.get(export, ())


def may(role: str, action: str) -> bool:
    return role in ACTIONS.get(action, ())


def route_allows(role: str, path: str) -> bool | None:
    """True/False for a route named in ROUTES, None for a path not named there."""
    for prefix, kind, name in ROUTES:
        if path.startswith(prefix):
            if kind == "signed":
                return True
            if kind == "export":
                return may_export(role, name)
            return any(may_open(role, page) for page in name.split(","))
    return None


def signed_route(path: str) -> bool:
    """A route that checks its own signature (and body size): no cookies, no CSRF token."""
    kind = next((kind for prefix, kind, _ in ROUTES if path.startswith(prefix)), None)
    return kind == "signed"


def pages_of(role: str) -> list[str]:
    return [page for page, roles in PAGES.items() if role in roles]


def table() -> list[dict]:
    """The matrix as rows, one per role: what the README's table shows."""
    rows = []
    for role in PRINCIPALS:
        rows.append({"role": role, "pages": pages_of(role),
                     "exports": [e for e, roles in EXPORTS.items() if role in roles],
                     "actions": [a for a, roles in ACTIONS.items() if role in roles]})
    return rows
