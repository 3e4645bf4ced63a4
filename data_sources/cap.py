"""Common Alerting Protocol (CAP 1.0/1.1/1.2) alerts, plain or wrapped in an Atom/RSS feed.

One `<alert>` is one Incident. Elements are read namespace-blind, so CAP 1.1 and
1.2 and documents that prefix every element (`cap:alert`) read the same.

- `<info>`: one per language. The one used for the record's title and fields
  is the first whose language matches `language` (default "id"), else English,
  else the first. Areas of every `<info>` in that same language are merged
  (CAP-AU repeats an info per geocode). An info without `<language>` is
  "en-US", as the CAP spec says. Every language is kept: `details["languages"]`
  maps each primary language ("id", "en", "fr") to its event, headline,
  description, instruction, sender name, web and area names, so a screen shows
  the alert in its own language.
- Areas: `<polygon>` is "lat,lon" pairs (GeoJSON wants [lon, lat]); `<circle>`
  is "lat,lon radius_km" and becomes a 32-sided polygon (radius kept in details;
  a zero radius becomes a point). The record's lat/lon is the centroid of all
  shapes. `<geocode>`s and `<areaDesc>`s are kept in details. An alert whose areas
  are geocodes only takes the CAP-TSU `EventLatLon` parameter as its point if given,
  else it has no location. Unusable shapes are listed in details.area_problems.
- Ids: the alert's `<identifier>`. An Update or Cancel whose `<references>` holds
  at least one "sender,identifier,sent" triple takes the id of the earliest
  referenced alert (following references further when that alert is in the same
  document), so the whole chain is one incident; its `reported_at` is that
  original's sent time. A Cancel gives status "cancelled"; responseType AllClear
  gives "resolved". Ack and Error messages describe other messages, not hazards,
  and are rejected with a reason.
- Category: from the event text first (tsunami, flood/banjir, earthquake/gempa,
  volcano/erupsi). A fire (CAP category Fire, or "fire"/"kebakaran" in the event)
  is `wildfire` only when the event or headline says so (bushfire, grass fire,
  forest fire, kebakaran hutan/lahan, karhutla), else `fire` ("Structure Fire").
  Then CAP category Met -> extreme_weather, else "alert" (a Geo event that is
  no earthquake, e.g. a landslide, stays "alert").
- Times: `sent`, `effective`, `onset` and `expires` are read as UTC times
  (`details["effective"]`, `details["onset"]` as ISO 8601 UTC strings); one that
  cannot be read is left out with a note in `details["time_notes"]`.
- BMKG's nowcast index is an RSS list of links to CAP files. `fetch()` follows
  the links of items that embed no alert (`follow_links`), at most
  `max_linked_alerts` new files per poll, each URL fetched once and kept while
  the index lists it, and hands `parse` the index with each alert embedded in
  its item; a file that could not be fetched or read is a reject for its item.
  Severity: Extreme/Severe/Moderate/Minor/Unknown -> critical/high/medium/low/info.
- `status` other than `accept_status` (default Actual only: no Test, Exercise,
  Draft or System messages on the wall) is rejected with a reason.
"""
from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from urllib.parse import urljoin
from xml.etree.ElementTree import Element, SubElement, tostring

from pydantic import Field
from shapely.geometry import shape

from data_sources.readers.config_types import ZoneName
from data_sources.readers.documents import load_xml
from data_sources.readers.elements import children, local, text
from data_sources.readers.values import parse_time, utc_iso, zone_from_name
from engine.contract import Adapter, SourceConfig
from engine.fetch import FetchError, http_get
from engine.records import Incident, ParseResult, Reject

CAP_NS = "urn:oasis:names:tc:emergency:cap:"
# Marks an index item whose linked file could not be used; namespaced so no feed's own element is taken for it.
LINK_PROBLEM = "{urn:damamaya:cap-link}problem"
SEVERITY = {"extreme": "critical", "severe": "high", "moderate": "medium", "minor": "low", "unknown": "info"}
CIRCLE_SIDES = 32
# Checked in order against the event text; first hit wins.
EVENT_WORDS = [
    ("tsunami", ("tsunami",)),
    ("flood", ("flood", "banjir", "genangan")),
    ("earthquake", ("earthquake", "gempa")),
    ("volcano", ("volcan", "erupsi", "gunung api", "gunungapi")),
]
FIRE_WORDS = ("fire", "kebakaran")
# A fire is a wildfire only when the event or headline says so; "Structure Fire" is a fire.
WILDFIRE_WORDS = ("bushfire", "bush fire", "wildfire", "wild fire", "forest fire", "grass fire", "grassfire", "scrub fire",
                  "vegetation fire", "kebakaran hutan", "kebakaran lahan", "karhutla")
