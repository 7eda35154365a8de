"""Signing in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server import clock
from server.models import User
from server.people.auth import (
    csrf_ok,
    end_session,
    hash_password,
    needs_rehash,
    start_session,
    verify_password,
)
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


def _throttled(request: Request, email: str, until) -> Response:
    minutes = max(1, -(-int((until - clock.now()).total_seconds()) // 60))
    when = "1 minute" if minutes == 1 else f"{minutes} minutes"
    response = _sign_in_page(
        request,
        f"Too many sign-in attempts. To protect accounts, sign-in is paused here: try again in {when}. "
        "If you forgot your password, ask your agency admin for a reset link.",
        email,
        429,
    )
    response.headers["Retry-After"] = str(max(1, int((until - clock.now()).total_seconds())))
    return response


def safe_next(target: str | None) -> str:
    """Only same-site paths are followed after sign-in."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _sign_in_page(request: Request, error: str | None = None, email: str = "", status: int = 200) -> Response:
    token = pre_session_csrf(request)
    response = page(
        request,
        "views/sign_in.html",
        {
            "csrf_token": token,
            "error": error,
            "email": email,
            "next": safe_next(request.query_params.get("next")),
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
    user = await User.get_or_none(email=email) if email else None
    valid = await verify_password(user.password_hash if user else None, password)
    succeeded = bool(user and valid and user.active)
    await note_attempt(email, address, succeeded)
    if not succeeded:
        return _sign_in_page(request, SIGN_IN_FAILED, email, 400)
    if needs_rehash(user.password_hash):
        # The password is at hand only now: bring an older hash up to the current parameters.
        user.password_hash = await hash_password(password)
        await user.save(update_fields=["password_hash"])
    token, _ = await start_session(
        user, request.app.state.settings.session_days, request.headers.get("user-agent", "")
    )
    target = safe_next(str(form.get("next", "")) or request.query_params.get("next"))
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
