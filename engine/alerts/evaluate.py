"""From changes to rule outcomes: pure functions of rules, record dicts and a clock.

`record_outcomes` takes the records a poll changed and the ids it dropped and says,
per rule, "holds" (`Firing`) or "does not hold" (`Clearing`); `stale_outcomes` does
the same for a source's freshness (NoData). Whether an outcome opens, counts or
resolves an alarm is decided by `engine.alerts.alarms.Alarms.apply`, which knows
the active alarms: a Clearing without an active alarm is nothing.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from engine.alerts.alarms import Clearing, Firing
from engine.alerts.config import AlertRule
from engine.alerts.rules import fill, matches, silent_at, why_not
from engine.analytics.config import KpiConfig
from engine.analytics.kpi import working_deadline


def firing(name: str, rule: AlertRule, source: str, subject: str, rec: dict, now: datetime,
           extra: dict | None = None, repeat: bool = True) -> Firing:
    extra = {**derived(rec), **(extra or {})}
    return Firing(rule=name, source=source, subject=subject, level=rule.level,
                  message_id=fill(rule.message.id, rec, extra, "id"), message_en=fill(rule.message.en, rec, extra, "en"),
                  silent=silent_at(rule, now), scene=rule.scene, repeat=repeat)


# Reading.alert_level -> the water gate's Siaga level (IV normal .. I bencana), the same in both languages
SIAGA = {0: "Siaga IV", 1: "Siaga III", 2: "Siaga II", 3: "Siaga I", 4: "Siaga I"}


def derived(rec: dict) -> dict:
    """Placeholders computed from the record: {siaga} for a water gauge."""
    if rec.get("kind") == "reading" and rec.get("quantity") == "water_level":
        return {"siaga": SIAGA.get(int(rec.get("alert_level") or 0), "")}
    return {}


def with_deadlines(rec: dict, kpi: KpiConfig | None) -> dict:
    """A complaint whose source gives no deadline gets the SP4N-LAPOR! ones (working days
    from the kpi config, as /kpi counts them), so `details.resolution_due < now` holds
    for every complaint. A copy: the record as stored is not touched."""
    if rec.get("kind") != "incident" or rec.get("domain") != "complaint" or kpi is None:
        return rec
    details = rec.get("details") or {}
    if details.get("resolution_due") and details.get("first_response_due"):
        return rec
    received = datetime.fromisoformat(rec["reported_at"])
    filled = dict(details)
    if not filled.get("first_response_due"):
        filled["first_response_due"] = working_deadline(received, kpi.first_response_days, kpi.working_days,
                                                        kpi.holidays).isoformat()
    if not filled.get("resolution_due"):
        filled["resolution_due"] = working_deadline(received, kpi.resolution_days_for(rec.get("category", "")),
                                                    kpi.working_days, kpi.holidays).isoformat()
    return {**rec, "details": filled}


def record_outcomes(rules: dict[str, AlertRule], source: str, changed: Iterable[dict], removed: Iterable[str],
                    now: datetime, repeat: bool = True, kpi: KpiConfig | None = None) -> list[Firing | Clearing]:
    """`changed`: record dicts (JSON form) new or changed in this poll; `removed`: ids that
    left the live view. `kpi` gives complaints without a deadline their SP4N-LAPOR! ones.
    `repeat=False` for periodic re-checks, which open alarms whose
    condition became true with time but do not count a firing again."""
    changed, removed = [with_deadlines(r, kpi) for r in changed], list(removed)
    out: list[Firing | Clearing] = []
    for name, rule in rules.items():
        if rule.match.stale or not rule.match.source_matches(source):
            continue
        for rec in changed:
            if matches(rule.match, rec, now):
                out.append(firing(name, rule, source, rec["id"], rec, now, repeat=repeat))
            else:
                out.append(Clearing(name, source, rec["id"], why_not(rec, now)))
        out.extend(Clearing(name, source, rid, why_not(None, now)) for rid in removed)
    return out


def stale_outcomes(rules: dict[str, AlertRule], source: str, title: str, stale_seconds: float | None,
                   promise: float, health: dict, now: datetime) -> list[Firing | Clearing]:
    """NoData: `stale_seconds` is how long the source has gone without a successful poll
    (None when it just succeeded); past `promise` (the source's stale_after) it fires."""
    out: list[Firing | Clearing] = []
    for name, rule in rules.items():
        if not rule.match.stale or not rule.match.source_matches(source):
            continue
        if stale_seconds is not None and stale_seconds > promise:
            info = {"source": source, "title": title, "source_title": title, "stale_minutes": round(stale_seconds / 60),
                    "last_success": health.get("last_success"), "last_error": health.get("last_error") or "-"}
            out.append(firing(name, rule, source, "", info, now, extra=info, repeat=False))
        else:
            out.append(Clearing(name, source, "", "source fresh again"))
    return out
