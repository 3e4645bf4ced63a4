"""Wall scenes, playlists and event mode (the `scenes:` block of config.yaml).

A scene picks the panels a wall screen shows and what its map shows: which source
layers, and where it looks (the whole city, a kecamatan or desa, or the desa of the
alarm that called the scene up). A playlist is a list of scenes with the seconds
each stays on screen.

Event mode: while an alarm whose rule names a scene is active (firing or
acknowledged, neither released by a supervisor nor resolved), every wall screen
shows that scene; `event_for` decides which, from the live alarms alone.
"""
from __future__ import annotations

import fnmatch
import re
from functools import cache
from typing import Annotated, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from engine.taxonomy import known_categories

PANELS = ("map", "incidents", "tiles", "cctv", "prices", "gauges")
Panel = Literal["map", "incidents", "tiles", "cctv", "prices", "gauges"]
NAME_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"
SceneName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
EVENT_STATES = ("firing", "acknowledged")
LEVEL_RANK = {"info": 0, "warning": 1, "critical": 2}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MapView(_Strict):
    layers: list[str] = Field(default_factory=lambda: ["*"], description="source names shown; shell patterns allowed")
    focus: str = Field(default="city", max_length=80,
                       description="city | subject (the event alarm's desa) | a kecamatan or desa name or code")


class Scene(_Strict):
    panels: list[Panel] = Field(min_length=1)
    map: MapView = MapView()
    categories: list[str] = Field(default_factory=list, description="incident list: only these categories; [] all")
    gauge_hours: float = Field(default=6, gt=0, le=72, description="gauges panel: hours of levels drawn")

    @field_validator("panels")
    @classmethod
    def _unique(cls, v):
        if len(set(v)) != len(v):
            raise ValueError("a panel is listed twice")
        return v

    @field_validator("categories")
    @classmethod
    def _categories(cls, v):
        return known_categories(v)

    @field_validator("map")
    @classmethod
    def _focus(cls, v: MapView):
        if v.focus not in ("city", "subject") and place_bounds(v.focus) is None:
            raise ValueError(f"focus {v.focus!r} is not city, subject, or a kecamatan or desa of Denpasar")
        return v


class PlaylistStep(_Strict):
    scene: SceneName
    seconds: float = Field(ge=5, le=3600)


FLOOD_LAYERS = ["*flood*", "*banjir*", "*gauge*", "*water*", "petabencana*"]

BUILTIN_SCENES: dict[str, Scene] = {
    "overview": Scene(panels=["map", "tiles", "incidents"]),
    "map": Scene(panels=["map"]),
    "incidents": Scene(panels=["incidents"]),
    "kpi": Scene(panels=["tiles"]),
    "cctv": Scene(panels=["cctv"]),
    "prices": Scene(panels=["prices"]),
    "flood": Scene(panels=["map", "gauges", "incidents"], map=MapView(layers=FLOOD_LAYERS, focus="subject"),
                   categories=["flood", "flooded_area", "flood_report"]),
    "quake": Scene(panels=["map", "tiles", "incidents"], map=MapView(layers=["*quake*", "*gempa*", "*inatews*"]),
                   categories=["earthquake", "tsunami"]),
}


class ScenesConfig(_Strict):
    """`scenes:` in config.yaml. Scenes given here are added to the built-in ones
    (a built-in name given again is replaced)."""

    scenes: dict[SceneName, Scene] = Field(default_factory=lambda: dict(BUILTIN_SCENES))
    playlists: dict[SceneName, list[PlaylistStep]] = Field(default_factory=dict)

    @field_validator("scenes", mode="before")
    @classmethod
    def _with_builtins(cls, v):
        return {**BUILTIN_SCENES, **(v or {})}

    @field_validator("playlists", mode="before")
    @classmethod
    def _none(cls, v):
        return v or {}

    @model_validator(mode="after")
    def _known(self):
        for name, steps in self.playlists.items():
            if not steps:
                raise ValueError(f"playlists.{name}: lists no scene")
            for i, step in enumerate(steps):
                if step.scene not in self.scenes:
                    raise ValueError(f"playlists.{name}.{i}.scene: unknown scene {step.scene!r} ({self.known()})")
        return self

    def known(self) -> str:
        return "known: " + ", ".join(sorted(self.scenes))

    def check_rules(self, rules: dict) -> None:
        """Raise ValueError naming the first alert rule whose `scene` is unknown."""
        for name, rule in rules.items():
            if rule.scene is not None and rule.scene not in self.scenes:
                raise ValueError(f"alerts.rules.{name}.scene: unknown scene {rule.scene!r} ({self.known()})")


