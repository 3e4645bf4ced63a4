"""The shared readers (data_sources.readers: documents, elements, values, config types), the contract helpers and Reject.of."""
from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from data_sources import get_adapter
from data_sources.readers.config_types import CategoryName, SeverityName, StatusName, ZoneName
from data_sources.readers.documents import INCOMPLETE_LINE, blank, load_json, load_xml, load_xml_or_json, read_csv
from data_sources.readers.elements import child, children, descendants, local, text
from data_sources.readers.values import as_text, full_year, parse_number, parse_time, plain_number, split_zone, utc_iso, utc_stamp, zone_from_name
from engine.contract import Adapter, SourceConfig, unstorable
from engine.privacy import mask_digits, private_excerpt
from engine.records import WIB, WITA, Incident, ParseResult, Reading, Reject, record_to_json


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


xml_bytes = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda decl, body: f'<?xml version="1.0" encoding="{decl}"?>{body}'.encode("utf-8", "replace"),
              st.sampled_from(["UTF-8", "UTF-8x", "latin-1", "nope", "UTF-16"]), st.text(alphabet="<>/a b=\"'&;!x", max_size=60)),
    st.sampled_from([b"<a>" * 3000, b"<a>" * 3000 + b"</a>" * 3000, b'<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>']),
)


@settings(max_examples=50, deadline=None)
@given(raw=xml_bytes)
def test_load_xml_never_raises(raw):
    root, problem = load_xml(raw)
    assert (root is None) == (problem is not None)
    if problem is not None:
        assert problem.reason and len(problem.item) <= 120


def test_xml_helpers_are_namespace_blind():

    root, problem = load_xml(b'<c:alert xmlns:c="urn:x"><c:info><c:event> Flood </c:event><c:area/></c:info>'
                             b'<c:info><c:event/></c:info></c:alert>')
    assert problem is None and local(root.tag) == "alert"
    infos = children(root, "info")
    assert len(infos) == 2 and child(root, "info") is infos[0] and child(root, "nothing") is None
    assert text(infos[0], "event") == "Flood" and text(infos[1], "event", "none") == "none"
    assert text(None, "event", "-") == "-" and [local(e.tag) for e in descendants(root, "event")] == ["event", "event"]


# ---- times ----------------------------------------------------------------------------

def test_parse_time_formats():
    utc = timezone.utc
    assert parse_time("2021-10-05T18:00:27+07:00") == datetime(2021, 10, 5, 11, 0, 27, tzinfo=utc)
    assert parse_time("2021-10-05T11:00:27Z") == parse_time("2021-10-05 11:00:27 Z") == datetime(2021, 10, 5, 11, 0, 27, tzinfo=utc)
    assert parse_time("05 Okt 2021 18:00:27 WIB") == datetime(2021, 10, 5, 11, 0, 27, tzinfo=utc)
    assert parse_time("5 Agu 2021, 08:00 wita") == datetime(2021, 8, 5, 0, 0, tzinfo=utc)
    assert parse_time(1633431627) == parse_time(1633431627000) == datetime(2021, 10, 5, 11, 0, 27, tzinfo=utc)
    assert parse_time("2021-10-05 19:00:27", WITA) == datetime(2021, 10, 5, 11, 0, 27, tzinfo=utc)
    assert parse_time(datetime(2021, 10, 5, 19, 0, 27), WITA) == datetime(2021, 10, 5, 11, 0, 27, tzinfo=utc)


def test_parse_time_reads_a_zone_label_glued_to_the_time():
    expected = datetime(2023, 4, 24, 20, 5, 33, tzinfo=timezone.utc)
    assert parse_time("2023-04-25T03:05:33WIB") == parse_time("25 Apr 2023 03:05:33WIB") == expected
    assert parse_time("2023-04-25 04:05:33WITA", WIB) == expected  # the label beats the default zone
    assert split_zone("2023-04-25T03:05:33WIB")[0] == "2023-04-25T03:05:33"
    assert split_zone("05 Okt 2021 18:00:27 WIT")[1].utcoffset(None) == timedelta(hours=9)
    assert split_zone("WIB") == ("WIB", None) and split_zone(" 2023-04-25 ") == ("2023-04-25", None)


