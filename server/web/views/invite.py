"""/invite/{token}: a person sets their password through a single-use link, then is signed in."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.people import accounts
from server.people.accounts import LinkState
from server.people.auth import csrf_ok, end_session, start_session
from server.web.sessions import (
    PRE_SESSION_COOKIE,
    pre_session_csrf,
    session_for,
    set_pre_session_cookie,
    set_session_cookie,
)
from server.web.views.common import page

# Why a link cannot be used, and what to do about it; the status says so to machines too.
UNUSABLE = {
    LinkState.UNKNOWN: (
        404,
        "This link does not work",
        (
            "It may have been copied only in part. Check that you have the whole link, "
            "or ask your agency admin for a new one."
        ),
    ),
    LinkState.EXPIRED: (
        410,
        "This link has expired",
        (
            "Links to set a password work for a limited time, and a newer link replaces an older one. "
            "Ask your agency admin for a new link."
        ),
    ),
    LinkState.USED: (
        410,
        "This link was used already",
        (
            "Each link works once. If you set your password with it, sign in. If you did not, "
            "ask your agency admin for a new link straight away."
        ),
    ),
    LinkState.INACTIVE: (
        410,
        "This account is deactivated",
        "Ask your agency admin if you need access again.",
    ),
}


def _page(request: Request, context: dict, status: int = 200) -> Response:
    token = pre_session_csrf(request)
    # user=None: the person is not signed in as the invitee yet, so no navigation is shown.
    response = page(request, "views/invite.html", {"user": None, "csrf_token": token, **context}, status)
    # The address holds a credential: keep it out of caches and Referer headers.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    set_pre_session_cookie(response, token, request)
    return response


async def _context(request: Request, invitation) -> dict:
    current = await session_for(request)
    signed_in_as = current.user if current and current.user_id != invitation.user_id else None
    return {
        "invitation": invitation,
        "person": invitation.user,
        "agency": invitation.agency,
        "signed_in_as": signed_in_as,
        "min_length": accounts.MIN_PASSWORD,
    }


async def invite_form(request: Request) -> Response:
    """The set-password form, or a page saying why the link cannot be used."""
    invitation, state = await accounts.find_link(request.path_params["token"])
    if state != LinkState.OK:
        status, title, message = UNUSABLE[state]
        return _page(request, {"unusable": {"title": title, "message": message}}, status)
    return _page(request, await _context(request, invitation))


async def set_password(request: Request) -> Response:
    """Set the password (once); end every other session of that person; sign them in here."""
    token = request.path_params["token"]
    form = await request.form()
    invitation, state = await accounts.find_link(token)
    if state != LinkState.OK:
        status, title, message = UNUSABLE[state]
        return _page(request, {"unusable": {"title": title, "message": message}}, status)
    context = await _context(request, invitation)
    if not csrf_ok(request.cookies.get(PRE_SESSION_COOKIE), form.get("csrf_token")):
        return _page(request, {**context, "error": "This form had expired. Please type your password again."}, 400)
    try:
        user = await accounts.use_link(token, str(form.get("password", "")), str(form.get("confirm", "")))
    except accounts.AccountError as exc:
        if exc.message in UNUSABLE:
            status, title, message = UNUSABLE[exc.message]
            return _page(request, {"unusable": {"title": title, "message": message}}, status)
        return _page(request, {**context, "error": exc.message}, 400)
    current = await session_for(request)
    if current is not None:
        await end_session(current)
    cookie, _ = await start_session(
        user, request.app.state.settings.session_days, request.headers.get("user-agent", "")
    )
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, cookie, request)
    response.delete_cookie(PRE_SESSION_COOKIE, path="/")
    return response
