"""Helpers for the acknowledgment tests: publishing releases, signed-in clients and ack posts."""

from __future__ import annotations

import re
import uuid
from contextlib import asynccontextmanager
from datetime import datetime

import httpx

from server.models import Agency, Release

from .conftest import sign_in
from .revisions import publish_revision

META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
FORM_FIELD = re.compile(r'<input type="hidden" name="(uuid|card_hashes|release|attestation)" value="([^"]*)"')


async def publish(
    agency: Agency | None = None,
    *,
    requires_ack: bool = True,
    due_at: datetime | None = None,
    edit: str | None = "teacher",
    published_at: datetime | None = None,
) -> Release:
    """Release N+1 of an agency (the demo by default), with one card's body changed."""
    agency = agency or await Agency.get(slug="demo")
    current = await Release.filter(agency=agency).order_by("-number").first()
    note = f"\n\nRevision {current.number + 1}."
    edits = {edit: {"body": lambda body: body + note}} if edit else {}
    release = await publish_revision(
        agency=agency,
        edits=edits,
        summary=f"Release {current.number + 1}.",
        due_at=due_at,
        requires_ack=requires_ack,
        changes={edit: "major" if requires_ack else "minor"} if edit else {},
    )
    if published_at is not None:
        release.published_at = published_at
        await Release.filter(id=release.id).update(published_at=published_at)
    return release


@asynccontextmanager
async def client_as(app, email: str):
    """A separate client (its own cookies) signed in as a demo user."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        response = await sign_in(c, email)
        assert response.status_code == 303, response.text
        yield c


async def csrf(c: httpx.AsyncClient) -> str:
    """The session's CSRF token, as pages expose it in <meta name="csrf-token">."""
    return META_CSRF.search((await c.get("/")).text).group(1)


def ack_form(html: str) -> dict[str, str]:
    """The hidden fields of the acknowledgment form on a changes page."""
    return dict(FORM_FIELD.findall(html))


async def post_ack(c: httpx.AsyncClient, token: str, release: int, key: str | None = None, **extra) -> httpx.Response:
    """POST /api/v1/acks as the app's page script does."""
    body = {"uuid": key or str(uuid.uuid4()), "release": release, "card_hashes": [], **extra}
    return await c.post("/api/v1/acks", json=body, headers={"X-CSRF-Token": token})
