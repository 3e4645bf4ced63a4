"""Who may use the control room: people, unattended wall screens, and the audit trail.

Tables in the history database (beside the records, so one backup holds them all):
- `users`: local accounts (argon2id password hash) and accounts met through
  OpenID Connect (no password); a disabled user cannot sign in and loses any session.
- `wall_screens`: one row per unattended wall browser; only the SHA-256 of its
  token is stored (the token is 256 random bits, so a slow hash adds nothing).
- `audit_log`: who saw which private fields of which record, and when.
- `app_secrets`: the key that signs session cookies, made once and shared by every
  web worker, so sessions survive a restart.

No Flask here: the web side (security/) and the CLI both use this module.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, Text, func, select, update
from sqlalchemy.exc import IntegrityError

from engine.history import UtcDateTime, make_engine, schema_lock
from engine.records import utcnow

ROLES = ("admin", "supervisor", "operator", "dispatcher", "pimpinan", "analyst")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,79}$")
MIN_PASSWORD = 10

metadata = MetaData()

users = Table(
    "users", metadata,
    Column("name", String(80), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200)),
    Column("origin", String(8), nullable=False, default="local"),  # local | oidc
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_login", UtcDateTime()),
)

wall_screens = Table(
    "wall_screens", metadata,
    Column("name", String(80), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime()),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False, index=True),
    Column("actor", String(100), nullable=False),
    Column("action", String(40), nullable=False),
    Column("record", String(400), nullable=False),
    Column("fields", Text, nullable=False),
    Column("remote", String(64)),
)

app_secrets = Table(
    "app_secrets", metadata,
    Column("name", String(40), primary_key=True),
    Column("value", String(200), nullable=False),
)


class AccountError(ValueError):
    """A refused account operation, in one readable line."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    origin: str
    disabled: bool
    created_at: datetime
    last_login: datetime | None


@dataclass(frozen=True)
class Screen:
    name: str
    created_at: datetime
    revoked_at: datetime | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise AccountError(f"{name!r}: a name is 1-80 letters, digits or _.@- and starts with a letter or digit")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    return role


# Who a session or a screen link is, read on every request (a wall polls every second or
# two): kept in this process for a second. A change made here is seen at once; one made by
# another process (`damamaya screens revoke`) within READ_CACHE_SECONDS, before a wall's next poll.
READ_CACHE_SECONDS = 1.0
_recent: dict[tuple, tuple[float, object]] = {}


def _remembered(key: tuple, load):
    now = time.monotonic()
    hit = _recent.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = load()
    if len(_recent) > 10_000:
        _recent.clear()
    _recent[key] = (now + READ_CACHE_SECONDS, value)
    return value


def _changed() -> None:
    _recent.clear()


