"""Delta sync through real HTTP: 304, deltas by hash, retired cards, long-offline devices."""

from __future__ import annotations

from datetime import timedelta

from starlette.responses import JSONResponse

from server import bootstrap, clock
from server.guidance.releases import load_release
from server.models import Agency, Device, Release, ReleaseCard, User
from server.web import offline_copy as offline_copy_module
from server.web.sync_answers import SyncAnswers
from server.web.views import sync as sync_view

from .helpers.clients import client_as
from .helpers.csrf import csrf_of
from .helpers.releases import publish_revision

DEVICE = {"Fieldguide-Device": "phone-0001-abcd"}


class Phone:
    """A device as the service worker keeps it: one release's manifest and cards by hash."""

    def __init__(self):
        self.etag = None
        self.release = None
        self.cards: dict[str, dict] = {}
        self.pages: dict[str, dict] = {}

    async def sync(self, client, headers=DEVICE):
        """One sync; applies a 200 the way the service worker does."""
        sent = dict(headers)
        if self.etag:
            sent["If-None-Match"] = self.etag
        response = await client.get("/api/v1/sync", headers=sent)
        if response.status_code == 200:
            body = response.json()
            for card in body["card_bodies"]:
                self.cards[card["hash"]] = card
            wanted = {c["hash"] for c in body["cards"]}
            assert wanted <= set(self.cards), "a delta left the device without a card it needs"
            self.cards = {h: c for h, c in self.cards.items() if h in wanted}
            kept = {path: self.pages[path] for path in body["pages_kept"]}
            self.etag, self.release, self.pages = body["etag"], body["release"], {**kept, **body["pages"]}
        return response

    def card_ids(self) -> dict[str, str]:
        return {c["id"]: h for h, c in self.cards.items()}


async def release_hashes(number: int) -> dict[str, str]:
    release = await Release.get(agency__slug="demo", number=number)
    rows = await ReleaseCard.filter(release=release).values("card_id", "version_id")
    return {r["card_id"]: r["version_id"] for r in rows}


async def test_sync_needs_sign_in(client):
    response = await client.get("/api/v1/sync")
    assert response.status_code == 401


async def test_first_sync_sends_every_card_with_its_article_and_the_pages(officer):
    phone = Phone()
    response = await phone.sync(officer)
    assert response.status_code == 200
    body = response.json()
    assert body["base"] is None and body["retired"] == []
    assert len(body["card_bodies"]) == len(body["cards"]) >= 18
    card = next(c for c in body["card_bodies"] if c["id"] == "restraint-devices")
    assert card["article"].startswith("<h1>Handcuffs and restraint devices</h1>")
    assert "flex cuffs" in card["text"] and "<" not in card["text"]
    assert {"/", "/search", "/flow", "/offline", "/cards/restraint-devices", "/flow/what"} <= set(body["pages"])
    assert body["pages"]["/cards/restraint-devices"]["card"] == card["hash"]
    assert body["pages_kept"] == []
    assert body["checked_at"] == response.headers["fieldguide-checked-at"]
    assert response.headers["cache-control"] == "private, no-store"
    assert phone.card_ids() == await release_hashes(1)


async def test_a_current_device_gets_304_by_etag_or_by_number(officer):
    phone = Phone()
    await phone.sync(officer)
    again = await phone.sync(officer)
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == phone.etag
    assert again.headers["fieldguide-checked-at"]
    by_number = await officer.get("/api/v1/sync", params={"have": "1"})
    assert by_number.status_code == 304


