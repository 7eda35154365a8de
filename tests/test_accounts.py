"""Accounts: invitations, set-password links, deactivation, roles and schools, the audit log."""

from __future__ import annotations

import asyncio
import hashlib
import re
import subprocess
import sys
from contextlib import asynccontextmanager
from dataclasses import fields
from datetime import timedelta

import httpx
from argon2 import PasswordHasher
from asgi_lifespan import LifespanManager

from server import clock
from server.app import create_app
from server.bootstrap import DEMO_PASSWORD
from server.cli import SETTINGS_TABLE_END, SETTINGS_TABLE_START, settings_table
from server.models import AuditEntry, Invitation, Session, User
from server.people.auth import hash_password, verify_password
from server.settings import ROOT, Settings

from .helpers.clients import sign_in
from .helpers.csrf import csrf_of
from .helpers.database import cli_environment

LINK = re.compile(r'value="(http://[^"]+/invite/([A-Za-z0-9_-]+))"')
NEW_PASSWORD = "correct horse battery staple"


@asynccontextmanager
async def browser(app, email: str | None = None, password: str | None = None):
    """A separate client (its own cookies), signed in when an email is given."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        if email:
            response = await (sign_in(c, email, password) if password else sign_in(c, email))
            assert response.status_code == 303, response.text
        yield c


async def _post(c: httpx.AsyncClient, path: str, page: str, data: dict | None = None) -> httpx.Response:
    token = csrf_of((await c.get(page)).text)
    return await c.post(path, data={"csrf_token": token, **(data or {})})


async def _invite(admin: httpx.AsyncClient, email: str, role: str = "officer", school: str = "") -> tuple[str, str]:
    response = await _post(
        admin, "/admin/users", "/admin/users", {"email": email, "name": "New Person", "role": role, "school": school}
    )
    assert response.status_code == 200, response.text
    assert "Email is not set up: copy the link" in response.text
    url, token = LINK.search(response.text).groups()
    return url, token


async def _user_id(email: str) -> int:
    return (await User.get(email=email)).id


async def test_invitation_sets_a_password_once_and_signs_in(app):
    async with browser(app, "admin@demo.test") as admin, browser(app) as invitee:
        url, token = await _invite(admin, "new.officer@demo.test", school="Lincoln High School")
        assert url == f"http://testserver/invite/{token}"
        # Only the SHA-256 of the token is stored.
        invitation = await Invitation.get(user__email="new.officer@demo.test")
        assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert invitation.purpose == "invite"
        assert timedelta(days=6, hours=23) < invitation.expires_at - clock.now() <= timedelta(days=7)
        assert not await Invitation.filter(token_hash=token).exists()

        # Not yet able to sign in: no password.
        assert (await sign_in(invitee, "new.officer@demo.test", NEW_PASSWORD)).status_code == 400

        form = await invitee.get(f"/invite/{token}")
        assert form.status_code == 200 and "Set your password" in form.text and "new.officer@demo.test" in form.text
        assert form.headers["cache-control"] == "no-store"
        csrf = csrf_of(form.text)

        short = await invitee.post(f"/invite/{token}", data={"csrf_token": csrf, "password": "short one", "confirm": "short one"})
        assert short.status_code == 400 and "at least 12 characters (yours has 9)" in short.text
        mismatch = await invitee.post(
            f"/invite/{token}", data={"csrf_token": csrf, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "!"}
        )
        assert mismatch.status_code == 400 and "not the same" in mismatch.text
        no_csrf = await invitee.post(f"/invite/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
        assert no_csrf.status_code == 400 and "expired" in no_csrf.text

        done = await invitee.post(f"/invite/{token}", data={"csrf_token": csrf, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
        assert done.status_code == 303 and done.headers["location"] == "/"
        home = await invitee.get("/")
        assert home.status_code == 200 and "New Person" in home.text

        # Used: the link cannot be used again, by GET or POST.
        again = await invitee.get(f"/invite/{token}")
        assert again.status_code == 410 and "used already" in again.text
        replay = await invitee.post(f"/invite/{token}", data={"csrf_token": csrf, "password": "another password 123", "confirm": "another password 123"})
        assert replay.status_code == 410
        async with browser(app, "new.officer@demo.test", NEW_PASSWORD):
            pass
        actions = [e.action for e in await AuditEntry.filter(target="new.officer@demo.test").order_by("id")]
        assert actions == ["user.invite", "user.password_set"]


async def test_expired_and_unknown_links_get_clear_pages(app):
    async with browser(app, "admin@demo.test") as admin, browser(app) as invitee:
        _, token = await _invite(admin, "late@demo.test")
        form = await invitee.get(f"/invite/{token}")
        await Invitation.filter(user__email="late@demo.test").update(expires_at=clock.now() - timedelta(seconds=1))
        expired = await invitee.get(f"/invite/{token}")
        assert expired.status_code == 410 and "This link has expired" in expired.text and "new link" in expired.text
        posted = await invitee.post(
            f"/invite/{token}", data={"csrf_token": csrf_of(form.text), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
        )
        assert posted.status_code == 410
        assert (await User.get(email="late@demo.test")).password_hash is None

        unknown = await invitee.get(f"/invite/{token[:-3]}xyz")
        assert unknown.status_code == 404 and "does not work" in unknown.text

        # The admin sees the invitation expired and can make a new link; the old one stays dead.
        person = await _user_id("late@demo.test")
        listing = await admin.get("/admin/users")
        assert "Invitation expired" in listing.text
        page = await admin.post(f"/admin/users/{person}/link", data={"csrf_token": csrf_of(listing.text)})
        assert page.status_code == 200 and "Give this link to New Person" in page.text
        new_token = LINK.search(page.text).group(2)
        assert new_token != token
        assert (await invitee.get(f"/invite/{new_token}")).status_code == 200
        assert (await invitee.get(f"/invite/{token}")).status_code == 410


async def test_a_new_link_replaces_an_earlier_open_one(app):
    async with browser(app, "admin@demo.test") as admin, browser(app) as invitee:
        _, first = await _invite(admin, "twice@demo.test")
        person = await _user_id("twice@demo.test")
        page = await _post(admin, f"/admin/users/{person}/link", f"/admin/users/{person}")
        second = LINK.search(page.text).group(2)
        assert (await invitee.get(f"/invite/{first}")).status_code == 410
        assert (await invitee.get(f"/invite/{second}")).status_code == 200


async def test_invitation_form_errors_are_clear_and_keep_what_was_typed(app):
    async with browser(app, "admin@demo.test") as admin:
        cases = [
            ({"email": "not-an-email", "name": "A B", "role": "officer"}, "does not look like an email"),
            ({"email": "officer@demo.test", "name": "A B", "role": "officer"}, "already has an account"),
            ({"email": "x@demo.test", "name": "  ", "role": "officer"}, "Enter the person&#39;s name"),
            ({"email": "x@demo.test", "name": "A B", "role": "chief"}, "Choose officer, supervisor or admin"),
        ]
        for data, message in cases:
            response = await _post(admin, "/admin/users", "/admin/users", data)
            assert response.status_code == 400 and message in response.text, data
            assert f'value="{data["email"]}"' in response.text
        assert not await User.filter(email__in=["not-an-email", "x@demo.test"]).exists()


async def test_deactivation_ends_sessions_at_once_and_keeps_records(app):
    async with (
        browser(app, "admin@demo.test") as admin,
        browser(app, "officer2@demo.test") as phone,
        browser(app, "officer2@demo.test") as laptop,
    ):
        assert (await phone.get("/api/v1/manifest")).status_code == 200
        person = await _user_id("officer2@demo.test")
        response = await _post(admin, f"/admin/users/{person}/deactivate", f"/admin/users/{person}")
        assert response.status_code == 303
        assert "Deactivated" in (await admin.get(response.headers["location"])).text

        # Both devices are out on their very next request.
        assert (await phone.get("/api/v1/manifest")).status_code == 401
        page = await laptop.get("/")
        assert page.status_code == 303 and page.headers["location"].startswith("/sign-in")
        assert await Session.filter(user_id=person, revoked_at__isnull=True).count() == 0
        # Cannot sign back in; same message as a wrong password.
        async with browser(app) as again:
            refused = await sign_in(again, "officer2@demo.test")
            assert refused.status_code == 400 and "do not match an active account" in refused.text
        # Nothing deleted.
        user = await User.get(id=person)
        assert not user.active and user.password_hash
        entry = await AuditEntry.get(action="user.deactivate")
        assert entry.target == "officer2@demo.test" and entry.details == {"sessions_ended": 2}
        assert entry.actor_id == await _user_id("admin@demo.test")

        # Reactivation: the old password works again.
        assert (await _post(admin, f"/admin/users/{person}/reactivate", f"/admin/users/{person}")).status_code == 303
        async with browser(app, "officer2@demo.test"):
            pass
        assert await AuditEntry.filter(action="user.reactivate", target="officer2@demo.test").count() == 1


async def test_reset_link_ends_every_session_when_used(app):
    async with browser(app, "admin@demo.test") as admin, browser(app, "officer@demo.test") as old_phone:
        person = await _user_id("officer@demo.test")
        page = await _post(admin, f"/admin/users/{person}/link", f"/admin/users/{person}")
        assert "signs them out on every other device" in page.text
        token = LINK.search(page.text).group(2)
        # Making the link ends nothing yet.
        assert (await old_phone.get("/")).status_code == 200
        async with browser(app) as new_phone:
            form = await new_phone.get(f"/invite/{token}")
            done = await new_phone.post(
                f"/invite/{token}", data={"csrf_token": csrf_of(form.text), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
            )
            assert done.status_code == 303
            assert (await new_phone.get("/")).status_code == 200
        assert (await old_phone.get("/")).status_code == 303
        async with browser(app) as other:
            assert (await sign_in(other, "officer@demo.test")).status_code == 400
            assert (await sign_in(other, "officer@demo.test", NEW_PASSWORD)).status_code == 303
        entry = await AuditEntry.get(action="user.password_set")
        assert entry.actor_id == person and entry.details == {"link": "reset", "sessions_ended": 1}
        assert await AuditEntry.filter(action="user.reset_link", actor_id=await _user_id("admin@demo.test")).exists()


async def test_link_used_while_signed_in_as_someone_else_switches_account(app):
    async with browser(app, "admin@demo.test") as admin:
        _, token = await _invite(admin, "switch@demo.test")
        form = await admin.get(f"/invite/{token}")
        assert "This browser is signed in as Lt. Morgan Diaz" in form.text
        admin_session = await Session.get(user__email="admin@demo.test", revoked_at__isnull=True)
        done = await admin.post(
            f"/invite/{token}", data={"csrf_token": csrf_of(form.text), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
        )
        assert done.status_code == 303
        await admin_session.refresh_from_db()
        assert admin_session.revoked_at is not None
        assert "New Person" in (await admin.get("/")).text


async def test_admins_cannot_lock_themselves_or_the_agency_out(app):
    async with browser(app, "admin@demo.test") as admin:
        me = await _user_id("admin@demo.test")
        other_admin = await _user_id("admin2@demo.test")
        page = await admin.get(f"/admin/users/{me}")
        assert "You cannot deactivate your own account" in page.text
        refused = await admin.post(f"/admin/users/{me}/deactivate", data={"csrf_token": csrf_of(page.text)})
        assert refused.status_code == 409 and "your own account" in refused.text
        assert (await User.get(id=me)).active

        # With two admins one may be made an officer; the last one may not.
        demoted = await _post(
            admin, f"/admin/users/{other_admin}", f"/admin/users/{other_admin}", {"name": "Capt. Avery Chen", "role": "officer", "school": ""}
        )
        assert demoted.status_code == 303
        last = await _post(admin, f"/admin/users/{me}", f"/admin/users/{me}", {"name": "Lt. Morgan Diaz", "role": "officer", "school": ""})
        assert last.status_code == 400 and "at least one active admin" in last.text
        assert (await User.get(id=me)).role.value == "admin"


async def test_role_and_school_changes_are_audited_and_schools_filter_the_list(app):
    async with browser(app, "admin@demo.test") as admin:
        person = await _user_id("officer2@demo.test")
        response = await _post(
            admin,
            f"/admin/users/{person}",
            f"/admin/users/{person}",
            {"name": "Officer Sam Okafor", "role": "supervisor", "school": "  Lincoln   High School "},
        )
        assert response.status_code == 303 and response.headers["location"].endswith("done=saved")
        user = await User.get(id=person)
        assert user.role.value == "supervisor" and user.school == "Lincoln High School"
        entries = {e.action: e for e in await AuditEntry.filter(target="officer2@demo.test")}
        assert entries["user.role"].details == {"from": "officer", "to": "supervisor"}
        assert entries["user.school"].details == {"from": "Roosevelt Middle School", "to": "Lincoln High School"}
        assert "user.name" not in entries

        unchanged = await _post(
            admin, f"/admin/users/{person}", f"/admin/users/{person}", {"name": "Officer Sam Okafor", "role": "supervisor", "school": "Lincoln High School"}
        )
        assert unchanged.headers["location"].endswith("done=unchanged")
        assert await AuditEntry.filter(target="officer2@demo.test").count() == 2

        lincoln = await admin.get("/admin/users", params={"school": "Lincoln High School"})
        assert "Officer Casey Rivera" in lincoln.text and "Officer Sam Okafor" in lincoln.text
        assert "Sgt. Jordan Lee" not in lincoln.text


async def test_audit_log_is_paged_newest_first_and_filtered(app):
    async with browser(app, "admin@demo.test") as admin:
        person = await _user_id("officer2@demo.test")
        page = await admin.get(f"/admin/users/{person}")
        csrf = csrf_of(page.text)
        for i in range(30):
            await admin.post(f"/admin/users/{person}", data={"csrf_token": csrf, "name": f"Name {i:02d}", "role": "officer", "school": ""})
        for _ in range(2):
            await admin.post(f"/admin/users/{person}/deactivate", data={"csrf_token": csrf})
            await admin.post(f"/admin/users/{person}/reactivate", data={"csrf_token": csrf})
        # 30 name changes + 1 school change + 2 deactivations + 2 reactivations.
        first = await admin.get("/admin/audit")
        assert first.status_code == 200 and "35 entries" in first.text and "page 1 of 1" not in first.text
        log = first.text.split('class="audit-list"', 1)[1]
        assert log.index("user.reactivate") < log.index("user.deactivate") < log.index("Name 29")
        renamed_to = re.findall(r"<dt>to</dt><dd>Name (\d+)</dd>", log)
        assert renamed_to == [f"{i:02d}" for i in range(29, -1, -1)]
        renames = await admin.get("/admin/audit", params={"action": "user.name"})
        assert "30 entries of user.name" in renames.text and "user.deactivate" not in renames.text.split("<ol", 1)[1]
        assert "Lincoln" not in renames.text.split('class="audit-list"', 1)[1]
        assert "Lt. Morgan Diaz" in renames.text

        await AuditEntry.bulk_create(
            [AuditEntry(agency_id=1, actor_id=None, action="test.bulk", target=f"t{i}") for i in range(60)]
        )
        one = await admin.get("/admin/audit", params={"action": "test.bulk"})
        two = await admin.get("/admin/audit", params={"action": "test.bulk", "page": "2"})
        assert "page 1 of 2" in one.text and "page 2 of 2" in two.text
        assert one.text.count('class="audit-entry"') == 50 and two.text.count('class="audit-entry"') == 10
        assert "action=test.bulk" in one.text and 'rel="next"' in one.text and 'rel="prev"' in two.text
        assert (await admin.get("/admin/audit", params={"page": "0"})).status_code == 400


def test_audit_entries_are_only_ever_created():
    """No code path changes or removes an audit entry."""
    sources = "\n".join(p.read_text() for p in (ROOT / "server").rglob("*.py") if "migrations" not in p.parts)
    statements = re.findall(r"AuditEntry[^\n]*", sources)
    assert statements, "the audit log is written somewhere"
    for line in statements:
        assert not re.search(r"\.(update|delete|bulk_update|save|select_for_update)\(", line), line
    audit_src = (ROOT / "server" / "people" / "audit.py").read_text()
    assert "AuditEntry.create(" in audit_src and ".delete(" not in audit_src and ".update(" not in audit_src


def _cli(settings, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = cli_environment(settings, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args], capture_output=True, text=True, cwd=ROOT, env=environment,
        stdin=subprocess.DEVNULL,
    )


async def test_cli_creates_an_agency_whose_first_admin_gets_a_link(settings):
    made = _cli(settings, "create-agency", "springfield", "Springfield PD", "--admin-email", "Chief@Springfield.test",
                env={"FIELDGUIDE_BASE_URL": "https://guide.example.org/"})
    assert made.returncode == 0, made.stderr
    url = re.search(r"https://guide\.example\.org/invite/([A-Za-z0-9_-]+)", made.stdout)
    assert url, made.stdout
    assert "expires in 7 days" in made.stdout

    added = _cli(settings, "create-user", "springfield", "sro@springfield.test", "Officer One", "--base-url", "https://other.example.org")
    assert added.returncode == 0, added.stderr
    assert re.search(r"https://other\.example\.org/invite/[A-Za-z0-9_-]+", added.stdout)
    short = _cli(settings, "create-user", "springfield", "x@springfield.test", "X", "--password", "short")
    assert short.returncode != 0 and "at least 12 characters" in short.stderr
    relink = _cli(settings, "password-link", "chief@springfield.test")
    assert relink.returncode == 0 and "http://127.0.0.1:8000/invite/" in relink.stdout

    app = create_app(settings)
    async with LifespanManager(app), browser(app) as chief:
        # The newer link (password-link) replaced the first one.
        assert (await chief.get(f"/invite/{url.group(1)}")).status_code == 410
        token = re.search(r"/invite/([A-Za-z0-9_-]+)", relink.stdout).group(1)
        form = await chief.get(f"/invite/{token}")
        assert "Springfield PD" in form.text
        done = await chief.post(f"/invite/{token}", data={"csrf_token": csrf_of(form.text), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
        assert done.status_code == 303
        people = await chief.get("/admin/users")
        assert people.status_code == 200 and "sro@springfield.test" in people.text
        assert "officer@demo.test" not in people.text
        log = await chief.get("/admin/audit")
        for action in ("agency.create", "user.create", "user.invite_link", "user.password_set"):
            assert action in log.text
        assert "platform operator" in log.text


def test_every_setting_is_in_the_readme_table():
    """README's table is exactly the one `fieldguide settings-table` makes from the help texts."""
    readme = (ROOT / "README.md").read_text()
    for f in fields(Settings):
        assert f"| `{f.metadata['env']}` |" in readme, f.metadata["env"]
    start = readme.index(SETTINGS_TABLE_START) + len(SETTINGS_TABLE_START) + 1
    end = readme.index(SETTINGS_TABLE_END, start)
    assert readme[start:end] == settings_table(), "README's settings table is stale: run fieldguide settings-table --write"


