"""The supervisor's dashboard: who counts, counts per release, overdue and late, pages and exports.

Hand-made agency (T0 = Jan 1, 2025):
  R1 published T0, due T0+14d    R2 published T0+30d, due T0+44d
  R3 published T0+60d, minor only (no acknowledgment)    R4 published T0+90d, due T0+104d
  Alma (Lincoln) on the roster before T0: acks R1 on time, R2 late (T0+50d).
  Ben (Roosevelt) before T0: acks R4 on time; his phone synced once.
  Cruz (Lincoln) hired T0+50d: counts for R2 (in effect when hired) and R4, not R1; acks R1 anyway.
  Dana before T0, deactivated: acked R1 (counts for nothing). The supervisor acked R1 too.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from server import bootstrap
from server.acknowledgments.dashboard import (
    officer_history,
    officer_rows,
    release_status,
    release_statuses,
)
from server.acknowledgments.ledger import record_ack
from server.guidance.releases import load_release
from server.models import Device, Release, Role, User
from server.people import accounts

from .helpers.clients import client_as
from .helpers.releases import publish_revision

T0 = datetime(2025, 1, 1, 12, tzinfo=timezone.utc)
DAY = timedelta(days=1)
LATER = T0 + 120 * DAY


async def ack_at(monkeypatch, user: User, release: Release, moment: datetime):
    """Record an acknowledgment as if the server received it at `moment`."""
    monkeypatch.setattr("server.clock.now", lambda: moment)
    view = await load_release(release)
    await record_ack(user, view, str(uuid.uuid4()), [c["hash"] for c in view.cards])


@pytest.fixture
async def county(app, settings, monkeypatch):
    """The hand-made agency above, with its supervisor signed in on a client."""
    agency = await bootstrap.create_agency(settings, "county", "County Police")
    r1 = await Release.get(agency=agency, number=1)
    await Release.filter(id=r1.id).update(published_at=T0, due_at=T0 + 14 * DAY)
    r2 = await publish_revision(agency=agency, touch="teacher", changes={"teacher": "major"}, summary="Release {number}.", published_at=T0 + 30 * DAY, due_at=T0 + 44 * DAY)
    r3 = await publish_revision(agency=agency, touch="teacher", changes={"teacher": "minor"}, requires_ack=False, summary="Release {number}.", published_at=T0 + 60 * DAY)
    r4 = await publish_revision(agency=agency, touch="teacher", changes={"teacher": "major"}, summary="Release {number}.", published_at=T0 + 90 * DAY, due_at=T0 + 104 * DAY)
    people = {}
    for key, name, school, created, role in [
        ("alma", "Alma Reyes", "Lincoln High", T0 - 10 * DAY, Role.OFFICER),
        ("ben", "Ben Ode", "Roosevelt Middle", T0 - 10 * DAY, Role.OFFICER),
        ("cruz", "Cruz Lima", "Lincoln High", T0 + 50 * DAY, Role.OFFICER),
        ("dana", "Dana Pike", "Lincoln High", T0 - 10 * DAY, Role.OFFICER),
        ("sup", "Sgt. Sam Vale", None, T0 - 10 * DAY, Role.SUPERVISOR),
    ]:
        user = await bootstrap.create_user(agency, f"{key}@county.test", name, role, bootstrap.DEMO_PASSWORD, school)
        await User.filter(id=user.id).update(created_at=created)
        people[key] = await User.get(id=user.id)
    r1, r2, r4 = [await Release.get(id=r.id) for r in (r1, r2, r4)]
    await ack_at(monkeypatch, people["alma"], r1, T0 + 3 * DAY)
    await ack_at(monkeypatch, people["alma"], r2, T0 + 50 * DAY)
    await ack_at(monkeypatch, people["ben"], r4, T0 + 95 * DAY)
    await ack_at(monkeypatch, people["cruz"], r1, T0 + 55 * DAY)
    await ack_at(monkeypatch, people["dana"], r1, T0 + 2 * DAY)
    await ack_at(monkeypatch, people["sup"], r1, T0 + 2 * DAY)
    monkeypatch.undo()
    await accounts.deactivate(people["sup"], people["dana"])
    await Device.create(user=people["ben"], device_id="ben-phone", last_sync_at=T0 + 100 * DAY, release_number=4)
    await Device.create(user=people["alma"], device_id="alma-phone")  # registered, never synced
    return agency, people, {1: r1, 2: r2, 3: r3, 4: r4}


async def test_counts_per_release_follow_the_counting_rule(county):
    agency, _, _ = county
    statuses = {s.number: s for s in await release_statuses(agency.id, LATER)}
    numbers = {n: (s.expected, s.acknowledged, s.pending, s.overdue) for n, s in statuses.items() if s.requires_ack}
    assert numbers == {
        4: (3, 1, 0, 2),  # Alma, Ben, Cruz; Ben acknowledged
        2: (3, 1, 0, 2),  # Cruz was hired while R2 was in effect; Alma acknowledged (late)
        1: (2, 1, 0, 1),  # Alma and Ben only; Cruz's, Dana's and the supervisor's acks do not count
    }
    assert not statuses[3].requires_ack and statuses[3].expected == 0


async def test_officer_rows_show_status_times_and_last_sync(county):
    agency, people, _ = county
    status = await release_status(agency.id, 2, LATER)
    rows = {r.name: r for r in await officer_rows(agency.id, status, LATER)}
    assert {n: r.status for n, r in rows.items()} == {"Alma Reyes": "late", "Ben Ode": "overdue", "Cruz Lima": "overdue"}
    assert rows["Alma Reyes"].received_at == T0 + 50 * DAY
    assert rows["Ben Ode"].last_sync_at == T0 + 100 * DAY
    assert rows["Alma Reyes"].last_sync_at is None and rows["Cruz Lima"].last_sync_at is None
    # Outstanding officers come first.
    assert [r.acknowledged for r in await officer_rows(agency.id, status, LATER)] == [False, False, True]


async def test_overdue_and_late_around_the_due_date(county, monkeypatch):
    agency, people, releases = county
    due = T0 + 104 * DAY
    tick = timedelta(microseconds=1)
    before = {s.number: s for s in await release_statuses(agency.id, due - tick)}[4]
    at = {s.number: s for s in await release_statuses(agency.id, due)}[4]
    after = {s.number: s for s in await release_statuses(agency.id, due + tick)}[4]
    assert (before.pending, before.overdue) == (2, 0)
    assert (at.pending, at.overdue) == (2, 0)  # due means "by": not overdue at the instant itself
    assert (after.pending, after.overdue) == (0, 2)
    await ack_at(monkeypatch, people["alma"], releases[4], due)  # exactly at the due time: on time
    await ack_at(monkeypatch, people["cruz"], releases[4], due + tick)  # just after: late
    status = await release_status(agency.id, 4, due + DAY)
    rows = {r.name: r.status for r in await officer_rows(agency.id, status, due + DAY)}
    assert rows == {"Alma Reyes": "acknowledged", "Ben Ode": "acknowledged", "Cruz Lima": "late"}
    counted = {s.number: s for s in await release_statuses(agency.id, due + DAY)}[4]
    assert (counted.acknowledged, counted.overdue) == (3, 0)


async def test_a_release_without_due_date_is_never_overdue(county, monkeypatch):
    agency, people, _ = county
    release = await publish_revision(agency=agency, touch="teacher", changes={"teacher": "major"}, summary="Release {number}.", published_at=T0 + 110 * DAY)
    status = {s.number: s for s in await release_statuses(agency.id, T0 + 5000 * DAY)}[5]
    assert (status.expected, status.pending, status.overdue) == (3, 3, 0)
    await ack_at(monkeypatch, people["ben"], release, T0 + 4000 * DAY)
    rows = {r.name: r.status for r in await officer_rows(agency.id, status, T0 + 5000 * DAY)}
    assert rows["Ben Ode"] == "acknowledged"


async def test_history_tells_counted_late_and_recorded_apart(county):
    agency, people, _ = county
    cruz = [(h.number, h.status, h.counts) for h in await officer_history(agency.id, people["cruz"], LATER)]
    assert cruz == [(4, "overdue", True), (2, "overdue", True), (1, "recorded", False)]
    alma = [(h.number, h.status) for h in await officer_history(agency.id, people["alma"], LATER)]
    assert alma == [(4, "overdue"), (2, "late"), (1, "acknowledged")]


async def test_the_pages_for_a_supervisor(app, county):
    agency, people, _ = county
    async with client_as(app, "sup@county.test") as sup:
        overview = await sup.get("/supervisor")
        assert overview.status_code == 200
        text = overview.text
        assert "Release 4" in text and "Not needed: minor changes only" in text
        assert '<span class="sv-count">1</span> of 3 (33%)' in text
        assert 'style=' not in text  # strict CSP: no style attributes

        detail = await sup.get("/supervisor/releases/2?status=all")
        assert detail.status_code == 200
        assert "<svg" in detail.text and 'class="chart-line"' in detail.text and "style=" not in detail.text
        assert "1 of 3 officers acknowledged (33%)" in detail.text
        for name in ("Alma Reyes", "Ben Ode", "Cruz Lima"):
            assert name in detail.text
        assert "Dana Pike" not in detail.text
        assert "never synced" in detail.text

        outstanding = await sup.get("/supervisor/releases/2")
        assert "Ben Ode" in outstanding.text and "Alma Reyes" not in outstanding.text

        lincoln = await sup.get("/supervisor/releases/2", params={"school": "Lincoln High", "status": "all"})
        assert "Alma Reyes" in lincoln.text and "Cruz Lima" in lincoln.text and "Ben Ode" not in lincoln.text
        assert "for Lincoln High only" in lincoln.text

        history = await sup.get(f"/supervisor/officers/{people['cruz'].id}")
        assert history.status_code == 200 and "Recorded (does not count)" in history.text
        ben = await sup.get(f"/supervisor/officers/{people['ben'].id}")
        assert "ben-phone" in ben.text and "Apr 11, 2025" in ben.text

        minor = await sup.get("/supervisor/releases/3")
        assert minor.status_code == 200 and "not asked to acknowledge" in minor.text
        assert (await sup.get("/supervisor/releases/9")).status_code == 404
        assert (await sup.get("/supervisor/releases/2?status=bogus")).status_code == 400


async def test_the_csv_export_lists_every_counted_officer_and_other_acks(app, county):
    agency, people, _ = county
    async with client_as(app, "sup@county.test") as sup:
        response = await sup.get("/supervisor/releases/1/acks.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert 'filename="county-release-1-acknowledgments.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    got = {(r["name"], r["counted"], r["status"]) for r in rows}
    assert got == {
        ("Alma Reyes", "yes", "acknowledged"),
        ("Ben Ode", "yes", "overdue"),
        ("Cruz Lima", "no", "recorded"),
        ("Dana Pike", "no", "recorded"),
        ("Sgt. Sam Vale", "no", "recorded"),
    }
    alma = next(r for r in rows if r["name"] == "Alma Reyes")
    assert alma["acknowledged_at"] == "2025-01-04T12:00:00.000000Z" and alma["late"] == "no"


async def test_officers_cannot_see_the_dashboard_and_supervisors_see_only_their_agency(app, county):
    agency, people, _ = county
    async with client_as(app, "officer@demo.test") as officer:
        assert (await officer.get("/supervisor")).status_code == 403
        assert (await officer.get("/supervisor/releases/1/acks.csv")).status_code == 403
    async with client_as(app, "supervisor@demo.test") as demo_sup:
        assert (await demo_sup.get(f"/supervisor/officers/{people['alma'].id}")).status_code == 404
        page = await demo_sup.get("/supervisor/releases/1?status=all")
        assert "Alma Reyes" not in page.text
