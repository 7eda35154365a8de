"""An agency's practice scenarios in a draft: add, edit or remove one; published with the draft.

The draft keeps the whole list (Draft.scenarios; None until the first change keeps the
release's). An agency's scenario has the shape of a NASRO one; each line of its outcomes rests
on the statement passages (or [§ local]) the admin picked for that choice, and it is shown to
officers as written by the agency, with those passages word for word beside it.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from server.errors import Invalid, NotFound
from server.guidance import provenance
from server.guidance.drafts import WorkingCopy, draft_target, require_editable
from server.guidance.scenarios import (
    AGENCY,
    MAX_CHOICES,
    MAX_SCENARIOS,
    check_scenarios,
    scenario_data,
)
from server.models import Draft
from server.people import audit

ACTIONS = ["scenario.add", "scenario.edit", "scenario.remove"]


def tie_lines(outcome: str, passages: list[str]) -> str:
    """An outcome typed by an admin, each line tied to the passages picked (typed ties removed)."""
    tie = ", ".join(dict.fromkeys(p for p in passages if p))
    lines = [provenance.strip_ties(provenance.clean_text(line)).strip() for line in outcome.split("\n")]
    return "\n".join(f"{line} [§ {tie}]" if tie else line for line in lines if line)


def form_values(scenario: dict) -> dict:
    """A scenario as the admin form shows it: each outcome's words and the passages it rests on."""
    choices = []
    for choice in scenario["choices"]:
        lines = provenance.reading_lines(choice["outcome"])
        passages = list(dict.fromkeys(t for line in lines for t in line.ties or ()))
        choices.append(dict(choice, text="\n".join(line.text for line in lines), passages=passages))
    while len(choices) < MAX_CHOICES:
        choices.append({"label": "", "text": "", "flow": "", "passages": [], "supported": False})
    return dict(scenario, choices=choices)


def from_form(values: dict) -> dict:
    """The scenario an admin's form describes: {id, title, situation, supported, choices: [...]}.

    Blank choices are left out; `supported` is the index (among the form's choices) of the one
    the guidance supports.
    """
    supported = str(values.get("supported") or "")
    choices = []
    for i, choice in enumerate(values.get("choices") or []):
        if not (choice.get("label") or "").strip() and not (choice.get("text") or "").strip():
            continue
        choices.append(
            {
                "label": choice.get("label") or "",
                "outcome": tie_lines(str(choice.get("text") or "").replace("\r\n", "\n"), choice.get("passages") or []),
                "flow": choice.get("flow") or "",
                "supported": supported == str(i),
            }
        )
    return scenario_data(
        {"id": values.get("id"), "title": values.get("title"), "situation": values.get("situation"), "choices": choices},
        AGENCY,
    )


def problems(wc: WorkingCopy, scenario: dict, passages: dict, *, replacing: str | None) -> list:
    """The checks of one scenario in the draft: its shape, ties, flow outcomes and a free id."""
    others = [s for s in wc.scenarios if s["id"] != replacing]
    if len(others) >= MAX_SCENARIOS:
        raise Invalid(f"A release holds at most {MAX_SCENARIOS} practice scenarios: remove one first.")
    found = check_scenarios([*others, scenario], passages, wc.release.flow)
    where = f"scenarios[{len(others)}]"
    return [e for e in found if e.field.startswith(where) or "used twice" in e.message]


async def _write(wc: WorkingCopy, change, actor, action: str, scenario_id: str) -> None:
    async with in_transaction() as conn:
        # On PostgreSQL this row lock makes two admins' saves apply one after the other.
        fresh = await Draft.filter(id=wc.draft.id).using_db(conn).select_for_update().first()
        require_editable(fresh)
        kept = fresh.scenarios if fresh.scenarios is not None else wc.release.scenarios
        scenarios = change([dict(s) for s in kept])
        await Draft.filter(id=wc.draft.id).using_db(conn).update(scenarios=scenarios)
        await audit.record(
            wc.draft.agency_id, actor, action, draft_target(wc.draft),
            details={"scenario": scenario_id}, connection=conn,
        )
    wc.draft.scenarios = scenarios


async def save_scenario(wc: WorkingCopy, scenario: dict, actor, passages: dict, *, replacing: str | None) -> None:
    """Add a scenario to the draft, or replace the one with id `replacing`; Invalid lists the problems."""
    require_editable(wc.draft)
    if replacing is not None and replacing not in {s["id"] for s in wc.scenarios}:
        raise NotFound(f"There is no practice scenario “{replacing}” in this draft.")
    found = problems(wc, scenario, passages, replacing=replacing)
    if found:
        raise Invalid(
            "The scenario has problems: " + "; ".join(f"{e.field}: {e.message}" for e in found),
            {"errors": [{"field": e.field, "message": e.message} for e in found]},
        )

    def change(scenarios: list[dict]) -> list[dict]:
        if replacing is None:
            if scenario["id"] in {s["id"] for s in scenarios}:
                raise Invalid(f"{scenario['id']!r} is already used by another scenario; choose another id.")
            return [*scenarios, scenario]
        return [scenario if s["id"] == replacing else s for s in scenarios]

    await _write(wc, change, actor, "scenario.add" if replacing is None else "scenario.edit", scenario["id"])


async def remove_scenario(wc: WorkingCopy, scenario_id: str, actor) -> None:
    """Leave a scenario out of the next release."""
    require_editable(wc.draft)
    if scenario_id not in {s["id"] for s in wc.scenarios}:
        raise NotFound(f"There is no practice scenario “{scenario_id}” in this draft.")
    await _write(wc, lambda items: [s for s in items if s["id"] != scenario_id], actor, "scenario.remove", scenario_id)

