"""Email as a channel, against a real SMTP server on loopback (aiosmtpd): what arrives, retries and
refusals, officers' choices, publish and remind writing mail rows, and nothing at all without SMTP."""

from __future__ import annotations

import asyncio
import re
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager
from tortoise.transactions import in_transaction

from server import clock, db
from server.app import create_app
from server.mail import outbox as mail_outbox
from server.mail.config import (
    Mail,
    MailConfigError,
    check_from,
    mail_for,
    parse_smtp_url,
)
from server.mail.messages import LINK_REMOVED
from server.mail.worker import MailWorker
from server.models import Agency, EmailOutbox, Release, Role, User
from server.people import accounts
from server.push.remind import remind_pending

from .helpers.clients import sign_in
from .helpers.csrf import csrf_of
from .helpers.push import FAST_PUSH, eventually
from .helpers.releases import publish_revision
from .helpers.smtp import PASSWORD, USERNAME, SmtpServer

BASE = "https://guide.example.org"
LINK = re.compile(r"https://guide\.example\.org(/invite/[A-Za-z0-9_-]+)")
NEW_PASSWORD = "correct horse battery staple"
FAST_MAIL = {"mail_retry_base_ms": 20, "mail_max_attempts": 3, "mail_from": "Field Guide <guide@demo.test>",
             "base_url": BASE, **FAST_PUSH}


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@asynccontextmanager
async def running(settings):
    """The app with its lifespan (and, with SMTP set, its in-process mail worker)."""
    application = create_app(settings)
    try:
        async with LifespanManager(application):
            yield application
    finally:
        await db.close_db()


@asynccontextmanager
async def client_of(app, email: str | None = None):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        if email:
            assert (await sign_in(c, email)).status_code == 303
        yield c


async def _post(c, path: str, page: str, data: dict) -> httpx.Response:
    return await c.post(path, data={"csrf_token": csrf_of((await c.get(page)).text), **data})


def _worker(settings) -> MailWorker:
    return MailWorker(settings)


async def _drain(worker: MailWorker, rounds: int = 20) -> None:
    """Run the worker's batches until nothing is due now (retries due later stay), then let go of its connections."""
    try:
        for _ in range(rounds):
            if not await worker.run_once():
                return
    finally:
        await worker.close_connections()


# --- settings ---------------------------------------------------------------------------------


def test_smtp_url_is_read_with_credentials_decoded_and_tls_decided():
    server = parse_smtp_url("smtp://user%40agency.org:p%40ss%3Aw%2Frd@mail.agency.org")
    assert (server.host, server.port, server.username, server.password) == ("mail.agency.org", 587, "user@agency.org", "p@ss:w/rd")
    assert server.start_tls is True  # a password leaves this machine only over TLS
    assert "p@ss" not in repr(server)
    assert parse_smtp_url("smtp://relay.internal:25").start_tls is None  # no sign-in: STARTTLS when offered
    assert parse_smtp_url("smtp://u:p@127.0.0.1:2525").start_tls is None  # loopback relay
    tls = parse_smtp_url("smtps://u:p@mail.agency.org")
    assert (tls.port, tls.implicit_tls, tls.start_tls) == (465, True, False)
    for bad in ("http://mail.agency.org", "smtp://", "smtp://user@mail.agency.org", "smtp://h:99999", "smtp://h/path"):
        with pytest.raises(MailConfigError) as error:
            parse_smtp_url(bad)
        assert "FIELDGUIDE_SMTP_URL" in str(error.value)
    assert check_from("Field Guide <guide@agency.org>") == "Field Guide <guide@agency.org>"
    for bad in ("", "nobody", "a@b\r\nBcc: x@y"):
        with pytest.raises(MailConfigError):
            check_from(bad)


# --- what arrives, and a link that works once -------------------------------------------------


