import json
from datetime import datetime
from functools import partial

import pytest
from contract import assert_one_reject, make_adapter

from data_sources._prices import canonical_commodity
from engine.pipeline import parse_safely
from engine.records import WITA

HISTOGRAM = "market_prices/pihps_bi_histogram_telur_ayam_per_provinsi_20200720.json"
TREE = "market_prices/pihps_bi_commodity_tree.json"

adapter = partial(make_adapter, "pihps")


def test_histogram_one_price_per_province(samples):
    result = parse_safely(adapter(), (samples / HISTOGRAM).read_bytes())
    assert len(result.records) == 34 and result.rejects == []
    assert len({p.id for p in result.records}) == 34
    bali = next(p for p in result.records if p.market == "Bali")
    assert bali.commodity == "telur_ayam_ras" and bali.details["source_commodity"] == "Telur Ayam"
    assert bali.value == 23150 and bali.unit == "kg"
    assert bali.date == datetime(2020, 7, 20, tzinfo=WITA)
    assert bali.id == "telur_ayam_ras|bali|2020-07-20"
    assert bali.details["change_rp"] == 500 and bali.details["national_average"] == 26400
    sumsel = next(p for p in result.records if p.market == "Sumatera Selatan")
    assert sumsel.details["change_rp"] == -100  # "-Rp100"
    assert "ceiling" not in bali.details


def test_region_filter_and_ceiling(samples):
    a = adapter(region="BALI", ceilings={"telur_ayam_ras": 23000})
    result = parse_safely(a, (samples / HISTOGRAM).read_bytes())
    [bali] = result.records
    assert bali.details["ceiling"] == 23000 and bali.details["above_ceiling"] is True
    assert len(result.rejects) == 33
    assert all("outside the configured region" in r.reason for r in result.rejects)


def test_tree_document_is_one_informative_reject(samples):
    result = parse_safely(adapter(), (samples / TREE).read_bytes())
    assert result.records == []
    [reject] = result.rejects
    assert "commodity tree" in reject.reason and "31" in reject.reason


def test_every_tree_name_has_a_canonical_commodity(samples):
    """The COMMODITIES table covers the PIHPS tree: each sub-commodity its own canonical name."""
    tree = {i["TreeID"]: i["TreeName"] for i in json.loads((samples / TREE).read_bytes())["data"]}
    names = {k: canonical_commodity(" ".join(v.split())) for k, v in tree.items()}
    assert len(names) == 31 and all(mapped for _, mapped in names.values())
    assert names["7_14"][0] == "cabai_merah_keriting"
    assert names["8_16"][0] == "cabai_rawit_merah"
    assert names["1_3"][0] == "beras_medium_1"
    assert names["9_18"][0] == "minyak_goreng_kemasan_1"
    leaves = [c for k, (c, _) in names.items() if "_" in k]
    assert len(leaves) == 21 == len(set(leaves))


def test_string_values_dash_zero_and_duplicates():
    raw = ('{"data": ['
           '{"Provinsi": "Bali", "Komoditas": "Cabai Rawit Merah", "Tanggal": "20 Agu 2025", "Nilai": "Rp50.000"},'
           '{"Provinsi": "Bali", "Komoditas": "Bawang Merah", "Tanggal": "20 Agu 2025", "Nilai": "38,500"},'
           '{"Provinsi": "Bali", "Komoditas": "Minyak Goreng Curah", "Tanggal": "20 Agu 2025", "Nilai": "17.000"},'
           '{"Provinsi": "Bali", "Komoditas": "Beras Kualitas Medium I", "Tanggal": "20 Agu 2025", "Nilai": "-"},'
           '{"Provinsi": "Bali", "Komoditas": "Gula Pasir Lokal", "Tanggal": "20 Agu 2025", "Nilai": 0},'
           '{"Provinsi": "Bali", "Komoditas": "Cabai Rawit Merah", "Tanggal": "20 Agu 2025", "Nilai": "51000"},'
           '{"Provinsi": "Bali", "Komoditas": "Daging Sapi Kualitas 1", "Tanggal": "32 Agu 2025", "Nilai": "130000"},'
           '{"Provinsi": "", "Komoditas": "Daging Sapi Kualitas 1", "Tanggal": "20 Agu 2025", "Nilai": "130000"},'
           '"oops"]}').encode()
    result = parse_safely(adapter(), raw)
    assert [p.commodity for p in result.records] == ["cabai_rawit_merah", "bawang_merah", "minyak_goreng_curah"]
    assert [p.value for p in result.records] == [50000, 38500, 17000]
    assert result.records[2].unit == "liter"
    assert result.records[0].date == datetime(2025, 8, 20, tzinfo=WITA)
    reasons = [r.reason for r in result.rejects]
    assert len(reasons) == 6
    assert reasons[0].startswith("not reported") and reasons[1].startswith("not reported")
    assert reasons[2] == "duplicate of id cabai_rawit_merah|bali|2025-08-20"
    assert "impossible date" in reasons[3]
    assert "no market" in reasons[4]
    assert "not an object" in reasons[5]


def test_commodity_from_config_and_custom_fields():
    raw = b'[{"nama_pasar": "Pasar Badung", "harga": "Rp42.000", "tgl": "2025-11-03"}]'
    a = adapter(commodity="Cabai Merah Keriting", fields={"market": "nama_pasar", "value": "harga", "date": "tgl"},
                commodity_map={"Cabai Merah Keriting": "cabai_keriting_lokal"})
    [p] = parse_safely(a, raw).records
    assert (p.commodity, p.market, p.value) == ("cabai_keriting_lokal", "Pasar Badung", 42000)
    assert p.details["commodity_mapped"] is True


def test_unknown_commodity_keeps_a_snake_case_name():
    raw = b'[{"Provinsi": "Bali", "Komoditas": "Kacang Tanah (Kupas)", "Tanggal": "20 Jul 20", "Nilai": 30000}]'
    [p] = parse_safely(adapter(), raw).records
    assert p.commodity == "kacang_tanah_kupas" and p.details["commodity_mapped"] is False


def test_fetch_path(samples, feed_server):
    body = (samples / HISTOGRAM).read_bytes()
    a = adapter(url=feed_server.serve("/hist.json", body, content_type="application/json"))
    result = parse_safely(a, a.fetch())
    assert len(result.records) == 34


@pytest.mark.parametrize("raw", [b'{"error": "session expired"}', b"42"])  # and the documents in test_contract.py
def test_broken_documents_are_one_reject(raw):
    assert_one_reject(parse_safely(adapter(), raw))
