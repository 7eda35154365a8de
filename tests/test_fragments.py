"""Pages cut into shell + fragments put back together equal the online pages, byte for byte."""

from __future__ import annotations

import re

from markupsafe import escape

from server.models import Agency
from server.web.fragments import (
    ARTICLE_MARK,
    ETAG_MARK,
    MAIN_MARK,
    RELEASE_MARK,
    TITLE_MARK,
)

from .helpers.acks import post_ack
from .helpers.clients import client_as
from .helpers.csrf import csrf_token
from .helpers.releases import publish_revision

# The only per-officer values of an online what-changed page: its ack form's token and uuid.
OFFICER_STATE = re.compile(r'(<form class="ack-form"[^>]*>\s*<input type="hidden" name="csrf_token" value=")[^"]*("'
                           r'>\s*<input type="hidden" name="uuid" value=")[^"]*(")')


def without_officer_state(html: str) -> str:
    """A what-changed page with its ack form's token and uuid emptied, as a device keeps it."""
    emptied, count = OFFICER_STATE.subn(r"\1\2\3", html)
    assert count == 1
    return emptied


def compose(shell: str, sync: dict, path: str, articles: dict[str, str]) -> str:
    """What service_worker/compose.js does, in Python."""
    page = sync["pages"][path]
    tab = "guide" if path == "/" else "flow" if path.startswith(("/flow", "/practice")) else "search" if path == "/search" else None
    html = shell
    if tab:
        html = html.replace(f'data-tab="{tab}"', f'data-tab="{tab}" aria-current="page"')
    main = page["main"].replace(ARTICLE_MARK, articles[page["card"]]) if "card" in page else page["main"]
    html = html.replace(TITLE_MARK, page["title"]).replace(RELEASE_MARK, str(sync["release"]))
    return html.replace(ETAG_MARK, str(escape(sync["etag"]))).replace(MAIN_MARK, main)


async def test_every_offline_page_is_the_online_page(officer):
    await publish_revision(edits={"teacher": {"summary": ("Teacher is", "Teacher & \"guide\" is")}})
    shell = (await officer.get("/shell")).text
    sync = (await officer.get("/api/v1/sync")).json()
    articles = {c["hash"]: c["article"] for c in sync["card_bodies"]}
    paths = [p for p in sync["pages"] if p != "/offline"]
    assert len(paths) >= len(sync["cards"]) + 5
    assert "/changes" in paths
    for path in paths:
        online = await officer.get(path)
        assert online.status_code == 200, path
        expected = without_officer_state(online.text) if path == "/changes" else online.text
        assert compose(shell, sync, path, articles) == expected, path


async def test_a_card_article_is_the_same_in_every_release_holding_its_hash(officer):
    first = (await officer.get("/api/v1/sync")).json()
    await publish_revision(edits={"teacher": {"title": "Teacher and mentor"}})
    second = (await officer.get("/api/v1/sync", headers={"If-None-Match": first["etag"]})).json()
    assert [c["id"] for c in second["card_bodies"]] == ["teacher"]
    assert "/cards/restraint-devices" in second["pages_kept"]
    unchanged = first["pages"]["/cards/restraint-devices"]["card"]
    card = (await officer.get(f"/api/v1/cards/{unchanged}")).json()
    page = (await officer.get("/cards/restraint-devices")).text
    assert card["article"] in page
    # The teacher card's frame (related lists elsewhere) shows the new title.
    assert "Teacher and mentor" in second["pages"]["/cards/three-roles"]["main"]


async def test_the_shell_is_marked_needs_sign_in_and_revalidates(client, officer):
    shell = await officer.get("/shell")
    assert shell.status_code == 200 and shell.headers["cache-control"] == "private, no-cache"
    for mark in (TITLE_MARK, MAIN_MARK, RELEASE_MARK, ETAG_MARK):
        assert mark in shell.text
    assert "Officer Casey Rivera" in shell.text
    again = await officer.get("/shell", headers={"If-None-Match": shell.headers["etag"]})
    assert again.status_code == 304
    await officer.post("/sign-out", data={"csrf_token": shell.text.split('name="csrf_token" value="')[1].split('"')[0]})
    assert (await officer.get("/shell")).status_code == 303


async def test_what_changed_is_kept_for_offline_use_with_no_ones_state(officer, app):
    await publish_revision(
        edits={"restraint-devices": {"body": ("use of physical restraint.", "use of physical restraint, every time.")}},
        changes={"restraint-devices": "major"},
    )
    assert (await post_ack(officer, await csrf_token(officer), 2)).status_code == 201
    kept = (await officer.get("/api/v1/sync")).json()["pages"]["/changes"]
    assert kept["title"] == "What changed in release 2 · SRO Field Guide"
    assert "compared with release 1" in kept["main"] and "major change" in kept["main"]
    assert '<ins><span class="visually-hidden">[added: </span>restraint,' in kept["main"]
    # Acknowledged online, yet the copy for the device offers the form, with no uuid to reuse.
    assert "Release 2 acknowledged" in (await officer.get("/changes")).text
    assert 'data-state="form"' in kept["main"] and "acknowledged" not in kept["main"]
    assert 'name="uuid" value=""' in kept["main"] and 'name="csrf_token" value=""' in kept["main"]
    async with client_as(app, "officer2@demo.test") as other:
        assert (await other.get("/api/v1/sync")).json()["pages"]["/changes"] == kept


async def test_what_changed_kept_for_offline_use_follows_the_agencys_wording(officer):
    first = (await officer.get("/api/v1/sync")).json()["pages"]["/changes"]
    assert "I have read and understand the changes in release 1." in first["main"]
    assert "all" in first["main"] and "cards are new" in first["main"]
    await Agency.filter(slug="demo").update(attestation="I read every change in release {release}.")
    again = (await officer.get("/api/v1/sync")).json()["pages"]["/changes"]
    assert "I read every change in release 1." in again["main"]
    assert "I read every change in release 1." in (await officer.get("/changes")).text
