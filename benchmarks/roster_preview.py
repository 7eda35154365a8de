"""How long the roster import's preview takes for a large file, on SQLite and on PostgreSQL.

Builds the demo agency with E existing officers (default 2,500) and writes a CSV of R rows
(default 5,000): every existing officer listed, half of them with a changed school (updates),
the rest new people; "deactivate officers missing from this file" ticked. Then, in a process
of its own (a fresh interpreter, as a server worker would be), it times:

- the preview as the admin gets it: POST /admin/users/roster through the ASGI app (the upload
  parsed, the file read and checked, the agency's people read, the page rendered);
- the plan alone (server/people/roster.plan);
- a reference measured in the same run: reading the same file with Python's csv module;
- and, once at the end, applying it through the preview's form (one transaction, a link for
  each new person).

It prints each median with the 1-minute load average beside it, and the preview's ratio to the
reference. Target: the preview of 5,000 rows under 2 s.

    .venv/bin/python benchmarks/roster_preview.py [--rows 5000] [--existing 2500] [--runs 5]
        [--database-url postgres://USER@HOST:PORT] [--both]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from asgi_lifespan import LifespanManager  # noqa: E402

from benchmarks.scratch_database import scratch_postgres  # noqa: E402
from server import bootstrap, db  # noqa: E402
from server.app import create_app  # noqa: E402
from server.models import Agency, Role, User  # noqa: E402
from server.people import roster  # noqa: E402
from server.settings import Settings  # noqa: E402

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432"
TARGET_S = 2.0


def load() -> str:
    return f"load average {os.getloadavg()[0]:.2f}"


def roster_file(rows: int, existing: int) -> bytes:
    """The CSV: every existing officer (every other one moved to another school), then new people."""
    lines = ["email,name,role,school"]
    for i in range(existing):
        school = f"School {i % 40:02d}" if i % 2 else f"New School {i % 40:02d}"
        lines.append(f"officer{i}@agency.example.org,Officer Number {i},officer,{school}")
    for i in range(rows - existing):
        lines.append(f"recruit{i}@agency.example.org,Recruit Number {i},officer,School {i % 40:02d}")
    return ("\n".join(lines) + "\n").encode()


async def build(settings: Settings, existing: int) -> None:
    """The demo agency plus `existing` officers, in bulk."""
    try:
        await bootstrap.prepare(settings, demo=True)
        agency = await Agency.get(slug=bootstrap.DEMO_AGENCY[0])
        await User.bulk_create(
            [
                User(
                    agency_id=agency.id,
                    email=f"officer{i}@agency.example.org",
                    name=f"Officer Number {i}",
                    role=Role.OFFICER,
                    school=f"School {i % 40:02d}",
                )
                for i in range(existing)
            ],
            batch_size=1000,
        )
    finally:
        await db.close_db()


async def measure(settings: Settings, path: Path, runs: int) -> dict:
    """In the child process: the medians of the reference, the plan and the preview page, in seconds."""
    data = path.read_bytes()
    reference, plans, pages = [], [], []
    for _ in range(runs):
        began = time.perf_counter()
        list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
        reference.append(time.perf_counter() - began)
    app = create_app(settings.with_(push_worker=False))
    async with LifespanManager(app):
        agency = await Agency.get(slug=bootstrap.DEMO_AGENCY[0])
        admin = await User.get(agency_id=agency.id, email="admin@demo.test")
        for _ in range(runs):
            began = time.perf_counter()
            plan = await roster.plan(agency.id, data, admin, deactivate_missing=True)
            plans.append(time.perf_counter() - began)
        counts = plan.counts()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            page = await client.get("/sign-in")
            token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            signed = await client.post(
                "/sign-in",
                data={"email": "admin@demo.test", "password": bootstrap.DEMO_PASSWORD, "csrf_token": token},
            )
            assert signed.status_code == 303, signed.status_code
            people = await client.get("/admin/users")
            token = people.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            for _ in range(runs):
                began = time.perf_counter()
                response = await client.post(
                    "/admin/users/roster",
                    data={"csrf_token": token, "deactivate_missing": "yes"},
                    files={"file": ("roster.csv", data, "text/csv")},
                )
                pages.append(time.perf_counter() - began)
                assert response.status_code == 200 and "Check the roster import" in response.text, response.status_code
            # Apply as the admin does: the preview's own form, carrying the file.
            fields = dict(re.findall(r'name="(roster|plan|filename|deactivate_missing)" value="([^"]*)"', response.text))
            began = time.perf_counter()
            applied = await client.post("/admin/users/roster/apply", data={"csrf_token": token, **fields})
            applying = time.perf_counter() - began
            assert applied.status_code == 200 and applied.text.count("/invite/") >= counts["created"], applied.status_code
    return {
        "apply": applying,
        "reference": statistics.median(reference),
        "plan": statistics.median(plans),
        "page": statistics.median(pages),
        "counts": counts,
        "load": load(),
    }


async def run(database_url: str, rows: int, existing: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        if database_url:
            async with scratch_postgres(database_url) as url:
                await run_on(Settings(data_dir=Path(folder), database_url=url), rows, existing, runs)
        else:
            await run_on(Settings(data_dir=Path(folder)), rows, existing, runs)


async def run_on(settings: Settings, rows: int, existing: int, runs: int) -> None:
    label = "sqlite" if settings.is_sqlite else "postgres"
    await build(settings, existing)
    path = settings.data_dir / "roster.csv"
    path.write_bytes(roster_file(rows, existing))
    child = subprocess.run(
        [sys.executable, __file__, "--child", str(path), "--runs", str(runs), "--data-dir", str(settings.data_dir)]
        + (["--database-url", settings.database_url] if settings.database_url else []),
        capture_output=True,
        text=True,
        check=True,
    )
    got = json.loads(child.stdout.strip().splitlines()[-1])
    c = got["counts"]
    print(
        f"{label:<9} {c['rows']:,} rows against {existing:,} officers: {c['created']:,} to create, "
        f"{c['updated']:,} to update, {c['unchanged']:,} unchanged, {c['deactivated']:,} to deactivate "
        f"(median of {runs}, in a process of its own)"
    )
    print(f"  csv module reading the file (reference) {got['reference'] * 1000:8.1f} ms")
    print(f"  roster.plan                             {got['plan'] * 1000:8.1f} ms")
    verdict = "under" if got["page"] < TARGET_S else "OVER"
    print(
        f"  preview page (upload, plan, render)     {got['page'] * 1000:8.1f} ms   "
        f"{got['page'] / got['reference']:.0f}x the reference; {verdict} the {TARGET_S:.0f} s target   ({got['load']})"
    )
    print(f"  applying it once (page, one transaction) {got['apply'] * 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--existing", type=int, default=2500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default="", help="postgres://USER@HOST:PORT (default: a temporary SQLite)")
    parser.add_argument("--both", action="store_true", help="SQLite, then PostgreSQL")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        settings = Settings(data_dir=Path(args.data_dir), database_url=args.database_url)
        print(json.dumps(asyncio.run(measure(settings, Path(args.child), args.runs))))
        return
    urls = ["", args.database_url or DEFAULT_PG] if args.both else [args.database_url]
    for url in urls:
        asyncio.run(run(url, args.rows, args.existing, args.runs))


if __name__ == "__main__":
    main()
