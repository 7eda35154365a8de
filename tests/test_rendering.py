"""Markdown becomes safe HTML."""

from server.guidance.content import load_content
from server.guidance.rendering import render_markdown
from server.settings import ROOT


def test_raw_html_and_scripts_never_reach_the_page():
    html = render_markdown('Hi <script>alert(1)</script> <img src=x onerror=alert(1)>\n\n[x](javascript:alert(1))')
    assert "<script" not in html and "<img" not in html and "javascript:" not in html.replace("[x](javascript", "")
    assert "&lt;script&gt;" in html


def test_links_keep_safe_schemes_only():
    html = render_markdown("[a](https://example.org) [b](javascript:alert(1))")
    assert 'href="https://example.org"' in html
    assert 'href="javascript' not in html


def test_every_shipped_card_renders_to_sanitized_html():
    for card in load_content(ROOT / "content").cards:
        html = render_markdown(card["body"])
        assert "<h2>Do</h2>" in html and "<h2>Why</h2>" in html
        assert "<script" not in html and "style=" not in html
