"""Words as the search index sees them: stop words, the stemmer, and generated inflections."""

from __future__ import annotations

from functools import lru_cache

import snowballstemmer

from server.guidance.rendering import plain_text

# Words that say nothing about which card answers: the usual English function words, their
# apostrophe-less contractions (tokens drop apostrophes: "don't" -> "dont"), and hallway
# filler ("my principal wants me to", "a kid keeps walking out"). Content words stay even when
# common ("student", "school"): their low inverse document frequency already weighs them down.
STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each either else
    even ever every few for from further had has have having he her here hers herself him
    himself his how i if in into is it its itself just me might more most must my myself
    neither no nor not now of off on once only or other ought our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up upon very was we were what when where which
    while who whom whose why will with would yet you your yours yourself yourselves
    im ive id ill youre youve youd youll hes shes weve theyre theyve theyd dont doesnt
    didnt isnt arent wasnt werent cant couldnt shouldnt wouldnt wont hasnt havent hadnt mustnt
    whats wheres whos hows whens whys lets thats theres heres aint
    ok okay hey hi please thanks thank just really like gonna wanna gotta kinda sorta got gets
    get getting go goes going went guy guys thing things stuff someone somebody something
    anyone anybody anything everyone everybody everything one ones way lot lots pretty
    want wants wanted wanting keep keeps kept keeping caught
    """.split()
)

# Endings tried on every word to find forms the cards do not spell out ("restrained" from
# "restrain", "restraints" from "restraint"); a form is kept when the stemmer folds it into
# the word's own term. A word that carries one of them also lends its base when the cards
# use that base ("cuffing" -> "cuff", so "cuffed" too): bases outside the cards' words are
# not guessed, which keeps made-up forms ("arreste") out.
SUFFIXES = ("s", "es", "ed", "d", "ing", "ion", "ions", "ment", "ments")
# Endings whose form is the same word for certain: when the stemmer splits one of these from
# its base (it keeps "cuff" but cuts "cuffed" to "cuf"; it leaves "sros" whole, as it leaves
# "gas", because the only vowel is before the s), the two stems are joined into one term.
INFLECTIONS = ("ed", "ing", "s")
VOWELS = frozenset("aeiou")
# Words with these endings are nouns or adjectives: they take a plural, never -ed, -ing, -ion
# or -ment ("educators", not "educatored").
NOUN_ENDINGS = (
    "or", "ist", "ity", "ism", "ness", "ance", "ence", "ency", "ship", "tion", "sion", "ous", "ful", "ive",
    "ary", "ery", "ory", "ian",
)

_stemmer = snowballstemmer.stemmer("english")


def card_text(card: dict) -> dict[str, list[str]]:
    """The texts search reads in a card, by field: title, tags, summary, and body.

    The body field also holds the card's local-policy slots (their labels, and the agency's
    text once written), so an agency's own policy is found too.
    """
    text = card.get("text")
    if text is None:
        text = plain_text(card["body"])
    body = [text]
    for slot in card.get("local_policy") or []:
        body.append(slot.get("label") or "")
        if slot.get("text"):
            body.append(plain_text(slot["text"]))
    return {"title": [card["title"]], "tags": list(card["tags"]), "summary": [card["summary"]], "body": body}


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Snowball (English) stem of a lower-case word."""
    return _stemmer.stemWord(word)


def _bases(word: str, vocabulary: frozenset[str] | set[str]) -> list[str]:
    """What to build forms from: the word's bases when it carries one of SUFFIXES, else the word.

    A base is a word of the vocabulary the word may be built from ("cuffing" -> "cuff"), or
    the word less its ending when the stemmer agrees ("allowed" -> "allow").
    """
    bases: list[str] = []
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if bases:
            break  # the longest ending that gives a base wins: "allowed" is allow+ed, not allowe+d
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            root = word[: -len(suffix)]
            for base in (root, root + "e", root[:-1], root[:-1] + "y"):
                if base in vocabulary and base not in bases:
                    bases.append(base)
            if root.endswith("i") and suffix in ("es", "ed"):
                root = root[:-1] + "y"  # duties -> duty, tried -> try
            if root not in bases and stem(root) == stem(word):
                bases.append(root)
    return bases or [word]


def _joins(base: str, suffix: str) -> list[tuple[str, bool]]:
    """How an ending joins a base: (root it is added to, whether the form is plainly the same word)."""
    vowel_ending = suffix[0] in VOWELS
    if base.endswith("e"):
        # escalate + ing -> escalating; escalate + s -> escalates
        return [(base[:-1], True)] if vowel_ending else [(base, True)]
    if suffix == "d":
        return []
    roots = [(base, True)]
    if base.endswith("y") and base[-2] not in VOWELS:
        if suffix in ("es", "ed", "ment", "ments"):
            return [(base[:-1] + "i", False)]  # policy -> policies
        return roots if suffix == "ing" else []  # studying; no "policys"
    if vowel_ending and base[-1] not in VOWELS | {"w", "x", "y"} and base[-2] in VOWELS and base[-3] not in VOWELS:
        roots.append((base + base[-1], True))  # skip -> skipping
    return roots


def inflections(word: str, vocabulary: frozenset[str] | set[str] = frozenset()) -> list[tuple[str, bool]]:
    """Forms built from a word and its bases with common endings: (form, sure to be the same word)."""
    out = []
    for base in _bases(word, vocabulary):
        if len(base) < 3:
            continue
        if base != word:
            out.append((base, False))
        noun = base.endswith(NOUN_ENDINGS)
        for suffix in SUFFIXES:
            if noun and suffix not in ("s", "es"):
                continue
            for root, plain in _joins(base, suffix):
                out.append((root + suffix, plain and suffix in INFLECTIONS))
    return [(form, same) for form, same in out if form != word]
