"""How fast a card opens with no signal, in Chromium, against opening it online.

Signs in on a phone-sized page, lets the service worker save the release, then opens
cards offline (pages put together by the worker from the saved copy) and, as the same-run
reference, online from the server on loopback. Times come from the browser: responseEnd
(the page's HTML in hand) and first-contentful-paint (the card text on screen), both
measured from the start of the navigation.

    .venv/bin/python benchmarks/offline_open.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from server import bootstrap, db  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.helpers.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    sign_in,
    start_server,
    wait_offline_ready,
)

CARDS = ["restraint-devices", "special-needs-iep", "stay-out-of-discipline", "de-escalation", "teacher"]
TIMING = """() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const paint = performance.getEntriesByName("first-contentful-paint")[0];
    return {html: nav.responseEnd, text: paint ? paint.startTime : null,
            device: document.documentElement.dataset.served === "device"};
}"""


def open_cards(page, url: str, rounds: int, offline: bool) -> dict[str, list[float]]:
    found = {"html": [], "text": []}
    for i in range(rounds):
        page.goto(f"{url}/cards/{CARDS[i % len(CARDS)]}")
        page.wait_for_selector("article.card h1")
        page.wait_for_timeout(50)  # let the paint entry be recorded
        timing = page.evaluate(TIMING)
        assert timing["device"] == offline
        found["html"].append(timing["html"])
        if timing["text"] is not None:
            found["text"].append(timing["text"])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)

        async def prepare():
            try:
                await bootstrap.prepare(Settings(data_dir=data_dir), demo=True)
            finally:
                await db.close_db()

        asyncio.run(prepare())
        server = start_server(data_dir)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
                page = context.new_page()
                sign_in(page, server.url)
                wait_offline_ready(page, 1)
                open_cards(page, server.url, 3, offline=False)  # warm up
                online = open_cards(page, server.url, args.rounds, offline=False)
                context.set_offline(True)
                offline = open_cards(page, server.url, args.rounds, offline=True)
                browser.close()
        finally:
            server.stop()
    print(f"Opening a card at 390x844 in Chromium, median of {args.rounds} (ms from navigation start)")
    for name, label in (("html", "HTML in hand (responseEnd)"), ("text", "card text painted (FCP)")):
        on, off = statistics.median(online[name]), statistics.median(offline[name])
        print(f"  {label:<28} offline {off:6.1f} ms   online (loopback) {on:6.1f} ms   x{off / on:.2f}")


if __name__ == "__main__":
    main()
