"""One structured (JSON) log line per request, and the logging set-up of `fieldguide serve`.

Each request gets an id (a proxy's well-formed X-Request-ID, else a new one), returned in the
X-Request-ID header and carried by every log line written while the request runs. The request's
line names its route by template (`/invite/{token}`), never by its path or query: invitation and
password-reset tokens live in paths. Nothing from headers, cookies or bodies is logged.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from contextvars import ContextVar
from datetime import UTC, datetime

from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
USER_KEY = "fieldguide.user_id"
UNMATCHED = "(no route)"
_GIVEN_ID = re.compile(rb"^[A-Za-z0-9._-]{8,64}$")
# The fields a request line carries, in order, besides time, level, logger and message.
FIELDS = ("request_id", "method", "route", "status", "duration_ms", "user_id")

log = logging.getLogger("fieldguide.request")
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def route_template(scope: Scope) -> str:
    """The template of the route a request matches (`/cards/{card_id}`), never its path."""
    app = scope.get("app")
    partial = None
    for route in getattr(getattr(app, "router", None), "routes", ()):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route.path + "/{path}" if isinstance(route, Mount) else route.path
        if match is Match.PARTIAL and partial is None:
            partial = route.path
    return partial or UNMATCHED


def note_user(scope: Scope, user_id: int | None) -> None:
    """Record the signed-in user of a request, for its log line."""
    scope[USER_KEY] = user_id


class RequestLog:
    """Writes one log line per HTTP request and returns its id in X-Request-ID."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = dict(scope.get("headers", [])).get(HEADER, b"")
        rid = given.decode() if _GIVEN_ID.match(given) else secrets.token_hex(8)
        token = request_id.set(rid)
        route = route_template(scope)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (HEADER, rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            # Left set: the error handler (outside this middleware) logs the failure next, with this id.
            self._log(scope, route, status, started)
            raise
        self._log(scope, route, status, started)
        request_id.reset(token)

    @staticmethod
    def _log(scope: Scope, route: str, status: int, started: float) -> None:
        log.info(
            "request",
            extra={
                "method": scope["method"],
                "route": route,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "user_id": scope.get(USER_KEY),
            },
        )


class JsonFormatter(logging.Formatter):
    """Each record as one JSON object: time, level, logger, message, the request's fields, any exception."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            line["request_id"] = rid
        for name in FIELDS[1:]:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def logging_config(level: str = "info") -> dict:
    """The logging set-up of `fieldguide serve` (for uvicorn's log_config): JSON lines on stderr,
    uvicorn's own access log off (it prints raw paths and queries)."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
