"""A small HTTP/1.1 load generator for the benchmarks, run as its own process.

It speaks keep-alive HTTP/1.1 over raw asyncio streams, so it spends far less CPU per request
than the server it measures (an httpx client would be the bottleneck), and being a separate
process it does not share the server's core. It prints one JSON line of results.

    python benchmarks/http_load.py URL [--header "Name: value"]... --status 304
        [--requests N | --duration S] [--concurrency C] [--rate R]
    python benchmarks/http_load.py URL --sign-in EMAIL:PASSWORD --duration S [--concurrency C]

Without --rate it sends as fast as the server answers (closed loop: requests per second);
with --rate it starts R requests a second on schedule and times each from its scheduled
start, so a stalled server shows as latency rather than as fewer requests (p50/p99 in ms).
--sign-in repeats the real sign-in (GET the form, POST it) in each of C connections.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import statistics
import sys
import time
from urllib.parse import urlencode, urlsplit

TOKEN = re.compile(rb'name="csrf_token" value="([^"]+)"')
PRE_SESSION = re.compile(r"fg_csrf=([^;]+)", re.IGNORECASE)


class Connection:
    """One keep-alive connection that sends a request and reads the whole response."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send one request (bytes as they go on the wire); returns status, headers (lower-case names), body."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
        body = b""
        if status not in (204, 304) and status >= 200:
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body = await self._chunked()
            else:
                body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.writer.close()
            self.reader = self.writer = None
        return status, headers, body

    async def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def build(method: str, host: str, path: str, headers: list[str], body: bytes = b"") -> bytes:
    """The bytes of a request."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *headers]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def load(args, host: str, port: int, path: str) -> dict:
    raw = build("GET", f"{host}:{port}", path, args.header)
    latencies: list[float] = []
    counter = itertools.count()
    began = time.perf_counter()
    stop = began + args.duration if args.duration else None

    async def worker():
        connection = Connection(host, port)
        try:
            while True:
                i = next(counter)
                if args.requests and i >= args.requests:
                    return
                if args.rate:
                    scheduled = began + i / args.rate
                    if stop and scheduled >= stop:
                        return
                    await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
                else:
                    scheduled = time.perf_counter()
                    if stop and scheduled >= stop:
                        return
                status, _, _ = await connection.request(raw)
                if status != args.status:
                    raise SystemExit(f"{path} answered {status}, not {args.status}")
                latencies.append(time.perf_counter() - scheduled)
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    seconds = time.perf_counter() - began
    ms = [value * 1000 for value in latencies]
    return {
        "requests": len(ms),
        "seconds": seconds,
        "rate": len(ms) / seconds,
        "p50_ms": statistics.median(ms),
        "p99_ms": percentile(ms, 0.99),
        "max_ms": max(ms),
    }


async def sign_ins(args, host: str, port: int) -> dict:
    email, _, password = args.sign_in.partition(":")
    where = f"{host}:{port}"
    form_request = build("GET", where, "/sign-in", [])
    took: list[float] = []
    stop = time.perf_counter() + args.duration

    async def worker():
        connection = Connection(host, port)
        try:
            while time.perf_counter() < stop:
                began = time.perf_counter()
                status, headers, page = await connection.request(form_request)
                token = TOKEN.search(page).group(1).decode()
                cookie = PRE_SESSION.search(headers["set-cookie"]).group(1)
                body = urlencode({"email": email, "password": password, "csrf_token": token}).encode()
                post = build(
                    "POST",
                    where,
                    "/sign-in",
                    ["Content-Type: application/x-www-form-urlencoded", f"Cookie: fg_csrf={cookie}"],
                    body,
                )
                status, _, _ = await connection.request(post)
                if status != 303:
                    raise SystemExit(f"sign-in answered {status}, not 303")
                took.append(time.perf_counter() - began)
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    ms = [value * 1000 for value in took]
    return {"sign_ins": len(ms), "p50_ms": statistics.median(ms) if ms else None, "max_ms": max(ms, default=None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--header", action="append", default=[], help='"Name: value", repeatable')
    parser.add_argument("--status", type=int, default=200, help="the status every answer must have")
    parser.add_argument("--requests", type=int, default=0)
    parser.add_argument("--duration", type=float, default=0.0, help="seconds")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=0.0, help="requests started per second (open loop)")
    parser.add_argument("--sign-in", help="EMAIL:PASSWORD: sign in over and over instead")
    args = parser.parse_args()
    if not (args.requests or args.duration):
        parser.error("give --requests or --duration")
    parts = urlsplit(args.url)
    host, port = parts.hostname, parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    result = asyncio.run(sign_ins(args, host, port) if args.sign_in else load(args, host, port, path or "/"))
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