def test_parse_time_raises_only_value_error():
    cases = {
        "9999-12-31T23:59:59-01:00": "out of range",  # astimezone overflows past year 9999
        "0001-01-01T00:00:00+01:00": "out of range",
        1e308: "out of range", 10**400: "out of range", float("nan"): "out of range", -1e20: "out of range",
        "2021-10-05 11:00:27": "has no zone",
        "kemarin": "unreadable time 'kemarin'", "03:05:33WIB": "unreadable time", "31 Feb 2021": "unreadable",
        None: "missing", "  ": "missing",
    }
    for text, words in cases.items():
        with pytest.raises(ValueError, match=words):
            parse_time(text)
    with pytest.raises(ValueError, match="out of range"):
        parse_time(datetime(9999, 12, 31, 23), timezone(timedelta(hours=-5)))


time_like = (st.text(max_size=30) | st.integers() | st.floats() | st.datetimes()
             | st.sampled_from(["9999-12-31T23:59:59-01:00", "0001-01-01T00:30:00+01:00", "14 Feb 2022 12:57:47WIB"])
             | st.builds(lambda d, z: f"{d.isoformat()}{z}", st.datetimes(), st.sampled_from(["WIB", " WITA", "Z", "-01:00", "+14:00"])))


@settings(max_examples=50, deadline=None)
@given(text=time_like, zone=st.sampled_from([None, WITA, timezone(timedelta(hours=-12)), ZoneInfo("Asia/Makassar")]))
def test_parse_time_never_raises_anything_but_value_error(text, zone):
    try:
        value = parse_time(text, zone)
    except ValueError:
        return
    assert value.utcoffset() == timedelta(0)


# ---- numbers and JSON ----------------------------------------------------------------

def test_parse_number():
    cases = {"50,000": 50000, "Rp50.000": 50000, "-Rp100": -100, "4.5": 4.5, "4,5": 4.5, "0.500": 0.5, "1.234.567": 1234567,
             " 12 ": 12, 7: 7.0, 2.5: 2.5, "-": None, "": None, "n/a": None, None: None, True: None, "abc": None}
    for text, expected in cases.items():
        assert parse_number(text) == expected, text


def test_parse_number_is_never_nan_or_infinite():
    for text in ("nan", "NaN", "inf", "-inf", "Infinity", "1e999", "-1e999", float("nan"), float("inf"), 10**400, 10**5000):
        assert parse_number(text) is None, text


def test_load_json_latin1_fallback_turns_nan_and_infinity_into_none():
    data, problem = load_json(b'{"a": NaN, "b": [Infinity, -Infinity, 1e999], "c": 2.5, "d": "Caf\xe9", "e": 12}')
    assert problem is None and data == {"a": None, "b": [None, None, None], "c": 2.5, "d": "Café", "e": 12}
    data, _ = load_json('{"a": NaN, "t": "Denpasar \u2014"}'.encode())  # valid UTF-8 stays UTF-8 in the fallback
    assert data == {"a": None, "t": "Denpasar \u2014"}


def test_load_json_integers_fit_64_bits_as_orjson_reads_them():
    big = b"123456789012345678901234567890"
    assert load_json(b"[" + big + b"]")[0] == [float(big)]  # orjson's own reading
    assert load_json(b"[NaN, " + big + b", 18446744073709551615, -9223372036854775808]")[0] == [
        None, float(big), 18446744073709551615, -9223372036854775808]
    assert load_json(b"[NaN, " + b"9" * 5000 + b"]")[0] == [None, None]


def test_load_json_whole_document_problems():
    for raw, words in [(b"", "empty body"), (b"<!DOCTYPE html><html>", "HTML page"), (b'{"a": ', "not valid JSON"),
                       (b"[" * 100000, "not valid JSON"), (b"\xff\xfe\x00garbage", "not valid JSON")]:
        data, problem = load_json(raw)
        assert data is None and words in problem.reason and len(problem.item) <= 120


