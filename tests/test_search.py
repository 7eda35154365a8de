"""The ranking itself, on hand-made cards and a hand-made lexicon."""

import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from server.guidance.content import load_content
from server.guidance.lexicon import (
    app_lexicon,
    check_lexicon,
    parse_lexicon,
    weak_terms,
)
from server.guidance.releases import ReleaseView
from server.guidance.search import CLOSEST_SHOWN, BadQuery, check_query, rank, tokens
from server.guidance.search_index import build_index
from server.settings import ROOT

LEXICON = parse_lexicon(
    """
- say: [zipties, cuff her]
  means: [restraint device]
- say: [kid]
  means: [student]
- say: [lawmaker]
  means: [policymakers]
"""
)


def card(card_id, title, tags, summary, text):
    return {"id": card_id, "title": title, "tags": tags, "summary": summary, "text": text}


CARDS = [
    card("mentions", "Hallway basics", ["walk"], "Be seen by every student.", "Keep your handcuffs out of sight in class."),
    card("devices", "Restraint devices", ["handcuffs", "zip ties", "restrain"], "Only for an arrest.", "A restraint device is for a student's arrest."),
    card("titled", "Handcuffs and the law", ["law"], "Policy on arrest.", "Law."),
    card("summary", "Other things", ["misc"], "About handcuffs in schools.", "Text."),
    card("policy", "Support for policymakers", ["legislation"], "Help policymakers write rules.", "Policymakers write law."),
    card("twin-a", "Seclusion rooms", ["seclusion"], "Avoid seclusion.", "Seclusion."),
    card("twin-b", "Seclusion rooms", ["seclusion"], "Avoid seclusion.", "Seclusion."),
]


@pytest.fixture(scope="module")
def tables():
    return build_index(CARDS, LEXICON).tables


def ids(tables, query):
    return [CARDS[position]["id"] for position, _ in rank(tables, query).hits]


def scores(tables, query):
    return {CARDS[position]["id"]: score for position, score in rank(tables, query).hits}


def test_words_are_lower_case_with_apostrophes_folded():
    assert tokens("Officer's DON'T flex-cuffs, 504?") == ["officer", "dont", "flex", "cuffs", "504"]
    assert tokens("agency’s") == ["agency"]


def test_title_beats_tags_beats_summary_beats_body(tables):
    assert ids(tables, "handcuffs")[:4] == ["titled", "devices", "summary", "mentions"]


def test_stop_words_are_ignored(tables):
    assert ids(tables, "should I use the handcuffs") == ids(tables, "use handcuffs")
    outcome = rank(tables, "should I do it")
    assert outcome.hits == [] and outcome.close is False


def test_inflections_fold_into_one_term(tables):
    # "restrained" is not in any card: the index ships it as a generated form of "restrain".
    assert ids(tables, "restrained")[0] == "devices"
    # Snowball cuts "cuffed" to "cuf" but keeps "handcuffs" whole; the index joins the two.
    assert ids(tables, "handcuffed")[0] == ids(tables, "handcuffs")[0] == "titled"


def test_one_typo_is_tolerated_in_words_of_five_letters_or_more(tables):
    assert ids(tables, "restrant")[0] == "devices"  # restraint, a letter left out
    assert ids(tables, "handcufsf")[:2] == ["titled", "devices"]  # swapped neighbours
    assert ids(tables, "lwa") == []  # three letters: no typo allowed
    exact, typo = scores(tables, "seclusion"), scores(tables, "secluson")
    assert typo["twin-a"] < exact["twin-a"]  # a corrected word scores below the word itself


def test_the_last_word_matches_as_a_prefix_while_typing(tables):
    assert ids(tables, "handc")[:2] == ["titled", "devices"]
    assert ids(tables, "ha") == []  # two letters: wait for more
    # A word before the last is complete: no prefix match for it.
    assert "titled" not in ids(tables, "handc seclusion")


def test_cards_rank_by_how_much_of_the_query_they_cover(tables):
    # Not every word is required: a card covering one of two words is still found...
    found = ids(tables, "handcuffs arrest")
    assert {"mentions", "summary"} <= set(found)
    # ...below the cards that cover both.
    assert set(found[:2]) == {"titled", "devices"}


