"""The guidance in content/ passes its checks, and the checks catch each kind of mistake."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server.content import MAX_BODY_WORDS, MAX_FLOW_TAPS, ContentInvalid, load_content, word_count
from server.settings import ROOT

CONTENT = ROOT / "content"


def test_content_check_command_passes_on_the_shipped_content():
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "content", "check"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "OK:" in result.stdout


def test_every_card_cites_a_real_heading_and_stays_in_budget():
    content = load_content(CONTENT)
    headings = {s["heading"] for s in content.sources["sections"]}
    assert len(content.cards) >= 18
    for card in content.cards:
        assert set(card["source"]) <= headings
        assert word_count(card["body"]) <= MAX_BODY_WORDS
        assert card["summary"] and card["tags"]


def test_cards_cover_what_the_statement_asks_for():
    ids = {c["id"] for c in load_content(CONTENT).cards}
    required = {
        "law-enforcement-officer", "teacher", "informal-counselor",  # the three roles
        "stay-out-of-discipline", "asked-to-handle-discipline",
        "restraint-devices", "avoid-restraint-and-seclusion", "agency-restraint-policy",
        "special-needs-behavior", "special-needs-iep", "special-education-law",
        "proactive-policing", "de-escalation",
        "mou-contents", "mou-signatures", "selection-and-training", "policymaker-support",
    }
    assert required <= ids


def test_officer_words_are_tags():
    cards = {c["id"]: c for c in load_content(CONTENT).cards}
    assert {"cuffs", "handcuffs", "zip ties"} <= set(cards["restraint-devices"]["tags"])
    assert "IEP" in cards["special-needs-iep"]["tags"]
    all_tags = {t.lower() for c in cards.values() for t in c["tags"]}
    assert {"fight", "vape"} <= all_tags
    assert any(t.startswith("principal wants me to") for t in all_tags)


def test_flow_reaches_an_outcome_within_four_taps_on_every_path():
    flow = load_content(CONTENT).flow
    nodes = flow["nodes"]

    def depths(name, taps):
        node = nodes[name]
        if "outcome" in node:
            yield taps
            return
        for answer in node["answers"]:
            yield from depths(answer["next"], taps + 1)

    found = list(depths(flow["start"], 0))
    assert found and max(found) <= MAX_FLOW_TAPS


def _walk(flow, *labels):
    node = flow["nodes"][flow["start"]]
    for wanted in labels:
        answer = next(a for a in node["answers"] if a["label"].lower().startswith(wanted.lower()))
        node = flow["nodes"][answer["next"]]
    return node


def test_flow_gets_the_key_situations_right():
    flow = load_content(CONTENT).flow
    danger = _walk(flow, "yes")
    assert danger["tone"] == "act" and "law-enforcement-officer" in danger["cards"]
    discipline = _walk(flow, "no", "a school rule", "no")
    assert discipline["tone"] == "hold" and "stay-out-of-discipline" in discipline["cards"]
    iep = _walk(flow, "no", "a school rule", "yes")
    assert iep["tone"] == "care" and "special-needs-iep" in iep["cards"]
    arrest = _walk(flow, "no", "conduct that may be a crime", "no", "yes")
    assert "restraint-devices" in arrest["cards"]
    no_arrest = _walk(flow, "no", "conduct that may be a crime", "no", "no")
    assert "no restraint device" in no_arrest["outcome"].lower()


# --- the checks catch mistakes, naming the file and field ---------------------------------


@pytest.fixture
def broken(tmp_path) -> Path:
    """A writable copy of content/ to break."""
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    return target


def _errors(root: Path) -> list[str]:
    with pytest.raises(ContentInvalid) as info:
        load_content(root)
    return [str(e) for e in info.value.errors]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_missing_required_field_is_named(broken):
    _edit(broken / "cards/restraint/restraint-devices.md", "\nsummary:", "\nnot_summary:")
    assert any("restraint-devices.md: summary: is required" in e for e in _errors(broken))


def test_duplicate_id_is_caught(broken):
    shutil.copy(broken / "cards/role/teacher.md", broken / "cards/role/teacher-copy.md")
    errors = _errors(broken)
    assert any("teacher-copy.md: id:" in e for e in errors)


def test_related_and_flow_links_must_resolve(broken):
    _edit(broken / "cards/role/teacher.md", "related: [", "related: [no-such-card, ")
    _edit(broken / "flow.yaml", "cards: [stay-out-of-discipline", "cards: [ghost-card")
    errors = _errors(broken)
    assert any("teacher.md: related: no card 'no-such-card'" in e for e in errors)
    assert any("flow.yaml" in e and "ghost-card" in e for e in errors)


def test_source_must_be_a_heading(broken):
    path = broken / "cards/role/teacher.md"
    text = path.read_text()
    start = text.index("source:")
    end = text.index("\n", start)
    path.write_text(text[:start] + 'source: ["A Heading NASRO Never Wrote"]' + text[end:])
    assert any("teacher.md: source:" in e for e in _errors(broken))


def test_flow_cycle_and_depth_are_caught(broken):
    flow = (broken / "flow.yaml").read_text()
    # Point an outcome-bound answer back at the start: a cycle.
    flow = flow.replace("next: out-discipline", "next: danger", 1)
    (broken / "flow.yaml").write_text(flow)
    errors = _errors(broken)
    assert any("cycle" in e for e in errors)


def test_flow_path_longer_than_four_taps_is_caught(broken):
    import yaml

    flow = yaml.safe_load((broken / "flow.yaml").read_text())
    nodes = flow["nodes"]
    # Insert a chain of extra questions in front of the start.
    for i in range(MAX_FLOW_TAPS):
        nodes[f"extra-{i}"] = {
            "question": f"Extra {i}?",
            "answers": [
                {"label": "Yes", "next": f"extra-{i + 1}" if i + 1 < MAX_FLOW_TAPS else flow["start"]},
                {"label": "No", "next": "out-talk"},
            ],
        }
    flow["start"] = "extra-0"
    (broken / "flow.yaml").write_text(yaml.safe_dump(flow))
    assert any("more than 4 taps" in e for e in _errors(broken))


def test_body_over_budget_and_raw_html_are_caught(broken):
    _edit(broken / "cards/role/teacher.md", "## Why\n", "## Why\n" + "word " * (MAX_BODY_WORDS + 1) + "\n<script>x</script>\n")
    errors = _errors(broken)
    assert any("teacher.md: body:" in e and "budget" in e for e in errors)
    assert any("teacher.md: body: raw HTML" in e for e in errors)


def test_content_check_command_reports_errors_and_fails(broken):
    _edit(broken / "cards/role/teacher.md", "\ntitle:", "\nheadline:")
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "content", "check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"FIELDGUIDE_CONTENT_DIR": str(broken), "PATH": ""},
    )
    assert result.returncode == 1
    assert "teacher.md: title: is required" in result.stderr


def test_the_checks_run_on_one_card_dict():
    from server.content import check_card, source_headings

    content = load_content(CONTENT)
    ids = {c["id"] for c in content.cards}
    context = {
        "headings": source_headings(content.sources),
        "category_ids": [c["id"] for c in content.categories],
        "card_ids": ids,
    }
    card = next(c for c in content.cards if c["id"] == "teacher")
    assert check_card(card, **context) == []
    assert [e.field for e in check_card(dict(card, id="Teacher Role", related=["ghost"]), **context)] == ["id"]
    no_why = dict(card, body=card["body"].replace("## Why", "## Because"))
    assert [e.message for e in check_card(no_why, **context)] == [
        "needs the sections '## Do', '## Don't' and '## Why', in that order"
    ]
    linked = dict(card, related=["ghost", "teacher"], source=["Not a heading"], category="nope")
    messages = [str(e) for e in check_card(linked, **context, where="teacher")]
    assert "teacher: related: no card 'ghost'" in messages
    assert "teacher: related: a card cannot relate to itself" in messages
    assert "teacher: source: 'Not a heading' is not a heading in sources.yaml" in messages
    assert "teacher: category: 'nope' is not in categories.yaml" in messages
    html_policy = dict(card, local_policy=[{"id": "p", "label": "Rule", "text": "<b>x</b>"}])
    assert [e.field for e in check_card(html_policy, **context)] == ["local_policy[0]"]
