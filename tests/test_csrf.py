"""Every state-changing route refuses a request without its CSRF token, and changes nothing."""

from __future__ import annotations

import pytest

from .helpers.csrf import post_forms_without_token
from .helpers.route_matrix import (
    ROLES,
    ROUTES,
    app_routes,
    request,
    snapshot,
)

CHANGING = [k for k in ROUTES if k[0] in ("POST", "PUT", "PATCH", "DELETE")]


def test_every_changing_route_is_covered(app):
    present = [k for k in app_routes(app) if k[0] in ("POST", "PUT", "PATCH", "DELETE")]
    missing = [k for k in present if k not in CHANGING]
    assert present and not missing, f"Declare these routes in tests/helpers/route_matrix.py ROUTES: {missing}"


@pytest.mark.parametrize("key", CHANGING, ids=lambda k: f"{k[0]} {k[1]}")
async def test_missing_or_wrong_csrf_token_is_refused(world, key):
    app, client, own, _ = world
    access = ROUTES[key]
    role = next(r for r in ROLES if access.roles is None or r in access.roles)
    # Public forms (sign-in, set password) use the pre-session cookie and answer 400 with the form again.
    refused = 400 if access.roles is None else 403
    for token in (None, "", "not-the-token", own.csrf[role][:-1]):
        before = await snapshot()
        response = await request(client, key, access, own, own, role, csrf=token)
        assert response.status_code == refused, (token, response.status_code, response.text[:300])
        assert await snapshot() == before, f"{key} changed data without a valid CSRF token"
    # Another user's valid token is not this user's.
    other_role = next(r for r in ROLES if r != role)
    response = await request(client, key, access, own, own, role, csrf=own.csrf[other_role])
    assert response.status_code == refused


def test_the_page_form_check_finds_forms_without_the_token():
    good = '<form action="/x" method="post"><input type="hidden" name="csrf_token" value="abc"></form>'
    bad = '<form action="/x" method="post"><input name="q"></form>'
    search = '<form action="/search" method="get"><input name="q"></form>'
    assert post_forms_without_token(good + search, "abc") == []
    assert post_forms_without_token(good, "other-token")
    assert post_forms_without_token(good + bad, None) == [bad[:160]]
