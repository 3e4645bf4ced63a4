"""The shipped alert rules on real feed samples, and rule validation at start-up."""
from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
import yaml

from damamaya.config import load_config
from data_sources import get_adapter
from engine.alerts.config import Condition
from engine.alerts.evaluate import record_outcomes, with_deadlines
from engine.alerts.rules import condition_holds, fill, matches
from engine.config import ConfigError
from engine.records import utcnow

from .conftest import shipped, shipped_config

ROOT = Path(__file__).resolve().parents[2]
RULES = shipped_config().alerts.rules


def parsed(adapter: str, raw: bytes, source: str = "feed", **config) -> list[dict]:
    cls = get_adapter(adapter)
    result = cls(source, cls.Config(url="http://127.0.0.1/", **config)).parse(raw)
    from engine.geo import locate_record

    for r in result.records:
        locate_record(r)  # as the pipeline does
    return [r.model_dump(mode="json") for r in result.records]


def fired(rule: str, rec: dict, now=None) -> bool:
    return matches(RULES[rule].match, rec, now or utcnow())


# ---- quakes: M >= 5 within 150 km of Denpasar, or felt in Denpasar ------------------------------

def test_quake_far_away_or_small_and_unfelt_does_not_fire(samples):
    papua = parsed("bmkg-quake", (samples / "earthquakes" / "bmkg_autogempa_m5_20211013.json").read_bytes())[0]
    sumedang = parsed("bmkg-quake", (samples / "earthquakes" / "bmkg_autogempa_20240110.json").read_bytes())[0]
    assert papua["details"]["magnitude"] == 5.3 and not fired("quake-near-or-felt", papua)
    assert sumedang["details"]["felt"] == "III Sumedang Utara" and not fired("quake-near-or-felt", sumedang)


def test_quake_of_m5_near_bali_fires_and_says_so(samples):
    doc = orjson.loads((samples / "earthquakes" / "bmkg_autogempa_m5_20211013.json").read_bytes())
    quake = doc["Infogempa"]["gempa"]
    quake.update(Coordinates="-9.50,115.40", Lintang="9.50 LS", Bujur="115.40 BT")  # south of Nusa Penida, ~85 km
    [near] = parsed("bmkg-quake", orjson.dumps(doc))
    assert fired("quake-near-or-felt", near)
    quake.update(Coordinates="-10.20,116.90", Lintang="10.20 LS", Bujur="116.90 BT")  # about 250 km away
    [far] = parsed("bmkg-quake", orjson.dumps(doc))
    assert not fired("quake-near-or-felt", far)
    [firing] = record_outcomes({"q": RULES["quake-near-or-felt"]}, "bmkg", [near], [], utcnow())
    assert firing.message_id.startswith("Gempa M5.3 99 km TimurLaut TAMBRAUW-PAPUABRT, kedalaman 10 km")
    assert firing.scene == "quake" and firing.level == "critical"


def test_any_quake_felt_in_denpasar_fires(samples):
    doc = orjson.loads((samples / "earthquakes" / "bmkg_autogempa_20240110.json").read_bytes())
    doc["Infogempa"]["gempa"]["Dirasakan"] = "III Denpasar, II Kuta"
    [felt] = parsed("bmkg-quake", orjson.dumps(doc))
    assert felt["details"]["magnitude"] == 2.8 and fired("quake-near-or-felt", felt)


# ---- CAP warnings: Severe or Extreme, covering Denpasar -------------------------------------------

def cap(severity: str, area: str) -> bytes:
    sent = utcnow().replace(microsecond=0)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>CBT-{severity}-{abs(hash(area)) % 10000}</identifier><sender>bmkg@bmkg.go.id</sender>
  <sent>{sent.isoformat()}</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
  <info><language>id</language><category>Met</category><event>Hujan Lebat dan Angin Kencang</event>
    <urgency>Immediate</urgency><severity>{severity}</severity><certainty>Likely</certainty>
    <expires>{(sent + timedelta(hours=3)).isoformat()}</expires>
    <headline>Peringatan Dini Cuaca Bali</headline>
    <area>{area}</area></info>
