"""Markdown to sanitized HTML: the one place card text becomes markup."""

from __future__ import annotations

import html as _html

import nh3
from markdown_it import MarkdownIt

from server.guidance.provenance import (
    AGENCY_MARK,
    clean_text,
    mark_agency_lines,
    strip_ties,
)

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).disable(
    "image"
)

ALLOWED_TAGS = {
    "p", "ul", "ol", "li", "strong", "em", "h2", "h3", "h4", "blockquote", "code", "br", "hr", "a",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def render_markdown(text: str) -> str:
    """Render Markdown to HTML that is safe to show: no raw HTML, scripts or styles (ties removed)."""
    return _clean(_md.render(strip_ties(clean_text(text))))


def render_card_body(body: str) -> str:
    """A card body's HTML, each line the agency added to a NASRO card labelled as its policy."""
    html = _clean(_md.render(mark_agency_lines(clean_text(body))))
    return html.replace(" " + AGENCY_MARK, AGENCY_LABEL).replace(AGENCY_MARK, AGENCY_LABEL)


AGENCY_LABEL = ' <span class="agency-line">Your agency\'s policy</span>'


def _clean(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"https", "mailto", "tel"},
        link_rel="noopener noreferrer",
    )


def plain_text(text: str) -> str:
    """Markdown to plain words, for search and word counts (ties removed)."""
    html = _md.render(strip_ties(clean_text(text)))
    return " ".join(_html.unescape(nh3.clean(html, tags=set())).split())
