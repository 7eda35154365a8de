"""NASRO base guidance updates: take a changed base card into the draft, or resolve a conflict."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.guidance.base_updates import (
    CHANGED,
    REMOVED,
    BaseUpdate,
    find_update,
    keep_ours,
    merged_card,
    pending_updates,
    take_base,
    take_merged,
)
from server.guidance.drafts import (
    DraftConflict,
    active_draft,
    require_editable,
    retire_card,
    start_draft,
    validate_card,
    working_copy,
)
from server.web.errors import ApiError
from server.web.views.admin_common import (
    admin,
    admin_post,
    agency_of,
    back_to,
    current,
    sources,
)
from server.web.views.common import page


async def _draft_and_updates(request: Request, user):
    release = await current(request, user)
    draft = await start_draft(await agency_of(user), user)
    wc = await working_copy(draft, release)
    return wc, await pending_updates(release, wc)


async def _update_page(request: Request, update: BaseUpdate, *, merged: dict | None = None,
                       errors: list | None = None, message: str | None = None, status_code: int = 200) -> Response:
    ours = update.ours or {}
    return page(
        request,
        "views/admin/base_update.html",
        {
            "update": update,
            "ours_fields": update.ours_fields() if update.kind == CHANGED else [],
            "merged": merged or {
                "title": ours.get("title", ""), "summary": ours.get("summary", ""), "body": ours.get("body", ""),
            },
            "errors": errors or [],
            "message": message,
        },
        status_code=status_code,
    )


async def show(request: Request) -> Response:
    """GET: one base card's update: NASRO's change, and the agency's version beside NASRO's new one."""
    _, user = await admin(request)
    release = await current(request, user)
    draft = await active_draft(user.agency_id)
    wc = await working_copy(draft, release) if draft else None
    update = find_update(await pending_updates(release, wc), request.path_params["card_id"])
    return await _update_page(request, update)


async def resolve(request: Request) -> Response:
    """POST: take NASRO's version, keep ours, save a merged text, or retire a card NASRO removed."""
    form = await admin_post(request)
    _, user = await admin(request)
    wc, updates = await _draft_and_updates(request, user)
    update = find_update(updates, request.path_params["card_id"])
    choice = str(form.get("choice") or "")
    merged = {k: str(form.get(k) or "").replace("\r\n", "\n").strip() for k in ("title", "summary", "body")}
    try:
        require_editable(wc.draft)
    except DraftConflict as exc:
        return await _update_page(request, update, merged=merged, message=exc.message, status_code=409)
    if choice == "base":
        await take_base(wc, update, user)
    elif choice == "ours":
        await keep_ours(wc, update, user)
    elif choice == "retire" and update.kind == REMOVED:
        await retire_card(wc, update.card_id, user)
    elif choice == "merged" and update.kind == CHANGED:
        card = merged_card(update, merged["title"], merged["summary"], merged["body"] + "\n")
        errors = validate_card(wc, card, sources(request), new=False)
        if errors:
            return await _update_page(request, update, merged=merged, errors=errors, status_code=400)
        await take_merged(wc, update, card, user)
    else:
        raise ApiError(400, "Choose NASRO's version, your version, or a merged text.")
    return back_to(f"/admin/drafts/{wc.draft.id}?saved={update.card_id}#card-{update.card_id}")


async def take_all(request: Request) -> Response:
    """POST: take every updated base card the agency never edited into the draft, in one click."""
    await admin_post(request)
    _, user = await admin(request)
    wc, updates = await _draft_and_updates(request, user)
    require_editable(wc.draft)
    for update in updates:
        if not update.taken and not update.conflict and update.kind != REMOVED:
            await take_base(wc, update, user)
            wc = await working_copy(wc.draft, wc.release)
    return back_to(f"/admin/drafts/{wc.draft.id}")
