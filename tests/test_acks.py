"""Acknowledging a release: the form, the JSON API, idempotency, the wording, older releases."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

from server import clock
from server.acknowledgments.dashboard import release_statuses
from server.acknowledgments.ledger import (
    GENESIS,
    chain_content,
    record_ack,
    row_hash,
    verify_agency,
)
from server.guidance.releases import load_release
from server.models import Acknowledgment, Agency, AuditEntry, Release, User

from .helpers.acks import ack_form, post_ack
from .helpers.clients import client_as
from .helpers.csrf import csrf_of, csrf_token
from .helpers.releases import publish_revision


async def test_first_release_page_offers_the_form_with_every_card_hash(officer, app):
    page = await officer.get("/changes")
    assert page.status_code == 200
    assert "I have read and understand the changes in release 1." in page.text
    fields = ack_form(page.text)
    assert fields["release"] == "1" and uuid.UUID(fields["uuid"])
    release = await app.state.releases.get(await (await Agency.get(slug="demo")).releases.all().first())
    assert sorted(fields["card_hashes"].split()) == sorted(c["hash"] for c in release.cards)
    # A new key per rendering, so a reload can never reuse a key the server refused.
    assert ack_form((await officer.get("/changes")).text)["uuid"] != fields["uuid"]


async def test_the_plain_form_records_once_and_the_page_says_acknowledged(officer):
    page = await officer.get("/changes")
    fields = ack_form(page.text)
    form = {**fields, "csrf_token": csrf_of(page.text), "attest": "yes"}
    response = await officer.post("/acks", data=form)
    assert response.status_code == 303 and response.headers["location"] == "/releases/1/changes#ack"
    # The same form again (a double tap, or back and submit): still one acknowledgment.
    assert (await officer.post("/acks", data=form)).status_code == 303
    rows = await Acknowledgment.all()
    assert len(rows) == 1
    ack = rows[0]
    assert ack.uuid == fields["uuid"] and ack.seq == 1 and ack.prev_hash == GENESIS
    assert ack.device_time is None and ack.attestation == "I have read and understand the changes in release 1."
    assert sorted(ack.card_hashes) == sorted(fields["card_hashes"].split())
    assert ack.row_hash == row_hash(chain_content(ack, 1))
    shown = await officer.get("/changes")
    assert "Release 1 acknowledged" in shown.text and "Acknowledged <time" in shown.text
    assert "data-ack-form" not in shown.text


async def test_the_form_needs_the_box_ticked_and_a_csrf_token(officer):
    page = await officer.get("/changes")
    fields = ack_form(page.text)
    unticked = await officer.post("/acks", data={**fields, "csrf_token": csrf_of(page.text)})
    assert unticked.status_code == 400 and "Tick the box" in unticked.text
    forged = await officer.post("/acks", data={**fields, "csrf_token": "wrong", "attest": "yes"})
    assert forged.status_code == 403
    assert await Acknowledgment.all().count() == 0


async def test_fifty_concurrent_duplicate_posts_make_exactly_one_row(officer):
    token = await csrf_token(officer)
    key = str(uuid.uuid4())
    device_time = "2026-01-05T10:00:00.000Z"
    responses = await asyncio.gather(
        *(post_ack(officer, token, 1, key, device_time=device_time, device_id="phone-0001") for _ in range(50))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 49 + [201]
    assert {r.json()["uuid"] for r in responses} == {key}
    assert await Acknowledgment.all().count() == 1
    ack = await Acknowledgment.get(uuid=key)
    assert ack.device_time == datetime(2026, 1, 5, 10, tzinfo=timezone.utc) and ack.device_id == "phone-0001"


async def test_concurrent_posts_with_different_uuids_for_one_release_make_one_row(officer):
    token = await csrf_token(officer)
    keys = [str(uuid.uuid4()) for _ in range(50)]
    responses = await asyncio.gather(*(post_ack(officer, token, 1, k) for k in keys))
    assert sorted(r.status_code for r in responses) == [200] * 49 + [201]
    stored = {r.json()["uuid"] for r in responses}
    assert len(stored) == 1 and stored <= set(keys)
    assert await Acknowledgment.all().count() == 1


async def test_two_tabs_and_later_replays_return_the_existing_ack(app):
    async with client_as(app, "officer@demo.test") as tab1, client_as(app, "officer@demo.test") as tab2:
        first = await post_ack(tab1, await csrf_token(tab1), 1)
        assert first.status_code == 201
        again = await post_ack(tab2, await csrf_token(tab2), 1)  # another session, another uuid
        assert again.status_code == 200 and again.json() == first.json()
        replay = await post_ack(tab1, await csrf_token(tab1), 1, first.json()["uuid"])
        assert replay.status_code == 200 and replay.json()["received_at"] == first.json()["received_at"]
    assert await Acknowledgment.all().count() == 1


async def test_a_uuid_of_someone_elses_ack_is_a_conflict(app):
    async with client_as(app, "officer@demo.test") as one, client_as(app, "officer2@demo.test") as two:
        key = (await post_ack(one, await csrf_token(one), 1)).json()["uuid"]
        taken = await post_ack(two, await csrf_token(two), 1, key)
        assert taken.status_code == 409 and taken.json()["details"] == {"uuid": "taken"}
        assert (await post_ack(two, await csrf_token(two), 1)).status_code == 201
    assert await Acknowledgment.all().count() == 2


async def test_an_older_release_ack_is_recorded_but_does_not_count_for_the_newer(officer):
    await publish_revision(touch="teacher", changes={"teacher": "major"}, summary="Release {number}.")
    token = await csrf_token(officer)
    old = await post_ack(officer, token, 1)
    assert old.status_code == 201 and old.json()["release"] == 1
    agency = await Agency.get(slug="demo")
    statuses = {s.number: s for s in await release_statuses(agency.id, clock.now())}
    assert statuses[2].acknowledged == 0 and statuses[1].acknowledged == 1
    page = await officer.get("/changes")
    assert "Acknowledge release 2" in page.text and 'name="release" value="2"' in page.text
    older_page = await officer.get("/releases/1/changes")
    assert "Release 1 acknowledged" in older_page.text
    new = await post_ack(officer, token, 2)
    assert new.status_code == 201 and new.json()["seq"] == 2
    listed = (await officer.get("/api/v1/acks")).json()["acks"]
    assert [a["release"] for a in listed] == [2, 1]


async def test_a_release_with_minor_changes_only_needs_no_ack(officer):
    await publish_revision(touch="teacher", changes={"teacher": "minor"}, requires_ack=False, summary="Release {number}.")
    page = await officer.get("/changes")
    assert "No acknowledgment needed" in page.text and "data-ack-form" not in page.text
    refused = await post_ack(officer, await csrf_token(officer), 2)
    assert refused.status_code == 409 and "needs no acknowledgment" in refused.json()["message"]
    assert await Acknowledgment.all().count() == 0


async def test_bad_ack_bodies_get_clear_errors_and_record_nothing(officer, app):
    token = await csrf_token(officer)
    bad = [
        ({"uuid": "not-a-uuid", "release": 1}, "uuid"),
        ({"uuid": str(uuid.uuid4()), "release": "one"}, "release"),
        ({"uuid": str(uuid.uuid4()), "release": 1, "card_hashes": ["f" * 64]}, "card_hashes"),
        ({"uuid": str(uuid.uuid4()), "release": 1, "card_hashes": "abc"}, "card_hashes"),
        ({"uuid": str(uuid.uuid4()), "release": 1, "device_time": "2026-01-05T10:00:00"}, "device_time"),
        ({"uuid": str(uuid.uuid4()), "release": 1, "device_time": "yesterday"}, "device_time"),
        ({"uuid": str(uuid.uuid4()), "release": 1, "device_id": "a b"}, "device_id"),
    ]
    for body, field in bad:
        response = await officer.post("/api/v1/acks", json=body, headers={"X-CSRF-Token": token})
        assert response.status_code == 400, body
        assert field in response.json()["details"], (body, response.json())
    not_json = await officer.post("/api/v1/acks", content=b"{nope", headers={"X-CSRF-Token": token, "content-type": "application/json"})
    assert not_json.status_code == 400
    missing = await post_ack(officer, token, 99)
    assert missing.status_code == 404
    no_token = await officer.post("/api/v1/acks", json={"uuid": str(uuid.uuid4()), "release": 1})
    assert no_token.status_code == 403 and no_token.json()["errno"] == 121
    assert await Acknowledgment.all().count() == 0


async def test_signed_out_api_calls_get_401(client):
    assert (await client.get("/api/v1/acks")).status_code == 401
    response = await client.post("/api/v1/acks", json={"uuid": str(uuid.uuid4()), "release": 1})
    assert response.status_code == 401


async def test_each_officer_lists_only_their_own_acks(app):
    async with client_as(app, "officer@demo.test") as one, client_as(app, "officer2@demo.test") as two:
        mine = (await post_ack(one, await csrf_token(one), 1)).json()
        assert (await one.get("/api/v1/acks")).json()["acks"] == [mine]
        assert (await two.get("/api/v1/acks")).json()["acks"] == []


async def test_admins_word_the_attestation_and_acks_keep_the_words_shown(app):
    async with client_as(app, "admin@demo.test") as admin, client_as(app, "officer@demo.test") as officer:
        form = await admin.get("/admin/attestation")
        assert form.status_code == 200 and "{release}" in form.text
        token = csrf_of(form.text)
        too_long = await admin.post("/admin/attestation", data={"csrf_token": token, "attestation": "x" * 501})
        assert too_long.status_code == 400 and "500 characters" in too_long.text and "x" * 501 in too_long.text
        wording = "I have read release {release} and will follow it on duty."
        saved = await admin.post("/admin/attestation", data={"csrf_token": token, "attestation": wording})
        assert saved.status_code == 303
        entry = await AuditEntry.get(action="attestation.update")
        assert entry.details["after"] == wording
        assert (await officer.get("/admin/attestation")).status_code == 403

        page = await officer.get("/changes")
        assert "I have read release 1 and will follow it on duty." in page.text
        await post_ack(officer, await csrf_token(officer), 1)
        ack = await Acknowledgment.get(user=await User.get(email="officer@demo.test"))
        assert ack.attestation == "I have read release 1 and will follow it on duty."

        reset = await admin.post("/admin/attestation", data={"csrf_token": token, "reset": "yes"})
        assert reset.status_code == 303
        assert (await Agency.get(slug="demo")).attestation is None
        # The recorded acknowledgment keeps the words the officer confirmed.
        assert (await Acknowledgment.get(id=ack.id)).attestation.endswith("on duty.")


async def test_concurrent_appends_by_many_people_keep_one_unbroken_chain(app):
    agency = await Agency.get(slug="demo")
    people = await User.filter(agency=agency)
    release = await load_release(await Release.get(agency=agency, number=1))
    cards = [c["hash"] for c in release.cards]
    results = await asyncio.gather(*(record_ack(p, release, str(uuid.uuid4()), cards) for p in people))
    assert [r.created for r in results] == [True] * len(people)
    assert sorted(await Acknowledgment.all().values_list("seq", flat=True)) == list(range(1, len(people) + 1))
    assert (await verify_agency(agency.id)).broken is None


async def test_an_ack_keeps_the_wording_shown_even_if_it_changed_while_waiting(app):
    async with client_as(app, "officer@demo.test") as officer, client_as(app, "admin@demo.test") as admin:
        shown = ack_form((await officer.get("/changes")).text)
        sentence = "I have read and understand the changes in release 1."
        token = csrf_of((await admin.get("/admin/attestation")).text)
        await admin.post("/admin/attestation", data={"csrf_token": token, "attestation": "Release {release}: read and understood."})
        # The page was shown before the change; the acknowledgment arrives after it.
        invented = await post_ack(officer, await csrf_token(officer), 1, attestation="I agree to nothing.")
        assert invented.status_code == 409 and invented.json()["details"] == {"attestation": "unknown"}
        sent = await post_ack(officer, await csrf_token(officer), 1, shown["uuid"], attestation=sentence)
        assert sent.status_code == 201
        assert (await Acknowledgment.get(uuid=shown["uuid"])).attestation == sentence
    async with client_as(app, "officer2@demo.test") as other:
        assert (await post_ack(other, await csrf_token(other), 1)).status_code == 201
        assert (await Acknowledgment.get(user__email="officer2@demo.test")).attestation == "Release 1: read and understood."
