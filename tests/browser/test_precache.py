"""The shell's files on the phone: the server's precache list (/sw/assets.json, from its asset
table) names exactly the static files the shell loads, and the worker keeps exactly those."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from ..helpers.browser import poll

pytestmark = pytest.mark.browser

# The shell cache's entries as path?query, sorted.
CACHED = """async () => (await (await caches.open("fieldguide-shell-v1")).keys())
    .map((request) => { const url = new URL(request.url); return url.pathname + url.search; }).sort()"""
# The same, asking the worker to check again every second (a check already under way when the
# test changed the cache may have read it before).
CACHED_AFTER_CHECK = (
    """async () => {
    if (Date.now() - (window.__asked || 0) > 1000) {
        window.__asked = Date.now();
        window.fieldguide.sync("now");
    }
    return ("""
    + CACHED
    + """)();
}"""
)
# The static files the page's markup names (icons a browser may never fetch included).
NAMED = """() => [...document.querySelectorAll("link[href], script[src], img[src]")]
    .map((element) => element.getAttribute("href") || element.getAttribute("src"))
    .filter((url) => url.startsWith("/static/"))"""
# Some pages of the release: each is the shell filled in, offline.
PAGES = ["/", "/cards/restraint-devices", "/search", "/flow", "/changes"]


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def file_name(url: str) -> str:
    return urlsplit(url).path.removeprefix("/static/")


def expected_cache(assets: list[str]) -> list[str]:
    return sorted(["/shell", "/sw/assets.json", *assets])


def test_the_precache_list_is_what_the_shell_loads(officer, live_server, phone):
    page = officer
    listing = page.evaluate("async () => (await fetch('/sw/assets.json')).json()")
    assets = listing["assets"]
    assert assets and all(urlsplit(url).query.startswith("v=") for url in assets)
    # After install the shell cache holds the shell page, the list and its files, nothing else.
    poll(page, CACHED, expect=expected_cache(assets))

    requested: list[str] = []
    failed: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    # A request cut short by the next navigation (e.g. the tab icon, fetched after load) was not
    # a miss: only failures of another kind count.
    page.on(
        "requestfailed",
        lambda request: None if "ERR_ABORTED" in (request.failure or "") else failed.append(request.url),
    )
    named: set[str] = set()
    page.reload()  # online: the server's page, its modules fetched through the worker
    named |= set(page.evaluate(NAMED))
    phone.set_offline(True)
    for path in PAGES:
        page.goto(live_server.url + path)
        assert page.locator("html").get_attribute("data-served") == "device", path
        named |= set(page.evaluate(NAMED))
    assert failed == []  # offline, every file came from the cache

    loaded = named | {local(url) for url in requested if urlsplit(url).path.startswith("/static/")}
    assert {file_name(url) for url in loaded} == {file_name(url) for url in assets}
    # The markup names files by the very URLs of the list; modules import each other without
    # the hash, and the worker answers those with the listed file.
    assert {url for url in loaded if "?" in url} <= set(assets)
    assert page.evaluate(CACHED) == expected_cache(assets)  # nothing kept beside the list


def test_a_changed_list_drops_the_files_it_no_longer_names(officer):
    page = officer
    assets = page.evaluate("async () => (await fetch('/sw/assets.json')).json()")["assets"]
    evicted = next(url for url in assets if "/search.js?" in url)
    page.evaluate(
        """async (evicted) => {
            const cache = await caches.open("fieldguide-shell-v1");
            // As an older version of the app left it: another list, its files, an unhashed copy.
            const older = {version: "0000000000000000", assets: ["/static/app.js?v=000000000000"]};
            await cache.put("/sw/assets.json", new Response(JSON.stringify(older),
                {headers: {"Content-Type": "application/json", "ETag": '"a0000000000000000"'}}));
            await cache.put("/static/app.js?v=000000000000", new Response("// an older app.js"));
            await cache.put("/static/db.js", new Response("// kept by an older worker"));
            await cache.delete(evicted); // and the browser evicted one file
        }""",
        evicted,
    )
    # The next check brings the current list and its files, and drops the rest.
    poll(page, CACHED_AFTER_CHECK, expect=expected_cache(assets))
