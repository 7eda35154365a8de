"""Offline search in the browser ranks exactly like the server, query by query."""

from __future__ import annotations

import pytest

from server.models import Release
from server.releases import load_release
from server.search import BadQuery, check_query, rank

from .conftest import sign_in, wait_offline_ready

pytestmark = pytest.mark.browser

QUERIES = [
    "cuffs", "handcuffs", "zip ties", "IEP", "fight", "vape", "principal wants me to",
    "restraint", "arrest", "counsel", "handc", "mou",
    # Edges of the tokenizer and ranking: case, punctuation, plurals, prefixes, no match.
    "  CUFFS ", "flex-cuffs", "Zip Ties!", "students", "ss", "de", "dis", "special needs IEP",
    "school resource officer", "zzzz", "",
]
JS_RANKS = """async (queries) => {
    const release = await self.fieldguideDb.get("meta", "release");
    const cards = await Promise.all(release.cards.map(
        async (c) => (await fetch(`/api/v1/cards/${c.hash}`)).json()));
    const index = cards.map((c) => fieldguideSearch.indexCard(c.id, c.title, c.tags, c.summary, c.text));
    return queries.map((q) => fieldguideSearch.rank(index, q));
}"""


async def server_ranks(queries: list[str]) -> list[list[list]]:
    release = await load_release(await Release.filter(agency__slug="demo").order_by("-number").first())
    return [[[card_id, score] for card_id, score in rank(release.index, q)] for q in queries]


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


def test_scores_and_order_match_the_server_for_every_query(search_page, live_server):
    page, _ = search_page
    assert page.evaluate(JS_RANKS, QUERIES) == live_server.run(server_ranks, QUERIES)


def test_typing_shows_the_servers_results_in_the_servers_order(search_page):
    page, api = search_page
    for query in QUERIES:
        page.fill("#q", query)
        shown = page.eval_on_selector_all("#results a", "links => links.map((a) => a.getAttribute('href'))")
        assert shown == [f"/cards/{r['id']}" for r in api[query]["results"]], query
        if query.strip() and not shown:
            assert page.locator("#no-results").is_visible()
    assert api["cuffs"]["results"][0]["id"] == "restraint-devices"


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
