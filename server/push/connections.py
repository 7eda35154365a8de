"""Kept-alive HTTP/1.1 connections to push services, for one thing only: POST a notice, read the status.

A push service answers a notice with a status, perhaps Retry-After, and a short or empty body
(RFC 8030). A general HTTP client spends most of a fan-out's non-cryptographic time on what
that never needs (cookies, redirects, decompression, a response object per request), so the
push worker sends through this: per push-service origin a pool of idle connections, each
carrying one request at a time (no pipelining), reused until the service closes it. Requests
are written as bytes with the header block the caller built once; the answer is parsed just
far enough to know where it ends (Content-Length, chunked, or the connection's close).

A kept connection the service closed while idle is noticed before reuse; one that closes the
moment a request is written fails that send, which the worker retries as any network error.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import NamedTuple
from urllib.parse import urlsplit

# Bigger answers than this are a service misbehaving: the connection is dropped.
MAX_HEAD = 16 * 1024
MAX_BODY = 64 * 1024


class Response(NamedTuple):
    status: int
    reason: str
    retry_after: str | None


class Target(NamedTuple):
    """Where a request goes: the pool key (scheme, host, port) and the request line's target."""

    scheme: str
    host: str
    port: int
    netloc: str
    path: str


def target_of(url: str) -> Target:
    """The origin and path of an endpoint (already checked by server/push/endpoints.py)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname or "", port, parts.netloc, path)


class ProtocolError(Exception):
    """The push service's answer was not HTTP/1.1 as expected."""


class _Connection(asyncio.Protocol):
    """One connection: writes a request, gathers bytes until the answer is whole."""

    def __init__(self):
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = None
        self.closed = False
        self.reusable = True
        self._head: tuple | None = None  # (status, reason, retry_after, body_start, length|None, chunked)

    # asyncio.Protocol
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes):
        self.buffer += data
        if self.waiter is not None and not self.waiter.done():
            try:
                self._try_complete(eof=False)
            except ProtocolError as exc:
                self._fail(exc)

    def eof_received(self):
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            try:
                if not self._try_complete(eof=True):
                    self._fail(ConnectionResetError("the push service closed the connection mid-answer"))
            except ProtocolError as exc:
                self._fail(exc)
        return False  # close our side too

    def connection_lost(self, exc):
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc or ConnectionResetError("the push service closed the connection"))

    # requests
    def send(self, request: bytes) -> asyncio.Future:
        self.buffer.clear()
        self._head = None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter

    def close(self):
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception):
        self.reusable = False
        self.waiter.set_exception(exc)
        self.close()

    def _try_complete(self, eof: bool) -> bool:
        """Resolve the waiter if the whole answer is in; True when it was."""
        if self._head is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    raise ProtocolError("answer headers too long")
                return False
            self._head = _parse_head(bytes(self.buffer[:end]), end + 4)
        status, reason, retry_after, start, length, chunked, keep = self._head
        body = len(self.buffer) - start
        if status in (204, 304) or 100 <= status < 200:
            done = True
        elif chunked:
            done = _chunked_end(self.buffer, start)
        elif length is not None:
            done = body >= length
        else:
            done = eof  # the body runs to the connection's close
            keep = False
        if not done:
            if body > MAX_BODY:
                raise ProtocolError("answer body too long")
            return False
        self.reusable = keep and not eof
        self.waiter.set_result(Response(status, reason, retry_after))
        return True


def _parse_head(head: bytes, start: int) -> tuple:
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise ProtocolError(f"not an HTTP/1.1 status line: {lines[0][:60]!r}")
    length = None
    chunked = False
    retry_after = None
    keep = version == "HTTP/1.1"
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        value = value.strip()
        if name == "content-length":
            if not value.isdigit():
                raise ProtocolError("bad Content-Length")
            length = int(value)
        elif name == "transfer-encoding":
            chunked = value.lower().endswith("chunked")
        elif name == "retry-after":
            retry_after = value
        elif name == "connection":
            tokens = {t.strip().lower() for t in value.split(",")}
            keep = "close" not in tokens and (keep or "keep-alive" in tokens)
    return int(code), reason, retry_after, start, length, chunked, keep


def _chunked_end(buffer: bytearray, start: int) -> bool:
    """Whether a chunked body starting at `start` is complete (its last chunk and trailers read)."""
    at = start
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return False
        size_text = bytes(buffer[at:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ProtocolError("bad chunk size") from None
        if size == 0:  # the last chunk: done once the (perhaps empty) trailers end with a blank line
            return buffer.find(b"\r\n\r\n", line_end) >= 0
        at = line_end + 2 + size + 2
        if at > len(buffer):
            return False


class Connections:
    """Kept-alive connections per push-service origin, at most `limit` open in all."""

    def __init__(self, limit: int, connect_timeout: float = 10.0, ssl_context: ssl.SSLContext | None = None):
        self.limit = limit
        self.connect_timeout = connect_timeout
        self._idle: dict[tuple, deque[_Connection]] = {}
        self._slots = asyncio.Semaphore(limit)
        self._open = 0
        # The system's trusted authorities and host-name checks, as for any HTTPS client.
        self._ssl = ssl_context

    @property
    def open(self) -> int:
        """Connections open now (busy or idle)."""
        return self._open

    async def post(self, target: Target, head: bytes, body: bytes, timeout: float) -> Response:
        """POST `body` to `target`: `head` is the header block (lines ending CRLF, without Host,
        Content-Length or the blank line). Raises OSError, TimeoutError or ProtocolError."""
        request = b"".join(
            (
                f"POST {target.path} HTTP/1.1\r\nHost: {target.netloc}\r\nContent-Length: {len(body)}\r\n".encode("latin-1"),
                head,
                b"\r\n",
                body,
            )
        )
        key = (target.scheme, target.host, target.port)
        async with self._slots:
            async with asyncio.timeout(timeout):
                connection = self._reuse(key) or await self._connect(target)
                try:
                    response = await connection.send(request)
                except BaseException:
                    connection.reusable = False
                    raise
                finally:
                    self._release(key, connection)
                return response

    def _reuse(self, key) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if not connection.closed and not connection.transport.is_closing():
                return connection
            self._open -= 1
        return None

    async def _connect(self, target: Target) -> _Connection:
        loop = asyncio.get_running_loop()
        context = None
        if target.scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        async with asyncio.timeout(self.connect_timeout):
            _, connection = await loop.create_connection(
                _Connection, target.host, target.port, ssl=context, server_hostname=target.host if context else None
            )
        self._open += 1
        return connection

    def _release(self, key, connection: _Connection) -> None:
        if connection.reusable and not connection.closed and connection.waiter is not None and connection.waiter.done():
            self._idle.setdefault(key, deque()).append(connection)
            return
        connection.close()
        self._open -= 1

    async def close(self) -> None:
        """Close every idle connection (busy ones close as their requests end)."""
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
                self._open -= 1
        self._idle.clear()
