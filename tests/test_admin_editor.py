"""The card editor: content checks with the text kept, sanitized preview, change classes, roles."""

from __future__ import annotations

import pytest
from markupsafe import escape

from server import bootstrap
from server.guidance.change_class import suggest_change_class
from server.models import Draft, DraftCard, Role

from .helpers.clients import client_as
from .helpers.csrf import csrf_of, csrf_token
from .helpers.editor import (
    card_form,
    current_card,
    edit_body,
    save_card,
    start_draft,
)


def _kept(text: str, page: str) -> bool:
    """Whether the page still holds the admin's text (HTML-escaped as in a textarea)."""
    return str(escape(text)) in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b.replace("## Why", "## Reasons"), "needs the sections &#39;## Do&#39;, &#39;## Don&#39;t&#39; and &#39;## Why&#39;"),
        (lambda b: b + "\n" + "extra " * 150, "the budget is 150"),
        (lambda b: b + "\n<b>Call</b> the principal", "raw HTML is not allowed; use Markdown"),
    ],
    ids=["missing section", "over budget", "raw html"],
)
async def test_bad_card_text_gets_a_clear_error_and_keeps_the_text(app, change, message):
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await start_draft(admin)
        card = await current_card("teacher")
        body = change(card["body"]) + "\nMy own careful sentence about MOUs."
        response = await save_card(admin, draft_url, "teacher", body=body, summary="My edited one-line answer.")
        assert response.status_code == 400
        page = response.text
        assert "This card was not saved." in page and message in page
        assert _kept("My own careful sentence about MOUs.", page)
        assert _kept("My edited one-line answer.", page)
        assert 'aria-invalid="true"' in page
    assert await DraftCard.all().count() == 0


async def test_fields_and_links_are_checked(app):
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await start_draft(admin)
        response = await save_card(
            admin, draft_url, "teacher", title="", related=["no-such-card"], source=["A heading NASRO never wrote"],
        )
        assert response.status_code == 400
        assert "title: is required" in response.text
        response = await save_card(admin, draft_url, "teacher", related=["no-such-card"], source=["A heading NASRO never wrote"])
        assert response.status_code == 400
        assert "no card &#39;no-such-card&#39;" in response.text
        assert "is not a heading in sources.yaml" in response.text


async def test_new_card_ids_must_be_slugs_and_must_not_clash(app):
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await start_draft(admin)
        base = await current_card("teacher")
        for bad_id, message in [("teacher", "is already used by another card"), ("Radio Codes!", "is not a lowercase-hyphen slug")]:
            form = {
                "csrf_token": await csrf_token(admin, f"{draft_url}/new-card"), "id": bad_id, "title": "Radio codes",
                "summary": "Use channel 4.", "category": "agency", "audience": ["officer"], "tags": "radio",
                "source": base["source"], "body": base["body"], "lp_count": "0", "op": "save",
            }
            response = await admin.post(f"{draft_url}/new-card", data=form)
            assert response.status_code == 400, bad_id
            assert message in response.text
            assert _kept("Radio codes", response.text)
    assert await DraftCard.all().count() == 0


async def test_preview_endpoint_renders_sanitized_html(app):
    async with client_as(app, "admin@demo.test") as admin:
        csrf = await csrf_token(admin, "/admin")
        body = "## Do\n- Call **dispatch**.\n<script>alert(1)</script>\n\n[x](javascript:alert(1))\n"
        response = await admin.post(
            "/admin/preview",
            data={"csrf_token": csrf, "title": "T", "summary": "S", "body": body,
                  "lp_count": "1", "lp_0_id": "p", "lp_0_label": "Our rule", "lp_0_text": "Ask the *sergeant*."},
        )
        assert response.status_code == 200
        fragment = response.text
        assert "<html" not in fragment
        assert "<h2>Do</h2>" in fragment and "<strong>dispatch</strong>" in fragment
        assert "<script" not in fragment and "&lt;script&gt;" in fragment
        assert "href=\"javascript" not in fragment
        assert "Your agency's policy" in fragment and "<em>sergeant</em>" in fragment
        refused = await admin.post("/admin/preview", data={"body": body})
        assert refused.status_code == 403
    async with client_as(app, "officer@demo.test") as officer:
        csrf = await csrf_token(officer, "/")
        assert (await officer.post("/admin/preview", data={"csrf_token": csrf, "body": "x"})).status_code == 403


async def test_preview_labels_the_lines_an_agency_adds_to_a_nasro_card(app):
    card = await current_card("restraint-devices")
    added = card["body"].replace("## Don't", "- Radio dispatch before any arrest.\n\n## Don't")
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await start_draft(admin)
        page = (await admin.get(f"{draft_url}/cards/restraint-devices")).text
        assert '<input type="hidden" name="card" value="restraint-devices">' in page
        form = card_form(card, body=added, op="preview")
        response = await admin.post("/admin/preview", data={"csrf_token": csrf_of(page), "card": "restraint-devices", **form})
    fragment = response.text
    # The added line is the agency's; the NASRO lines keep their ties (no label, no tie text shown).
    assert fragment.count('class="agency-line"') == 1
    assert 'Radio dispatch before any arrest. <span class="agency-line">' in fragment
    assert "[§" not in fragment


