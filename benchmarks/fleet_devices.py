"""The fleet's phones, as one load-generating process of its own: sync checks over keep-alive HTTP.

Each phone sends what the service worker sends (docs/sync.md): `GET /api/v1/sync` with its
session cookie, `Fieldguide-Device` and `If-None-Match` naming the release it holds. The
requests go round-robin to the app processes over a pool of keep-alive connections per
process, as a reverse proxy's upstream pool would. The HTTP client is a minimal HTTP/1.1 one
written on asyncio streams so that the generator costs the shared cores as little as possible.

Two modes (the device list is a JSON file written by benchmarks/fleet.py):

- `capacity`: closed loop, `--concurrency` requests in flight per app process for `--seconds`,
  each check from the next phone (none twice, so every check does the work a phone's check
  every 5 minutes does); prints the completed checks per second.
- `fleet`: open loop, each phone checks every `--period` seconds at its own random phase; a
  phone that gets a 200 has fetched the new release; it confirms with one more check (a 304). With
  `--feed` it also hears of push notices from the push-service stand-in and checks at once,
  as the service worker's push handler does. It runs until every phone holds a new release
  or stdin says `stop`, then prints every request (scheduled time, latency, status).

    python benchmarks/fleet_devices.py capacity|fleet DEVICES.json [options]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import threading
import time

SYNC = "/api/v1/sync"


class Connection:
    """One keep-alive HTTP/1.1 connection to an app process."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, head: bytes) -> tuple[int, dict[str, str], int]:
        """Send a request head (no body); returns (status, headers, body bytes read).

        A kept-alive connection the server closed while idle (uvicorn does after 5 s) is
        reopened and the request sent again, as a proxy retries an idempotent GET.
        """
        if self.writer is not None:
            try:
                return await self._exchange(head)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
        return await self._exchange(head)

    async def _exchange(self, head: bytes) -> tuple[int, dict[str, str], int]:
        try:
            self.writer.write(head)
            raw = await self.reader.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            size = 0
            if "content-length" in headers:
                size = int(headers["content-length"])
                await self.reader.readexactly(size)
            elif headers.get("transfer-encoding", "").lower() == "chunked":
                while True:
                    chunk = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    await self.reader.readexactly(chunk + 2)
                    size += chunk
                    if chunk == 0:
                        break
            if headers.get("connection", "").lower() == "close":
                self.close()
            return status, headers, size
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Upstreams:
    """Connection pools to the app processes; requests go to them in turn."""

    def __init__(self, servers: list[str], per_server: int):
        self.pools = []
        for address in servers:
            host, _, port = address.rpartition(":")
            pool: asyncio.Queue = asyncio.Queue()
            for _ in range(per_server):
                pool.put_nowait(Connection(host, int(port)))
            self.pools.append(pool)
        self.turn = 0

    async def get(self, head_for) -> tuple[int, dict[str, str], int]:
        """One request (head_for(host) builds its head) on the next process's pool."""
        pool = self.pools[self.turn % len(self.pools)]
        self.turn += 1
        connection = await pool.get()
        try:
            return await connection.request(head_for(f"{connection.host}:{connection.port}"))
        finally:
            pool.put_nowait(connection)


class Phones:
    """The phones: cookie, device id and the ETag of the release each holds."""

    def __init__(self, spec: dict):
        self.tokens = [d[0] for d in spec["devices"]]
        self.ids = [d[1] for d in spec["devices"]]
        self.etags = [spec["etag"]] * len(self.tokens)
        self.user_agent = spec["user_agent"]

    def head(self, i: int, host: str) -> bytes:
        """The request head of phone i's sync check."""
        return (
            f"GET {SYNC} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {self.user_agent}\r\n"
            f"Accept: application/json\r\nAccept-Encoding: gzip\r\nCookie: fg_session={self.tokens[i]}\r\n"
            f"Fieldguide-Device: {self.ids[i]}\r\nIf-None-Match: {self.etags[i]}\r\n\r\n"
        ).encode()


