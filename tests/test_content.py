"""The guidance in content/ passes its checks, and the checks catch each kind of mistake."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server.guidance.content import (
    MAX_BODY_WORDS,
    MAX_FLOW_TAPS,
    ContentInvalid,
    load_content,
    word_count,
)
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


def _paths(flow):
    """Every path from the start to an outcome: [(node ids, answer labels, outcome node)]."""
    nodes = flow["nodes"]

    def walk(name, ids, labels):
        node = nodes[name]
        if "outcome" in node:
            yield ids + (name,), labels, node
            return
        for answer in node["answers"]:
            yield from walk(answer["next"], ids + (name,), labels + (answer["label"],))

    return list(walk(flow["start"], (), ()))


def test_every_flow_path_ends_within_four_taps_counting_the_tap_from_home():
    paths = _paths(load_content(CONTENT).flow)
    assert len(paths) >= 9
    # One tap on "Should I step in?" from home, then one per answer.
    assert max(1 + len(labels) for _, labels, _ in paths) <= MAX_FLOW_TAPS


def test_special_needs_is_asked_before_every_police_action_outcome():
    flow = load_content(CONTENT).flow
    police = 0
    for ids, labels, outcome in _paths(flow):
        if outcome.get("police_action") or outcome["tone"] in {"act", "policy"}:
            police += 1
            asked = [flow["nodes"][n] for n in ids[:-1] if flow["nodes"][n].get("asks") == "special-needs"]
            assert asked and "special needs" in asked[0]["question"].lower(), ids
        if any(label.lower().startswith("yes, or i'm not sure") for label in labels):
            # Special needs (or not sure): the outcome leads with the educators who know the student.
            assert outcome["tone"] == "care", ids
            assert "educators" in outcome["outcome"].lower() and "special-needs-iep" in outcome["cards"], ids
    assert police >= 6


def test_every_flow_outcome_rests_on_statement_passages_and_shows_local_policy():
    from server.guidance.provenance import reading_lines

    content = load_content(CONTENT)
    passages = content.passages
    for name, node in content.flow["nodes"].items():
        if "outcome" not in node:
            continue
        lines = reading_lines(node["detail"])
        assert lines and all(line.ties for line in lines), name
        assert any(line.passages for line in lines), name
        assert all(t in passages or t in {"framing", "local"} for line in lines for t in line.ties), name
        if any("local" in line.ties for line in lines):
            assert node.get("policy"), name


def _walk(flow, *labels):
    node = flow["nodes"][flow["start"]]
    for wanted in labels:
        answer = next(a for a in node["answers"] if a["label"].lower().startswith(wanted.lower()))
        node = flow["nodes"][answer["next"]]
    return node


def test_flow_gets_the_key_situations_right():
    flow = load_content(CONTENT).flow
    # A special-needs student in a meltdown who throws something: educators first, not police.
    meltdown = _walk(flow, "someone could get hurt", "yes")
    assert meltdown["tone"] == "care" and meltdown["cards"][0] == "special-needs-iep"
    safety = _walk(flow, "someone could get hurt", "no")
    assert "agency's policy" in safety["outcome"] and "agency-restraint-policy" in safety["cards"]
    discipline = _walk(flow, "a school rule", "no")
    assert discipline["tone"] == "hold" and "stay-out-of-discipline" in discipline["cards"]
    iep = _walk(flow, "a school rule", "yes")
    assert iep["tone"] == "care" and "special-needs-iep" in iep["cards"]
    arrest = _walk(flow, "it may be a crime", "no", "yes")
    assert "restraint-devices" in arrest["cards"] and "device-arrest" in arrest["detail"]
    no_arrest = _walk(flow, "it may be a crime", "no", "no")
    assert no_arrest["tone"] == "policy" and "discipline-or-crime/crime-vs-discipline" in no_arrest["policy"]
    talk = _walk(flow, "a student wants to talk")
    assert talk["tone"] == "relate" and "informal-counselor" in talk["cards"]


def test_restraint_wording_keeps_the_statements_conditions():
    """No base line or outcome turns the restraint passage into an absolute rule."""
    from server.guidance.provenance import reading_lines, strip_ties

    content = load_content(CONTENT)
    texts = [c["summary"] for c in content.cards]
    texts += [line.text for c in content.cards for line in reading_lines(c["body"])]
    for node in content.flow["nodes"].values():
        if "outcome" in node:
            texts += [node["outcome"]] + [line.text for line in reading_lines(node["detail"])]
    for text in map(strip_ties, texts):
        lowered = text.lower()
        assert "no restraint device" not in lowered, text
        assert "never" not in lowered, text
        assert "stay within your three roles" not in lowered, text
        if "device" in lowered and "only" in lowered:
            # The statement's "should need … only in a case that requires …", with its condition.
            assert "should" in lowered or "expect" in lowered, text
            assert "formal discipline" in lowered or "formal school discipline" in lowered, text


def test_content_check_counts_lines_by_tie():
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "content", "check"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    tied, framing, local = (int(n) for n in re.findall(r"(\d+) (?:tied|framing|pointing)", result.stdout))
    assert tied > 150 and 0 < framing < 30 and 0 < local < 15
    longest = int(re.search(r"longest flow path (\d+) taps from home", result.stdout).group(1))
    assert 3 <= longest <= MAX_FLOW_TAPS


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
    start = text.index("\nsource:") + 1
    end = text.index("\n", start)
    path.write_text(text[:start] + 'source: ["A Heading NASRO Never Wrote"]' + text[end:])
    assert any("teacher.md: source:" in e for e in _errors(broken))


def test_flow_cycle_and_depth_are_caught(broken):
    flow = (broken / "flow.yaml").read_text()
    # Point an outcome-bound answer back at the start: a cycle.
    flow = flow.replace("next: out-rule\n", "next: what\n", 1)
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
    from server.guidance.content import check_card, source_headings

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


# --- every line rests on the statement: the check names file and line ----------------------


def test_every_passage_is_in_the_shipped_statement_word_for_word():
    from server.guidance.provenance import check_sources, normalize

    content = load_content(CONTENT)
    statement = (CONTENT / "statement.txt").read_text()
    assert check_sources(content.sources, statement) == []
    assert len(content.passages) >= 20
    for passage in content.passages.values():
        assert normalize(passage.text) in normalize(statement)


def test_a_line_without_a_tie_is_named_by_file_and_line(broken):
    path = broken / "cards/role/teacher.md"
    line = "- Check how your MOU defines your teacher role. [§ mou-roles, local]"
    number = path.read_text().split("\n").index(line) + 1
    _edit(path, line, "- Check how your MOU defines your teacher role.")
    assert f"cards/role/teacher.md: line {number}: '- Check how your MOU defines your teacher role.' has no tie" in "\n".join(
        _errors(broken)
    )


def test_a_tie_to_a_passage_that_does_not_exist_is_caught(broken):
    _edit(broken / "cards/role/teacher.md", "[§ proactive]", "[§ proactive, made-up-rule]")
    assert any("teacher.md: line" in e and "'made-up-rule', which is not a passage" in e for e in _errors(broken))


def test_a_passage_not_in_the_statement_is_caught(broken):
    _edit(broken / "sources.yaml", "should have in place a memorandum", "must have in place a memorandum")
    assert any("sources.yaml: sections[1].passages.mou-in-place: is not found word for word" in e for e in _errors(broken))


def test_a_heading_the_statement_does_not_have_is_caught(broken):
    _edit(broken / "sources.yaml", 'heading: "Opening paragraph"\n    untitled: true', 'heading: "Introduction"')
    assert any("sources.yaml: sections[0].heading: 'Introduction' is not a heading of the statement" in e for e in _errors(broken))


def test_the_answer_needs_its_ties_and_local_needs_a_block(broken):
    _edit(broken / "cards/role/teacher.md", "summary_source: [mou-roles]\n", "")
    _edit(broken / "cards/agency/why-this-guidance.md", "[§ best-interests]\n\n## Why", "[§ best-interests, local]\n\n## Why")
    errors = "\n".join(_errors(broken))
    assert "teacher.md: line 7: the answer (summary) has no tie" in errors
    assert "why-this-guidance.md: line" in errors and "no local-policy block here" in errors


def test_cited_sections_and_the_source_list_must_agree(broken):
    _edit(broken / "cards/role/teacher.md", '"SROs must Receive Training Regarding Special Needs Children"]', "]")
    _edit(broken / "cards/role/teacher.md", 'source: ["A Clear and Concise Memorandum of Understanding is Essential", ]', 'source: ["A Clear and Concise Memorandum of Understanding is Essential"]')
    assert any("teacher.md: source: lists" in e and "make them agree" in e for e in _errors(broken))


def test_flow_outcomes_are_checked_for_ties_policy_and_special_needs(broken):
    import yaml

    flow = yaml.safe_load((broken / "flow.yaml").read_text())
    nodes = flow["nodes"]
    nodes["out-arrest"]["detail"] = "Cuff the student.\n"
    nodes["out-rule"]["policy"] = ["stay-out-of-discipline/no-such-slot"]
    # A police outcome straight from the first question, skipping the special-needs question.
    nodes["what"]["answers"][1]["next"] = "out-safety"
    (broken / "flow.yaml").write_text(yaml.safe_dump(flow))
    errors = "\n".join(_errors(broken))
    assert "'Cuff the student.' has no tie" in errors
    assert "'stay-out-of-discipline/no-such-slot' is not a card's local-policy block" in errors
    assert "nodes.out-safety: a police-action outcome reached without asking about special needs: what → out-safety" in errors


def test_a_lexicon_term_no_card_holds_fails_the_content_check(broken):
    _edit(broken / "lexicon.yaml", "means: [seclusion, isolation]", "means: [seclusion, unicorn stampede]")
    assert any(e.startswith("lexicon.yaml: entry") and "`unicorn stampede` is not found in any card" in e for e in _errors(broken))