LANGUAGE_FIELDS = ("event", "headline", "description", "instruction", "senderName", "web")


class CapConfig(SourceConfig):
    adapter: str = "cap"
    interval: float = 120
    language: str = Field(default="id", description="preferred <info> language (prefix match: 'en' matches 'en-CA')")
    timezone: ZoneName = Field(default="WITA", description="zone for CAP times that wrongly carry no offset")
    accept_status: list[str] = Field(default=["Actual"], description="CAP <status> values shown; others are rejected")
    follow_links: bool = Field(default=True, description="fetch the CAP files an RSS/Atom index links to (BMKG nowcast)")
    max_linked_alerts: int = Field(default=20, ge=1, le=500, description="new linked CAP files fetched per poll at most")


def _is_cap_alert(el: Element) -> bool:
    return local(el.tag) == "alert" and (el.tag.startswith("{" + CAP_NS) or not el.tag.startswith("{"))


class Cap(Adapter):
    name = "cap"
    Config = CapConfig
    kinds = ("incident",)
    description = "CAP 1.1/1.2 alerts (BMKG nowcast, PetaBencana, any CAP or Atom-wrapped CAP feed)"

    document = staticmethod(load_xml)

    def __init__(self, source: str, config: SourceConfig | None = None):
        super().__init__(source, config)
        self.linked: dict[str, Element | str] = {}  # linked CAP file URL -> its alert, or why it is unreadable

    # ---- I/O: an index of links (BMKG nowcast RSS) is followed --------------------------
    def fetch(self) -> bytes:
        raw = super().fetch()
        if not self.config.follow_links:
            return raw
        root, problem = load_xml(raw)
        if problem or _is_cap_alert(root):
            return raw
        items = [(item, _link(item)) for item in root.iter() if local(item.tag) in ("entry", "item")]
        linked = [(item, url) for item, url in items if url and not any(_is_cap_alert(el) for el in item.iter())]
        if not linked:
            return raw
        failed = self._follow([url for _, url in linked])
        # links failed or not fetched yet are tried again next poll: the index must be fetched in full then
        self.conditional = all(url in self.linked for _, url in linked)
        for item, url in linked:
            later = f"not fetched yet: over max_linked_alerts ({self.config.max_linked_alerts}) new files this poll"
            found = self.linked[url] if url in self.linked else failed.get(url, later)
            if isinstance(found, str):
                SubElement(item, LINK_PROBLEM).text = found
            else:
                item.append(found)
        return tostring(root)

    def _follow(self, urls: list[str]) -> dict[str, str]:
        """Fetch the linked files not fetched before, at most max_linked_alerts, and forget those the
        index dropped. A file read (or unreadable) is kept; a failed fetch is tried again next poll:
        its reason is returned for this poll only."""
        listed = set(urls)
        self.linked = {url: alert for url, alert in self.linked.items() if url in listed}
        new = [url for url in dict.fromkeys(urls) if url not in self.linked][: self.config.max_linked_alerts]
        failed = {}
        for url in new:
            try:
                body = http_get(urljoin(self.config.url or "", url), self.config.timeout, self.config.max_bytes, self.config.headers)
            except FetchError as exc:
                failed[url] = f"linked CAP file not fetched (tried again next poll): {exc}"
                continue
            root, problem = load_xml(body)
            if problem:
                self.linked[url] = f"linked CAP file unreadable: {problem.reason}"
            elif not _is_cap_alert(root):
                self.linked[url] = f"linked file is no CAP alert (root <{local(root.tag)}>)"
            else:
                self.linked[url] = root
        return failed

    def read(self, root: Any) -> ParseResult:
        result = ParseResult()
        alerts, orphans = _find_alerts(root)
        result.rejects.extend(orphans)
        if not alerts and not orphans:
            result.rejects.append(Reject.of(f"no CAP <alert> in the document (root <{local(root.tag)}>)", root.tag))
            return result
        heads = {a: self._head(a) for a in alerts}
        by_identifier = {h["identifier"]: h for h in heads.values() if h["identifier"]}
        for i, alert in enumerate(alerts):
            self.collect(result, self._alert(alert, heads[alert], by_identifier, i))
        return self.dedupe(result)


    # ---- one alert -----------------------------------------------------------------
    def _head(self, alert: Element) -> dict:
        """The alert-level fields needed to resolve reference chains before building records."""
        return {
            "identifier": text(alert, "identifier"),
            "sender": text(alert, "sender"),
            "sent": text(alert, "sent"),
            "msg_type": text(alert, "msgType"),
            "references": _references(text(alert, "references")),
        }

    def _alert(self, alert: Element, head: dict, by_identifier: dict, index: int):
        ref = head["identifier"] or index
        excerpt = head["identifier"] or alert.tag
        if not head["identifier"]:
            return Reject.of("alert has no <identifier>", excerpt, index)
        status = text(alert, "status")
        if status not in self.config.accept_status:
            return Reject.of(f"status {status or 'missing'!r} is not shown (accepted: {', '.join(self.config.accept_status)})", excerpt, ref)
        if head["msg_type"] in ("Ack", "Error"):
            return Reject.of(f"msgType {head['msg_type']} acknowledges or rejects other messages; it is not a hazard", excerpt, ref)
        zone = zone_from_name(self.config.timezone)
        try:
            sent = parse_time(head["sent"], zone)
        except ValueError as exc:
            return Reject.of(f"sent: {exc}", excerpt, ref)
        infos = children(alert, "info")
        if not infos:
            return Reject.of("alert has no <info> block", excerpt, ref)
        info, same_language = self._pick_info(infos)
        root = _root_of(head, by_identifier) if head["msg_type"] in ("Update", "Cancel") else None
        reported = sent
        if root and root["sent"]:
            try:
                reported = min(parse_time(root["sent"], zone), sent)
            except ValueError:
                pass
        geometry, area_details = _areas(same_language)
        if geometry is None:
            geometry = _event_point(info)
        centroid = _centroid(geometry)
        event = text(info, "event")
        categories = [c.text.strip() for c in children(info, "category") if c.text and c.text.strip()]
        severity_cap = text(info, "severity")
        times, time_notes = _info_times(info, zone)
        return self.build(
            Incident, ref, excerpt,
            id=root["identifier"] if root else head["identifier"],
            category=_category(categories, event, text(info, "headline")),
            severity=SEVERITY.get(severity_cap.lower(), "info"),
            status=_status(head["msg_type"], info),
            lat=centroid[1] if centroid else None,
            lon=centroid[0] if centroid else None,
            reported_at=reported,
            updated_at=sent,
            expires_at=times.get("expires"),
            geometry=geometry,
            title=(text(info, "headline") or event or next(iter(area_details["areas"]), "CAP alert"))[:500],
            details={
                "cap_identifier": head["identifier"],
                "sender": head["sender"],
                "sender_name": text(info, "senderName") or None,
                "msg_type": head["msg_type"],
                "cap_status": status,
                "scope": text(alert, "scope") or None,
                "references": [r["identifier"] for r in head["references"]],
                "incidents": text(alert, "incidents") or None,
                "language": _language(info),
                "source_category": categories,
                "event": event,
                "event_codes": _pairs(info, "eventCode"),
                "urgency": text(info, "urgency") or None,
                "certainty": text(info, "certainty") or None,
                "cap_severity": severity_cap or None,
                "response_type": [c.text.strip() for c in children(info, "responseType") if c.text],
                "effective": utc_iso(times["effective"]) if "effective" in times else None,
                "onset": utc_iso(times["onset"]) if "onset" in times else None,
                "time_notes": time_notes,
                "description": text(info, "description") or None,
                "instruction": text(info, "instruction") or None,
                "web": text(info, "web") or None,
                "parameters": _pairs(info, "parameter"),
                "languages": _languages(infos),
                **area_details,
            },
        )

    def _pick_info(self, infos: list[Element]) -> tuple[Element, list[Element]]:
        for wanted in (self.config.language.lower(), "en"):
            for info in infos:
                if _language(info).lower().startswith(wanted):
                    return info, [i for i in infos if _language(i) == _language(info)]
        return infos[0], [i for i in infos if _language(i) == _language(infos[0])]