class Accounts:
    """Users, wall screens and the audit log in the database at `url` (or on an engine)."""

    def __init__(self, url: str | None = None, engine=None):
        self.engine = engine if engine is not None else make_engine(url)
        self._hasher = PasswordHasher()

    def create(self) -> None:
        with self.engine.begin() as conn:
            schema_lock(conn)
            metadata.create_all(conn)

    def dispose(self) -> None:
        self.engine.dispose()

    # ---- users ---------------------------------------------------------------------------
    def add_user(self, name: str, role: str, password: str) -> User:
        check_name(name)
        check_role(role)
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")
        row = {"name": name, "role": role, "password_hash": self._hasher.hash(password), "origin": "local",
               "disabled": False, "created_at": utcnow()}
        try:
            with self.engine.begin() as conn:
                conn.execute(users.insert().values(**row))
        except IntegrityError:
            raise AccountError(f"user {name!r} exists already") from None
        _changed()
        return self.user(name)

    def user(self, name: str) -> User | None:
        return _remembered((id(self.engine), "user", name), lambda: self._user(name))

    def _user(self, name: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).mappings().first()
        return _user(row) if row else None

    def users(self) -> list[User]:
        with self.engine.connect() as conn:
            return [_user(r) for r in conn.execute(select(users).order_by(users.c.name)).mappings()]

    def user_count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(users)).scalar_one()

    def disable_user(self, name: str) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(update(users).where(users.c.name == name).values(disabled=True)).rowcount
        _changed()
        if not done:
            raise AccountError(f"no user {name!r}")

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the name and password match an enabled local account, else None.
        An unknown name costs a hash too, so timing does not tell which names exist."""
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).mappings().first()
        stored = row["password_hash"] if row and row["password_hash"] else None
        try:
            ok = self._hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or row["disabled"]:
            return None
        with self.engine.begin() as conn:
            values = {"last_login": utcnow()}
            if self._hasher.check_needs_rehash(stored):
                values["password_hash"] = self._hasher.hash(password)
            conn.execute(update(users).where(users.c.name == name).values(**values))
        _changed()
        return self.user(name)

    def external_login(self, name: str, role: str) -> User | None:
        """A person signed in through OpenID Connect: their row is made or its role follows
        the identity provider's claim. A disabled row stays disabled (None)."""
        check_role(role)
        name = name[:80]
        with self.engine.begin() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).mappings().first()
            if row is None:
                conn.execute(users.insert().values(name=name, role=role, password_hash=None, origin="oidc",
                                                   disabled=False, created_at=utcnow(), last_login=utcnow()))
            elif row["disabled"] or row["origin"] != "oidc":
                return None  # a local account of that name is not taken over by an SSO identity
            else:
                conn.execute(update(users).where(users.c.name == name).values(role=role, last_login=utcnow()))
        _changed()
        return self.user(name)

    # ---- wall screens ----------------------------------------------------------------------
    def add_screen(self, name: str) -> str:
        """Register a wall screen; returns its token (shown once, never stored)."""
        check_name(name)
        token = secrets.token_urlsafe(32)
        try:
            with self.engine.begin() as conn:
                conn.execute(wall_screens.insert().values(name=name, token_hash=token_hash(token), created_at=utcnow()))
        except IntegrityError:
            raise AccountError(f"screen {name!r} exists already (revoke it and add another name)") from None
        _changed()
        return token

    def screen_for_token(self, token: str) -> Screen | None:
        """The screen a token belongs to, revoked or not; None for an unknown token."""
        digest = token_hash(token)
        return _remembered((id(self.engine), "screen", digest), lambda: self._screen_by_hash(digest))

    def _screen_by_hash(self, digest: str) -> Screen | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(wall_screens).where(wall_screens.c.token_hash == digest)).mappings().first()
        return _screen(row) if row else None

    def screens(self) -> list[Screen]:
        with self.engine.connect() as conn:
            return [_screen(r) for r in conn.execute(select(wall_screens).order_by(wall_screens.c.name)).mappings()]

    def revoke_screen(self, name: str) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(update(wall_screens).where(wall_screens.c.name == name, wall_screens.c.revoked_at.is_(None))
                                .values(revoked_at=utcnow())).rowcount
        _changed()
        if not done:
            raise AccountError(f"no active screen {name!r}")

    # ---- audit -------------------------------------------------------------------------------
    def audit(self, actor: str, action: str, record: str, fields: list[str], remote: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(audit_log.insert().values(at=utcnow(), actor=actor[:100], action=action[:40], record=record[:400],
                                                   fields=",".join(fields), remote=(remote or "")[:64]))

    def audit_rows(self, limit: int = 100) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)).mappings()
            return [dict(r) for r in rows]

    # ---- the session signing key ---------------------------------------------------------
    def secret(self, name: str) -> str:
        """A random secret made on first use and the same for every process afterwards."""
        with self.engine.connect() as conn:
            value = conn.execute(select(app_secrets.c.value).where(app_secrets.c.name == name)).scalar()
        if value:
            return value
        try:
            with self.engine.begin() as conn:
                conn.execute(app_secrets.insert().values(name=name, value=secrets.token_urlsafe(48)))
        except IntegrityError:
            pass  # another worker made it first: read theirs
        with self.engine.connect() as conn:
            return conn.execute(select(app_secrets.c.value).where(app_secrets.c.name == name)).scalar_one()


_DUMMY_HASH = PasswordHasher().hash("not a password of anyone")


def _user(row) -> User:
    return User(row["name"], row["role"], row["origin"], bool(row["disabled"]), row["created_at"], row["last_login"])


def _screen(row) -> Screen:
    return Screen(row["name"], row["created_at"], row["revoked_at"])
