"""Building a release's search index: the one definition of the ranking's weights.

Built on the server from the release's cards and the lexicon, deterministic, and shipped to
phones with the release (sync and bundle answers), so the browser never stems or weighs
anything: server/search.py and pwa/static/search.js only look words up and sum. What ships:

- `cards`: how many cards (postings name cards by their position in the release);
- `idf`: the inverse document frequency weight for a term found in 0..cards cards;
- `stop`: the stop words, space-separated;
- `forms`: per term, the word forms that mean it ("-ed" is the term plus "ed"): every word of
  the cards and the lexicon, plus inflections of the cards' words that the stemmer folds into
  the same term (server/search_words.py);
- `postings`: per key, a flat list [card, weight, card, weight, ...]. Keys are terms (a word
  scores idf × the sum of the weights of the fields it is in) and "+key key" phrases (a card's
  multi-word tag or two neighbouring words of its title, whose words then score as the phrase
  does, merged with a lexicon phrase of the same words);
- `lexicon`: per lexicon entry, ["key|key key|...", postings, document frequency]: the keys
  of the phrases officers say ("+key" once unpacked) and what they score, from the card terms
  the entry means;
- `df`: the document frequency of a merged phrase, when it is not its number of postings.

A key weighs idf[document frequency] in a query (see server/search.py). Cards are named by
position, words by their term, so the index holds no card text.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from collections import defaultdict
from dataclasses import dataclass

from server.guidance.lexicon import Lexicon
from server.guidance.search import LEXICON_MARK, Tables, prepare, tokens
from server.guidance.search_words import STOP_WORDS, card_text, inflections, stem
from server.lru import LRU

INDEX_FORMAT = 1
# A word scores idf times the sum of the weights of the fields it is in.
FIELDS = (("title", 10), ("tags", 8), ("summary", 4), ("body", 1))
TAG_PHRASE = 8
TITLE_PHRASE = 10
# A lexicon expansion scores this share of what the card term itself would: the officer's
# own word found in a card is the surer sign.
LEXICON_SHARE = 0.75
IDF_SCALE = 10
# A lexicon entry does not point at a card it reaches with less than this share of its best
# score (a term only in passing in a body): such a pointer adds nothing an officer would want.
LEXICON_FLOOR = 0.1


@dataclass(frozen=True)
class SearchIndex:
    """A release's index: what ships to phones, its digest and its unpacked tables."""

    shipped: dict
    digest: str
    tables: Tables

    def gzip_size(self) -> int:
        """Bytes of the shipped index as JSON, gzip-compressed."""
        return len(gzip.compress(compact_json(self.shipped).encode(), 9))


def compact_json(value) -> str:
    """The index as it is sent and hashed: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def idf_table(cards: int) -> list[int]:
    """BM25's inverse document frequency per count of cards, scaled to integers, at least 1."""
    return [0] + [
        max(1, int(IDF_SCALE * math.log(1 + (cards - df + 0.5) / (df + 0.5)) + 0.5)) for df in range(1, cards + 1)
    ]


