"""NASRO base guidance updates: base cards that changed since an agency last took them in."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.errors import Invalid, NotFound
from server.guidance.content import canonical_card
from server.guidance.diff import FieldChange, compare_cards
from server.guidance.drafts import WorkingCopy, save_card
from server.guidance.provenance import drop_written_ties
from server.guidance.releases import ReleaseView
from server.models import BaseCard, CardVersion, ReleaseCard, User

CHANGED, NEW, REMOVED = "changed", "new", "removed"


@dataclass
class BaseUpdate:
    """One base card that differs from the version the agency's guidance is aligned with."""

    card_id: str
    title: str
    kind: str  # changed | new | removed
    new_hash: str | None
    old_base: dict | None
    new_base: dict | None
    ours: dict | None
    conflict: bool = False  # the agency changed the card's NASRO text too
    taken: bool = False  # the active draft already takes this version in
    fields: list[FieldChange] = field(default_factory=list)  # what NASRO changed

    def ours_fields(self) -> list[FieldChange]:
        """What the agency changed in the NASRO text (for a conflict)."""
        return compare_cards(without_policy_text(self.old_base), without_policy_text(self.ours))


def without_policy_text(card: dict | None) -> dict | None:
    """A card with its local-policy texts blanked: the part that comes from NASRO."""
    if card is None:
        return None
    return dict(card, local_policy=[dict(s, text="") for s in card["local_policy"]])


def keep_policy_text(new_base: dict, ours: dict | None) -> dict:
    """NASRO's new card carrying the agency's local-policy texts (and its own extra slots)."""
    texts = {s["id"]: s for s in (ours or {}).get("local_policy", [])}
    slots = [dict(s, text=texts[s["id"]]["text"]) if s["id"] in texts else dict(s) for s in new_base["local_policy"]]
    known = {s["id"] for s in slots}
    slots += [dict(s) for s in (ours or {}).get("local_policy", []) if s["id"] not in known]
    return dict(new_base, local_policy=slots)


async def pending_updates(release: ReleaseView, wc: WorkingCopy | None) -> list[BaseUpdate]:
    """Base cards changed, new or removed since the agency's current release (and draft) took them."""
    if wc is not None:
        aligned = dict(wc.base_hashes)
    else:
        rows = await ReleaseCard.filter(release_id=release.id).values("card_id", "base_hash")
        aligned = {r["card_id"]: r["base_hash"] for r in rows}
    edits = wc.edits if wc is not None else {}
    bases = {b.card_id: b for b in await BaseCard.all().order_by("position").prefetch_related("version")}
    wanted = {h for h in aligned.values() if h}
    old_versions = {v.hash: canonical_card(v.data) for v in await CardVersion.filter(hash__in=list(wanted))}
    updates: list[BaseUpdate] = []
    for card in release.cards:
        old_hash = aligned.get(card["id"])
        if not old_hash:
            continue  # the agency's own card
        ours = wc.by_id.get(card["id"]) if wc is not None else canonical_card(card)
        if ours is None:
            continue  # the draft retires it
        base = bases.get(card["id"])
        old_base = old_versions.get(old_hash)
        if base is None:
            updates.append(BaseUpdate(card["id"], card["title"], REMOVED, None, old_base, None, ours))
            continue
        if base.version_id == old_hash:
            continue
        new_base = canonical_card(base.version.data)
        edit = edits.get(card["id"])
        taken = bool(edit and edit.base_hash == base.version_id)
        if taken:
            ours = canonical_card(card)  # what the agency had before taking the update in
        update = BaseUpdate(
            card["id"], new_base["title"], CHANGED, base.version_id, old_base, new_base, ours,
            taken=taken, fields=compare_cards(old_base, new_base),
        )
        update.conflict = without_policy_text(ours) != without_policy_text(old_base)
        updates.append(update)
    seen = set(await ReleaseCard.filter(release__agency_id=release.agency_id).distinct().values_list("card_id", flat=True))
    for card_id, base in bases.items():
        if card_id in seen:
            continue  # in the guidance, or retired by the agency on purpose
        new_base = canonical_card(base.version.data)
        edit = edits.get(card_id)
        updates.append(
            BaseUpdate(
                card_id, new_base["title"], NEW, base.version_id, None, new_base, None,
                taken=bool(edit and edit.base_hash == base.version_id),
                fields=compare_cards(None, new_base),
            )
        )
    return updates


def find_update(updates: list[BaseUpdate], card_id: str) -> BaseUpdate:
    """The pending update of one card, or 404."""
    for update in updates:
        if update.card_id == card_id:
            return update
    raise NotFound(f"There is no pending NASRO update for “{card_id}”.")


def _fit(card: dict, wc: WorkingCopy) -> dict:
    # A NASRO card may relate to a card this agency retired: drop links that lead nowhere.
    known = set(wc.by_id) | {card["id"]}
    return dict(card, related=[r for r in card["related"] if r in known])


async def take_base(wc: WorkingCopy, update: BaseUpdate, actor: User) -> None:
    """Put NASRO's new version in the draft, keeping the agency's local-policy texts."""
    if update.kind == REMOVED:
        raise Invalid("NASRO removed this card: retire it from the draft instead.")
    card = _fit(keep_policy_text(update.new_base, update.ours), wc)
    action = "base.add" if update.kind == NEW else "base.take_in"
    await save_card(wc, card, actor, base_hash=update.new_hash, action_name=action)


async def keep_ours(wc: WorkingCopy, update: BaseUpdate, actor: User) -> None:
    """Keep the agency's version, marking NASRO's new version as seen."""
    if update.kind != CHANGED:
        raise Invalid("Only a changed NASRO card can be kept as it is.")
    await save_card(wc, update.ours, actor, base_hash=update.new_hash, action_name="base.keep_ours")


def merged_card(update: BaseUpdate, title: str, summary: str, body: str) -> dict:
    """The agency's card with a merged title, one-line answer and text, citing both versions' sources."""
    ours, new = update.ours, update.new_base
    card = dict(
        ours,
        title=title,
        summary=summary,
        body=body,
        tags=list(dict.fromkeys([*ours["tags"], *new["tags"]])),
        source=list(dict.fromkeys([*ours["source"], *new["source"]])),
    )
    # Ties to the statement survive only on lines left as either version had them.
    return drop_written_ties(card, new, ours)


async def take_merged(wc: WorkingCopy, update: BaseUpdate, card: dict, actor: User) -> None:
    """Put a merged version (already checked) in the draft as aligned with NASRO's new version."""
    await save_card(wc, _fit(card, wc), actor, base_hash=update.new_hash, action_name="base.merge")
