"""Admin pages for a draft's practice scenarios: the list, and a no-JS form to add or edit one."""

from __future__ import annotations

import re

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from server.errors import Invalid
from server.guidance.draft_scenarios import (
    form_values,
    from_form,
    remove_scenario,
    save_scenario,
)
from server.guidance.drafts import WorkingCopy, slugify
from server.guidance.scenarios import MAX_CHOICES, MAX_LENGTHS, flow_outcomes
from server.people.auth import csrf_ok
from server.web.errors import ApiError
from server.web.views.admin_common import admin, admin_post, back_to, draft_copy
from server.web.views.common import page

NOT_EDITABLE = (
    "This draft is in review or approved, so its scenarios cannot be edited now. "
    "Your text is kept below; a reviewer can send the draft back for changes."
)
NOTICES = {"saved": "Scenario saved in the draft.", "removed": "Scenario removed from the draft."}
# The content check's words for authors of content/scenarios.yaml, said as the form asks it.
FORM_WORDS = (
    ("has no tie", "tick what this outcome rests on: the statement's passages (or your agency's policy or MOU)"),
    ("(supported: true)", "mark the one choice the guidance supports"),
    ("'' is not an outcome", "choose the “Should I step in?” outcome it matches"),
)
# …/scenarios/new is the form for a new scenario, so no scenario may take "new" as its id.
NEW = "new"


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "").replace("\r\n", "\n").strip()


def scenario_from_form(form: FormData, scenario_id: str | None) -> dict:
    """The scenario an admin's form describes (its id fixed when editing, else typed or from the title)."""
    choices = [
        {
            "label": _text(form, f"c{i}_label"),
            "text": _text(form, f"c{i}_text"),
            "flow": _text(form, f"c{i}_flow"),
            "passages": [str(p) for p in form.getlist(f"c{i}_passages")],
        }
        for i in range(MAX_CHOICES)
    ]
    title = _text(form, "title")
    return from_form(
        {
            "id": scenario_id or _text(form, "id").lower() or slugify(title),
            "title": title,
            "situation": _text(form, "situation"),
            "supported": _text(form, "supported"),
            "choices": choices,
        }
    )


_WHERE = re.compile(r"^scenarios\[\d+\]\.?")
_CHOICE = re.compile(r"choices\[(\d+)\]")


def friendly(error: dict) -> dict:
    """A problem as the form shows it: "Choice 2 label" rather than scenarios[6].choices[1].label, and its input."""
    field = _WHERE.sub("", str(error.get("field") or "")) or "scenario"
    match = _CHOICE.search(field)
    name = _CHOICE.sub(lambda m: f"choice {int(m.group(1)) + 1}", field).replace(".", " ")
    part = field.rsplit(".", 1)[-1].split(" ")[0]
    if match:
        target = f"f-c{match.group(1)}-{part if part in ('label', 'flow') else 'text'}"
    else:
        target = {"id": "f-id", "title": "f-title", "situation": "f-situation"}.get(part, "f-c0-label")
    message = str(error.get("message", ""))
    for words, plain in FORM_WORDS:
        if words in message:
            message = plain
    return {"field": name, "message": message, "input": target}


def _passage_groups(request: Request) -> list[tuple[str, list]]:
    groups: dict[str, list] = {}
    for passage in request.app.state.fragments.passages.values():
        groups.setdefault(passage.heading, []).append(passage)
    return list(groups.items())


def _form(
    request: Request,
    wc: WorkingCopy,
    scenario: dict,
    *,
    new: bool,
    errors: list[dict] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "views/admin/scenario_edit.html",
        {
            "wc": wc,
            "draft": wc.draft,
            "scenario": form_values(scenario),
            "new": new,
            "errors": [friendly(e) for e in errors or []],
            "message": message,
            "outcomes": flow_outcomes(wc.release.flow),
            "passage_groups": _passage_groups(request),
            "lengths": MAX_LENGTHS,
            "action": f"/admin/drafts/{wc.draft.id}/scenarios" + ("" if new else f"/{scenario['id']}"),
        },
        status_code=status_code,
    )


def _find(wc: WorkingCopy, scenario_id: str) -> dict:
    found = next((s for s in wc.scenarios if s["id"] == scenario_id), None)
    if found is None:
        raise ApiError(404, f"There is no practice scenario “{scenario_id}” in this draft.")
    return found


async def scenarios(request: Request) -> Response:
    """GET: the draft's practice scenarios, with what it changes against the release."""
    _, user = await admin(request)
    wc = await draft_copy(request, user)
    changed = {c["id"]: c["change"] for c in wc.scenario_changes()}
    return page(
        request,
        "views/admin/scenarios.html",
        {
            "wc": wc,
            "draft": wc.draft,
            "scenarios": wc.scenarios,
            "changed": changed,
            "removed": [c for c in wc.scenario_changes() if c["change"] == "removed"],
            "notice": NOTICES.get(request.query_params.get("done", "")),
        },
    )


async def edit_form(request: Request) -> Response:
    """GET: the form for one scenario of the draft, or (at …/scenarios/new) for a new one."""
    _, user = await admin(request)
    wc = await draft_copy(request, user)
    scenario_id = request.path_params["scenario_id"]
    new = scenario_id == NEW
    if new:
        scenario = {"id": "", "title": "", "situation": "", "by": "agency", "choices": []}
    else:
        scenario = _find(wc, scenario_id)
    return _form(request, wc, scenario, new=new, message=None if wc.editable else NOT_EDITABLE)


async def add(request: Request) -> Response:
    """POST: save a new scenario in the draft (the form comes back with the problems, text kept)."""
    return await _save(request, None)


async def save(request: Request) -> Response:
    """POST: save an edited scenario in the draft."""
    return await _save(request, request.path_params["scenario_id"])


async def _save(request: Request, scenario_id: str | None) -> Response:
    session, user = await admin(request)
    form = await request.form()
    wc = await draft_copy(request, user)
    if scenario_id is not None:
        _find(wc, scenario_id)
    scenario = scenario_from_form(form, scenario_id)
    new = scenario_id is None
    if not csrf_ok(session.csrf_token, str(form.get("csrf_token") or "")):
        return _form(
            request, wc, scenario, new=new, status_code=403,
            message="This form had expired. Your text is below: check it and press Save again.",
        )
    if not wc.editable:
        return _form(request, wc, scenario, new=new, status_code=409, message=NOT_EDITABLE)
    if new and scenario["id"] == NEW:
        errors = [{"field": "id", "message": f"{scenario['id']!r} is reserved; choose another id"}]
        return _form(request, wc, scenario, new=new, errors=errors, status_code=400)
    try:
        await save_scenario(wc, scenario, user, request.app.state.fragments.passages, replacing=scenario_id)
    except Invalid as exc:
        errors = exc.details.get("errors") or [{"field": "scenario", "message": exc.message}]
        return _form(request, wc, scenario, new=new, errors=errors, status_code=400)
    return back_to(f"/admin/drafts/{wc.draft.id}/scenarios?done=saved#scenario-{scenario['id']}")


async def remove(request: Request) -> Response:
    """POST: leave a scenario out of the next release."""
    await admin_post(request)
    _, user = await admin(request)
    wc = await draft_copy(request, user)
    await remove_scenario(wc, request.path_params["scenario_id"], user)
    return back_to(f"/admin/drafts/{wc.draft.id}/scenarios?done=removed")
