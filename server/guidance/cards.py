"""The card types: what a card is, from content/ through drafts and releases to the API.

Cards stay plain dicts on the wire and in the database (JSON); these TypedDicts say which
keys each stage carries, so a reader and a type checker know what `card["…"]` holds.
"""

from __future__ import annotations

from typing import TypedDict


class PolicySlot(TypedDict):
    """An agency-editable local-policy block of a card: empty text means "ask your supervisor"."""

    id: str
    label: str
    text: str


class RenderedSlot(PolicySlot, total=False):
    """A local-policy block as stored in a card version, with its text rendered."""

    html: str


class CardData(TypedDict):
    """A card's canonical content: what is hashed, stored in a card version and edited in drafts."""

    id: str
    title: str
    category: str
    audience: list[str]
    order: int
    summary: str
    summary_source: list[str]  # passage ids (or framing/local) the one-line answer rests on
    tags: list[str]
    related: list[str]
    source: list[str]  # the statement's section headings the card cites
    local_policy: list[PolicySlot]
    body: str  # Markdown; each line ends with its tie to the statement ([§ …]) or is the agency's


class ReleasedCard(CardData, total=False):
    """A card as a loaded release holds it: its content plus hash, rendering and provenance."""

    hash: str  # SHA-256 of the canonical content (content.content_hash)
    html: str  # the body rendered and sanitized
    text: str  # the body as plain words (word counts, "what changed")
    origins: dict | None  # the release that introduced each agency part (provenance.release_origins)
