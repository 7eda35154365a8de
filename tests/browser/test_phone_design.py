"""One thumb, tired eyes: accessibility audit, sizes and layout in light and dark, screenshots."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from ..helpers.browser import PHONE, screenshot, sign_in, wait_offline_ready

pytestmark = pytest.mark.browser

PAGES = {
    "home": "/",
    "card": "/cards/restraint-devices",
    "search": "/search?q=cuffs",
    "flow": "/flow",
    "outcome": "/flow/out-arrest",
}
THEMES = ["light", "dark"]
TAP_TARGETS = (
    ".tabbar a, .card-link a, button, input[type=search], .answer-button, .big-button, "
    ".brand, .restart, .link-button, .banner a, .foot a, .category summary"
)
SMALL_TAPS = f"""() => [...document.querySelectorAll({TAP_TARGETS!r})]
    .filter((el) => el.offsetParent !== null)
    .map((el) => [el.outerHTML.slice(0, 80), el.getBoundingClientRect()])
    .filter(([, box]) => box.height < 48 || box.width < 48)
    .map(([html, box]) => `${{html}} ${{Math.round(box.width)}}x${{Math.round(box.height)}}`)"""
TEXT = "main p, main li, main span, main h1, main h2, .status, .banner, .foot p"
SMALL_TEXT = f"""() => [...document.querySelectorAll({TEXT!r})]
    .filter((el) => el.offsetParent !== null && el.textContent.trim())
    .map((el) => [el.outerHTML.slice(0, 60), parseFloat(getComputedStyle(el).fontSize)])
    .filter(([, size]) => size < 17)"""
SHOW_BANNER = """() => window.dispatchEvent(new CustomEvent("fieldguide:release",
    {detail: {type: "release", number: Number(document.documentElement.dataset.release) + 1}}))"""
# Home's categories open, so their card links are checked too.
OPEN_CATEGORIES = "() => document.querySelectorAll('main details.category').forEach((d) => { d.open = true; })"


@pytest.fixture(scope="module")
def officer_page(browser, live_server):
    """A signed-in phone page that holds the release (so the status line is complete)."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, live_server.url)
    wait_offline_ready(page, 1)
    yield page
    context.close()


@pytest.mark.parametrize("theme", THEMES)
def test_no_serious_accessibility_violation(officer_page, live_server, theme):
    page = officer_page
    page.emulate_media(color_scheme=theme)
    axe = Axe()
    for name, path in PAGES.items():
        page.goto(live_server.url + path)
        page.wait_for_function("() => document.getElementById('status').dataset.state !== 'unknown'")
        page.evaluate(SHOW_BANNER)
        page.evaluate(OPEN_CATEGORIES)
        results = axe.run(page)
        bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, f"{name} ({theme}):\n" + results.generate_report()


@pytest.mark.parametrize("theme", THEMES)
def test_sizes_for_one_thumb_and_tired_eyes(officer_page, live_server, theme):
    page = officer_page
    page.emulate_media(color_scheme=theme)
    page.set_viewport_size({"width": 320, "height": 640})
    try:
        for name, path in PAGES.items():
            page.goto(live_server.url + path)
            page.evaluate(SHOW_BANNER)
            page.evaluate(OPEN_CATEGORIES)
            width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], f"{name}: scrolls sideways at 320 px ({width})"
            assert page.evaluate(SMALL_TAPS) == [], name
            assert page.evaluate(SMALL_TEXT) == [], name
    finally:
        page.set_viewport_size(PHONE)


@pytest.mark.parametrize("theme", THEMES)
def test_screenshots_of_home_and_a_card(officer_page, live_server, theme):
    page = officer_page
    page.emulate_media(color_scheme=theme)
    background = []
    for name in ("home", "card"):
        page.goto(live_server.url + PAGES[name])
        page.wait_for_function("() => document.getElementById('status').dataset.state === 'online'")
        path = screenshot(page, f"{name}-{theme}")
        assert path.stat().st_size > 10_000
        background.append(page.evaluate("() => getComputedStyle(document.body).backgroundColor"))
        if name == "home":
            page.click("#cat-restraint summary")
            page.locator("#cat-restraint .card-link a").first.wait_for(state="visible")
            screenshot(page, f"home-open-{theme}")
    expected = "rgb(255, 255, 255)" if theme == "light" else "rgb(11, 21, 38)"
    assert background == [expected, expected]


def test_pages_work_without_javascript(browser, live_server):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, live_server.url)
        assert page.locator("main .card-link").count() >= 18
        page.fill("#home-q", "handcuffs")
        with page.expect_navigation():
            page.press("#home-q", "Enter")
        assert page.locator("#results a").first.get_attribute("href") == "/cards/restraint-devices"
        page.click("#results a >> nth=0")
        assert page.inner_text("article h1") == "Handcuffs and restraint devices"
        page.goto(live_server.url + "/flow")
        while page.locator(".outcome").count() == 0:
            with page.expect_navigation():
                page.locator(".answer-button").first.click()
        assert page.locator(".flow .card-link").count() >= 1
        assert page.evaluate("() => navigator.serviceWorker.controller") is None
    finally:
        context.close()
