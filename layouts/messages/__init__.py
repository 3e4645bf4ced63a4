"""The message catalog: every label on every screen, in Bahasa Indonesia and English.

One catalog, one file per screen family; `t(key)` looks a key up in the language
set by `language:` in config.yaml. A missing key shows the key itself, so a gap
is visible rather than silently blank.
"""
from __future__ import annotations

from layouts.messages import analytics, common, console, publik, scenes, security, sources, wall

CATALOG: dict[str, dict[str, str]] = {}
for _part in (common, wall, scenes, sources, analytics, publik, security, console):
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


def localize(value, language: str = "id"):
    """A view's data with every message (`{"msg": key, **values}`, as engine views return
    them) replaced by its text; values may be messages themselves."""
    if isinstance(value, dict):
        if "msg" in value:
            values = {k: localize(v, language) for k, v in value.items() if k != "msg"}
            return t(value["msg"], language, **values)
        return {k: localize(v, language) for k, v in value.items()}
    if isinstance(value, list):
        return [localize(v, language) for v in value]
    return value


def client_messages(language: str, prefixes: tuple[str, ...]) -> dict[str, str]:
    """The part of the catalog a screen's browser code needs, in the screen's language."""
    return {k: t(k, language) for k in CATALOG if k.startswith(prefixes)}
