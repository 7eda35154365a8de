"""Push in the server process: the publish hook, the VAPID signer and the in-process worker."""

from __future__ import annotations

from contextlib import asynccontextmanager

from server.guidance.releases import on_publish
from server.push.outbox import enqueue_release_notices
from server.push.vapid import VapidSigner
from server.push.worker import PushWorker
from server.settings import Settings


@asynccontextmanager
async def push_runtime(app, settings: Settings):
    """For the app's lifespan: publish writes notices; a worker sends them unless turned off."""
    on_publish(enqueue_release_notices)
    signer = VapidSigner.from_settings(settings)
    worker = PushWorker(settings, signer) if settings.push_worker else None
    app.state.push_signer = signer
    app.state.push_worker = worker
    if worker is not None:
        worker.start()
    try:
        yield
    finally:
        if worker is not None:
            await worker.stop()
