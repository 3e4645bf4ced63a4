"""What a wall screen holds between polls, as the browser sends it back: typed and
bounded, so a hand-made request gets a clear refusal instead of a traceback, and
nothing it carries can grow a Redis key or a cache entry."""
from __future__ import annotations

import re
import secrets
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SCREEN_ID = re.compile(r"[0-9a-f]{32}")  # what new_screen_id issues; nothing else is a screen
StreamId = Annotated[str, StringConstraints(pattern=r"^\d{1,20}-\d{1,20}$")]
SourceName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Digest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")]
MAX_SOURCES = 500


def new_screen_id() -> str:
    return secrets.token_hex(16)


def is_screen_id(value) -> bool:
    return isinstance(value, str) and SCREEN_ID.fullmatch(value) is not None


class WallState(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    versions: dict[SourceName, Annotated[int, Field(ge=0)]] = Field(default_factory=dict, max_length=MAX_SOURCES)
    minute: Annotated[int, Field(ge=0)] = 0
    tiles: Digest | None = None       # digest of the tiles the screen shows
    health: Digest | None = None      # digest of the source verdicts it shows
    due: float | None = None          # when a verdict next changes by the clock alone (epoch s)
    stream: StreamId = "0-0"          # the newest change it has seen
    screen: Annotated[str, StringConstraints(pattern=f"^{SCREEN_ID.pattern}$")]
