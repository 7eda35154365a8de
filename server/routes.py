"""The app's one route table."""

from __future__ import annotations

from starlette.routing import Mount, Route

from .static import HashedStaticFiles, service_worker, web_manifest
from .views import api, auth, changes, pages


def routes(settings, assets) -> list:
    """Every route of the app, named."""
    return [
        Route("/", pages.home, name="home"),
        Route("/cards/{card_id}", pages.card, name="card"),
        Route("/search", pages.search, name="search"),
        Route("/flow", pages.flow, name="flow_start"),
        Route("/flow/{node}", pages.flow, name="flow"),
        Route("/offline", pages.offline, name="offline"),
        Route("/changes", changes.changes, name="changes"),
        Route("/releases/{number:int}/changes", changes.changes, name="release_changes"),
        Route("/sign-in", auth.sign_in_form, methods=["GET"], name="sign_in_form"),
        Route("/sign-in", auth.sign_in, methods=["POST"], name="sign_in"),
        Route("/sign-out", auth.sign_out, methods=["POST"], name="sign_out"),
        Route("/api/v1/manifest", api.manifest, name="api_manifest"),
        Route("/api/v1/bundle", api.bundle, name="api_bundle"),
        Route("/api/v1/cards/{hash}", api.card_by_hash, name="api_card"),
        Route("/api/v1/search", api.search, name="api_search"),
        Route("/api/v1/openapi.json", api.openapi, name="api_openapi"),
        Route("/manifest.webmanifest", web_manifest, name="web_manifest"),
        Route("/sw.js", service_worker, name="service_worker"),
        Route("/sw/{name:str}", service_worker, name="service_worker_part"),
        Mount(
            "/static",
            app=HashedStaticFiles(directory=settings.pwa_dir / "static", assets=assets),
            name="static",
        ),
    ]
