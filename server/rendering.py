"""Markdown to sanitized HTML: the one place card text becomes markup."""

from __future__ import annotations

import html as _html

import nh3
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).disable(
    "image"
)

ALLOWED_TAGS = {
    "p", "ul", "ol", "li", "strong", "em", "h2", "h3", "h4", "blockquote", "code", "br", "hr", "a",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def render_markdown(text: str) -> str:
    """Render Markdown to HTML that is safe to show: no raw HTML, scripts or styles."""
    html = _md.render(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"https", "mailto", "tel"},
        link_rel="noopener noreferrer",
    )


def plain_text(text: str) -> str:
    """Markdown to plain words, for search and word counts."""
    html = _md.render(text)
    return " ".join(_html.unescape(nh3.clean(html, tags=set())).split())
