"""Push in the server process: the VAPID signer and the in-process workers (publishing writes the notices).

The mail worker runs beside the push worker, only when email is set up (FIELDGUIDE_SMTP_URL).
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from server.mail.config import mail_enabled
from server.mail.worker import MailWorker
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
    mailer = MailWorker(settings) if settings.push_worker and mail_enabled(settings) else None
    app.state.mail_worker = mailer
    if worker is not None:
        worker.start()
    if mailer is not None:
        mailer.start()
    try:
        yield
    finally:
        if mailer is not None:
            await mailer.stop()
        if worker is not None:
            await worker.stop()


def wake_senders(app) -> None:
    """Start sending what was just committed to the outboxes, in this process (other processes poll, or
    hear PostgreSQL's NOTIFY for push)."""
    for name in ("push_worker", "mail_worker"):
        worker = getattr(app.state, name, None)
        if worker is not None:
            worker.wake()
