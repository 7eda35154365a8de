"""How long a push worker's claim takes with 100,000 notices waiting, on SQLite and PostgreSQL.

In a temporary database of each backend (the demo, 1,000 subscriptions) it writes N pending
notices (most due, spread over the last hour, a tenth retries due later) beside H notices
already sent (history the claim must not read), prints the database's plan for the worker's
statements (`outbox.queue_sql`: the claim and the idle check) — each must read the partial
index push_outbox_due — then times `outbox.claim(16)` as a worker calls it, 200 times (median
and 95th percentile, with the load average), and the idle check `outbox.next_due()`; on
PostgreSQL also the claim statement's own execution time as the database reports it. As the
same-run reference it drops the index and times the same claim statement again.

    .venv/bin/python benchmarks/push_claim.py [--pending 100000] [--sent 100000] [--claims 200]
        [--batch 16] [--backend sqlite|postgres|both] [--postgres postgres://user@host:port]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from tortoise import connections  # noqa: E402

from benchmarks.scratch_database import scratch_postgres  # noqa: E402
from server import bootstrap, clock, db  # noqa: E402
from server.push import outbox  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.helpers.push import fill_outbox, outbox_plans  # noqa: E402

INDEX = "push_outbox_due"


def load() -> str:
    """The 1-minute load average, to print beside each figure."""
    return f"load {os.getloadavg()[0]:.2f}"


def summary(times: list[float]) -> str:
    """Median and 95th percentile of milliseconds, with the load average."""
    p95 = sorted(times)[round(0.95 * (len(times) - 1))]
    return f"median {statistics.median(times):.3f} ms, p95 {p95:.3f} ms ({load()})"


async def timed(call, runs: int) -> list[float]:
    """Milliseconds per awaited call()."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        times.append((time.perf_counter() - start) * 1000)
    return times


async def bench(label: str, settings: Settings, pending: int, sent: int, claims: int, size: int) -> None:
    await bootstrap.prepare(settings, demo=True)
    started = time.perf_counter()
    await fill_outbox(pending, sent)
    written = time.perf_counter() - started
    print(f"\n== {label}: {pending:,} pending + {sent:,} sent notices, written in {written:.1f} s")
    for name, plan in (await outbox_plans()).items():
        print(f"{name} plan (reads {INDEX}: {'yes' if INDEX in plan else 'NO'}):")
        print("  " + plan.replace("\n", "\n  "))

    async def claim():
        assert len(await outbox.claim(size, 120)) == size

    await timed(claim, 10)  # warm: prepared statements, caches
    print(f"claim of {size}, {claims} times:      {summary(await timed(claim, claims))}")
    print(f"next_due (idle check), {claims} times: {summary(await timed(outbox.next_due, claims))}")

    client = connections.get("default")
    dialect = client.capabilities.dialect
    if dialect == "postgres":
        # The statement alone, timed by the database: no round trips, no commit.
        runs = []
        for _ in range(max(5, claims // 10)):
            moment = clock.now()
            rows = await client.execute_query_dict(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + outbox.queue_sql(dialect)["claim"],
                [moment + timedelta(seconds=120), moment, size],
            )
            plan = rows[0]["QUERY PLAN"]
            runs.append((json.loads(plan) if isinstance(plan, str) else plan)[0]["Execution Time"])
        print(f"claim statement in the database (EXPLAIN ANALYZE), {len(runs)} times: {summary(runs)}")
    await client.execute_script(f"DROP INDEX {INDEX}")
    bare = outbox.queue_sql(dialect)["claim"].replace(f" INDEXED BY {INDEX}", "")

    async def claim_without_index():
        moment = clock.now()
        await client.execute_query_dict(bare, [moment + timedelta(seconds=120), moment, size])

    runs = max(5, claims // 10)
    without = await timed(claim_without_index, runs)
    print(f"reference, the claim statement without the index, {runs} times: {summary(without)}")


async def run(args) -> None:
    folder = Path(tempfile.mkdtemp(prefix="fieldguide-claim-bench-"))
    try:
        if args.backend in ("sqlite", "both"):
            try:
                await bench("SQLite", Settings(data_dir=folder), args.pending, args.sent, args.claims, args.batch)
            finally:
                await db.close_db()
        if args.backend in ("postgres", "both"):
            async with scratch_postgres(args.postgres) as url:
                try:
                    settings = Settings(data_dir=folder, database_url=url)
                    await bench("PostgreSQL", settings, args.pending, args.sent, args.claims, args.batch)
                finally:
                    await db.close_db()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--sent", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--postgres", default="postgres://postgres@127.0.0.1:5432", help="a PostgreSQL server to make a scratch database on"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
