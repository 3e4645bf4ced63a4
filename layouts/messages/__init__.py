"""The message catalog: every label on every screen, in Bahasa Indonesia and English.

One catalog, one file per screen family; `t(key)` looks a key up in the language
set by `language:` in config.yaml. A missing key shows the key itself, so a gap
is visible rather than silently blank.
"""
from __future__ import annotations

from layouts.messages import analytics, common, publik, sources, wall

CATALOG: dict[str, dict[str, str]] = {}
for _part in (common, wall, sources, analytics, publik):
    for _key, _labels in _part.MESSAGES.items():
        if _key in CATALOG:
            raise RuntimeError(f"message key {_key!r} defined twice")
        CATALOG[_key] = _labels


def t(key: str, language: str = "id", **values) -> str:
    labels = CATALOG.get(key)
    if labels is None:
        return key
    text = labels.get(language) or labels["id"]
    return text.format(**values) if values else text