async def test_a_one_card_revision_sends_only_that_card(officer):
    phone = Phone()
    await phone.sync(officer)
    await publish_revision(summary="No card changed.")
    await publish_revision(
        edits={"restraint-devices": {"body": ("use of physical restraint.", "use of physical restraint, every time.")}}
    )
    response = await phone.sync(officer)
    body = response.json()
    assert response.status_code == 200 and body["release"] == 3 and body["base"] == 1
    assert [c["id"] for c in body["card_bodies"]] == ["restraint-devices"]
    assert "physical restraint, every time" in body["card_bodies"][0]["article"]
    assert body["retired"] == []
    # Only the card's own page changed (it names the new hash), and what changed in release 3
    # (against 2) is new: the phone keeps the others.
    assert list(body["pages"]) == ["/cards/restraint-devices", "/changes"]
    assert body["pages"]["/changes"]["title"].startswith("What changed in release 3 ")
    assert "compared with release 2" in body["pages"]["/changes"]["main"]
    assert len(body["pages_kept"]) == len(phone.pages) - 2
    assert phone.card_ids() == await release_hashes(3)
    assert phone.pages == (await officer.get("/api/v1/sync")).json()["pages"]
    assert (await phone.sync(officer)).status_code == 304


async def test_retired_cards_are_named_and_never_kept(officer):
    phone = Phone()
    await phone.sync(officer)
    await publish_revision(retire=("mou-signatures",))
    body = (await phone.sync(officer)).json()
    assert body["retired"] == ["mou-signatures"]
    assert body["card_bodies"] == []
    assert "mou-signatures" not in {c["id"] for c in body["cards"]}
    assert "/cards/mou-signatures" not in phone.pages
    assert all("/cards/mou-signatures" not in p["main"] for p in phone.pages.values())
    assert "mou-signatures" not in phone.card_ids()


async def test_a_device_offline_for_months_resyncs_across_several_releases(officer):
    phone = Phone()
    await phone.sync(officer)
    # 2: edit a card, retire another. 3: edit the first again, add a local card, retire a
    # third. 4: bring the second back with new text, retire the local card.
    await publish_revision(
        edits={"teacher": {"body": ("## Do", "## Do\n- Teach.\n")}}, retire=("mou-signatures",)
    )
    await publish_revision(
        edits={"teacher": {"body": ("- Teach.", "- Teach often.")}},
        add=({"like": "three-roles", "id": "local-hall-pass", "title": "Hall passes"},),
        retire=("policymaker-support",),
    )
    await publish_revision(
        add=({"like": "mou-contents", "id": "mou-signatures", "title": "Who signs the MOU now"},),
        retire=("local-hall-pass",),
    )
    response = await phone.sync(officer)
    body = response.json()
    assert body["release"] == 4 and body["base"] == 1
    assert {c["id"] for c in body["card_bodies"]} == {"teacher", "mou-signatures"}
    assert body["retired"] == ["policymaker-support"]
    assert phone.card_ids() == await release_hashes(4)
    assert "policymaker-support" not in phone.card_ids()
    guidance = {path: page for path, page in phone.pages.items() if path != "/changes"}
    assert "local-hall-pass" not in str(guidance) and "policymaker-support" not in str(guidance)
    # What changed in release 4 names the card it retired, and links it nowhere.
    assert "Hall passes" in phone.pages["/changes"]["main"]
    assert "/cards/local-hall-pass" not in phone.pages["/changes"]["main"]
    assert "Who signs the MOU now" in phone.pages["/"]["main"]
    assert "Teach often." in phone.cards[phone.card_ids()["teacher"]]["article"]
    assert phone.pages == (await officer.get("/api/v1/sync")).json()["pages"]


async def test_claims_that_do_not_match_this_agency_get_the_whole_release(officer, settings):
    full = len((await officer.get("/api/v1/sync")).json()["card_bodies"])
    await bootstrap.create_agency(settings, "other", "Other Police")
    other_two = await publish_revision("other", edits={"teacher": {"title": "Teacher (other)"}})
    await publish_revision(edits={"teacher": {"title": "Teacher (demo)"}})
    # A phone that held the other agency's release 2, now signed in to the demo agency.
    foreign = (await load_release(other_two)).etag
    for headers, params in [
        ({"If-None-Match": foreign}, {}),
        ({"If-None-Match": '"r1-00000000000000000000"'}, {}),
        ({}, {"have": "99"}),
    ]:
        response = await officer.get("/api/v1/sync", headers=headers, params=params)
        assert response.status_code == 200
        assert response.json()["base"] is None and len(response.json()["card_bodies"]) == full


