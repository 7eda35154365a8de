"""The guidance pages through real HTTP: home, cards, search, the flow, sign-in."""

from __future__ import annotations

import re

from server.guidance.content import load_content
from server.settings import ROOT

from .helpers.clients import sign_in
from .helpers.csrf import csrf_of

CARDS = load_content(ROOT / "content").cards


async def test_signed_out_users_get_the_sign_in_page(client):
    for path in ["/", "/cards/teacher", "/search?q=cuffs", "/flow"]:
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/sign-in?next=")
    page = await client.get("/sign-in")
    assert page.status_code == 200 and "Sign in" in page.text


async def test_wrong_password_and_unknown_email_get_the_same_message(client):
    wrong = await sign_in(client, "officer@demo.test", "not-the-password")
    unknown = await sign_in(client, "nobody@demo.test", "whatever-it-is")
    assert wrong.status_code == unknown.status_code == 400
    message = "That email and password do not match an active account."
    assert message in wrong.text and message in unknown.text


async def test_sign_in_without_csrf_token_is_refused(client):
    await client.get("/sign-in")
    response = await client.post("/sign-in", data={"email": "officer@demo.test", "password": "fieldguide-demo"})
    assert response.status_code == 400
    assert "fg_session" not in response.cookies


async def test_session_cookie_is_httponly_and_lax(client):
    response = await sign_in(client, "officer@demo.test")
    cookie = response.headers["set-cookie"]
    assert "fg_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Max-Age=2592000" in cookie  # 30 days


async def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(client):
    page = await client.get("/sign-in?next=/cards/teacher")
    response = await client.post(
        "/sign-in",
        data={"email": "officer@demo.test", "password": "fieldguide-demo", "csrf_token": csrf_of(page.text), "next": "/cards/teacher"},
    )
    assert response.headers["location"] == "/cards/teacher"


async def test_sign_in_refuses_open_redirects(client):
    page = await client.get("/sign-in")
    response = await client.post(
        "/sign-in",
        data={"email": "officer@demo.test", "password": "fieldguide-demo", "csrf_token": csrf_of(page.text), "next": "//evil.example/x"},
    )
    assert response.headers["location"] == "/"


async def test_home_lists_every_card_grouped_by_category(officer):
    response = await officer.get("/")
    assert response.status_code == 200
    for card in CARDS:
        assert f'href="/cards/{card["id"]}"' in response.text
    categories = load_content(ROOT / "content").categories
    positions = [response.text.index(f'id="cat-{c["id"]}"') for c in categories]
    assert positions == sorted(positions)
    assert 'href="/flow"' in response.text


async def test_every_card_page_opens(officer):
    for card in CARDS:
        response = await officer.get(f"/cards/{card['id']}")
        assert response.status_code == 200, card["id"]
        assert card["title"] in response.text.replace("&#39;", "'").replace("&amp;", "&").replace("&#34;", '"')
        assert "Why: NASRO 2015 position statement" in response.text
        for heading in card["source"]:
            assert heading in response.text


async def test_card_page_shows_local_policy_prompt_and_related_cards(officer):
    response = await officer.get("/cards/restraint-devices")
    assert "Your agency&#39;s policy" in response.text or "Your agency's policy" in response.text
    assert "Ask your supervisor for your agency" in response.text
    assert 'href="/cards/avoid-restraint-and-seclusion"' in response.text


async def test_unknown_card_is_404(officer):
    response = await officer.get("/cards/no-such-card")
    assert response.status_code == 404
    assert "no-such-card" in response.text


def _result_ids(html: str) -> list[str]:
    block = html.split('id="results"', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'href="/cards/([a-z0-9-]+)"', block)


async def test_search_finds_restraint_card_first_for_cuff_words(officer):
    for query in ["handcuffs", "cuffs", "zip ties"]:
        response = await officer.get("/search", params={"q": query})
        assert response.status_code == 200
        assert _result_ids(response.text)[0] == "restraint-devices", query


async def test_search_finds_iep_card_first(officer):
    response = await officer.get("/search", params={"q": "IEP"})
    assert _result_ids(response.text)[0] == "special-needs-iep"


async def test_search_with_no_match_says_so(officer):
    response = await officer.get("/search", params={"q": "zzzzqqq"})
    assert response.status_code == 200
    assert "No close match for “zzzzqqq”" in response.text and 'href="/flow"' in response.text
    assert _result_ids(response.text) == []


async def test_a_weak_match_says_so_and_shows_the_closest_cards(officer):
    response = await officer.get("/search", params={"q": "handcuffs zebra giraffe"})
    assert "No close match" in response.text and "These cards come closest" in response.text
    assert _result_ids(response.text)[0] == "restraint-devices"
    close = await officer.get("/search", params={"q": "should I cuff her"})
    assert "No close match" not in close.text and _result_ids(close.text)[0] == "restraint-devices"


async def test_malformed_search_is_400_with_a_clear_message(officer):
    response = await officer.get("/search", params={"q": "x" * 201})
    assert response.status_code == 400
    assert "limited to 200 characters" in response.text
    response = await officer.get("/api/v1/search", params={"q": "cuffs\x00"})
    assert response.status_code == 400
    assert response.json()["message"] == "Search text contains control characters."


async def test_every_flow_path_is_walkable_with_plain_links(officer):
    """Walk every path of "Should I step in?" by its links, as a phone without JavaScript would."""
    home = await officer.get("/")
    assert 'href="/flow"' in home.text
    start = await officer.get("/flow")
    assert "What is going on?" in start.text
    outcomes = []

    async def walk(text: str, trail: tuple[str, ...]) -> None:
        if "outcome tone-" in text:
            outcomes.append((trail, text))
            return
        for link in re.findall(r'class="answer-button" href="(/flow/[a-z0-9-]+)"', text):
            response = await officer.get(link)
            assert response.status_code == 200, link
            await walk(response.text, trail + (link,))

    await walk(start.text, ())
    assert len(outcomes) >= 9
    for trail, text in outcomes:
        # Home → "Should I step in?" is one tap, then one per answer.
        assert 1 + len(trail) <= 4, trail
        assert 'href="/cards/' in text and "Start over" in text
        # Every outcome shows the statement passages it rests on, offline-ready in the page itself.
        assert "Where the statement says this" in text and 'class="source-passage"' in text, trail
        if "tone-act" in text or "tone-policy" in text or "tone-care" in text:
            assert any(step.startswith("/flow/needs-") for step in trail), trail
    meltdown = next(text for trail, text in outcomes if trail == ("/flow/needs-safety", "/flow/out-safety-iep"))
    assert "Educators first" in meltdown and "Who at your school to ask about a student" in meltdown
    assert "Ask your supervisor for your agency's policy." in meltdown


async def test_unknown_flow_step_is_404(officer):
    response = await officer.get("/flow/not-a-step")
    assert response.status_code == 404


async def test_sign_out_ends_the_session(officer):
    home = await officer.get("/")
    response = await officer.post("/sign-out", data={"csrf_token": csrf_of(home.text)})
    assert response.status_code == 303
    again = await officer.get("/")
    assert again.status_code == 303


async def test_sign_out_without_csrf_is_refused(officer):
    response = await officer.post("/sign-out", data={})
    assert response.status_code == 403
    assert (await officer.get("/")).status_code == 200