</alert>""".encode()


CITY_POLYGON = "<areaDesc>Denpasar Selatan</areaDesc><polygon>-8.70,115.20 -8.70,115.25 -8.74,115.25 -8.74,115.20 -8.70,115.20</polygon>"
FAR_POLYGON = "<areaDesc>Buleleng</areaDesc><polygon>-8.10,115.00 -8.10,115.10 -8.20,115.10 -8.20,115.00 -8.10,115.00</polygon>"


@pytest.mark.parametrize("severity,area,expected", [
    ("Severe", CITY_POLYGON, True),
    ("Extreme", CITY_POLYGON, True),
    ("Moderate", CITY_POLYGON, False),
    ("Severe", FAR_POLYGON, False),
    ("Extreme", "<areaDesc>Kota Denpasar</areaDesc><geocode><valueName>ADM2</valueName><value>51.71</value></geocode>", True),
])
def test_cap_alert_severe_or_extreme_covering_denpasar(severity, area, expected):
    [rec] = parsed("cap", cap(severity, area))
    assert rec["details"]["cap_severity"] == severity
    assert fired("cap-severe-denpasar", rec) is expected


def test_a_cap_alert_that_expired_does_not_fire():
    [rec] = parsed("cap", cap("Severe", CITY_POLYGON))
    assert not fired("cap-severe-denpasar", rec, utcnow() + timedelta(hours=4))


# ---- floods and gauges -----------------------------------------------------------------------------

def test_flooded_areas_fire_at_state_3_and_4_only(samples):
    areas = parsed("petabencana", (samples / "floods" / "petabencana_archive_jkt_flooded_rw_2017-02-21T0800.geojson").read_bytes(),
                   timezone="WIB")
    by_state = {}
    for rec in areas:
        by_state.setdefault(rec["details"]["state"], set()).add(fired("flood-area-deep", rec))
    assert by_state == {2: {False}, 3: {True}}


def test_petabencana_gauge_at_siaga_ii_fires_and_at_iii_not():
    base = {"kind": "reading", "id": "g1", "source": "tma", "station": "g1", "station_name": "Tukad Badung",
            "quantity": "water_level", "value": 240.0, "unit": "cm", "observed_at": utcnow().isoformat()}
    assert fired("gauge-siaga", {**base, "alert_level": 2}) and fired("gauge-siaga", {**base, "alert_level": 3})
    assert not fired("gauge-siaga", {**base, "alert_level": 1})
    assert not fired("gauge-siaga", {**base, "quantity": "rainfall", "alert_level": 3})


# ---- complaints past their deadline ---------------------------------------------------------------

def test_open_complaints_past_their_deadline_fire_closed_ones_not(samples):
    """Bloomington gives no expected_datetime: the kpi section's working-day deadlines apply."""
    kpi = shipped_config().kpi
    recs = parsed("open311", (samples / "complaints" / "open311_georeport_v2_requests_bloomington_2012.json").read_bytes(),
                  timezone="America/Indiana/Indianapolis")
    assert all(r["details"]["resolution_due"] is None for r in recs)
    recs = [with_deadlines(r, kpi) for r in recs]
    open_ = [r for r in recs if r["status"] in ("new", "acknowledged", "dispatched", "in_progress")]
    closed = [r for r in recs if r not in open_]
    assert open_ and closed
    assert all(fired("complaint-overdue", r) for r in open_)
    assert not any(fired("complaint-overdue", r) for r in closed)
    due = open_[0]["details"]["resolution_due"]
    from datetime import datetime

    before_due = datetime.fromisoformat(due) - timedelta(hours=1)
    assert not fired("complaint-overdue", open_[0], before_due)


# ---- conditions, placeholders ----------------------------------------------------------------------

@pytest.mark.parametrize("text,rec,expected", [
    ("details.magnitude >= 5", {"details": {"magnitude": 5.0}}, True),
    ("magnitude >= 5", {"details": {"magnitude": "4,9"}}, False),
    ("details.felt contains denpasar", {"details": {"felt": "III Denpasar"}}, True),
    ("details.felt contains Denpasar", {"details": {"felt": None}}, False),
    ("details.felt not contains Denpasar", {"details": {}}, False),  # unknown is not "not"
    ("details.cap_severity in [Severe, Extreme]", {"details": {"cap_severity": "extreme"}}, True),
    ("details.areas contains Denpasar", {"details": {"areas": ["Kota Denpasar", "Badung"]}}, True),
    ("severity not in [low, info]", {"severity": "high"}, True),
    ("alert_level == 2", {"alert_level": 2}, True),
    ("details.resolution_due < now", {"details": {"resolution_due": "2020-01-01T00:00:00+00:00"}}, True),
    ("details.resolution_due < now", {"details": {"resolution_due": "not a time"}}, False),
])
def test_conditions(text, rec, expected):
    assert condition_holds(Condition.parse(text), rec, utcnow()) is expected


def test_placeholders_fill_from_the_record_and_missing_ones_show_a_dash():
    rec = {"title": "Kebakaran", "desa": "Sumerta", "category": "fire", "details": {"magnitude": 5.0, "felt": None},
           "expires_at": "2026-12-02T04:00:00+00:00"}
    assert fill("{title} di {desa} ({category}) M{magnitude} {details.felt} {nope} s.d. {expires_at}", rec) == \
        "Kebakaran di Sumerta (Kebakaran) M5 - - s.d. 02/12 12:00 WITA"
    assert fill("{category}", rec, language="en") == "Fire"
    assert fill("{details.private.caller}", {"details": {"private": {"caller": "08123"}}}) == "-"


