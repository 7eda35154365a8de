"""Tenant isolation: every route × every role × own agency / another agency / signed out."""

from __future__ import annotations

import pytest

from .helpers.csrf import post_forms_without_token
from .helpers.route_matrix import (
    ROLES,
    ROUTES,
    app_routes,
    is_api,
    leaks,
    request,
    snapshot,
)


def test_every_route_is_declared(app):
    """A route added without an entry in ROUTES fails here: declare who may use it."""
    present = app_routes(app)
    missing = [k for k in present if k not in ROUTES]
    assert not missing, f"Declare these routes in tests/helpers/route_matrix.py ROUTES: {missing}"
    stale = [k for k in ROUTES if k not in present]
    assert not stale, f"These ROUTES entries name no route any more: {stale}"


@pytest.mark.parametrize("key", list(ROUTES), ids=lambda k: f"{k[0]} {k[1]}")
async def test_route_access(world, key):
    app, client, own, other = world
    access = ROUTES[key]
    if key not in app_routes(app):
        pytest.fail(f"{key} is declared but is not a route (see test_every_route_is_declared)")
    public = access.roles is None

    # Signed out: only the sign-in page (pages) or 401 (API), and nothing changes.
    before = await snapshot()
    response = await request(client, key, access, own)
    if public:
        assert response.status_code in access.own, response.text[:300]
    else:
        if is_api(key[1]):
            assert response.status_code == 401, response.text[:300]
            assert response.json()["errno"] == 104
        else:
            assert response.status_code == 303, response.text[:300]
            assert response.headers["location"].startswith("/sign-in?next=")
        assert await snapshot() == before

    for role in ROLES:
        allowed = public or role in access.roles
        if not allowed:
            # Wrong role: 403 even with a valid CSRF token, and nothing changes.
            before = await snapshot()
            response = await request(client, key, access, own, own, role)
            assert response.status_code == 403, (role, response.status_code, response.text[:300])
            assert not leaks(response.text)
            assert await snapshot() == before
            continue
        if not public and ((access.ids and access.isolated) or access.body_isolated):
            # Another agency's object, named by a user of ours: refused, nothing read or changed.
            before = await snapshot()
            if access.body_isolated:
                response = await request(client, key, access, own, own, role, body_side=other)
                refused = (403, 404, 409)
            else:
                response = await request(client, key, access, other, own, role)
                refused = (404,)
            assert response.status_code in refused, (role, response.status_code, response.text[:300])
            assert not leaks(response.text, access.ids(other) if access.ids else None), role
            assert await snapshot() == before, f"{role} changed another agency's data through {key}"
        response = await request(client, key, access, own, own, role)
        assert response.status_code in access.own, (role, response.status_code, response.text[:300])
        assert not leaks(response.text), f"{role} read another agency's data through {key}"
        if response.headers.get("content-type", "").startswith("text/html"):
            token = None if public else own.csrf[role]
            assert not post_forms_without_token(response.text, token), f"a form on {key} has no CSRF token"