def _finite_everywhere(value) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            return False
        if isinstance(node, int) and not isinstance(node, bool) and not -(2**63) <= node < 2**64:
            return False
        stack.extend(node.values() if isinstance(node, dict) else node if isinstance(node, list) else [])
    return True


json_bytes = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda v: v.encode("latin-1", "replace"), st.text(alphabet="[]{},:\"0123456789.eE+-NaInfity \xe9truefalsn", max_size=80)),
    st.sampled_from([b"[NaN]", b'{"x": Infinity}', b"[1e999, -1e999]", b"[" * 3000, b"[" + b"9" * 400 + b"]"]),
)


@settings(max_examples=50, deadline=None)
@given(raw=json_bytes)
def test_load_json_never_raises_and_never_returns_nan(raw):
    data, problem = load_json(raw)
    if problem is not None:
        assert data is None and problem.reason
    else:
        assert _finite_everywhere(data)


@settings(max_examples=50, deadline=None)
@given(text=st.text(max_size=30) | st.integers() | st.floats() | st.none() | st.booleans())
def test_parse_number_never_raises_and_is_finite(text):
    value = parse_number(text)
    assert value is None or math.isfinite(value)


# ---- zones -----------------------------------------------------------------------------

def test_zone_from_name():
    for name, hours in [("WIB", 7), ("wita", 8), ("WIT", 9), ("UTC", 0), ("GMT", 0), ("+07:00", 7), ("UTC+8", 8),
                        ("-0530", -5.5), ("Asia/Makassar", 8), ("Asia/Jakarta", 7)]:
        assert zone_from_name(name).utcoffset(datetime(2024, 1, 1)) == timedelta(hours=hours), name
    for bad in ("Mars/Olympus", "America", "+25", "", "a" * 5000, "a\x00b", "../etc/passwd"):  # 'America' is a folder
        with pytest.raises(ValueError, match="unknown time zone"):
            zone_from_name(bad)


def test_zone_name_config_keys_accept_iana_names_and_labels():
    class Config(SourceConfig):
        adapter: str = "x"
        timezone: ZoneName = "Asia/Makassar"

    assert Config().timezone == "Asia/Makassar" and Config(timezone="WIT").timezone == "WIT"
    with pytest.raises(ValidationError, match="unknown time zone"):
        Config(timezone="Bali/Denpasar")
    for name in ("bmkg-quake", "bmkg-weather", "cap", "cctv", "datex2", "emergency-calls", "open311", "petabencana", "water-level"):
        cls = get_adapter(name).Config
        key = "realtime_timezone" if name == "bmkg-quake" else "timezone"
        assert cls(**{key: "WITA"}) and cls(**{key: "Asia/Makassar"}), name
        with pytest.raises(ValidationError, match="unknown time zone"):
            cls(**{key: "America"})


# ---- Adapter.dedupe ----------------------------------------------------------------------

class Plain(Adapter):
    name = ""  # not registered

    def parse(self, raw: bytes) -> ParseResult:
        return ParseResult()


T0 = datetime(2025, 11, 27, 8, tzinfo=timezone.utc)


def incident(rid: str, minutes: int, title: str = "") -> Incident:
    when = T0 + timedelta(minutes=minutes)
    return Incident(id=rid, source="t", category="flood", reported_at=T0, updated_at=when, title=title)


def test_dedupe_keeps_the_newest_version_and_says_why_for_every_dropped_copy():
    built = [incident("A", 0, "first"), Reject.of("bad item", "x", 1), incident("A", 10, "newer"), incident("B", 0),
             incident("A", 5, "late but older"), incident("A", 10, "same as kept")]
    result = Plain("t").dedupe(built)
    assert [(r.id, r.title) for r in result.records] == [("A", "newer"), ("B", "")]  # A keeps its first place
    assert [r.reason for r in result.rejects] == [
        "bad item",
        "older version of id A, superseded in the same document",
        "older version of id A, superseded in the same document",
        "duplicate of id A",
    ]
    assert len(result.records) + len(result.rejects) == len(built)
    assert [r.ref for r in result.rejects] == ["1", "A", "A", "A"]
    assert '"title":"first"' in result.rejects[1].item and "null" not in result.rejects[1].item


