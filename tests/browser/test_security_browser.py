"""Headless chromium under the app's real Content-Security-Policy (no bypass here): the Dash
renderer, clientside callbacks (the wall's clock), Plotly on /kpi and the sign-in form all
work with no inline script allowed; a wall screen signed in by its link is told when it is
revoked."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect  # locators: no page-side eval, which the CSP forbids

# Collects every CSP violation of the page (an init script is the browser's own, outside the policy).
WATCH = """window.__csp = []; document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));"""


@pytest.fixture
def strict_page(browser):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    context.add_init_script(WATCH)
    page = context.new_page()
    page.console_lines = []
    page.on("console", lambda m: page.console_lines.append(m.text))
    yield page
    context.close()


def _no_violation(page):
    assert page.evaluate("window.__csp") == []
    assert not [m for m in page.console_lines if "Content Security Policy" in m]


def test_wall_renders_and_its_clock_ticks_under_the_csp_then_says_revoked(start_app, strict_page):
    app = start_app({"language": "en"})
    page = strict_page
    page.goto(app.screen_url("csp-wall"))
    assert page.url == f"{app.base_url}/wall"  # the token left the address bar
    clock = page.locator("#wall-clock")
    expect(clock).not_to_have_text("", timeout=30000)
    first = clock.text_content()
    expect(clock).not_to_have_text(first, timeout=15000)  # the clientside callback ticks
    assert page.locator(".leaflet-container").count() == 1
    _no_violation(page)
    cookie = next(c for c in page.context.cookies() if c["name"] == "dmy_screen")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    accounts = app._accounts()
    accounts.revoke_screen("csp-wall")
    accounts.dispose()
    notice = page.locator("#dmy-denied")
    expect(notice).to_be_visible(timeout=30000)  # at the wall's next poll
    assert notice.get_attribute("data-reason") == "screen-revoked"
    assert "revoked" in notice.text_content()


def test_sign_in_form_and_plotly_charts_work_under_the_csp(start_app, strict_page):
    app = start_app({"language": "en"})
    page = strict_page
    page.goto(f"{app.base_url}/kpi")
    assert "/login" in page.url  # the public is sent to sign in
    app.sign_in(page, "pimpinan", "/kpi")
    expect(page.locator(".js-plotly-plot").first).to_be_attached(timeout=60000)
    expect(page.locator("#kpi-scorecard")).not_to_be_empty(timeout=30000)
    _no_violation(page)
    page.goto(f"{app.base_url}/wall")
    assert "Your role may not open this page" in page.content()  # 403 page for a role without /wall
