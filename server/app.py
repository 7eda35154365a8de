"""The app factory: create_app(settings) builds everything; nothing happens at import time."""

from __future__ import annotations

from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

from server import db, ledger_signing
from server.acknowledgments.sync import RecentSyncs
from server.errors import DomainError
from server.guidance.provenance import load_passages
from server.guidance.releases import ReleaseCache
from server.guidance.scenarios import base_scenarios
from server.push.runtime import push_runtime
from server.settings import Settings
from server.web.errors import (
    NotSignedIn,
    domain_error,
    http_error,
    not_signed_in,
    server_error,
)
from server.web.fragments import Fragments
from server.web.middleware import BodyLimit, NoNulInUrl, SecurityHeaders
from server.web.openapi import openapi_schema
from server.web.request_log import RequestLog
from server.web.resources import Assets, make_templates
from server.web.routes import routes
from server.web.sync_answers import GZIP_LEVEL, SyncAnswers


class FieldGuideApp(Starlette):
    """Starlette whose every response carries the security headers, a 500 included.

    Starlette puts its ServerErrorMiddleware (which sends the 500) outside all user middleware,
    so SecurityHeaders wraps the whole built stack instead of joining the middleware list.
    """

    def build_middleware_stack(self):
        # RequestLog outermost too: a 500 gets its X-Request-ID and its one log line.
        return RequestLog(SecurityHeaders(super().build_middleware_stack()))


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the ASGI app for these settings (from the environment when omitted)."""
    settings = settings or Settings.from_env()
    assets = Assets(settings.pwa_dir / "static")

    @asynccontextmanager
    async def lifespan(app: Starlette):
        await db.open_db(settings)
        try:
            ledger_signing.site_key(settings)  # a missing or unreadable signing key stops the start here
            if settings.check_migrations:
                await db.ensure_current(settings)
            async with push_runtime(app, settings):
                yield
        finally:
            await db.close_db()

    app = FieldGuideApp(
        debug=settings.debug,
        routes=routes(settings, assets),
        middleware=[
            Middleware(NoNulInUrl),
            Middleware(BodyLimit, max_bytes=1_000_000),
            Middleware(GZipMiddleware, minimum_size=500, compresslevel=GZIP_LEVEL),
        ],
        exception_handlers={
            HTTPException: http_error,
            DomainError: domain_error,
            NotSignedIn: not_signed_in,
            Exception: server_error,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.assets = assets
    app.state.templates = make_templates(settings.pwa_dir, assets)
    app.state.fragments = Fragments(app.state.templates, load_passages(settings.content_dir))
    app.state.releases = ReleaseCache(base_scenarios=base_scenarios(settings.content_dir))
    app.state.recent_syncs = RecentSyncs()  # per process: what each device's last check recorded
    app.state.sync_answers = SyncAnswers()  # per process: sync 200s by held and current release
    app.state.openapi = openapi_schema()
    return app
