"""Colours live only as CSS variables (assets/style.css and each screen's own sheet): every
variable a stylesheet or the map script uses is defined somewhere, so no element is left
unstyled by a renamed variable."""
from __future__ import annotations

import re
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEFINED = re.compile(r"(--[a-z][a-z0-9-]*)\s*:")
USED = re.compile(r"var\((--[a-z][a-z0-9-]*)")
READ_BY_SCRIPT = re.compile(r"""["'](--[a-z][a-z0-9-]*)["']""")


def test_every_css_variable_used_is_defined():
    sheets = {p.name: p.read_text(encoding="utf-8") for p in ASSETS.glob("*.css")}
    defined = {name for text in sheets.values() for name in DEFINED.findall(text)}
    used = {(sheet, name) for sheet, text in sheets.items() for name in USED.findall(text)}
    for script in ASSETS.glob("*.js"):
        used |= {(script.name, name) for name in READ_BY_SCRIPT.findall(script.read_text(encoding="utf-8"))}
    missing = sorted((sheet, name) for sheet, name in used if name not in defined)
    assert missing == [], f"CSS variables used but never defined: {missing}"
    assert {"--sev-critical", "--sev-low"} <= defined
