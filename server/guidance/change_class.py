"""Whether a card change is major (officers must re-acknowledge) or minor (typo, wording)."""

from __future__ import annotations

import re

from server.guidance.diff import compare_cards

MAJOR = "major"
MINOR = "minor"
CLASSES = (MAJOR, MINOR)
# Guidance on these subjects changes what an officer may do to a student: major by default.
MAJOR_CATEGORIES = {"restraint", "discipline"}
MAJOR_WORDS = re.compile(r"restrain|cuff|arrest|disciplin", re.IGNORECASE)


def suggest_change_class(old: dict | None, new: dict | None) -> tuple[str, str]:
    """(class, reason) computed for a card going from old to new (either may be None)."""
    cards = [c for c in (old, new) if c]
    for card in cards:
        if card.get("category") in MAJOR_CATEGORIES:
            return MAJOR, f"the card is in the {card['category']} category"
    for card in cards:
        for tag in card.get("tags") or []:
            if MAJOR_WORDS.search(str(tag)):
                return MAJOR, f"the card is tagged “{tag}”"
    if old is None:
        return MAJOR, "it is a new card"
    if new is None:
        return MAJOR, "the card is retired"
    for change in compare_cards(old, new):
        changed = " ".join(text for op, text in change.segments if op != "equal")
        found = MAJOR_WORDS.search(changed)
        if found:
            return MAJOR, f"the changed text mentions “{_word_at(changed, found.start())}”"
    return MINOR, "the change does not touch restraint, arrest or discipline"


def _word_at(text: str, index: int) -> str:
    start = index
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    end = index
    while end < len(text) and text[end].isalnum():
        end += 1
    return text[start:end]
