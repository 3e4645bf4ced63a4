"""Types for config keys that name a zone, category, severity or status: checked
when config.yaml is loaded, so a typo stops the start with the key's path."""
from __future__ import annotations

from typing import Annotated, Iterable

from pydantic import AfterValidator

from data_sources.readers.values import zone_from_name
from engine.records import SEVERITIES, STATUSES
from engine.taxonomy import CATEGORIES


def _known_zone(name: str) -> str:
    zone_from_name(name)
    return name


# The type of every config key that names a zone (`timezone`, `realtime_timezone`):
# a text that `zone_from_name` reads, checked when the config is loaded.
ZoneName = Annotated[str, AfterValidator(_known_zone)]


def _one_of(allowed: Iterable[str], what: str) -> AfterValidator:
    names = frozenset(allowed)

    def check(value: str) -> str:
        if value not in names:
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


# Config values that must be canonical names, such as the targets of a source's
# category/severity/status mappings (`dict[str, CategoryName]`) and their defaults.
CategoryName = Annotated[str, _one_of(CATEGORIES, "a category in engine.taxonomy")]
SeverityName = Annotated[str, _one_of(SEVERITIES, f"one of {', '.join(SEVERITIES)}")]
StatusName = Annotated[str, _one_of(STATUSES, f"one of {', '.join(STATUSES)}")]
