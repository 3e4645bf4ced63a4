"""Reading a fetched body as a document, never raising on bad data: each loader
returns (document, None) or (None-ish, Reject saying why).

- `sniff_problem`: a body that is plainly no feed (empty, an HTML error page);
- `load_json`, `load_xml` (entity expansion refused), `load_xml_or_json`;
- `read_csv` (records, header first) and `blank` for empty CSV rows.
Namespace-blind access to the parsed XML is `data_sources.readers.elements`.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any, NamedTuple
from xml.etree.ElementTree import Element, ParseError

import orjson
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from data_sources.readers.values import finite_float
from engine.records import Reject


def sniff_problem(raw: bytes) -> str | None:
    """A reason when the body is plainly not a feed: empty, or an HTML error page."""
    head = raw[:512].lstrip().lower()
    if not head:
        return "empty body"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:200]:
        return "an HTML page, not a feed (the server probably returned an error page)"
    return None


INCOMPLETE_LINE = "incomplete last line (file being written?)"


class CsvRead(NamedTuple):
    """What `read_csv` found: the records, header first (an empty line is []);
    `problem`, one Reject for a whole document that is no CSV (then no records);
    `unfinished`, a Reject for a last line caught mid-write (not among the records)."""

    rows: list[list[str]]
    problem: Reject | None = None
    unfinished: Reject | None = None


def read_csv(raw: bytes, *, delimiter: str = ",", latin1: bool = True, whole_without_newline: bool = False) -> CsvRead:
    """The records of a CSV export, as the csv module reads them; never an exception.

    Text is UTF-8 (a BOM is dropped). With `latin1`, bytes that are not UTF-8
    are read as Latin-1 (spreadsheet exports); without, they are a reject. An
    empty body, an HTML error page, NUL bytes (binary data) and what the csv
    module refuses (a field over its 128 KiB limit) are rejects too.
    A body whose lines end with newlines but whose last line does not was read
    while being written: that last record is `unfinished`, the rest are kept
    (unless `whole_without_newline`: a source known to write whole files that way).
    """
    problem = sniff_problem(raw) or ("binary data, not CSV text" if b"\x00" in raw else None)
    if problem:
        return CsvRead([], Reject.of(problem, raw[:120]))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if not latin1:
            return CsvRead([], Reject.of(f"not UTF-8 text ({exc.reason} at byte {exc.start}), so not a CSV export", raw[:120]))
        text = raw.decode("latin-1")
    rows, ends = [], []  # ends: the physical line each record ends on
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        for row in reader:
            rows.append(row)
            ends.append(reader.line_num)
    except csv.Error as exc:
        return CsvRead([], Reject.of(f"not a readable CSV: {exc}", text[:120]))
    last_starts = ends[-2] + 1 if len(ends) > 1 else 1
    if whole_without_newline or not rows or text.endswith(("\n", "\r")) or blank(rows[-1]) or last_starts == 1:
        return CsvRead(rows)  # a file of one line with no newline at all was written that way
    return CsvRead(rows[:-1], None, Reject.of(INCOMPLETE_LINE, delimiter.join(rows[-1]), f"line {last_starts}"))


def blank(row: list[str]) -> bool:
    return not any(cell.strip() for cell in row)


def load_json(raw: bytes) -> tuple[Any, Reject | None]:
    """Decode JSON; on failure a Reject saying why, never an exception.

    Every number it returns is finite, and every integer fits in 64 bits, as
    orjson reads them. orjson refuses NaN, Infinity and numbers beyond a double,
    but the fallback for bodies orjson refuses (Latin-1 feeds) goes through the
    standard json module, which would accept them: there NaN, Infinity, -Infinity
    and overflowing numbers such as 1e999 become None ("not reported", as
    `parse_number` reads them), and integers beyond 64 bits become floats.
    """
    problem = sniff_problem(raw)
    if problem:
        return None, Reject.of(problem, raw[:120])
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as exc:
        try:  # orjson refuses non-UTF-8 (and NaN): a Latin-1 feed is still worth reading
            return json.loads(_json_text(raw), parse_constant=_no_constant, parse_float=finite_float, parse_int=_int64), None
        except (ValueError, RecursionError):
            return None, Reject.of(f"not valid JSON: {exc}", raw[:120])
    except RecursionError:
        return None, Reject.of("JSON nested too deeply", raw[:120])


def _json_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _no_constant(name: str) -> None:
    return None  # NaN, Infinity, -Infinity


def _int64(text: str) -> int | float | None:
    if len(text) <= 20:
        value = int(text)
        if -(2**63) <= value < 2**64:
            return value
    return finite_float(text)


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
