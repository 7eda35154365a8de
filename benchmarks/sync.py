"""How cheap "is this phone current?" is, whether sign-ins stall it, and what a one-card revision costs a phone.

The real app runs in uvicorn in its own process, as `fieldguide serve` runs it (plus a /bench/
mount serving a reference file), and the load comes from benchmarks/http_load.py in separate
processes, so no client shares the server's core. Every figure is printed with the 1-minute
load average taken when it was measured: on a busy machine compare ratios within one run.

1. Requests per second, as fast as one server process answers, of (a) a static-file 304
   (the manifest's bytes saved as a file, asked conditionally: no session, no database) and
   (b) the sync check that finds the phone current (GET /api/v1/sync with the held ETag, a
   device id and the session cookie: 304). Target: (b) at least 0.8x (a).
2. Sync-check latency at a steady --rate a second, alone and while 8 connections sign in
   over and over (argon2 password checks). Target: p99 with sign-ins at most 1.5x without.
3. Bytes on the wire (gzip) of the delta after a one-card revision, against a full download.

    .venv/bin/python benchmarks/sync.py [--database-url postgres://user@host:port/db]
        [--requests 3000] [--rounds 3] [--concurrency 8] [--rate 100] [--seconds 10]

SQLite by default (a temporary data folder). With --database-url the benchmark makes a scratch
database on that PostgreSQL server (connecting to the one named to create it) and drops it after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
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
LOAD = [sys.executable, str(ROOT / "benchmarks" / "http_load.py")]
SIGN_INS = 8


def bench_app():
    """The real app plus /bench/ serving the reference static files (uvicorn factory).

    The mount goes last, beside the app's own static files, so a reference request walks the
    same route table as the app's static files do (the sync route is one of many before them).
    """
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    from server.app import create_app

    app = create_app()
    app.router.routes.append(Mount("/bench", app=StaticFiles(directory=os.environ[STATIC_ENV])))
    return app


@contextmanager
def scratch_postgres(server_url: str | None):
    """A new PostgreSQL database beside the one named (dropped afterwards), or None for SQLite."""
    if server_url is None:
        yield None
        return
    import asyncpg

    name = f"fieldguide_bench_{secrets.token_hex(4)}"
    base = server_url.rsplit("/", 1)[0] if server_url.count("/") > 2 else server_url
    admin_url = server_url if server_url.count("/") > 2 else f"{server_url}/postgres"

    async def run(sql: str) -> None:
        connection = await asyncpg.connect(admin_url.replace("postgres://", "postgresql://", 1))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def prepare(settings: Settings) -> None:
    """A demo database with release 2: release 1 with one card's text revised."""
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