def test_dedupe_triples_show_the_input_item_and_ref():
    readings = [Reading(id="G:1", source="t", station="G", quantity="water_level", value=v, observed_at=T0) for v in (1, 2)]
    result = Plain("t").dedupe([(readings[0], "line 2", "G,08:00,1"), (readings[1], "line 3", "G,08:00,2")])
    [kept] = result.records
    assert kept.value == 1
    [dup] = result.rejects
    assert (dup.reason, dup.ref, dup.item) == ("duplicate of id G:1", "line 3", "G,08:00,2")


def test_dedupe_of_a_parse_result_puts_its_rejects_first():
    result = ParseResult(records=[incident("A", 0), incident("A", 1)], rejects=[Reject.of("early", "")])
    deduped = Plain("t").dedupe(result)
    assert [r.reason for r in deduped.rejects] == ["early", "older version of id A, superseded in the same document"]
    assert deduped.records[0].updated_at == T0 + timedelta(minutes=1)


# ---- Adapter.build ------------------------------------------------------------------------

def build_incident(**fields):
    return Plain("t").build(Incident, "row 3", {"raw": "item"}, id="1", category="flood", reported_at=T0, updated_at=T0, **fields)


def deep_dict(depth: int) -> dict:
    root = node = {}
    for _ in range(depth):
        node["a"] = {}
        node = node["a"]
    return root


def test_build_turns_validation_errors_into_rejects():
    reject = Plain("t").build(Incident, 4, "item", id="1", category="flood", reported_at=T0, updated_at=T0, lat=95, lon=115)
    assert isinstance(reject, Reject) and "impossible coordinates" in reject.reason and reject.ref == "4"


def test_build_rejects_records_the_store_cannot_write():
    big = build_incident(details={"counts": [1, 2**64]})
    assert big.reason == "details.counts.1 is an integer beyond 64 bits; the record cannot be stored"
    assert (big.ref, big.item) == ("row 3", '{"raw":"item"}')
    geometry = build_incident(geometry={"type": "Point", "coordinates": [-(2**63) - 1, 1]})
    assert geometry.reason.startswith("geometry.coordinates.0 is an integer beyond 64 bits")
    deep = build_incident(details=deep_dict(253))  # with the record and details around it: 255 levels
    assert "nested too deeply" in deep.reason
    for ok in (build_incident(details=deep_dict(252)), build_incident(details={"n": 2**64 - 1, "m": -(2**63)})):
        assert isinstance(ok, Incident)
        ok.content_hash()
        record_to_json(ok)
    assert unstorable(build_incident()) is None


# ---- private rejects ------------------------------------------------------------------------

class Private(Plain):
    private_excerpts = True
    private_keys = frozenset({"phone", "Alamat", "private", "HNO"})


def test_mask_digits():
    for text in ("+62 361 223-344", "(0361) 223344", "081234567890", "0812.3456.7890", "123456"):
        assert mask_digits(f"call {text} now") == "call [...] now", text
    for text in ("12345", "RT 05 RW 12", "17:10:52", "EMS: CARDIAC EMERGENCY"):
        assert mask_digits(text) == text


def test_private_excerpt_masks_named_keys_and_digit_runs():
    row = {"ID": "T-1", "PHONE": "0812 3456 7890", "alamat": "Jl. Teuku Umar 1", "Kecamatan": "Denpasar Barat",
           "nested": [{"Private": {"a": "secret"}}]}
    text = private_excerpt(row, {"phone", "alamat", "private"})
    assert text == ('{"ID":"T-1","PHONE":"[private]","alamat":"[private]","Kecamatan":"Denpasar Barat",'
                    '"nested":[{"Private":"[private]"}]}')
    raw = '{"phone": "0812", "private": {"x": "}", "y": [1]}, "ok": "yes", "alamat": "Jl. Gatsu'  # cut mid-value
    assert private_excerpt(raw, ["phone", "private", "alamat"]) == \
        '{"phone": "[private]", "private": "[private]", "ok": "yes", "alamat": "[private]"'
    xml = '<c:civic><A3>Denpasar</A3><c:HNO attr="1">42</c:HNO></c:civic>'
    assert private_excerpt(xml, ["hno"]) == '<c:civic><A3>Denpasar</A3><c:HNO attr="1">[private]</c:HNO></c:civic>'
    assert private_excerpt("x" * 290 + "0812345678901234") == "x" * 290 + "[...]"  # masked before the cut


