"""The `alerts:` and `agencies:` blocks of config.yaml, validated.

A rule names what it watches (`match`), how loud it is (`level`), what it says
(`message`, Bahasa Indonesia and English, placeholders filled from the record),
when it stays silent (`quiet_hours`, WITA) and which wall scene it calls up
(`scene`, used by event mode). A wrong rule stops start-up with one line naming
it: `config.yaml: alerts.rules.quake-near.match.where.0: ...`.
"""
from __future__ import annotations

import fnmatch
import re
from datetime import time
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from engine.records import STATUSES, Severity
from engine.taxonomy import DOMAINS, known_categories

LEVELS = ("info", "warning", "critical")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
_OPERATORS = (">=", "<=", "!=", "==", ">", "<", " not in ", " in ", " not contains ", " contains ")
NOW = "now"  # the condition value meaning "the time of evaluation"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, (str, int, float)) else value


class Condition(_Strict):
    """`details.magnitude >= 5`, `details.felt contains Denpasar`,
    `details.cap_severity in [Severe, Extreme]`, `details.resolution_due < now`."""

    path: str
    op: Literal[">=", "<=", "!=", "==", ">", "<", "in", "not in", "contains", "not contains"]
    value: Any

    @property
    def uses_now(self) -> bool:
        return self.value == NOW

    @classmethod
    def parse(cls, text: str) -> "Condition":
        if not isinstance(text, str):
            raise ValueError(f"{text!r} is not a condition like `details.magnitude >= 5`")
        for op in _OPERATORS:
            path, sep, raw = text.partition(op)
            if sep and path.strip() and raw.strip():
                break
        else:
            raise ValueError(f"{text!r}: no operator (one of >=, <=, >, <, ==, !=, in, not in, contains, not contains)")
        path = path.strip()
        if not _PATH.match(path):
            raise ValueError(f"{text!r}: {path!r} is not a field path like details.magnitude")
        try:
            value = yaml.safe_load(raw.strip())
        except yaml.YAMLError:
            raise ValueError(f"{text!r}: cannot read the value {raw.strip()!r}") from None
        op = op.strip()
        if op in ("in", "not in") and not isinstance(value, list):
            raise ValueError(f"{text!r}: `{op}` needs a list like [Severe, Extreme]")
        if op in (">=", "<=", ">", "<") and not (isinstance(value, (int, float)) and not isinstance(value, bool)) \
                and value != NOW:
            raise ValueError(f"{text!r}: `{op}` needs a number or `now`")
        return cls(path=path, op=op, value=value)


class Near(_Strict):
    km: float = Field(gt=0, le=20000)
    of: Literal["denpasar"] | tuple[float, float] = Field(
        default="denpasar", description="`denpasar` (the city's outline) or [latitude, longitude]")

    @field_validator("of", mode="before")
    @classmethod
    def _place(cls, v):
        if isinstance(v, str):
            return v.strip().lower()
        return v

    @field_validator("of")
    @classmethod
    def _point(cls, v):
        if isinstance(v, tuple) and not (-90 <= v[0] <= 90 and -180 <= v[1] <= 180):
            raise ValueError("must be [latitude, longitude] or `denpasar`")
        return v


class Area(_Strict):
    """Where the record must be: inside Denpasar (its point, or its shape touching the
    city), in given kecamatan or desa (codes or names), or within N km of a point."""

    denpasar: bool = False
    kecamatan: list[str] = Field(default_factory=list)
    desa: list[str] = Field(default_factory=list)
    near: Near | None = None

    @field_validator("kecamatan", "desa", mode="before")
    @classmethod
    def _listed(cls, v):
        return _as_list(v)

    @model_validator(mode="after")
    def _something(self):
        if not (self.denpasar or self.kecamatan or self.desa or self.near):
            raise ValueError("give denpasar: true, kecamatan, desa or near")
        return self