def start(settings: Settings, static_dir: Path) -> tuple[subprocess.Popen, str]:
    """uvicorn with the app as `fieldguide serve` runs it (default loop and HTTP parser, access log on)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDGUIDE_")}
    env.update(FIELDGUIDE_DATA_DIR=str(settings.data_dir), **{STATIC_ENV: str(static_dir)})
    if settings.database_url:
        env["FIELDGUIDE_DATABASE_URL"] = settings.database_url
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "benchmarks.sync:bench_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "info"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/sign-in", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the app did not start")


def load(url: str, *options: str) -> subprocess.Popen:
    """benchmarks/http_load.py in its own process (read its JSON line with `result`)."""
    return subprocess.Popen([*LOAD, url, *options], cwd=ROOT, stdout=subprocess.PIPE, text=True)


def result(process: subprocess.Popen) -> dict:
    out, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"the load generator failed ({process.returncode})")
    return json.loads(out)


def headers_of(headers: dict[str, str]) -> list[str]:
    return [part for name, value in headers.items() for part in ("--header", f"{name}: {value}")]


def loadavg() -> float:
    return os.getloadavg()[0]


def sign_in(url: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, timeout=30)
    page = client.get("/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post(
        "/sign-in",
        data={"email": "officer@demo.test", "password": bootstrap.DEMO_PASSWORD, "csrf_token": token},
    )
    return client, client.cookies["fg_session"]


def wire_bytes(client: httpx.Client, url: str, headers: dict) -> int:
    with client.stream("GET", url, headers={"accept-encoding": "gzip", **headers}) as response:
        assert response.status_code == 200
        return len(b"".join(response.iter_raw()))


def measure(url: str, static_dir: Path, args) -> None:
    client, session = sign_in(url)
    manifest = client.get("/api/v1/manifest")
    (static_dir / "manifest.json").write_bytes(manifest.content)
    static_etag = client.get("/bench/manifest.json").headers["etag"]
    sync_headers = {"If-None-Match": manifest.headers["etag"], "Fieldguide-Device": DEVICE,
                    "Cookie": f"fg_session={session}", "User-Agent": "bench"}
    kinds = {
        "static 304 (same-size file)": (url + "/bench/manifest.json", {"If-None-Match": static_etag}),
        "sync 304 (signed in, device)": (url + "/api/v1/sync", sync_headers),
    }
    for target, headers in kinds.values():  # warm up: the release loaded, the device recorded
        result(load(target, *headers_of(headers), "--status", "304", "--requests", "500"))

    rates = {name: [] for name in kinds}
    loads = {name: [] for name in kinds}
    for _ in range(args.rounds):
        for name, (target, headers) in kinds.items():
            out = result(load(target, *headers_of(headers), "--status", "304", "--requests", str(args.requests),
                              "--concurrency", str(args.concurrency)))
            rates[name].append(out["rate"])
            loads[name].append(loadavg())

    sync_target, _ = kinds["sync 304 (signed in, device)"]
    paced = [*headers_of(sync_headers), "--status", "304", "--rate", str(args.rate),
             "--duration", str(args.seconds), "--concurrency", "16"]
    alone = result(load(sync_target, *paced))
    alone_load = loadavg()
    checks = load(sync_target, *paced)
    signing = load(url, "--sign-in", f"officer2@demo.test:{bootstrap.DEMO_PASSWORD}",
                   "--duration", str(args.seconds), "--concurrency", str(SIGN_INS))
    busy, signed = result(checks), result(signing)
    busy_load = loadavg()

    first = client.get("/api/v1/manifest", params={"release": 1}).headers["etag"]
    full = wire_bytes(client, "/api/v1/sync", {})
    delta = wire_bytes(client, "/api/v1/sync", {"If-None-Match": first})
    body = client.get("/api/v1/sync", headers={"If-None-Match": first}).json()
    client.close()

    print(f"1. Sync check that finds the phone current vs a static 304, {args.requests} requests x {args.rounds}"
          f" rounds, {args.concurrency} connections, one uvicorn process on loopback, {args.backend}"
          " (median of rounds; load average: 1 min, after each round)")
    reference = statistics.median(rates["static 304 (same-size file)"])
    for name, values in rates.items():
        median = statistics.median(values)
        rounds = ", ".join(f"{v:,.0f}" for v in values)
        print(f"   {name:<30} {median:>7,.0f} req/s   x{median / reference:.2f} of static 304"
              f"   (rounds {rounds}; load {', '.join(f'{v:.2f}' for v in loads[name])})")
    paired = [sync / static for static, sync in zip(*rates.values())]
    print(f"   ratio per round (the two measured back to back): {', '.join(f'x{r:.2f}' for r in paired)};"
          f" median x{statistics.median(paired):.2f}")
    print(f"   (the static file is the manifest's {len(manifest.content):,} bytes; target x0.80)")
    print()
    print(f"2. Sync-check latency at {args.rate:g} checks/s for {args.seconds:g} s, alone and while {SIGN_INS}"
          " connections sign in over and over (target: p99 at most x1.5)")
    print(f"   alone               p50 {alone['p50_ms']:6.1f} ms   p99 {alone['p99_ms']:6.1f} ms"
          f"   max {alone['max_ms']:6.1f} ms   ({alone['requests']} checks; load {alone_load:.2f})")
    print(f"   with sign-ins       p50 {busy['p50_ms']:6.1f} ms   p99 {busy['p99_ms']:6.1f} ms"
          f"   max {busy['max_ms']:6.1f} ms   ({busy['requests']} checks; load {busy_load:.2f})")
    print(f"   p99 x{busy['p99_ms'] / alone['p99_ms']:.2f} of alone; {signed['sign_ins']} sign-ins done"
          f" (median {signed['p50_ms']:.0f} ms each, max {signed['max_ms']:.0f} ms)")
    print()
    print("3. A one-card revision (release 1 -> 2), bytes on the wire with gzip")
    print(f"   full download (no release held)     {full:>8,} B")
    print(f"   delta from release 1                {delta:>8,} B   x{delta / full:.2f} of full"
          f"   (card bodies: {len(body['card_bodies'])}, page fragments: {len(body['pages'])}, and the manifest)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a PostgreSQL server (postgres://user@host:port/db); default SQLite")
    parser.add_argument("--requests", type=int, default=3000, help="requests per round and kind")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=100, help="sync checks a second in the latency test")
    parser.add_argument("--seconds", type=float, default=10, help="length of each latency run")
    args = parser.parse_args()
    args.backend = "PostgreSQL" if args.database_url else "SQLite"
    with tempfile.TemporaryDirectory() as folder, scratch_postgres(args.database_url) as database_url:
        settings = Settings(data_dir=Path(folder) / "data", database_url=database_url)
        static_dir = Path(folder) / "static"
        static_dir.mkdir()
        asyncio.run(prepare(settings))
        process, url = start(settings, static_dir)
        try:
            measure(url, static_dir, args)
        finally:
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    main()
