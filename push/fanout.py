"""The wall's change, computed once per change and sent to every screen.

Without it every wake makes every open wall run its own Dash poll: at 1,000 screens that
is 1,000 polls through the web workers for one change (about 1 ms of framework floor and
2-3 ms of work each), and the last screen learns of it seconds later. Nearly every screen
holds the same state, so the push process keeps that state itself (the "canonical"
state: what a screen holds after its last poll) and, on each wake, asks the wall's read
model once what changed since it (`WallModel.changes`, as the poll does). It sends each
screen the answer the poll would have given, in Dash's own wire format (patches and
stores), with the state it applies to (`from`) and the state it leads to (`to`).

A screen applies it only when its own state equals `from` and no poll of its own is on
the way (assets/push.js); otherwise it polls as before. The state also moves on each
minute and when a source turns late by the clock (`due`), as a screen's poll would, so
that screens and the canonical state stay equal between changes.

Nothing here is per screen: the data is what every wall poll returns (the wall's read
model keeps private fields out), and only screens with a valid token get the stream.
"""
from __future__ import annotations

import time
from typing import Callable

from engine.wall.layers import layer_update
from engine.wall.model import WallChanges, WallModel, current_minute
from engine.wall.state import WallState
from layouts.messages import localize

CANONICAL_SCREEN = "0" * 32  # the state's screen field; each browser keeps its own
# The wall poll callback's outputs (Dash's key for them) that `answer` and assets/push.js
# cover. tests/push/test_fanout.py fails when the poll's outputs change: a new output must be
# sent here too, or walls on the fan-out would never get it.
# `wall-opversions` is not: alarms and operator actions wake the walls to poll (server.Hub.broadcast).
POLL_OUTPUTS = ('..wall-state.data...{"source":["ALL"],"type":"layer"}.data'
                '...wall-tiles.data...wall-health.data...wall-grid-changes.data...wall-opversions.data..')


def public_state(state: WallState) -> dict:
    """A state as every screen holds it, but for its own screen id."""
    data = state.model_dump()
    data.pop("screen", None)
    return data


def _patch(operations: list[dict]) -> dict:
    return {"__dash_patch_update": "__dash_patch_update", "operations": operations}


def health_value(view: dict, ops: list[tuple] | None, language: str):
    """The health store as the poll sends it (callbacks.wall.health_patch), as JSON."""
    if ops is None:
        return localize(view, language)
    return _patch([{"operation": "Delete", "location": op[1], "params": {}} if op[0] == "del" else
                   {"operation": "Assign", "location": op[1], "params": {"value": localize(op[2], language)}}
                   for op in ops])


def answer(model: WallModel, before: WallState, changes: WallChanges, language: str) -> dict:
    """The poll's outputs for these changes: {"layers": {source: layer message}, "tiles",
    "health", "grid"}; a missing key is an output left as it is."""
    out: dict = {}
    sources = set(changes.layer_info) | changes.gone
    layers = {s: m for s in sorted(sources) if (m := layer_update(model, before.versions, changes, s)) is not None}
    if layers:
        out["layers"] = layers
    if changes.tiles is not None:
        out["tiles"] = localize(changes.tiles, language)
    if changes.health is not None:
        out["health"] = health_value(changes.health, changes.health_ops, language)
    if changes.grid is not None:
        out["grid"] = changes.grid
    return out


class Fanout:
    """The canonical state and the step from it to the store's current state.

    `make_model` returns a WallModel for one step (it reads each source at most once per
    step, like one request). `step` is synchronous (redis-py): the push process runs it on
    a thread, one at a time."""

    def __init__(self, make_model: Callable[[], WallModel], language: str):
        self.make_model, self.language = make_model, language
        self.state: WallState | None = None

    def reset(self) -> None:
        """Forget the canonical state (after an error): the next step starts again from the store."""
        self.state = None

    def public(self) -> dict | None:
        return public_state(self.state) if self.state is not None else None

    def step(self, now: float | None = None) -> dict | None | bool:
        """One step to the store's current state: the change message ({"from", "to", "out"}), None when
        nothing a screen shows changed, or False when there was no canonical state yet (it is
        now taken from the store; screens must poll to learn what changed before)."""
        model = self.make_model()
        if self.state is None:
            self.state = model.snapshot(CANONICAL_SCREEN).state
            return False
        changes = model.changes(self.state, now)
        if changes is None:
            return None
        before, self.state = self.state, changes.state
        return {"from": public_state(before), "to": public_state(changes.state), "out": answer(model, before, changes, self.language)}

    def next_due(self, now: float | None = None) -> float:
        """Seconds until the state moves by the clock alone: the next minute, or a source turning late."""
        now = time.time() if now is None else now
        due = (current_minute() + 1) * 60 + 0.05
        if self.state is not None and self.state.due is not None:
            due = min(due, self.state.due + 0.05)
        return max(0.05, due - now)
