"""A small Server-Sent Events reader, for the push tests and the bench; `Reader` holds one
screen's stream open on a thread."""
from __future__ import annotations

import threading

import httpx
import orjson


class EventParser:
    """Feed it the stream's lines one by one; `feed` returns the items a line completes:
    ("comment", text), ("retry", ms), or (event name, decoded JSON data)."""

    def __init__(self):
        self.name, self.data = "message", []

    def feed(self, line: str) -> list[tuple[str, object]]:
        if line == "":
            done = [(self.name, orjson.loads("\n".join(self.data)))] if self.data else []
            self.name, self.data = "message", []
            return done
        if line.startswith(":"):
            return [("comment", line[1:].strip())]
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            self.name = value
        elif field == "data":
            self.data.append(value)
        elif field == "retry":
            return [("retry", int(value))]
        return []


def parse_events(lines):
    parser = EventParser()
    for line in lines:
        yield from parser.feed(line)


class Reader:
    """One screen's stream, read on a thread into a list of events."""

    def __init__(self, url: str, **headers):
        self.events: list[tuple[str, object]] = []
        self.got = threading.Condition()
        self.response = None
        self.client = httpx.Client(timeout=httpx.Timeout(30, read=60))
        self.thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self.thread.start()

    def _read(self, url, headers):
        try:
            with self.client.stream("GET", url, headers=headers) as response:
                self.response = response
                for item in parse_events(response.iter_lines()):
                    with self.got:
                        self.events.append(item)
                        self.got.notify_all()
        except httpx.HTTPError:
            pass
        with self.got:
            self.events.append(("closed", None))
            self.got.notify_all()

    def wait_for(self, predicate, timeout: float = 20):
        with self.got:
            assert self.got.wait_for(lambda: any(predicate(e) for e in self.events), timeout), self.events
            return next(e for e in self.events if predicate(e))

    def close(self):
        self.client.close()
