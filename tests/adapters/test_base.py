"""The shared adapter contract: data_sources.base, data_sources._xml and Reject.of."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from data_sources._xml import child, children, descendants, load_xml, local, text
from engine.records import Reject



def nested(depth: int, leaf=None):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


# ---- Reject.of -----------------------------------------------------------------------

def test_reject_of_deep_nesting_shows_something():
    for depth in (300, 5000):  # orjson stops at 255 levels; json at the recursion limit
        reject = Reject.of("too deep", nested(depth), 7)
        assert reject.item.startswith("[[[[") and len(reject.item) <= 300 and reject.ref == "7"


def test_reject_of_big_integers_and_odd_keys():
    assert Reject.of("big", {"n": 2**80}).item == '{"n": ' + str(2**80) + "}"
    assert Reject.of("int keys", {1: "a"}).item == '{"1":"a"}'
    assert "(1, 2)" in Reject.of("tuple keys", {(1, 2): "a"}).item
    assert Reject.of("bytes", b"\xffabc").item == "\ufffdabc"
    assert len(Reject.of("long", "x" * 1000).item) == 300


def test_reject_of_survives_objects_that_cannot_print():
    class Hostile:
        def __repr__(self):
            raise RuntimeError("no")

        __str__ = __repr__

    reject = Reject.of(Hostile(), Hostile(), Hostile())
    assert reject.reason == reject.ref == "(a Hostile that cannot be shown)"
    assert "Hostile" in reject.item


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5) | st.integers(), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=50, deadline=None)
@given(item=json_values, depth=st.integers(0, 400), ref=st.none() | st.integers() | st.text(max_size=10))
def test_reject_of_never_raises(item, depth, ref):
    reject = Reject.of("reason", nested(depth, item), ref)
    assert isinstance(reject.item, str) and len(reject.item) <= 300


# ---- _xml -------------------------------------------------------------------------------

def test_load_xml_rejects_instead_of_raising():
    cases = {
        b'<?xml version="1.0" encoding="UTF-8x"?><a/>': "unknown encoding",  # LookupError inside expat
        b"<a><b>": "not valid XML",
        b"": "empty body",
        b"<html><body>502</body></html>": "HTML page",
        b'<!DOCTYPE a [<!ENTITY x "boom">]><a>&x;</a>': "not valid XML",  # entities are refused
    }
    for raw, words in cases.items():
        root, problem = load_xml(raw)
        assert root is None and words in problem.reason and problem.item == raw[:120].decode("utf-8", "replace")


def test_xml_helpers_are_namespace_blind():
    root, problem = load_xml(b'<c:alert xmlns:c="urn:x"><c:info><c:event> Flood </c:event><c:area/></c:info>'
                             b'<c:info><c:event/></c:info></c:alert>')
    assert problem is None and local(root.tag) == "alert"
    infos = children(root, "info")
    assert len(infos) == 2 and child(root, "info") is infos[0] and child(root, "nothing") is None
    assert text(infos[0], "event") == "Flood" and text(infos[1], "event", "none") == "none"
    assert text(None, "event", "-") == "-" and [local(e.tag) for e in descendants(root, "event")] == ["event", "event"]
