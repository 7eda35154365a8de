"""Sign-in throttling that stops guessing without letting strangers lock the real person out.

Counted from LoginAttempt rows by the email as typed, whether or not an account has it (in
any agency), so a refusal says nothing about which accounts exist. Three limits:

- one email from one address: PER_PAIR failures in WINDOW, then that address waits until the
  oldest ages out; a success from there restarts the count;
- one address: PER_ADDRESS failures in WINDOW across every email (a success never restarts
  it: one valid account must not unlock guessing at others);
- one email from every address: after ACCOUNT_FREE failures since its last success (within
  ACCOUNT_WINDOW), each further attempt waits BACKOFF_FIRST after the latest failure, doubling
  per failure up to BACKOFF_CAP. A guesser spread over many addresses gets about one try a
  minute; an address the email signed in from in the last KNOWN_FOR skips this wait, so a
  stranger's failures elsewhere never keep the real person out of their usual address.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from server import clock
from server.models import LoginAttempt

WINDOW = timedelta(minutes=15)
PER_PAIR = 5
PER_ADDRESS = 20
ACCOUNT_FREE = 5
ACCOUNT_WINDOW = timedelta(hours=1)
BACKOFF_FIRST = timedelta(seconds=2)
BACKOFF_CAP = timedelta(seconds=60)
KNOWN_FOR = timedelta(days=30)


def _retry_at(failures: list[datetime], limit: int) -> datetime | None:
    # Sliding window: attempts open again once enough failures have aged out of it.
    if len(failures) < limit:
        return None
    failures.sort()
    return failures[len(failures) - limit] + WINDOW


def backoff(failures: int) -> timedelta:
    """The wait after an email's latest failure, given its failures since its last success."""
    if failures < ACCOUNT_FREE:
        return timedelta(0)
    doublings = min(failures - ACCOUNT_FREE, 16)  # the cap is reached long before; keeps the number small
    return min(BACKOFF_CAP, BACKOFF_FIRST * 2**doublings)


async def blocked_until(email: str, address: str) -> datetime | None:
    """When sign-in may be tried again for this email from this address, or None when it may now."""
    moment = clock.now()
    since = moment - WINDOW
    # Bounded: the limits themselves keep an email's recorded failures to a few dozen an hour.
    rows = await LoginAttempt.filter(email=email, at__gt=moment - max(WINDOW, ACCOUNT_WINDOW)).values_list(
        "address", "succeeded", "at"
    )
    known = await LoginAttempt.exists(email=email, address=address, succeeded=True, at__gt=moment - KNOWN_FOR)
    by_address = await LoginAttempt.filter(address=address, succeeded=False, at__gt=since).values_list(
        "at", flat=True
    )
    pair_success = max((at for a, ok, at in rows if ok and a == address), default=None)
    pair_since = max(since, pair_success) if pair_success else since
    by_pair = [at for a, ok, at in rows if not ok and a == address and at > pair_since]
    last_success = max((at for _, ok, at in rows if ok), default=None)
    by_account = [at for _, ok, at in rows if not ok and (last_success is None or at > last_success)]
    times = [
        t
        for t in (
            _retry_at(by_pair, PER_PAIR),
            _retry_at(list(by_address), PER_ADDRESS),
            None if known or not by_account else max(by_account) + backoff(len(by_account)),
        )
        if t is not None and t > moment
    ]
    return max(times) if times else None


async def note_attempt(email: str, address: str, succeeded: bool) -> None:
    """Record one checked sign-in attempt (refused, throttled attempts are not recorded).

    Rows no limit reads any more are deleted here, so the table stays small under attack.
    """
    moment = clock.now()
    await LoginAttempt.create(email=email[:254], address=address[:64], succeeded=succeeded, at=moment)
    await LoginAttempt.filter(succeeded=False, at__lt=moment - max(WINDOW, ACCOUNT_WINDOW)).delete()
    await LoginAttempt.filter(at__lt=moment - KNOWN_FOR).delete()


def client_address(request) -> str:
    """The address a request came from (the proxy's, unless the server trusts its headers)."""
    return request.client.host if request.client else "unknown"
