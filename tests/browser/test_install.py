"""Installable: Chromium finds no installability error, and iOS gets its icon and meta tags."""

from __future__ import annotations

import struct

import pytest

from ..helpers.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    sign_in,
    wait_offline_ready,
)

pytestmark = pytest.mark.browser


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_chromium_can_install_the_app(browser, live_server, tmp_path):
    # Installability needs a persistent profile (an incognito context reports "in-incognito").
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, viewport=PHONE
    )
    try:
        page = context.new_page()
        sign_in(page, live_server.url)
        wait_offline_ready(page, 1)
        cdp = context.new_cdp_session(page)
        assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["errors"] == [] and manifest["url"].endswith("/manifest.webmanifest")
    finally:
        context.close()


def test_web_manifest_icons_and_ios_home_screen_tags(phone, live_server):
    page = phone.new_page()
    sign_in(page, live_server.url)
    request = phone.request
    manifest = request.get(live_server.url + "/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["display"] == "standalone" and body["start_url"].startswith("/")
    purposes = set()
    for icon in body["icons"]:
        response = request.get(live_server.url + icon["src"])
        assert response.ok and response.headers["content-type"] == icon["type"] == "image/png"
        width, height = png_size(response.body())
        assert f"{width}x{height}" == icon["sizes"]
        purposes.add(icon["purpose"])
    assert {"any", "maskable"} <= purposes and {"192x192", "512x512"} <= {i["sizes"] for i in body["icons"]}

    touch_icon = page.get_attribute('link[rel="apple-touch-icon"]', "href")
    assert png_size(request.get(live_server.url + touch_icon).body()) == (180, 180)
    assert page.get_attribute('meta[name="apple-mobile-web-app-capable"]', "content") == "yes"
    assert page.get_attribute('meta[name="apple-mobile-web-app-title"]', "content") == "Field Guide"
    assert "viewport-fit=cover" in page.get_attribute('meta[name="viewport"]', "content")
