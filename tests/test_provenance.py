"""Ties to the statement: agencies keep them only on NASRO text, and their own lines show as theirs."""

from __future__ import annotations

from server.guidance.provenance import (
    AGENCY_MARK,
    card_sources,
    drop_written_ties,
    passages_of,
    reading_lines,
    release_origins,
    split_tie,
)
from server.guidance.rendering import plain_text, render_card_body, render_markdown

SOURCES = {
    "sections": [
        {
            "id": "mou",
            "heading": "MOU heading",
            "passages": {"no-discipline": "Prohibit SROs from formal school discipline."},
        }
    ]
}
BODY = (
    "## Do\n"
    "- Leave discipline to administrators. [§ no-discipline]\n"
    "- Ask your supervisor. [§ framing]\n\n"
    "## Don't\n- Don't discipline. [§ no-discipline]\n\n"
    "## Why\nThe MOU says so. [§ no-discipline, local]\n"
)
CARD = {
    "id": "c",
    "summary": "Stay out of discipline.",
    "summary_source": ["no-discipline"],
    "body": BODY,
    "local_policy": [{"id": "mou", "label": "Your MOU", "text": ""}],
}


def test_a_tie_is_split_from_the_words_a_reader_sees():
    assert split_tie("- Leave it. [§ a, b]") == ("- Leave it.", ("a", "b"))
    assert split_tie("- Mine.") == ("- Mine.", None)
    assert [line.ties for line in reading_lines(BODY)] == [
        ("no-discipline",), ("framing",), ("no-discipline",), ("no-discipline", "local")
    ]
    assert "§" not in plain_text(BODY) and "§" not in render_markdown(BODY)


def test_an_edit_keeps_ties_only_on_unchanged_nasro_lines():
    edited = dict(
        CARD,
        body=BODY.replace("- Ask your supervisor. [§ framing]", "- Ask your sergeant. [§ framing]")
        + "- Our own rule. [§ no-discipline]\n",
    )
    kept = drop_written_ties(edited, CARD)
    lines = {line.text: line.ties for line in reading_lines(kept["body"])}
    assert lines["- Leave discipline to administrators."] == ("no-discipline",)
    assert lines["- Ask your sergeant."] is None  # changed: now the agency's line
    assert lines["- Our own rule."] is None  # a tie the agency wrote is removed
    assert kept["summary_source"] == ["no-discipline"]
    assert drop_written_ties(dict(CARD, summary="Our answer."), CARD)["summary_source"] == []
    # A new local card cannot carry ties at all.
    assert all(line.ties is None for line in reading_lines(drop_written_ties(CARD, None)["body"]))


def test_agency_lines_of_a_nasro_card_are_labelled_and_the_label_cannot_be_forged():
    body = BODY + "- Call the front office first.\n"
    html = render_card_body(body)
    assert html.count('class="agency-line"') == 1
    assert 'Call the front office first. <span class="agency-line">' in html
    # Typed text cannot smuggle the invisible mark in to label a NASRO line as the agency's.
    forged = render_card_body(BODY.replace("Don't discipline.", "Don't discipline." + AGENCY_MARK))
    assert 'class="agency-line"' not in forged
    # A card the agency wrote itself carries no per-line labels.
    assert 'class="agency-line"' not in render_card_body("## Do\n- Mine.\n\n## Don't\n- No.\n\n## Why\nOurs.\n")


def test_release_origins_remember_the_release_that_introduced_each_agency_line():
    two = dict(CARD, body=BODY + "- Call the front office first.\n")
    two["local_policy"] = [{"id": "mou", "label": "Your MOU", "text": "Signed 2024."}]
    at_two = release_origins(two, 2, CARD, {"lines": {}, "slots": {}})
    assert at_two == {"lines": {"- Call the front office first.": 2}, "slots": {"mou": 2}}
    three = dict(two, body=two["body"] + "- Radio dispatch.\n")
    at_three = release_origins(three, 3, two, at_two)
    assert at_three["lines"] == {"- Call the front office first.": 2, "- Radio dispatch.": 3}
    assert at_three["slots"] == {"mou": 2}
    view = card_sources(three, passages_of(SOURCES), at_three)
    assert [(line["text"], line["since"]) for line in view["agency"]] == [
        ("Call the front office first.", 2), ("Radio dispatch.", 3)
    ]
    assert [slot["since"] for slot in view["slots"]] == [2]
    # Each passage once, with every line resting on it.
    [group] = view["groups"]
    assert group["passage"].text == "Prohibit SROs from formal school discipline."
    assert [line["text"] for line in group["lines"]] == [
        "Stay out of discipline.", "Leave discipline to administrators.", "Don't discipline.", "The MOU says so."
    ]
    assert [line["text"] for line in view["framing"]] == ["Ask your supervisor."]


def test_a_card_published_before_ties_is_not_passed_off_as_the_agencys():
    legacy = dict(CARD, summary_source=[], body="## Do\n- Old text.\n\n## Don't\n- No.\n\n## Why\nOld.\n")
    assert card_sources(legacy, passages_of(SOURCES), None)["legacy"] is True
    assert [line["text"] for line in card_sources(legacy, passages_of(SOURCES), {"lines": {}})["agency"]] == [
        "Stay out of discipline.", "Old text.", "No.", "Old."
    ]
