"""/admin/users: an admin lists, invites, edits, deactivates and reactivates the agency's people."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server import clock
from server.hosts import is_loopback
from server.mail.config import mail_enabled, mail_for
from server.models import Invitation, Role, User
from server.people import accounts, roster
from server.push.runtime import wake_senders
from server.web.errors import ApiError
from server.web.views.common import page, require_csrf, signed_in

ADMIN = {Role.ADMIN}
ROLE_ORDER = {Role.ADMIN: 0, Role.SUPERVISOR: 1, Role.OFFICER: 2}
# Messages after a redirect are chosen by key, so no text from the address reaches the page.
DONE = {
    "saved": "Saved.",
    "unchanged": "Nothing was changed.",
    "deactivated": "Deactivated. Their sessions have ended and they can no longer sign in. Their records are kept.",
    "reactivated": "Reactivated. They can sign in again with their password, or with a new link if they have none.",
}


NO_BASE_URL = (
    "Links cannot be made here: this server does not know its public address. Ask whoever runs it to set "
    "FIELDGUIDE_BASE_URL (for example https://guide.example.org), or to add this address's host to "
    "FIELDGUIDE_ALLOWED_HOSTS."
)
# A Host header the app may repeat in a link: a name or IPv4 address, or a bracketed IPv6 one,
# with an optional port, and nothing else (no user-info, path or spaces).
HOST_HEADER = re.compile(r"^(?:[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?|\[[0-9a-f:.]{2,45}\])(?::[0-9]{1,5})?$")


def link_base(request: Request) -> str | None:
    """Where set-password links point, or None when this request cannot say.

    FIELDGUIDE_BASE_URL when set. Otherwise the address the request came to, but only when its
    host is listed in FIELDGUIDE_ALLOWED_HOSTS, is this machine, or the server runs without
    Secure cookies (a plain-http development setup, which check-config refuses in production):
    anyone can send any Host header, and a link built from a forged one would hand the
    person's token to another site.
    """
    settings = request.app.state.settings
    if settings.base_url:
        return settings.base_url.rstrip("/")
    header = request.headers.get("host", "").strip().lower()
    if not HOST_HEADER.match(header):
        return None
    host = urlsplit("//" + header).hostname or ""
    allowed = {h.strip().strip("[]").lower() for h in settings.allowed_hosts.split(",") if h.strip()}
    if host in allowed or is_loopback(host) or not settings.secure_cookies:
        return f"{request.url.scheme}://{header}"
    return None


def link_url(request: Request, token: str) -> str | None:
    """The full set-password address to hand to a person, or None when links cannot be made here."""
    base = link_base(request)
    return base + accounts.invitation_path(token) if base else None


def _mail(request: Request):
    """What invitations need to be emailed (links from link_base), or None when email is not set up."""
    return mail_for(request.app.state.settings, link_base(request))


async def _person(request: Request, admin: User) -> User:
    # Scoped to the admin's agency: another agency's id is simply "not found".
    user = await User.get_or_none(id=request.path_params["user_id"], agency_id=admin.agency_id)
    if user is None:
        raise ApiError(404, "There is no such person in your agency.")
    return user


async def _link_states(agency_id: int) -> dict[int, str]:
    """For people without a password: whether their latest link is open or expired."""
    moment = clock.now()
    states: dict[int, str] = {}
    rows = await Invitation.filter(agency_id=agency_id, used_at__isnull=True).order_by("created_at").values(
        "user_id", "expires_at"
    )
    for row in rows:
        states[row["user_id"]] = "open" if row["expires_at"] > moment else "expired"
    return states


async def users_page(
    request: Request, admin: User, form: dict | None = None, error=None, status: int = 200, roster_error=None
):
    """The people page: error for the invitation form, roster_error for the roster import (either re-rendered)."""
    school = request.query_params.get("school") or ""
    query = User.filter(agency_id=admin.agency_id)
    if school:
        query = query.filter(school=school)
    people = sorted(await query, key=lambda u: (not u.active, ROLE_ORDER[u.role], u.name.lower()))
    return page(
        request,
        "views/admin/users.html",
        {
            "people": people,
            "links": await _link_states(admin.agency_id),
            "schools": await accounts.schools(admin.agency_id),
            "school": school,
            "roles": list(Role),
            "form": form or {"role": Role.OFFICER.value},
            "error": error,
            "days": request.app.state.settings.invitation_days,
            "no_links": None if link_base(request) else NO_BASE_URL,
            "email_on": mail_enabled(request.app.state.settings),
            "roster_error": roster_error,
            "roster_limits": {"bytes": roster.MAX_BYTES, "rows": roster.MAX_ROWS},
        },
        status_code=status,
    )


async def users(request: Request) -> Response:
    """Everyone in the agency (optionally of one school) and the invitation form."""
    _, admin = await signed_in(request, ADMIN)
    return await users_page(request, admin)


def _link_page(request: Request, person: User, token: str, purpose: str) -> Response:
    days = request.app.state.settings.invitation_days
    response = page(
        request,
        "views/admin/link.html",
        {
            "person": person,
            "url": link_url(request, token),
            "purpose": purpose,
            "days": days,
            "emailed": person.email if mail_enabled(request.app.state.settings) else None,
        },
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def invite(request: Request) -> Response:
    """Create a person and show the single-use link to give them."""
    _, admin = await signed_in(request, ADMIN)
    form = await require_csrf(request, roles=ADMIN)
    values = {k: str(form.get(k, "")) for k in ("email", "name", "role", "school")}
    if link_base(request) is None:
        # Refused before anything is written: the form keeps what was typed.
        return await users_page(request, admin, values, accounts.AccountError(NO_BASE_URL), 400)
    try:
        person, token = await accounts.invite(
            await admin.agency,
            admin,
            values["email"],
            values["name"],
            values["role"],
            values["school"],
            request.app.state.settings.invitation_days,
            mail=_mail(request),
        )
    except accounts.AccountError as exc:
        return await users_page(request, admin, values, exc, 400)
    wake_senders(request.app)
    return _link_page(request, person, token, "invite")


async def _person_page(request: Request, admin: User, person: User, error=None, form=None, status: int = 200):
    done = DONE.get(request.query_params.get("done", ""))
    return page(
        request,
        "views/admin/user.html",
        {
            "person": person,
            "is_self": person.id == admin.id,
            "roles": list(Role),
            "schools": await accounts.schools(admin.agency_id),
            "form": form or {"name": person.name, "role": person.role.value, "school": person.school or ""},
            "error": error,
            "done": done,
            "link_state": (await _link_states(admin.agency_id)).get(person.id),
            "no_links": None if link_base(request) else NO_BASE_URL,
            "email_on": mail_enabled(request.app.state.settings),
        },
        status_code=status,
    )


async def user(request: Request) -> Response:
    """One person: name, role, school, and the actions an admin can take."""
    _, admin = await signed_in(request, ADMIN)
    return await _person_page(request, admin, await _person(request, admin))


async def update(request: Request) -> Response:
    """Save a person's name, role and school."""
    _, admin = await signed_in(request, ADMIN)
    form = await require_csrf(request, roles=ADMIN)
    person = await _person(request, admin)
    values = {k: str(form.get(k, "")) for k in ("name", "role", "school")}
    try:
        changed = await accounts.update(admin, person, values["name"], values["role"], values["school"])
    except accounts.AccountError as exc:
        return await _person_page(request, admin, person, exc, values, 400)
    return RedirectResponse(f"/admin/users/{person.id}?done={'saved' if changed else 'unchanged'}", status_code=303)


