"""Answering a query from a release's shipped search index: the Python port of pwa/static/search.js.

The ranking is defined once, in the index that server/search_index.py builds for each
release and ships to phones with it. This module and the browser only normalize the query
and look its words up in the shipped tables, then sum the shipped weights. Keep the two in
step: tests/browser/test_search_parity.py compares them query by query.

A query is cut into words (lower case, letters and digits; "agency's" -> "agency", "don't"
-> "dont"). Stop words are dropped; each other word is a *unit* whose candidates are keys:

- its term from the shipped form table (every word form of the cards and the lexicon, with
  generated inflections), factor 1;
- for a word not in that table and at least TYPO_MIN letters long, the terms of the forms
  one edit away (Damerau: delete, insert, replace or swap two neighbours), factor TYPO;
- for the last word (the one being typed), at least PREFIX_MIN letters, the terms of the
  forms it starts, factor PREFIX (the last word, if shorter and unknown, is left out);
- "+term": the lexicon's expansion of any of those terms, with the same factor; and
  "+a b": a phrase the word is part of (a lexicon phrase, a multi-word tag or two
  neighbouring title words, matched on the words' terms, stop words as written), factor 1.

A card's score is, per unit, its best candidate (factor times the shipped posting), summed,
then times the card's coverage: the share of the query's weight it matches. A unit weighs
its best candidate's idf (factor times the key's shipped weight); a word nothing knows
weighs as much as the average known word, so it counts against every card. The query is a
close match when some card covers at least CLOSE_COVERAGE of it; otherwise only the
CLOSEST_SHOWN best cards are listed. Ties keep the release's card order. All arithmetic is
done in the same order as in search.js, so both give the same floating-point scores.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

from server.errors import Invalid

MAX_QUERY_LENGTH = 200
PREFIX_MIN = 3
TYPO_MIN = 5
PREFIX = 0.5
TYPO = 0.75
CLOSE_COVERAGE = 0.5
CLOSEST_SHOWN = 5
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
LEXICON_MARK = "+"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Written the same in search.js: no \b or \w, whose meaning differs between the two languages.
_POSSESSIVE = re.compile(r"['\u2019]s(?![a-z0-9])")
_APOSTROPHE = re.compile(r"['\u2019]")
_WORD = re.compile(r"[a-z0-9]+")


class BadQuery(Invalid):
    """A search query that cannot be used, with a message for the person who typed it."""

    def __init__(self, message: str):
        super().__init__(message, {"q": "invalid"})


def check_query(raw: str) -> str:
    """The query stripped, or BadQuery when it is too long or holds control characters."""
    if len(raw) > MAX_QUERY_LENGTH:
        raise BadQuery(f"Search text is limited to {MAX_QUERY_LENGTH} characters.")
    if _CONTROL.search(raw):
        raise BadQuery("Search text contains control characters.")
    return raw.strip()


def tokens(text: str) -> list[str]:
    """The words of a text as search sees them: lower case, apostrophes folded."""
    return _WORD.findall(_APOSTROPHE.sub("", _POSSESSIVE.sub("", text.lower())))


def edits(word: str) -> set[str]:
    """Every string one Damerau edit away from a word (over letters and digits)."""
    out = set()
    for i in range(len(word) + 1):
        head, tail = word[:i], word[i:]
        if tail:
            out.add(head + tail[1:])
            if len(tail) > 1:
                out.add(head + tail[1] + tail[0] + tail[2:])
            for c in ALPHABET:
                out.add(head + c + tail[1:])
        for c in ALPHABET:
            out.add(head + c + tail)
    out.discard(word)
    return out


@dataclass
class Tables:
    """A shipped index unpacked for lookups (search.js's prepare() builds the same)."""

    cards: int
    idf: list[int]
    stop: frozenset[str]
    forms: dict[str, str]
    sorted_forms: list[str]
    postings: dict[str, list[int]]
    weights: dict[str, int]
    phrase_max: int


def prepare(shipped: dict) -> Tables:
    """Unpack a shipped index: forms by word, postings and weight by term, the longest phrase."""
    forms = {}
    for term, written in shipped["forms"].items():
        for form in written.split(" "):
            forms[term + form[1:] if form.startswith("-") else form] = term
    postings = dict(shipped["postings"])
    weights = {key: shipped["idf"][len(posting) // 2] for key, posting in postings.items()}
    for keys, posting, df in shipped["lexicon"]:
        for key in keys.split("|"):
            postings[LEXICON_MARK + key] = posting
            weights[LEXICON_MARK + key] = shipped["idf"][df]
    for key, df in shipped["df"].items():
        weights[key] = shipped["idf"][df]
    return Tables(
        cards=shipped["cards"],
        idf=shipped["idf"],
        stop=frozenset(shipped["stop"].split(" ")),
        forms=forms,
        sorted_forms=sorted(forms),
        postings=postings,
        weights=weights,
        phrase_max=max([k.count(" ") + 1 for k in postings if " " in k] or [1]),
    )


def _add(candidates: dict[str, float], key: str, factor: float) -> None:
    if factor > candidates.get(key, 0):
        candidates[key] = factor


def units(tables: Tables, query: str) -> list[dict[str, float]]:
    """Each content word of the query with its candidate terms and their factors."""
    words = tokens(query)
    keys = [w if w in tables.stop else tables.forms.get(w, w) for w in words]
    found: dict[int, dict[str, float]] = {}
    last = len(words) - 1
    for i, word in enumerate(words):
        if word in tables.stop:
            continue
        candidates: dict[str, float] = {}
        term = tables.forms.get(word)
        if term is not None:
            candidates[term] = 1.0
        elif i == last and len(word) < PREFIX_MIN:
            continue  # a word still being typed, too short to mean anything yet
        elif len(word) >= TYPO_MIN:
            for variant in edits(word):
                if variant in tables.forms:
                    _add(candidates, tables.forms[variant], TYPO)
        if i == last and len(word) >= PREFIX_MIN:
            at = bisect_left(tables.sorted_forms, word)
            while at < len(tables.sorted_forms) and tables.sorted_forms[at].startswith(word):
                form = tables.sorted_forms[at]
                if form != word:
                    _add(candidates, tables.forms[form], PREFIX)
                at += 1
        for key, factor in list(candidates.items()):
            if LEXICON_MARK + key in tables.postings:
                _add(candidates, LEXICON_MARK + key, factor)
        found[i] = candidates
    for start in range(len(words)):
        for length in range(2, tables.phrase_max + 1):
            if start + length > len(words):
                break
            phrase = LEXICON_MARK + " ".join(keys[start : start + length])
            if phrase in tables.postings:
                for i in range(start, start + length):
                    if i in found:
                        _add(found[i], phrase, 1.0)
    return [found[i] for i in sorted(found)]


class Results(list):
    """Cards found for a query, best first; close is False when none covers half of the query."""

    def __init__(self, cards=(), close: bool = False):
        super().__init__(cards)
        self.close = close


@dataclass(frozen=True)
class Outcome:
    """The ranked cards (position in the release, score), best first, and whether any is close."""

    close: bool
    hits: list[tuple[int, float]]


def rank(tables: Tables, query: str) -> Outcome:
    """Score every card against a query; see the module docstring."""
    total = [0.0] * tables.cards
    matched = [0.0] * tables.cards
    known_weight = 0.0
    known = unknown = 0
    for candidates in units(tables, query):
        best: dict[int, float] = {}
        weight = 0.0
        for key, factor in candidates.items():
            posting = tables.postings.get(key)
            if not posting:
                continue
            weight = max(weight, factor * tables.weights[key])
            for j in range(0, len(posting), 2):
                value = factor * posting[j + 1]
                if value > best.get(posting[j], 0.0):
                    best[posting[j]] = value
        if weight == 0:
            unknown += 1
            continue
        known += 1
        known_weight += weight
        for card, value in best.items():
            total[card] += value
            matched[card] += weight
    if not known:
        return Outcome(False, [])
    # A word nothing knows weighs as much as the average word that is known.
    weight_sum = known_weight + unknown * (known_weight / known)
    hits = [(card, total[card] * (matched[card] / weight_sum)) for card in range(tables.cards) if total[card] > 0]
    hits.sort(key=lambda hit: (-hit[1], hit[0]))
    close = any(matched[card] / weight_sum >= CLOSE_COVERAGE for card, _ in hits)
    return Outcome(close, hits if close else hits[:CLOSEST_SHOWN])
