"""/api/v1/warnings.cap.xml: every alert valid against the OASIS CAP 1.2 schema, only active warnings, no private value."""
from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest
from lxml import etree

from tests.public.conftest import CALLER

SCHEMA = Path(__file__).resolve().parents[1] / "fixtures" / "CAP-v1.2.xsd"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def cap_schema():
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def _alerts(body: bytes) -> list:
    feed = etree.fromstring(body)
    assert feed.tag == f"{ATOM}feed"
    return [entry.find(f"{ATOM}content")[0] for entry in feed.findall(f"{ATOM}entry")]


def test_every_alert_is_valid_cap_1_2(client, fresh_cache, cap_schema):
    r = client.get("/api/v1/warnings.cap.xml")
    assert r.status_code == 200 and r.mimetype == "application/atom+xml"
    alerts = _alerts(r.data)
    assert len(alerts) == 2, "two active warnings; the expired one is not shown"
    for alert in alerts:
        cap_schema.assertValid(etree.ElementTree(alert))
    headlines = [a.findtext(f"{CAP}info/{CAP}headline") for a in alerts]
    assert headlines == ["Hujan lebat disertai angin kencang di Denpasar", "Gempa M5.2 di laut selatan Bali"]
    weather = alerts[0]
    assert weather.findtext(f"{CAP}msgType") == "Update" and weather.findtext(f"{CAP}references").count(",") == 2
    assert weather.findtext(f"{CAP}info/{CAP}severity") == "Severe"
    assert weather.findtext(f"{CAP}info/{CAP}area/{CAP}geocode/{CAP}value") == "51.71.01.1004"
    assert weather.find(f"{CAP}info/{CAP}area/{CAP}circle") is None and weather.find(f"{CAP}info/{CAP}area/{CAP}polygon") is None
    quake = alerts[1]
    assert quake.findtext(f"{CAP}info/{CAP}area/{CAP}areaDesc") == "Samudera Hindia"
    assert quake.findtext(f"{CAP}info/{CAP}parameter/{CAP}value") == "5.2"
    assert CALLER not in r.data.decode()
    assert "[...]" in weather.findtext(f"{CAP}info/{CAP}description")


def test_filters_and_empty_feed_still_valid(client, fresh_cache, cap_schema):
    quakes = _alerts(client.get("/api/v1/warnings.cap.xml?category=earthquake").data)
    assert [a.findtext(f"{CAP}info/{CAP}event") for a in quakes] == ["Gempa Bumi"]
    assert _alerts(client.get("/api/v1/warnings.cap.xml?area=51.71.04").data) == []
    assert len(_alerts(client.get("/api/v1/warnings.cap.xml?area=51.71.01").data)) == 1
    assert len(_alerts(client.get("/api/v1/warnings.cap.xml?kind=weather").data)) == 1


def test_hostile_texts_stay_valid_xml(cap_schema):
    from api.cap import alert

    warning = {"id": "abc", "source": "s<&>", "category": "alert", "severity": "critical", "status": "new",
               "reported_at": "2026-12-01T00:00:00Z", "updated_at": "2026-12-01T00:00:00.123456Z", "expires_at": None,
               "event": "a\x00b\x0bc", "headline": "<script>&amp;\ud800", "description": "]]>", "instruction": "",
               "area": "", "desa": None, "desa_code": None, "sender_name": "", "urgency": None, "certainty": None,
               "magnitude": None}
    el = etree.fromstring(ElementTree.tostring(alert(warning, "me@x")))
    cap_schema.assertValid(etree.ElementTree(el))
    assert el.findtext(f"{CAP}info/{CAP}headline") == "<script>&amp;"


def test_real_cap_alerts_read_by_the_adapter_come_out_valid(samples, cap_schema):
    """Published CAP documents (OASIS spec examples, Environment Canada, NOAA, NSW RFS) through
    the cap adapter and the public projection, made current, become valid CAP 1.2 again."""
    from datetime import datetime, timezone

    from api.cap import atom_feed
    from data_sources import get_adapter
    from data_sources.cap import CapConfig
    from engine.pipeline import parse_safely
    from engine.public import PublicConfig, public_warning

    now = datetime.now(timezone.utc).replace(microsecond=0)
    warnings = []
    for path in sorted((samples / "alerts_cap").glob("cap1*.xml")):
        adapter = get_adapter("cap")("cap", CapConfig(url="http://127.0.0.1/cap.xml", accept_status=["Actual", "Exercise", "Test"]))
        for record in parse_safely(adapter, path.read_bytes()).records:
            current = record.model_copy(update={"status": "new", "expires_at": None, "updated_at": now})
            warnings.append(public_warning(current.model_dump(mode="json"), PublicConfig()))
    assert len(warnings) >= 5
    alerts = _alerts(atom_feed(warnings, "me@example.org", "urn:test", "t", now))
    assert len(alerts) == len(warnings)
    for alert in alerts:
        cap_schema.assertValid(etree.ElementTree(alert))
