"""The inputs of the /history callbacks as the screen sends them, typed and bounded: a
hand-made request with junk gets a 400 saying what was wrong (callbacks/refusal.py),
never a 500, and nothing unbounded reaches a query or the URL."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from callbacks.refusal import refuse
from engine.analytics.filters import RANGES
from engine.records import KINDS

Text = Annotated[str, StringConstraints(max_length=300)]
Values = Annotated[list[Text], Field(max_length=200)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


def parsed(model: type[BaseModel], value: Any, what: str):
    """`value` as `model`, or a 400 naming what was wrong."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        refuse(what, exc)


class HistoryState(_Input):
    """The hist-state store: the filter's query string and the instant that fixes "now"."""

    model_config = ConfigDict(extra="forbid", strict=True)
    q: Annotated[str, StringConstraints(max_length=20_000)] = ""
    at: Annotated[int, Field(ge=0, le=4_102_444_800)] | None = None  # before 2100


class Controls(_Input):
    range: Literal[RANGES] | None = None  # type: ignore[valid-type]
    kind: Literal[KINDS] | None = None  # type: ignore[valid-type]
    source: Values | None = None
    category: Values | None = None
    severity: Values | None = None
    status: Values | None = None
    kecamatan: Values | None = None
    desa: Values | None = None
    q: Annotated[str, StringConstraints(max_length=1000)] | None = None
    start_date: date | None = None
    end_date: date | None = None

    @field_validator("start_date", "end_date", mode="before")
    @classmethod
    def _day(cls, value):
        """The date picker sends 'YYYY-MM-DD' (sometimes with a time): the day counts."""
        return value[:10] if isinstance(value, str) else value


class ClickPoint(_Input):
    model_config = ConfigDict(extra="allow")  # plotly sends many point fields; only these are read
    customdata: Any = None
    location: Text | None = None


class Click(_Input):
    model_config = ConfigDict(extra="allow")
    points: Annotated[list[ClickPoint], Field(max_length=1000)] = []


class TimelineBar(_Input):
    start: datetime
    end: datetime


class HeatCell(_Input):
    weekday: Annotated[int, Field(ge=0, le=6)]
    hour: Annotated[int, Field(ge=0, le=23)]


AreaCode = Annotated[str, StringConstraints(pattern=r"^\d{2}\.\d{2}\.\d{2}(\.\d{4})?$")]


class AreaClick(_Input):
    code: AreaCode


class CategoryClick(_Input):
    category: Annotated[str, StringConstraints(min_length=1, max_length=100)]


CHIPS = ("weekday", "hour")