async def _person_action(request: Request, act) -> Response:
    """The prelude every action on one person shares: an admin, a valid form, that person.

    act(admin, person) does the action and returns the response; an AccountError it raises is
    shown on the person's page (409).
    """
    _, admin = await signed_in(request, ADMIN)
    await require_csrf(request, roles=ADMIN)
    person = await _person(request, admin)
    try:
        return await act(admin, person)
    except accounts.AccountError as exc:
        return await _person_page(request, admin, person, exc, status=409)


async def deactivate(request: Request) -> Response:
    """Turn a person's account off (sessions end at once; nothing is deleted)."""

    async def act(admin, person) -> Response:
        await accounts.deactivate(admin, person)
        return RedirectResponse(f"/admin/users/{person.id}?done=deactivated", status_code=303)

    return await _person_action(request, act)


async def reactivate(request: Request) -> Response:
    """Turn a person's account back on."""

    async def act(admin, person) -> Response:
        await accounts.reactivate(admin, person)
        return RedirectResponse(f"/admin/users/{person.id}?done=reactivated", status_code=303)

    return await _person_action(request, act)


async def new_link(request: Request) -> Response:
    """A new single-use set-password link (a reset, or the invitation again)."""

    async def act(admin, person) -> Response:
        if link_base(request) is None:
            return await _person_page(request, admin, person, accounts.AccountError(NO_BASE_URL), status=400)
        token = await accounts.new_link(admin, person, request.app.state.settings.invitation_days, _mail(request))
        wake_senders(request.app)
        return _link_page(request, person, token, "reset" if person.password_hash else "invite")

    return await _person_action(request, act)
