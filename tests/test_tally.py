"""The per-release tallies stay equal to a recount from scratch through a random life of an agency.

Releases (some minor only) are published along a timeline; officers and supervisors are hired,
acknowledge releases (current ones and some already superseded), are deactivated, reactivated
and change role, all through the app's own functions. After every few steps the stored
tallies must equal both the recount the app offers (tally.recount, the migration's SQL) and
the plain Python recount below; at the end the supervisor's pages show the recounted numbers.
"""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from server import bootstrap, tally
from server.acknowledgments.chart import completion_chart
from server.acknowledgments.dashboard import (
    completion_steps,
    count_release,
    officer_page,
    officer_rows,
    release_schools,
    release_status,
    release_statuses,
)
from server.acknowledgments.ledger import record_ack
from server.guidance.releases import load_release
from server.models import Acknowledgment, Agency, Release, Role, User
from server.people import accounts

from .helpers.clients import client_as
from .helpers.releases import publish_revision

T0 = datetime(2025, 3, 1, 8, tzinfo=timezone.utc)
SCHOOLS = ["Adams High", "birch Middle", "Cedar Elementary", None]


@dataclass
class Expected:
    """What a release's numbers must be, counted from the raw rows."""

    expected: int
    acknowledged: int
    late: int


async def plain_recount(agency_id: int) -> dict[int, Expected]:
    """The counting rule applied row by row to every release, officer and acknowledgment."""
    releases = await Release.filter(agency_id=agency_id).order_by("number")
    people = await User.filter(agency_id=agency_id)
    acks = await Acknowledgment.filter(agency_id=agency_id)
    out = {}
    for release in releases:
        if not release.requires_ack:
            continue
        later = [r for r in releases if r.number > release.number and r.requires_ack]
        superseded = later[0].published_at if later else None

        counted = {
            p.id
            for p in people
            if p.role == Role.OFFICER and p.active and (superseded is None or p.created_at < superseded)
        }
        mine = [a for a in acks if a.release_id == release.id and a.user_id in counted]
        late = [a for a in mine if release.due_at is not None and a.received_at > release.due_at]
        out[release.id] = Expected(len(counted), len(mine), len(late))
    return out


async def assert_tallies_match(agency_id: int) -> dict[int, Expected]:
    """Stored tallies == the SQL recount == the plain recount; returns the plain one."""
    plain = await plain_recount(agency_id)
    stored = await tally.tallies(agency_id)
    assert await tally.differences(agency_id) == {}
    for release_id, want in plain.items():
        got = stored.get(release_id, tally.Tally())
        assert (got.acknowledged, got.late) == (want.acknowledged, want.late), release_id
    statuses = {s.id: s for s in await release_statuses(agency_id, T0 + timedelta(days=999))}
    for release_id, want in plain.items():
        assert (statuses[release_id].expected, statuses[release_id].acknowledged) == (want.expected, want.acknowledged)
    return plain


def same_steps(line: str, other: str) -> bool:
    """Whether two chart lines rise at the same places, to the tenth of a pixel a time rounds to.

    SQLite's julianday() keeps milliseconds, so an arrival within a millisecond of a boundary
    between two tenths of a pixel may land on either side of it.
    """
    def steps(path):
        found = re.findall(r"H([\d.]+) V([\d.]+)", path)
        return [(float(x), float(y)) for x, y in found]

    mine, theirs = steps(line), steps(other)
    if [y for _, y in mine] != [y for _, y in theirs]:
        return False
    return all(abs(a - b) <= 0.1 + 1e-9 for (a, _), (b, _) in zip(mine, theirs, strict=True))


