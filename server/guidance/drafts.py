"""An agency's draft revision: its working copy of the guidance and the card edits that make it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml
from tortoise.transactions import in_transaction

from server.errors import Conflict, Invalid, NotFound
from server.guidance.cards import CardData
from server.guidance.change_class import MAJOR, suggest_change_class
from server.guidance.content import (
    ContentError,
    canonical_card,
    check_card,
    content_hash,
    source_headings,
)
from server.guidance.diff import CardChange, compare_releases
from server.guidance.releases import ReleaseView, latest_release
from server.guidance.scenarios import changes as scenario_changes
from server.models import (
    Agency,
    BaseCard,
    Draft,
    DraftCard,
    DraftQuestion,
    DraftStatus,
    Release,
    ReleaseCard,
    User,
)
from server.people import audit

ACTIVE = (DraftStatus.DRAFT, DraftStatus.IN_REVIEW, DraftStatus.APPROVED)
STATUS_LABELS = {
    DraftStatus.DRAFT: "Draft",
    DraftStatus.IN_REVIEW: "Waiting for review",
    DraftStatus.APPROVED: "Approved, ready to publish",
    DraftStatus.PUBLISHED: "Published",
    DraftStatus.WITHDRAWN: "Withdrawn",
}


class DraftConflict(Conflict):
    """The draft is not in a state that allows this action."""


def draft_target(draft: Draft | int, card_id: str | None = None) -> str:
    """The audit target of a draft (or of one card in it): lets review find who edited a draft."""
    draft_id = draft if isinstance(draft, int) else draft.id
    return f"draft {draft_id}" + (f" card {card_id}" if card_id else "")


def load_sources(content_dir: Path) -> dict:
    """content/sources.yaml: the statement's headings a card may cite."""
    return yaml.safe_load((content_dir / "sources.yaml").read_text(encoding="utf-8")) or {}


async def active_draft(agency_id: int) -> Draft | None:
    """The agency's draft that is not yet published or withdrawn (there is at most one)."""
    return await Draft.filter(agency_id=agency_id, status__in=list(ACTIVE)).order_by("-id").first()


async def get_draft(agency_id: int, draft_id: int) -> Draft:
    """One of the agency's drafts, or 404."""
    draft = await Draft.get_or_none(id=draft_id, agency_id=agency_id)
    if draft is None:
        raise NotFound("Your agency has no such draft.")
    return draft


async def start_draft(agency: Agency, author: User) -> Draft:
    """The agency's active draft, or a new one on top of its current release."""
    async with in_transaction() as conn:
        # On PostgreSQL this row lock makes two admins starting at once share one draft.
        await Agency.filter(id=agency.id).using_db(conn).select_for_update().first()
        draft = await Draft.filter(agency=agency, status__in=list(ACTIVE)).using_db(conn).first()
        if draft is not None:
            return draft
        release = await Release.filter(agency=agency).using_db(conn).order_by("-number").first()
        if release is None:
            raise Conflict("Your agency has no release to revise yet.")
        draft = await Draft.create(agency=agency, base_release=release, author=author, using_db=conn)
        await audit.record(agency, author, "draft.start", draft_target(draft), connection=conn)
    return draft


