"""Sign-in throttling: guessing is stopped, strangers cannot keep the real person out, and no
refusal tells which accounts exist."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest

from server import clock
from server.models import LoginAttempt
from server.people.throttle import (
    ACCOUNT_FREE,
    ACCOUNT_WINDOW,
    BACKOFF_CAP,
    KNOWN_FOR,
    PER_ADDRESS,
    PER_PAIR,
    WINDOW,
)

from .helpers.clients import sign_in

WRONG = "not the password at all"


@asynccontextmanager
async def from_address(app, address: str):
    """A client whose requests come from this address."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def sign_in_from(app, address: str, email: str, password: str | None = None) -> httpx.Response:
    """One sign-in attempt from a fresh browser at this address."""
    async with from_address(app, address) as c:
        return await (sign_in(c, email, password) if password else sign_in(c, email))


class FrozenClock:
    """server.clock.now standing still until a test moves it."""

    def __init__(self):
        self.moment = clock.now()

    def __call__(self):
        return self.moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta


@pytest.fixture
def frozen(monkeypatch) -> FrozenClock:
    moment = FrozenClock()
    monkeypatch.setattr(clock, "now", moment)
    return moment


def _visible(html: str, email: str) -> str:
    # The page minus per-request tokens and the email typed, to compare what a guesser sees.
    html = re.sub(r'name="csrf_token" value="[^"]+"', "", html)
    return html.replace(email, "EMAIL")


async def test_five_failures_stop_guessing_from_one_address_whether_or_not_the_account_exists(app):
    async with from_address(app, "10.0.0.1") as c:
        for _ in range(PER_PAIR):
            assert (await sign_in(c, "officer@demo.test", WRONG)).status_code == 400
        locked = await sign_in(c, "officer@demo.test")  # even the right password is refused here now
        assert locked.status_code == 429
        assert "Too many sign-in attempts" in locked.text and "try again in 15 minutes" in locked.text
        assert 14 * 60 < int(locked.headers["retry-after"]) <= 15 * 60
        # Refused attempts are not checked or counted.
        assert await LoginAttempt.filter(email="officer@demo.test").count() == PER_PAIR

    async with from_address(app, "10.0.0.2") as c:
        for _ in range(PER_PAIR):
            assert (await sign_in(c, "nobody@demo.test", WRONG)).status_code == 400
        unknown = await sign_in(c, "nobody@demo.test", WRONG)
        assert unknown.status_code == 429
        # What the guesser sees is the same for a real and a made-up account.
        assert _visible(unknown.text, "nobody@demo.test") == _visible(locked.text, "officer@demo.test")

    # Another account from the same address is not affected by one account's limit.
    assert (await sign_in_from(app, "10.0.0.1", "officer2@demo.test")).status_code == 303


async def test_a_strangers_failures_elsewhere_never_keep_the_real_person_out(app, frozen):
    # The officer signed in from their usual address once.
    assert (await sign_in_from(app, "10.1.0.1", "officer@demo.test")).status_code == 303
    # A stranger fails five times from one address...
    async with from_address(app, "10.2.0.1") as stranger:
        for _ in range(PER_PAIR):
            assert (await sign_in(stranger, "officer@demo.test", WRONG)).status_code == 400
        assert (await sign_in(stranger, "officer@demo.test", WRONG)).status_code == 429
    # ...and the officer signs in from their address at once, no wait.
    assert (await sign_in_from(app, "10.1.0.1", "officer@demo.test")).status_code == 303

    # Fifty failures from fifty addresses, each as soon as the backoff allows.
    for i in range(50):
        frozen.advance(BACKOFF_CAP)
        assert (await sign_in_from(app, f"10.3.0.{i}", "officer@demo.test", WRONG)).status_code == 400
    assert await LoginAttempt.filter(email="officer@demo.test", succeeded=False).count() == 50 + PER_PAIR
    # At their usual address: in at once.
    assert (await sign_in_from(app, "10.1.0.1", "officer@demo.test")).status_code == 303


