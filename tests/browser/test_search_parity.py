"""Offline search in the browser ranks exactly like the server, query by query.

The phone ranks with the index saved with its release; the server with the index of its
release view. Both must be the same index, and the two lookup-and-sum codes (search.js and
server/guidance/search.py) must give the same cards, scores and "close" verdict for every query.
"""

from __future__ import annotations

import pytest

from server.guidance.releases import load_release
from server.guidance.search import BadQuery, check_query, prepare, rank
from server.models import Release

from ..helpers.browser import sign_in, wait_offline_ready
from ..helpers.releases import publish_revision

pytestmark = pytest.mark.browser

QUERIES = [
    "cuffs", "handcuffs", "zip ties", "IEP", "fight", "vape", "principal wants me to",
    "restraint", "arrest", "counsel", "mou",
    # Typos: one edit in words of five letters or more, none in shorter ones.
    "restrant", "handcufs", "seclsuion", "polcymakers", "cufs", "iepp",
    # Stop words only, and stop words around content.
    "should i", "the", "what do i do with her", "can i cuff her",
    # Inflections the cards do not spell out, and the stemmer's quirks.
    "restrained", "cuffed", "handcuffed", "disciplining", "policies", "fought",
    # Lexicon words and phrases.
    "can i put zipties on a kid", "kid with autism screaming", "student keeps walking out of class",
    "my principal wants me to write up a student", "lawmaker asking about SROs", "boy brought a knife",
    "who signs the mou", "504 plan", "sped", "AP",
    # Prefixes of the word being typed, and of a word that is not the last.
    "handc", "disc", "rest", "handc cuffs", "ha", "de", "special ne",
    # Tokenizer edges: case, punctuation, apostrophes, digits, other scripts.
    "  CUFFS ", "flex-cuffs", "Zip Ties!", "agency's policy", "won't leave class", "don’t", "2015",
    "café", "İEP", "ss", "students",
    # Half understood, mostly not understood, nothing understood.
    "handcuffs zebra", "handcuffs zebra giraffe", "zzzz", "qqqq zzzz", "",
]
JS_RANKS = """async (queries) => {
    const release = await self.fieldguideDb.get("meta", "release");
    const tables = fieldguideSearch.prepare(release.search_index);
    return {index: release.search_index, ranks: queries.map((q) => fieldguideSearch.rank(tables, q))};
}"""


async def server_index() -> dict:
    release = await load_release(await Release.filter(agency__slug="demo").order_by("-number").first())
    return release.index.shipped


@pytest.fixture(scope="module")
def search_page(browser, live_server):
    """An offline page of a phone holding release 1, with the search module loaded."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, live_server.url)
    wait_offline_ready(page, 1)
    api = {q: page.evaluate("async (q) => (await fetch('/api/v1/search?q=' + encodeURIComponent(q))).json()", q)
           for q in QUERIES}
    context.set_offline(True)
    page.goto(live_server.url + "/search")
    page.wait_for_selector("#search-form[data-instant=on]")
    yield page, api
    context.close()


def test_the_phone_ranks_with_the_servers_index_and_needs_no_card_bodies(search_page, live_server):
    page, _ = search_page
    on_phone = page.evaluate(JS_RANKS, [])["index"]
    assert on_phone == live_server.run(server_index)
    # Offline, with the card bodies gone from the cache, search still answers.
    page.evaluate("async () => caches.delete('fieldguide-cards-v1')")
    page.fill("#q", "cuffs")
    assert page.eval_on_selector_all("#results a", "links => links.length") > 0


def test_scores_order_and_closeness_match_the_server_for_every_query(search_page):
    page, _ = search_page
    found = page.evaluate(JS_RANKS, QUERIES)
    tables = prepare(found["index"])
    for query, in_browser in zip(QUERIES, found["ranks"]):
        outcome = rank(tables, query)
        expected = {"close": outcome.close, "hits": [[card, score] for card, score in outcome.hits]}
        assert in_browser == expected, query


def test_typing_shows_the_servers_results_in_the_servers_order(search_page):
    page, api = search_page
    for query in QUERIES:
        page.fill("#q", query)
        shown = page.eval_on_selector_all("#results a", "links => links.map((a) => a.getAttribute('href'))")
        assert shown == [f"/cards/{r['id']}" for r in api[query]["results"]], query
        # Never a dead end: no close match is said, with the way to the decision flow.
        no_close = bool(query.strip()) and not api[query]["close"]
        assert page.locator("#no-results").count() == int(no_close), query
        if no_close:
            assert page.locator("#no-results a[href='/flow']").is_visible()
    assert api["cuffs"]["results"][0]["id"] == "restraint-devices"
    assert api["restrant"]["results"][0]["id"] == "restraint-devices"
    assert api["cuffs"]["close"] and not api["zzzz"]["close"] and not api["handcuffs zebra giraffe"]["close"]


def test_results_follow_each_keystroke(search_page):
    page, _ = search_page
    found = page.evaluate(JS_RANKS, [])
    tables, cards = prepare(found["index"]), page.evaluate(
        "async () => (await self.fieldguideDb.get('meta', 'release')).cards.map((c) => c.id)")
    page.fill("#q", "")
    page.focus("#q")
    typed = ""
    for key in "restrant devic":
        page.keyboard.type(key)
        typed += key
        shown = page.eval_on_selector_all("#results a", "links => links.map((a) => a.getAttribute('href'))")
        expected = [f"/cards/{cards[card]}" for card, _ in rank(tables, typed).hits] if typed.strip() else []
        assert shown == expected, typed
    assert shown[0] == "/cards/restraint-devices"


def test_bad_queries_get_the_servers_messages(search_page):
    page, _ = search_page
    for raw in ["x" * 201, "cuffs\x07", "  spaced\u3000"]:
        try:
            expected = {"ok": check_query(raw)}
        except BadQuery as exc:
            expected = {"error": str(exc)}
        got = page.evaluate(
            """(raw) => { try { return {ok: fieldguideSearch.checkQuery(raw)}; }
                         catch (e) { return {error: e.message}; } }""",
            raw,
        )
        assert got == expected, raw


def test_a_release_with_the_same_index_keeps_the_one_on_the_phone(browser, live_server):
    # Runs last in this module: it publishes release 2 (no searchable text changed).
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, live_server.url)
    wait_offline_ready(page, 1)
    live_server.run(publish_revision, "demo", summary="Only the acknowledgment changed.", requires_ack=False)
    page.evaluate("() => window.fieldguide.sync()")
    wait_offline_ready(page, 2)
    saved = page.evaluate("async () => (await self.fieldguideDb.get('meta', 'release')).search_index")
    assert saved == live_server.run(server_index)
    context.set_offline(True)
    page.goto(live_server.url + "/search?q=restrant")
    page.wait_for_selector("#search-form[data-instant=on]")
    assert page.locator("#results a").first.get_attribute("href") == "/cards/restraint-devices"
    context.close()
