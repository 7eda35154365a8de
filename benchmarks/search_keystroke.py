"""How long instant search takes per keystroke offline, on a 40-card release, in Chromium.

Publishes a release of the 20 base cards plus 20 agency cards, lets a phone-sized page save it,
goes offline, opens the search page and types hallway phrases one character at a time, with
the CPU slowed 4x (DevTools Emulation.setCPUThrottlingRate) as on a modest phone, and without
slowing as the same-run reference. Each keystroke is timed in the page, from the input event
(its timeStamp) to the results being in the DOM, and to the results laid out. A frame is
16.7 ms. The load average of this machine is printed beside each figure.

    .venv/bin/python benchmarks/search_keystroke.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from server import bootstrap, db  # noqa: E402
from server.guidance.releases import load_release  # noqa: E402
from server.models import Agency, Release  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.helpers.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    sign_in,
    start_server,
    wait_offline_ready,
)
from tests.helpers.releases import publish_revision  # noqa: E402

QUERIES = [
    "should i cuff her",
    "kid with autism screaming",
    "my principal wants me to write up a student",
    "teacher wants me to search a backpack for a vape",
    "restrant",
    "student keeps walking out of class",
    "who signs the mou",
    "can i put zipties on a kid",
]
# Runs after search-ui.js's own input listener (added before data-instant is set), so the
# results are in the DOM when it runs; reading offsetHeight then forces style and layout.
HOOK = """() => {
    window.__keystrokes = [];
    document.getElementById("q").addEventListener("input", (event) => {
        if (!event.target.value) return;  // clearing the box between phrases
        const dom = performance.now() - event.timeStamp;
        void document.getElementById("results").offsetHeight;
        window.__keystrokes.push([dom, performance.now() - event.timeStamp]);
    });
}"""


async def publish_forty_cards() -> int:
    """Release 2 of the demo agency: the base cards and an agency card beside each; its card count."""
    view = await load_release(await Release.filter(agency__slug="demo").order_by("-number").first())
    extra = tuple(
        {
            "like": card["id"],
            "id": f"local-{card['id']}",
            "title": f"Local practice: {card['title']}",
            "summary": f"How our agency applies this: {card['summary']}",
        }
        for card in view.cards
    )
    agency = await Agency.get(slug="demo")
    release = await publish_revision(agency=agency, add=extra, summary="Agency cards.")
    return len((await load_release(release)).cards)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def type_queries(page, rounds: int) -> list[list[float]]:
    page.evaluate(HOOK)
    for _ in range(rounds):
        for query in QUERIES:
            page.fill("#q", "")
            page.type("#q", query, delay=20)
    return page.evaluate("() => window.__keystrokes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)

        async def prepare():
            try:
                await bootstrap.prepare(Settings(data_dir=data_dir), demo=True)
                return await publish_forty_cards()
            finally:
                await db.close_db()

        cards = asyncio.run(prepare())
        server = start_server(data_dir)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
                page = context.new_page()
                sign_in(page, server.url)
                wait_offline_ready(page, 2)
                context.set_offline(True)
                cdp = context.new_cdp_session(page)
                for rate in (1, 4):
                    cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
                    page.goto(server.url + "/search")
                    page.wait_for_selector("#search-form[data-instant=on]")
                    assert page.locator("html").get_attribute("data-served") == "device"
                    results[rate] = (type_queries(page, args.rounds), os.getloadavg())
                browser.close()
        finally:
            server.stop()
    keystrokes = sum(len(q) for q in QUERIES) * args.rounds
    print(f"Instant search offline, {cards}-card release, {keystrokes} keystrokes per run "
          f"({len(QUERIES)} phrases x {args.rounds}), Chromium at 390x844; a frame is 16.7 ms")
    for rate in (4, 1):
        times, load = results[rate]
        label = "CPU slowed 4x" if rate == 4 else "CPU not slowed (reference)"
        loads = " ".join(f"{x:.2f}" for x in load)
        print(f"  {label}   (load average {loads})")
        for column, name in ((0, "input -> results in the DOM"), (1, "input -> results laid out")):
            values = [t[column] for t in times]
            print(f"    {name:<30} median {statistics.median(values):5.1f} ms   "
                  f"p95 {percentile(values, 0.95):5.1f} ms   max {max(values):5.1f} ms   (n={len(values)})")


if __name__ == "__main__":
    main()
