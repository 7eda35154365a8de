"""The ranking itself, on hand-made cards."""

import pytest

from server.search import BadQuery, check_query, index_card, rank, words


def _index():
    return [
        index_card("mentions", "Hallway basics", ["walk"], "Be seen.", "Keep your handcuffs out of sight in class."),
        index_card("tagged", "Restraint devices", ["handcuffs", "zip ties"], "Only for arrest.", "Devices."),
        index_card("titled", "Handcuffs and the law", ["law"], "Policy.", "Law."),
        index_card("summary", "Other", ["x"], "About handcuffs in schools.", "Text."),
    ]


def test_tag_phrase_beats_title_beats_summary_beats_body():
    assert [cid for cid, _ in rank(_index(), "handcuffs")] == ["tagged", "titled", "summary", "mentions"]


def test_multi_word_tags_match_as_a_phrase():
    assert rank(_index(), "zip ties")[0][0] == "tagged"


def test_every_word_must_match():
    assert rank(_index(), "handcuffs walk") == [("mentions", pytest.approx(9.0))]


def test_plural_and_prefix_matching_follow_typing():
    assert words("Cuffs ties class") == ["cuff", "tie", "class"]
    assert rank(_index(), "handc")[0][0] in {"tagged", "titled"}
    assert rank(_index(), "ha") == []  # two letters match only whole words


def test_empty_query_matches_nothing():
    assert rank(_index(), "  ") == []


def test_bad_queries_are_refused_with_reasons():
    with pytest.raises(BadQuery, match="200 characters"):
        check_query("a" * 201)
    with pytest.raises(BadQuery, match="control characters"):
        check_query("cuffs\x07")
    assert check_query("  cuffs ") == "cuffs"
