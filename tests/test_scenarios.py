"""Practice scenarios: the content check, releases that carry them, the admin's editing, the pages."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from markupsafe import escape

from server.guidance.content import load_content
from server.guidance.releases import load_release, manifest_hash
from server.guidance.scenarios import SCENARIOS_FILE, check_scenario, flow_outcomes
from server.models import Agency, AuditEntry, Draft, Release
from server.settings import ROOT

from .helpers.clients import client_as
from .helpers.csrf import csrf_token
from .helpers.editor import post, review_and_publish, start_draft
from .helpers.releases import publish_revision

CONTENT = ROOT / "content"


# --- content/scenarios.yaml and its check -------------------------------------------------------


def test_the_nasro_base_ships_a_handful_of_checked_scenarios():
    content = load_content(CONTENT)
    assert 5 <= len(content.scenarios) <= 7
    outcomes = flow_outcomes(content.flow)
    passages = content.passages
    for scenario in content.scenarios:
        assert scenario["by"] == "nasro"
        assert 2 <= len(scenario["choices"]) <= 4
        assert sum(c["supported"] for c in scenario["choices"]) == 1
        for choice in scenario["choices"]:
            assert choice["flow"] in outcomes
            assert re.search(r"\[§ [^\]]*\]$", choice["outcome"].split("\n")[-1])
        assert not check_scenario(scenario, passages, content.flow, where="x")
    # The statement's central lines are practised: discipline, restraint, special needs, the roles.
    cited = {p for s in content.scenarios for c in s["choices"] for p in re.findall(r"[\w-]+", " ".join(
        re.findall(r"\[§([^\]]*)\]", c["outcome"])))}
    assert {"mou-no-discipline", "device-arrest", "iep-response", "mou-roles", "avoid-restraint"} <= cited


def test_the_content_check_command_counts_the_scenarios():
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "content", "check"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "6 practice scenarios" in result.stdout


@pytest.fixture
def broken(tmp_path) -> Path:
    """A copy of content/ to break."""
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    return target


def _break(root: Path, old: str, new: str, count: int = 1) -> None:
    path = root / SCENARIOS_FILE
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def _errors(root: Path) -> list[str]:
    return [str(e) for e in load_content(root, strict=False).errors]


def _line(root: Path, needle: str) -> int:
    lines = (root / SCENARIOS_FILE).read_text(encoding="utf-8").split("\n")
    return next(i for i, line in enumerate(lines, start=1) if needle in line)


def test_a_tie_to_a_passage_that_does_not_exist_is_named_by_file_and_line(broken):
    _break(broken, "[§ mou-no-discipline, local]", "[§ mou-no-discipline, no-such-passage]")
    line = _line(broken, "no-such-passage")
    errors = _errors(broken)
    assert any(
        e.startswith(f"scenarios.yaml: line {line}: 'Formal school discipline is the responsibility")
        and e.endswith("cites 'no-such-passage', which is not a passage in sources.yaml")
        for e in errors
    ), errors


def test_an_untied_outcome_line_is_caught(broken):
    _break(broken, "point the teacher to one. [§ mou-no-discipline, local]", "point the teacher to one.")
    line = _line(broken, "point the teacher to one.")
    assert any(e.startswith(f"scenarios.yaml: line {line}:") and "has no tie" in e for e in _errors(broken))


def test_an_outcome_resting_on_local_policy_only_is_caught(broken):
    _break(
        broken,
        "Formal school discipline situations are the responsibility of school administrators, and NASRO recommends that your MOU prohibit your involvement. [§ mou-no-discipline]\n      - label: \"Explain",
        "Ask your agency. [§ local]\n      - label: \"Explain",
    )
    assert any("must rest on at least one passage of the statement" in e for e in _errors(broken))


def test_duplicate_ids_choice_counts_supported_and_flow_nodes_are_checked(broken):
    _break(broken, "id: student-wants-to-talk", "id: vape-handed-over")
    _break(broken, "flow: out-talk", "flow: talk-it-out")
    _break(broken, "flow: out-rule", "flow: what")  # a question, not an outcome
    _break(broken, "        supported: true\n        flow: out-safety-iep", "        flow: out-safety-iep")
    errors = _errors(broken)
    assert any("'vape-handed-over' is used twice" in e for e in errors)
    assert "scenarios.yaml: scenarios[2].choices[0].flow: 'talk-it-out' is not an outcome of the decision flow" in errors
    assert "scenarios.yaml: scenarios[0].choices[0].flow: 'what' is not an outcome of the decision flow" in errors
    assert any(
        "scenarios[1].choices: exactly one choice must be the one the guidance supports (supported: true); 0 are" in e
        for e in errors
    )


def test_too_few_choices_and_too_long_a_situation_are_caught(broken):
    text = (broken / SCENARIOS_FILE).read_text(encoding="utf-8")
    start = text.index("  - id: student-wants-to-talk")
    end = text.index("  - id: asked-to-deliver-suspension")
    one_choice = text[start:end].split('      - label: "Listen')[0]
    one_choice = one_choice.replace("flow: out-talk\n", "flow: out-talk\n        supported: true\n", 1)
    long_situation = "      " + "The hallway is loud. " * 40 + "\n"
    one_choice = one_choice.replace("    situation: |\n", "    situation: |\n" + long_situation, 1)
    (broken / SCENARIOS_FILE).write_text(text[:start] + one_choice + text[end:], encoding="utf-8")
    errors = _errors(broken)
    assert "scenarios.yaml: scenarios[2].choices: needs 2 to 4 choices (has 1)" in errors
    assert any("keep it to 600" in e for e in errors)


def test_a_broken_scenario_file_fails_the_content_check_command(broken):
    _break(broken, "scenarios:\n", "scenarios: [\n")
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "content", "check"],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "FIELDGUIDE_CONTENT_DIR": str(broken)},
    )
    assert result.returncode == 1
    assert "scenarios.yaml: -: is not valid YAML" in result.stderr


def test_a_missing_scenario_file_is_reported(broken):
    (broken / SCENARIOS_FILE).unlink()
    assert "scenarios.yaml: -: file is missing" in _errors(broken)


# --- releases carry them -------------------------------------------------------------------------


async def test_a_new_agency_release_carries_the_base_scenarios_in_its_manifest_hash(app):
    release = await Release.get(agency__slug="demo", number=1)
    content = load_content(CONTENT)
    assert release.scenarios == content.scenarios
    view = await load_release(release)
    cards = [(c["id"], c["hash"]) for c in view.cards]
    args = (1, cards, release.categories, release.flow, release.due_at, release.requires_ack)
    assert release.manifest_hash == manifest_hash(*args, release.scenarios)
    # A release from before scenarios (None) keeps the hash it was stored with.
    assert manifest_hash(*args) != manifest_hash(*args, release.scenarios)
    assert manifest_hash(*args, None) == manifest_hash(*args)


async def test_a_release_before_scenarios_is_lent_the_base_ones_and_the_next_release_keeps_its_own(app):
    agency = await Agency.get(slug="demo")
    old = await publish_revision(agency=agency, touch="teacher")
    assert old.scenarios is not None  # kept from release 1
    await Release.filter(id=old.id).update(scenarios=None)  # as if published before scenarios existed
    old = await Release.get(id=old.id)
    base = load_content(CONTENT).scenarios
    lent = await load_release(old, base)
    bare = await load_release(old)
    assert lent.scenarios == base and lent.scenarios_from_base
    assert bare.scenarios == [] and lent.etag != bare.etag
    newer = await publish_revision(agency=agency, touch="teacher")
    assert newer.scenarios is None  # publish_release keeps what the release before had


# --- the officer's pages -------------------------------------------------------------------------


async def test_practice_pages_hold_every_outcome_and_its_passages(officer):
    page = await officer.get("/practice")
    assert page.status_code == 200
    assert 'href="/practice/vape-handed-over"' in page.text
    assert "Nothing you pick is recorded or sent" in page.text
    page = await officer.get("/practice/vape-handed-over")
    assert page.status_code == 200
    html = page.text
    for n in (1, 2, 3):
        assert f'href="#choice-{n}"' in html and f'id="choice-{n}"' in html
    assert html.count("Not what the guidance supports") == 2
    assert html.count("What the guidance supports") == 1
    # Each outcome shows the statement's words it rests on, and links to its flow outcome.
    assert str(escape("Prohibit SROs from becoming involved in formal school discipline situations")) in html
    assert 'id="sources-2"' in html and 'href="/flow/out-rule"' in html
    assert "[§" not in html
    # No form and no script of its own: a choice asks the server nothing.
    main = html[html.index("<main"):html.index("</main>")]
    assert "<form" not in main and "<script" not in main
    home = await officer.get("/")
    assert 'href="/practice"' in home.text
    assert 'href="/practice"' in (await officer.get("/flow")).text


async def test_an_unknown_scenario_is_not_found(officer):
    page = await officer.get("/practice/no-such-scenario")
    assert page.status_code == 404
    assert "no such practice scenario" in page.text


async def test_the_offline_copy_carries_the_practice_pages(officer):
    body = (await officer.get("/api/v1/sync")).json()
    content = load_content(CONTENT)
    assert "/practice" in body["pages"]
    for scenario in content.scenarios:
        page = body["pages"][f"/practice/{scenario['id']}"]
        assert str(escape(scenario["title"])) in page["title"]
        assert 'id="choice-1"' in page["main"]


# --- the admin builds the agency's own ---------------------------------------------------------


def scenario_form(**overrides) -> dict:
    """The admin form of a valid agency scenario (as a browser sends it), with fields replaced."""
    form = {
        "id": "fire-alarm-pulled",
        "title": "Someone pulled the fire alarm",
        "situation": "The fire alarm goes off during lunch. A teacher says a student pulled it and wants you to handle him.",
        "supported": "1",
        "c0_label": "Question him and decide the consequence",
        "c0_text": "Formal school discipline is the administrators' responsibility.",
        "c0_flow": "out-rule",
        "c0_passages": ["mou-no-discipline"],
        "c1_label": "Point the teacher to an administrator",
        "c1_text": "Formal school discipline is the administrators' responsibility.\r\nWhether it is also a crime is for your agency's policy and MOU.",
        "c1_flow": "out-rule",
        "c1_passages": ["mou-no-discipline", "local"],
    }
    form.update(overrides)
    return form


async def _post_scenario(admin, draft_url: str, scenario_id: str | None = None, **overrides):
    url = f"{draft_url}/scenarios" + (f"/{scenario_id}" if scenario_id else "")
    token = await csrf_token(admin, f"{draft_url}/scenarios/{scenario_id or 'new'}")
    return await admin.post(url, data={"csrf_token": token, **scenario_form(**overrides)})


async def test_admins_add_edit_and_remove_scenarios_reviewed_and_published_with_the_draft(app):
    async with client_as(app, "admin@demo.test") as admin, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await start_draft(admin)
        draft_id = int(draft_url.rsplit("/", 1)[-1])
        response = await _post_scenario(admin, draft_url)
        assert response.status_code == 303, response.text
        assert response.headers["location"].startswith(f"{draft_url}/scenarios?done=saved")
        listing = await admin.get(f"{draft_url}/scenarios")
        assert "Someone pulled the fire alarm" in listing.text and "added in this draft" in listing.text

        # Edit a NASRO one: it becomes the agency's; typed ties are not kept.
        edit = await _post_scenario(
            admin, draft_url, "vape-handed-over", title="A teacher hands you a vape pen",
            c0_text="Discipline belongs to administrators. [§ device-arrest]",
        )
        assert edit.status_code == 303, edit.text
        await post(admin, f"{draft_url}/scenarios/cuffs-to-hold-a-student/remove")
        draft = await Draft.get(id=draft_id)
        ids = [s["id"] for s in draft.scenarios]
        assert "fire-alarm-pulled" in ids and "cuffs-to-hold-a-student" not in ids
        vape = next(s for s in draft.scenarios if s["id"] == "vape-handed-over")
        assert vape["by"] == "agency" and vape["title"] == "A teacher hands you a vape pen"
        assert vape["choices"][0]["outcome"] == "Discipline belongs to administrators. [§ mou-no-discipline]"

        page = (await admin.get(draft_url)).text
        assert "Added: Someone pulled the fire alarm" in page
        assert "Edited: A teacher hands you a vape pen" in page
        assert "Removed: Staff want a student in cuffs until a parent comes" in page
        actions = await AuditEntry.filter(target=f"draft {draft_id}", action__startswith="scenario.").values_list(
            "action", flat=True
        )
        assert sorted(actions) == ["scenario.add", "scenario.edit", "scenario.remove"]

        release = await review_and_publish(admin, reviewer, draft_url, summary="Practice scenarios for our schools.")
        assert [s["id"] for s in release.scenarios] == ids
        assert release.manifest_hash != (await Release.get(agency__slug="demo", number=1)).manifest_hash

    async with client_as(app, "officer@demo.test") as officer:
        page = (await officer.get("/practice/fire-alarm-pulled")).text
        assert "Written by your agency" in page
        assert "Whether it is also a crime is for your agency" in page
        assert (await officer.get("/practice/cuffs-to-hold-a-student")).status_code == 404


async def test_a_draft_that_only_changes_scenarios_can_be_submitted(app):
    async with client_as(app, "admin@demo.test") as admin, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await start_draft(admin)
        await post(admin, f"{draft_url}/scenarios/arrest-iep-unknown/remove")
        release = await review_and_publish(admin, reviewer, draft_url, summary="One scenario less.")
        assert "arrest-iep-unknown" not in [s["id"] for s in release.scenarios]
        assert len(release.scenarios) == 5


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"supported": ""}, "mark the one choice the guidance supports"),
        ({"c0_passages": []}, "tick what this outcome rests on"),
        ({"c0_flow": ""}, "choose the “Should I step in?” outcome it matches"),
        ({"c1_label": "", "c1_text": "", "supported": "0"}, "needs 2 to 4 choices (has 1)"),
        ({"c1_passages": ["local"]}, "must rest on at least one passage of the statement"),
        ({"c1_passages": ["made-up-passage"]}, "cites &#39;made-up-passage&#39;, which is not a passage"),
        ({"c0_flow": "what"}, "&#39;what&#39; is not an outcome of the decision flow"),
        ({"id": "vape-handed-over"}, "&#39;vape-handed-over&#39; is used twice"),
        ({"id": "Not A Slug"}, "is not a lowercase-hyphen slug"),
        ({"id": "new"}, "is reserved"),
        ({"title": ""}, "title: is required"),
        ({"situation": "x" * 601}, "keep it to 600"),
    ],
    ids=["no supported", "no passages", "no flow", "one choice", "local only", "unknown passage", "not an outcome", "duplicate id",
         "bad id", "reserved id", "no title", "too long"],
)
async def test_a_bad_scenario_gets_a_clear_error_keeps_the_text_and_saves_nothing(app, overrides, message):
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await start_draft(admin)
        response = await _post_scenario(admin, draft_url, **overrides)
        assert response.status_code == 400
        assert "This scenario was not saved" in response.text
        assert message in response.text, response.text[response.text.find("form-errors"):][:800]
        kept = overrides.get("c0_label", "Question him and decide the consequence")
        assert str(escape(kept)) in response.text
    assert (await Draft.get(agency__slug="demo")).scenarios is None
    assert not await AuditEntry.filter(action__startswith="scenario.").exists()


async def test_an_expired_form_keeps_the_text_and_a_draft_in_review_cannot_be_edited(app):
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await start_draft(admin)
        response = await admin.post(f"{draft_url}/scenarios", data={"csrf_token": "stale", **scenario_form()})
        assert response.status_code == 403 and "This form had expired" in response.text
        assert "Someone pulled the fire alarm" in response.text
        await _post_scenario(admin, draft_url)
        await post(admin, f"{draft_url}/details", {"summary": "Scenarios.", "due_at": ""})
        assert (await post(admin, f"{draft_url}/submit")).status_code == 303
        response = await _post_scenario(admin, draft_url, "fire-alarm-pulled", title="Changed")
        assert response.status_code == 409 and "cannot be edited now" in response.text
        response = await post(admin, f"{draft_url}/scenarios/fire-alarm-pulled/remove")
        assert response.status_code == 409
        response = await admin.get(f"{draft_url}/scenarios/no-such-one")
        assert response.status_code == 404
    draft = await Draft.get(agency__slug="demo")
    assert [s["title"] for s in draft.scenarios if s["id"] == "fire-alarm-pulled"] == ["Someone pulled the fire alarm"]


async def test_officers_and_supervisors_cannot_edit_scenarios(app):
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await start_draft(admin)
    for email in ("officer@demo.test", "supervisor@demo.test"):
        async with client_as(app, email) as person:
            url = f"{draft_url}/scenarios"
            response = await person.post(url, data={"csrf_token": await csrf_token(person, "/"), **scenario_form()})
            assert response.status_code == 403
    assert (await Draft.get(agency__slug="demo")).scenarios is None
