"""Practice scenarios on the phone: walked with no signal, and nothing asked of the server or stored."""

from __future__ import annotations

import pytest

from ..helpers.browser import screenshot

pytestmark = pytest.mark.browser

# Every IndexedDB database of the origin: each store's keys, to prove practising stores nothing.
IDB_KEYS = """async () => {
    const out = {};
    for (const { name } of await indexedDB.databases()) {
        const db = await new Promise((ok, fail) => {
            const open = indexedDB.open(name);
            open.onsuccess = () => ok(open.result);
            open.onerror = () => fail(open.error);
        });
        for (const store of db.objectStoreNames) {
            out[`${name}/${store}`] = await new Promise((ok, fail) => {
                const keys = db.transaction(store).objectStore(store).getAllKeys();
                keys.onsuccess = () => ok(keys.result.map(String).sort());
                keys.onerror = () => fail(keys.error);
            });
        }
        db.close();
    }
    return out;
}"""


def reached_server(page, requests: list) -> list[str]:
    """The requests made while practising that the page made or that left the phone.

    Chromium fetches the tab's icon (the <link rel="icon">) again on a same-page anchor jump;
    that one is the browser's own and is answered from the service worker's saved copy.
    """
    icon = page.locator("link[rel=icon][type='image/svg+xml']").get_attribute("href")
    found = []
    for request in requests:
        response = request.response()
        own_icon = request.url.endswith(icon) and request.resource_type == "other"
        if not (own_icon and response is not None and response.from_service_worker):
            found.append(f"{request.method} {request.url} ({request.resource_type})")
    return found


def _visible_outcomes(page) -> list[str]:
    return [
        el.get_attribute("id")
        for el in page.locator(".practice-outcome").element_handles()
        if el.is_visible()
    ]


def test_a_scenario_is_walked_offline_to_its_outcome_and_passage_with_no_request(officer, phone):
    page = officer
    phone.set_offline(True)
    page.reload()
    assert page.locator("html").get_attribute("data-served") == "device"
    page.click("text=Practice a situation")
    page.wait_for_url("**/practice")
    assert page.locator("html").get_attribute("data-served") == "device"
    assert page.locator(".practice-list .card-link").count() == 6
    page.click("text=A teacher hands you a vape")
    page.wait_for_url("**/practice/vape-handed-over")
    assert page.locator("html").get_attribute("data-served") == "device"
    assert page.locator(".tabbar [data-tab=flow]").get_attribute("aria-current") == "page"
    assert _visible_outcomes(page) == []
    stored = page.evaluate(IDB_KEYS)

    requests: list = []
    phone.on("request", lambda request: requests.append(request))
    page.click("text=Put him in handcuffs and walk him to the office")
    assert _visible_outcomes(page) == ["choice-3"]
    assert page.inner_text("#choice-3 .outcome-kind").lower() == "not what the guidance supports"
    page.click("#choice-3 >> text=Try another choice")
    page.click("text=Point the teacher to an administrator")
    assert _visible_outcomes(page) == ["choice-2"]
    assert page.inner_text("#choice-2 .outcome-kind").lower() == "what the guidance supports"
    assert "point the teacher to one" in page.inner_text("#choice-2 .outcome-points")
    page.click("#sources-2 summary")
    passage = page.locator("#sources-2 .source-passage").first
    assert passage.is_visible()
    assert "Prohibit SROs from becoming involved in formal school discipline situations" in passage.inner_text()
    assert "A Clear and Concise Memorandum of Understanding is Essential" in passage.inner_text()
    screenshot(page, "practice-outcome-offline")
    assert not reached_server(page, requests)
    assert page.evaluate(IDB_KEYS) == stored

    # The outcome leads to its step of "Should I step in?", also saved on the phone.
    page.click("#choice-2 >> text=See this in")
    page.wait_for_url("**/flow/out-rule")
    assert page.locator("html").get_attribute("data-served") == "device"
    assert "school administrators handle formal school discipline" in page.inner_text(".outcome h1")


def test_online_a_choice_asks_the_server_nothing_either(officer, live_server, phone):
    page = officer
    page.goto(live_server.url + "/practice/iep-hallway-meltdown")
    assert page.locator("html").get_attribute("data-served") is None  # from the server this time
    page.wait_for_load_state("networkidle")
    stored = page.evaluate(IDB_KEYS)
    requests: list = []
    phone.on("request", lambda request: requests.append(request))
    page.click("text=Get the educators who know him")
    assert _visible_outcomes(page) == ["choice-2"]
    page.click("#sources-2 summary")
    assert "the IEP for a student known to have behavior issues" in page.inner_text("#sources-2")
    assert not reached_server(page, requests)
    assert page.evaluate(IDB_KEYS) == stored