async def test_preview_button_without_js_shows_the_preview_and_saves_nothing(app):
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await start_draft(admin)
        card = await current_card("teacher")
        response = await save_card(admin, draft_url, "teacher", body=card["body"] + "\nA **new** line.", op="preview")
        assert response.status_code == 200
        assert "A <strong>new</strong> line." in response.text
        assert _kept("A **new** line.", response.text)
        assert 'src="/static/editor.js' in response.text
    assert await DraftCard.all().count() == 0


async def test_editor_keeps_text_when_the_form_had_expired(app):
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await start_draft(admin)
        card = await current_card("teacher")
        form = card_form(card, body=card["body"] + "\nWritten before my session changed.")
        form["csrf_token"] = "stale"
        response = await admin.post(f"{draft_url}/cards/teacher", data=form)
        assert response.status_code == 403
        assert "This form had expired" in response.text
        assert _kept("Written before my session changed.", response.text)
    assert await DraftCard.all().count() == 0


def test_change_class_is_computed_from_category_tags_and_changed_words():
    role = {"category": "role", "tags": ["teaching"], "title": "T", "summary": "S", "body": "Talk to students.", "local_policy": [], "source": []}
    assert suggest_change_class(role, dict(role, body="Talk with students."))[0] == "minor"
    assert suggest_change_class(role, dict(role, body="Talk to students before an arrest."))[0] == "major"
    assert suggest_change_class(role, dict(role, body="Never cuff students."))[0] == "major"
    assert suggest_change_class(dict(role, category="discipline"), dict(role, category="discipline", body="Hi."))[0] == "major"
    tagged = dict(role, tags=["restrain"])
    assert suggest_change_class(tagged, dict(tagged, body="Talk."))[0] == "major"
    assert suggest_change_class(None, role)[0] == "major"


async def test_change_class_default_and_override_are_stored(app):
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await start_draft(admin)
        page = (await admin.get(f"{draft_url}/cards/restraint-devices")).text
        assert "Suggested: major (the card is in the restraint category)" in page
        await edit_body(admin, draft_url, "teacher", "Check how", "Read how")
        await edit_body(admin, draft_url, "restraint-devices", "appropriate use of", "proper use of", change_class="minor")
    classes = {e.card_id: e.change_class for e in await DraftCard.all()}
    assert classes == {"teacher": "minor", "restraint-devices": "minor"}


async def test_saving_the_card_unchanged_leaves_no_draft_change(app):
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await start_draft(admin)
        assert (await save_card(admin, draft_url, "teacher")).status_code == 303
        assert await DraftCard.all().count() == 0
        await edit_body(admin, draft_url, "teacher", "Check how", "Read how")
        assert await DraftCard.all().count() == 1
        # Editing it back to the release's text undoes the change.
        assert (await save_card(admin, draft_url, "teacher")).status_code == 303
        assert await DraftCard.all().count() == 0


async def test_only_admins_of_the_agency_reach_the_admin_pages(app, settings):
    async with client_as(app) as anonymous:
        response = await anonymous.get("/admin")
        assert response.status_code == 303 and response.headers["location"].startswith("/sign-in")
    for email in ("officer@demo.test", "supervisor@demo.test"):
        async with client_as(app, email) as other:
            for path in ("/admin", "/admin/releases", "/admin/base-updates/teacher"):
                assert (await other.get(path)).status_code == 403, (email, path)
            csrf = await csrf_token(other, "/")
            assert (await other.post("/admin/drafts", data={"csrf_token": csrf})).status_code == 403
    assert await Draft.all().count() == 0

    # An admin of another agency cannot see or change this agency's draft.
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await start_draft(admin)
    other = await bootstrap.create_agency(settings, "other", "Other Police Department")
    await bootstrap.create_user(other, "admin@other.test", "Other Admin", Role.ADMIN, bootstrap.DEMO_PASSWORD)
    async with client_as(app, "admin@other.test") as stranger:
        assert (await stranger.get(draft_url)).status_code == 404
        assert (await stranger.get(f"{draft_url}/cards/teacher")).status_code == 404
        csrf = await csrf_token(stranger, "/admin")
        for path in (f"{draft_url}/submit", f"{draft_url}/withdraw", f"{draft_url}/cards/teacher/retire"):
            assert (await stranger.post(path, data={"csrf_token": csrf})).status_code == 404
        own = await start_draft(stranger)
        assert own != draft_url
    assert await DraftCard.all().count() == 0


async def test_checkboxes_in_page_order_do_not_reorder_an_untouched_card(app, settings):
    from server.guidance.drafts import load_sources

    headings = [s["heading"] for s in load_sources(settings.content_dir)["sections"]]
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await start_draft(admin)
        card = await current_card("restraint-devices")
        in_page_order = [h for h in headings if h in card["source"]]
        assert in_page_order != card["source"]  # this card cites its sources in its own order
        form = card_form(card)
        form["source"] = in_page_order
        form["related"] = sorted(card["related"])
        path = f"{draft_url}/cards/restraint-devices"
        response = await admin.post(path, data={"csrf_token": await csrf_token(admin, path), **form})
        assert response.status_code == 303
    assert await DraftCard.all().count() == 0