async def test_at_a_new_address_the_real_person_waits_at_most_the_backoff_cap(app, frozen):
    for i in range(50):
        frozen.advance(BACKOFF_CAP)
        assert (await sign_in_from(app, f"10.4.0.{i}", "officer@demo.test", WRONG)).status_code == 400
    waiting = await sign_in_from(app, "10.4.1.1", "officer@demo.test")
    assert waiting.status_code == 429
    assert int(waiting.headers["retry-after"]) == BACKOFF_CAP.total_seconds() == 60
    assert "try again in 1 minute" in waiting.text
    frozen.advance(BACKOFF_CAP)
    assert (await sign_in_from(app, "10.4.1.1", "officer@demo.test")).status_code == 303


async def test_many_addresses_against_one_account_are_slowed_by_a_growing_capped_backoff(app, frozen):
    for i in range(ACCOUNT_FREE):
        assert (await sign_in_from(app, f"10.5.0.{i}", "supervisor@demo.test", WRONG)).status_code == 400
    waits = []
    for i in range(8):
        refused = await sign_in_from(app, f"10.5.1.{i}", "supervisor@demo.test", WRONG)
        assert refused.status_code == 429
        wait = int(refused.headers["retry-after"])
        waits.append(wait)
        frozen.advance(timedelta(seconds=wait - 1))
        assert (await sign_in_from(app, f"10.5.2.{i}", "supervisor@demo.test", WRONG)).status_code == 429
        frozen.advance(timedelta(seconds=1))
        assert (await sign_in_from(app, f"10.5.3.{i}", "supervisor@demo.test", WRONG)).status_code == 400
    assert waits == [2, 4, 8, 16, 32, 60, 60, 60]
    # A made-up account is slowed the same way.
    for i in range(ACCOUNT_FREE):
        assert (await sign_in_from(app, f"10.6.0.{i}", "nobody@demo.test", WRONG)).status_code == 400
    refused = await sign_in_from(app, "10.6.1.1", "nobody@demo.test", WRONG)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "2"
    assert "try again in 2 seconds" in refused.text


async def test_the_limit_lifts_when_the_failures_age_out(app, frozen):
    async with from_address(app, "10.0.0.3") as c:
        for _ in range(PER_PAIR):
            await sign_in(c, "officer@demo.test", WRONG)
        frozen.advance(WINDOW - timedelta(seconds=1))
        assert (await sign_in(c, "officer@demo.test")).status_code == 429
        frozen.advance(timedelta(seconds=2))
        assert (await sign_in(c, "officer@demo.test")).status_code == 303


async def test_a_success_restarts_the_count_but_erases_nothing(app):
    async with from_address(app, "10.0.0.4") as c:
        for _ in range(PER_PAIR - 1):
            await sign_in(c, "officer@demo.test", WRONG)
        assert (await sign_in(c, "officer@demo.test")).status_code == 303
        c.cookies.clear()
        for _ in range(PER_PAIR - 1):
            assert (await sign_in(c, "officer@demo.test", WRONG)).status_code == 400
        # Eight failures in the window, but only four since the success.
        assert (await sign_in(c, "officer@demo.test")).status_code == 303
        assert await LoginAttempt.filter(email="officer@demo.test", succeeded=False).count() == 2 * (PER_PAIR - 1)
        c.cookies.clear()
        for _ in range(PER_PAIR):
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
    assert (await sign_in_from(app, "10.0.0.6", "officer@demo.test")).status_code == 303


async def test_old_attempts_are_deleted(app, frozen):
    assert (await sign_in_from(app, "10.7.0.1", "officer@demo.test")).status_code == 303
    assert (await sign_in_from(app, "10.7.0.2", "guess@demo.test", WRONG)).status_code == 400
    frozen.advance(ACCOUNT_WINDOW + timedelta(seconds=1))
    assert (await sign_in_from(app, "10.7.0.3", "guess@demo.test", WRONG)).status_code == 400
    # The old failure is gone; the success is kept (it marks the officer's usual address).
    assert [(a.address, a.succeeded) async for a in _attempts()] == [("10.7.0.1", True), ("10.7.0.3", False)]
    frozen.advance(KNOWN_FOR)
    assert (await sign_in_from(app, "10.7.0.4", "guess@demo.test", WRONG)).status_code == 400
    assert [(a.address, a.succeeded) async for a in _attempts()] == [("10.7.0.4", False)]


async def _attempts():
    for attempt in await LoginAttempt.all().order_by("at", "id"):
        yield attempt
