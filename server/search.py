"""Card search with one ranking, mirrored exactly by pwa/static/search.js for offline use.

A card matches when every query word is found in it. Each word scores by the best
field it is found in (title 10, tags 8, summary 4, body 1; a prefix match scores half,
so results follow each keystroke), plus 20 when the whole query is one of the card's
tags and 10 when the title contains it. Ties keep the release's card order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_QUERY_LENGTH = 200
WEIGHTS = (("title", 10.0), ("tags", 8.0), ("summary", 4.0), ("body", 1.0))
TAG_PHRASE_BONUS = 20.0
TITLE_PHRASE_BONUS = 10.0
_WORD = re.compile(r"[a-z0-9]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class BadQuery(ValueError):
    """A search query that cannot be used, with a message for the person who typed it."""


def stem(word: str) -> str:
    """Fold a simple plural so 'cuffs' finds 'cuff'."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Lower-case, stemmed words of a text."""
    return [stem(w) for w in _WORD.findall(text.lower())]


def check_query(raw: str) -> str:
    """The query stripped, or BadQuery when it is too long or holds control characters."""
    if len(raw) > MAX_QUERY_LENGTH:
        raise BadQuery(f"Search text is limited to {MAX_QUERY_LENGTH} characters.")
    if _CONTROL.search(raw):
        raise BadQuery("Search text contains control characters.")
    return raw.strip()


@dataclass(frozen=True)
class Indexed:
    card_id: str
    fields: dict[str, frozenset[str]]
    tag_phrases: frozenset[str]
    title_phrase: str


def index_card(card_id: str, title: str, tags: list[str], summary: str, body_text: str) -> Indexed:
    """Precompute the words of each field of one card."""
    return Indexed(
        card_id=card_id,
        fields={
            "title": frozenset(words(title)),
            "tags": frozenset(w for t in tags for w in words(t)),
            "summary": frozenset(words(summary)),
            "body": frozenset(words(body_text)),
        },
        tag_phrases=frozenset(" ".join(words(t)) for t in tags),
        title_phrase=" ".join(words(title)),
    )


def _word_score(word: str, field_words: frozenset[str]) -> float:
    if word in field_words:
        return 1.0
    if len(word) >= 3 and any(w.startswith(word) for w in field_words):
        return 0.5
    return 0.0


def rank(index: list[Indexed], query: str) -> list[tuple[str, float]]:
    """(card id, score) of every matching card, best first."""
    query_words = words(query)
    if not query_words:
        return []
    phrase = " ".join(query_words)
    results = []
    for position, item in enumerate(index):
        total = 0.0
        for word in query_words:
            best = max(weight * _word_score(word, item.fields[name]) for name, weight in WEIGHTS)
            if best == 0:
                break
            total += best
        else:
            if phrase in item.tag_phrases:
                total += TAG_PHRASE_BONUS
            if f" {phrase} " in f" {item.title_phrase} ":
                total += TITLE_PHRASE_BONUS
            results.append((position, item.card_id, total))
    results.sort(key=lambda r: (-r[2], r[0]))
    return [(card_id, score) for _, card_id, score in results]
