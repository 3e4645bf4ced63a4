"""Who is asking: a signed-in person (Flask-Login session), a wall screen (token cookie), or the public.

Resolved once per request into `g.principal`. A disabled user or a revoked screen
is the public from its next request on.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from flask import Flask, g, request, session
from flask_login import LoginManager, UserMixin, current_user

from engine.accounts import Accounts
from security.roles import PUBLIC, SCREEN

SCREEN_COOKIE = "dmy_screen"


@dataclass(frozen=True)
class Principal:
    kind: str  # user | screen | public
    name: str
    role: str
    screen_revoked: bool = False  # a screen cookie whose screen was revoked

    @property
    def signed_in(self) -> bool:
        return self.kind != "public"


ANONYMOUS = Principal("public", "", PUBLIC)


class SignedInUser(UserMixin):
    def __init__(self, name: str, role: str):
        self.id, self.name, self.role = name, name, role


@lru_cache(maxsize=8)
def _accounts_for(url: str) -> Accounts:
    accounts = Accounts(url)
    accounts.create()
    return accounts


def accounts() -> Accounts:
    """The accounts store of the running configuration (one per database URL)."""
    from damamaya import runtime

    return _accounts_for(runtime.config().database.url)


def install_login(app: Flask) -> LoginManager:
    manager = LoginManager()
    manager.session_protection = "basic"
    manager.init_app(app)

    @manager.user_loader
    def _load(name: str):
        user = accounts().user(name)
        if user is None or user.disabled:
            return None
        return SignedInUser(user.name, user.role)

    return manager


def resolve() -> Principal:
    """The principal of the current request (cached in flask.g)."""
    if "principal" in g:
        return g.principal
    g.principal = _resolve()
    return g.principal


def _resolve() -> Principal:
    # no user id in the session: nobody signed in (Flask-Login would say so after its own checks;
    # no remember-me cookie is ever issued), and a wall screen's checks skip loading one
    if "_user_id" in session and current_user.is_authenticated:
        return Principal("user", current_user.name, current_user.role)
    token = request.cookies.get(SCREEN_COOKIE)
    if token:
        screen = accounts().screen_for_token(token)
        if screen is not None and screen.revoked_at is None:
            return Principal("screen", screen.name, SCREEN)
        return Principal("public", "", PUBLIC, screen_revoked=True)
    return ANONYMOUS


def screen_identity() -> str | None:
    """The key of this wall in the screens' heartbeat, from the server's side only: the
    screen's registered name, or the signed-in user plus an id the server gave this
    browser session. None for anyone who is not a wall."""
    from security.roles import may

    who = resolve()
    if not may(who.role, "screen.heartbeat"):
        return None
    if who.kind == "screen":
        return f"screen:{who.name}"
    if "wall_id" not in session:
        session["wall_id"] = secrets.token_hex(3)
    name = re.sub(r"[^A-Za-z0-9_.@-]", "_", who.name)[:80]  # an SSO name may hold anything
    return f"{name}@{session['wall_id']}"


def remote_address() -> str:
    return request.remote_addr or "?"
