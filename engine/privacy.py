"""Personal data in reject excerpts (see `Adapter.private_excerpts`).

A reject keeps an excerpt of its input so an operator can see what was not used;
for an adapter whose input holds personal data (a 112 caller's number, a home
address) the excerpt is masked here before it is stored or shown.
"""
from __future__ import annotations

import functools
import re
from typing import Any, Iterable

from engine.records import Reject

PRIVATE = "[private]"
_DIGIT_RUN = re.compile(r"[+(]?\d(?:[\s().-]{0,2}\d){5,}")
_JSON_SCALAR = re.compile(r"[^,}\]\s]*")


def mask_digits(text: str) -> str:
    """Every run of 6+ digits ('+62 361 223-344', '(0361) 223344', '081234567890') -> '[...]'."""
    return _DIGIT_RUN.sub("[...]", text)


def private_excerpt(item: Any, keys: Iterable[str] = ()) -> str:
    """The excerpt of `item` for a reject of a private adapter: named keys and digit runs masked.

    The whole item is masked before it is cut to the excerpt's 300 characters,
    so a phone number cut in half at the end cannot slip through.
    """
    names = frozenset(str(k).lower() for k in keys)
    if names and isinstance(item, (dict, list, tuple)):
        item = _mask_keys(item, names, [2000])
    text = Reject.excerpt(item, limit=20_000)
    if names:
        text = _mask_named_text(text, names)
    return mask_digits(text)[:300]


def _mask_keys(item: Any, names: frozenset[str], budget: list[int], depth: int = 0) -> Any:
    """A copy with the values of named keys replaced; deep or huge parts (beyond any excerpt) become '...'."""
    budget[0] -= 1
    if budget[0] < 0 or depth > 40:
        return "..."
    if isinstance(item, dict):
        return {k: PRIVATE if str(k).lower() in names else _mask_keys(v, names, budget, depth + 1) for k, v in item.items()}
    if isinstance(item, (list, tuple)):
        return [_mask_keys(v, names, budget, depth + 1) for v in item]
    return item


@functools.lru_cache(maxsize=16)
def _named_patterns(names: frozenset[str]) -> tuple[re.Pattern, re.Pattern]:
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    json_key = re.compile(rf'"(?:{alternatives})"\s*:\s*', re.I)
    xml_element = re.compile(rf"(<(?:[\w.-]+:)?(?:{alternatives})(?:\s[^<>]*)?>)[^<]*", re.I)
    return json_key, xml_element


def _mask_named_text(text: str, names: frozenset[str]) -> str:
    json_key, xml_element = _named_patterns(names)
    text = xml_element.sub(lambda m: m[1] + PRIVATE, text)
    out, pos = [], 0
    for m in json_key.finditer(text):
        if m.start() < pos:
            continue  # inside a value already masked
        out.append(text[pos:m.end()] + f'"{PRIVATE}"')
        pos = _json_value_end(text, m.end())
    return "".join(out) + text[pos:]


def _json_value_end(text: str, start: int) -> int:
    """Where the JSON value starting at `start` ends (or the text ends, for a cut excerpt)."""
    if start >= len(text):
        return start
    if text[start] == '"':
        i = start + 1
        while i < len(text) and text[i] != '"':
            i += 2 if text[i] == "\\" else 1
        return min(i + 1, len(text))
    if text[start] in "[{":
        depth, i, in_string = 0, start, False
        while i < len(text):
            ch = text[i]
            if in_string:
                i += 1 if ch != "\\" else 2
                in_string = ch != '"'
                continue
            if ch == '"':
                in_string = True
            elif ch in "[{":
                depth += 1
            elif ch in "]}":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        return len(text)
    return _JSON_SCALAR.match(text, start).end()
