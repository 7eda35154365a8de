"""How cheap "is this phone current?" is, and what a one-card revision costs a phone.

1. Requests per second of the sync check that finds the phone current (GET /api/v1/sync
   with the held ETag, a device id and the session cookie: 304, with the device's last
   sync written to the database), against a static file of the same size as the manifest
   served by the same uvicorn process in the same run: asked conditionally (a static 304,
   the same exchange with no session, database or device record) and whole (a 200).
2. Bytes on the wire (gzip) of the delta after a one-card revision, against a full download.

    .venv/bin/python benchmarks/sync.py [--requests 2000] [--concurrency 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from server import bootstrap, db  # noqa: E402
from server.guidance.content import canonical_card  # noqa: E402
from server.guidance.releases import load_release, publish_release  # noqa: E402
from server.models import Agency, Release  # noqa: E402
from server.settings import Settings  # noqa: E402

STATIC_ENV = "BENCH_STATIC_DIR"
DEVICE = "bench-device-0001"


def bench_app():
    """The real app plus /bench/ serving the reference static files (uvicorn factory)."""
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    from server.app import create_app

    app = create_app()
    app.router.routes.insert(0, Mount("/bench", app=StaticFiles(directory=os.environ[STATIC_ENV])))
    return app


async def prepare(data_dir: Path) -> None:
    """A demo database with release 2: release 1 with one card's text revised."""
    settings = Settings(data_dir=data_dir)
    try:
        await bootstrap.prepare(settings, demo=True)
        agency = await Agency.get(slug="demo")
        first = await Release.get(agency=agency, number=1)
        cards = [canonical_card(c) for c in (await load_release(first)).cards]
        card = next(c for c in cards if c["id"] == "restraint-devices")
        card["body"] = card["body"].replace("use of physical restraint.", "use of physical restraint, every time.")
        await publish_release(agency, cards, first.categories, first.flow, "One card revised.")
    finally:
        await db.close_db()


def start(data_dir: Path, static_dir: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDGUIDE_")}
    env.update(FIELDGUIDE_DATA_DIR=str(data_dir), **{STATIC_ENV: str(static_dir)})
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "benchmarks.sync:bench_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/sign-in", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the app did not start")


async def rate(client: httpx.AsyncClient, url: str, headers: dict, status: int, total: int, concurrency: int) -> float:
    """Requests per second for `total` GETs of url, `concurrency` at a time (each checked)."""
    left = iter(range(total))

    async def worker():
        for _ in left:
            response = await client.get(url, headers=headers)
            assert response.status_code == status, (url, response.status_code)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - began)


async def wire_bytes(client: httpx.AsyncClient, url: str, headers: dict) -> int:
    async with client.stream("GET", url, headers={"accept-encoding": "gzip", **headers}) as response:
        assert response.status_code == 200
        return len(b"".join([chunk async for chunk in response.aiter_raw()]))


async def measure(url: str, static_dir: Path, args) -> None:
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        page = await client.get("/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        await client.post(
            "/sign-in",
            data={"email": "officer@demo.test", "password": bootstrap.DEMO_PASSWORD, "csrf_token": token},
        )
        manifest = await client.get("/api/v1/manifest")
        (static_dir / "manifest.json").write_bytes(manifest.content)
        static_etag = (await client.get("/bench/manifest.json")).headers["etag"]
        current = {"If-None-Match": manifest.headers["etag"], "Fieldguide-Device": DEVICE}
        kinds = {
            "sync 304 (session, device record)": ("/api/v1/sync", current, 304),
            "static 304 (same-size file)": ("/bench/manifest.json", {"If-None-Match": static_etag}, 304),
            "static 200 (same-size file)": ("/bench/manifest.json", {}, 200),
        }
        for path, headers, status in kinds.values():  # warm up
            await rate(client, path, headers, status, 100, args.concurrency)
        rates = {name: [] for name in kinds}
        for _ in range(args.rounds):
            for name, (path, headers, status) in kinds.items():
                rates[name].append(await rate(client, path, headers, status, args.requests, args.concurrency))

        first = (await client.get("/api/v1/manifest", params={"release": 1})).headers["etag"]
        full = await wire_bytes(client, "/api/v1/sync", {})
        delta = await wire_bytes(client, "/api/v1/sync", {"If-None-Match": first})
        body = (await client.get("/api/v1/sync", headers={"If-None-Match": first})).json()

    print(f"Sync check that finds the phone current, {args.requests} requests x {args.rounds} rounds,"
          f" {args.concurrency} at a time, one uvicorn process on loopback (median of rounds)")
    reference = statistics.median(rates["static 304 (same-size file)"])
    whole = statistics.median(rates["static 200 (same-size file)"])
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"  {name:<36} {median:>8,.0f} req/s   x{median / reference:.2f} of static 304,"
              f" x{median / whole:.2f} of static 200")
    print(f"  (the static file is the manifest's {len(manifest.content):,} bytes)")
    print()
    print("A one-card revision (release 1 -> 2), bytes on the wire with gzip")
    print(f"  full download (no release held)     {full:>8,} B")
    print(f"  delta from release 1                {delta:>8,} B   x{delta / full:.2f} of full"
          f"   (card bodies: {len(body['card_bodies'])}, page fragments: {len(body['pages'])}, and the manifest)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data_dir, static_dir = Path(folder) / "data", Path(folder) / "static"
        static_dir.mkdir()
        asyncio.run(prepare(data_dir))
        process, url = start(data_dir, static_dir)
        try:
            asyncio.run(measure(url, static_dir, args))
        finally:
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    main()
