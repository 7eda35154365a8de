"""Pages cut into a shell and fragments, so the service worker can put them together offline.

An online page is base.html around a view's `main` block. Offline, the service worker
takes the cached shell (base.html rendered with the marks below in place of the title,
the main content and the release) and puts in the fragments of the one release it holds:
each page's title and main block, and for a card page the card's article, which is
addressed by the card's hash and shared between releases. Fragments are rendered from
the very blocks the online pages use, so both look the same.

A release's fragments are the same for every officer of the agency, so they hold no one's
state: the "what changed" page's acknowledgment panel is kept as an empty form, which
pwa/static/ack-queue.js fills on the device (see server/web/offline_copy.py device_ack_panel).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from markupsafe import Markup
from starlette.templating import Jinja2Templates

from server.guidance.provenance import Passage
from server.guidance.releases import ReleaseView
from server.lru import LRU
from server.web.page_context import (
    card_context,
    flow_context,
    home_context,
    practice_context,
    practice_list_context,
    search_context,
)

TITLE_MARK = "@@fieldguide:title@@"
MAIN_MARK = "<!--fieldguide:main-->"
ARTICLE_MARK = "<!--fieldguide:article-->"
RELEASE_MARK = "@@fieldguide:release@@"
ETAG_MARK = "@@fieldguide:etag@@"
MARKS = {
    "title": TITLE_MARK,
    "main": MAIN_MARK,
    "article": ARTICLE_MARK,
    "release": RELEASE_MARK,
    "etag": ETAG_MARK,
}
# Stands in for the release while the shell is rendered.
SHELL_RELEASE = {"number": RELEASE_MARK, "etag": ETAG_MARK}
ARTICLE_TEMPLATE = "partials/_card_article.html"
# Where a device keeps the what-changed page of the release it holds (against the one before).
CHANGES_PATH = "/changes"


class Fragments:
    """Renders, and remembers, card articles by hash and each release's page fragments."""

    def __init__(
        self, templates: Jinja2Templates, passages: dict[str, Passage], size: int = 16, articles: int = 2048
    ):
        self.env = templates.env
        self.passages = passages
        self._articles: LRU[str, Markup] = LRU(articles)
        self._pages: LRU[int, dict] = LRU(size)
        self._changes: LRU[tuple[int, tuple], dict] = LRU(size)

    def article(self, card: dict) -> Markup:
        """The card's article (title, answer, body, local policy, sources): one per hash."""
        html = self._articles.get(card["hash"])
        if html is None:
            html = Markup(self.env.get_template(ARTICLE_TEMPLATE).render(card=card))
            self._articles.put(card["hash"], html)
        return html

    def block(self, template: str, name: str, context: dict) -> str:
        """One block of a view template, exactly as it appears inside the full page."""
        tmpl = self.env.get_template(template)
        if name not in tmpl.blocks:
            tmpl = self.env.get_template("base.html")
        return "".join(tmpl.blocks[name](tmpl.new_context(context)))

    def page(self, template: str, context: dict) -> dict:
        """{title, main} of a page."""
        return {
            "title": self.block(template, "title", context),
            "main": self.block(template, "main", context),
        }

    def pages(self, release: ReleaseView) -> dict[str, dict]:
        """Every guidance page a device can open offline, by path: {title, main[, card hash]} (and see changes_page)."""
        cached = self._pages.get(release.id)
        if cached is not None:
            return cached
        pages = {
            "/": self.page("views/home.html", home_context(release)),
            "/search": self.page("views/search.html", search_context(release, "")),
            "/flow": self.page("views/flow.html", flow_context(release, None, self.passages)),
            "/offline": self.page("views/offline.html", {}),
        }
        for node_id in release.flow["nodes"]:
            pages[f"/flow/{node_id}"] = self.page("views/flow.html", flow_context(release, node_id, self.passages))
        pages["/practice"] = self.page("views/practice.html", practice_list_context(release))
        for scenario in release.scenarios:
            pages[f"/practice/{scenario['id']}"] = self.page(
                "views/practice_scenario.html", practice_context(release, scenario["id"], self.passages)
            )
        for card in release.cards:
            entry = self.page(
                "views/card.html", card_context(release, card["id"], Markup(ARTICLE_MARK), self.passages)
            )
            entry["card"] = card["hash"]
            pages[f"/cards/{card['id']}"] = entry
        return self._pages.put(release.id, pages)

    async def changes_page(
        self, release: ReleaseView, agency_part: tuple, context: Callable[[], Awaitable[dict]]
    ) -> dict:
        """{title, main} of the release's what-changed page; context() is awaited only when not remembered.

        Remembered per release and what of the agency the page shows (agency_part: the attestation
        wording and the check requirements), which an agency may change without publishing a release.
        """
        key = (release.id, agency_part)
        page = self._changes.get(key)
        if page is None:
            page = self._changes.put(key, self.page("views/changes.html", await context()))
        return page
