"""Safe XML for adapters: defusedxml parsing and namespace-blind element access."""
from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from data_sources.base import load_json, sniff_problem
from engine.records import Reject


def load_xml(raw: bytes) -> tuple[Element | None, Reject | None]:
    """Parse XML with entity expansion refused; a Reject instead of an exception.

    Also a Reject: an unknown declared encoding (`<?xml encoding="UTF-8x"?>`,
    which expat reports as LookupError) and nesting too deep for the parser.
    """
    problem = sniff_problem(raw)
    if problem:
        return None, Reject.of(problem, raw[:120])
    try:
        return fromstring(raw), None
    except (ParseError, DefusedXmlException, ValueError, LookupError, RecursionError) as exc:
        return None, Reject.of(f"not valid XML: {exc}", raw[:120])


def load_xml_or_json(raw: bytes) -> tuple[Element | Any, Reject | None]:
    """The root Element when the body starts with '<' (after a BOM or white space), else the JSON value.

    For sources that publish one format as XML and JSON; the caller tells them
    apart with isinstance(doc, Element). Problems are those of load_xml / load_json.
    """
    if raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
        return load_xml(raw)
    return load_json(raw)


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