@dataclass
class WorkingCopy:
    """The current release with a draft's edits applied: what publishing would make."""

    draft: Draft
    release: ReleaseView
    edits: dict[str, DraftCard]
    base_hashes: dict[str, str | None]
    questions: list[DraftQuestion] = field(default_factory=list)  # the understanding check, in order
    cards: list[CardData] = field(default_factory=list)
    by_id: dict[str, CardData] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cards = []
        for card in self.release.cards:
            edit = self.edits.get(card["id"])
            if edit is not None and edit.action == "retire":
                continue
            cards.append(dict(edit.data) if edit is not None and edit.data else canonical_card(card))
        known = {c["id"] for c in cards}
        for edit in sorted(self.edits.values(), key=lambda e: e.id):
            if edit.action == "add" and edit.card_id not in known:
                cards.append(dict(edit.data))
        if self.draft.order:
            rank = {cid: i for i, cid in enumerate(self.draft.order)}
            cards.sort(key=lambda c: rank.get(c["id"], len(rank)))
        self.cards = cards
        self.by_id = {c["id"]: c for c in cards}

    @property
    def editable(self) -> bool:
        return self.draft.status == DraftStatus.DRAFT

    def release_card(self, card_id: str) -> CardData | None:
        """The card as the current release has it (canonical), or None for a new card."""
        card = self.release.by_id.get(card_id)
        return canonical_card(card) if card else None

    def is_local(self, card_id: str) -> bool:
        """Whether the card is the agency's own (not based on a NASRO card)."""
        edit = self.edits.get(card_id)
        if edit is not None and edit.base_hash:
            return False
        return self.base_hashes.get(card_id) is None

    def changes(self) -> list[CardChange]:
        """Cards added, changed or retired by this draft, with a word-level redline."""
        classes = {cid: e.change_class for cid, e in self.edits.items()}
        new = [dict(c, hash=content_hash(c)) for c in self.cards]
        return compare_releases(self.release.cards, new, classes)

    def fingerprint(self) -> str:
        """A hash of everything publishing would use: a review acts on exactly what it showed."""
        due = self.draft.due_at.isoformat() if self.draft.due_at else None
        classes = {cid: [e.action, e.change_class] for cid, e in self.edits.items()}
        value = {"cards": self.cards, "classes": classes, "summary": self.draft.summary, "due_at": due}
        if self.draft.scenarios is not None:
            value["scenarios"] = self.draft.scenarios
        if self.questions:
            value["questions"] = [
                [q.card_id, q.text, q.choices, q.answer, q.explanation, q.passage] for q in self.questions
            ]
        return content_hash(value)

    @property
    def scenarios(self) -> list[dict]:
        """The practice scenarios publishing would carry: the draft's, else the release's."""
        return self.draft.scenarios if self.draft.scenarios is not None else self.release.scenarios

    def scenario_changes(self) -> list[dict]:
        """Practice scenarios this draft adds, edits or removes (scenarios.changes)."""
        return scenario_changes(self.release.scenarios, self.scenarios)

    def realigned(self) -> list[str]:
        """Cards whose NASRO base version this draft moves on, though their text stays the same."""
        changed = {c.card_id for c in self.changes()}
        return [
            cid for cid, e in self.edits.items()
            if e.base_hash and e.base_hash != self.base_hashes.get(cid) and cid not in changed and cid in self.by_id
        ]

    def order_changed(self) -> bool:
        kept = [c["id"] for c in self.cards if c["id"] in self.release.by_id]
        return kept != [c["id"] for c in self.release.cards if c["id"] in self.by_id]


async def working_copy(draft: Draft, release: ReleaseView, connection=None) -> WorkingCopy:
    """Load a draft's edits on top of the agency's current release."""
    edits = {e.card_id: e for e in await DraftCard.filter(draft_id=draft.id).using_db(connection)}
    rows = await ReleaseCard.filter(release_id=release.id).using_db(connection).values("card_id", "base_hash")
    questions = await DraftQuestion.filter(draft_id=draft.id).using_db(connection).order_by("position", "id")
    return WorkingCopy(draft, release, edits, {r["card_id"]: r["base_hash"] for r in rows}, questions)


def require_editable(draft: Draft) -> None:
    """Raise DraftConflict unless the draft can still be edited."""
    if draft.status != DraftStatus.DRAFT:
        raise DraftConflict(
            f"This draft is {STATUS_LABELS[draft.status].lower()}: it can no longer be edited. "
            "A reviewer can send it back for changes."
        )


async def check_current(draft: Draft, release: ReleaseView) -> None:
    """Refuse to act on a draft when the agency has published a release the page did not show."""
    latest = await latest_release(draft.agency_id)
    if latest is None or latest.id != release.id:
        raise DraftConflict("A newer release was just published. Reload the page and try again.")


def validate_card(
    wc: WorkingCopy, card: dict, sources: dict, *, new: bool, base_ids: set[str] = frozenset()
) -> list[ContentError]:
    """The content checks for one edited or new card, in the context of the working copy."""
    ids = {c["id"] for c in wc.cards} | {card.get("id")}
    errors = check_card(
        card,
        headings=source_headings(sources),
        category_ids=[c["id"] for c in wc.release.categories],
        card_ids=ids,
        where=card.get("id") or "new card",
    )
    if new and card.get("id"):
        taken = {c["id"] for c in wc.cards} | set(wc.edits) | set(base_ids) | set(wc.release.by_id)
        if card["id"] in taken:
            errors.insert(0, ContentError(card["id"], "id", f"{card['id']!r} is already used by another card; choose another id"))
    return errors


async def base_card_ids() -> set[str]:
    """Ids of the base (NASRO) cards, which local cards may not take."""
    return set(await BaseCard.all().values_list("card_id", flat=True))


