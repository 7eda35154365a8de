"""What changed between two releases: card by card, word by word."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from server.guidance.cards import CardData
from server.guidance.provenance import strip_ties

_TOKEN = re.compile(r"\n|[^\S\n]+|[^\s]+")


def tokens(text: str) -> list[str]:
    """Words, runs of spaces and line breaks, so a diff can be put back together exactly."""
    return _TOKEN.findall(text)


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """[(op, text)] with op one of 'equal', 'insert', 'delete', joining back to old or new."""
    a, b = tokens(old), tokens(new)
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    segments: list[tuple[str, str]] = []

    def add(op: str, text: str) -> None:
        if not text:
            return
        if segments and segments[-1][0] == op:
            segments[-1] = (op, segments[-1][1] + text)
        else:
            segments.append((op, text))

    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            add("equal", "".join(a[i1:i2]))
        else:
            if tag in ("delete", "replace"):
                add("delete", "".join(a[i1:i2]))
            if tag in ("insert", "replace"):
                add("insert", "".join(b[j1:j2]))
    return _tidy(segments)


def _tidy(segments: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Start marked changes at a word, not a space, while both sides still rebuild exactly."""
    segments = list(segments)
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(segments):
        if segments[i][0] == "equal":
            out.append(segments[i])
            i += 1
            continue
        j = i
        while j < len(segments) and segments[j][0] != "equal":
            j += 1
        run = segments[i:j]
        lead = _common_lead(run)
        if lead and out and out[-1][0] == "equal":
            if {op for op, _ in run} == {"insert", "delete"}:
                # Both sides have the space here: it is unchanged text.
                out[-1] = ("equal", out[-1][1] + lead)
                run = [(op, text[len(lead):]) for op, text in run]
            elif j < len(segments) and segments[j][1].startswith(lead):
                # One side only: slide the change one space later (same text on both sides).
                out[-1] = ("equal", out[-1][1] + lead)
                run = [(op, text[len(lead):] + lead) for op, text in run]
                segments[j] = ("equal", segments[j][1][len(lead):])
        out.extend(run)
        i = j
    merged: list[tuple[str, str]] = []
    for op, text in out:
        if not text:
            continue
        if merged and merged[-1][0] == op:
            merged[-1] = (op, merged[-1][1] + text)
        else:
            merged.append((op, text))
    return merged


def _common_lead(run: list[tuple[str, str]]) -> str:
    """The leading spaces every change of a run starts with (none if a change is only spaces)."""
    leads = []
    for _, text in run:
        stripped = text.lstrip(" ")
        if not stripped:
            return ""
        leads.append(text[: len(text) - len(stripped)])
    return min(leads, key=len) if leads else ""


def old_side(segments: list[tuple[str, str]]) -> str:
    return "".join(t for op, t in segments if op != "insert")


def new_side(segments: list[tuple[str, str]]) -> str:
    return "".join(t for op, t in segments if op != "delete")


@dataclass
class FieldChange:
    label: str
    segments: list[tuple[str, str]]


@dataclass
class CardChange:
    """One card's change between two releases."""

    card_id: str
    title: str
    kind: str  # added | changed | retired
    change_class: str | None = None  # major | minor, when the newer release says
    fields: list[FieldChange] = field(default_factory=list)


_HEADING = re.compile(r"^#{1,6}\s+(.*)$", re.M)
_BULLET = re.compile(r"^(\s*)[-*+]\s+", re.M)
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")


def readable(markdown: str) -> str:
    """Markdown as a reader sees it (headings as lines, bullets as •, no ties), so a redline shows words, not syntax."""
    text = _HEADING.sub(r"\1", strip_ties(markdown))
    text = _BULLET.sub(r"\1• ", text)
    return _EMPHASIS.sub(r"\2", text)


def _card_fields(card: CardData) -> list[tuple[str, str]]:
    parts = [("Title", card["title"]), ("One-line answer", card["summary"]), ("Card text", readable(card["body"]))]
    for slot in card.get("local_policy", []):
        parts.append((f"Your agency's policy: {slot['label']}", readable(slot.get("text", ""))))
    parts.append(("Sources", "; ".join(card.get("source", []))))
    return parts


def compare_cards(old: CardData | None, new: CardData | None) -> list[FieldChange]:
    """The fields that differ between two versions of a card (either may be missing)."""
    old_fields = dict(_card_fields(old)) if old else {}
    new_fields = dict(_card_fields(new)) if new else {}
    labels = list(dict.fromkeys([*old_fields, *new_fields]))
    changes = []
    for label in labels:
        before, after = old_fields.get(label, ""), new_fields.get(label, "")
        if before != after:
            changes.append(FieldChange(label, word_diff(before, after)))
    return changes


def compare_releases(
    old_cards: list[CardData], new_cards: list[CardData], change_classes: dict | None = None
) -> list[CardChange]:
    """Cards added, changed or retired from one release's cards to another's, in the new order."""
    change_classes = change_classes or {}
    old_by_id = {c["id"]: c for c in old_cards}
    new_ids = {c["id"] for c in new_cards}
    result = []
    for card in new_cards:
        before = old_by_id.get(card["id"])
        if before is None:
            result.append(CardChange(card["id"], card["title"], "added", change_classes.get(card["id"]), compare_cards(None, card)))
        elif before["hash"] != card["hash"]:
            result.append(CardChange(card["id"], card["title"], "changed", change_classes.get(card["id"]), compare_cards(before, card)))
    for card in old_cards:
        if card["id"] not in new_ids:
            result.append(CardChange(card["id"], card["title"], "retired", None, compare_cards(card, None)))
    return result
