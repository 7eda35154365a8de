"""One email address in several agencies: invited by each without either learning of the other,
and signed in to the right one."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from contextlib import asynccontextmanager

import httpx
import pytest
from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.migrations.executor import MigrationExecutor, MigrationTarget

from server import bootstrap, db
from server.models import Agency, Role, Session, User
from server.settings import ROOT
from server.web.sessions import SESSION_COOKIE

from .helpers.clients import sign_in
from .helpers.csrf import csrf_of
from .helpers.database import cli_environment

SHARED = "shared.person@example.org"
DEMO_SECRET = "demo agency password 1"
SPRING_SECRET = "springfield password 2"
LINK = re.compile(r'value="http://[^"]+/invite/([A-Za-z0-9_-]+)"')


@asynccontextmanager
async def browser(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def _springfield(app) -> Agency:
    """A second agency with its own admin."""
    agency = await bootstrap.create_agency(app.state.settings, "springfield", "Springfield Police")
    await bootstrap.create_user(agency, "chief@springfield.test", "Chief Wiggum", Role.ADMIN, bootstrap.DEMO_PASSWORD)
    return agency


async def _invite(admin: httpx.AsyncClient, email: str) -> httpx.Response:
    page = await admin.get("/admin/users")
    data = {"csrf_token": csrf_of(page.text), "email": email, "name": "Shared Person", "role": "officer"}
    return await admin.post("/admin/users", data=data)


async def _set_password(app, token: str, password: str) -> None:
    async with browser(app) as invitee:
        form = await invitee.get(f"/invite/{token}")
        done = await invitee.post(
            f"/invite/{token}", data={"csrf_token": csrf_of(form.text), "password": password, "confirm": password}
        )
        assert done.status_code == 303, done.text


async def _signed_in_as(c: httpx.AsyncClient) -> User:
    """The person this browser's session cookie belongs to."""
    assert (await c.get("/api/v1/acks")).status_code == 200
    token = c.cookies[SESSION_COOKIE]
    session = await Session.get(id=hashlib.sha256(token.encode()).hexdigest()).prefetch_related("user")
    return session.user


async def test_two_agencies_invite_the_same_address_without_learning_of_each_other(app):
    springfield = await _springfield(app)
    async with browser(app) as demo_admin, browser(app) as spring_admin:
        assert (await sign_in(demo_admin, "admin@demo.test")).status_code == 303
        assert (await sign_in(spring_admin, "chief@springfield.test")).status_code == 303

        made = await _invite(demo_admin, SHARED)
        assert made.status_code == 200
        demo_token = LINK.search(made.text).group(1)
        # The address has an account in the demo agency: Springfield is neither told nor blocked.
        made = await _invite(spring_admin, SHARED.upper())
        assert made.status_code == 200 and "already" not in made.text
        spring_token = LINK.search(made.text).group(1)
        # An address already in use elsewhere is invited just the same.
        assert (await _invite(spring_admin, "officer@demo.test")).status_code == 200
        # Within one agency an address is still one account.
        again = await _invite(demo_admin, SHARED)
        assert again.status_code == 400 and "already has an account in your agency" in again.text

        demo_people = (await demo_admin.get("/admin/users")).text
        spring_people = (await spring_admin.get("/admin/users")).text
        assert "Springfield" not in demo_people and "chief@springfield.test" not in demo_people
        assert "Demo Police" not in spring_people and "admin@demo.test" not in spring_people
        assert demo_people.count(SHARED) == spring_people.count(SHARED) == 1
        audit = (await demo_admin.get("/admin/audit")).text
        assert "Springfield" not in audit

    accounts = await User.filter(email=SHARED).order_by("id").values_list("agency_id", flat=True)
    assert accounts == [(await Agency.get(slug="demo")).id, springfield.id]
    await _set_password(app, demo_token, DEMO_SECRET)
    await _set_password(app, spring_token, SPRING_SECRET)

    # Each password opens its own agency's account, with no question asked.
    for secret, slug in ((DEMO_SECRET, "demo"), (SPRING_SECRET, "springfield")):
        async with browser(app) as phone:
            assert (await sign_in(phone, SHARED, secret)).status_code == 303
            user = await _signed_in_as(phone)
            assert user.email == SHARED and user.agency_id == (await Agency.get(slug=slug)).id
    async with browser(app) as phone:
        failed = await sign_in(phone, SHARED, "neither of the two passwords")
        assert failed.status_code == 400 and "do not match an active account" in failed.text