async def test_bad_sync_parameters_are_refused_clearly(officer):
    response = await officer.get("/api/v1/sync", params={"have": "two"})
    assert response.status_code == 400 and response.json()["details"] == {"have": "two"}
    response = await officer.get("/api/v1/sync", headers={"Fieldguide-Device": "bad id!"})
    assert response.status_code == 400
    assert "device id" in response.json()["message"]
    assert await Device.all().count() == 0


async def test_each_device_records_its_last_sync_and_the_release_it_holds(officer, client):
    user = await User.get(email="officer@demo.test")
    phone = Phone()
    await phone.sync(officer, {**DEVICE, "User-Agent": "PhoneBrowser/1"})
    device = await Device.get(user=user, device_id=DEVICE["Fieldguide-Device"])
    # It was sent release 1 but has not said it holds it yet: supervisors must not count it.
    assert device.release_number is None and device.user_agent == "PhoneBrowser/1"
    first_seen = device.last_sync_at
    await phone.sync(officer)  # the confirming check after saving: 304
    await device.refresh_from_db()
    assert device.release_number == 1 and device.last_sync_at >= first_seen
    await publish_revision(edits={"teacher": {"title": "Teacher, counselor"}})
    await phone.sync(officer)
    await device.refresh_from_db()
    assert device.release_number == 1  # release 2 received, not yet confirmed
    await phone.sync(officer)
    await device.refresh_from_db()
    assert device.release_number == 2
    tablet = Phone()
    await tablet.sync(officer, {"Fieldguide-Device": "tablet-0002-efgh"})
    assert await Device.filter(user=user).count() == 2


