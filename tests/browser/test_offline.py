"""The phone with no signal: after one visit the whole release works offline, in Chromium."""

from __future__ import annotations

import re

import pytest

from ..helpers.browser import PHONE, poll, screenshot, sign_in, wait_offline_ready

pytestmark = pytest.mark.browser

CARD_COUNT = """async () => (await (await caches.open("fieldguide-cards-v1")).keys()).length"""


def test_first_visit_saves_the_release_and_it_all_works_offline(officer, live_server, phone):
    page = officer
    manifest = page.evaluate("async () => (await fetch('/api/v1/manifest')).json()")
    assert page.evaluate(CARD_COUNT) == len(manifest["cards"]) >= 18
    phone.set_offline(True)

    page.reload()
    assert page.locator("html").get_attribute("data-served") == "device"
    # The status line fills in once the page has read the saved release's record.
    page.wait_for_function("() => document.getElementById('status').dataset.state === 'offline'")
    assert re.match(r"Offline — release 1, synced \d", page.inner_text("#status"))
    assert page.locator("main .card-link").count() == len(manifest["cards"])

    page.click("#cat-restraint summary")  # home lists the cards under their categories
    page.click("text=Handcuffs and restraint devices")
    page.wait_for_url("**/cards/restraint-devices")
    assert page.inner_text("article h1") == "Handcuffs and restraint devices"
    assert "flex cuffs" in page.inner_text("article .answer")

    page.click(".tabbar >> text=Search")
    page.wait_for_url("**/search")
    page.fill("#q", "cuffs")
    page.wait_for_function("() => document.querySelectorAll('#results .card-link').length > 0")
    assert page.locator("#results a").first.get_attribute("href") == "/cards/restraint-devices"
    assert re.match(r"\d+ cards? for “cuffs”", page.inner_text("#result-count"))
    page.wait_for_url("**/search?q=cuffs")  # the address follows once typing pauses

    page.click(".tabbar >> text=Step in?")
    taps = 0
    while page.locator(".outcome").count() == 0:
        page.locator(".answer-button").last.click()
        page.wait_for_load_state()
        taps += 1
        assert taps <= 4
    assert page.locator(".outcome h1").inner_text()
    page.locator(".flow .card-link a").first.click()
    page.wait_for_selector("article.card h1")

    page.goto(live_server.url + "/admin/audit")
    assert page.inner_text("main h1") == "You're offline"


def test_a_search_typed_on_home_opens_with_its_results_offline(officer, phone):
    assert officer.url.endswith("/")
    page = officer
    phone.set_offline(True)
    page.reload()
    page.fill("#home-q", "IEP")
    page.press("#home-q", "Enter")
    page.wait_for_url("**/search?q=IEP")
    page.wait_for_function("() => document.querySelectorAll('#results .card-link').length > 0")
    assert page.locator("#results a").first.get_attribute("href") == "/cards/special-needs-iep"
    assert page.input_value("#q") == "IEP"


HOME_RESULTS = "() => [...document.querySelectorAll('#home-results a')].map((a) => a.getAttribute('href'))"


def test_typing_in_the_home_box_lists_results_in_place_online_and_offline(officer, live_server, phone):
    page = officer
    server = {q: [f"/cards/{r['id']}" for r in page.evaluate(
        "async (q) => (await (await fetch('/api/v1/search?q=' + q)).json()).results", q)] for q in ("IEP", "cuffs")}
    page.fill("#home-q", "IEP")
    page.wait_for_function(HOME_RESULTS + ".length > 0")
    assert page.evaluate(HOME_RESULTS) == server["IEP"]
    assert page.url == live_server.url + "/"

    phone.set_offline(True)
    page.reload()
    assert page.locator("html").get_attribute("data-served") == "device"
    page.fill("#home-q", "cuffs")
    page.wait_for_function(HOME_RESULTS + ".length > 0")
    assert page.evaluate(HOME_RESULTS) == server["cuffs"]
    assert server["cuffs"][0] == "/cards/restraint-devices"
    count = len(server["cuffs"])
    assert page.inner_text("#home-result-count") == f"{count} card{'' if count == 1 else 's'} for “cuffs”"
    assert page.locator("main .category .card-link").count() > 0  # the guide stays below
    screenshot(page, "offline-home-search")
    page.fill("#home-q", "zzzz")
    page.wait_for_selector("#home-no-results")
    assert page.evaluate(HOME_RESULTS) == []
    page.fill("#home-q", "")
    page.wait_for_function("() => !document.getElementById('home-no-results')")
    assert page.inner_text("#home-result-count") == "" and page.evaluate(HOME_RESULTS) == []


