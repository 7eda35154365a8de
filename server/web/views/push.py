"""Web Push for people: the server key, (un)subscribing a device, the alerts page, remind pending."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from server import clock
from server.acknowledgments import dashboard
from server.models import PushSubscription, Release, Role, User
from server.params import parse_device_id
from server.people import audit
from server.push.outbox import enqueue_reminders
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


async def alerts(request: Request) -> Response:
    """The alerts page: turn alerts on or off on this device; the devices that get them."""
    _, user = await signed_in(request)
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
    return page(request, "views/alerts.html", {"devices": devices})


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
    """Send a reminder to every officer who has not acknowledged a release (supervisors, admins)."""
    await require_csrf(request, roles={Role.SUPERVISOR, Role.ADMIN})
    _, user = await signed_in(request)
    number = request.path_params["number"]
    release, officers = await _pending_officers(user, number)
    count = await enqueue_reminders(release, officers)
    await audit.record(
        user.agency_id,
        user,
        "push.remind",
        f"release {number}",
        details={
            "officers_pending": len(officers),
            "officers_reached": count.officers_reached,
            "notices": count.notices,
        },
    )
    worker = getattr(request.app.state, "push_worker", None)
    if worker is not None:
        worker.wake()
    return RedirectResponse(
        f"/supervisor/releases/{number}?reminded={count.officers_reached}"
        f"&unreachable={count.officers_without_device}",
        status_code=303,
    )
