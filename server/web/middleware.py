"""Security headers and request size limits for every response."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.params import whole_number
from server.web.errors import ApiError, error_body, http_error

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """Adds a strict CSP and related headers to every HTTP response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (k, v) for k, v in SECURITY_HEADERS if k not in names
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class NoNulInUrl:
    """Refuses a path, or a page's query string, holding a NUL character (%00) with 400.

    No PostgreSQL text can hold one, and pages pass free text (a school, an audit action) to
    database filters. Each API query parameter has its own parser, which refuses control
    characters with its own message.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = b"" if scope.get("path", "").startswith("/api/") else scope.get("query_string", b"")
        if scope["type"] == "http" and ("\x00" in scope["path"] or b"%00" in query or b"\x00" in query):
            request = Request(scope)
            response = await http_error(request, ApiError(400, "Addresses may not contain NUL characters.", {"url": "nul"}))
            return await response(scope, receive, send)
        return await self.app(scope, receive, send)


class BodyLimit:
    """Refuses request bodies over a size limit with 413, before reading them."""

    def __init__(self, app: ASGIApp, max_bytes: int = 1_000_000):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None:
            size = whole_number(length.decode("latin-1"))
            if size is None or size > self.max_bytes:  # a length that is no number is refused too
                return await self._too_large(scope, receive, send)
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        import json

        accept = dict(scope.get("headers", [])).get(b"accept", b"")
        if "app" in scope and b"text/html" in accept and not scope.get("path", "").startswith("/api/"):
            # A browser's form (a file upload) gets a page it can show, not JSON.
            message = (
                f"What you sent is too large: at most {self.max_bytes:,} bytes can be sent at once. "
                "Go back and send less (split a large file into parts)."
            )
            response = await http_error(Request(scope), ApiError(413, message))
            return await response(scope, receive, send)
        body = json.dumps(error_body(413, f"Request bodies are limited to {self.max_bytes} bytes.")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
