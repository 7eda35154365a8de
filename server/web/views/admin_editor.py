"""The card editor: edit a card or add a local one, with a live sanitized preview, into a draft."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from server.guidance.change_class import CLASSES, suggest_change_class
from server.guidance.content import ContentError, canonical_card, render_card
from server.guidance.drafts import (
    base_card_ids,
    discard_edit,
    move_card,
    retire_card,
    save_card,
    slugify,
    validate_card,
)
from server.guidance.provenance import drop_written_ties
from server.params import whole_number
from server.people.auth import csrf_ok
from server.web.errors import ApiError
from server.web.views.admin_common import (
    admin,
    admin_post,
    back_to,
    current,
    draft_copy,
    sources,
)
from server.web.views.common import page

NOT_EDITABLE = (
    "This draft is in review or approved, so it cannot be edited now. "
    "Your text is kept below; a reviewer can send the draft back for changes."
)
NEW_BODY = "## Do\n- \n\n## Don't\n- \n\n## Why\n"
FIELD_INPUTS = {
    "id": "f-id", "title": "f-title", "summary": "f-summary", "category": "f-category",
    "audience": "f-audience-officer", "tags": "f-tags", "source": "f-source-0",
    "related": "f-related", "body": "f-body",
}


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "").replace("\r\n", "\n").strip()


def _keep_order(before: list | None, chosen: list) -> list[str]:
    # Checkboxes arrive in page order: keep the card's own order so an untouched list is unchanged.
    chosen = list(dict.fromkeys(str(c) for c in chosen))
    kept = [c for c in before or [] if c in chosen]
    return kept + [c for c in chosen if c not in kept]


def card_from_form(form: FormData, existing: dict | None, published: dict | None = None) -> dict:
    """A card's data from the editor form; fields the form does not carry come from the existing card.

    Ties to the statement are kept only on lines unchanged from the draft's or the published card.
    """
    existing = existing or {}
    slots = []
    count = str(form.get("lp_count") or "0")
    for i in range(min(whole_number(count) or 0, 50)):
        if form.get(f"lp_{i}_remove"):
            continue
        slots.append(
            {"id": _text(form, f"lp_{i}_id"), "label": _text(form, f"lp_{i}_label"), "text": _text(form, f"lp_{i}_text")}
        )
    new_label, new_text = _text(form, "lp_new_label"), _text(form, "lp_new_text")
    if new_label or new_text:
        taken = {s["id"] for s in slots}
        slot_id = base = slugify(new_label) or "policy"
        n = 2
        while slot_id in taken:
            slot_id, n = f"{base}-{n}", n + 1
        slots.append({"id": slot_id, "label": new_label, "text": new_text})
    body = _text(form, "body")
    title = _text(form, "title")
    card = {
        "id": existing.get("id") or _text(form, "id").lower() or slugify(title),
        "title": title,
        "category": _text(form, "category"),
        "audience": _keep_order(existing.get("audience"), form.getlist("audience")),
        "order": int(existing.get("order", 100)),
        "summary": _text(form, "summary"),
        "tags": [t.strip() for t in _text(form, "tags").replace("\n", ",").split(",") if t.strip()],
        "related": _keep_order(existing.get("related"), form.getlist("related")),
        "source": _keep_order(existing.get("source"), form.getlist("source")),
        "local_policy": slots,
        "body": body + "\n" if body else "",
    }
    # A tie to the statement stays only where the NASRO text is left exactly as it was.
    return drop_written_ties(card, existing, published)


def preview_of(card: dict) -> dict:
    """The card as officers would see it: rendered, sanitized body and local-policy blocks."""
    try:
        _, html, stored = render_card(card)
    except (KeyError, TypeError):
        return {"card": card, "html": "", "local_policy": []}
    return {"card": card, "html": html, "local_policy": stored["local_policy"]}


def _editor(
    request: Request,
    wc,
    card: dict,
    *,
    new: bool,
    errors: list[ContentError] | None = None,
    message: str | None = None,
    choice: str = "auto",
    show_preview: bool = False,
    status_code: int = 200,
) -> Response:
    before = wc.release_card(card["id"]) if not new else None
    suggested, reason = suggest_change_class(before, card)
    others = [c for c in wc.cards if c["id"] != card["id"]]
    return page(
        request,
        "views/admin/card_edit.html",
        {
            "wc": wc,
            "draft": wc.draft,
            "card": card,
            "new": new,
            "errors": [
                {"field": e.field, "message": e.message, "input": FIELD_INPUTS.get(e.field.split("[")[0], "f-body")}
                for e in errors or []
            ],
            "message": message,
            "choice": choice if choice in CLASSES else "auto",
            "suggested": suggested,
            "reason": reason,
            "categories": wc.release.categories,
            "headings": [s["heading"] for s in sources(request).get("sections") or []],
            "others": others,
            "preview": preview_of(card) if show_preview else None,
            "edit": wc.edits.get(card["id"]),
            "is_local": new or wc.is_local(card["id"]),
            "action": request.url.path,
        },
        status_code=status_code,
    )


async def edit_form(request: Request) -> Response:
    """GET: the editor for one card of the draft."""
    _, user = await admin(request)
    wc = await draft_copy(request, user)
    card_id = request.path_params["card_id"]
    card = wc.by_id.get(card_id)
    if card is None:
        raise ApiError(404, f"There is no card “{card_id}” in this draft (a retired card comes back with “Undo”).")
    message = None if wc.editable else NOT_EDITABLE
    return _editor(request, wc, card, new=False, message=message)


async def new_card_form(request: Request) -> Response:
    """GET: the editor for a new local card."""
    _, user = await admin(request)
    wc = await draft_copy(request, user)
    category = request.query_params.get("category") or wc.release.categories[0]["id"]
    card = {
        "id": "", "title": "", "category": category, "audience": ["officer"], "order": 100, "summary": "",
        "tags": [], "related": [], "source": [], "local_policy": [], "body": NEW_BODY,
    }
    return _editor(request, wc, card, new=True)


async def save(request: Request) -> Response:
    """POST: preview or save one edited card (the text is kept on every error)."""
    return await _save(request, new=False)


async def add(request: Request) -> Response:
    """POST: preview or save a new local card."""
    return await _save(request, new=True)


async def _save(request: Request, *, new: bool) -> Response:
    session, user = await admin(request)
    form = await request.form()
    wc = await draft_copy(request, user)
    if new:
        card = card_from_form(form, None)
    else:
        existing = wc.by_id.get(request.path_params["card_id"])
        if existing is None:
            raise ApiError(404, "There is no such card in this draft.")
        card = card_from_form(form, existing, wc.release_card(existing["id"]))
    choice = str(form.get("change_class") or "auto")
    keep = {"new": new, "choice": choice}
    if not csrf_ok(session.csrf_token, str(form.get("csrf_token") or "")):
        return _editor(
            request, wc, card, **keep, status_code=403,
            message="This form had expired. Your text is below: check it and press Save again.",
        )
    if form.get("op") == "preview":
        return _editor(request, wc, card, **keep, show_preview=True)
    if not wc.editable:
        return _editor(request, wc, card, **keep, status_code=409, message=NOT_EDITABLE)
    errors = validate_card(wc, card, sources(request), new=new, base_ids=await base_card_ids() if new else set())
    if errors:
        return _editor(request, wc, card, **keep, errors=errors, show_preview=True, status_code=400)
    await save_card(
        wc, card, user, change_class=choice if choice in CLASSES else None,
        action_name="card.add" if new else "card.edit",
    )
    return back_to(f"/admin/drafts/{wc.draft.id}?saved={card['id']}#card-{card['id']}")


async def preview(request: Request) -> Response:
    """POST: the rendered, sanitized card preview as an HTML fragment (for editor.js)."""
    form = await admin_post(request)
    _, user = await admin(request)
    # Ties are kept against the published card: a draft keeps them only on its unchanged lines.
    published = (await current(request, user)).by_id.get(str(form.get("card") or ""))
    card = card_from_form(form, canonical_card(published) if published else None)
    response = request.app.state.templates.TemplateResponse(
        request, "views/admin/_card_preview.html", {"preview": preview_of(card)}
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def card_action(request: Request) -> Response:
    """POST: retire a card, undo the draft's change to it, or move it up or down."""
    form = await admin_post(request)
    _, user = await admin(request)
    wc = await draft_copy(request, user)
    card_id = request.path_params["card_id"]
    action = request.path_params["action"]
    if action == "retire":
        await retire_card(wc, card_id, user)
    elif action == "discard":
        await discard_edit(wc, card_id, user)
    elif action == "move":
        await move_card(wc, card_id, str(form.get("direction") or ""), user)
    else:
        raise ApiError(404, "There is no such card action.")
    return back_to(f"/admin/drafts/{wc.draft.id}?done={action}#card-{card_id}")