def test_templates_have_no_inline_script_or_style():
    """The CSP allows neither: scripts come from files, styles from app.css."""
    for path in (ROOT / "pwa" / "templates").rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"\sstyle=", text), path.name
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag, (path.name, tag)


async def test_passwords_are_hashed_and_checked_off_the_event_loop():
    ticks = 0
    stop = asyncio.Event()

    async def other_requests():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    # The other task first runs at the first await that yields to the loop: a hash computed on
    # the loop would leave it at zero.
    task = asyncio.create_task(other_requests())
    hashed = await hash_password("correct horse battery staple")
    after_hash, ticks = ticks, 0
    right = await verify_password(hashed, "correct horse battery staple")
    after_verify, ticks = ticks, 0
    wrong = await verify_password(None, "no such account")  # the unknown-email path too
    after_unknown = ticks
    stop.set()
    await task
    assert right and not wrong and hashed.startswith("$argon2id$")
    assert after_hash > 0 and after_verify > 0 and after_unknown > 0


async def test_a_hash_with_older_parameters_is_renewed_at_the_next_sign_in(client):
    # Hashes made before one lane became the rule (four lanes: argon2-cffi's default) still verify,
    # and the first sign-in with the password replaces them; a failed one changes nothing.
    older = PasswordHasher(parallelism=4).hash(DEMO_PASSWORD)
    await User.filter(email="officer@demo.test").update(password_hash=older)
    assert (await sign_in(client, "officer@demo.test", password="not the password")).status_code == 400
    assert (await User.get(email="officer@demo.test")).password_hash == older
    assert (await sign_in(client, "officer@demo.test")).status_code == 303
    renewed = (await User.get(email="officer@demo.test")).password_hash
    assert renewed != older and ",p=1$" in renewed
    assert await verify_password(renewed, DEMO_PASSWORD)
