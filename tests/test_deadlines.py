"""One rule for a complaint's deadlines where its source gives none (the SP4N-LAPOR!
working days of the kpi block): /kpi's projection, the overdue alarm and the wall's
overdue tile all count with it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from engine.analytics.config import KpiConfig
from engine.analytics.kpi import complaint_deadlines, with_complaint_deadlines
from engine.wall.views import complaints_overdue

UTC = timezone.utc
RECEIVED = datetime(2026, 11, 6, 3, 0, tzinfo=UTC)  # Friday 11:00 WITA


def _complaint(details: dict, reported: datetime = RECEIVED, status: str = "new") -> dict:
    return {"kind": "incident", "domain": "complaint", "category": "waste", "source": "pro", "id": "c1",
            "status": status, "severity": "medium", "reported_at": reported.isoformat(), "details": details}


def test_working_days_skip_the_weekend():
    first, done = complaint_deadlines(RECEIVED, "waste", KpiConfig())
    # 3 working days after Friday: Mon, Tue, Wed -> due at 00:00 WITA on Thursday
    assert first == datetime(2026, 11, 11, 16, 0, tzinfo=UTC)
    assert done > first


def test_a_source_deadline_wins_and_only_complaints_are_filled():
    own = "2026-11-07T00:00:00+00:00"
    assert with_complaint_deadlines(_complaint({"resolution_due": own, "first_response_due": own}), KpiConfig()) \
        == _complaint({"resolution_due": own, "first_response_due": own})
    call = {**_complaint({}), "domain": "emergency"}
    assert with_complaint_deadlines(call, KpiConfig()) is call
    filled = with_complaint_deadlines(_complaint({"resolution_due": own}), KpiConfig())
    assert filled["details"]["resolution_due"] == own and filled["details"]["first_response_due"]


def test_the_wall_counts_a_complaint_without_a_source_deadline_as_overdue():
    now = RECEIVED + timedelta(days=60)
    complaints = [_complaint({}), _complaint({}, status="closed"), _complaint({}, reported=now - timedelta(hours=1))]
    assert complaints_overdue(complaints, now, KpiConfig())["value"] == 1
    assert complaints_overdue(complaints, now, None)["value"] == 0  # no rule given: only a source's own deadline counts
