"""A draft's page: its changes with a redline, its details, and the review steps up to publishing."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from starlette.requests import Request
from starlette.responses import Response

from server import clock
from server.errors import DomainError, Invalid, NotFound
from server.guidance import questions, review
from server.guidance.drafts import (
    ACTIVE,
    STATUS_LABELS,
    WorkingCopy,
    set_details,
    start_draft,
)
from server.mail.config import mail_for
from server.models import Draft, Release, User
from server.push.runtime import wake_senders
from server.web.errors import ApiError, status_of
from server.web.views.admin_common import (
    admin,
    admin_post,
    agency_of,
    back_to,
    draft_copy,
    sources,
)
from server.web.views.common import page

NOTICES = {
    "retire": "Card marked to be retired: it leaves officers' devices when this draft is published.",
    "discard": "This draft's change to the card was undone.",
    "move": "Card moved.",
    "details": "Summary and due date saved.",
    "submit": "Submitted for review. Another admin can now approve it or send it back.",
    "approve": "Approved. It can now be published.",
    "send_back": "Sent back to the author with your comment.",
    "withdraw": "The draft was withdrawn. Nothing was published.",
    "question": "Question saved.",
    "question_remove": "Question removed.",
    "question_move": "Question moved.",
}


def due_date_value(wc: WorkingCopy) -> str:
    """The due date shown in the form: the saved one, or the default 14 days from today."""
    due = wc.draft.due_at or clock.now() + timedelta(days=review.DEFAULT_DUE_DAYS)
    return due.date().isoformat()


def parse_due(raw: str) -> datetime | None:
    """A YYYY-MM-DD date from the form, as the end of that day (UTC); None when empty."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise Invalid(f"“{raw}” is not a date: use the date picker or YYYY-MM-DD.") from None
    if day < clock.now().date():
        raise Invalid("The acknowledgment due date cannot be in the past.")
    return datetime.combine(day, time(23, 59, 59), tzinfo=timezone.utc)


async def _names(*ids: int | None) -> dict[int, str]:
    wanted = [i for i in ids if i]
    return {u.id: u.name for u in await User.filter(id__in=wanted)} if wanted else {}


async def draft_page(request: Request, wc: WorkingCopy | None = None, *, error: str | None = None,
                     form: dict | None = None, status_code: int = 200) -> Response:
    """GET: the draft with its changes, details and the review step its status allows."""
    _, user = await admin(request)
    wc = wc or await draft_copy(request, user)
    draft = wc.draft
    agency = await agency_of(user)
    self_ok = await review.may_self_approve(agency)
    worked_on = user.id in await review.contributors(draft)
    names = await _names(draft.author_id, draft.reviewer_id)
    groups = []
    for category in wc.release.categories:
        cards = [c for c in wc.cards if c["category"] == category["id"]]
        if cards:
            groups.append((category, cards))
    retired = [c for c in wc.release.cards if c["id"] not in wc.by_id]
    changes, requires_ack = review.release_changes(wc)
    published = await Release.get_or_none(id=draft.published_release_id) if draft.published_release_id else None
    notice = NOTICES.get(request.query_params.get("done", ""))
    saved = request.query_params.get("saved")
    if saved in wc.by_id:
        notice = f"Saved “{wc.by_id[saved]['title']}” to the draft."
    return page(
        request,
        "views/admin/draft.html",
        {
            "wc": wc,
            "draft": draft,
            "status": draft.status.value,
            "status_label": STATUS_LABELS[draft.status],
            "changes": wc.changes(),
            "order_changed": wc.order_changed(),
            "realigned": [wc.by_id[cid]["title"] for cid in wc.realigned()],
            "release_changes": changes,
            "requires_ack": requires_ack,
            "groups": groups,
            "retired": retired,
            "author": names.get(draft.author_id, "—"),
            "reviewer": names.get(draft.reviewer_id) if draft.reviewer_id else None,
            "can_approve": self_ok or not worked_on,
            "self_ok": self_ok,
            "fingerprint": wc.fingerprint(),
            "due_value": (form or {}).get("due_at", due_date_value(wc)),
            "summary_value": (form or {}).get("summary", draft.summary),
            "comment_value": (form or {}).get("comment", ""),
            "error": error,
            "notice": notice,
            "published": published,
            "check": check_context(wc, agency, requires_ack),
        },
        status_code=status_code,
    )


def check_context(wc: WorkingCopy, agency, requires_ack: bool) -> dict:
    """The draft page's understanding check: its questions, what stops them publishing, and the agency's rule."""
    changed = questions.changed_cards(wc)
    # A published or withdrawn draft is shown on top of the current release: nothing to check.
    active = wc.draft.status in ACTIVE
    return {
        "questions": [
            {"q": q, "title": wc.by_id[q.card_id]["title"] if q.card_id in wc.by_id else q.card_id}
            for q in wc.questions
        ],
        "active": active,
        "problems": questions.problems(wc, wc.questions) if active else [],
        "can_add": wc.editable and bool(changed) and len(wc.questions) < questions.MAX_QUESTIONS,
        "has_changed_cards": bool(changed),
        "max": questions.MAX_QUESTIONS,
        "required": agency.require_check and requires_ack,
        "require_check": agency.require_check,
    }


async def show(request: Request) -> Response:
    """GET /admin/drafts/{id}."""
    return await draft_page(request)


async def start(request: Request) -> Response:
    """POST: open the agency's active draft, starting one on the current release if none."""
    await admin_post(request)
    _, user = await admin(request)
    draft = await start_draft(await agency_of(user), user)
    return back_to(f"/admin/drafts/{draft.id}")


async def details(request: Request) -> Response:
    """POST: save the change summary and acknowledgment due date (kept on error)."""
    form = await admin_post(request)
    _, user = await admin(request)
    wc = await draft_copy(request, user)
    values = {"summary": str(form.get("summary") or "").replace("\r\n", "\n").strip(),
              "due_at": str(form.get("due_at") or "")}
    try:
        await set_details(wc.draft, values["summary"], parse_due(values["due_at"]), user)
    except DomainError as exc:
        return await draft_page(request, wc, error=exc.message, form=values, status_code=status_of(exc))
    return back_to(f"/admin/drafts/{wc.draft.id}?done=details#details")


async def step(request: Request) -> Response:
    """POST: one review step: submit, approve, send back, publish or withdraw."""
    form = await admin_post(request)
    _, user = await admin(request)
    wc = await draft_copy(request, user)
    name = request.path_params["step"]
    fingerprint = str(form.get("fingerprint") or "")
    comment = str(form.get("comment") or "").replace("\r\n", "\n")
    try:
        if name == "submit":
            await review.submit(wc, user, sources(request))
        elif name == "approve":
            await review.approve(wc, await agency_of(user), user, fingerprint)
        elif name == "send-back":
            await review.send_back(wc, user, comment)
        elif name == "withdraw":
            await review.withdraw(wc.draft, user)
        elif name == "publish":
            # Emails are written with the release when email is set up; both outboxes start sending at commit.
            release = await review.publish(
                wc, await agency_of(user), user, fingerprint,
                wake=lambda: wake_senders(request.app), mail=mail_for(request.app.state.settings),
            )
            return back_to(f"/admin/releases?published={release.number}")
        else:
            raise ApiError(404, "There is no such review step.")
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        # A refused step may have changed the loaded draft before rolling back: show the stored one.
        wc.draft = await Draft.get(id=wc.draft.id)
        return await draft_page(
            request, wc, error=exc.message, form={"comment": comment}, status_code=status_of(exc)
        )
    return back_to(f"/admin/drafts/{wc.draft.id}?done={name.replace('-', '_')}")