class _Terms:
    """Word -> term: the Snowball stem, with the stems the stemmer splits for one word joined."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, s: str) -> str:
        root = s
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        self.parent[s] = root
        return root

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # The shorter stem names the class, so the choice does not depend on order.
            keep, drop = sorted((ra, rb), key=lambda s: (len(s), s))
            self.parent[drop] = keep


def _key(word: str, terms: _Terms) -> str:
    return word if word in STOP_WORDS else terms.find(stem(word))


def _phrase(words: list[str], terms: _Terms) -> str:
    return LEXICON_MARK + " ".join(_key(w, terms) for w in words)


def _card_fields(card: dict) -> dict[str, list[list[str]]]:
    return {name: [tokens(part) for part in parts] for name, parts in card_text(card).items()}


def _vocabulary(fields: list[dict], lexicon: Lexicon) -> set[str]:
    words = {w for f in fields for parts in f.values() for part in parts for w in part}
    for entry in lexicon.entries:
        for phrase in (*entry.say, *entry.means):
            words.update(tokens(phrase))
    return {w for w in words if w not in STOP_WORDS}


def _encode_forms(forms: dict[str, str]) -> dict[str, str]:
    by_term: dict[str, list[str]] = defaultdict(list)
    for form, term in sorted(forms.items()):
        by_term[term].append("-" + form[len(term) :] if form.startswith(term) else form)
    return {term: " ".join(written) for term, written in sorted(by_term.items())}


def build_index(cards: list[dict], lexicon: Lexicon) -> SearchIndex:
    """The search index of a release's cards (in release order) with the lexicon."""
    fields = [_card_fields(card) for card in cards]
    vocabulary = _vocabulary(fields, lexicon)
    # Inflections are generated for the cards' words; the lexicon's own words match as written
    # (its entries list the variants officers use), which keeps the shipped form table small.
    card_words = _vocabulary(fields, Lexicon("", ()))
    terms = _Terms()
    for word in sorted(vocabulary):
        terms.find(stem(word))
    forms_found: set[str] = set(vocabulary)
    for word in sorted(card_words):
        base = stem(word)
        for form, same_word in inflections(word, vocabulary):
            if form in STOP_WORDS:
                continue
            other = stem(form)
            # Snowball undoubles a final consonant only after cutting an ending (cuff, cuffed -> cuf)
            # and keeps a plural whose only vowel is before the s (sro, sros).
            undoubled = other + other[-1:] == base or base + base[-1:] == other
            plural = form == word + "s" and other == form and word[-1] in "aeiou" and base == word
            if same_word and (undoubled or plural):
                terms.join(base, other)
                forms_found.add(form)
            elif other == base:
                forms_found.add(form)
    forms = {form: terms.find(stem(form)) for form in forms_found}

    count = len(cards)
    idf = idf_table(count)
    in_fields: dict[str, dict[int, int]] = defaultdict(dict)
    for position, card_fields in enumerate(fields):
        for name, weight in FIELDS:
            found = {forms[w] for part in card_fields[name] for w in part if w not in STOP_WORDS}
            for term in found:
                in_fields[term][position] = in_fields[term].get(position, 0) + weight
    postings: dict[str, dict[int, int]] = {
        term: {card: idf[len(cards_in)] * weight for card, weight in cards_in.items()}
        for term, cards_in in in_fields.items()
    }

    def mean_of_words(words: list[str], card: int) -> float:
        content = [forms[w] for w in words if w not in STOP_WORDS]
        values = [postings.get(t, {}).get(card, 0) for t in content]
        return sum(values) / len(values) if values and all(values) else 0.0

    # Phrases of the cards: multi-word tags and neighbouring title words.
    card_phrases: dict[str, dict[int, int]] = defaultdict(dict)
    phrase_words: dict[str, list[str]] = {}
    for position, card_fields in enumerate(fields):
        found: dict[str, int] = {}
        for words in card_fields["tags"]:
            if len(words) > 1 and any(w not in STOP_WORDS for w in words):
                key = _phrase(words, terms)
                found[key] = found.get(key, 0) | 1
                phrase_words[key] = words
        title = card_fields["title"][0]
        for a, b in zip(title, title[1:]):
            if a not in STOP_WORDS and b not in STOP_WORDS:
                key = _phrase([a, b], terms)
                found[key] = found.get(key, 0) | 2
                phrase_words[key] = [a, b]
        for key, where in found.items():
            card_phrases[key][position] = (TAG_PHRASE if where & 1 else 0) + (TITLE_PHRASE if where & 2 else 0)
    for key, cards_in in card_phrases.items():
        postings[key] = {
            card: int(mean_of_words(phrase_words[key], card) + idf[len(cards_in)] * bonus + 0.5)
            for card, bonus in cards_in.items()
        }

    # The lexicon: what each phrase an officer says scores, from the terms it means.
    def target_score(term: str, card: int) -> float:
        words = tokens(term)
        content = [w for w in words if w not in STOP_WORDS]
        as_phrase = postings.get(_phrase(words, terms), {}).get(card, 0) if len(words) > 1 else 0
        return max(as_phrase, mean_of_words(content, card))

    # Each entry's scores ship once, with the phrases that use them; a phrase that is also a card
    # phrase, or is said in two entries, ships its merged scores among the postings instead.
    # An entry weighs in a query as much as its most specific term: the number of cards it is
    # found in, not every card that mentions any of its terms, counts as its document frequency.
    entry_scores: list[dict[int, int]] = []
    entry_df: list[int] = []
    said: dict[str, list[int]] = defaultdict(list)
    for number, entry in enumerate(lexicon.entries):
        scores = {}
        found_in = {term: 0 for term in entry.means}
        for card in range(count):
            each = {term: target_score(term, card) for term in entry.means}
            for term, value in each.items():
                found_in[term] += value > 0
            best = max(each.values())
            if best > 0:
                scores[card] = max(1, int(LEXICON_SHARE * best + 0.5))
        top = max(scores.values(), default=0)
        scores = {card: value for card, value in scores.items() if value >= LEXICON_FLOOR * top}
        entry_scores.append(scores)
        entry_df.append(max(1, min([n for n in found_in.values() if n] or [count])))
        for phrase in entry.say:
            words = tokens(phrase)
            if any(w not in STOP_WORDS for w in words):  # check_lexicon reports the others
                key = _phrase(words, terms)
                if number not in said[key]:
                    said[key].append(number)
    entry_keys: list[list[str]] = [[] for _ in entry_scores]
    df_of: dict[str, int] = {}
    for key, numbers in said.items():
        if len(numbers) == 1 and key not in postings:
            if entry_scores[numbers[0]]:
                entry_keys[numbers[0]].append(key[1:])
            continue
        merged = postings.setdefault(key, {})
        own = [len(merged)] if merged else []
        for number in numbers:
            for card, value in entry_scores[number].items():
                merged[card] = max(merged.get(card, 0), value)
        counts = own + [entry_df[number] for number in numbers if entry_scores[number]]
        if counts:
            df_of[key] = min(counts)

    def flat(cards_in: dict[int, int]) -> list[int]:
        return [n for card in sorted(cards_in) for n in (card, cards_in[card])]

    lexicon_shipped = [
        ["|".join(sorted(keys)), flat(scores), df]
        for keys, scores, df in zip(entry_keys, entry_scores, entry_df)
        if keys
    ]
    keys_needed = {k for key in postings if key.startswith(LEXICON_MARK) for k in key[1:].split(" ")}
    keys_needed |= {k for keys in entry_keys for key in keys for k in key.split(" ")}
    forms = {f: t for f, t in forms.items() if t in postings or t in keys_needed}
    shipped = {
        "format": INDEX_FORMAT,
        "cards": count,
        "idf": idf,
        "stop": " ".join(sorted(STOP_WORDS)),
        "forms": _encode_forms(forms),
        "postings": {key: flat(cards_in) for key, cards_in in sorted(postings.items()) if cards_in},
        "lexicon": lexicon_shipped,
        # Document frequencies that differ from the length of the key's postings (merged phrases).
        "df": {key: df for key, df in sorted(df_of.items()) if postings[key] and df != len(postings[key])},
    }
    digest = hashlib.sha256(compact_json(shipped).encode()).hexdigest()
    return SearchIndex(shipped, digest, prepare(shipped))


_BUILT: LRU[str, SearchIndex] = LRU(32)


def release_index(cards: list[dict], lexicon: Lexicon) -> SearchIndex:
    """build_index, remembered by the cards' searchable text and the lexicon (releases share it)."""
    parts = [card_text(c) for c in cards]
    key = hashlib.sha256((compact_json(parts) + lexicon.digest).encode()).hexdigest()
    index = _BUILT.get(key)
    if index is None:
        index = _BUILT.put(key, build_index(cards, lexicon))
    return index
