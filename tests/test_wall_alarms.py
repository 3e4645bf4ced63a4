"""The wall's alarm poll (callbacks/wall_alarms.py) through Dash's HTTP endpoint: nothing is
sent while `{p}:opversions` stands still, the store when it moved, and a made-up "seen"
value is refused with a reason. Real Redis (embedded), real SQLite history."""
from __future__ import annotations

import pytest

from engine.alerts import open_alerts
from engine.alerts.alarms import Firing
from tests.conftest import dash_app_on

PREFIX = "wallalarmtest"


@pytest.fixture(scope="module")
def dash_app(tmp_path_factory, embedded_redis_url):
    yield from dash_app_on(tmp_path_factory, embedded_redis_url, PREFIX)


@pytest.fixture
def alerts(dash_app):
    from damamaya import runtime

    runtime.redis_client().flushdb()
    runtime.history().create()
    return open_alerts(runtime.history(), runtime.redis_client(), PREFIX)


def _alarm_poll(app, seen) -> dict:
    key = next(k for k in app.callback_map if "wall-alarms.data" in k and "wall-alarms-seen.data" in k)
    return {"output": key,
            "outputs": [{"id": "wall-alarms", "property": "data"}, {"id": "wall-alarms-seen", "property": "data"}],
            "inputs": [{"id": "wall-opversions", "property": "data", "value": {"alarms": 1, "ops": 0}}],
            "state": [{"id": "wall-alarms-seen", "property": "data", "value": seen}],
            "changedPropIds": ["wall-opversions.data"]}


def test_the_alarm_poll_sends_only_when_the_operator_data_moved(dash_app, alerts, sign_in_as):
    [fired] = alerts.alarms.apply([Firing("call-112-critical", "calls", "c1", "critical", "Panggilan 112 KRITIS", "CRITICAL")])
    client = sign_in_as(dash_app.server, "operator")

    first = client.post("/_dash-update-component", json=_alarm_poll(dash_app, None))
    assert first.status_code == 200
    response = first.get_json()["response"]
    [alarm] = response["wall-alarms"]["data"]["alarms"]
    assert (alarm["uid"], alarm["level"], alarm["state"], alarm["message"]) == \
        ("calls:c1", "critical", "firing", "Panggilan 112 KRITIS")
    seen = response["wall-alarms-seen"]["data"]

    quiet = client.post("/_dash-update-component", json=_alarm_poll(dash_app, seen))
    assert quiet.status_code == 204 and quiet.data == b""

    alerts.alarms.acknowledge(fired.alarm["id"], "ayu")
    moved = client.post("/_dash-update-component", json=_alarm_poll(dash_app, seen))
    assert moved.status_code == 200
    assert [a["state"] for a in moved.get_json()["response"]["wall-alarms"]["data"]["alarms"]] == ["acknowledged"]


@pytest.mark.parametrize("seen", [
    [1, 2], "x", {"alarms": "many"}, {"alarms": -1}, {"ops": 2**70}, {"alarms": 1, "extra": 1}, {"alarms": 1.5},
])
def test_a_made_up_seen_value_is_refused_with_a_reason(dash_app, alerts, sign_in_as, seen):
    response = sign_in_as(dash_app.server, "operator").post("/_dash-update-component", json=_alarm_poll(dash_app, seen))
    assert response.status_code == 400
    assert "wall alarms seen" in response.get_data(as_text=True)
