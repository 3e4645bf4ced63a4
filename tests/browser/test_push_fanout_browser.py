"""A wall in headless chromium on the fan-out: a change the push process sends is applied
without a poll when the wall holds the state it starts from; a wall holding another state
polls for it."""
from __future__ import annotations

import pytest

from tests.browser.test_push_browser import STATUS, incident, row, wall_with_push  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser


def count_polls(page) -> list[str]:
    """Every wall poll the page sends (Dash's update request naming the wall's state)."""
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/_dash-update-component" in r.url
            and "wall-state.data" in (r.post_data or "") else None)
    return polls


def on_push(page, link):
    page.goto(link)
    row(page, "first").wait_for(timeout=30_000)
    page.wait_for_function(f"({STATUS}) && ({STATUS}).mode === 'push' && ({STATUS}).open", timeout=30_000)
    page.wait_for_timeout(1500)  # the catch-up poll on connecting, if any, is done


def test_a_wall_holding_the_state_applies_the_change_without_polling(wall_with_push, page):
    link, _push, live = wall_with_push
    polls = count_polls(page)
    on_push(page, link)
    before, applied = len(polls), page.evaluate(STATUS)["applied"]
    live.apply("calls", [incident("fanned", "accident")])
    row(page, "fanned").wait_for(timeout=30_000)
    page.wait_for_function(f"({STATUS}).applied > {applied}", timeout=10_000)
    assert len(polls) == before  # no poll: the change came whole over the stream


def test_a_wall_holding_another_state_polls_for_the_change(wall_with_push, page):
    link, _push, live = wall_with_push
    polls = count_polls(page)
    on_push(page, link)
    # this wall now holds a state no other screen holds (a minute behind): the change's `from` is not its own
    page.evaluate("""() => {
        const st = window.dash_stores[0].getState();
        let node = st.layout;
        for (const k of st.paths.strs['wall-state']) node = node[k];
        window.dash_clientside.set_props('wall-state', {data: Object.assign({}, node.props.data, {minute: node.props.data.minute - 1})});
    }""")
    before, applied = len(polls), page.evaluate(STATUS)["applied"]
    live.apply("calls", [incident("polled", "flood")])
    row(page, "polled").wait_for(timeout=30_000)
    assert len(polls) > before
    assert page.evaluate(STATUS)["applied"] == applied
