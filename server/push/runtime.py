"""Push in the server process: the VAPID signer and the in-process worker (publishing writes the notices)."""

from __future__ import annotations

from contextlib import asynccontextmanager

from server.push.vapid import VapidSigner
from server.push.worker import PushWorker
from server.settings import Settings


@asynccontextmanager
async def push_runtime(app, settings: Settings):
    """For the app's lifespan: the VAPID signer, and a worker that sends queued notices unless turned off."""
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