# ---- document structure ---------------------------------------------------------------

def _find_alerts(root: Element) -> tuple[list[Element], list[Reject]]:
    """CAP alerts anywhere in the document; Atom entries / RSS items that embed none are rejects."""
    if _is_cap_alert(root):
        return [root], []
    alerts, orphans = [], []
    wrappers = [el for el in root.iter() if local(el.tag) in ("entry", "item")]
    for n, wrapper in enumerate(wrappers):
        found = [el for el in wrapper.iter() if _is_cap_alert(el)]
        name = text(wrapper, "id") or _link(wrapper) or text(wrapper, "title") or str(n)
        problem = wrapper.find(LINK_PROBLEM)
        if found:
            alerts.extend(found)
        elif problem is not None:
            orphans.append(Reject.of(problem.text or "linked CAP file unreadable", name, n))
        else:
            orphans.append(Reject.of(f"feed {local(wrapper.tag)} does not embed a CAP alert (a link alone cannot be read here)", name, n))
    if not wrappers:
        alerts = [el for el in root.iter() if _is_cap_alert(el)]
    return alerts, orphans


def _link(item: Element) -> str:
    """An RSS item's <link>text</link> or an Atom entry's <link href=...> (rel alternate or none)."""
    for el in children(item, "link"):
        href = (el.get("href") or el.text or "").strip()
        if href and el.get("rel", "alternate") in ("alternate", "enclosure"):
            return href
    return ""