def test_private_adapters_mask_every_reject_they_make():
    adapter = Private("t")
    item = {"phone": "081234567890", "note": "call 0361 223344", "alamat": "Jl. Teuku Umar"}
    assert adapter.reject("bad", item, "r1").item == '{"phone":"[private]","note":"call [...]","alamat":"[private]"}'
    built = adapter.build(Incident, "r2", item, id="1", category="flood", reported_at=T0, updated_at=T0, lat=95, lon=1)
    assert built.item == '{"phone":"[private]","note":"call [...]","alamat":"[private]"}' and built.ref == "r2"
    copy = Incident(id="1", source="t", category="flood", reported_at=T0, updated_at=T0, details={"private": {"phone": "0812"}})
    [dup] = adapter.dedupe([copy, copy]).rejects
    assert '"details":{"private":"[private]"}' in dup.item
    assert Plain("t").reject("bad", item).item == orjson.dumps(item).decode()  # others show the item as it is


@settings(max_examples=50, deadline=None)
@given(item=json_values, keys=st.frozensets(st.text(max_size=6), max_size=4), depth=st.integers(0, 300))
def test_private_excerpt_never_raises_and_never_shows_long_digit_runs(item, keys, depth):
    text = private_excerpt(nested(depth, item), keys)
    assert len(text) <= 300 and not re.search(r"\d{6}", text)


def test_plain_number_as_text_and_time_strings():
    assert [plain_number(v) for v in ("-6.359", " 115.2 ", 7, 2.5, "1,5", "", None, True, "nan", "inf", 10**400)] == \
        [-6.359, 115.2, 7.0, 2.5, None, None, None, None, None, None, None]
    assert [as_text(v) for v in (42, 42.0, 4.5, " T-1 ", None, {}, [1], "")] == ["42", "42", "4.5", "T-1", "", "", "", ""]
    wita = datetime(2025, 9, 10, 8, 17, 30, tzinfo=WITA)
    assert utc_iso(wita) == "2025-09-10T00:17:30Z" and utc_stamp(wita) == "20250910T001730Z"


def test_load_xml_or_json_tells_them_apart_by_the_first_byte():
    root, problem = load_xml_or_json(b"\xef\xbb\xbf \n<services><service/></services>")
    assert problem is None and local(root.tag) == "services"
    assert load_xml_or_json(b' {"a": 1}') == ({"a": 1}, None)
    for raw in (b"<html><body>502</body></html>", b"", b"<a>", b"{"):
        doc, problem = load_xml_or_json(raw)
        assert doc is None and problem.reason


def test_canonical_name_config_types():
    class Config(SourceConfig):
        adapter: str = "x"
        categories: dict[str, CategoryName] = {}
        severity: SeverityName = "medium"
        statuses: dict[str, StatusName] = {}

    assert Config(categories={"Banjir": "flood"}, severity="critical", statuses={"selesai": "closed"}).severity == "critical"
    for bad, words in [({"categories": {"Banjir": "banjir"}}, "categories.Banjir"), ({"severity": "urgent"}, "one of info"),
                       ({"statuses": {"x": "done"}}, "'done' is not one of new")]:
        with pytest.raises(ValidationError, match=words):
            Config(**bad)


# ---- CSV ----------------------------------------------------------------------------------

