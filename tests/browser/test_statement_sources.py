"""With no signal, an officer taps through "Should I step in?" and opens the statement's own words."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from ..helpers.browser import screenshot, sign_in, wait_offline_ready

pytestmark = pytest.mark.browser


def _tap(page, text: str) -> None:
    with page.expect_navigation():
        page.get_by_role("link", name=text, exact=True).click()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_flow_outcomes_and_their_passages_work_offline(browser, live_server, scheme):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True, has_touch=True,
        color_scheme=scheme,
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, live_server.url)
        wait_offline_ready(page, 1)
        context.set_offline(True)
        page.goto(live_server.url + "/")

        # A special-needs student in a meltdown who throws something: three answers, four taps.
        _tap(page, "Should I step in?")
        _tap(page, "Someone could get hurt")
        assert "special needs or an IEP" in page.inner_text("main h1")
        _tap(page, "Yes, or I'm not sure")
        assert page.url.endswith("/flow/out-safety-iep")
        outcome = page.locator(".outcome")
        assert outcome.locator(".outcome-kind").inner_text().lower() == "educators first"
        assert "Get the educators who know the student" in outcome.inner_text()
        assert "Ask your supervisor for your agency's policy." in page.inner_text(".local-policy >> nth=0")
        screenshot(page, f"flow-meltdown-{scheme}")
        page.click("#statement-sources summary")
        passage = page.locator(".source-passage", has_text="clearly specifies how educators will respond").first
        passage.scroll_into_view_if_needed()
        assert passage.is_visible()
        screenshot(page, f"flow-meltdown-sources-{scheme}")
        violations = Axe().run(page).response["violations"]
        assert [(v["id"], v["impact"]) for v in violations if v["impact"] in {"serious", "critical"}] == []

        # A case that requires an arrest, no special needs: the statement's condition is kept.
        page.goto(live_server.url + "/flow")
        _tap(page, "It may be a crime")
        _tap(page, "No")
        assert "physical arrest" in page.inner_text("main h1")
        _tap(page, "Yes")
        assert page.url.endswith("/flow/out-arrest")
        text = page.inner_text(".outcome")
        assert "Where SROs stay out of formal discipline" in text and "should need a restraint device" in text
        screenshot(page, f"flow-arrest-{scheme}")

        # A card's lines beside the passages they rest on.
        page.goto(live_server.url + "/cards/restraint-devices")
        page.click("#statement-sources summary")
        group = page.locator(".source-group", has_text="Expect to need handcuffs or flex cuffs")
        group.scroll_into_view_if_needed()
        assert "only in a case that requires the physical arrest" in group.locator(".source-passage").inner_text()
        assert "Use of Physical Restraint Devices is Rarely Necessary" in group.locator("cite").inner_text()
        assert page.locator(".source-group.is-agency").count() == 0  # the base card has no agency lines
        screenshot(page, f"card-sources-{scheme}")
    finally:
        context.close()
