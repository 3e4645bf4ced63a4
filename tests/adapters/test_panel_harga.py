from collections import Counter
from datetime import date, datetime
from functools import partial

import pytest
from contract import assert_one_reject, make_adapter

from data_sources._prices import canonical_commodity
from data_sources.readers.documents import INCOMPLETE_LINE
from engine.pipeline import parse_safely
from engine.prices import change, daily_series, market_date
from engine.records import WITA

CSV = "market_prices/bapanas_panelharga_konsumen_kota_bandung_2025-09_2025-11.csv"
HEADER = "Timestamp,ID,Komoditas,Satuan,Harga,Harga Kemarin,Tanggal Kemarin,Gap,Gap Persen,Gap Perubahan\n"

adapter = partial(make_adapter, "panel-harga", market="Kota Bandung")


def test_bandung_csv_counts_and_values(samples):
    result = parse_safely(adapter(), (samples / CSV).read_bytes())
    # 1,625 rows; 299 have Harga 0 (four commodities never reported, 2 gaps in most others)
    assert len(result.records) == 1326 and len(result.rejects) == 299
    assert all(r.reason == "not reported (Harga = '0')" for r in result.rejects)
    assert len({p.id for p in result.records}) == 1326
    by_id = {p.id: p for p in result.records}
    chili = by_id["cabai_rawit_merah|kota_bandung|2025-11-16"]
    assert chili.value == 40000 and chili.unit == "kg" and chili.market == "Kota Bandung"
    assert chili.date == datetime(2025, 11, 16, tzinfo=WITA)
    assert chili.details["source_commodity"] == "Cabai Rawit Merah" and chili.details["commodity_id"] == "33"
    assert by_id["minyakita|kota_bandung|2025-11-15"].unit == "liter"
    first = by_id["beras_premium|kota_bandung|2025-09-13"]
    assert first.value == 16000 and first.details["previous_value"] == 15500
    commodities = Counter(p.commodity for p in result.records)
    assert commodities["telur_ayam_ras"] == 63 and commodities["beras_medium"] == 64
    assert "jagung_peternak" not in commodities  # always 0 in the file


def test_ceiling_from_config(samples):
    result = parse_safely(adapter(ceilings={"minyakita": 15700}), (samples / CSV).read_bytes())
    oil = [p for p in result.records if p.commodity == "minyakita"]
    assert oil and all(p.details["ceiling"] == 15700 for p in oil)
    assert next(p for p in oil if p.id.endswith("2025-11-16")).details["above_ceiling"] is True
    assert all("ceiling" not in p.details for p in result.records if p.commodity != "minyakita")


def test_changes_on_the_sample(samples):
    result = parse_safely(adapter(), (samples / CSV).read_bytes())
    series = daily_series((p.commodity, p.market, market_date(p.event_time), p.value) for p in result.records)
    chili = series[("cabai_rawit_merah", "Kota Bandung")]
    day = change(chili, 1)
    assert (day.day, day.value) == (date(2025, 11, 16), 40000)
    assert (day.ref_day, day.ref_value, day.diff, day.pct) == (date(2025, 11, 15), 40000, 0, 0)
    week = change(chili, 7)
    assert (week.ref_day, week.diff) == (date(2025, 11, 9), -2500)
    assert week.pct == pytest.approx(-5.88, abs=0.005)


def test_rows_with_odd_values_and_market_column():
    raw = (HEADER.replace("Gap Perubahan", "Gap Perubahan,Pasar")
           + "2025-11-03,33,Cabai Rawit Merah,Rp./Kg,\"55,000\",0,2-11-2025,0,0,up,Pasar Badung\n"
           + "2025-11-03,30,Bawang Merah,Rp./Kg,-,0,2-11-2025,0,0,up,Pasar Badung\n"
           + "2025-11-03,33,Cabai Rawit Merah,Rp./Kg,56000,0,2-11-2025,0,0,up,Pasar Badung\n"
           + "2025-13-03,36,Telur Ayam Ras,Rp./Kg,29000,0,2-11-2025,0,0,up,Pasar Badung\n"
           + "2025-11-03,36,,Rp./Kg,29000,0,2-11-2025,0,0,up,Pasar Badung\n"
           + "2025-11-03,36,Telur Ayam Ras,Rp./Kg,Rp29.500,0,2-11-2025,0,0,up,\n").encode()
    result = parse_safely(adapter(), raw)
    assert [(p.market, p.value) for p in result.records] == [("Pasar Badung", 55000), ("Kota Bandung", 29500)]
    assert [r.reason for r in result.rejects] == [
        "not reported (Harga = '-')",
        "duplicate of id cabai_rawit_merah|pasar_badung|2025-11-03",
        "date: impossible date '2025-13-03'",
        "no commodity name",
    ]
    assert [r.ref for r in result.rejects] == ["3", "4", "5", "6"]


def test_semicolon_csv_with_renamed_columns():
    raw = "tanggal;komoditas;harga\n2025-11-03;Cabai Rawit Merah;Rp61.000\n".encode()
    a = adapter(delimiter=";", columns={"date": "tanggal", "commodity": "komoditas", "value": "harga"}, market="Kota Denpasar")
    [p] = parse_safely(a, raw).records
    assert (p.commodity, p.market, p.value, p.unit) == ("cabai_rawit_merah", "Kota Denpasar", 61000, "kg")


def test_fetch_path(samples, feed_server):
    body = (samples / CSV).read_bytes()
    a = adapter(url=feed_server.serve("/harga.csv", body, content_type="text/csv"))
    assert len(parse_safely(a, a.fetch()).records) == 1326


@pytest.mark.parametrize("raw", [b"a,b,c\n1,2,3\n", b'{"data": []}'])  # and the documents in test_contract.py
def test_broken_documents_are_one_reject(raw):
    assert_one_reject(parse_safely(adapter(), raw))


def test_truncated_csv_keeps_whole_rows_and_rejects_the_cut_one(samples):
    lines = (samples / CSV).read_bytes().splitlines(keepends=True)
    raw = b"".join(lines[:4]) + lines[4][:25]  # last row cut inside the price, as a file being written
    result = parse_safely(adapter(), raw)
    assert len(result.records) + len(result.rejects) == 4
    assert result.rejects[-1].reason == INCOMPLETE_LINE and result.rejects[-1].ref == "line 5"
    cut_short = parse_safely(adapter(), raw + b"\n")  # a short row that did end its line
    assert cut_short.rejects[-1].reason == "row is cut short: 3 of 10 columns"


def test_canonical_names_match_between_sources():
    assert canonical_commodity("Telur Ayam Ras Segar") == ("telur_ayam_ras", True)
    assert canonical_commodity("Telur Ayam Ras") == ("telur_ayam_ras", True)
    assert canonical_commodity("Cabai Merah Keriting ") == ("cabai_merah_keriting", True)
    assert canonical_commodity("Bawang Putih Bonggol")[0] == canonical_commodity("Bawang Putih Ukuran Sedang")[0]
    assert canonical_commodity("Daging Kerbau Segar (Lokal)") == ("daging_kerbau_segar", True)
