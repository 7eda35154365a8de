"""Acknowledgments on PostgreSQL: concurrent appends to one chain, and the dashboard's SQL."""

from __future__ import annotations

import asyncio
import uuid

from asgi_lifespan import LifespanManager

from server import bootstrap, clock, db
from server.acknowledgments.dashboard import (
    officer_history,
    officer_rows,
    release_status,
    release_statuses,
)
from server.acknowledgments.ledger import record_ack, verify_agency
from server.app import create_app
from server.guidance.releases import load_release
from server.models import Acknowledgment, Agency, Release, User

from .helpers.acks import post_ack
from .helpers.clients import client_as
from .helpers.csrf import csrf_token
from .helpers.releases import publish_revision


async def test_concurrent_acks_chain_once_each_on_postgresql(pg_settings):
    try:
        await bootstrap.prepare(pg_settings, demo=True)
    finally:
        await db.close_db()
    app = create_app(pg_settings.with_(push_worker=False))
    async with LifespanManager(app):
        agency = await Agency.get(slug="demo")
        # Five people at once, then again several times, straight to the recorder: the appends run on
        # several pooled connections, so only the agency row lock keeps seq and prev_hash right.
        people = await User.filter(agency=agency)
        first = await load_release(await Release.get(agency=agency, number=1))
        results = await asyncio.gather(*(record_ack(p, first, str(uuid.uuid4()), []) for p in people))
        assert [r.created for r in results] == [True] * 5
        again = await asyncio.gather(*(record_ack(p, first, str(uuid.uuid4()), []) for p in people for _ in range(3)))
        assert not any(r.created for r in again)
        assert sorted(await Acknowledgment.all().values_list("seq", flat=True)) == [1, 2, 3, 4, 5]
        checked = await verify_agency(agency.id)
        assert checked.count == 5 and checked.broken is None

        await publish_revision(touch="teacher", changes={"teacher": "major"}, summary="Release {number}.")
        async with client_as(app, "officer@demo.test") as one, client_as(app, "officer2@demo.test") as two, \
                client_as(app, "supervisor@demo.test") as sup:
            tokens = {c: await csrf_token(c) for c in (one, two, sup)}
            key = str(uuid.uuid4())
            posts = [post_ack(two, tokens[two], 2, key) for _ in range(25)]
            posts += [post_ack(two, tokens[two], 2) for _ in range(25)]
            responses = await asyncio.gather(*posts)
            assert sorted(r.status_code for r in responses) == [200] * 49 + [201]
            assert await Acknowledgment.filter(release__number=2).count() == 1
            assert (await verify_agency(agency.id)).broken is None

            statuses = {s.number: s for s in await release_statuses(agency.id, clock.now())}
            assert (statuses[1].expected, statuses[1].acknowledged) == (2, 2)
            assert (statuses[2].expected, statuses[2].acknowledged) == (2, 1)
            status = await release_status(agency.id, 2, clock.now())
            rows = await officer_rows(agency.id, status, clock.now())
            assert [(r.email, r.status) for r in rows] == [
                ("officer@demo.test", "pending"),
                ("officer2@demo.test", "acknowledged"),
            ]
            officer = await User.get(email="officer@demo.test")
            assert [h.status for h in await officer_history(agency.id, officer, clock.now())] == ["pending", "acknowledged"]
            for path in ("/supervisor", "/supervisor/releases/2?status=all", f"/supervisor/officers/{officer.id}"):
                assert (await sup.get(path)).status_code == 200, path
            evidence = await sup.get("/supervisor/releases/2/evidence.zip")
            assert evidence.status_code == 200 and evidence.content[:2] == b"PK"