async def live_agency(settings, monkeypatch, seed: int):
    """An agency taken through a random timeline; returns (agency, supervisor, releases by number)."""
    rng = random.Random(seed)
    agency = await bootstrap.create_agency(settings, f"tally{seed}", f"Tally {seed}")
    first = await Release.get(agency=agency, number=1)
    await Release.filter(id=first.id).update(published_at=T0, due_at=T0 + timedelta(days=10))
    releases = {1: await Release.get(id=first.id)}
    sup = await bootstrap.create_user(agency, f"sup{seed}@tally.test", "Sgt. Tally", Role.SUPERVISOR, bootstrap.DEMO_PASSWORD)
    people: list[User] = []
    moment = T0 - timedelta(days=1)

    async def hire(role: Role = Role.OFFICER) -> None:
        n = len(people)
        person = await bootstrap.create_user(
            agency, f"p{n}-{seed}@tally.test", f"{rng.choice('ZyxAb')}erson {n}", role, None, rng.choice(SCHOOLS)
        )
        # Hired now on the timeline: set before the person does anything (join times never change).
        await User.filter(id=person.id).update(created_at=moment)
        people.append(await User.get(id=person.id))

    for _ in range(12):
        await hire(Role.OFFICER if rng.random() < 0.85 else Role.SUPERVISOR)
    moment = T0 + timedelta(hours=1)
    for _ in range(140):
        moment += timedelta(hours=rng.uniform(1, 60))
        roll = rng.random()
        if roll < 0.08:
            minor = rng.random() < 0.3
            number = max(releases) + 1
            releases[number] = await publish_revision(
                agency=agency,
                touch="teacher",
                changes={"teacher": "minor" if minor else "major"},
                requires_ack=not minor,
                summary="Release {number}.",
                published_at=moment,
                due_at=None if rng.random() < 0.2 else moment + timedelta(days=rng.uniform(1, 6)),
            )
        elif roll < 0.16:
            await hire()
        elif roll < 0.24:
            person = await User.get(id=rng.choice(people).id)
            if person.active:
                await accounts.deactivate(sup, person)
            else:
                await accounts.reactivate(sup, person)
        elif roll < 0.30:
            person = await User.get(id=rng.choice(people).id)
            role = rng.choice([Role.OFFICER, Role.OFFICER, Role.SUPERVISOR, Role.ADMIN])
            await accounts.update(sup, person, person.name, role.value, person.school or "")
        else:
            person = await User.get(id=rng.choice(people).id)
            # Mostly the current release, sometimes an older one (counted or not for a later hire).
            options = [r for r in releases.values() if r.requires_ack]
            release = options[-1] if rng.random() < 0.6 else rng.choice(options)
            monkeypatch.setattr("server.clock.now", lambda at=moment: at)
            view = await load_release(release)
            await record_ack(person, view, str(uuid.uuid4()), [c["hash"] for c in view.cards])
            monkeypatch.undo()
        if rng.random() < 0.1:
            await assert_tallies_match(agency.id)
    return agency, sup, releases


@pytest.mark.parametrize("seed", [1, 2])
async def test_tallies_equal_a_recount_after_a_random_life(app, settings, monkeypatch, seed):
    agency, _, _ = await live_agency(settings, monkeypatch, seed)
    plain = await assert_tallies_match(agency.id)
    assert sum(e.acknowledged for e in plain.values()) > 10  # the timeline did acknowledge things
    before = await tally.tallies(agency.id)
    await tally.rebuild(agency.id)  # what migration 0004 does for an existing database
    assert await tally.tallies(agency.id) == before


