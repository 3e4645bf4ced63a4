"""Colours of the /kpi and /history figures, read once from assets/style.css, their one
owner (the wall's map reads the same variables in the browser)."""
from __future__ import annotations

import re
from functools import cache
from pathlib import Path

STYLESHEET = Path(__file__).resolve().parents[2] / "assets" / "style.css"
_VARIABLE = re.compile(r"--([a-z0-9-]+)\s*:\s*(#[0-9a-fA-F]{3,8})\s*;")


@cache
def css_colours() -> dict[str, str]:
    """Every `--name: #hex;` of the stylesheet, by name without the dashes."""
    return {name: value for name, value in _VARIABLE.findall(STYLESHEET.read_text(encoding="utf-8"))}


def colour(name: str) -> str:
    return css_colours()[name]


def severity_colour(severity: str) -> str:
    return css_colours().get(f"sev-{severity}", colour("sev-info"))