def test_a_query_half_unknown_is_close_and_mostly_unknown_is_not(tables):
    assert rank(tables, "handcuffs zebra").close is True
    outcome = rank(tables, "handcuffs zebra giraffe")
    assert outcome.close is False
    assert [CARDS[p]["id"] for p, _ in outcome.hits][:1] == ["titled"]  # the closest cards still show
    assert len(outcome.hits) <= CLOSEST_SHOWN


def test_lexicon_words_and_phrases_find_the_cards_terms(tables):
    assert ids(tables, "zipties")[0] == "devices"
    assert ids(tables, "lawmaker")[0] == "policy"
    assert ids(tables, "should i cuff her")[0] == "devices"
    # An expansion scores below the card's own word.
    assert scores(tables, "zipties")["devices"] < scores(tables, "restraint device")["devices"]


def test_multi_word_tags_score_as_phrases(tables):
    together, apart = scores(tables, "zip ties"), scores(tables, "ties zip")
    assert together["devices"] > apart["devices"]


def test_ties_keep_the_release_order(tables):
    hits = rank(tables, "seclusion").hits
    assert [CARDS[p]["id"] for p, _ in hits] == ["twin-a", "twin-b"] and hits[0][1] == hits[1][1]


def test_the_index_is_deterministic_and_follows_the_lexicon():
    first, again = build_index(CARDS, LEXICON), build_index(list(CARDS), LEXICON)
    assert first.shipped == again.shipped and first.digest == again.digest
    other = parse_lexicon("- say: [zipties]\n  means: [handcuffs]\n")
    assert build_index(CARDS, other).digest != first.digest


def test_every_server_process_builds_the_same_index():
    # Several server processes answer one agency: their ETags must agree whatever the hash seed.
    script = (
        "from server.guidance.content import load_content; from server.guidance.lexicon import app_lexicon;"
        "from server.guidance.search_index import build_index; from server.settings import ROOT;"
        "print(build_index(load_content(ROOT / 'content', strict=False).cards, app_lexicon()).digest)"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True, text=True, check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1


def test_the_release_etag_changes_with_the_lexicon():
    def view(lexicon):
        return ReleaseView(
            id=1, agency_id=1, number=1, summary="", published_at=datetime.now(timezone.utc), due_at=None,
            requires_ack=False, manifest_hash="m", categories=[], flow={}, cards=[dict(c) for c in CARDS],
            lexicon=lexicon,
        )

    assert view(LEXICON).etag == view(LEXICON).etag
    assert view(LEXICON).etag != view(parse_lexicon("- say: [kid]\n  means: [student]\n")).etag


def test_check_lexicon_names_the_entry_and_line_of_each_problem():
    lexicon = parse_lexicon(
        """- say: [zipties]
  means: [restraint device]
- say: [the, zipties]
  means: [teleporter, handcuffs arrest]
- say: cuffs
  means: [handcuffs]
"""
    )
    messages = [(e.field, e.message) for e in check_lexicon(lexicon, CARDS)]
    assert messages == [
        ("entry 3 (line 5)", "needs `say` and `means`, each a list of words"),
        ("entry 2 (line 3)", "`the` has only stop words, which search ignores"),
        ("entry 2 (line 3)", "`zipties` is also said in entry 1"),
        ("entry 2 (line 3)", "`teleporter` is not found in any card"),
    ]  # "handcuffs arrest": both words are in one card, so it is found


def test_terms_only_in_card_bodies_are_noted_as_weak():
    lexicon = parse_lexicon("- say: [flex]\n  means: [handcuffs, sight]\n")
    assert [e.message for e in weak_terms(lexicon, CARDS)] == ["`sight` is only in card bodies"]


def test_the_shipped_lexicon_points_only_at_terms_the_cards_hold():
    content = load_content(ROOT / "content", strict=False)
    assert check_lexicon(app_lexicon(), content.cards) == []
    assert len(app_lexicon().entries) >= 30


def test_bad_queries_are_refused_with_reasons():
    with pytest.raises(BadQuery, match="200 characters"):
        check_query("a" * 201)
    with pytest.raises(BadQuery, match="control characters"):
        check_query("cuffs\x07")
    assert check_query("  cuffs ") == "cuffs"