def _references(value: str) -> list[dict]:
    """'sender,identifier,sent sender,identifier,sent' -> [{sender, identifier, sent}] (malformed parts dropped)."""
    refs = []
    for token in value.split():
        parts = token.split(",")
        if len(parts) == 3 and parts[1]:
            refs.append({"sender": parts[0], "identifier": parts[1], "sent": parts[2]})
    return refs


def _root_of(head: dict, by_identifier: dict) -> dict | None:
    """The earliest alert an Update/Cancel refers to, followed through alerts in the same document."""
    seen = {head["identifier"]}
    current = None
    refs = head["references"]
    while refs:
        current = min(refs, key=_sent_key)
        if current["identifier"] in seen:
            break
        seen.add(current["identifier"])
        parent = by_identifier.get(current["identifier"])
        refs = parent["references"] if parent else []
    return current


def _sent_key(ref: dict):
    try:
        return (0, parse_time(ref["sent"]).timestamp())
    except ValueError:
        return (1, 0.0)  # unreadable times sort last; among them the listed order stands (min is stable)


def _language(info: Element) -> str:
    return text(info, "language") or "en-US"


def _status(msg_type: str, info: Element) -> str:
    if msg_type == "Cancel":
        return "cancelled"
    if any((c.text or "").strip().lower() == "allclear" for c in children(info, "responseType")):
        return "resolved"
    return "new"


def _category(categories: list[str], event: str, headline: str) -> str:
    words = event.lower()
    for category, needles in EVENT_WORDS:
        if any(n in words for n in needles):
            return category
    if "Fire" in categories or any(w in words for w in FIRE_WORDS):
        said = f"{words} {headline.lower()}"
        return "wildfire" if any(w in said for w in WILDFIRE_WORDS) else "fire"
    return "extreme_weather" if "Met" in categories else "alert"


def _languages(infos: list[Element]) -> dict[str, dict[str, Any]]:
    """Each language's texts, by primary language ('en-CA' -> 'en'); the first info of a language speaks for it."""
    out: dict[str, dict[str, Any]] = {}
    for info in infos:
        primary = _language(info).split("-")[0].lower()
        if primary in out:
            continue
        block: dict[str, Any] = {"language": _language(info)}
        block.update({_snake(name): text(info, name) or None for name in LANGUAGE_FIELDS})
        block["areas"] = [text(a, "areaDesc") for a in children(info, "area") if text(a, "areaDesc")]
        out[primary] = block
    return out


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _pairs(info: Element, name: str) -> dict[str, Any]:
    """<parameter>/<eventCode> valueName/value pairs; repeated names become lists."""
    out: dict[str, Any] = {}
    for el in children(info, name):
        key, value = text(el, "valueName"), text(el, "value")
        if not key:
            continue
        if key in out:
            out[key] = (out[key] if isinstance(out[key], list) else [out[key]]) + [value]
        else:
            out[key] = value
    return out


def _info_times(info: Element, zone) -> tuple[dict[str, datetime], list[str]]:
    """effective, onset and expires as UTC times; a note for each one that cannot be read."""
    times, notes = {}, []
    for name in ("effective", "onset", "expires"):
        value = text(info, name)
        if not value:
            continue
        try:
            times[name] = parse_time(value, zone)
        except ValueError as exc:
            notes.append(f"{name} ignored: {exc}")
    return times, notes


# ---- geometry -----------------------------------------------------------------------------

