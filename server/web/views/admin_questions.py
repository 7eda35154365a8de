"""The understanding check in a draft: the form to write or change a question, and removing or moving one."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from server.errors import DomainError
from server.guidance import questions
from server.guidance.drafts import WorkingCopy
from server.guidance.rendering import render_markdown
from server.params import whole_number
from server.people.auth import csrf_ok
from server.web.errors import ApiError, status_of
from server.web.views.admin_common import admin, admin_post, back_to, draft_copy
from server.web.views.common import page

NOT_EDITABLE = (
    "This draft is in review or approved, so its questions cannot be changed now. "
    "Your text is kept below; a reviewer can send the draft back for changes."
)
EXPIRED = "This form had expired. Your text is below: check it and press Save again."
# The input each checked field is typed in, for the error's link and aria-invalid.
FIELD_INPUTS = {
    "card_id": "q-card", "text": "q-text", "choices": "q-choice-0", "answer": "q-answer-0",
    "explanation": "q-explanation", "passage": "q-passage",
}


def _line(form: FormData, name: str) -> str:
    return str(form.get(name) or "").replace("\r\n", "\n").strip()


def values_from_form(form: FormData) -> dict:
    """check_question's arguments from the form: four answer boxes (blank ones dropped) and the right one."""
    answer = whole_number(str(form.get("answer") or ""))
    return {
        "card_id": _line(form, "card_id"),
        "text": _line(form, "text"),
        "choices": [_line(form, f"choice_{i}") for i in range(questions.MAX_CHOICES)],
        "answer": answer if answer is not None else -1,
        "explanation": _line(form, "explanation"),
        "passage": _line(form, "passage"),
    }


def _form_of(question) -> dict:
    choices = list(question.choices) + [""] * (questions.MAX_CHOICES - len(question.choices))
    return {
        "card_id": question.card_id, "text": question.text, "choices": choices, "answer": question.answer,
        "explanation": question.explanation, "passage": question.passage,
    }


def _question_page(
    request: Request,
    wc: WorkingCopy,
    values: dict,
    *,
    question_id: int | None = None,
    message: str | None = None,
    field: str | None = None,
    status_code: int = 200,
) -> Response:
    changed = questions.changed_cards(wc)
    cards = [c for c in wc.cards if c["id"] in changed]
    card = changed.get(values.get("card_id"))
    return page(
        request,
        "views/admin/question_edit.html",
        {
            "draft": wc.draft,
            "question_id": question_id,
            "values": values,
            "cards": cards,
            "card": card,
            # Sanitized and without the statement ties: the words a passage is copied from.
            "card_html": render_markdown(card["body"]) if card else "",
            "editable": wc.editable,
            "message": message,
            "field": field,
            "field_input": FIELD_INPUTS.get(field or ""),
            "limits": {
                "text": questions.MAX_TEXT, "choice": questions.MAX_CHOICE,
                "explanation": questions.MAX_EXPLANATION, "passage": questions.MAX_PASSAGE,
            },
            "count": len(wc.questions),
            "max_questions": questions.MAX_QUESTIONS,
            "action": request.url.path,
        },
        status_code=status_code,
    )


def _find(wc: WorkingCopy, question_id: int):
    question = next((q for q in wc.questions if q.id == question_id), None)
    if question is None:
        raise ApiError(404, "This draft has no such question.")
    return question


async def new_form(request: Request) -> Response:
    """GET: an empty question, about the card named in ?card= when it is one the draft changes."""
    _, user = await admin(request)
    wc = await draft_copy(request, user)
    card_id = request.query_params.get("card", "")
    values = {"card_id": card_id, "text": "", "choices": [""] * questions.MAX_CHOICES, "answer": -1,
              "explanation": "", "passage": ""}
    message = None if wc.editable else NOT_EDITABLE
    if wc.editable and len(wc.questions) >= questions.MAX_QUESTIONS:
        message = f"This draft already has {questions.MAX_QUESTIONS} questions, the most a release can have: remove one to add another."
    elif wc.editable and not questions.changed_cards(wc):
        message = "Questions are about the cards a draft adds or changes: edit or add a card first."
    return _question_page(request, wc, values, message=message)


async def edit_form(request: Request) -> Response:
    """GET: one of the draft's questions in the form."""
    _, user = await admin(request)
    wc = await draft_copy(request, user)
    question = _find(wc, request.path_params["question_id"])
    message = None if wc.editable else NOT_EDITABLE
    return _question_page(request, wc, _form_of(question), question_id=question.id, message=message)


async def add(request: Request) -> Response:
    """POST: check and add a new question (the form comes back with its text and the message on error)."""
    return await _save(request, question_id=None)


async def save(request: Request) -> Response:
    """POST: check and save a changed question (the form comes back with its text and the message on error)."""
    return await _save(request, question_id=request.path_params["question_id"])


async def _save(request: Request, question_id: int | None) -> Response:
    session, user = await admin(request)
    form = await request.form()
    wc = await draft_copy(request, user)
    if question_id is not None:
        _find(wc, question_id)
    values = values_from_form(form)
    if not csrf_ok(session.csrf_token, str(form.get("csrf_token") or "")):
        return _question_page(request, wc, values, question_id=question_id, message=EXPIRED, status_code=403)
    try:
        if question_id is None:
            saved = await questions.add_question(wc, values, user)
        else:
            saved = await questions.edit_question(wc, question_id, values, user)
    except DomainError as exc:
        return _question_page(
            request, wc, values, question_id=question_id, message=exc.message,
            field=exc.details.get("field"), status_code=status_of(exc),
        )
    return back_to(f"/admin/drafts/{wc.draft.id}?done=question#question-{saved.id}")


async def remove(request: Request) -> Response:
    """POST: remove one of the draft's questions."""
    await admin_post(request)
    _, user = await admin(request)
    wc = await draft_copy(request, user)
    await questions.remove_question(wc, request.path_params["question_id"], user)
    return back_to(f"/admin/drafts/{wc.draft.id}?done=question_remove#questions")


async def move(request: Request) -> Response:
    """POST: move one of the draft's questions up or down."""
    form = await admin_post(request)
    _, user = await admin(request)
    wc = await draft_copy(request, user)
    question_id = request.path_params["question_id"]
    await questions.move_question(wc, question_id, str(form.get("direction") or ""), user)
    return back_to(f"/admin/drafts/{wc.draft.id}?done=question_move#question-{question_id}")
