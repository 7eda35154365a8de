"""Web Push for people: the server key, (un)subscribing a device, the alerts page, remind pending."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from server import clock
from server.acknowledgments import dashboard
from server.mail.config import mail_enabled, mail_for
from server.models import PushSubscription, Release, Role, User
from server.params import parse_device_id
from server.push import remind
from server.push.runtime import wake_senders
from server.push.status import device_label
from server.push.subscriptions import (
    dropped_message,
    parse_subscription,
    remove_subscription,
    save_subscription,
)
from server.web.errors import ApiError
from server.web.request_body import json_object
from server.web.views.common import page, require_csrf, signed_in

NO_STORE = {"Cache-Control": "private, no-store"}


async def push_key(request: Request) -> Response:
    """The application server key a browser subscribes with."""
    await signed_in(request)
    return JSONResponse(
        {"public_key": request.app.state.push_signer.public_key},
        headers={"Cache-Control": "private, no-cache"},
    )


async def subscribe(request: Request) -> Response:
    """Store (or refresh) this device's subscription for the signed-in user."""
    await require_csrf(request)
    _, user = await signed_in(request)
    body = await json_object(request)
    info = parse_subscription(body, request.app.state.settings)
    device_id = parse_device_id(body.get("device_id"))
    old = body.get("old_endpoint")
    if isinstance(old, str) and old and old != info.endpoint:
        # The browser replaced its subscription (pushsubscriptionchange): forget the old one.
        await remove_subscription(user, old)
    settings = request.app.state.settings
    row, created, dropped = await save_subscription(
        user, info, device_id, request.headers.get("user-agent", ""), settings.max_devices_per_user
    )
    answer = {"endpoint": row.endpoint, "created": created}
    if dropped:
        answer["dropped"] = [{"endpoint": d.endpoint, "device": d.device} for d in dropped]
        answer["message"] = dropped_message(dropped, settings.max_devices_per_user)
    return JSONResponse(answer, status_code=201 if created else 200, headers=NO_STORE)


async def unsubscribe(request: Request) -> Response:
    """Forget one of the signed-in user's subscriptions, named by its endpoint."""
    await require_csrf(request)
    _, user = await signed_in(request)
    endpoint = (await json_object(request)).get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise ApiError(400, "Name the subscription's endpoint.", {"endpoint": "missing"})
    if not await remove_subscription(user, endpoint):
        raise ApiError(404, "This device has no alerts turned on for your account.")
    return Response(status_code=204, headers=NO_STORE)


# The answers of the email form on /alerts: "yes" keeps email about releases that need no acknowledgment.
EMAIL_CHOICES = {"yes": True, "no": False}
EMAIL_SAVED = {
    "yes": "Saved: you also get email about releases that need no acknowledgment.",
    "no": "Saved: no more email about releases that need no acknowledgment. Releases you must acknowledge, "
    "and reminders about them, still come by email.",
}


async def _alerts_page(request: Request, user: User, error: str | None = None, status: int = 200) -> Response:
    devices = [
        {
            "name": device_label(d.user_agent),
            "created_at": d.created_at,
            "last_delivered_at": d.last_delivered_at,
            "last_failure_at": d.last_failure_at,
            "last_failure": d.last_failure,
        }
        for d in await PushSubscription.filter(user_id=user.id).order_by("-created_at")
    ]
    saved = request.query_params.get("saved", "")
    return page(
        request,
        "views/alerts.html",
        {
            "devices": devices,
            "email_on": mail_enabled(request.app.state.settings),
            "email_address": user.email,
            "email_optional": user.email_optional,
            "gets_release_email": user.role == Role.OFFICER,
            "saved": EMAIL_SAVED.get(saved) if not error else None,
            "error": error,
        },
        status_code=status,
    )


async def alerts(request: Request) -> Response:
    """The alerts page: which channels reach this person, push on this device, and the email choice."""
    _, user = await signed_in(request)
    return await _alerts_page(request, user)


async def email_choice(request: Request) -> Response:
    """POST /alerts/email: keep or stop email about releases that need no acknowledgment (works without JS)."""
    form = await require_csrf(request)
    _, user = await signed_in(request)
    choice = str(form.get("optional", ""))
    if choice not in EMAIL_CHOICES:
        return await _alerts_page(request, user, "Choose whether to get these emails, then save.", 400)
    await User.filter(id=user.id, agency_id=user.agency_id).update(email_optional=EMAIL_CHOICES[choice])
    return RedirectResponse(f"/alerts?saved={choice}#email", status_code=303)


async def _pending_officers(user: User, number: int) -> tuple[Release, list[User]]:
    status = await dashboard.release_status(user.agency_id, number, clock.now())
    if status is None:
        raise ApiError(404, f"Your agency has no release {number}.")
    if not status.requires_ack:
        raise ApiError(409, f"Release {number} does not ask for acknowledgment.")
    rows = await dashboard.officer_rows(user.agency_id, status, clock.now())
    ids = [r.user_id for r in rows if not r.acknowledged]
    officers = await User.filter(id__in=ids, agency_id=user.agency_id) if ids else []
    release = await Release.get(id=status.id, agency_id=user.agency_id)
    return release, officers


async def remind_pending(request: Request) -> Response:
    """Remind every officer who has not acknowledged a release, by push and email (supervisors, admins)."""
    await require_csrf(request, roles={Role.SUPERVISOR, Role.ADMIN})
    _, user = await signed_in(request)
    number = request.path_params["number"]
    release, officers = await _pending_officers(user, number)
    result = await remind.remind_pending(release, officers, user, mail_for(request.app.state.settings))
    wake_senders(request.app)
    return RedirectResponse(
        f"/supervisor/releases/{number}?reminded={result.reached}&pushed={result.by_push}"
        f"&emailed={result.by_email}&unreachable={result.unreached}",
        status_code=303,
    )
