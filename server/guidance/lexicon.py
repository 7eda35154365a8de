"""The search lexicon (content/lexicon.yaml): officers' everyday words mapped to the cards' terms.

Each entry says which words an officer may type (`say`) and which terms of the cards they
mean (`means`). The lexicon only points search at cards; it never states a rule, so every
term it points to must be found in some card: check_lexicon() lists those that are not
(checked on stemmed words, as search matches them).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from server.guidance.content_errors import ContentError
from server.guidance.search import tokens
from server.guidance.search_words import STOP_WORDS, card_text, stem

LEXICON_FILE = "lexicon.yaml"


@dataclass(frozen=True)
class Entry:
    """One reviewed mapping: phrases an officer may type, and the card terms they mean."""

    say: tuple[str, ...]
    means: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Lexicon:
    """Every entry of the lexicon file, in file order, and what was wrong with its shape."""

    file: str
    entries: tuple[Entry, ...]
    errors: tuple[ContentError, ...] = ()

    @property
    def digest(self) -> str:
        """SHA-256 of the entries: changes whenever a mapping does."""
        data = [[list(e.say), list(e.means)] for e in self.entries]
        return hashlib.sha256(json.dumps(data, separators=(",", ":")).encode()).hexdigest()


def _where(index: int, line: int) -> str:
    return f"entry {index + 1} (line {line})"


def parse_lexicon(text: str, file: str = LEXICON_FILE) -> Lexicon:
    """Read lexicon YAML, keeping each entry's line; entries of the wrong shape become errors."""
    errors: list[ContentError] = []
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        return Lexicon(file, (), (ContentError(file, "-", f"is not valid YAML: {exc}"),))
    if root is None:
        return Lexicon(file, ())
    if not isinstance(root, yaml.SequenceNode):
        return Lexicon(file, (), (ContentError(file, "-", "must be a list of entries"),))
    entries = []
    for index, node in enumerate(root.value):
        line = node.start_mark.line + 1
        data = yaml.safe_load(yaml.serialize(node))
        lists = {}
        if isinstance(data, dict) and set(data) <= {"say", "means", "note"}:
            for key in ("say", "means"):
                value = data.get(key)
                if isinstance(value, list) and value and all(isinstance(v, (str, int)) for v in value):
                    lists[key] = tuple(str(v) for v in value)
        if len(lists) != 2:
            errors.append(ContentError(file, _where(index, line), "needs `say` and `means`, each a list of words"))
            continue
        entries.append(Entry(lists["say"], lists["means"], line))
    return Lexicon(file, tuple(entries), tuple(errors))


def load_lexicon(path: Path) -> Lexicon:
    """The lexicon in a file; a missing file is an empty lexicon with one error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Lexicon(path.name, (), (ContentError(path.name, "-", "file is missing"),))
    return parse_lexicon(text, path.name)


@cache
def app_lexicon() -> Lexicon:
    """The lexicon of the content folder in use (FIELDGUIDE_CONTENT_DIR), read once."""
    from server.settings import Settings

    return load_lexicon(Settings.from_env().content_dir / LEXICON_FILE)


def content_stems(text: str) -> list[str]:
    """The stems of a phrase's words that are not stop words."""
    return [stem(w) for w in tokens(text) if w not in STOP_WORDS]


def _card_stems(card: dict, fields: tuple[str, ...] = ("title", "tags", "summary", "body")) -> set[str]:
    text = card_text(card)
    return {s for name in fields for part in text[name] for s in content_stems(part)}


def check_lexicon(lexicon: Lexicon, cards: list[dict]) -> list[ContentError]:
    """Shape errors, phrases of stop words only, and terms no single card holds every word of."""
    errors = list(lexicon.errors)
    card_stems = [_card_stems(card) for card in cards]
    said: dict[str, int] = {}
    for index, entry in enumerate(lexicon.entries):
        where = _where(index, entry.line)
        for phrase in entry.say:
            words = tokens(phrase)
            if not content_stems(phrase):
                errors.append(ContentError(lexicon.file, where, f"`{phrase}` has only stop words, which search ignores"))
                continue
            key = " ".join(words)
            if key in said and said[key] != index:
                errors.append(ContentError(lexicon.file, where, f"`{phrase}` is also said in entry {said[key] + 1}"))
            said.setdefault(key, index)
        for term in entry.means:
            stems = set(content_stems(term))
            if not stems:
                errors.append(ContentError(lexicon.file, where, f"`{term}` has only stop words"))
            elif not any(stems <= found for found in card_stems):
                errors.append(ContentError(lexicon.file, where, f"`{term}` is not found in any card"))
    return errors


def weak_terms(lexicon: Lexicon, cards: list[dict]) -> list[ContentError]:
    """Terms found only in card bodies, never in a title, tag or summary: weak pointers to review."""
    strong = [_card_stems(card, ("title", "tags", "summary")) for card in cards]
    anywhere = [_card_stems(card) for card in cards]
    notes = []
    for index, entry in enumerate(lexicon.entries):
        for term in entry.means:
            stems = set(content_stems(term))
            if stems and any(stems <= found for found in anywhere) and not any(stems <= found for found in strong):
                notes.append(ContentError(lexicon.file, _where(index, entry.line), f"`{term}` is only in card bodies"))
    return notes
