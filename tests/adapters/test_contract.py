"""The adapter contract, checked for every registered adapter with its own sample feeds.

An adapter's own module keeps what only it does; what every adapter must do is here:
parse never raises on random or mutated bytes, whole-document failures (an HTML page
served with status 200, a truncated document, an empty body, non-UTF-8 garbage, deep
nesting) are exactly one reject, and fetch turns a 500 or an oversized body into a
FetchError. A new adapter fails test_every_adapter_has_a_contract until it is listed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import orjson
import pytest
from conftest import FeedServer
from contract import BROKEN_DOCUMENTS, assert_fetch_errors, assert_one_reject, assert_parse_total, make_adapter, mutate
from hypothesis import given, settings
from hypothesis import strategies as st

from data_sources import registry
from engine.contract import Adapter

Sample = str | bytes | Callable[[Path], bytes]  # a file under the samples folder, literal bytes, or made from the folder


@dataclass(frozen=True)
class Contract:
    samples: list[Sample]  # the bases mutate works from; the first is also the oversized fetch body
    truncated: list[Sample]  # documents cut short: each is one reject
    config: dict = field(default_factory=dict)  # config keys parse needs (a time for feeds without one)
    head: int | None = None  # bytes of each sample file to mutate, to keep the test fast
    never_empty: bool = False  # any input gives at least one record or reject
    check: Callable | None = None  # what else must hold for every parse of this adapter
    http: bool = True  # fetch reads config.url


def half(name: str) -> Callable[[Path], bytes]:
    def cut(samples: Path) -> bytes:
        raw = (samples / name).read_bytes()
        return raw[: len(raw) // 2]
    return cut


def demo_feed(feed: str) -> Callable[[Path], bytes]:
    return lambda samples: make_adapter("demo", feed=feed, seed=1).fetch()


def private_kept_apart(result) -> None:
    assert all("private" in r.details for r in result.records)


CONTRACTS: dict[str, Contract] = {
    "ais": Contract(
        ["vessels/ais_nmea_aivdm_pyais_test_sample.nmea", "vessels/ais_nmea_kystverket_tagblock_20241209.nmea",
         "vessels/ais_aisstream_decoded_positions_brittany_20250618.json"],
        [b'[{"MMSI": 1, "lat": '], config={"received_at": "2020-01-01T00:00:00Z"}, head=6000),
    "bmkg-quake": Contract(
        ["earthquakes/bmkg_autogempa_20211004.xml", "earthquakes/bmkg_realtime_geojson_20220925.json",
         "earthquakes/bmkg_inatews_datagempa_m69_fiji_20230616.json", "alerts_cap/bmkg_inatews_tsunami_warning_20230425.json"],
        [b'{"Infogempa": {"gempa": {"Coordinates": "x"', b"<Infogempa><gempa><Magnitude>4"], never_empty=True),
    "bmkg-weather": Contract(
        ["weather/bmkg_prakiraan_cuaca_adm4_51.71.01.1004_panjer_denpasar_20260330.json",
         "weather/bmkg_digitalforecast_dkijakarta_20240404.xml"],
        [b'{"data": [{"cuaca": [[{"t": 3', b"<data><forecast>"], head=20000, never_empty=True),
    "cap": Contract(
        ["weather/bmkg_nowcast_cap_banten_20260216.xml", "alerts_cap/cap12_au_nsw_rfs_fire_prefixed_20111005.xml",
         "alerts_cap/petabencana_api_floods_cap_atom_docs_example.xml", "alerts_cap/cap12_environment_canada_thunderstorm_20120502.xml"],
        [b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>x"], never_empty=True),
    "cctv": Contract(
        ["traffic/cctv_palembang_kominfo_api_list_20251127.json", "traffic/cctv_dishub_pantura_mudik_locations_2015.json"],
        [b'{"data": [{"cctv_id": "a"'], config={"listed_at": "2015-07-10T08:00:00+07:00"}),
    "datex2": Contract(
        ["traffic/datex2_v2_ntis_event_situation_20150429.xml", "traffic/datex2_v2_ntis_vms_status_20150429.xml",
         "traffic/datex2_v2_ntis_midas_loop_measureddata_20150429.xml"],
        [b"<d2LogicalModel><payloadPublication>"], head=8000),
    "demo": Contract(
        [demo_feed("complaints"), demo_feed("gauges"), demo_feed("quakes")],
        [b'{"records": [{"kind": "incident", "id": "x"'], head=20000, http=False),
    "emergency-calls": Contract(
        ["emergency_calls/seattle_fire_realtime_911_soda_kzjm-xkqj_2019.json",
         "emergency_calls/nena_eido_sta021_sample_call_transfer.json", "emergency_calls/nena_eido_draft2020_sample_superseded.json",
         "emergency_calls/montco_pa_911_calls_kaggle_first2000.csv", "emergency_calls/sf_fire_dept_calls_for_service_2020-04_first2000.csv"],
        [b'[{"incident_number": "F1", "type": "Aid'], head=12000, check=private_kept_apart),
    "gtfs-rt": Contract(
        ["transit/gtfsrt_vehiclepositions_capmetro_austin_20210213.pb", "transit/gtfsrt_vehiclepositions_delhi_dtc_20250911.pb"],
        [half("transit/gtfsrt_vehiclepositions_capmetro_austin_20210213.pb"), b"\x0a\x00"], head=20000),
    "open311": Contract(
        ["complaints/open311_georeport_v2_requests_bloomington_2012.json", "complaints/open311_georeport_v2_requests_toronto_2018.xml"],
        [b'[{"service_request_id": "1", "status": "op', b"<service_requests><request><service_request_id>1</service_request_id>"]),
    "panel-harga": Contract(
        ["market_prices/bapanas_panelharga_konsumen_kota_bandung_2025-09_2025-11.csv"],
        [b"Timestamp,ID,Komoditas,Satuan,"], config={"market": "Kota Bandung"}, head=6000),
    "petabencana": Contract(
        ["floods/petabencana_api_floods_topojson_docs_example.json", "floods/petabencana_api_reports_topojson_docs_example.json",
         "floods/petabencana_api_floods_states_docs_example.json", "water_levels/petabencana_api_floodgauges_topojson_docs_example.json"],
        [b'{"statusCode": 200, "result": {"type": "Topo'], never_empty=True),
    "pihps": Contract(
        ["market_prices/pihps_bi_histogram_telur_ayam_per_provinsi_20200720.json", "market_prices/pihps_bi_commodity_tree.json"],
        [b'[{"Provinsi": "Bali", "Nilai": 2']),
    "water-level": Contract(
        ["water_levels/jakarta_pantaubanjir_manggarai_bkb_hourly_2022-10_2023-10.csv",
         orjson.dumps([{"gauge": "Manggarai BKB", "time": "2023-01-01T10:00:00+07:00", "level_cm": 760}] * 3)],
        [b'[{"gauge": "x", "time": "2023'], head=3000),
    "waze": Contract(
        ["traffic/waze_jds_jabar_alerts_dsw2021_excerpt.csv", "traffic/waze_jds_jabar_irregularities_dsw2021_excerpt.csv",
         "traffic/waze_ccp_feed_nyc_20190322T2138Z_cut.json"],
        [b'{"alerts": [{"uuid": "a"'], head=20000),
}
NAMES = sorted(CONTRACTS)


def load(sample: Sample, samples: Path, head: int | None = None) -> bytes:
    if isinstance(sample, bytes):
        return sample
    raw = sample(samples) if callable(sample) else (samples / sample).read_bytes()
    return raw[:head] if head else raw


def parser(name: str):
    return make_adapter(name, **CONTRACTS[name].config)


def test_every_adapter_has_a_contract():
    assert set(CONTRACTS) == set(registry())


@pytest.mark.parametrize("name", NAMES)
def test_every_adapter_says_how_it_reads_a_document(name):
    """The base parse loads the declared format and hands `read` the document: an adapter declares its
    loader (`document`) or overrides `load`, and writes `read`; or it overrides `parse` whole."""
    cls = registry()[name]
    if cls.parse is Adapter.parse:
        assert cls.document is not None or cls.load is not Adapter.load, name
        assert cls.read is not Adapter.read, name


@pytest.mark.parametrize("name", NAMES)
def test_samples_parse_to_something(samples, name):
    """The bases the mutations start from are real feeds of this adapter, not documents it refuses whole."""
    contract = CONTRACTS[name]
    for sample in contract.samples:
        result = parser(name).parse(load(sample, samples))
        assert_parse_total(result)
        assert len(result.records) + len(result.rejects) >= 1


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_random_and_mutated_bytes_never_raise(samples, name, data):
    contract = CONTRACTS[name]
    base = load(data.draw(st.sampled_from(contract.samples), label="sample"), samples, contract.head)
    result = parser(name).parse(mutate(base, data))  # straight parse: a raise fails the test
    assert_parse_total(result)
    if contract.never_empty:
        assert len(result.records) + len(result.rejects) >= 1
    if contract.check:
        contract.check(result)


BROKEN_CASES = [pytest.param(name, kind, i, id=f"{name}-{kind}-{i}")
                for name in NAMES for kind, docs in BROKEN_DOCUMENTS.items() for i in range(len(docs))]


@pytest.mark.parametrize("name, kind, i", BROKEN_CASES)
def test_broken_documents_are_one_reject(name, kind, i):
    assert_one_reject(parser(name).parse(BROKEN_DOCUMENTS[kind][i]))


@pytest.mark.parametrize("name", NAMES)
def test_truncated_documents_are_one_reject(samples, name):
    for doc in CONTRACTS[name].truncated:
        assert_one_reject(parser(name).parse(load(doc, samples)))


@pytest.fixture(scope="module")
def one_feed_server():
    """conftest's FeedServer, once for all adapters (each one costs half a second to shut down)."""
    server = FeedServer()
    yield server
    server.close()


@pytest.mark.parametrize("name", [n for n in NAMES if CONTRACTS[n].http])
def test_fetch_errors(samples, one_feed_server, name):
    cls = registry()[name]
    contract = CONTRACTS[name]
    assert_fetch_errors(cls, cls.Config, one_feed_server, load(contract.samples[0], samples), **contract.config)
