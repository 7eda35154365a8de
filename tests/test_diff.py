"""Word-level diffs on hand-written cases."""

from server.guidance.diff import (
    compare_cards,
    compare_releases,
    new_side,
    old_side,
    readable,
    word_diff,
)
from server.guidance.releases import load_release
from server.models import Agency, Release, ReleaseCard

from .helpers.clients import client_as
from .helpers.editor import (
    current_card,
    edit_body,
    post,
    review_and_publish,
    save_card,
    start_draft,
)


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


# --- publish-level cases: what the review path stores is what "what changed" shows -------------

async def _views(*numbers):
    agency = await Agency.get(slug="demo")
    return [await load_release(await Release.get(agency=agency, number=n)) for n in numbers]


async def test_published_edit_shows_exactly_the_changed_words(app):
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await start_draft(author)
        await edit_body(author, draft_url, "teacher", "Check how your MOU", "Check carefully how your signed MOU")
        await review_and_publish(author, reviewer, draft_url)
        old, new = await _views(1, 2)
        changes = compare_releases(old.cards, new.cards)
        assert [(c.card_id, c.kind) for c in changes] == [("teacher", "changed")]
        body = next(f for f in changes[0].fields if f.label == "Card text")
        assert [(op, t.strip()) for op, t in body.segments if op != "equal"] == [("insert", "carefully"), ("insert", "signed")]
        assert old_side(body.segments) == readable(old.by_id["teacher"]["body"])
        assert new_side(body.segments) == readable(new.by_id["teacher"]["body"])
        async with client_as(app, "officer@demo.test") as officer:
            page = (await officer.get("/changes?from=1&to=2")).text
        assert '<ins><span class="visually-hidden">[added: </span>carefully <span class="visually-hidden">]</span></ins>' in page
        assert "minor change (wording)" in page


async def test_local_policy_text_and_retirement_diff_at_publish(app):
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await start_draft(author)
        card = await current_card("teacher")
        slots = [dict(card["local_policy"][0], text="Two lessons a term, approved by the principal.")]
        assert (await save_card(author, draft_url, "teacher", local_policy=slots)).status_code == 303
        assert (await post(author, f"{draft_url}/cards/why-this-guidance/retire")).status_code == 303
        await review_and_publish(author, reviewer, draft_url)
    old, new = await _views(1, 2)
    changes = {c.card_id: c for c in compare_releases(old.cards, new.cards)}
    assert set(changes) == {"teacher", "why-this-guidance"}
    assert changes["why-this-guidance"].kind == "retired"
    [policy] = changes["teacher"].fields
    assert policy.label.startswith("Your agency's policy: ")
    assert policy.segments == [("insert", "Two lessons a term, approved by the principal.")]


async def test_comparing_across_releases_keeps_the_strongest_change_class(app):
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await start_draft(author)
        await edit_body(author, draft_url, "teacher", "Check how", "Read how")
        await review_and_publish(author, reviewer, draft_url)
        draft_url = await start_draft(author)
        await edit_body(author, draft_url, "teacher", "Read how", "Read exactly how", change_class="major")
        await review_and_publish(author, reviewer, draft_url)
        rows = await ReleaseCard.filter(card_id="teacher", change__isnull=False).values_list("change", flat=True)
        assert sorted(rows) == ["major", "minor"]
        async with client_as(app, "officer@demo.test") as officer:
            across = (await officer.get("/changes?from=1&to=3")).text
            last = (await officer.get("/changes?from=2&to=3")).text
        assert "major change" in across and "major change" in last
        old, new = await _views(1, 3)
        [change] = compare_releases(old.cards, new.cards)
        body = next(f for f in change.fields if f.label == "Card text")
        assert [s for s in body.segments if s[0] != "equal"] == [("delete", "Check"), ("insert", "Read exactly")]
        assert compare_cards(old.by_id["teacher"], old.by_id["teacher"]) == []


def test_changes_start_at_a_word_and_both_sides_still_rebuild():
    inside = [
        ("check your MOU now", "check your signed MOU now"),  # insertion only
        ("check your signed MOU now", "check your MOU now"),  # deletion only
        ("call the principal now", "call an administrator now"),  # replacement
    ]
    for old, new in inside:
        segments = word_diff(old, new)
        assert old_side(segments) == old and new_side(segments) == new, (old, new, segments)
        assert all(not t.startswith(" ") for op, t in segments if op != "equal"), segments
    # At the very end, or where only spaces change, there is no later text to slide into.
    for old, new in [("a  b", "a b c"), ("end", "end and more"), ("x y", "x  y")]:
        segments = word_diff(old, new)
        assert old_side(segments) == old and new_side(segments) == new, (old, new, segments)
    assert word_diff("check your MOU now", "check your signed MOU now") == [
        ("equal", "check your "),
        ("insert", "signed "),
        ("equal", "MOU now"),
    ]


def test_redline_shows_words_not_markdown_syntax():
    assert readable("## Do\n- Keep **calm**.\n* Call an administrator.\n") == "Do\n• Keep calm.\n• Call an administrator.\n"
    old = _card("a", "## Do\n- Keep calm.\n", "h1")
    new = _card("a", "## Do\n- Keep calm and listen.\n", "h2")
    body = next(f for f in compare_releases([old], [new])[0].fields if f.label == "Card text")
    assert body.segments == [("equal", "Do\n• Keep "), ("delete", "calm."), ("insert", "calm and listen."), ("equal", "\n")]