# ---- places ---------------------------------------------------------------------------------

Bounds = list[list[float]]  # [[south, west], [north, east]], as Leaflet takes them


def _as_bounds(minx: float, miny: float, maxx: float, maxy: float) -> Bounds:
    return [[round(miny, 5), round(minx, 5)], [round(maxy, 5), round(maxx, 5)]]


@cache
def city_bounds() -> Bounds:
    from engine.geo import boundaries

    return _as_bounds(*boundaries().city.bounds)


@cache
def place_bounds(place: str) -> Bounds | None:
    """Bounds of a desa or kecamatan of Denpasar, by name or code (case ignored); None if none."""
    from shapely.ops import unary_union

    from engine.geo import boundaries

    b = boundaries()
    wanted = place.strip().lower()
    shapes = [s for p, s in zip(b.places, b.shapes) if wanted in (p.desa.lower(), p.desa_code)]
    if not shapes:
        shapes = [s for p, s in zip(b.places, b.shapes) if wanted in (p.kecamatan.lower(), p.kecamatan_code)]
    return _as_bounds(*unary_union(shapes).bounds) if shapes else None


def scene_bounds(scene: Scene) -> Bounds | None:
    """Where a scene's map looks before any alarm picks a subject: the city, or its focus place."""
    focus = scene.map.focus
    return city_bounds() if focus in ("city", "subject") else place_bounds(focus)


def opening_bounds(scenes: ScenesConfig, shown: str, event: dict | None) -> Bounds:
    """The bounds a new screen's map opens on: those the scene it shows first fits to (an event's
    subject first), so the map has its view from the start and never moves to it afterwards."""
    bounds = (event or {}).get("bounds") or scene_bounds(scenes.scenes[shown])
    return bounds or city_bounds()


def record_bounds(record: dict | None) -> Bounds | None:
    """The desa a record lies in, else a small box around its point; None without either."""
    if not record:
        return None
    for key in ("desa_code", "desa"):
        if record.get(key) and (found := place_bounds(str(record[key]))):
            return found
    if record.get("lat") is not None and record.get("lon") is not None:
        lat, lon, d = record["lat"], record["lon"], 0.01
        return [[lat - d, lon - d], [lat + d, lon + d]]
    return None


# ---- layers ---------------------------------------------------------------------------------

def shown_sources(patterns: Iterable[str], sources: Iterable[str]) -> list[str]:
    patterns = list(patterns)
    return [s for s in sources if any(fnmatch.fnmatchcase(s.lower(), p.lower()) for p in patterns)]


# ---- event mode -----------------------------------------------------------------------------

def event_alarm(alarms: Iterable[dict], scenes: dict[str, Scene]) -> dict | None:
    """The alarm whose scene every wall shows now, or None: active (firing or acknowledged),
    not released, with a known scene. Several: the loudest, then the newest."""
    candidates = [a for a in alarms if a.get("scene") in scenes and a.get("state") in EVENT_STATES
                  and not a.get("released_by")]
    if not candidates:
        return None
    return max(candidates, key=lambda a: (LEVEL_RANK.get(a.get("level"), 0), a.get("first_fired") or "", a.get("id") or 0))


def event_for(alarms: Iterable[dict], scenes: dict[str, Scene], subject_of=lambda alarm: None) -> dict | None:
    """What the walls show in event mode: {"scene", "alarm", "bounds"} or None.

    `subject_of(alarm)` returns the record the alarm is about (or None); a scene focused
    on `subject` looks at that record's desa."""
    alarm = event_alarm(alarms, scenes)
    if alarm is None:
        return None
    focus = scenes[alarm["scene"]].map.focus
    bounds = None
    if focus == "subject":
        bounds = record_bounds(subject_of(alarm))
    return {"scene": alarm["scene"], "alarm": alarm["id"], "bounds": bounds}


_NAME = re.compile(NAME_PATTERN)


def valid_name(value: str) -> bool:
    return bool(_NAME.match(value or ""))
