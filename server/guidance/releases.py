"""Immutable releases: base content in the database, publishing, and a cached read view.

Publishing (publish_release) writes release N+1, its cards and, in the same transaction, one
push notice per subscribed device of the agency (server.push.outbox) and, when email is set up,
one email per officer concerned (server.mail.outbox): a release and its notices exist together
or not at all. On PostgreSQL the commit also NOTIFYs every listening
push worker; waking the in-process worker after the commit is the caller's (review.publish).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from tortoise.transactions import in_transaction

from server.db import within
from server.guidance.cards import CardData, ReleasedCard
from server.guidance.content import Content, content_hash, render_card
from server.guidance.lexicon import Lexicon, app_lexicon
from server.guidance.provenance import release_origins
from server.guidance.rendering import plain_text
from server.guidance.scenarios import fits_flow
from server.guidance.search import Results, rank
from server.guidance.search_index import SearchIndex, release_index
from server.lru import LRU
from server.mail.config import Mail
from server.mail.outbox import enqueue_release_mail
from server.models import (
    Agency,
    BaseCard,
    CardVersion,
    Release,
    ReleaseCard,
    ReleaseQuestion,
    User,
)
from server.push.outbox import enqueue_release_notices
from server.settings import ROOT


async def store_card(data: CardData, connection=None) -> CardVersion:
    """Store one card version (idempotent: the hash is the key)."""
    digest, html, stored = render_card(data)
    version = await CardVersion.get_or_none(hash=digest).using_db(connection)
    if version is None:
        version = await CardVersion.create(
            hash=digest, card_id=data["id"], data=stored, html=html, using_db=connection
        )
    return version


async def sync_base_content(content: Content) -> list[str]:
    """Make the BaseCard table match content/; return the ids of new or changed cards."""
    changed = []
    async with in_transaction() as conn:
        existing = {b.card_id: b for b in await BaseCard.all().using_db(conn)}
        for position, card in enumerate(content.cards):
            version = await store_card(card, conn)
            base = existing.pop(card["id"], None)
            if base is None:
                await BaseCard.create(
                    card_id=card["id"], version=version, position=position, using_db=conn
                )
                changed.append(card["id"])
            elif base.version_id != version.hash or base.position != position:
                if base.version_id != version.hash:
                    changed.append(card["id"])
                base.version = version
                base.position = position
                await base.save(using_db=conn)
        for gone in existing.values():
            await gone.delete(using_db=conn)
            changed.append(gone.card_id)
    return changed


def manifest_hash(
    number: int, cards: list[tuple[str, str]], categories, flow, due_at, requires_ack, scenarios=None
) -> str:
    """The hash that identifies a release's exact content (the ETag's basis).

    Practice scenarios count only when the release has them, so the stored hash of a release
    published before scenarios existed still comes out the same.
    """
    value = {
        "number": number,
        "cards": cards,
        "categories": categories,
        "flow": flow,
        "due_at": due_at.isoformat() if due_at else None,
        "requires_ack": requires_ack,
    }
    if scenarios is not None:
        value["scenarios"] = scenarios
    return content_hash(value)


async def publish_release(
    agency: Agency,
    cards: list[CardData],
    categories: list[dict],
    flow: dict,
    summary: str,
    *,
    due_at: datetime | None = None,
    requires_ack: bool = True,
    author: User | None = None,
    approver: User | None = None,
    publisher: User | None = None,
    changes: dict[str, str | None] | None = None,
    base_hashes: dict[str, str | None] | None = None,
    questions: list[dict] | None = None,
    scenarios: list[dict] | None = None,
    mail: Mail | None = None,
    connection=None,
) -> Release:
    """Create release N+1 of an agency from whole card data, all or nothing.

    changes: per card id, how it changed from the previous release (added, major, minor).
    base_hashes: per card id, the base (NASRO) version it is aligned with (None: a local card);
    a card not named keeps the alignment it had in the previous release.
    scenarios: the practice scenarios (scenarios.py), or None to keep the previous release's.
    questions: the understanding check, ReleaseQuestion values with their hashes
    (questions.release_rows), stored with the release.
    mail: when email is set up, one email per officer concerned (mail.outbox), in this transaction.
    """
    changes = changes or {}
    base_hashes = base_hashes or {}

    async def _publish(conn) -> Release:
        last = await Release.filter(agency=agency).using_db(conn).order_by("-number").first()
        number = (last.number if last else 0) + 1
        aligned, before = {}, {}
        if last is not None:
            rows = (
                await ReleaseCard.filter(release=last)
                .using_db(conn)
                .values("card_id", "base_hash", "origins", "version__data")
            )
            aligned = {r["card_id"]: r["base_hash"] for r in rows}
            before = {r["card_id"]: (r["version__data"], r["origins"]) for r in rows}
        aligned.update(base_hashes)
        versions = [await store_card(card, conn) for card in cards]
        kept = scenarios if scenarios is not None else (last.scenarios if last else None)
        digest = manifest_hash(
            number, [(v.card_id, v.hash) for v in versions], categories, flow, due_at, requires_ack, kept
        )
        release = await Release.create(
            agency=agency,
            number=number,
            summary=summary,
            due_at=due_at,
            requires_ack=requires_ack,
            author=author,
            approver=approver,
            publisher=publisher,
            categories=categories,
            flow=flow,
            scenarios=kept,
            manifest_hash=digest,
            using_db=conn,
        )
        await ReleaseCard.bulk_create(
            [
                ReleaseCard(
                    release=release,
                    card_id=v.card_id,
                    position=i,
                    version=v,
                    change=changes.get(v.card_id),
                    base_hash=aligned.get(v.card_id),
                    origins=release_origins(card, number, *before.get(v.card_id, (None, None))),
                )
                for i, (v, card) in enumerate(zip(versions, cards))
            ],
            using_db=conn,
        )
        if questions:
            await ReleaseQuestion.bulk_create(
                [ReleaseQuestion(release=release, **values) for values in questions], using_db=conn
            )
        await enqueue_release_notices(release, conn)
        if mail is not None:
            await enqueue_release_mail(release, mail, conn)
        return release

    return await within(_publish, connection)


@dataclass
class ReleaseView:
    """A published release loaded once: cards in order, lookup by id, search index."""

    id: int
    agency_id: int
    number: int
    summary: str
    published_at: datetime
    due_at: datetime | None
    requires_ack: bool
    manifest_hash: str
    categories: list[dict]
    flow: dict
    cards: list[ReleasedCard]
    by_id: dict[str, ReleasedCard] = field(default_factory=dict)
    # Practice scenarios; for a release published before they existed, the NASRO base ones
    # that fit its flow (scenarios_from_base), until the agency's next release carries its own.
    scenarios: list[dict] = field(default_factory=list)
    scenarios_from_base: bool = False
    lexicon: Lexicon = field(default_factory=app_lexicon)
    index: SearchIndex = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {c["id"]: c for c in self.cards}
        self.index = release_index(self.cards, self.lexicon)

    @property
    def etag(self) -> str:
        """Strong ETag of the manifest and of the offline copy built from it.

        It covers the page templates too: after an upgrade that changes how pages are drawn,
        devices no longer match and fetch the release again rather than keep old fragments.
        So does the search index's digest, which changes with the lexicon or the index format.
        """
        # Base scenarios shown for an older release come from the app, not the release: they count too.
        lent = content_hash(self.scenarios) if self.scenarios_from_base else ""
        digest = hashlib.sha256(
            f"{self.manifest_hash}:{templates_version()}:{self.index.digest}{lent}".encode()
        ).hexdigest()
        return f'"r{self.number}-{digest[:20]}"'

    def grouped(self) -> list[tuple[dict, list[dict]]]:
        """Categories in order, each with its cards."""
        groups = []
        for category in self.categories:
            cards = [c for c in self.cards if c["category"] == category["id"]]
            if cards:
                groups.append((category, cards))
        return groups

    def search(self, query: str) -> Results:
        """Cards for a query, best first, and whether any is a close match (see server/search.py)."""
        outcome = rank(self.index.tables, query)
        return Results((self.cards[card] for card, _ in outcome.hits), close=outcome.close)

    def manifest(self) -> dict:
        """The sync manifest: what a device needs to know to hold this release."""
        return {
            "release": self.number,
            "etag": self.etag,
            "published_at": self.published_at.isoformat(),
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "requires_ack": self.requires_ack,
            "summary": self.summary,
            "categories": self.categories,
            "cards": [
                {
                    "id": c["id"],
                    "hash": c["hash"],
                    "title": c["title"],
                    "category": c["category"],
                    "summary": c["summary"],
                }
                for c in self.cards
            ],
        }


@cache
def templates_version() -> str:
    """SHA-256 over the page templates (read once, on first use)."""
    digest = hashlib.sha256()
    folder = ROOT / "pwa" / "templates"
    for path in sorted(folder.rglob("*.html")):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class ReleaseCache:
    """Loaded releases by id (they never change), least recently used dropped first."""

    def __init__(self, size: int = 64, base_scenarios: list[dict] | None = None):
        self._items: LRU[int, ReleaseView] = LRU(size)
        self._base_scenarios = base_scenarios or []

    async def get(self, release: Release) -> ReleaseView:
        """The loaded view of a release."""
        view = self._items.get(release.id)
        if view is None:
            view = self._items.put(release.id, await load_release(release, self._base_scenarios))
        return view

    async def get_by_id(self, release_id: int) -> ReleaseView:
        """The loaded view of a release by id: no query at all when it is kept."""
        view = self._items.get(release_id)
        return view if view is not None else await self.get(await Release.get(id=release_id))


async def load_release(release: Release, base_scenarios: list[dict] | None = None) -> ReleaseView:
    """Read a release and its card versions from the database.

    base_scenarios: the NASRO practice scenarios lent to a release published before releases
    carried scenarios (those that fit its flow).
    """
    rows = await ReleaseCard.filter(release=release).order_by("position").prefetch_related("version")
    cards = []
    for row in rows:
        data = dict(row.version.data)
        data["hash"] = row.version.hash
        data["html"] = row.version.html
        data["text"] = plain_text(data["body"])
        data["origins"] = row.origins
        cards.append(data)
    lent = [s for s in base_scenarios or [] if fits_flow(s, release.flow)] if release.scenarios is None else []
    return ReleaseView(
        id=release.id,
        agency_id=release.agency_id,
        number=release.number,
        summary=release.summary,
        published_at=release.published_at,
        due_at=release.due_at,
        requires_ack=release.requires_ack,
        manifest_hash=release.manifest_hash,
        categories=release.categories,
        flow=release.flow,
        cards=cards,
        scenarios=release.scenarios if release.scenarios is not None else lent,
        scenarios_from_base=release.scenarios is None and bool(lent),
    )


async def latest_release(agency_id: int) -> Release | None:
    """The agency's current (highest-numbered) release."""
    return await Release.filter(agency_id=agency_id).order_by("-number").first()