def _areas(infos: list[Element]) -> tuple[dict | None, dict]:
    polygons: list[list] = []
    points: list[list[float]] = []
    circles, geocodes, areas, problems = [], [], [], []
    seen_shapes: set[str] = set()
    for info in infos:
        for area in children(info, "area"):
            desc = text(area, "areaDesc")
            if desc and desc not in areas:
                areas.append(desc)
            for g in children(area, "geocode"):
                code = {"name": text(g, "valueName"), "value": text(g, "value")}
                if code not in geocodes:
                    geocodes.append(code)
            for el in children(area, "polygon"):
                raw = (el.text or "").strip()
                if raw in seen_shapes:
                    continue
                seen_shapes.add(raw)
                ring = _ring(raw)
                if isinstance(ring, str):
                    problems.append(f"{desc or 'area'}: {ring}")
                else:
                    polygons.append([ring])
            for el in children(area, "circle"):
                raw = (el.text or "").strip()
                if raw in seen_shapes:
                    continue
                seen_shapes.add(raw)
                circle = _circle(raw)
                if isinstance(circle, str):
                    problems.append(f"{desc or 'area'}: {circle}")
                    continue
                lat, lon, radius = circle
                circles.append({"lat": lat, "lon": lon, "radius_km": radius})
                if radius > 0:
                    polygons.append([_circle_ring(lat, lon, radius)])
                else:
                    points.append([lon, lat])
    details = {"areas": areas, "geocodes": geocodes, "circles": circles, "area_problems": problems}
    return _geometry(polygons, points), details


def _event_point(info: Element) -> dict | None:
    """CAP-TSU's EventLatLon parameter ('lat,lon depth') as a Point, for alerts whose areas are only geocodes."""
    for p in children(info, "parameter"):
        if text(p, "valueName").lower() == "eventlatlon":
            circle = _circle(text(p, "value"))
            if not isinstance(circle, str):
                return {"type": "Point", "coordinates": [circle[1], circle[0]]}
    return None


def _ring(raw: str) -> list[list[float]] | str:
    """CAP 'lat,lon lat,lon ...' -> a closed GeoJSON ring of [lon, lat]; a reason when unusable."""
    ring = []
    for pair in raw.split():
        try:
            lat, lon = (float(x) for x in pair.split(","))
        except ValueError:
            return f"polygon point {pair!r} is not 'lat,lon'"
        if not (-90 <= lat <= 90 and -180 <= lon <= 180) or not (math.isfinite(lat) and math.isfinite(lon)):
            return f"polygon point {pair!r} is not a possible 'lat,lon'"
        ring.append([lon, lat])
    if ring and ring[0] != ring[-1]:
        ring.append(ring[0])
    if len(ring) < 4:
        return f"polygon has {len(ring)} points; a ring needs at least 4"
    return ring


def _circle(raw: str) -> tuple[float, float, float] | str:
    try:
        center, radius = raw.split()
        lat, lon = (float(x) for x in center.split(","))
        r = float(radius)
    except ValueError:
        return f"circle {raw!r} is not 'lat,lon radius_km'"
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or not (math.isfinite(r) and r >= 0):
        return f"circle {raw!r} is not a possible centre and radius"
    return lat, lon, r


def _circle_ring(lat: float, lon: float, radius_km: float) -> list[list[float]]:
    dlat = radius_km / 110.574
    dlon = radius_km / (111.320 * max(math.cos(math.radians(lat)), 0.01))
    ring = []
    for k in range(CIRCLE_SIDES):
        angle = 2 * math.pi * k / CIRCLE_SIDES
        ring.append([round(lon + dlon * math.cos(angle), 6), round(max(-90.0, min(90.0, lat + dlat * math.sin(angle))), 6)])
    ring.append(ring[0])
    return ring


def _geometry(polygons: list, points: list) -> dict | None:
    shapes = []
    if len(polygons) == 1:
        shapes.append({"type": "Polygon", "coordinates": polygons[0]})
    elif polygons:
        shapes.append({"type": "MultiPolygon", "coordinates": polygons})
    if len(points) == 1:
        shapes.append({"type": "Point", "coordinates": points[0]})
    elif points:
        shapes.append({"type": "MultiPoint", "coordinates": points})
    if not shapes:
        return None
    return shapes[0] if len(shapes) == 1 else {"type": "GeometryCollection", "geometries": shapes}


def _centroid(geometry: dict | None) -> tuple[float, float] | None:
    if geometry is None:
        return None
    try:
        geom = shape(geometry)
        if geom.geom_type in ("Polygon", "MultiPolygon") and not geom.is_valid:
            geom = geom.buffer(0)
        c = geom.centroid
        return None if c.is_empty else (round(c.x, 6), round(c.y, 6))
    except (ValueError, TypeError, AttributeError):
        return None
