"""The push outbox on PostgreSQL: concurrent claims take disjoint rows (FOR UPDATE SKIP LOCKED),
and two workers draining one outbox send each notice exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter

from server import bootstrap, db
from server.models import PushOutbox, PushSubscription, User
from server.push import outbox
from server.push.vapid import VapidSigner
from server.push.worker import PushWorker

from .helpers.push_service import PushService
from .helpers.releases import publish_revision


async def _fan_out(settings, service: PushService, count: int) -> list[str]:
    officer = await User.get(email="officer@demo.test")
    endpoints = []
    for _ in range(count):
        sub = service.subscribe()
        await PushSubscription.create(user=officer, endpoint=sub["endpoint"], p256dh=sub["keys"]["p256dh"], auth=sub["keys"]["auth"])
        endpoints.append(sub["endpoint"])
    await publish_revision(summary="Clarified restraint policy.", changes={"restraint-devices": "major"})
    return endpoints


async def test_claims_and_workers_on_postgresql(pg_settings):
    settings = pg_settings.with_(push_extra_hosts="127.0.0.1", push_concurrency=4, push_poll_ms=20)
    service = PushService(vapid_key=VapidSigner.from_settings(settings).public_key, delay=0.01).start()
    try:
        await bootstrap.prepare(settings, demo=True)
        endpoints = await _fan_out(settings, service, 150)
        assert await PushOutbox.filter(status="pending").count() == 150

        claims = await asyncio.gather(*(outbox.claim(60, 60) for _ in range(3)))
        ids = [row.id for batch in claims for row in batch]
        assert len(ids) == len(set(ids)) == 150
        await outbox.release_claims(ids)
        assert await PushOutbox.filter(status="pending", attempts=0).count() == 150

        workers = [PushWorker(settings) for _ in range(2)]
        counts = await asyncio.gather(*(w.run(until_empty=True) for w in workers))
        assert Counter(r.endpoint for r in service.delivered()) == Counter({e: 1 for e in endpoints})
        assert sum(c["sent"] for c in counts) == 150 and min(c["sent"] for c in counts) > 0
        assert service.errors() == []
    finally:
        service.stop()
        await db.close_db()
