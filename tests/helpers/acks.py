"""Acknowledging a release: the form on a changes page and the API the page script posts to."""

from __future__ import annotations

import re
import uuid

import httpx

FORM_FIELD = re.compile(r'<input type="hidden" name="(uuid|card_hashes|release|attestation)" value="([^"]*)"')


def ack_form(html: str) -> dict[str, str]:
    """The hidden fields of the acknowledgment form on a changes page."""
    return dict(FORM_FIELD.findall(html))


async def release_card_hashes(c: httpx.AsyncClient, release: int) -> list[str]:
    """The content hashes of a release's cards, from the manifest the app's devices sync."""
    answer = await c.get("/api/v1/manifest", params={"release": release})
    if answer.status_code != 200:
        return []
    return [card["hash"] for card in answer.json()["cards"]]


async def post_ack(c: httpx.AsyncClient, token: str, release: int, key: str | None = None, **extra) -> httpx.Response:
    """POST /api/v1/acks as the app's page script does, naming the release's cards (unless extra says otherwise)."""
    body = {"uuid": key or str(uuid.uuid4()), "release": release, **extra}
    if "card_hashes" not in body:
        body["card_hashes"] = await release_card_hashes(c, release)
    return await c.post("/api/v1/acks", json=body, headers={"X-CSRF-Token": token})
