"""A callback input that is not what the screen sends: refused with 400 and one line
saying what was wrong, never a 500 with a traceback."""
from __future__ import annotations

import logging
from typing import NoReturn

from pydantic import ValidationError
from werkzeug.exceptions import BadRequest

log = logging.getLogger(__name__)


def reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "value"
        return f"{where}: {first.get('msg', 'invalid')}"
    return str(exc)[:200]


def refuse(what: str, exc: Exception) -> NoReturn:
    why = f"{what}: {reason(exc)}"
    log.warning("refused a callback input: %s", why)
    raise BadRequest(why)