def test_read_csv():
    rows, problem, unfinished = read_csv("\ufeffa;b\n1;2\n\n;\n".encode(), delimiter=";")
    assert problem is None and unfinished is None and rows == [["a", "b"], ["1", "2"], [], ["", ""]]
    assert [blank(r) for r in rows] == [False, False, True, True]
    assert read_csv(b"a,b\nCaf\xe9,1\n")[0][1] == ["Café", "1"]  # Latin-1 spreadsheet export
    for raw, kwargs, words in [
        (b"a,b\nCaf\xe9,1\n", {"latin1": False}, "not UTF-8 text (invalid continuation byte at byte 7)"),
        (b"a,b\n\x00\x01", {}, "binary data"), (b"", {}, "empty body"), (b"<html><body>502", {}, "HTML page"),
        (b'a\n"' + b"x" * 140_000 + b'"\n', {}, "not a readable CSV: field larger than field limit"),
    ]:
        rows, problem, _ = read_csv(raw, **kwargs)
        assert rows == [] and words in problem.reason


def test_read_csv_keeps_a_line_caught_mid_write_out_of_the_data():
    rows, problem, unfinished = read_csv(b"id,desa\n1,Dauh Puri\n2,Dauh Puri Ka")
    assert problem is None and rows == [["id", "desa"], ["1", "Dauh Puri"]]
    assert unfinished.reason == INCOMPLETE_LINE and unfinished.ref == "line 3" and unfinished.item == "2,Dauh Puri Ka"
    # a quoted record over two lines, cut short: its first line is where it starts
    rows, _, unfinished = read_csv(b'id,note\n1,ok\r\n2,"two\nlin')
    assert rows == [["id", "note"], ["1", "ok"]] and unfinished.ref == "line 3"
    # complete files: a final newline, or one line that never had one
    assert read_csv(b"id,desa\n1,Dauh Puri\n").unfinished is None
    assert read_csv(b"id,desa").rows == [["id", "desa"]] and read_csv(b"id,desa").unfinished is None
    assert read_csv(b"id,desa\n1,x\n   ").unfinished is None  # trailing blanks are no record


@pytest.mark.parametrize("name, header, row", [
    ("emergency-calls", b"Call Number,Received DtTm,Call Type", b"2,2020-04-01T10:00:00,Medical Incid"),
    ("waze", b"uuid,pub_millis,type,longitude,latitude", b"b,1600000000000,ACCIDENT,115.2,-8.6"),
    ("water-level", b"tanggal,ketinggian,name_pintu_air", b"2023-01-01 10:00,12"),
    ("panel-harga", b"Timestamp,Komoditas,Harga", b"2025-09-01,Beras,1500"),
])
def test_csv_adapters_reject_a_last_line_caught_mid_write(name, header, row):
    done = {"emergency-calls": b"1,2020-04-01T09:00:00,Fire", "waze": b"a,1600000000000,ACCIDENT,115.2,-8.6",
            "water-level": b"2023-01-01 09:00,110,Manggarai", "panel-harga": b"2025-09-01,Beras,15000"}[name]
    result = get_adapter(name)(name).parse(header + b"\n" + done + b"\n" + row)
    assert [r.reason for r in result.rejects] == [INCOMPLETE_LINE]
    assert len(result.records) == 1  # the complete line is kept


def test_water_level_csv_with_a_huge_field_is_one_reject_not_a_crash():
    adapter = get_adapter("water-level")("water-level")
    result = adapter.parse(b'tanggal,ketinggian,name_pintu_air\n"' + b"9" * 140_000 + b'",1,x\n')
    assert result.records == [] and len(result.rejects) == 1 and "field larger" in result.rejects[0].reason


def test_two_digit_years_are_never_year_19_ad():
    wib = timezone(timedelta(hours=7))
    assert parse_time("27 Agu 19 13:31:23 WIB") == datetime(2019, 8, 27, 13, 31, 23, tzinfo=wib)
    assert parse_time("27-Aug-19 13:31:23 WIB") == datetime(2019, 8, 27, 13, 31, 23, tzinfo=wib)
    assert full_year("19", 8, 27, today=date(2026, 1, 1)) == 2019
    assert full_year("26", 12, 31, today=date(2026, 1, 1)) == 1926  # later this year: not yet, so last century
    assert full_year("26", 1, 2, today=date(2026, 1, 1)) == 2026  # a day of slack for zones east of UTC
    assert full_year("2019", 8, 27) == 2019
    for year in ("019", "9", "20190"):
        with pytest.raises(ValueError):
            parse_time(f"27 Agu {year} 13:31:23 WIB")
