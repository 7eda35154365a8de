"""HTTP clients of the app in-process, signed in through the real sign-in form."""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx

from server import bootstrap

from .csrf import csrf_of


async def sign_in(client: httpx.AsyncClient, email: str, password: str = bootstrap.DEMO_PASSWORD) -> httpx.Response:
    """Sign in through the real form; returns the final response."""
    page = await client.get("/sign-in")
    return await client.post(
        "/sign-in", data={"email": email, "password": password, "csrf_token": csrf_of(page.text)}
    )


@asynccontextmanager
async def client_as(app, email: str | None = None):
    """A separate client (its own cookies), signed in as a demo user when an email is given."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        if email:
            response = await sign_in(c, email)
            assert response.status_code == 303, response.text
        yield c