async def test_release_pages_show_the_recounted_numbers_in_order(app, settings, monkeypatch):
    agency, sup, releases = await live_agency(settings, monkeypatch, 3)
    plain = await assert_tallies_match(agency.id)
    moment = T0 + timedelta(days=999)
    async with client_as(app, sup.email) as client:
        for number, release in releases.items():
            if not release.requires_ack:
                continue
            want = plain[release.id]
            status = await release_status(agency.id, number, moment)
            late = await count_release(agency.id, status)
            assert (status.expected, status.acknowledged, late) == (want.expected, want.acknowledged, want.late)
            everyone = await officer_rows(agency.id, status, moment)
            assert len(everyone) == want.expected
            assert await release_schools(agency.id, status) == sorted({r.school for r in everyone if r.school}, key=str.lower)
            for school in ["", "Adams High", "birch Middle"]:
                selected = [r for r in everyone if r.school == school] if school else everyone
                status = await release_status(agency.id, number, moment)
                late = await count_release(agency.id, status, school)
                assert status.expected == len(selected)
                assert status.acknowledged == sum(r.acknowledged for r in selected)
                assert late == sum(r.status == "late" for r in selected)
                for show, keep in (
                    ("outstanding", lambda r: not r.acknowledged),
                    ("acknowledged", lambda r: r.acknowledged),
                    ("all", lambda r: True),
                ):
                    listed = [r.user_id for r in selected if keep(r)]
                    for first in range(0, len(listed) + 3, 3):
                        page = await officer_page(agency.id, status, show, school, first, 3)
                        assert [r.user_id for r in page] == listed[first : first + 3], (number, school, show, first)
            # The chart read grouped from the database draws what one point per acknowledgment drew.
            status = await release_status(agency.id, number, moment)
            late = await count_release(agency.id, status)
            times, counts = await completion_steps(agency.id, status, "", status.published_at, moment)
            grouped = completion_chart(times, status.expected, status.published_at, moment, status.due_at, counts=counts, late=late)
            every = sorted(r.received_at for r in everyone if r.received_at)
            single = completion_chart(every, status.expected, status.published_at, moment, status.due_at)
            assert (grouped.summary, grouped.due_x, grouped.x_labels) == (single.summary, single.due_x, single.x_labels)
            assert same_steps(grouped.line, single.line)
            page = await client.get(f"/supervisor/releases/{number}", params={"status": "all"})
            assert page.status_code == 200
            counts = re.search(r"<dt>Acknowledged</dt><dd>(\d+)<span class=\"sv-sub\"> of (\d+)", page.text)
            assert counts and (int(counts[1]), int(counts[2])) == (want.acknowledged, want.expected)
            assert (f" · {want.late} late" in page.text) == bool(want.late)
        overview = (await client.get("/supervisor")).text
        for number, release in releases.items():
            if release.requires_ack:
                want = plain[release.id]
                row = re.search(rf'>Release {number}</a>.*?<span class="sv-count">(\d+)</span> of (\d+) \(', overview, re.S)
                assert row and (int(row[1]), int(row[2])) == (want.acknowledged, want.expected), number


async def test_tallies_hold_under_concurrent_acks_and_role_changes(app):
    """On PostgreSQL these run on several pooled connections: only the agency lock keeps them in step."""
    agency = await Agency.get(slug="demo")
    admin = await User.get(email="admin@demo.test")
    release = await load_release(await Release.get(agency=agency, number=1))
    people = [
        await bootstrap.create_user(agency, f"c{i}@tally.test", f"Concurrent {i}", Role.OFFICER, None) for i in range(24)
    ]
    first, second = people[:12], people[12:]
    cards = [c["hash"] for c in release.cards]
    await asyncio.gather(*(record_ack(p, release, str(uuid.uuid4()), cards) for p in first))
    await asyncio.gather(
        *(record_ack(p, release, str(uuid.uuid4()), cards) for p in second),
        *(accounts.deactivate(admin, p) for p in people[::3]),
        *(accounts.update(admin, p, p.name, "supervisor", "") for p in people[1::3]),
    )
    await asyncio.gather(*(accounts.reactivate(admin, p) for p in people[::6]))
    assert await tally.differences(agency.id) == {}
    counted = [p for p in await User.filter(id__in=[p.id for p in people]) if p.active and p.role == Role.OFFICER]
    assert (await tally.tallies(agency.id))[release.id].acknowledged == len(counted) + await Acknowledgment.filter(
        release_id=release.id, user__email__endswith="@demo.test", user__role=Role.OFFICER, user__active=True
    ).count()
