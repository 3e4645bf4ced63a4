"""Namespace-blind access to parsed XML: feeds mix prefixes and default namespaces
(CAP 1.1 and 1.2, DATEX II v2 and v3), so adapters ask for local names."""
from __future__ import annotations

from xml.etree.ElementTree import Element


def local(tag: str) -> str:
    """'{urn:oasis:names:tc:emergency:cap:1.2}info' -> 'info'."""
    return tag.rsplit("}", 1)[-1]


def children(el: Element, name: str) -> list[Element]:
    return [c for c in el if local(c.tag) == name]


def child(el: Element, name: str) -> Element | None:
    for c in el:
        if local(c.tag) == name:
            return c
    return None


def text(el: Element | None, name: str | None = None, default: str = "") -> str:
    """Stripped text of `el` (or of its child `name`); empty elements give `default`."""
    target = el if name is None or el is None else child(el, name)
    if target is None or target.text is None:
        return default
    return target.text.strip() or default


def descendants(el: Element, name: str) -> list[Element]:
    return [d for d in el.iter() if local(d.tag) == name]
