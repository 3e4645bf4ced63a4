"""The console's actions, posted as the browser posts them by users signed in as a role: each
one changes the engine's stores and leaves its audit row; refusals (role, input, forward-only
status, someone else first) say why and change nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.alerts.schema import alarm_events, incident_actions
from layouts.parts.console import NOTE_MAX

FEEDBACK = "console-feedback.children"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    """Every action on both history stores (the engine's compare-and-set and audit rows)."""
    if request.param == "postgresql":
        return request.getfixturevalue("pg_database_url")
    return f"sqlite:///{tmp_path_factory.mktemp('console')}/history.sqlite"


def click(post, role: str, button: str, selected: dict, **states):
    values = {f"console-{button}.n_clicks": 1, "console-selected.data": selected, "console-bump.data": 0,
              **{f"console-{k}.value": v for k, v in states.items()}}
    return post(role, FEEDBACK, values, f"console-{button}.n_clicks")


def said(response) -> tuple[str, str]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    feedback = response.get_json()["response"]["console-feedback"]
    return feedback["children"], feedback["className"]


def actions_of(world, record) -> list[dict]:
    return world.alerts.operations.actions(record.source, record.id)


def test_acknowledge_sets_the_live_state_and_writes_an_audit_row_by_the_signed_in_user(world, post):
    record = world.incident()
    alarm = world.fire(record)
    text, kind = said(click(post, "operator", "acknowledge", {"alarm": alarm["id"], "incident": None}))
    assert kind.endswith("console-done") and f"#{alarm['id']}" in text
    live = world.alerts.live.alarm(alarm["id"])
    assert (live["state"], live["acknowledged_by"]) == ("acknowledged", "test-operator")
    with world.history.engine.connect() as conn:
        events = conn.execute(select(alarm_events).where(alarm_events.c.alarm_id == alarm["id"])).all()
    assert [(e.action, e.who) for e in events] == [("fire", "system"), ("acknowledge", "test-operator")]


def test_the_browser_cannot_name_the_acting_user(world, post):
    record = world.incident()
    alarm = world.fire(record)
    response = click(post, "operator", "acknowledge", {"alarm": alarm["id"], "incident": None, "who": "someone-else"})
    assert response.status_code == 400
    assert world.alerts.live.alarm(alarm["id"])["state"] == "firing"


def test_a_second_acknowledgement_says_who_was_first_and_when(world, post):
    record = world.incident()
    alarm = world.fire(record)
    world.alerts.alarms.acknowledge(alarm["id"], "dewi")
    text, kind = said(click(post, "operator", "acknowledge", {"alarm": alarm["id"], "incident": None}))
    assert kind.endswith("console-conflict")
    assert "already acknowledged by dewi at" in text and "WITA" in text
    assert world.alerts.live.alarm(alarm["id"])["acknowledged_by"] == "dewi"


def test_a_supervisor_resolves_an_alarm_by_hand(world, post):
    alarm = world.fire(world.incident())
    said(click(post, "supervisor", "resolve", {"alarm": alarm["id"], "incident": None}))
    live = world.alerts.live.alarm(alarm["id"])
    assert (live["state"], live["resolved_by"]) == ("resolved", "test-supervisor")


def test_a_supervisor_releases_the_wall_from_event_mode(world, post):
    alarm = world.fire(world.incident())
    said(click(post, "supervisor", "release", {"alarm": alarm["id"], "incident": None}))
    live = world.alerts.live.alarm(alarm["id"])
    assert live["released_by"] == "test-supervisor" and live["state"] == "firing"


def test_an_operator_may_neither_resolve_nor_release(world, post):
    alarm = world.fire(world.incident())
    for button in ("resolve", "release"):
        response = click(post, "operator", button, {"alarm": alarm["id"], "incident": None})
        assert response.status_code == 403, button
    live = world.alerts.live.alarm(alarm["id"])
    assert live["state"] == "firing" and live["released_by"] is None


def test_an_analyst_cannot_act_at_all(world, post):
    alarm = world.fire(world.incident())
    response = click(post, "analyst", "acknowledge", {"alarm": alarm["id"], "incident": None})
    assert response.status_code == 403
    assert world.alerts.live.alarm(alarm["id"])["state"] == "firing"


def test_assign_to_an_agency_and_unit_keeps_it_in_the_overlay_with_an_audit_row(world, post):
    record = world.incident()
    uid = f"{record.source}:{record.id}"
    text, _ = said(click(post, "dispatcher", "assign", {"alarm": None, "incident": uid}, agency="damkar",
                         unit="Pos Damkar Denpasar Barat"))
    assert "Damkar Kota Denpasar / Pos Damkar Denpasar Barat" in text
    [overlay] = world.alerts.live.overlay_many([uid])
    assert (overlay["agency"], overlay["unit"], overlay["owner"]) == ("damkar", "Pos Damkar Denpasar Barat", "test-dispatcher")
    [action] = actions_of(world, record)
    assert (action["action"], action["who"], action["after"]["agency"]) == ("assign", "test-dispatcher", "damkar")


def test_the_agency_list_shows_its_units_and_contact(world, post):
    response = post("operator", "console-contact.children", {"console-agency.value": "damkar"}, "console-agency.value")
    out = response.get_json()["response"]
    assert "Pos Damkar Denpasar Timur" in [o["value"] for o in out["console-unit"]["options"]]
    assert out["console-contact"]["children"] == "Contact: 113"


def test_an_unknown_unit_is_refused_with_the_engines_reason(world, post):
    record = world.incident()
    text, kind = said(click(post, "operator", "assign", {"alarm": None, "incident": f"{record.source}:{record.id}"},
                            agency="damkar", unit="Pos Khayalan"))
    assert kind.endswith("console-refused") and "unknown unit" in text
    assert actions_of(world, record) == []


def test_a_made_up_agency_id_is_a_bad_request(world, post):
    record = world.incident()
    response = click(post, "operator", "assign", {"alarm": None, "incident": f"{record.source}:{record.id}"},
                     agency="DAMKAR'; drop table users")
    assert response.status_code == 400 and "agency" in response.get_data(as_text=True)


def test_status_moves_forward(world, post):
    record = world.incident()
    uid = f"{record.source}:{record.id}"
    said(click(post, "operator", "status", {"alarm": None, "incident": uid}, status="in_progress"))
    [overlay] = world.alerts.live.overlay_many([uid])
    assert overlay["op_status"] == "in_progress"


def test_status_never_moves_back(world, post):
    record = world.incident()
    uid = f"{record.source}:{record.id}"
    world.alerts.operations.set_status(record.source, record.id, "in_progress", "dewi")
    text, kind = said(click(post, "operator", "status", {"alarm": None, "incident": uid}, status="dispatched"))
    assert kind.endswith("console-refused") and "forward only" in text and "In progress" in text
    assert [a["action"] for a in actions_of(world, record)] == ["status"]


def test_the_status_choices_are_the_forward_ones(world, post):
    record = world.incident()
    uid = f"{record.source}:{record.id}"
    world.alerts.operations.set_status(record.source, record.id, "dispatched", "dewi")
    response = post("operator", "console-status.options", {"console-selected.data": {"alarm": None, "incident": uid}},
                    "console-selected.data")
    options = [o["value"] for o in response.get_json()["response"]["console-status"]["options"]]
    assert options == ["in_progress", "resolved", "closed", "rejected", "cancelled"]


def test_reopening_needs_a_reason(world, post):
    record = world.incident()
    uid = f"{record.source}:{record.id}"
    world.alerts.operations.set_status(record.source, record.id, "closed", "dewi")
    text, kind = said(click(post, "operator", "reopen", {"alarm": None, "incident": uid}, reason="  "))
    assert kind.endswith("console-refused") and "needs a reason" in text
    said(click(post, "operator", "reopen", {"alarm": None, "incident": uid}, reason="warga lapor api menyala lagi"))
    last = actions_of(world, record)[-1]
    assert (last["action"], last["note"], last["after"]["op_status"]) == ("reopen", "warga lapor api menyala lagi", "acknowledged")


def test_a_note_is_kept_and_audited(world, post):
    record = world.incident()
    uid = f"{record.source}:{record.id}"
    response = click(post, "operator", "note", {"alarm": None, "incident": uid}, note="Akses jalan sempit")
    said(response)
    assert response.get_json()["response"]["console-note"]["value"] == ""  # the box is emptied for the next note
    [overlay] = world.alerts.live.overlay_many([uid])
    assert (overlay["last_note"], overlay["last_note_by"]) == ("Akses jalan sempit", "test-operator")
    with world.history.engine.connect() as conn:
        rows = conn.execute(select(incident_actions).where(incident_actions.c.record_id == record.id)).all()
    assert [(r.action, r.note) for r in rows] == [("note", "Akses jalan sempit")]


def test_a_note_beyond_its_bound_is_refused(world, post):
    record = world.incident()
    response = click(post, "operator", "note", {"alarm": None, "incident": f"{record.source}:{record.id}"},
                     note="x" * (NOTE_MAX + 1))
    assert response.status_code == 400
    assert actions_of(world, record) == []


def test_an_action_without_a_selection_says_what_to_select(world, post):
    text, kind = said(click(post, "operator", "acknowledge", {"alarm": None, "incident": None}))
    assert kind.endswith("console-refused") and text == "Select an alarm first."


def test_the_history_of_actions_is_shown_for_the_selected_incident(world, post):
    record = world.incident()
    uid = f"{record.source}:{record.id}"
    alarm = world.fire(record)
    world.alerts.alarms.acknowledge(alarm["id"], "oka")
    world.alerts.operations.assign(record.source, record.id, "damkar", "oka")
    world.alerts.operations.add_note(record.source, record.id, "dewi", "Dua unit berangkat")
    response = post("operator", "console-history.children", {"console-selected.data": {"alarm": alarm["id"], "incident": uid}},
                    "console-selected.data")
    items = response.get_json()["response"]["console-history"]["children"]
    lines = [" ".join(str(span["props"]["children"]) for span in li["props"]["children"]) for li in items]
    assert "noted" in lines[0] and "Dua unit berangkat" in lines[0] and "dewi" in lines[0]  # newest first
    assert "assigned" in lines[1] and "Damkar Kota Denpasar" in lines[1]
    assert "acknowledged an alarm" in lines[2] and "oka" in lines[2]


def _console_page(post, role: str) -> str:
    response = post(role, "_pages_content.children", {"_pages_location.pathname": "/console", "_pages_location.search": ""},
                    "_pages_location.pathname")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_data(as_text=True)


def _hidden(page: str, button: str) -> bool:
    import json

    def find(node):
        if isinstance(node, dict):
            props = node.get("props", {})
            if props.get("id") == f"console-{button}":
                return props
            return next((f for f in map(find, node.values()) if f), None)
        if isinstance(node, list):
            return next((f for f in map(find, node) if f), None)
        return None

    return bool(find(json.loads(page))["hidden"])


def test_an_operator_sees_no_supervisor_buttons(world, post):
    page = _console_page(post, "operator")
    assert _hidden(page, "release") and _hidden(page, "resolve") and not _hidden(page, "acknowledge")
    page = _console_page(post, "supervisor")
    assert not _hidden(page, "release") and not _hidden(page, "resolve")


def test_only_a_dispatcher_gets_the_link_to_the_callers_details(world, post):
    record = world.incident(details={"private": {"caller_phone": "081234567890"}})
    selected = {"console-selected.data": {"alarm": None, "incident": f"{record.source}:{record.id}"}}
    for role, shown in (("dispatcher", True), ("operator", False)):
        response = post(role, "console-selection.children", selected, "console-selected.data")
        links = [part["props"].get("href") for part in response.get_json()["response"]["console-selection"]["children"]]
        assert (f"/insiden?uid=ntpc-112:{record.id}" in links) is shown, role
        text = response.get_data(as_text=True)
        assert "081234567890" not in text