# ---- a wrong rule stops start-up with one line naming it -------------------------------------------

def write_config(tmp_path, rule: dict) -> Path:
    data = shipped()
    data["sources"] = {}
    data["alerts"]["rules"]["quake-near"] = rule
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


GOOD = {"level": "critical", "message": {"id": "Gempa", "en": "Quake"}, "match": {"category": "earthquake"}}


@pytest.mark.parametrize("change,line", [
    ({"match": {"category": "earthquake", "magnitude": 5}},
     "config.yaml: alerts.rules.quake-near.match.magnitude: unknown key"),
    ({"match": {"where": ["details.magnitude >> 5"]}},
     "config.yaml: alerts.rules.quake-near.match.where: 'details.magnitude >> 5': cannot read the value '> 5'"),
    ({"match": {"where": ["details.magnitude is big"]}},
     "config.yaml: alerts.rules.quake-near.match.where: 'details.magnitude is big': no operator "
     "(one of >=, <=, >, <, ==, !=, in, not in, contains, not contains)"),
    ({"match": {"where": ["details.cap_severity in Severe"]}},
     "config.yaml: alerts.rules.quake-near.match.where: 'details.cap_severity in Severe': `in` needs a list like [Severe, Extreme]"),
    ({"match": {"category": "gempa"}},
     "config.yaml: alerts.rules.quake-near.match.category: unknown category 'gempa' (see engine/taxonomy.py)"),
    ({"match": {"area": {"near": {"km": -3}}}},
     "config.yaml: alerts.rules.quake-near.match.area.near.km: Input should be greater than 0"),
    ({"match": {"area": {}}},
     "config.yaml: alerts.rules.quake-near.match.area: give denpasar: true, kecamatan, desa or near"),
    ({"match": {"stale": True, "category": "earthquake"}},
     "config.yaml: alerts.rules.quake-near.match: a `stale` match takes only `source`: it watches sources, not records"),
    ({"level": "loud"}, "config.yaml: alerts.rules.quake-near.level: Input should be 'info', 'warning' or 'critical'"),
    ({"message": {"id": "Gempa"}}, "config.yaml: alerts.rules.quake-near.message.en: Field required"),
    ({"message": {"id": "Panggilan dari {details.private.caller}", "en": "Call"}},
     "config.yaml: alerts.rules.quake-near.message.id: {details.private.caller} is personal data: "
     "messages are shown on wall screens"),
    ({"message": {"id": "Gempa {magnitude:.1f}", "en": "Quake"}},
     "config.yaml: alerts.rules.quake-near.message.id: {magnitude:.1f} is not a placeholder like {title} or "
     "{details.magnitude}"),
    ({"quiet_hours": {"start": "25:00", "end": "06:00"}},
     "config.yaml: alerts.rules.quake-near.quiet_hours.start: '25:00' is not a time like 22:00"),
])
def test_a_wrong_rule_gives_one_line_naming_it(tmp_path, change, line):
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, {**GOOD, **change}))
    assert str(err.value) == line


def test_a_wrong_agency_gives_one_line_naming_it(tmp_path):
    data = shipped()
    data["sources"] = {}
    data["agencies"]["damkar"] = {"nama": "Damkar"}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"^config.yaml: agencies.damkar.name: Field required$"):
        load_config(path)


def test_collect_refuses_to_start_with_a_wrong_rule(tmp_path, embedded_redis_url):
    path = write_config(tmp_path, {**GOOD, "match": {"category": "earthquake", "magnitude": 5}})
    out = subprocess.run([sys.executable, "-m", "damamaya.cli", "--config", str(path), "collect"], capture_output=True,
                         text=True, cwd=ROOT, timeout=60, env={"PATH": "/usr/bin:/bin", "DAMAMAYA_REDIS_URL": embedded_redis_url})
    assert out.returncode == 2
    assert out.stderr.strip() == "config.yaml: alerts.rules.quake-near.match.magnitude: unknown key"


def test_quiet_hours_cross_midnight_and_spare_criticals():
    from datetime import time

    from engine.alerts.config import QuietHours

    night = QuietHours(start="22:00", end="06:00")
    assert night.covers(time(23, 30), "warning") and night.covers(time(5, 59), "info")
    assert not night.covers(time(6, 0), "warning") and not night.covers(time(12, 0), "warning")
    assert not night.covers(time(23, 30), "critical")
    assert QuietHours(start="22:00", end="06:00", include_critical=True).covers(time(23, 30), "critical")
    # YAML 1.1 reads an unquoted 22:00 as the number 1320
    assert QuietHours.model_validate({"start": 1320, "end": 360}).start == time(22, 0)