def emit(data: dict) -> None:
    sys.stdout.write(json.dumps(data, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def capacity(args, spec: dict) -> dict:
    """Closed loop: completed 304 checks per second with `concurrency` in flight per process."""
    phones = Phones(spec)
    servers = spec["servers"]
    upstreams = Upstreams(servers, args.concurrency)
    order = list(range(len(phones.tokens)))
    random.shuffle(order)
    taken = iter(order)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = sent = 0
    began = time.perf_counter()
    counted_from = began + args.warmup
    deadline = counted_from + args.seconds
    first = last = None

    async def loop() -> None:
        nonlocal errors, sent, first, last
        for i in taken:
            start = time.perf_counter()
            if start >= deadline:
                return
            try:
                status, _, _ = await upstreams.get(lambda host, i=i: phones.head(i, host))
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                continue
            end = time.perf_counter()
            sent += 1
            if start >= counted_from:
                first = first or start
                last = end
                statuses[status] = statuses.get(status, 0) + 1
                latencies.append(end - start)

    await asyncio.gather(*(loop() for _ in range(args.concurrency * len(servers))))
    window = (last - first) if first and last else 0.0
    done = statuses.get(304, 0)
    latencies.sort()
    return {
        "checks": sum(statuses.values()),
        "sent": sent,
        "statuses": statuses,
        "errors": errors,
        "seconds": window,
        "rate": done / window if window else 0.0,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else None,
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else None,
        "devices_left": sum(1 for _ in taken),
        "cpu_seconds": time.process_time(),
    }


class Fleet:
    """Open loop: each phone polls on its own phase, and syncs at once on a push notice (with --feed)."""

    def __init__(self, args, spec: dict):
        self.args = args
        self.phones = Phones(spec)
        self.count = len(self.phones.tokens)
        self.upstreams = Upstreams(spec["servers"], args.connections)
        self.initial = spec["etag"]
        self.busy = [False] * self.count
        self.again = [False] * self.count
        self.fetched_at: list[float | None] = [None] * self.count
        self.noticed_at: list[float | None] = [None] * self.count
        self.fetched = 0
        self.log: list[tuple] = []  # (scheduled wall time, latency s, status, why, bytes)
        self.errors = 0
        self.done = asyncio.Event()
        self.tasks: set[asyncio.Task] = set()

    def start(self, i: int, why: str, at: float) -> None:
        if self.busy[i]:
            # The service worker runs one check at a time and runs the next after it.
            self.again[i] = True
            return
        self.busy[i] = True
        task = asyncio.create_task(self.check(i, why, at))
        self.tasks.add(task)
        task.add_done_callback(self.finished)

    def finished(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.errors += 1
            print(f"fleet: a check failed: {task.exception()!r}", file=sys.stderr, flush=True)

    async def one(self, i: int, why: str, at: float) -> int | None:
        try:
            status, headers, size = await self.upstreams.get(lambda host: self.phones.head(i, host))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self.errors += 1
            self.log.append((at, time.time() - at, 0, why, 0))
            return None
        self.log.append((at, time.time() - at, status, why, size))
        if status == 200:
            self.phones.etags[i] = headers["etag"]
        return status

    async def check(self, i: int, why: str, at: float) -> None:
        try:
            while True:
                status = await self.one(i, why, at)
                if status == 200:
                    if self.fetched_at[i] is None:
                        self.fetched_at[i] = time.time()
                        self.fetched += 1
                        if self.fetched == self.count:
                            self.done.set()
                    # Saved whole: confirm with the new ETag (docs/sync.md, step 6).
                    await self.one(i, "confirm", time.time())
                if not self.again[i]:
                    return
                self.again[i] = False
                why, at = "again", time.time()
        finally:
            self.busy[i] = False

    async def poll(self) -> None:
        """Each phone's check every period, at its own phase: a steady rate of count/period."""
        period = self.args.period
        phases = sorted((random.uniform(0, period), i) for i in range(self.count))
        t0 = time.time()
        cycle = 0
        while True:
            for phase, i in phases:
                due = t0 + cycle * period + phase
                delay = due - time.time()
                if delay > 0.001:
                    await asyncio.sleep(delay)
                self.start(i, "poll", due)
            cycle += 1

    async def notices(self) -> None:
        """Phones hear of a notice the moment the push service accepts it."""
        reader, _ = await asyncio.open_connection("127.0.0.1", self.args.feed)
        heard = 0
        while line := await reader.readline():
            i = int(line)
            heard += 1
            if self.noticed_at[i] is None:
                self.noticed_at[i] = time.time()
            self.start(i, "push", time.time())
        print(f"fleet: the push service's feed closed after {heard} notices", file=sys.stderr, flush=True)

    async def progress(self) -> None:
        """A line to stderr every 10 s: what a stuck run was doing."""
        while True:
            await asyncio.sleep(10)
            statuses: dict = {}
            for r in self.log:
                statuses[r[2]] = statuses.get(r[2], 0) + 1
            heard = sum(1 for t in self.noticed_at if t is not None)
            print(f"fleet: {len(self.log)} requests {statuses}, {heard} notices heard, {self.fetched} fetched,"
                  f" {len(self.tasks)} checks running, {self.errors} errors", file=sys.stderr, flush=True)

    async def stopped(self) -> None:
        """Until stdin has a line (or closes)."""
        # A daemon thread, not the loop's executor: asyncio.run waits for its executor's threads,
        # and this one may be blocked in readline when the fleet finishes by itself.
        loop = asyncio.get_running_loop()
        said = loop.create_future()

        def read() -> None:
            sys.stdin.readline()
            with contextlib.suppress(RuntimeError):  # the loop has finished meanwhile
                loop.call_soon_threadsafe(lambda: said.done() or said.set_result(None))

        threading.Thread(target=read, daemon=True).start()
        await said

    async def run(self) -> dict:
        background = [asyncio.create_task(self.poll()), asyncio.create_task(self.progress())]
        if self.args.feed:
            background.append(asyncio.create_task(self.notices()))
        emit({"ready": time.time()})
        finish = [asyncio.create_task(self.done.wait()), asyncio.create_task(self.stopped())]
        await asyncio.wait(finish, return_when=asyncio.FIRST_COMPLETED)
        # Checks still queued or in flight are dropped: the run's figures end here.
        running = list(self.tasks)
        for task in background + finish + running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        return {
            "requests": self.log,
            "fetched_at": self.fetched_at,
            "noticed_at": self.noticed_at,
            "errors": self.errors,
            "cpu_seconds": time.process_time(),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["capacity", "fleet"])
    parser.add_argument("devices", help="JSON file: servers, etag, user_agent, devices [[cookie token, device id]].")
    parser.add_argument("--concurrency", type=int, default=16, help="capacity: requests in flight per app process.")
    parser.add_argument("--seconds", type=float, default=15, help="capacity: how long to measure.")
    parser.add_argument("--warmup", type=float, default=2, help="capacity: seconds before measuring.")
    parser.add_argument("--connections", type=int, default=64, help="fleet: keep-alive connections per app process.")
    parser.add_argument("--period", type=float, default=300, help="fleet: seconds between a phone's checks.")
    parser.add_argument("--feed", type=int, default=0, help="fleet: the push stand-in's feed port (0: poll only).")
    args = parser.parse_args()
    with open(args.devices) as handle:
        spec = json.load(handle)
    if args.mode == "capacity":
        emit(asyncio.run(capacity(args, spec)))
    else:
        emit(asyncio.run(Fleet(args, spec).run()))


if __name__ == "__main__":
    main()
