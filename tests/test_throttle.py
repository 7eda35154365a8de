"""Sign-in throttling: per account and per address, without telling which accounts exist."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx

from server import clock
from server.models import LoginAttempt
from server.people.throttle import PER_ACCOUNT, PER_ADDRESS, WINDOW

from .helpers.clients import sign_in

WRONG = "not the password at all"


@asynccontextmanager
async def from_address(app, address: str):
    """A client whose requests come from this address."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def _visible(html: str, email: str) -> str:
    # The page minus per-request tokens and the email typed, to compare what a guesser sees.
    html = re.sub(r'name="csrf_token" value="[^"]+"', "", html)
    return html.replace(email, "EMAIL")


async def test_five_failures_lock_an_account_for_a_while_whether_or_not_it_exists(app):
    async with from_address(app, "10.0.0.1") as c:
        for _ in range(PER_ACCOUNT):
            assert (await sign_in(c, "officer@demo.test", WRONG)).status_code == 400
        locked = await sign_in(c, "officer@demo.test")  # even the right password is refused now
        assert locked.status_code == 429
        assert "Too many sign-in attempts" in locked.text and "try again in 15 minutes" in locked.text
        assert 14 * 60 < int(locked.headers["retry-after"]) <= 15 * 60
        # Refused attempts are not checked or counted.
        assert await LoginAttempt.filter(email="officer@demo.test").count() == PER_ACCOUNT

    async with from_address(app, "10.0.0.2") as c:
        for _ in range(PER_ACCOUNT):
            assert (await sign_in(c, "nobody@demo.test", WRONG)).status_code == 400
        unknown = await sign_in(c, "nobody@demo.test", WRONG)
        assert unknown.status_code == 429
        # What the guesser sees is the same for a real and a made-up account.
        assert _visible(unknown.text, "nobody@demo.test") == _visible(locked.text, "officer@demo.test")

    # Another account from the same address is not affected by one account's lock.
    async with from_address(app, "10.0.0.1") as c:
        assert (await sign_in(c, "officer2@demo.test")).status_code == 303


async def test_the_lock_lifts_when_the_failures_age_out(app):
    async with from_address(app, "10.0.0.3") as c:
        for _ in range(PER_ACCOUNT):
            await sign_in(c, "officer@demo.test", WRONG)
        assert (await sign_in(c, "officer@demo.test")).status_code == 429
        # Age the oldest failure past the window: one slot frees up.
        oldest = await LoginAttempt.filter(email="officer@demo.test").order_by("at").first()
        oldest.at = clock.now() - WINDOW - timedelta(seconds=1)
        await oldest.save(update_fields=["at"])
        assert (await sign_in(c, "officer@demo.test")).status_code == 303


async def test_a_success_restarts_the_account_count_but_erases_nothing(app):
    async with from_address(app, "10.0.0.4") as c:
        for _ in range(PER_ACCOUNT - 1):
            await sign_in(c, "officer@demo.test", WRONG)
        assert (await sign_in(c, "officer@demo.test")).status_code == 303
        c.cookies.clear()
        for _ in range(PER_ACCOUNT - 1):
            assert (await sign_in(c, "officer@demo.test", WRONG)).status_code == 400
        # Eight failures in the window, but only four since the success.
        assert (await sign_in(c, "officer@demo.test")).status_code == 303
        assert await LoginAttempt.filter(email="officer@demo.test", succeeded=False).count() == 2 * (PER_ACCOUNT - 1)
        c.cookies.clear()
        for _ in range(PER_ACCOUNT):
            await sign_in(c, "officer@demo.test", WRONG)
        assert (await sign_in(c, "officer@demo.test")).status_code == 429


async def test_twenty_failures_from_one_address_pause_it_for_every_account(app):
    async with from_address(app, "10.0.0.5") as c:
        for i in range(PER_ADDRESS - 1):
            assert (await sign_in(c, f"guess{i}@demo.test", WRONG)).status_code == 400
        # A success from the address does not restart its count (one valid account must not
        # unlock guessing at the others).
        assert (await sign_in(c, "officer2@demo.test")).status_code == 303
        c.cookies.clear()
        assert (await sign_in(c, "guess-last@demo.test", WRONG)).status_code == 400
        paused = await sign_in(c, "officer@demo.test")
        assert paused.status_code == 429 and "try again in 15 minutes" in paused.text
    async with from_address(app, "10.0.0.6") as other:
        assert (await sign_in(other, "officer@demo.test")).status_code == 303