async def test_one_password_for_several_agencies_asks_which_naming_only_those(app):
    springfield = await _springfield(app)
    third = await bootstrap.create_agency(app.state.settings, "shelbyville", "Shelbyville Police")
    demo = await Agency.get(slug="demo")
    for agency in (demo, springfield):
        await bootstrap.create_user(agency, SHARED, "Shared Person", Role.OFFICER, DEMO_SECRET)
    await bootstrap.create_user(third, SHARED, "Shared Person", Role.OFFICER, SPRING_SECRET)

    async with browser(app) as phone:
        asked = await sign_in(phone, SHARED, DEMO_SECRET)
        assert asked.status_code == 200 and "more than one agency" in asked.text
        choices = re.findall(r'name="agency" value="([^"]+)"', asked.text)
        assert choices == ["demo", "springfield"]  # by name; Shelbyville's password differs
        assert "Shelbyville" not in asked.text
        assert DEMO_SECRET not in asked.text  # the password is typed again, never sent back
        # The other agency's password does not open the chosen agency.
        wrong = await phone.post(
            "/sign-in",
            data={"csrf_token": csrf_of(asked.text), "email": SHARED, "password": SPRING_SECRET, "agency": "springfield"},
        )
        assert wrong.status_code == 400
        chosen = await phone.post(
            "/sign-in",
            data={"csrf_token": csrf_of(wrong.text), "email": SHARED, "password": DEMO_SECRET, "agency": "springfield"},
        )
        assert chosen.status_code == 303
        assert (await _signed_in_as(phone)).agency_id == springfield.id
    # A deactivated account is no longer among the choices.
    await User.filter(email=SHARED, agency_id=demo.id).update(active=False)
    async with browser(app) as phone:
        assert (await sign_in(phone, SHARED, DEMO_SECRET)).status_code == 303
        assert (await _signed_in_as(phone)).agency_id == springfield.id


def _cli(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args], capture_output=True, text=True, cwd=ROOT,
        env=cli_environment(settings), stdin=subprocess.DEVNULL, check=False,
    )


def test_the_command_line_is_agency_aware(settings):
    made = _cli(settings, "create-agency", "springfield", "Springfield Police")
    assert made.returncode == 0, made.stderr
    added = _cli(settings, "create-user", "springfield", "Officer@Demo.test", "Casey Elsewhere")
    assert added.returncode == 0, added.stderr
    twice = _cli(settings, "create-user", "springfield", "officer@demo.test", "Casey Again")
    assert twice.returncode != 0 and "already has an account in agency 'springfield'" in twice.stderr

    ambiguous = _cli(settings, "password-link", "officer@demo.test")
    assert ambiguous.returncode != 0
    assert "several agencies (demo, springfield)" in ambiguous.stderr and "--agency" in ambiguous.stderr
    chosen = _cli(settings, "password-link", "officer@demo.test", "--agency", "springfield")
    assert chosen.returncode == 0 and "/invite/" in chosen.stdout
    missing = _cli(settings, "password-link", "officer2@demo.test", "--agency", "springfield")
    assert missing.returncode != 0 and "in agency 'springfield'" in missing.stderr


async def test_the_migration_keeps_every_account_and_what_refers_to_it(empty_settings):
    await db.open_db(empty_settings)
    try:
        executor = MigrationExecutor(connections.get("default"), db.tortoise_config(empty_settings)["apps"])
        await executor.migrate([MigrationTarget("models", "0005_ledger_signatures")])
        conn = connections.get("default")
        now = "2026-01-01 00:00:00"
        await conn.execute_script(
            f"INSERT INTO agency (slug, name, created_at) VALUES ('a', 'A', '{now}'), ('b', 'B', '{now}');"
            "INSERT INTO \"user\" (agency_id, email, name, role, active, school, created_at) "
            f"VALUES (1, 'x@example.org', 'X', 'officer', TRUE, 'Lincoln', '{now}');"
            "INSERT INTO session (id, user_id, csrf_token, created_at, last_seen_at, expires_at, user_agent) "
            f"VALUES ('s1', 1, 't', '{now}', '{now}', '{now}', '')"
        )
        applied = await db.migrate(empty_settings)
        assert applied[0] == "0006_email_per_agency", applied  # then any later ones

        person = await User.get(email="x@example.org")
        assert (person.agency_id, person.name, person.school) == (1, "X", "Lincoln")
        assert (await Session.get(id="s1")).user_id == person.id
        # The same address in another agency; never twice in one.
        await User.create(agency_id=2, email="x@example.org", name="X2", role=Role.OFFICER)
        with pytest.raises(IntegrityError):
            await User.create(agency_id=1, email="x@example.org", name="X3", role=Role.OFFICER)
        # What refers to a person is still enforced.
        with pytest.raises(IntegrityError):
            await conn.execute_script("DELETE FROM \"user\" WHERE id = 1")
        assert await db.pending_migrations(empty_settings) == []
    finally:
        await db.close_db()