async def test_an_emailed_invitation_arrives_and_its_link_works_once(settings, smtp):
    settings = settings.with_(smtp_url=smtp.url, **FAST_MAIL)
    async with running(settings) as app, client_of(app, "admin@demo.test") as admin, client_of(app) as invitee:
        page = await admin.get("/admin/users")
        assert "Invitations and password resets are emailed" in page.text
        response = await _post(admin, "/admin/users", "/admin/users",
                               {"email": "New.Officer@demo.test", "name": "Robin <Hood>", "role": "officer", "school": ""})
        assert response.status_code == 200 and "Emailed to new.officer@demo.test" in response.text
        await eventually(lambda: smtp.to("new.officer@demo.test"))
        [mail] = smtp.to("new.officer@demo.test")
        assert mail.recipients == ["new.officer@demo.test"] and mail.sender == "guide@demo.test"
        assert mail.message["From"] == "Field Guide <guide@demo.test>"
        assert mail.subject == "Demo Police Department: your SRO Field Guide account"
        assert smtp.logins >= 1  # signed in with the percent-decoded credentials
        text, html = mail.body("plain"), mail.body("html")
        assert "Hello Robin <Hood>," in text and "Hello Robin &lt;Hood&gt;," in html  # the HTML is escaped
        path = LINK.search(text).group(1)
        assert f'href="{BASE}{path}"' in html  # made from FIELDGUIDE_BASE_URL, never the request's host
        # Once sent, the server's copy no longer holds the single-use link.
        await eventually(lambda: EmailOutbox.exists(to_address="new.officer@demo.test", status="sent"))
        row = await EmailOutbox.get(to_address="new.officer@demo.test")
        assert row.sent_at is not None
        assert path not in row.text and path not in row.html and LINK_REMOVED in row.text

        form = await invitee.get(path)
        assert form.status_code == 200 and "new.officer@demo.test" in form.text
        csrf = csrf_of(form.text)
        done = await invitee.post(path, data={"csrf_token": csrf, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
        assert done.status_code == 303
        again = await invitee.post(path, data={"csrf_token": csrf, "password": NEW_PASSWORD + "!", "confirm": NEW_PASSWORD + "!"})
        assert again.status_code == 410
        home = await invitee.get("/")
        assert home.status_code == 200 and "Robin &lt;Hood&gt;" in home.text  # signed in through the link

        # A reset goes by email too; the earlier invitation's email is not resent.
        person = await User.get(email="new.officer@demo.test")
        reset = await _post(admin, f"/admin/users/{person.id}/link", f"/admin/users/{person.id}", {})
        assert reset.status_code == 200 and "Emailed to new.officer@demo.test" in reset.text
        await eventually(lambda: len(smtp.to("new.officer@demo.test")) == 2)
        assert smtp.to("new.officer@demo.test")[1].subject == "Demo Police Department: set a new SRO Field Guide password"


async def test_without_smtp_nothing_is_emailed_and_the_pages_say_so(settings):
    async with running(settings) as app, client_of(app, "admin@demo.test") as admin:
        assert app.state.mail_worker is None
        assert "Email is not set up: copy the link" in (await admin.get("/admin/users")).text
        response = await _post(admin, "/admin/users", "/admin/users",
                               {"email": "plain@demo.test", "name": "Plain", "role": "officer", "school": ""})
        assert response.status_code == 200 and "Email is not set up: copy the link" in response.text
        assert "/invite/" in response.text
        await publish_revision(touch="teacher", mail=mail_for(settings))
        assert await EmailOutbox.all().count() == 0
        alerts = await (await admin.get("/alerts")).aread()
        assert b"Not set up" in alerts


# --- publish, choices, reminders --------------------------------------------------------------


async def test_publish_writes_mail_in_its_transaction_and_respects_the_officers_choice(settings, smtp):
    settings = settings.with_(smtp_url=smtp.url, push_worker=False, **FAST_MAIL)
    async with running(settings) as app, client_of(app, "officer@demo.test") as officer:
        mail = mail_for(settings)
        # Officer Casey turns off email about releases that need no acknowledgment, on /alerts.
        page = await officer.get("/alerts")
        assert "To officer@demo.test" in page.text and 'name="optional"' in page.text
        bad = await _post(officer, "/alerts/email", "/alerts", {"optional": "maybe"})
        assert bad.status_code == 400 and "Choose whether" in bad.text
        saved = await _post(officer, "/alerts/email", "/alerts", {"optional": "no"})
        assert saved.status_code == 303
        assert "no more email about releases that need no acknowledgment" in (await officer.get(saved.headers["location"])).text
        assert not (await User.get(email="officer@demo.test")).email_optional

        # A publish that fails writes neither the release nor its emails.
        before = await Release.filter(agency__slug="demo").count()
        with pytest.raises(RuntimeError):
            async with in_transaction() as conn:
                await publish_revision(touch="teacher", mail=mail, connection=conn)
                assert await EmailOutbox.all().using_db(conn).count() == 2
                raise RuntimeError("the publish failed after writing")
        assert await Release.filter(agency__slug="demo").count() == before and await EmailOutbox.all().count() == 0

        minor = await publish_revision(touch="teacher", mail=mail, requires_ack=False, summary="Typo fixes.")
        rows = await EmailOutbox.filter(release_id=minor.id).values_list("to_address", flat=True)
        assert rows == ["officer2@demo.test"]  # Casey opted out; supervisors and admins get no release email
        required = await publish_revision(touch="teacher", mail=mail, summary="Restraints: when to call the school.")
        rows = await EmailOutbox.filter(release_id=required.id).order_by("to_address").values_list("to_address", flat=True)
        assert rows == ["officer2@demo.test", "officer@demo.test"]  # the choice does not apply here
        # The older release's email, not sent yet, goes out no more.
        old = await EmailOutbox.get(release_id=minor.id)
        assert old.status == "replaced" and f"release {required.number}" in old.last_error

        await _drain(_worker(settings))
        [got] = smtp.to("officer@demo.test")
        assert got.subject == f"Demo Police Department: release {required.number} needs your acknowledgment"
        text = got.body()
        assert "Restraints: when to call the school." in text and f"{BASE}/changes?to={required.number}" in text
        assert "Please read what changed and acknowledge it." in text
        # Never the guidance itself: the card text this release changed is in no email.
        assert f"Revision {required.number}." not in text and f"Revision {required.number}." not in got.body("html")


async def test_remind_counts_officers_by_channel(settings, smtp):
    settings = settings.with_(smtp_url=smtp.url, push_worker=False, **FAST_MAIL)
    async with running(settings) as app, client_of(app, "supervisor@demo.test") as supervisor:
        release = await publish_revision(touch="teacher", summary="Release to remind.")
        page = await supervisor.get(f"/supervisor/releases/{release.number}")
        response = await supervisor.post(f"/supervisor/releases/{release.number}/remind",
                                         data={"csrf_token": csrf_of(page.text)})
        assert response.status_code == 303
        shown = await supervisor.get(response.headers["location"])
        assert "Reminder sent to 2 officers: 0 by push, 2 by email." in shown.text
        await _drain(_worker(settings))
        assert smtp.to("officer2@demo.test")[0].subject == f"Demo Police Department: please acknowledge release {release.number}"

    # Without email, the same reminder reaches no one and says so.
    agency = await _reopen(settings.with_(smtp_url=""))
    try:
        officers = await User.filter(agency=agency, role=Role.OFFICER)
        actor = await User.get(email="supervisor@demo.test")
        result = await remind_pending(release, officers, actor, None)
        assert (result.by_push, result.by_email, result.unreached, result.reached) == (0, 0, 2, 0)
        result = await remind_pending(release, officers, actor, Mail(BASE))
        assert (result.by_push, result.by_email, result.unreached) == (0, 2, 0)
    finally:
        await db.close_db()


async def _reopen(settings) -> Agency:
    await db.open_db(settings)
    return await Agency.get(slug="demo")


# --- refusals, retries, an SMTP server that is down ------------------------------------------


async def test_refusals_and_a_server_down_are_retried_and_nothing_is_lost(settings, smtp):
    settings = settings.with_(smtp_url=smtp.url, push_worker=False, **FAST_MAIL)
    agency = await _reopen(settings)
    try:
        mail = Mail(BASE)
        worker = _worker(settings)
        smtp.refuse["officer@demo.test"] = ["451 4.3.0 mailbox busy, try later"]
        smtp.refuse_always["officer2@demo.test"] = "550 5.1.1 no such mailbox"
        release = await publish_revision(agency=agency, touch="teacher", mail=mail)
        await worker.run_once()
        # The busy mailbox is retried, with backoff, and gets its email on the next try.
        busy = await EmailOutbox.get(to_address="officer@demo.test", release_id=release.id)
        assert busy.status == "pending" and busy.attempts == 1 and "451" in busy.last_error
        await eventually(_due(busy.id))
        await worker.run_once()
        busy = await EmailOutbox.get(id=busy.id)
        assert busy.status == "sent" and busy.attempts == 2 and len(smtp.to("officer@demo.test")) == 1
        # A permanent refusal marks the address failed at once (no point trying again).
        refused = await EmailOutbox.get(to_address="officer2@demo.test", release_id=release.id)
        assert refused.status == "failed" and refused.attempts == 1 and "550" in refused.last_error
        assert smtp.tries["officer2@demo.test"] == 1

        # The server goes down: every try fails to connect, the rows wait, nothing is lost...
        port = smtp.port
        smtp.stop()
        reminded = await remind_pending(release, await User.filter(agency=agency, role=Role.OFFICER), None, mail)
        assert reminded.by_email == 2
        await worker.run_once()
        waiting = await EmailOutbox.filter(kind="reminder").order_by("id")
        assert [(r.status, r.attempts) for r in waiting] == [("pending", 1), ("pending", 1)]
        assert all(r.next_attempt_at > r.created_at for r in waiting)
        # ...and it comes back: the reminder is delivered on the next try, while an address that
        # keeps answering 4xx is retried until its last try, then marked failed.
        back = SmtpServer(port=port)
        back.refuse_always["officer2@demo.test"] = "452 4.2.2 mailbox full"
        back.start()
        try:
            for row in waiting:
                await eventually(_due(row.id))
            await worker.run_once()
            statuses = {r.to_address: r.status for r in await EmailOutbox.filter(kind="reminder")}
            assert statuses == {"officer@demo.test": "sent", "officer2@demo.test": "pending"}
            assert len(back.to("officer@demo.test")) == 1
            for _ in range(settings.mail_max_attempts):
                row = await EmailOutbox.get(kind="reminder", to_address="officer2@demo.test")
                if row.status != "pending":
                    break
                await eventually(_due(row.id))
                await worker.run_once()
            row = await EmailOutbox.get(kind="reminder", to_address="officer2@demo.test")
            assert row.status == "failed" and row.attempts == settings.mail_max_attempts
            assert row.last_error.startswith(f"gave up after {settings.mail_max_attempts} tries")
        finally:
            await worker.close_connections()
            back.stop()
    finally:
        await db.close_db()


def _due(row_id: int):
    async def check() -> bool:
        row = await EmailOutbox.get(id=row_id)
        return row.next_attempt_at <= clock.now()

    return check


async def test_two_workers_never_send_one_email_twice(settings, smtp):
    settings = settings.with_(smtp_url=smtp.url, push_worker=False, mail_concurrency=3, **FAST_MAIL)
    agency = await _reopen(settings)
    try:
        officers = [
            await User.create(agency=agency, email=f"officer{i}@many.test", name=f"Officer {i}", role=Role.OFFICER)
            for i in range(40)
        ]
        await publish_revision(agency=agency, touch="teacher", mail=Mail(BASE))
        first, second = _worker(settings), _worker(settings)
        await asyncio.gather(_drain(first, 40), _drain(second, 40))
        assert await EmailOutbox.filter(status="sent").count() == 42
        got = [r.recipients[0] for r in smtp.received]
        assert sorted(got) == sorted(set(got)) and len(got) == 42
        assert {o.email for o in officers} <= set(got)
        assert first.counts["sent"] + second.counts["sent"] == 42
    finally:
        await db.close_db()


async def test_invitations_in_bulk_are_emailed_in_the_callers_transaction(settings, smtp):
    """What a roster import does: many links in one transaction, one email each, or none if it fails."""
    settings = settings.with_(smtp_url=smtp.url, push_worker=False, **FAST_MAIL)
    agency = await _reopen(settings)
    try:
        people = [await User.create(agency=agency, email=f"p{i}@bulk.test", name=f"P {i}", role=Role.OFFICER)
                  for i in range(3)]
        with pytest.raises(RuntimeError):
            async with in_transaction() as conn:
                await accounts.new_invitations([p.id for p in people], agency.id, None, 7, conn, mail=Mail(BASE))
                raise RuntimeError("the import failed half way")
        assert await EmailOutbox.all().count() == 0
        async with in_transaction() as conn:
            tokens = await accounts.new_invitations([p.id for p in people], agency.id, None, 7, conn, mail=Mail(BASE))
        await _drain(_worker(settings))
        for p in people:
            [got] = smtp.to(p.email)
            assert f"{BASE}/invite/{tokens[p.id]}" in got.body()
        assert await mail_outbox.next_due() is None
    finally:
        await db.close_db()


def test_links_come_from_the_base_url_only(settings):
    assert mail_for(settings) is None
    on = settings.with_(smtp_url="smtp://relay:25")
    assert mail_for(on).link("/x") is None  # no base URL: a message says to open the app instead
    assert mail_for(on.with_(base_url="https://g.example.org/")).link("/x") == "https://g.example.org/x"
    assert urlsplit(mail_for(on, "https://allowed.example.org").link("/x")).hostname == "allowed.example.org"
    assert USERNAME and PASSWORD


def test_check_config_says_what_email_needs(monkeypatch, capsys, tmp_path):
    from server.cli import main

    def check(**env: str) -> list[str]:
        monkeypatch.setenv("FIELDGUIDE_DATA_DIR", str(tmp_path))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        main(["check-config"])
        return capsys.readouterr().out.splitlines()

    lines = check(FIELDGUIDE_SMTP_URL="smtp://user:secret-word@mail.example.org")
    assert any(line.startswith("ERROR: FIELDGUIDE_MAIL_FROM is unset") for line in lines)
    assert any(line.startswith("WARNING: FIELDGUIDE_BASE_URL is unset: emails") for line in lines)
    assert not any("secret-word" in line for line in lines)  # never the password
    lines = check(FIELDGUIDE_SMTP_URL="smtp://user@mail.example.org", FIELDGUIDE_MAIL_FROM="guide@example.org",
                  FIELDGUIDE_BASE_URL="http://127.0.0.1:8000")
    assert [line for line in lines if "SMTP" in line or "MAIL" in line] == [
        "ERROR: FIELDGUIDE_SMTP_URL names a user but no password: smtp://user:password@host. "
        "The servers would not start (docs/email.md)."
    ]


async def test_the_delivery_ladder_shows_the_email_channel(settings, smtp):
    settings = settings.with_(smtp_url=smtp.url, **FAST_MAIL)
    smtp.refuse_always["officer2@demo.test"] = "550 5.1.1 no such mailbox"
    async with running(settings) as app, client_of(app, "supervisor@demo.test") as supervisor:
        release = await publish_revision(touch="teacher", mail=mail_for(settings), summary="Ladder release.")
        app.state.mail_worker.wake()
        await eventually(lambda: _all_settled(release.id))
        listed = (await supervisor.get(f"/supervisor/releases/{release.number}?status=all")).text
        emails = dict(re.findall(r'<a[^>]*>(Officer [^<]+)</a>.*?data-email="(\w+)"', listed, re.DOTALL))
        assert emails == {"Officer Casey Rivera": "sent", "Officer Sam Okafor": "failed"}
        assert "Email failed: 550 5.1.1 no such mailbox" in listed
        sam = await User.get(email="officer2@demo.test")
        history = (await supervisor.get(f"/supervisor/officers/{sam.id}")).text
        assert 'data-email="failed"' in history
        # An officer the release emails nobody about shows "No email".
        await publish_revision(touch="teacher", mail=None, summary="No email release.")
        listed = (await supervisor.get(f"/supervisor/releases/{release.number + 1}?status=all")).text
        assert set(re.findall(r'data-email="(\w+)"', listed)) == {"none"}


async def _all_settled(release_id: int) -> bool:
    return not await EmailOutbox.filter(release_id=release_id, status__in=("pending", "sending")).exists()


async def test_the_push_worker_command_sends_email_too(settings, smtp):
    """`fieldguide push-worker` (here until the outboxes are empty) runs the mail worker when SMTP is set."""
    from server.push.worker import run_standalone

    settings = settings.with_(smtp_url=smtp.url, push_worker=False, **FAST_MAIL)
    await _reopen(settings)
    try:
        await publish_revision(touch="teacher", mail=mail_for(settings))
    finally:
        await db.close_db()
    counts = await run_standalone(settings, until_empty=True)
    assert counts["email sent"] == 2
    assert sorted(r.recipients[0] for r in smtp.received) == ["officer2@demo.test", "officer@demo.test"]


def test_a_password_link_from_the_command_line_is_emailed_too(settings, smtp, monkeypatch, capsys):
    from server.cli import main

    monkeypatch.setenv("FIELDGUIDE_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("FIELDGUIDE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("FIELDGUIDE_SMTP_URL", smtp.url)
    monkeypatch.setenv("FIELDGUIDE_MAIL_FROM", "guide@demo.test")
    monkeypatch.setenv("FIELDGUIDE_BASE_URL", BASE)
    assert main(["password-link", "officer@demo.test"]) == 0
    out = capsys.readouterr().out
    assert "It is also emailed to officer@demo.test" in out
    path = LINK.search(out).group(1)

    async def written() -> EmailOutbox:
        await db.open_db(settings)
        try:
            return await EmailOutbox.get(to_address="officer@demo.test")
        finally:
            await db.close_db()

    row = asyncio.run(written())
    assert row.kind == "reset" and row.status == "pending" and f"{BASE}{path}" in row.text


async def test_an_email_to_someone_deactivated_meanwhile_is_not_sent(settings, smtp):
    settings = settings.with_(smtp_url=smtp.url, push_worker=False, **FAST_MAIL)
    agency = await _reopen(settings)
    try:
        admin = await User.get(email="admin@demo.test")
        person, _ = await accounts.invite(agency, admin, "gone@demo.test", "Soon Gone", "officer", "", 7, mail=Mail(BASE))
        await accounts.deactivate(admin, person)
        await _drain(_worker(settings))
        row = await EmailOutbox.get(to_address="gone@demo.test")
        assert row.status == "failed" and row.last_error == "not sent: the account was deactivated"
        assert "/invite/" not in row.text and smtp.to("gone@demo.test") == []
    finally:
        await db.close_db()
