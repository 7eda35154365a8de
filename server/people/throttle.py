"""Sign-in throttling per account (email) and per address, counted from LoginAttempt rows."""

from __future__ import annotations

from datetime import datetime, timedelta

from server import clock
from server.models import LoginAttempt

WINDOW = timedelta(minutes=15)
PER_ACCOUNT = 5
PER_ADDRESS = 20


def _retry_at(failures: list[datetime], limit: int) -> datetime | None:
    # Sliding window: attempts open again once enough failures have aged out of it.
    if len(failures) < limit:
        return None
    failures.sort()
    return failures[len(failures) - limit] + WINDOW


async def blocked_until(email: str, address: str) -> datetime | None:
    """When sign-in may be tried again for this email or address, or None when it may now.

    Counted by the email as typed, whether or not an account has it, so a refusal says
    nothing about which accounts exist. A success resets the email's count, never the
    address's (one valid account must not unlock guessing at others).
    """
    since = clock.now() - WINDOW
    last_success = (
        await LoginAttempt.filter(email=email, succeeded=True, at__gt=since)
        .order_by("-at")
        .limit(1)
        .values_list("at", flat=True)
    )
    last_success = last_success[0] if last_success else None
    account_since = max(since, last_success) if last_success else since
    by_account = await LoginAttempt.filter(email=email, succeeded=False, at__gt=account_since).values_list(
        "at", flat=True
    )
    by_address = await LoginAttempt.filter(address=address, succeeded=False, at__gt=since).values_list(
        "at", flat=True
    )
    times = [
        t
        for t in (
            _retry_at(list(by_account), PER_ACCOUNT),
            _retry_at(list(by_address), PER_ADDRESS),
        )
        if t is not None
    ]
    return max(times) if times else None


async def note_attempt(email: str, address: str, succeeded: bool) -> None:
    """Record one checked sign-in attempt (refused, throttled attempts are not recorded)."""
    await LoginAttempt.create(email=email[:254], address=address[:64], succeeded=succeeded)


def client_address(request) -> str:
    """The address a request came from (the proxy's, unless the server trusts its headers)."""
    return request.client.host if request.client else "unknown"
