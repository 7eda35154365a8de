"""Acknowledging a release: the panel on the changes page, the form POST, the JSON API, the wording."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from tortoise.transactions import in_transaction

from server.acknowledgments.answers import recorded as recorded_answers
from server.acknowledgments.ledger import (
    DEFAULT_ATTESTATION,
    ack_body,
    ack_for,
    acks_of,
    attestation_template,
    attestation_text,
    check_attestation,
    new_uuid,
    record_ack,
)
from server.acknowledgments.prerequisites import prerequisites
from server.guidance.releases import ReleaseView, latest_release
from server.models import Agency, Role
from server.params import parse_device_time, parse_release_number
from server.people import audit
from server.web.errors import ApiError
from server.web.request_body import json_object
from server.web.views.common import page, release_for, require_csrf, signed_in

NO_STORE = {"Cache-Control": "no-store"}


async def ack_panel(user, release: ReleaseView, hashes: list[str], trying: dict | None = None) -> dict:
    """What the acknowledgment panel and the check of the changes page need (partials/_ack.html, _check.html)."""
    agency = await Agency.get(id=user.agency_id)
    current = await latest_release(user.agency_id)
    ack = await ack_for(user, release.id)
    before = await prerequisites(release, agency)
    answers = await recorded_answers(user.id, release.id) if before.questions else []
    return {
        "required": release.requires_ack,
        "done": ack,
        "uuid": new_uuid(),
        "card_hashes": " ".join(hashes),
        "attestation": attestation_text(agency, release.number),
        "current_number": current.number if current else release.number,
        "before": before,
        # The officer's recorded answers, by question hash (none on the copy a device keeps).
        "answered": {a.question_hash: list(a.tries) for a in answers},
        "answered_at": answers[0].received_at if answers else None,
        # Tries of a check answered without JavaScript, not all right yet (views/answers.check_form).
        "trying": trying or {},
        "check_uuid": new_uuid(),
    }


async def acknowledge(request: Request) -> Response:
    """POST /acks: the acknowledgment form without JavaScript; back to the release's changes page."""
    form = await require_csrf(request)
    _, user = await signed_in(request)
    number = parse_release_number(form.get("release", ""))
    if form.get("attest") != "yes":
        raise ApiError(400, "Tick the box to confirm the sentence, then press Acknowledge.")
    release = await release_for(request, user, number)
    shown = form.get("attestation")
    await record_ack(
        user,
        release,
        str(form.get("uuid", "")),
        str(form.get("card_hashes", "")).split(),
        attestation=str(shown) if shown is not None else None,
    )
    return RedirectResponse(f"/releases/{number}/changes#ack", status_code=303)


async def api_record(request: Request) -> Response:
    """POST /api/v1/acks: record an acknowledgment once; 201 when new, 200 with the existing one."""
    await require_csrf(request)
    _, user = await signed_in(request)
    body = await json_object(request)
    release = await release_for(request, user, parse_release_number(body.get("release")))
    recorded = await record_ack(
        user,
        release,
        body.get("uuid"),
        body.get("card_hashes", []),
        parse_device_time(body.get("device_time")),
        body.get("device_id"),
        body.get("attestation"),
        body.get("reading"),
    )
    return JSONResponse(
        ack_body(recorded.ack, release.number),
        status_code=201 if recorded.created else 200,
        headers=NO_STORE,
    )


async def api_list(request: Request) -> Response:
    """GET /api/v1/acks: the signed-in user's own acknowledgments."""
    _, user = await signed_in(request)
    return JSONResponse({"acks": await acks_of(user)}, headers=NO_STORE)


def _attestation_page(
    request: Request, agency: Agency, number: int, text: str, error=None, saved=False, status=200, rules=None
):
    rules = rules or {"require_check": agency.require_check, "require_open": agency.require_open}
    return page(
        request,
        "views/attestation.html",
        {
            "text": text,
            "default": DEFAULT_ATTESTATION,
            "example": text.replace("{release}", str(number)) if text else "",
            "number": number,
            "error": error,
            "saved": saved,
            "custom": agency.attestation is not None,
            "rules": rules,
        },
        status_code=status,
    )


async def attestation_form(request: Request) -> Response:
    """GET /admin/attestation: the acknowledgment settings: the sentence officers attest to and the check rules (admins)."""
    _, user = await signed_in(request, {Role.ADMIN})
    agency = await Agency.get(id=user.agency_id)
    current = await latest_release(user.agency_id)
    return _attestation_page(
        request,
        agency,
        current.number if current else 1,
        attestation_template(agency),
        saved=request.query_params.get("saved") == "1",
    )


ACK_RULES = ("require_check", "require_open")


async def attestation_save(request: Request) -> Response:
    """POST /admin/attestation: change the wording (empty restores the default) and, from the page's form, the rules."""
    form = await require_csrf(request, roles={Role.ADMIN})
    _, user = await signed_in(request)
    agency = await Agency.get(id=user.agency_id)
    current = await latest_release(user.agency_id)
    number = current.number if current else 1
    # Unticked boxes are not sent: only a form that carries the rules (rules=1) changes them.
    rules = {name: form.get(name) == "yes" for name in ACK_RULES} if form.get("rules") == "1" else None
    raw = str(form.get("attestation", ""))
    if form.get("reset") == "yes" or not raw.strip():
        new = None
    else:
        try:
            new = check_attestation(raw)
        except ValueError as exc:
            return _attestation_page(request, agency, number, raw, error=str(exc), status=400, rules=rules)
        if new == DEFAULT_ATTESTATION:
            new = None
    before = agency.attestation
    before_rules = {name: getattr(agency, name) for name in ACK_RULES}
    async with in_transaction() as conn:
        if new != before:
            agency.attestation = new
            await agency.save(update_fields=["attestation"], using_db=conn)
            await audit.record(
                agency,
                user,
                "attestation.update",
                "attestation",
                details={"before": before or DEFAULT_ATTESTATION, "after": new or DEFAULT_ATTESTATION},
                connection=conn,
            )
        if rules is not None and rules != before_rules:
            await Agency.filter(id=agency.id).using_db(conn).update(**rules)
            await audit.record(
                agency, user, "acknowledgment.rules", "attestation",
                details={"before": before_rules, "after": rules}, connection=conn,
            )
    return RedirectResponse("/admin/attestation?saved=1", status_code=303)
