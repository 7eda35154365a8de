"""Which accounts an email and password open: one address may have an account in several agencies."""

from __future__ import annotations

import asyncio

from server.models import User
from server.people.auth import verify_password

# More accounts than any one person holds; bounds the hashing a single attempt can cause.
MAX_ACCOUNTS = 10


async def matching_accounts(email: str, password: str, agency_slug: str = "") -> list[User]:
    """The active accounts with this email (of one agency when a slug is given) whose password this is.

    Every candidate's hash is checked, at the same time on the hashing threads, and a dummy
    hash when there is none: an unknown address, an address with one account and one with a
    few take about as long, so the time says nothing of whether an account exists.
    """
    candidates = []
    if email:
        query = User.filter(email=email, active=True)
        if agency_slug:
            query = query.filter(agency__slug=agency_slug)
        candidates = await query.order_by("id").limit(MAX_ACCOUNTS)
    if not candidates:
        await verify_password(None, password)
        return []
    checks = await asyncio.gather(*(verify_password(user.password_hash, password) for user in candidates))
    return [user for user, ok in zip(candidates, checks, strict=True) if ok]


async def agencies_of(users: list[User]) -> list[tuple[str, str]]:
    """The (slug, name) of each user's agency, by name: what a person with several accounts chooses from."""
    for user in users:
        await user.fetch_related("agency")
    return sorted(((u.agency.slug, u.agency.name) for u in users), key=lambda a: (a[1].lower(), a[0]))
