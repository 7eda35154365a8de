"""A new release reaches a phone: a banner, never a silent swap, never a mix of two releases."""

from __future__ import annotations

import pytest

from server.models import Device, User

from ..helpers.browser import sign_in, wait_offline_ready
from ..helpers.releases import publish_revision

pytestmark = pytest.mark.browser

OLD = "Follow your agency's policy on the appropriate use of physical restraint."
NEW = "Follow your agency's written policy on the appropriate use of physical restraint."
HASHES = """async () => (await (await caches.open("fieldguide-cards-v1")).keys())
    .map((r) => new URL(r.url).pathname.split("/").pop()).sort()"""


async def device_of(email: str) -> dict:
    user = await User.get(email=email)
    device = await Device.get(user=user)
    return {"release": device.release_number, "synced": device.last_sync_at, "agent": device.user_agent}


def test_a_new_release_arrives_whole_with_a_banner(phone, live_server):
    page = phone.new_page()
    sign_in(page, live_server.url)
    wait_offline_ready(page, 1)
    assert live_server.run(device_of, "officer@demo.test")["release"] == 1
    phone.set_offline(True)
    page.goto(live_server.url + "/cards/restraint-devices")
    assert OLD in page.inner_text("article")

    live_server.run(
        publish_revision,
        "demo",
        edits={"restraint-devices": {"body": (OLD, NEW)}},
        retire=("mou-signatures",),
        summary="Restraint wording; MOU signatures card retired.",
    )
    page.reload()  # still offline: still the whole of release 1
    assert OLD in page.inner_text("article") and page.locator("#update-banner").is_hidden()

    phone.set_offline(False)
    banner = page.locator("#update-banner")
    banner.wait_for(state="visible", timeout=20_000)
    assert banner.inner_text().startswith("Guidance updated to release 2 — see what changed")
    assert banner.locator("a").get_attribute("href") == "/changes?to=2&from=1"
    page.wait_for_function("() => document.getElementById('status').dataset.state === 'online'")
    # The text being read is not swapped under the reader.
    assert OLD in page.inner_text("article") and page.locator("html").get_attribute("data-release") == "1"

    with page.expect_navigation():
        banner.locator("button").click()
    assert NEW in page.inner_text("article") and OLD not in page.inner_text("article")
    assert page.locator("html").get_attribute("data-release") == "2"

    manifest = page.evaluate("async () => (await fetch('/api/v1/manifest')).json()")
    assert manifest["release"] == 2
    assert page.evaluate(HASHES) == sorted(c["hash"] for c in manifest["cards"])
    assert live_server.run(device_of, "officer@demo.test")["release"] == 2

    phone.set_offline(True)
    for card in manifest["cards"]:
        page.goto(f"{live_server.url}/cards/{card['id']}")
        assert page.locator("html").get_attribute("data-release") == "2"
        assert page.locator("article.card").get_attribute("data-hash") == card["hash"]
    page.goto(live_server.url + "/cards/restraint-devices")
    assert NEW in page.inner_text("article") and OLD not in page.inner_text("article")
    page.goto(live_server.url + "/")
    assert page.locator('main a[href="/cards/mou-signatures"]').count() == 0
    page.wait_for_function("() => document.getElementById('status').dataset.state === 'offline'")
    assert page.inner_text("#status").startswith("Offline — release 2, synced")
    page.goto(live_server.url + "/cards/mou-signatures")
    assert page.inner_text("main h1") == "You're offline"

    phone.set_offline(False)
    page.goto(live_server.url + "/changes?to=2&from=1")
    assert "written" in page.inner_text("main")
