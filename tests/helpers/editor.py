"""The admin editor and the review of a draft, through the real forms."""

from __future__ import annotations

import re

import httpx

from server.guidance.content import canonical_card
from server.guidance.releases import latest_release, load_release
from server.models import Agency, Draft, Release

from .csrf import csrf_of, csrf_token

DRAFT_URL = re.compile(r"^/admin/drafts/(\d+)")
# A NASRO line of the teacher card, and the agency's wording of it, for edits in tests.
TEACHER_OLD = "Check how your MOU defines your teacher role."
TEACHER_NEW = "Read how your MOU defines your teacher role."


async def post(c: httpx.AsyncClient, path: str, data: dict | None = None) -> httpx.Response:
    """POST a form with the client's CSRF token (taken from /admin)."""
    return await c.post(path, data={"csrf_token": await csrf_token(c, "/admin"), **(data or {})})


async def start_draft(c: httpx.AsyncClient) -> str:
    """Open (or start) the agency's draft; returns its URL."""
    response = await post(c, "/admin/drafts")
    assert response.status_code == 303, response.text
    assert DRAFT_URL.match(response.headers["location"])
    return response.headers["location"]


async def current_card(card_id: str, slug: str = "demo") -> dict:
    """A card of the agency's current release, canonical."""
    agency = await Agency.get(slug=slug)
    view = await load_release(await latest_release(agency.id))
    return canonical_card(view.by_id[card_id])


def card_form(card: dict, **overrides) -> dict:
    """The editor form fields for a card (as a browser would send them), with some replaced."""
    data = dict(card, **{k: v for k, v in overrides.items() if k in card})
    form = {
        "title": data["title"],
        "summary": data["summary"],
        "category": data["category"],
        "audience": data["audience"],
        "tags": ", ".join(data["tags"]),
        "related": data["related"],
        "source": data["source"],
        "body": data["body"].replace("\n", "\r\n"),
        "lp_count": str(len(data["local_policy"])),
        "op": overrides.get("op", "save"),
        "change_class": overrides.get("change_class", "auto"),
    }
    if "id" in overrides:
        form["id"] = overrides["id"]
    for i, slot in enumerate(data["local_policy"]):
        form[f"lp_{i}_id"] = slot["id"]
        form[f"lp_{i}_label"] = slot["label"]
        form[f"lp_{i}_text"] = slot["text"]
    return form


async def save_card(c: httpx.AsyncClient, draft_url: str, card_id: str, **overrides) -> httpx.Response:
    """Post the editor form for one card of the draft."""
    card = await current_card(card_id)
    path = f"{draft_url}/cards/{card_id}"
    return await c.post(path, data={"csrf_token": await csrf_token(c, path), **card_form(card, **overrides)})


async def edit_body(c: httpx.AsyncClient, draft_url: str, card_id: str, old: str, new: str, **extra) -> httpx.Response:
    """Replace words in a card's text through the editor; the save must succeed."""
    card = await current_card(card_id)
    assert old in card["body"]
    response = await save_card(c, draft_url, card_id, body=card["body"].replace(old, new), **extra)
    assert response.status_code == 303, response.text
    return response


async def step(c: httpx.AsyncClient, draft_url: str, name: str, **data) -> httpx.Response:
    """One review step, sending the fingerprint of the draft page as the client sees it."""
    page = (await c.get(draft_url)).text
    found = re.search(r'name="fingerprint" value="([0-9a-f]+)"', page)
    fields = {"csrf_token": csrf_of(page), **data}
    if found and "fingerprint" not in data:
        fields["fingerprint"] = found.group(1)
    return await c.post(f"{draft_url}/{name}", data=fields)


async def set_summary(c: httpx.AsyncClient, draft_url: str, summary: str, due: str = "") -> None:
    """Save the draft's change summary (and due date)."""
    response = await post(c, f"{draft_url}/details", {"summary": summary, "due_at": due})
    assert response.status_code == 303, response.text


def _error(page: str) -> str:
    found = re.search(r'class="error"[^>]*>(.*?)</', page, re.DOTALL)
    return found.group(1) if found else page[:500]


async def review_and_publish(author: httpx.AsyncClient, reviewer: httpx.AsyncClient, draft_url: str,
                             summary: str | None = "Updated guidance.") -> Release:
    """Summary (unless None: keep the saved one), submit, approve and publish; returns the new release."""
    if summary is not None:
        await set_summary(author, draft_url, summary)
    for c, name in ((author, "submit"), (reviewer, "approve"), (reviewer, "publish")):
        response = await step(c, draft_url, name)
        assert response.status_code == 303, (name, _error(response.text))
    draft = await Draft.get(id=int(DRAFT_URL.match(draft_url).group(1)))
    return await Release.get(id=draft.published_release_id)
