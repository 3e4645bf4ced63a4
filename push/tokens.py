"""Short-lived signed tokens that let a wall screen open the push stream.

A token is `screen.expiry.signature`: the screen's id, the Unix second it stops
being valid, and an HMAC-SHA256 of both with a secret the web and push processes
share. The web side mints one into the wall page; the push process verifies it
before it holds a connection open. EventSource cannot send headers, so the token
travels as a query parameter: keep its life short.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import time

SECRET_ENV = "DAMAMAYA_PUSH_SECRET"
SCREEN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class TokenError(ValueError):
    """Why a token is refused (malformed, bad signature, expired)."""


def _sign(secret: bytes, screen: str, expires: int) -> str:
    mac = hmac.new(secret, f"{screen}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def mint(secret: bytes, screen: str, ttl_seconds: float, now: float | None = None) -> str:
    if not SCREEN_ID.match(screen):
        raise ValueError(f"screen id {screen!r}: letters, digits, '-' and '_' only, at most 64")
    expires = int((time.time() if now is None else now) + ttl_seconds)
    return f"{screen}.{expires}.{_sign(secret, screen, expires)}"


def verify(secret: bytes, token: str, now: float | None = None) -> str:
    """The screen id the token was minted for; raises TokenError otherwise."""
    parts = (token or "").split(".")
    if len(parts) != 3 or not SCREEN_ID.match(parts[0]) or not parts[1].isdigit():
        raise TokenError("malformed token")
    screen, expires, signature = parts[0], int(parts[1]), parts[2]
    if not hmac.compare_digest(signature, _sign(secret, screen, expires)):
        raise TokenError("bad signature")
    if expires < (time.time() if now is None else now):
        raise TokenError("expired token")
    return screen


def shared_secret(client, prefix: str) -> bytes:
    """The secret every web and push process uses: $DAMAMAYA_PUSH_SECRET when set
    (`damamaya run` sets it for its children), else one random secret kept in Redis
    under `{prefix}:push:secret`, made by whichever process asks first. `client` is
    a synchronous redis client."""
    from_env = os.environ.get(SECRET_ENV)
    if from_env:
        return from_env.encode()
    key = f"{prefix}:push:secret"
    client.set(key, secrets.token_urlsafe(32), nx=True)
    return client.get(key)