def test_without_javascript_the_home_box_opens_the_search_page(browser, live_server):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, live_server.url)
    page.fill("#home-q", "cuffs")
    with page.expect_navigation():
        page.press("#home-q", "Enter")
    assert page.url == live_server.url + "/search?q=cuffs"
    assert page.locator("#results a").first.get_attribute("href") == "/cards/restraint-devices"
    context.close()


PAGES = ["/", "/cards/restraint-devices", "/search", "/flow", "/flow/arrest", "/flow/out-arrest"]


def test_offline_pages_are_the_online_pages(officer, live_server, phone):
    page = officer
    online = {}
    for path in PAGES:
        response = page.goto(live_server.url + path)
        assert page.locator("html").get_attribute("data-served") is None  # from the server
        online[path] = response.text()
    phone.set_offline(True)
    for path in PAGES:
        response = page.goto(live_server.url + path)
        html = response.text()
        assert '<html data-served="device" lang="en"' in html
        assert html.replace(' data-served="device"', "", 1) == online[path], path


def test_saving_shows_progress_card_by_card(phone, live_server):
    page = phone.new_page()
    page.add_init_script(
        """window.__statuses = [];
        new MutationObserver(() => {
            const status = document.getElementById("status-text");
            if (status) window.__statuses.push(status.textContent);
        }).observe(document, {subtree: true, childList: true, characterData: true});"""
    )
    sign_in(page, live_server.url)
    wait_offline_ready(page, 1)
    seen = page.evaluate("window.__statuses")
    total = page.evaluate("async () => (await (await fetch('/api/v1/manifest')).json()).cards.length")
    saving = [s for s in seen if s.startswith("Saving release 1")]
    assert f"Saving release 1: 1 of {total} cards" in saving
    assert f"Saving release 1: {total - 1} of {total} cards" in saving
    page.wait_for_function("() => document.getElementById('status').dataset.state === 'online'")
    assert page.inner_text("#status") == "Release 1 · works offline"


def test_a_copy_not_checked_for_a_week_warns(officer, phone):
    page = officer
    page.evaluate(
        """async () => {
            const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000).toISOString();
            await self.fieldguideDb.put("meta", {at: eightDaysAgo, release: 1}, "checked");
        }"""
    )
    phone.set_offline(True)
    page.reload()
    page.wait_for_function("() => document.getElementById('status').dataset.state === 'stale'")
    assert re.match(r"Offline — release 1, synced \w", page.inner_text("#status-text"))
    # The warning floats above the tab bar (the status line keeps its one line).
    assert page.locator("#status-note").is_visible()
    assert "Not checked for new guidance for over 7 days" in page.inner_text("#status-note")
    assert page.locator("main .card-link").count() > 0


def test_a_slow_network_gets_the_saved_page_instead_of_a_spinner(officer, live_server, phone):
    page = officer
    held = []
    # The server never answers card pages: the worker stops waiting and shows the saved copy.
    phone.route(re.compile(r".*/cards/[a-z-]+$"), lambda route: held.append(route))
    page.goto(live_server.url + "/cards/de-escalation")
    assert page.locator("html").get_attribute("data-served") == "device"
    assert page.inner_text("article h1") == "Calming a situation: prevention first"
    assert held, "the navigation never reached the network"


def test_a_card_the_browser_evicted_comes_back_at_the_next_check(officer):
    page = officer
    evicted = page.evaluate(
        """async () => {
            const cache = await caches.open("fieldguide-cards-v1");
            const [first] = await cache.keys();
            await cache.delete(first);
            return first.url;
        }"""
    )
    before = page.evaluate(CARD_COUNT)
    page.evaluate("() => window.fieldguide.sync('now')")
    poll(page, """async (url) => Boolean(await (await caches.open("fieldguide-cards-v1")).match(url))""", evicted)
    assert page.evaluate(CARD_COUNT) == before + 1
