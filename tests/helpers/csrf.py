"""CSRF tokens as pages carry them: in each POST form, and in <meta name="csrf-token"> for scripts."""

from __future__ import annotations

import re

import httpx

FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
META_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token in a page: its forms' field, else (a page without a form) its meta tag."""
    found = FORM_TOKEN.search(html) or META_TOKEN.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


async def csrf_token(client: httpx.AsyncClient, path: str = "/") -> str:
    """The client's CSRF token, from the page at `path` (a session has one token on every page)."""
    return csrf_of((await client.get(path)).text)


FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.DOTALL | re.IGNORECASE)
POST_FORM = re.compile(r'<form\b[^>]*method="post"', re.IGNORECASE)
TOKEN_FIELD = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')


def post_forms_without_token(html: str, token: str | None) -> list[str]:
    """The POST forms of a page that lack a CSRF token field (with this token, when given)."""
    missing = []
    for form in FORM.findall(html):
        if not POST_FORM.match(form):
            continue
        found = TOKEN_FIELD.findall(form)
        if not found or (token is not None and token not in found):
            missing.append(form[:160])
    return missing