async def test_manifest_carries_the_time_it_was_checked(officer):
    response = await officer.get("/api/v1/manifest")
    assert response.json()["checked_at"] == response.headers["fieldguide-checked-at"]
    again = await officer.get("/api/v1/manifest", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.headers["fieldguide-checked-at"] >= response.json()["checked_at"]


async def test_checks_every_few_minutes_write_the_device_at_most_once_a_minute(officer, monkeypatch):
    phone = Phone()
    await phone.sync(officer)
    await phone.sync(officer)
    device = await Device.get(device_id=DEVICE["Fieldguide-Device"])
    recorded = device.last_sync_at
    assert (await phone.sync(officer)).status_code == 304
    await device.refresh_from_db()
    assert device.last_sync_at == recorded
    later = clock.now() + timedelta(minutes=2)
    monkeypatch.setattr(clock, "now", lambda: later)
    await phone.sync(officer)
    await device.refresh_from_db()
    assert device.last_sync_at == later and device.release_number == 1


async def test_an_upgrade_that_changes_the_templates_makes_devices_resync(officer, monkeypatch):
    from server.guidance import releases

    first = await officer.get("/api/v1/sync")
    held = first.headers["etag"]
    assert (await officer.get("/api/v1/sync", headers={"If-None-Match": held})).status_code == 304
    # A new version of the app draws pages differently: the held copy no longer matches.
    monkeypatch.setattr(releases, "templates_version", lambda: "templates of the next version")
    again = await officer.get("/api/v1/sync", headers={"If-None-Match": held})
    assert again.status_code == 200
    assert again.headers["etag"] != held and again.json()["card_bodies"]


async def test_every_sync_answer_carries_the_releases_search_index(officer):
    phone = Phone()
    first = (await phone.sync(officer)).json()
    bundle = (await officer.get("/api/v1/bundle")).json()
    assert first["search_index"] == bundle["search_index"]
    assert first["search_index"]["cards"] == len(first["cards"])
    # A delta holds the whole index of the new release: it depends on every card...
    await publish_revision(retire=("mou-signatures",))
    delta = (await phone.sync(officer)).json()
    assert delta["base"] == 1 and delta["search_index"]["cards"] == len(first["cards"]) - 1
    assert (await phone.sync(officer)).status_code == 304
    # ...unless no searchable text changed: then null, and the phone keeps the index it has.
    await publish_revision(summary="Only the due date moved.", requires_ack=False)
    same = (await phone.sync(officer)).json()
    assert same["base"] == 2 and same["search_index"] is None
    without_claim = (await officer.get("/api/v1/sync")).json()
    assert without_claim["search_index"] == delta["search_index"]


PLAIN = {"Accept-Encoding": "identity"}


def counted_builds(monkeypatch) -> list[int]:
    """Counts the sync answers built (offline_copy calls) rather than taken from the process's memory."""
    builds: list[int] = []
    build = sync_view.offline_copy

    async def counted(*args, **kwargs):
        builds.append(1)
        return await build(*args, **kwargs)

    monkeypatch.setattr(sync_view, "offline_copy", counted)
    return builds


def without_checked_at(response) -> bytes:
    """The answer's JSON bytes with its own time taken out (it is the only part that differs)."""
    checked_at = response.headers["fieldguide-checked-at"]
    assert response.json()["checked_at"] == checked_at
    assert response.content.count(checked_at.encode()) == 1
    return response.content.replace(checked_at.encode(), b"")


async def uncached(app, client, headers=None) -> bytes:
    """The same request answered by a process that keeps no answer (built afresh)."""
    kept = app.state.sync_answers
    app.state.sync_answers = SyncAnswers(0)
    try:
        return without_checked_at(await client.get("/api/v1/sync", headers=headers or {}))
    finally:
        app.state.sync_answers = kept


async def test_a_repeated_answer_is_built_once_and_differs_only_in_checked_at(app, officer, monkeypatch):
    phone = Phone()
    await phone.sync(officer)
    await publish_revision(edits={"teacher": {"title": "Teacher, counselor"}})
    builds = counted_builds(monkeypatch)
    claim = {"If-None-Match": phone.etag}
    first = await officer.get("/api/v1/sync", headers=claim)
    later = clock.now() + timedelta(seconds=5)
    monkeypatch.setattr(clock, "now", lambda: later)
    second = await officer.get("/api/v1/sync", headers=claim)
    plain = await officer.get("/api/v1/sync", headers={**claim, **PLAIN})
    assert len(builds) == 1
    assert first.json()["base"] == 1 and first.json()["release"] == 2
    assert second.json()["checked_at"] == later.isoformat() != first.json()["checked_at"]
    assert without_checked_at(first) == without_checked_at(second) == without_checked_at(plain)
    # Sent gzipped when asked (once, by the view: the middleware passes it through), plain when not.
    assert first.headers["content-encoding"] == "gzip" and first.headers["vary"] == "Accept-Encoding"
    assert "content-encoding" not in plain.headers and plain.headers["vary"] == "Accept-Encoding"
    assert int(plain.headers["content-length"]) == len(plain.content)
    assert plain.headers["content-type"] == "application/json"
    assert plain.headers["cache-control"] == "private, no-store"
    assert plain.headers["etag"] == first.json()["etag"]
    # Other officers of the agency holding the same release get the very same answer.
    async with client_as(app, "officer2@demo.test") as other:
        assert without_checked_at(await other.get("/api/v1/sync", headers=claim)) == without_checked_at(first)
    assert len(builds) == 1


async def test_kept_answers_are_exactly_the_answers_built_afresh(app, officer):
    phone = Phone()
    whole = await phone.sync(officer)
    await publish_revision(retire=("mou-signatures",))
    await publish_revision(edits={"teacher": {"body": ("## Do", "## Do\n- Teach.\n")}})
    for headers in ({}, {"If-None-Match": phone.etag}, {"If-None-Match": phone.etag, **PLAIN}, PLAIN):
        for _ in range(2):  # built, then kept
            response = await officer.get("/api/v1/sync", headers=headers)
            assert without_checked_at(response) == await uncached(app, officer, headers)
    # Byte for byte what the view sent before answers were kept: JSONResponse of offline_copy.
    response = await officer.get("/api/v1/sync", headers={"If-None-Match": whole.headers["etag"], **PLAIN})
    current = await app.state.releases.get(await Release.get(agency__slug="demo", number=3))
    held = await app.state.releases.get(await Release.get(agency__slug="demo", number=1))
    body = await offline_copy_module.offline_copy(
        current, held, await Agency.get(slug="demo"), app.state.releases, app.state.fragments
    )
    body["checked_at"] = response.headers["fieldguide-checked-at"]
    assert response.content == JSONResponse(body).body


async def test_each_held_release_gets_its_own_answer(app, officer, monkeypatch):
    first = (await officer.get("/api/v1/sync")).headers["etag"]
    await publish_revision(retire=("mou-signatures",))
    second = (await officer.get("/api/v1/sync")).headers["etag"]
    await publish_revision(edits={"teacher": {"title": "Teacher, counselor"}})
    builds = counted_builds(monkeypatch)
    answers = {}
    for _ in range(2):
        for held in (None, first, second):
            response = await officer.get("/api/v1/sync", headers={"If-None-Match": held} if held else {})
            answers.setdefault(held, set()).add(without_checked_at(response))
            assert response.json()["release"] == 3
            assert response.json()["base"] == {None: None, first: 1, second: 2}[held]
    assert len(builds) == 3
    assert all(len(kept) == 1 for kept in answers.values())
    assert len({a for kept in answers.values() for a in kept}) == 3
    assert (await uncached(app, officer, {"If-None-Match": first})) in answers[first]
    assert (await uncached(app, officer, {"If-None-Match": second})) in answers[second]


async def test_a_new_attestation_or_agency_name_shows_in_the_very_next_answer(app, officer, monkeypatch):
    phone = Phone()
    await phone.sync(officer)
    await publish_revision(edits={"teacher": {"title": "Teacher, counselor"}})
    claim = {"If-None-Match": phone.etag}
    before = await officer.get("/api/v1/sync", headers=claim)
    assert "I have read and understand the changes in release 2." in before.json()["pages"]["/changes"]["main"]
    builds = counted_builds(monkeypatch)
    # An admin words the attestation anew: no release is published.
    async with client_as(app, "admin@demo.test") as admin:
        token = csrf_of((await admin.get("/admin/attestation")).text)
        wording = "I have read release {release} and will follow it on duty."
        saved = await admin.post("/admin/attestation", data={"csrf_token": token, "attestation": wording})
        assert saved.status_code == 303
    after = await officer.get("/api/v1/sync", headers=claim)
    changes = after.json()["pages"]["/changes"]["main"]
    assert "I have read release 2 and will follow it on duty." in changes
    assert "I have read and understand" not in changes
    assert len(builds) == 1
    assert without_checked_at(after) == await uncached(app, officer, claim)
    builds.clear()
    # A rename is a new answer too (nothing in today's answer shows the name, but it is read
    # afresh: whatever of the agency an answer comes to show is never served stale).
    await Agency.filter(slug="demo").update(name="Demo Unified Police")
    renamed = await officer.get("/api/v1/sync", headers=claim)
    assert len(builds) == 1
    assert without_checked_at(renamed) == without_checked_at(after)
    # And back to the default wording: the answer says it again.
    await Agency.filter(slug="demo").update(attestation=None)
    reset = await officer.get("/api/v1/sync", headers=claim)
    assert "I have read and understand the changes in release 2." in reset.json()["pages"]["/changes"]["main"]
    assert len(builds) == 2
