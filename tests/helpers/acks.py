"""Acknowledging a release: the form on a changes page and the API the page script posts to."""

from __future__ import annotations

import re
import uuid

import httpx

FORM_FIELD = re.compile(r'<input type="hidden" name="(uuid|card_hashes|release|attestation)" value="([^"]*)"')


def ack_form(html: str) -> dict[str, str]:
    """The hidden fields of the acknowledgment form on a changes page."""
    return dict(FORM_FIELD.findall(html))


async def post_ack(c: httpx.AsyncClient, token: str, release: int, key: str | None = None, **extra) -> httpx.Response:
    """POST /api/v1/acks as the app's page script does."""
    body = {"uuid": key or str(uuid.uuid4()), "release": release, "card_hashes": [], **extra}
    return await c.post("/api/v1/acks", json=body, headers={"X-CSRF-Token": token})