async def save_card(
    wc: WorkingCopy,
    card: dict,
    actor: User,
    change_class: str | None = None,
    base_hash: str | None = None,
    action_name: str = "card.edit",
) -> DraftCard | None:
    """Put one card's new data in the draft (None when it ends up equal to the release's)."""
    require_editable(wc.draft)
    card_id = card["id"]
    before = wc.release_card(card_id)
    edit = wc.edits.get(card_id)
    base_hash = base_hash or (edit.base_hash if edit else None)
    change_class = change_class or suggest_change_class(before, card)[0]
    hash_before = content_hash(wc.by_id[card_id]) if card_id in wc.by_id else None
    async with in_transaction() as conn:
        if before is not None and before == card and base_hash is None:
            if edit is not None:
                await DraftCard.filter(id=edit.id).using_db(conn).delete()
            saved = None
        else:
            action = "add" if before is None else "edit"
            if edit is None:
                edit = DraftCard(draft_id=wc.draft.id, card_id=card_id)
            edit.action, edit.data, edit.change_class, edit.base_hash = action, card, change_class, base_hash
            await edit.save(using_db=conn)
            saved = edit
        await audit.record(
            wc.draft.agency_id,
            actor,
            action_name,
            draft_target(wc.draft, card_id),
            hash_before=hash_before,
            hash_after=content_hash(card),
            details={"change_class": change_class, "base_hash": base_hash} if base_hash else {"change_class": change_class},
            connection=conn,
        )
    return saved


async def retire_card(wc: WorkingCopy, card_id: str, actor: User) -> None:
    """Mark a card to be left out of the next release (a card only this draft adds is dropped)."""
    require_editable(wc.draft)
    if card_id not in wc.by_id:
        raise NotFound(f"There is no card “{card_id}” in this draft.")
    edit = wc.edits.get(card_id)
    async with in_transaction() as conn:
        if card_id not in wc.release.by_id:
            await DraftCard.filter(id=edit.id).using_db(conn).delete()
        else:
            if edit is None:
                edit = DraftCard(draft_id=wc.draft.id, card_id=card_id)
            # Removing guidance changes what officers rely on: they re-acknowledge.
            edit.action, edit.data, edit.change_class = "retire", None, MAJOR
            await edit.save(using_db=conn)
        await audit.record(
            wc.draft.agency_id, actor, "card.retire", draft_target(wc.draft, card_id),
            hash_before=content_hash(wc.by_id[card_id]), connection=conn,
        )


async def discard_edit(wc: WorkingCopy, card_id: str, actor: User) -> None:
    """Undo this draft's change to one card."""
    require_editable(wc.draft)
    edit = wc.edits.get(card_id)
    if edit is None:
        raise NotFound(f"This draft does not change “{card_id}”.")
    async with in_transaction() as conn:
        await DraftCard.filter(id=edit.id).using_db(conn).delete()
        await audit.record(
            wc.draft.agency_id, actor, "card.discard", draft_target(wc.draft, card_id),
            details={"was": edit.action}, connection=conn,
        )


async def move_card(wc: WorkingCopy, card_id: str, direction: str, actor: User) -> None:
    """Swap a card with its neighbour in the same category (up or down)."""
    require_editable(wc.draft)
    if card_id not in wc.by_id or direction not in ("up", "down"):
        raise Invalid("Choose a card of this draft and a direction (up or down).")
    order = [c["id"] for c in wc.cards]
    category = wc.by_id[card_id]["category"]
    peers = [i for i, cid in enumerate(order) if wc.by_id[cid]["category"] == category]
    here = peers.index(order.index(card_id))
    there = here - 1 if direction == "up" else here + 1
    if not 0 <= there < len(peers):
        return
    a, b = peers[here], peers[there]
    order[a], order[b] = order[b], order[a]
    async with in_transaction() as conn:
        await Draft.filter(id=wc.draft.id).using_db(conn).update(order=order)
        await audit.record(
            wc.draft.agency_id, actor, "draft.reorder", draft_target(wc.draft, card_id),
            details={"direction": direction}, connection=conn,
        )


async def set_details(draft: Draft, summary: str, due_at: datetime | None, actor: User) -> None:
    """Save the draft's change summary and acknowledgment due date."""
    require_editable(draft)
    async with in_transaction() as conn:
        await Draft.filter(id=draft.id).using_db(conn).update(summary=summary, due_at=due_at)
        await audit.record(
            draft.agency_id, actor, "draft.details", draft_target(draft),
            details={"due_at": due_at.isoformat() if due_at else None}, connection=conn,
        )


_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    """A lowercase-hyphen slug made from text."""
    return _NOT_SLUG.sub("-", text.lower()).strip("-")[:60].strip("-")
