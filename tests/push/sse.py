"""A small Server-Sent Events reader, for the push tests and the bench."""
from __future__ import annotations

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
