"""One error shape for the API and friendly pages for people, rendered in one place."""

from __future__ import annotations

import logging
from http import HTTPStatus
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from server.errors import Conflict, DomainError, Invalid, NotFound, Refused
from server.web.request_log import route_template

log = logging.getLogger("fieldguide")

# Stable error numbers for API clients.
ERRNO = {
    400: 107,  # invalid request parameters
    401: 104,  # missing or expired sign-in
    403: 121,  # not allowed for this role or agency
    404: 111,  # no such resource
    405: 115,  # method not allowed
    409: 122,  # conflict with the current state
    412: 114,  # precondition failed
    413: 113,  # request too large
    429: 117,  # too many requests
    500: 999,  # internal error
}
# The status of each kind of domain error (server/errors.py): the one place the domain meets HTTP.
DOMAIN_STATUS = {Invalid: 400, Refused: 403, NotFound: 404, Conflict: 409, DomainError: 400}


class ApiError(HTTPException):
    """An error with a stable errno and optional details for API clients."""

    def __init__(self, status_code: int, message: str, details: dict | None = None, errno: int | None = None):
        super().__init__(status_code=status_code, detail=message)
        self.details = details or {}
        self.errno = errno or ERRNO.get(status_code, 999)


def status_of(exc: DomainError) -> int:
    """The HTTP status of a domain error, by its kind (the nearest one listed in DOMAIN_STATUS)."""
    return next(DOMAIN_STATUS[kind] for kind in type(exc).__mro__ if kind in DOMAIN_STATUS)


class NotSignedIn(Exception):
    """The request needs a signed-in user."""


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_body(status: int, message: str, details: dict | None = None, errno: int | None = None) -> dict:
    """{code, errno, error, message, details}: the API's one error shape."""
    return {
        "code": status,
        "errno": errno or ERRNO.get(status, 999),
        "error": HTTPStatus(status).phrase,
        "message": message,
        "details": details or {},
    }


def _page(request: Request, status: int, message: str, headers: dict | None = None) -> Response:
    templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        "error.html",
        {"status": status, "title": HTTPStatus(status).phrase, "message": message, "user": None},
        status_code=status,
        headers=headers,
    )


def allowed_methods(request: Request) -> str:
    """Every method the request's path answers, for a 405's Allow header.

    Starlette's own 405 names only the methods of the first route matching the path, though a
    path may have one route per method (GET and POST /admin/users).
    """
    path = request.scope["path"]
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.path_regex.match(path):
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


async def http_error(request: Request, exc: HTTPException) -> Response:
    """Render an HTTP error as JSON under /api/, as a page elsewhere."""
    status = exc.status_code
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    if status == 404 and message == HTTPStatus(404).phrase:
        message = "There is no page at this address."
    headers = getattr(exc, "headers", None)
    if status == 304:
        return Response(status_code=304, headers=headers)
    if status == 405:
        headers = {**(headers or {}), "Allow": allowed_methods(request)}
    if wants_json(request):
        return JSONResponse(
            error_body(status, message, getattr(exc, "details", None), getattr(exc, "errno", None)),
            status_code=status,
            headers=headers,
        )
    return _page(request, status, message, headers)


async def domain_error(request: Request, exc: DomainError) -> Response:
    """A domain error, rendered exactly as the ApiError of its status and errno would be."""
    return await http_error(request, ApiError(status_of(exc), exc.message, exc.details))


async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
    """API: 401. Pages: to the sign-in page, coming back afterwards."""
    if wants_json(request):
        return JSONResponse(error_body(401, "Sign in first."), status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/sign-in?next={quote(target)}", status_code=303)


async def server_error(request: Request, exc: Exception) -> Response:
    """Log the failure; show no stack trace."""
    # The route's template, not the path: invitation and reset tokens live in paths.
    log.exception("Unhandled error on %s %s", request.method, route_template(request.scope))
    message = "Something went wrong on our side. Your data is safe; please try again."
    if wants_json(request):
        return JSONResponse(error_body(500, message), status_code=500)
    return _page(request, 500, message)
