"""Headless chromium under the real Content-Security-Policy: the Dash renderer, clientside
callbacks (the wall's clock), Plotly on /kpi and the sign-in form all work with no inline
script allowed; a wall screen signed in by its link is told when it is revoked."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("DAMAMAYA_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking"]
# Collects every CSP violation of the page (an init script is the browser's own, outside the policy).
WATCH = """window.__csp = []; document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));"""


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _page(browser):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    context.add_init_script(WATCH)
    page = context.new_page()
    page.console = []
    page.on("console", lambda m: page.console.append(m.text))
    return context, page


def test_wall_renders_and_its_clock_ticks_under_the_csp_then_says_revoked(browser, running_app):
    context, page = _page(browser)
    try:
        page.goto(running_app["screen_url"])
        assert page.url.endswith("/wall")  # the token left the URL
        clock = page.locator("#wall-clock")
        clock.wait_for(state="visible", timeout=30000)
        from playwright.sync_api import expect  # locators, not page-side eval (the CSP forbids eval)

        expect(clock).not_to_have_text("", timeout=30000)
        first = clock.text_content()
        expect(clock).not_to_have_text(first, timeout=15000)  # the clientside callback ticks
        assert page.locator(".leaflet-container").count() == 1
        assert page.evaluate("window.__csp") == []
        assert not [m for m in page.console if "Content Security Policy" in m]
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies["dmy_screen"]["httpOnly"] and cookies["dmy_screen"]["sameSite"] == "Strict"

        from engine.accounts import Accounts

        db = running_app["config"].read_text().split("url: ", 1)[1].splitlines()[0]
        store = Accounts(db)
        name = next(s.name for s in store.screens() if s.revoked_at is None)
        store.revoke_screen(name)
        store.dispose()
        notice = page.locator("#dmy-denied")
        notice.wait_for(state="visible", timeout=30000)
        assert notice.get_attribute("data-reason") == "screen-revoked"
        assert "revoked" in notice.text_content()
    finally:
        context.close()


def test_sign_in_form_and_plotly_charts_work_under_the_csp(browser, running_app):
    context, page = _page(browser)
    try:
        page.goto(f"{running_app['base']}/kpi")
        assert "/login" in page.url
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", running_app["password"])
        page.click("button[type=submit]")
        page.wait_for_url("**/kpi", timeout=30000)
        page.locator("#kpi-scorecard").wait_for(state="attached", timeout=30000)
        page.locator(".js-plotly-plot").first.wait_for(state="attached", timeout=60000)
        assert page.evaluate("window.__csp") == []
        assert not [m for m in page.console if "Content Security Policy" in m]
    finally:
        context.close()
