"""Static files: hashed assets cached forever, the manifest and the service worker never stale."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from server.web.errors import ApiError
from server.web.views.api import etag_matches, not_modified

LONG_CACHE = "public, max-age=31536000, immutable"


class HashedStaticFiles(StaticFiles):
    """StaticFiles that marks a response immutable when its ?v= matches the file's hash."""

    def __init__(self, *, assets, **kwargs):
        super().__init__(**kwargs)
        self.assets = assets

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            query = dict(
                pair.split("=", 1) for pair in scope.get("query_string", b"").decode().split("&") if "=" in pair
            )
            if self.assets.is_current(path, query.get("v")):
                response.headers["Cache-Control"] = LONG_CACHE
            else:
                response.headers["Cache-Control"] = "no-cache"
        return response


async def service_worker(request: Request) -> Response:
    """/sw.js at the root so its scope is the whole app; always revalidated."""
    name = request.path_params.get("name", "sw.js")
    path = request.app.state.settings.service_worker_dir / name
    if "/" in name or not name.endswith(".js") or not path.is_file():
        raise ApiError(404, "No such service worker file.")
    return FileResponse(
        path,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


async def precache_list(request: Request) -> Response:
    """/sw/assets.json: the hashed URL of every static file the offline shell loads, from the
    asset table, and a version that changes with any of them (the ETag); always revalidated."""
    listing = request.app.state.assets.precache
    version = listing["version"]
    etag = f'"a{version}"'
    if etag_matches(request, etag):
        return not_modified(etag, "no-cache")
    return JSONResponse(listing, headers={"Cache-Control": "no-cache", "ETag": etag})


async def web_manifest(request: Request) -> Response:
    """The web app manifest with its registered content type."""
    return FileResponse(
        request.app.state.settings.pwa_dir / "manifest.webmanifest",
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )
