"""What a phone downloads, gzip-compressed as the server sends it, against the budgets.

The app shell is the home page's HTML with every CSS and JavaScript file it loads (module
imports included). The release is the first sync response, which holds every card of the
base release, its page fragments and the manifest. Both go through the real app (its
GZipMiddleware) on a fresh demo database.

    .venv/bin/python benchmarks/payload.py
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from asgi_lifespan import LifespanManager  # noqa: E402

from server import bootstrap, db  # noqa: E402
from server.app import create_app  # noqa: E402
from server.settings import Settings  # noqa: E402

SHELL_BUDGET = 50 * 1024
RELEASE_BUDGET = 40 * 1024
ASSET = re.compile(r'<(?:link rel="stylesheet"|script[^>]*) (?:href|src)="(/static/[^"]+)"')
MODULE_IMPORT = re.compile(r"""\bimport\s+(?:[\w*{}\s,]+\s+from\s+)?["'](\.{1,2}/[\w./-]+\.js)["']""")
SW_PART = re.compile(r'"(/(?:sw|static)/[\w.-]+\.js)"')


async def wire(client: httpx.AsyncClient, url: str) -> tuple[int, int, bytes]:
    """(bytes on the wire, plain bytes, plain body) of one GET that accepts gzip."""
    async with client.stream("GET", url, headers={"accept-encoding": "gzip"}) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        response.raise_for_status()
    plain = gzip.decompress(raw) if response.headers.get("content-encoding") == "gzip" else raw
    return len(raw), len(plain), plain


async def shell_files(client: httpx.AsyncClient, html: str) -> list[str]:
    """Every CSS and JS file the page loads, following relative module imports."""
    queue = [u.replace("&amp;", "&") for u in ASSET.findall(html)]
    seen: list[str] = []
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.append(url)
        if url.split("?")[0].endswith(".js"):
            text = (await client.get(url)).text
            base = httpx.URL("http://t" + url)
            queue += [base.join(m).path for m in MODULE_IMPORT.findall(text)]
    return seen


async def measure() -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder))
        try:
            await bootstrap.prepare(settings, demo=True)
        finally:
            await db.close_db()
        app = create_app(settings)
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                page = await client.get("/sign-in")
                token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
                await client.post(
                    "/sign-in",
                    data={"email": "officer@demo.test", "password": bootstrap.DEMO_PASSWORD, "csrf_token": token},
                )
                rows = []
                gz, plain, html = await wire(client, "/")
                rows.append(("home page HTML", gz, plain))
                for url in await shell_files(client, html.decode()):
                    gz, plain, _ = await wire(client, url)
                    rows.append((url.split("?")[0], gz, plain))
                shell_gz = sum(r[1] for r in rows)
                shell_plain = sum(r[2] for r in rows)

                sync_gz, sync_plain, sync_body = await wire(client, "/api/v1/sync")
                index = json.dumps(json.loads(sync_body)["search_index"], separators=(",", ":"), ensure_ascii=False)
                index_gz = len(gzip.compress(index.encode(), 6))
                frame_gz, frame_plain, _ = await wire(client, "/shell")
                sw_gz, sw_plain, sw = await wire(client, "/sw.js")
                parts = [(u, *(await wire(client, u))[:2]) for u in SW_PART.findall(sw.decode())]

    print("App shell: the home page's HTML, CSS and JavaScript (gzip bytes / plain bytes)")
    for name, gz, plain in rows:
        print(f"  {name:<34} {gz:>7,} / {plain:>7,}")
    print(f"  {'total':<34} {shell_gz:>7,} / {shell_plain:>7,}")
    print(f"  budget {SHELL_BUDGET:,} B: {shell_gz / SHELL_BUDGET:.0%} of it (ratio {shell_gz / SHELL_BUDGET:.2f})")
    print()
    print("Whole base release as a phone downloads it on first sync (GET /api/v1/sync)")
    print(f"  {sync_gz:,} gzip bytes ({sync_plain:,} plain, compression {sync_plain / sync_gz:.1f}x)")
    print(f"  budget {RELEASE_BUDGET:,} B: {sync_gz / RELEASE_BUDGET:.0%} of it (ratio {sync_gz / RELEASE_BUDGET:.2f})")
    print(f"  of which the search index, compressed alone: {index_gz:,} gzip bytes")
    print()
    print("Also downloaded once for offline use (not in the budgets above)")
    print(f"  {'/shell (page frame)':<34} {frame_gz:>7,} / {frame_plain:>7,}")
    print(f"  {'/sw.js':<34} {sw_gz:>7,} / {sw_plain:>7,}")
    for url, gz, plain in parts:
        print(f"  {url:<34} {gz:>7,} / {plain:>7,}")


if __name__ == "__main__":
    asyncio.run(measure())
