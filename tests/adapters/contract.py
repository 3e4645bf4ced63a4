"""Checks every adapter's tests share: the adapter contract of engine/contract.py.

test_contract.py runs them for every registered adapter; an adapter's own module
imports them for its own hand-made inputs.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import strategies as st

from data_sources import get_adapter
from engine.contract import Adapter
from engine.fetch import FetchError
from engine.records import ParseResult

UTC = timezone.utc


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def make_adapter(name: str, config=None, source: str | None = None, **keys) -> Adapter:
    """The registered adapter `name`, with `config` or a Config made from `keys`.

    Modules bind it once: `adapter = partial(make_adapter, "waze", source="waze-denpasar")`.
    """
    cls = get_adapter(name)
    return cls(source or name, config if config is not None else cls.Config(**keys))


# ---- whole-document failures --------------------------------------------------------------

HTML_PAGES = [b"<html><body>502</body></html>", b"<!DOCTYPE html><html><body>Error</body></html>",
              b"<html><head><title>503</title></head></html>", b"<html><body>Service Unavailable</body></html>"]
EMPTY = [b"", b"   ", b"   \n"]
NOT_UTF8 = [b"\xff\xfe\x00", b"\xfe\xff\x00\x00", b"\xff\xfe\xfa", b"\xff\xfe\x00\x00\x81", b"\xff\xfe\x00\x01garbage",
            b"\xff\xfe\x00\x81\x00garbage", b"\xff\xfe\x00\x81garbage\n\x00\x01", b"\xff\xfe\x00<",
            b"\xff\xfe\x00\x00", b"\xff\xfe\x00\x81", b"\xff\xfe\x00\x81garbage bytes here"]
DEEPLY_NESTED = [b"[" * 300 + b"]" * 300, b"[" * 5000 + b"]" * 5000, b"[" * 100000 + b"]" * 100000, b"[" * 5000,
                 b'{"a":' * 3000 + b"1" + b"}" * 3000, b"<a>" * 10000 + b"</a>" * 10000]
BROKEN_DOCUMENTS = {"html page": HTML_PAGES, "empty": EMPTY, "not utf-8": NOT_UTF8, "deeply nested": DEEPLY_NESTED}


def assert_parse_total(result: ParseResult) -> None:
    """What any parse of any bytes must give: reasons on every reject, one record per id, storable records."""
    assert isinstance(result, ParseResult)
    assert all(isinstance(r.reason, str) and r.reason for r in result.rejects)
    assert len({r.id for r in result.records}) == len(result.records)
    assert all(r.content_hash() for r in result.records)  # storable (orjson) records


def assert_one_reject(result: ParseResult) -> None:
    """A whole-document failure: no records and exactly one reject that says why."""
    assert result.records == [] and len(result.rejects) == 1 and result.rejects[0].reason


# ---- random and mutated bytes -------------------------------------------------------------

def mutate(base: bytes, data: st.DataObject) -> bytes:
    """Bytes drawn near `base`: random bytes, a splice of junk, a cut with junk, or flipped bytes."""
    mode = data.draw(st.sampled_from(["random", "splice", "cut", "flip"]), label="mode")
    if mode == "random" or not base:
        return data.draw(st.binary(max_size=300))
    pos = data.draw(st.integers(0, len(base) - 1), label="pos")
    if mode == "splice":
        junk, drop = data.draw(st.binary(max_size=8)), data.draw(st.integers(0, 20))
        return base[:pos] + junk + base[pos + drop:]
    if mode == "cut":
        return base[:pos] + data.draw(st.binary(max_size=8))
    raw = bytearray(base)
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    return bytes(raw)


# ---- fetch --------------------------------------------------------------------------------

def assert_fetch_errors(adapter_cls: type[Adapter], config_cls, feed_server, body: bytes, **keys) -> None:
    """A 500 status and a body over max_bytes are FetchErrors, not bytes handed to parse."""
    name = adapter_cls.name
    down = config_cls(url=feed_server.serve("/down", b"oops", status=500), **keys)
    with pytest.raises(FetchError):
        adapter_cls(name, down).fetch()
    limit = 1024  # the smallest max_bytes SourceConfig allows
    big = body * (limit // max(len(body), 1) + 2)
    over = config_cls(url=feed_server.serve("/big", big), max_bytes=limit, **keys)
    with pytest.raises(FetchError):
        adapter_cls(name, over).fetch()
