"""The console's lists through the endpoint: the alarm queue sends only changed rows and
nothing while `{p}:opversions` stands still; the incident list filters, pages and never
carries a caller's private details."""
from __future__ import annotations

from engine.alerts.console import PAGE_SIZE, row_changes
from layouts.parts.console import TEXT_MAX

QUEUE = "console-alarm-held.data"


def poll_queue(post, held: dict):
    return post("operator", QUEUE, {"console-poll.n_intervals": 1, "console-alarm-held.data": held}, "console-poll.n_intervals")


def transaction(response) -> tuple[dict, dict]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    out = response.get_json()["response"]
    return out["console-alarms"]["rowTransaction"], out["console-alarm-held"]["data"]


def test_the_queue_puts_firing_alarms_first_then_by_level_then_oldest(world, post):
    acknowledged = world.fire(world.incident("Sudah ditangani"))
    world.alerts.alarms.acknowledge(acknowledged["id"], "dewi")
    warning = world.fire(world.incident("Pohon tumbang"), level="warning", rule="call-112-high")
    critical = world.fire(world.incident("Kebakaran pasar"))
    rows, held = transaction(poll_queue(post, {}))
    by_order = sorted(rows["add"], key=lambda r: r["order"])  # the grid sorts by this hidden column
    assert [r["id"] for r in by_order] == [critical["id"], warning["id"], acknowledged["id"]]
    assert by_order[2]["acknowledged_by"] == "dewi" and by_order[0]["message"] == "112 call: Kebakaran pasar"
    assert set(held["rows"]) == {str(a["id"]) for a in (critical, warning, acknowledged)}


def test_an_unchanged_queue_sends_nothing(world, post):
    world.fire(world.incident())
    _, held = transaction(poll_queue(post, {}))
    assert poll_queue(post, held).status_code == 204


def test_a_changed_queue_sends_only_the_changed_rows(world, post):
    first = world.fire(world.incident("Satu"))
    second = world.fire(world.incident("Dua"))
    _, held = transaction(poll_queue(post, {}))
    world.alerts.alarms.acknowledge(first["id"], "dewi")
    rows, held_after = transaction(poll_queue(post, held))
    assert rows["add"] == [] and rows["remove"] == []
    assert [(r["id"], r["state"]) for r in rows["update"]] == [(first["id"], "acknowledged")]
    world.alerts.alarms.resolve(second["id"], "sutri")
    rows, _ = transaction(poll_queue(post, held_after))
    assert rows == {"add": [], "update": [], "remove": [{"key": str(second["id"])}]}


def test_a_made_up_queue_state_is_refused(world, post):
    response = poll_queue(post, {"v": 1, "rows": {"not-an-id": 1}})
    assert response.status_code == 400 and "alarm queue state" in response.get_data(as_text=True)


def test_row_changes_of_nothing_held_adds_every_row():
    rows = [{"key": "1", "version": 3}, {"key": "2", "version": 1}]
    changes = row_changes({}, rows)
    assert changes.add == rows and not changes.update and not changes.remove and changes.held == {"1": 3, "2": 1}


LIST = "console-incident-held.data"


def incidents(post, **filters) -> tuple[list[dict], str]:
    values = {f"console-f-{k}.value": v for k, v in filters.items()}
    response = post("operator", LIST, {**values, "console-incident-held.data": {"v": "", "page": 1}}, "console-f-text.value")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    out = response.get_json()["response"]
    return out["console-incidents"]["rowData"], out["console-count"]["children"]


def test_the_list_filters_by_agency_and_unassigned(world, post):
    fire = world.incident("Kebakaran ruko")
    flood = world.incident("Genangan Jl. Gatsu", category="flood_report", severity="medium")
    world.alerts.operations.assign(fire.source, fire.id, "damkar", "oka")
    rows, count = incidents(post, agency=["damkar"])
    assert [r["id"] for r in rows] == [fire.id] and count == "1 incidents"
    assert rows[0]["agency"] == "Damkar Kota Denpasar"
    rows, _ = incidents(post, unassigned=["yes"])
    assert [r["id"] for r in rows] == [flood.id]


def test_the_list_filters_by_text_severity_and_status_shown(world, post):
    hit = world.incident("Pohon tumbang Jl. Teuku Umar", severity="high")
    world.incident("Kebakaran lahan", severity="high")
    rows, _ = incidents(post, text="teuku", severity=["high"])
    assert [r["id"] for r in rows] == [hit.id]
    world.alerts.operations.set_status(hit.source, hit.id, "dispatched", "oka")
    rows, _ = incidents(post, status=["dispatched"])
    assert [r["id"] for r in rows] == [hit.id]  # the operators' status, not the feed's "new"


def test_the_list_is_paged(world, post):
    for i in range(PAGE_SIZE + 3):
        world.incident(f"Aduan {i}", severity="low")
    rows, count = incidents(post)
    assert len(rows) == PAGE_SIZE and count == f"{PAGE_SIZE + 3} incidents"


def test_the_free_text_filter_is_bounded(world, post):
    response = post("operator", LIST, {"console-f-text.value": "x" * (TEXT_MAX + 1)}, "console-f-text.value")
    assert response.status_code == 400 and "incident filter" in response.get_data(as_text=True)


def test_no_private_detail_leaves_the_server(world, post):
    world.incident("Panggilan darurat", details={"private": {"caller_phone": "081234567890", "address": "Jl. Kenanga 7"}})
    response = post("dispatcher", LIST, {}, None)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Panggilan darurat" in text and "081234567890" not in text and "Kenanga" not in text
