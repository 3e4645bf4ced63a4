"""Active warnings as CAP 1.2 alerts (OASIS Common Alerting Protocol v1.2), in an Atom feed.

Each public warning (engine.public.public_warning) becomes one `<alert>` in the
CAP 1.2 namespace, carried as the content of one Atom `<entry>`, the way CAP
feeds are usually published. The alert's identifier is derived from the
warning's public id and its last update, so an unchanged warning keeps its
identifier and a changed one gets a new one that references the first.
Locations are the desa (a BPS code geocode and the desa name), never a point.
"""
from __future__ import annotations

import re
from datetime import datetime
from xml.etree import ElementTree as ET

from engine.records import WITA
from engine.taxonomy import category_label

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_SEVERITY = {"critical": "Extreme", "high": "Severe", "medium": "Moderate", "low": "Minor", "info": "Unknown"}
CAP_CATEGORY = {"earthquake": "Geo", "tsunami": "Geo", "volcano": "Geo", "alert": "Other", "wildfire": "Fire", "fire": "Fire",
                "extreme_weather": "Met", "flood": "Met", "flood_report": "Met", "flooded_area": "Met"}
LANGUAGE = {"id": "id-ID", "en": "en-US"}
# Characters XML 1.0 cannot carry at all (a feed's title may hold them): dropped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

ET.register_namespace("", ATOM_NS)
ET.register_namespace("cap", CAP_NS)


def xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


def cap_time(value: str | datetime) -> str:
    """CAP wants 'YYYY-MM-DDThh:mm:ss+hh:mm' (no 'Z', no fraction); WITA is the city's clock."""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return at.astimezone(WITA).replace(microsecond=0).isoformat()


def identifier(warning: dict, at: str) -> str:
    return f"damamaya-{warning['id']}-{cap_time(at)[:19].replace('-', '').replace(':', '')}"


def _sub(parent: ET.Element, name: str, text: str | None, ns: str = CAP_NS) -> ET.Element | None:
    if text is None or text == "":
        return None
    el = ET.SubElement(parent, f"{{{ns}}}{name}")
    el.text = xml_text(str(text))
    return el


def alert(warning: dict, sender: str, language: str = "id") -> ET.Element:
    """One CAP 1.2 <alert> for a public warning; elements in the order the schema requires."""
    root = ET.Element(f"{{{CAP_NS}}}alert")
    sent = warning["updated_at"]
    is_update = cap_time(warning["updated_at"]) != cap_time(warning["reported_at"])
    _sub(root, "identifier", identifier(warning, sent))
    _sub(root, "sender", sender)
    _sub(root, "sent", cap_time(sent))
    _sub(root, "status", "Actual")
    _sub(root, "msgType", "Update" if is_update else "Alert")
    _sub(root, "source", warning["source"])
    _sub(root, "scope", "Public")
    if is_update:
        first = warning["reported_at"]
        _sub(root, "references", f"{sender},{identifier(warning, first)},{cap_time(first)}")
    info = ET.SubElement(root, f"{{{CAP_NS}}}info")
    _sub(info, "language", LANGUAGE.get(language, "id-ID"))
    _sub(info, "category", CAP_CATEGORY.get(warning["category"], "Safety"))
    _sub(info, "event", warning["event"] or category_label(warning["category"], language))
    _sub(info, "urgency", warning["urgency"] or "Unknown")
    _sub(info, "severity", CAP_SEVERITY.get(warning["severity"], "Unknown"))
    _sub(info, "certainty", warning["certainty"] or "Unknown")
    _sub(info, "effective", cap_time(warning["reported_at"]))
    if warning.get("expires_at"):
        _sub(info, "expires", cap_time(warning["expires_at"]))
    _sub(info, "senderName", warning["sender_name"] or "Damamaya Denpasar")
    _sub(info, "headline", warning["headline"])
    _sub(info, "description", warning["description"])
    _sub(info, "instruction", warning["instruction"])
    if warning.get("magnitude") is not None:
        param = ET.SubElement(info, f"{{{CAP_NS}}}parameter")
        _sub(param, "valueName", "magnitude")
        _sub(param, "value", f"{warning['magnitude']:g}")
    area = ET.SubElement(info, f"{{{CAP_NS}}}area")
    _sub(area, "areaDesc", warning["area"] or warning["desa"] or "Kota Denpasar")
    if warning.get("desa_code"):
        geocode = ET.SubElement(area, f"{{{CAP_NS}}}geocode")
        _sub(geocode, "valueName", "BPS_KODE_WILAYAH")
        _sub(geocode, "value", warning["desa_code"])
    return root


def atom_feed(warnings: list[dict], sender: str, feed_id: str, title: str, updated: datetime,
              language: str = "id") -> bytes:
    """An Atom feed with one entry per warning, each entry's content one CAP alert."""
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _sub(feed, "id", feed_id, ATOM_NS)
    _sub(feed, "title", title, ATOM_NS)
    _sub(feed, "updated", cap_time(updated), ATOM_NS)
    author = ET.SubElement(feed, f"{{{ATOM_NS}}}author")
    _sub(author, "name", sender, ATOM_NS)
    for w in warnings:
        entry = ET.SubElement(feed, f"{{{ATOM_NS}}}entry")
        _sub(entry, "id", f"urn:damamaya:cap:{identifier(w, w['updated_at'])}", ATOM_NS)
        _sub(entry, "title", w["headline"], ATOM_NS)
        _sub(entry, "updated", cap_time(w["updated_at"]), ATOM_NS)
        content = ET.SubElement(entry, f"{{{ATOM_NS}}}content", {"type": "application/cap+xml"})
        content.append(alert(w, sender, language))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