class Match(_Strict):
    """Every criterion given must hold (and one of `any`, when given)."""

    source: list[str] = Field(default_factory=list, description="source names; shell patterns such as demo-* allowed")
    kind: Literal["incident", "reading", "position", "price"] | None = None
    domain: list[str] = Field(default_factory=list)
    category: list[str] = Field(default_factory=list)
    severity: list[Literal["info", "low", "medium", "high", "critical"]] = Field(default_factory=list)
    severity_at_least: Literal["info", "low", "medium", "high", "critical"] | None = None
    status: Literal["open", "any"] | list[str] = Field(
        default="open", description="incidents only: `open` (default), `any`, or a list of statuses")
    area: Area | None = None
    where: list[Condition] = Field(default_factory=list)
    any: list["Match"] = Field(default_factory=list)
    stale: bool = Field(default=False, description="fire when a matched source is stale longer than its promise")

    @field_validator("source", "domain", "category", "severity", mode="before")
    @classmethod
    def _listed(cls, v):
        return _as_list(v)

    @field_validator("domain")
    @classmethod
    def _domains(cls, v):
        for d in v:
            if d not in DOMAINS:
                raise ValueError(f"unknown domain {d!r} (known: {', '.join(DOMAINS)})")
        return v

    @field_validator("category")
    @classmethod
    def _categories(cls, v):
        return known_categories(v)

    @field_validator("status", mode="before")
    @classmethod
    def _status_list(cls, v):
        if isinstance(v, str) and v not in ("open", "any"):
            v = [v]
        if isinstance(v, list):
            for s in v:
                if s not in STATUSES:
                    raise ValueError(f"unknown status {s!r} (known: open, any, {', '.join(STATUSES)})")
        return v

    @field_validator("where", mode="before")
    @classmethod
    def _conditions(cls, v):
        v = _as_list(v) or []
        if not isinstance(v, list):
            raise ValueError("must be a list of conditions")
        return [c if isinstance(c, Condition) else Condition.model_validate(c) if isinstance(c, dict) else Condition.parse(c)
                for c in v]

    @model_validator(mode="after")
    def _coherent(self):
        if self.stale and (self.kind or self.domain or self.category or self.severity or self.severity_at_least
                           or self.area or self.where or self.any):
            raise ValueError("a `stale` match takes only `source`: it watches sources, not records")
        return self

    @property
    def uses_now(self) -> bool:
        return any(c.uses_now for c in self.where) or any(m.uses_now for m in self.any)

    def source_matches(self, source: str) -> bool:
        return not self.source or any(fnmatch.fnmatchcase(source, p) for p in self.source)

    @property
    def min_severity(self) -> int | None:
        return None if self.severity_at_least is None else int(Severity[self.severity_at_least])


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def private_path(path: str) -> bool:
    """Personal data (a caller's number, `details.private`) never goes into a message."""
    return path == "private" or path.startswith(("private.", "details.private"))


class Message(_Strict):
    id: str = Field(min_length=1, max_length=500, description="Bahasa Indonesia")
    en: str = Field(min_length=1, max_length=500, description="English")

    @field_validator("id", "en")
    @classmethod
    def _placeholders(cls, v: str) -> str:
        for name in _PLACEHOLDER.findall(v):
            if not _PATH.match(name):
                raise ValueError(f"{{{name}}} is not a placeholder like {{title}} or {{details.magnitude}}")
            if private_path(name):
                raise ValueError(f"{{{name}}} is personal data: messages are shown on wall screens")
        return v


_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(:00)?$")


class QuietHours(_Strict):
    """From `start` to `end` (WITA; may cross midnight) info and warning alarms are
    recorded but silent; critical ones too only with `include_critical: true`."""

    start: time
    end: time
    include_critical: bool = False

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hhmm(cls, v):
        if isinstance(v, int):  # YAML 1.1 reads an unquoted 22:00 as the sexagesimal 1320
            v = f"{v // 60}:{v % 60:02d}"
        if isinstance(v, str):
            m = _HHMM.match(v.strip())
            if not m:
                raise ValueError(f"{v!r} is not a time like 22:00")
            return time(int(m.group(1)), int(m.group(2)))
        return v

    def covers(self, at: time, level: str) -> bool:
        if level == "critical" and not self.include_critical:
            return False
        if self.start <= self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end


class AlertRule(_Strict):
    match: Match
    level: Literal["info", "warning", "critical"]
    message: Message
    quiet_hours: QuietHours | None = None
    scene: str | None = Field(default=None, max_length=80, description="wall scene for event mode")
    enabled: bool = True


class AlertsConfig(_Strict):
    evaluate_every: float = Field(default=30, ge=1, le=3600,
                                  description="seconds between re-evaluations of time-based rules and source staleness")
    keep_resolved_minutes: float = Field(default=10, ge=0, le=1440,
                                         description="how long a resolved alarm stays in the live store for screens")
    rules: dict[str, AlertRule] = Field(default_factory=dict)

    @field_validator("rules", mode="before")
    @classmethod
    def _names(cls, v):
        if v is None:
            return {}
        if isinstance(v, dict):
            for name in v:
                if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9_.-]{1,64}$", name):
                    raise ValueError(f"rule name {name!r} must be 1-64 letters, digits, '-', '_' or '.'")
        return v

    def enabled_rules(self) -> dict[str, AlertRule]:
        return {k: v for k, v in self.rules.items() if v.enabled}


class Agency(_Strict):
    name: str = Field(min_length=1, max_length=120)
    contact: str = Field(default="", max_length=200, description="phone number or radio channel")
    units: list[str] = Field(default_factory=list, description="units an incident may be handed to, e.g. Pos Damkar Sanglah")


AgencyId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,40}$")]
Agencies = dict[AgencyId, Agency]


__all__ = ["AlertRule", "AlertsConfig", "Agency", "Area", "Condition", "LEVELS", "Match", "Message", "Near",
           "QuietHours", "NOW", "Agencies"]
