"""Signing in and out."""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server import clock
from server.people.auth import (
    csrf_ok,
    end_session,
    hash_password,
    needs_rehash,
    start_session,
)
from server.people.sign_in import agencies_of, matching_accounts
from server.people.throttle import blocked_until, client_address, note_attempt
from server.web.sessions import (
    PRE_SESSION_COOKIE,
    SESSION_COOKIE,
    pre_session_csrf,
    session_for,
    set_pre_session_cookie,
    set_session_cookie,
)
from server.web.views.common import page, require_csrf

SIGN_IN_FAILED = "That email and password do not match an active account."
CHOOSE_AGENCY = (
    "Your email has an account in more than one agency. Choose the agency to sign in to, "
    "then type your password again."
)


def _wait_text(seconds: int) -> str:
    if seconds < 60:
        return "1 second" if seconds == 1 else f"{seconds} seconds"
    minutes = -(-seconds // 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _throttled(request: Request, email: str, until) -> Response:
    seconds = max(1, math.ceil((until - clock.now()).total_seconds()))
    when = _wait_text(seconds)
    response = _sign_in_page(
        request,
        f"Too many sign-in attempts. To protect accounts, sign-in is paused here: try again in {when}. "
        "If you forgot your password, ask your agency admin for a reset link.",
        email,
        429,
    )
    response.headers["Retry-After"] = str(seconds)
    return response


def safe_next(target: str | None) -> str:
    """Only same-site paths are followed after sign-in."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _sign_in_page(
    request: Request, error: str | None = None, email: str = "", status: int = 200, agencies=(), next_path=None
) -> Response:
    token = pre_session_csrf(request)
    response = page(
        request,
        "views/sign_in.html",
        {
            "csrf_token": token,
            "error": error,
            "email": email,
            "next": next_path or safe_next(request.query_params.get("next")),
            "agencies": agencies,
            "choose": CHOOSE_AGENCY if agencies else None,
        },
        status_code=status,
    )
    set_pre_session_cookie(response, token, request)
    return response


async def sign_in_form(request: Request) -> Response:
    """The sign-in page (or home, when already signed in)."""
    if await session_for(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _sign_in_page(request)


async def sign_in(request: Request) -> Response:
    """Check email and password; start a session."""
    form = await request.form()
    if not csrf_ok(request.cookies.get(PRE_SESSION_COOKIE), form.get("csrf_token")):
        return _sign_in_page(
            request, "Your sign-in form had expired. Please try again.", str(form.get("email", "")), 400
        )
    email = str(form.get("email", "")).strip().lower()[:254]
    password = str(form.get("password", ""))
    address = client_address(request)
    until = await blocked_until(email, address)
    if until is not None:
        return _throttled(request, email, until)
    matches = await matching_accounts(email, password, str(form.get("agency", ""))[:64])
    await note_attempt(email, address, bool(matches))
    if not matches:
        return _sign_in_page(request, SIGN_IN_FAILED, email, 400)
    target = safe_next(str(form.get("next", "")) or request.query_params.get("next"))
    if len(matches) > 1:
        # Only agencies whose account this password opens are named.
        return _sign_in_page(request, None, email, 200, await agencies_of(matches), target)
    user = matches[0]
    if needs_rehash(user.password_hash):
        # The password is at hand only now: bring an older hash up to the current parameters.
        user.password_hash = await hash_password(password)
        await user.save(update_fields=["password_hash"])
    token, _ = await start_session(
        user, request.app.state.settings.session_days, request.headers.get("user-agent", "")
    )
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, token, request)
    response.delete_cookie(PRE_SESSION_COOKIE, path="/")
    return response


async def sign_out(request: Request) -> Response:
    """End this device's session."""
    await require_csrf(request)
    await end_session(request.state.session)
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
