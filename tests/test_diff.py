"""Word-level diffs on hand-written cases."""

from server.diff import compare_releases, new_side, old_side, word_diff


def test_a_changed_word_is_one_deletion_and_one_insertion():
    assert word_diff("use cuffs only for arrest", "use cuffs only for a physical arrest") == [
        ("equal", "use cuffs only for "),
        ("insert", "a physical "),
        ("equal", "arrest"),
    ]


def test_replacement_marks_both_sides():
    segments = word_diff("Call the principal now.", "Call the administrator now.")
    assert ("delete", "principal") in segments and ("insert", "administrator") in segments


def test_both_sides_rebuild_exactly():
    old = "## Do\n- Keep calm.\n- Call the office.\n"
    new = "## Do\n- Keep calm and listen.\n- Call an administrator.\n\n## Why\nIt helps.\n"
    segments = word_diff(old, new)
    assert old_side(segments) == old and new_side(segments) == new


def test_identical_text_has_no_changes():
    assert word_diff("same words", "same words") == [("equal", "same words")]


def _card(cid, body, h, title="T"):
    return {"id": cid, "title": title, "summary": "S", "body": body, "hash": h, "local_policy": [], "source": ["X"]}


def test_releases_compare_added_changed_retired_in_new_order():
    old = [_card("a", "one", "h1"), _card("b", "two", "h2"), _card("c", "three", "h3")]
    new = [_card("b", "two!", "h2b"), _card("a", "one", "h1"), _card("d", "four", "h4")]
    changes = compare_releases(old, new, {"b": "minor", "d": "major"})
    assert [(c.card_id, c.kind, c.change_class) for c in changes] == [
        ("b", "changed", "minor"),
        ("d", "added", "major"),
        ("c", "retired", None),
    ]
    body = next(f for f in changes[0].fields if f.label == "Card text")
    assert body.segments == [("delete", "two"), ("insert", "two!")]
