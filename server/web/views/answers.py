"""The understanding check's answers: POST /api/v1/answers (the phone's outbox) and the form without JavaScript."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from server.acknowledgments.answers import answers_body, record_answers
from server.errors import Conflict, Invalid
from server.guidance.questions import release_questions
from server.models import ReleaseQuestion
from server.params import parse_release_number, whole_number
from server.web.request_body import json_object
from server.web.views.changes import changes_page
from server.web.views.common import release_for, require_csrf, signed_in

NO_STORE = {"Cache-Control": "no-store"}


async def api_record(request: Request) -> Response:
    """POST /api/v1/answers: record every answer of a release's check; 201 when new, 200 with those recorded before."""
    await require_csrf(request)
    _, user = await signed_in(request)
    body = await json_object(request)
    release = await release_for(request, user, parse_release_number(body.get("release")))
    answered = await record_answers(user, release, body)
    return JSONResponse(
        answers_body(answered.rows, release.number),
        status_code=201 if answered.created else 200,
        headers=NO_STORE,
    )


def _choice(raw, question: ReleaseQuestion, field: str) -> int:
    value = whole_number(raw)
    if value is None or value >= len(question.choices):
        raise Invalid(f"{field} must be one of the question's answers.", {field: "invalid"})
    return value


def form_tries(form, index: int, question: ReleaseQuestion) -> list[int]:
    """A question's tries so far (the hidden field tries{index}) plus the choice picked now (q{index})."""
    tries = [_choice(t, question, f"tries{index}") for t in str(form.get(f"tries{index}", "")).split()]
    picked = form.get(f"q{index}")
    if picked is not None and (not tries or tries[-1] != question.answer):
        choice = _choice(picked, question, f"q{index}")
        if choice not in tries:
            tries.append(choice)
    return tries


async def check_form(request: Request) -> Response:
    """POST /releases/{number}/check: the check without JavaScript; the page again with why each wrong answer is wrong,
    until every answer is right, then recorded as the phone's are."""
    form = await require_csrf(request)
    _, user = await signed_in(request)
    release = await release_for(request, user, request.path_params["number"])
    questions = await release_questions(release.id)
    if not questions:
        raise Conflict(f"Release {release.number} has no understanding check: there is nothing to answer.")
    tries = [form_tries(form, index, q) for index, q in enumerate(questions)]
    if all(t and t[-1] == q.answer for q, t in zip(questions, tries)):
        answers = [{"question": q.hash, "tries": t} for q, t in zip(questions, tries)]
        await record_answers(user, release, {"uuid": form.get("check_uuid"), "answers": answers})
        return RedirectResponse(f"/releases/{release.number}/changes#check", status_code=303)
    trying = {q.hash: t for q, t in zip(questions, tries)}
    return await changes_page(request, user, release, release.number - 1, trying)
