"""Real-browser fixtures: the app in a uvicorn subprocess on its own database, and Chromium.

- live_server (module): the real app on a free 127.0.0.1 port with a fresh copy of the demo
  database (a LiveServer of tests/helpers/browser.py).
- browser (session): Debian's Chromium driven by Playwright.
- phone: a fresh phone-sized browser context.
Helpers for the tests (sign_in, wait_offline_ready, poll, ...) are in tests/helpers/browser.py.
"""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import sync_playwright

from ..helpers.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    sign_in,
    start_server,
    wait_offline_ready,
)
from ..helpers.database import TEMPLATE_DB


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, template_dir):
    """The real app in a subprocess with a fresh copy of the demo database (one per test module)."""
    data_dir = tmp_path_factory.mktemp("live")
    shutil.copy(template_dir / TEMPLATE_DB, data_dir / TEMPLATE_DB)
    server = start_server(data_dir)
    yield server
    server.stop()


def pytest_collection_modifyitems(items):
    """Browser tests run last: Playwright's event loop, once started, stays for the session
    and would stop every asyncio test after it."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def browser(template_dir):
    """Debian's Chromium, headless (the template database is built before Playwright starts)."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def phone(browser):
    """A fresh browser context the size of a phone (390×844), closed after the test."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def officer(phone, live_server):
    """A page signed in as the demo officer whose phone holds release 1 (overrides the HTTP client of tests/conftest.py)."""
    page = phone.new_page()
    sign_in(page, live_server.url)
    wait_offline_ready(page, 1)
    return page
