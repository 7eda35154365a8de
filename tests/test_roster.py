"""Roster import: reading the CSV, the plan, applying it in one transaction, the admin pages and the command."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

import httpx
import pytest

from server import tally
from server.acknowledgments.ledger import record_ack
from server.bootstrap import create_agency
from server.guidance.releases import load_release
from server.models import Agency, AuditEntry, Invitation, Role, Session, User
from server.people import accounts, roster

from .helpers.clients import client_as
from .helpers.csrf import csrf_of
from .helpers.database import cli_environment
from .helpers.queries import recorded_queries
from .helpers.releases import publish_revision

HEADER = "email,name,role,school\n"
LINK = re.compile(r'value="(http://testserver/invite/([A-Za-z0-9_-]+))"')
BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}  # what a browser's form post sends
CARRIED = re.compile(r'name="(roster|plan|filename|deactivate_missing)" value="([^"]*)"')


async def _demo() -> tuple[Agency, User]:
    return await Agency.get(slug="demo"), await User.get(email="admin@demo.test")


async def _snapshot(agency_id: int) -> tuple:
    """Everything an import may write, to prove a refused one wrote nothing."""
    people = await User.filter(agency_id=agency_id).order_by("id").values_list("email", "name", "role", "school", "active")
    links = await Invitation.filter(agency_id=agency_id).count()
    entries = await AuditEntry.filter(agency_id=agency_id).count()
    ended = await Session.filter(user__agency_id=agency_id, revoked_at__isnull=False).count()
    return people, links, entries, ended


def _csv(*rows: str, header: str = HEADER) -> bytes:
    return (header + "".join(r + "\n" for r in rows)).encode()


# --- reading the file -------------------------------------------------------------------


def test_header_names_are_free_in_case_spacing_and_order_with_a_bom_or_semicolons():
    data = "\ufeff School ;EMAIL;  Name ;Role;;\nLincoln High;A@Example.org;Ann  Lee;Officer;;\n".encode()
    entries, problems = roster.read(data)
    assert problems == []
    assert entries == [roster.Entry(2, "a@example.org", "Ann Lee", Role.OFFICER, "Lincoln High")]


@pytest.mark.parametrize(
    "header, words",
    [
        ("email,name,role\n", "missing column school"),
        ("email,name,role,school,badge\n", "unknown column 'badge'"),
        ("email,name,role,school,email\n", "email given twice"),
        ("mail,name,role,school\n", "missing column email"),
    ],
)
def test_wrong_columns_refuse_the_whole_file(header, words):
    with pytest.raises(roster.RosterError) as caught:
        roster.read(_csv("a@example.org,A,officer,X", header=header))
    assert words in caught.value.message
    assert "email, name, role and school" in caught.value.message


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "empty"),
        ("email,name,role,school\nb@example.org,Bj\xf6rn,officer,\n".encode("latin-1"), "not UTF-8"),
        (b"email,name,role,school\na@example.org,A\x00,officer,\n", "NUL"),
        (b"x" * (roster.MAX_BYTES + 1), "at most 900,000 bytes"),
        (_csv(*(f"p{i}@example.org,P,officer," for i in range(roster.MAX_ROWS + 1))), "more than 10,000 people"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(data, words):
    with pytest.raises(roster.RosterError) as caught:
        roster.read(data)
    assert words in caught.value.message


def test_each_wrong_row_has_its_line_and_why():
    data = _csv(
        "ok@example.org,Okay Person,officer,Lincoln",
        "not-an-email,Bad Email,officer,",
        ",No Email,officer,",
        "role@example.org,Bad Role,sheriff,",
        'long@example.org,"' + "N" * 201 + '",officer,',
        "ok@example.org,Same Again,officer,",
        "cells@example.org,Too,Many,cells,here",
        "",
        '"multi@example.org","Two\nLines",officer,',
        "after@example.org,After,,",
    )
    entries, problems = roster.read(data)
    assert [e.email for e in entries] == ["ok@example.org", "multi@example.org"]
    why = {p.line: p.message for p in problems}
    assert "does not look like an email" in why[3]
    assert "Enter the person's email" in why[4]
    assert "Unknown role 'sheriff'" in why[5]
    assert "200 characters" in why[6]
    assert "same email is on line 2" in why[7]
    assert "has 5 cells" in why[8]
    assert "No role" in why[12]  # the quoted name over lines 10-11 keeps the line count right
    assert set(why) == {3, 4, 5, 6, 7, 8, 12}


def test_the_template_reads_back_as_the_same_people_even_with_formula_like_text():
    people = [
        User(email="a@example.org", name="=HYPERLINK(x)", role=Role.OFFICER, school="+Plus School"),
        User(email="b@example.org", name="'Quoted", role=Role.ADMIN, school=None),
    ]
    text = roster.template(people)
    assert "'=HYPERLINK(x)" in text  # inert in a spreadsheet
    entries, problems = roster.read(text.encode())
    assert problems == []
    assert [(e.email, e.name, e.role, e.school) for e in entries] == [
        ("b@example.org", "'Quoted", Role.ADMIN, None),
        ("a@example.org", "=HYPERLINK(x)", Role.OFFICER, "+Plus School"),
    ]


# --- the plan and applying it (each test on SQLite and PostgreSQL) ------------------------


async def test_plan_sorts_rows_into_create_update_unchanged_and_deactivate(app):
    agency, admin = await _demo()
    gone = await User.get(email="officer2@demo.test")
    await accounts.deactivate(admin, gone)
    before = await _snapshot(agency.id)
    data = _csv(
        "new@example.org,New Officer,officer,Lincoln High School",
        "officer@demo.test,Officer Casey Rivera,supervisor,Lincoln High School",  # role changes
        "officer2@demo.test,Officer Sam Okafor,officer,Roosevelt Middle School",  # comes back
        "admin2@demo.test,Capt. Avery Chen,admin,",  # as it is
    )
    plan = await roster.plan(agency.id, data, admin, deactivate_missing=True)
    assert plan.ok
    assert [e.email for e in plan.create] == ["new@example.org"]
    changes = {c.entry.email: c for c in plan.update}
    assert changes["officer@demo.test"].changes == {"role": ("officer", "supervisor")}
    assert changes["officer2@demo.test"].reactivate and not changes["officer2@demo.test"].changes
    assert plan.unchanged == 1
    # Missing from the file: the supervisor and the acting admin are never deactivated, and the
    # only active officer not listed is... none (both officers are listed).
    assert plan.deactivate == []
    assert await _snapshot(agency.id) == before  # planning writes nothing


async def test_only_officers_missing_from_the_file_are_deactivated_and_only_when_asked(app):
    agency, admin = await _demo()
    data = _csv("officer@demo.test,Officer Casey Rivera,officer,Lincoln High School")
    assert (await roster.plan(agency.id, data, admin)).deactivate == []
    plan = await roster.plan(agency.id, data, admin, deactivate_missing=True)
    assert [p.email for p in plan.deactivate] == ["officer2@demo.test"]  # not supervisor@, admin@, admin2@


async def test_an_admin_cannot_demote_themselves_and_an_agency_keeps_an_admin(app):
    agency, admin = await _demo()
    plan = await roster.plan(agency.id, _csv("admin@demo.test,Lt. Morgan Diaz,officer,"), admin)
    assert [(p.line, p.email) for p in plan.problems] == [(2, "admin@demo.test")]
    assert "your own admin role" in plan.problems[0].message
    # From the command line (no acting admin): demoting every admin is refused.
    data = _csv("admin@demo.test,Lt. Morgan Diaz,supervisor,", "admin2@demo.test,Capt. Avery Chen,officer,")
    plan = await roster.plan(agency.id, data, None)
    assert "No active admin would be left" in plan.problems[0].message
    plan = await roster.plan(agency.id, data + b"new@example.org,New Admin,admin,\n", None)
    assert plan.ok


async def test_apply_writes_everyone_in_one_audited_transaction(app):
    agency, admin = await _demo()
    officer2 = await User.get(email="officer2@demo.test")
    await Session.create(
        id="s" * 64, user=officer2, csrf_token="c", last_seen_at=officer2.created_at, expires_at=officer2.created_at.replace(year=2099)
    )
    data = _csv(
        "new1@example.org,New One,officer,Lincoln High School",
        "new2@example.org,New Two,supervisor,",
        "officer@demo.test,Officer Casey Rivera,officer,Jefferson High School",
    )
    result = await roster.apply(agency, admin, data, True, days=7, source="spring.csv")
    assert result.plan.counts() == {
        "rows": 3, "created": 2, "updated": 1, "reactivated": 0, "unchanged": 0, "deactivated": 1, "wrong": 0
    }
    people = {u.email: u for u in await User.filter(agency_id=agency.id)}
    assert people["new2@example.org"].role == Role.SUPERVISOR and people["new2@example.org"].password_hash is None
    assert people["officer@demo.test"].school == "Jefferson High School"
    assert not people["officer2@demo.test"].active
    assert await Session.filter(user_id=officer2.id, revoked_at__isnull=True).count() == 0
    # Each new person has one open invitation, and its token is the one handed back.
    assert sorted(email for email, _, _ in result.links) == ["new1@example.org", "new2@example.org"]
    for email, _, token in result.links:
        invitation, state = await accounts.find_link(token)
        assert state == accounts.LinkState.OK and invitation.user.email == email
    entries = await AuditEntry.filter(agency_id=agency.id, action=roster.AUDIT_ACTION)
    assert len(entries) == 1
    assert entries[0].actor_id == admin.id and entries[0].target == "spring.csv"
    assert entries[0].details["sha256"] == result.plan.sha256 and entries[0].details["created"] == 2
    assert await tally.differences(agency.id) == {}


async def test_someone_coming_back_without_a_password_gets_a_new_link(app):
    agency, admin = await _demo()
    invited, old_token = await accounts.invite(agency, admin, "back@example.org", "Back Again", "officer", "", 7)
    await accounts.deactivate(admin, invited)
    result = await roster.apply(agency, admin, _csv("back@example.org,Back Again,officer,"), False, days=7)
    assert result.plan.counts()["reactivated"] == 1
    [(email, _, token)] = result.links
    assert email == "back@example.org" and token != old_token
    assert (await accounts.find_link(token))[1] == accounts.LinkState.OK
    assert (await accounts.find_link(old_token))[1] == accounts.LinkState.EXPIRED
    # Someone with a password signs in with it again: no link.
    officer2 = await User.get(email="officer2@demo.test")
    await accounts.deactivate(admin, officer2)
    result = await roster.apply(agency, admin, _csv("officer2@demo.test,Officer Sam Okafor,officer,"), False, days=7)
    assert result.plan.counts()["reactivated"] == 1 and result.links == []
    assert (await User.get(id=officer2.id)).active


async def test_a_failure_mid_apply_writes_nothing(app, monkeypatch):
    agency, admin = await _demo()
    before = await _snapshot(agency.id)

    async def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(roster.audit, "record", broken)  # the last write of the transaction
    data = _csv("new1@example.org,New One,officer,", "officer@demo.test,Renamed,officer,")
    with pytest.raises(RuntimeError):
        await roster.apply(agency, admin, data, True, days=7)
    assert await _snapshot(agency.id) == before


async def test_deactivating_officers_who_acknowledged_keeps_the_tallies_right(app):
    agency, admin = await _demo()
    release = await publish_revision(touch="teacher", changes={"teacher": "major"}, requires_ack=True)
    view = await load_release(release)
    for email in ("officer@demo.test", "officer2@demo.test"):
        await record_ack(await User.get(email=email), view, str(uuid.uuid4()), [c["hash"] for c in view.cards])
    assert (await tally.tallies(agency.id))[release.id].acknowledged == 2
    data = _csv("officer@demo.test,Officer Casey Rivera,supervisor,")  # one promoted, the other missing
    await roster.apply(agency, admin, data, True, days=7)
    assert await tally.differences(agency.id) == {}
    assert (await tally.tallies(agency.id)).get(release.id, tally.Tally()).acknowledged == 0


async def test_an_email_used_in_another_agency_is_a_new_person_here_and_never_named(app, settings):
    agency, admin = await _demo()
    other = await create_agency(settings, "elsewhere", "Elsewhere Sheriff OTHERSECRET")
    await User.create(agency=other, email="shared@example.org", name="Other OTHERSECRET", role=Role.ADMIN)
    plan = await roster.plan(agency.id, _csv("shared@example.org,Shared Person,officer,"), admin, True)
    assert plan.ok and [e.email for e in plan.create] == ["shared@example.org"]
    await roster.apply(agency, admin, _csv("shared@example.org,Shared Person,officer,"), False, days=7)
    theirs = await User.get(agency_id=other.id, email="shared@example.org")
    assert theirs.name == "Other OTHERSECRET" and theirs.role == Role.ADMIN and theirs.active


async def test_planning_and_applying_thousands_of_rows_takes_a_few_queries(app):
    agency, admin = await _demo()
    await roster.apply(agency, admin, _csv(*(f"p{i}@example.org,Person {i},officer," for i in range(1000))), False, 7)
    rows = [f"p{i}@example.org,Person {i} Renamed,officer,North" for i in range(1000)]
    rows += [f"q{i}@example.org,Newer {i},officer," for i in range(1500)]
    data = _csv(*rows)
    with recorded_queries() as planned:
        plan = await roster.plan(agency.id, data, admin, True)
    assert len(planned) == 1 and plan.counts()["updated"] == 1000 and plan.counts()["deactivated"] == 2
    with recorded_queries() as applied:
        await roster.apply(agency, admin, data, True, 7)
    assert len(applied) < 40, applied[:50]
    assert await User.filter(agency_id=agency.id, name__startswith="Person ", school="North").count() == 1000


# --- the admin pages ----------------------------------------------------------------------


async def _upload(client: httpx.AsyncClient, data: bytes, deactivate: bool = False, name: str = "roster.csv"):
    token = csrf_of((await client.get("/admin/users")).text)
    fields = {"csrf_token": token, **({"deactivate_missing": "yes"} if deactivate else {})}
    return await client.post(
        "/admin/users/roster", data=fields, files={"file": (name, data, "text/csv")}, headers=BROWSER
    )


def _apply_fields(preview: str) -> dict:
    fields = dict(CARRIED.findall(preview))
    fields["csrf_token"] = csrf_of(preview)
    return fields


async def test_preview_then_apply_through_the_pages(app):
    async with client_as(app, "admin@demo.test") as admin:
        users = await admin.get("/admin/users")
        assert "Import a roster" in users.text and 'enctype="multipart/form-data"' in users.text
        template = await admin.get("/admin/users/roster-template.csv")
        assert template.headers["content-type"].startswith("text/csv")
        assert template.text.startswith("email,name,role,school\r\n") and "officer@demo.test" in template.text
        # The template uploaded back changes nothing.
        unchanged = await _upload(admin, template.content)
        assert unchanged.status_code == 200 and "Nothing to change" in unchanged.text

        data = _csv(
            "new1@example.org,New One,officer,Lincoln High School",
            "officer@demo.test,Officer Casey Rivera,officer,Jefferson High School",
        )
        preview = await _upload(admin, data, deactivate=True, name="spring roster.csv")
        assert preview.status_code == 200
        text = preview.text
        assert "Nothing has been written yet" in text and "spring roster.csv" in text
        assert "New One" in text and "school: Lincoln High School → Jefferson High School" in text
        assert "Officer Sam Okafor" in text  # to deactivate
        assert await User.filter(email="new1@example.org").count() == 0
        done = await admin.post("/admin/users/roster/apply", data=_apply_fields(text))
        assert done.status_code == 200, done.text
        assert done.headers["cache-control"] == "no-store"
        assert "1 created, 1 updated" in done.text and "1 deactivated" in done.text
        url, token = LINK.search(done.text).groups()
        assert (await admin.get(f"/invite/{token}")).status_code == 200
        assert "new1@example.org,New One,http://testserver/invite/" in done.text  # the CSV for a mail merge
        # Sending the same form again plans nothing new: nobody is created twice.
        again = await admin.post("/admin/users/roster/apply", data=_apply_fields(text))
        assert again.status_code == 409 and "Nothing was written" in again.text
        assert await User.filter(email="new1@example.org").count() == 1


async def test_a_file_with_wrong_rows_cannot_be_applied(app):
    agency, _ = await _demo()
    before = await _snapshot(agency.id)
    async with client_as(app, "admin@demo.test") as admin:
        data = _csv("good@example.org,Good,officer,", "bad-email,Bad,officer,", "good@example.org,Twice,officer,")
        preview = await _upload(admin, data)
        assert preview.status_code == 400
        assert "Line 3" in preview.text and "Line 4" in preview.text and "same email is on line 2" in preview.text
        assert "/admin/users/roster/apply" not in preview.text
        wrong_columns = await _upload(admin, _csv("a@example.org,A,officer,X,extra", header="email,name,role,school,badge\n"))
        assert wrong_columns.status_code == 400 and "unknown column &#39;badge&#39;" in wrong_columns.text
        assert 'id="roster-error"' in wrong_columns.text  # on the people page, by the upload form
        no_file = await admin.post("/admin/users/roster", data={"csrf_token": csrf_of(preview.text)})
        assert no_file.status_code == 400 and "Choose the roster file" in no_file.text
    assert await _snapshot(agency.id) == before


async def test_a_change_since_the_preview_is_caught_and_nothing_is_written(app):
    agency, admin_user = await _demo()
    async with client_as(app, "admin@demo.test") as admin:
        data = _csv("new1@example.org,New One,officer,", "officer@demo.test,Officer Casey Rivera,officer,North")
        preview = await _upload(admin, data)
        officer = await User.get(email="officer@demo.test")
        await accounts.update(admin_user, officer, officer.name, "officer", "North")  # someone else's edit
        before = await _snapshot(agency.id)
        response = await admin.post("/admin/users/roster/apply", data=_apply_fields(preview.text))
        assert response.status_code == 409 and "changed since this preview" in response.text
        assert await _snapshot(agency.id) == before
        # The new preview it shows applies.
        done = await admin.post("/admin/users/roster/apply", data=_apply_fields(response.text))
        assert done.status_code == 200 and "1 created, 0 updated" in done.text


async def test_a_damaged_apply_form_is_refused(app):
    agency, _ = await _demo()
    before = await _snapshot(agency.id)
    async with client_as(app, "admin@demo.test") as admin:
        preview = await _upload(admin, _csv("new1@example.org,New One,officer,"))
        fields = _apply_fields(preview.text)
        for roster_field in ("", "not base64!", fields["roster"][:-8], "eJzLSM3JyVcozy_KSQEAGgQEXQ"):
            response = await admin.post("/admin/users/roster/apply", data={**fields, "roster": roster_field})
            assert response.status_code in (400, 409), response.text
    assert await _snapshot(agency.id) == before


async def test_a_50_mb_upload_gets_a_clear_answer_and_writes_nothing(app):
    agency, _ = await _demo()
    before = await _snapshot(agency.id)
    big = HEADER.encode() + b"x@example.org,X,officer,\n" * (50 * 1024 * 1024 // 25)
    async with client_as(app, "admin@demo.test") as admin:
        token = csrf_of((await admin.get("/admin/users")).text)
        response = await _upload(admin, big)
        assert response.status_code == 413
        assert "text/html" in response.headers["content-type"] and "too large" in response.text
        # Sent in chunks without a length, it is cut off as it arrives.
        boundary = "b0undary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="r.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()

        async def chunks():
            yield head
            for start in range(0, len(big), 1 << 20):
                yield big[start : start + (1 << 20)]
            yield f"\r\n--{boundary}--\r\n".encode()

        response = await admin.post(
            "/admin/users/roster",
            content=chunks(),
            headers={**BROWSER, "content-type": f"multipart/form-data; boundary={boundary}"},
        )
        assert response.status_code == 413 and "too large" in response.text
    assert await _snapshot(agency.id) == before


async def test_import_needs_a_valid_csrf_token_and_an_admin(app):
    agency, _ = await _demo()
    before = await _snapshot(agency.id)
    data = _csv("new1@example.org,New One,officer,")
    async with client_as(app, "admin@demo.test") as admin:
        response = await admin.post("/admin/users/roster", data={"csrf_token": "wrong"}, files={"file": ("r.csv", data)})
        assert response.status_code == 403
        preview = await _upload(admin, data)
        fields = {**_apply_fields(preview.text), "csrf_token": "wrong"}
        assert (await admin.post("/admin/users/roster/apply", data=fields)).status_code == 403
    async with client_as(app, "supervisor@demo.test") as supervisor:
        assert (await supervisor.get("/admin/users/roster-template.csv")).status_code == 403
        token = csrf_of((await supervisor.get("/supervisor")).text)
        response = await supervisor.post("/admin/users/roster", data={"csrf_token": token}, files={"file": ("r.csv", data)})
        assert response.status_code == 403
    assert await _snapshot(agency.id) == before


async def test_import_stays_in_the_admins_agency(app, settings):
    agency, _ = await _demo()
    other = await create_agency(settings, "elsewhere", "Elsewhere Sheriff OTHERSECRET")
    await User.create(agency=other, email="theirs@example.org", name="Theirs OTHERSECRET", role=Role.OFFICER)
    async with client_as(app, "admin@demo.test") as admin:
        assert "OTHERSECRET" not in (await admin.get("/admin/users/roster-template.csv")).text
        preview = await _upload(admin, _csv("theirs@example.org,Mine Now,officer,"), deactivate=True)
        assert "OTHERSECRET" not in preview.text and "To create (1)" in preview.text
        done = await admin.post("/admin/users/roster/apply", data=_apply_fields(preview.text))
        assert done.status_code == 200
    theirs = await User.get(agency_id=other.id, email="theirs@example.org")
    assert theirs.name == "Theirs OTHERSECRET" and theirs.active
    assert await User.get(agency_id=agency.id, email="theirs@example.org")


# --- the command ------------------------------------------------------------------------


def _command(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "import-roster", *args],
        capture_output=True,
        text=True,
        env=cli_environment(settings, FIELDGUIDE_BASE_URL="https://guide.example.org"),
        timeout=120,
    )


async def test_the_command_previews_applies_and_refuses_wrong_files(app, settings, tmp_path):
    agency, _ = await _demo()
    before = await _snapshot(agency.id)
    good = tmp_path / "good.csv"
    good.write_bytes(_csv("new1@example.org,New One,officer,", "officer@demo.test,Officer Casey Rivera,officer,North"))
    bad = tmp_path / "bad.csv"
    bad.write_bytes(_csv("new1@example.org,New One,officer,", "broken,Broken,officer,"))

    dry = _command(settings, "demo", str(good), "--dry-run", "--deactivate-missing")
    assert dry.returncode == 0, dry.stderr
    assert "1 to create" in dry.stdout and "deactivate  officer2@demo.test" in dry.stdout
    assert "Dry run: nothing was written." in dry.stdout
    wrong = _command(settings, "demo", str(bad))
    assert wrong.returncode == 1 and "WRONG       line 3: broken" in wrong.stdout
    assert _command(settings, "nowhere", str(good)).returncode == 2
    assert _command(settings, "demo", str(tmp_path / "missing.csv")).returncode == 2
    assert _command(settings, "demo").returncode == 2
    assert await _snapshot(agency.id) == before

    applied = _command(settings, "demo", str(good))
    assert applied.returncode == 0, applied.stderr
    assert re.search(r"new1@example.org https://guide.example.org/invite/[A-Za-z0-9_-]+", applied.stdout)
    entry = await AuditEntry.get(agency_id=agency.id, action=roster.AUDIT_ACTION)
    assert entry.actor_id is None and entry.details["by"] == "command line"
    assert (await User.get(agency_id=agency.id, email="officer@demo.test")).school == "North"
