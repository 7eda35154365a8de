"""The push worker: drains the outbox with bounded concurrency, in the server or on its own."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import datetime, timedelta

from server import clock, db, outbox_queue
from server.backoff import retry_time
from server.errors import Invalid
from server.mail.config import mail_enabled
from server.mail.worker import MailWorker
from server.push import outbox
from server.push.endpoints import parse_endpoint
from server.push.listener import WakeListener
from server.push.outbox import Claimed, Settled
from server.push.sender import REASON_CHARS, Answer, Sender
from server.push.vapid import VapidSigner
from server.settings import Settings

log = logging.getLogger("fieldguide.push")
SETTLE_AFTER = 0.1  # seconds an outcome may wait to be written with others
NAP = 0.01  # shortest idle sleep, in seconds
ERROR_PAUSE = 2.0  # most seconds to wait after a failed batch (a database that went away)


class PushWorker:
    """Claims due notices, sends them (at most `push_concurrency` at once) and records each outcome."""

    def __init__(self, settings: Settings, signer: VapidSigner | None = None):
        self.settings = settings
        self.signer = signer or VapidSigner.from_settings(settings)
        self.concurrency = max(1, settings.push_concurrency)
        self.poll = max(0.01, settings.push_poll_ms / 1000)
        # A request must end well inside the lease, or another worker could take the row meanwhile.
        self.timeout = max(1.0, min(30.0, settings.push_lease_seconds / 2))
        self._wake = asyncio.Event()
        self._stopping = False
        self._grace = 5.0
        self._task: asyncio.Task | None = None
        self.counts = {"sent": 0, "gone": 0, "retry": 0, "failed": 0}

    def wake(self) -> None:
        """Look for notices now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        """Run in the background of the current event loop."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="push-worker")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop taking notices, let those in flight finish (up to `grace` seconds), then return."""
        self._stopping = True
        self._grace = grace
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _idle(self, due: datetime | None) -> None:
        """Sleep until woken, the next notice is due (a retry, a lease running out) or the poll."""
        await self._pause(outbox_queue.idle_timeout(self.poll, due, NAP))

    async def _pause(self, timeout: float) -> None:
        """Wait until woken (new notices, or sends finished that leave work to do) or timeout."""
        await outbox_queue.pause(self._wake, timeout)

    async def _process(self, sender: Sender, row: Claimed) -> Settled:
        try:
            return await self._try(sender, row)
        except Exception as exc:  # a bug must cost one try of one notice, not the whole batch
            log.exception("push worker: notice %s", row.id)
            return self._after(row, Answer("retry", None, f"internal error ({type(exc).__name__})"))

    async def _try(self, sender: Sender, row: Claimed) -> Settled:
        base = Settled(row.id, row.subscription_id, row.endpoint, "failed")
        if row.subscription_id is None or row.p256dh is None:
            base.outcome, base.reason = "gone", "the subscription was removed before sending"
            return base
        if row.created_at + timedelta(seconds=row.ttl) <= clock.now():
            base.reason = "expired: not delivered within its time to live"
            return base
        if row.attempts > self.settings.push_max_attempts:
            # Claimed again after tries whose outcome was never written (a worker that died mid-send).
            base.reason = f"gave up after {row.attempts - 1} tries: no outcome recorded"
            return base
        try:
            # Stored before the check was as strict, or before the allowed hosts changed: it never
            # becomes sendable, so one refusal ends the notice.
            parse_endpoint(row.endpoint, self.settings)
        except Invalid as exc:
            base.reason = f"not sent: {exc.message}"[:REASON_CHARS]
            return base
        answer = await sender.send(
            row.endpoint,
            row.p256dh,
            row.auth,
            row.data,
            ttl=row.ttl,
            urgency=row.urgency,
            topic=row.topic,
        )
        return self._after(row, answer)

    def _after(self, row: Claimed, answer: Answer) -> Settled:
        """The outcome of one try: a retry becomes failed once the notice has had its max attempts."""
        settled = Settled(row.id, row.subscription_id, row.endpoint, answer.outcome, answer.reason[:REASON_CHARS] or None)
        if answer.outcome == "retry":
            # Every failed try counts (the claim counted it): 429, 5xx, timeouts, no connection, a bug.
            if row.attempts >= self.settings.push_max_attempts:
                settled.outcome = "failed"
                settled.reason = f"gave up after {row.attempts} tries: {answer.reason}"[:REASON_CHARS]
            else:
                base = self.settings.push_retry_base_ms / 1000
                settled.retry_at = retry_time(row.attempts, base, answer.retry_after)
        return settled

    async def _settle(self, results: list[Settled]) -> None:
        await outbox.settle(results)
        for r in results:
            self.counts[r.outcome] += 1

    async def run(self, until_empty: bool = False) -> dict[str, int]:
        """The worker loop; with until_empty it returns once no notice is left to send (even later)."""
        listener = WakeListener(self.settings, self.wake) if not self.settings.is_sqlite else None
        if listener is not None:
            listener.start()
        try:
            return await self._loop(until_empty)
        finally:
            if listener is not None:
                await listener.stop()

    async def _loop(self, until_empty: bool) -> dict[str, int]:
        inflight: dict[asyncio.Task, int] = {}
        results: list[Settled] = []
        loop = asyncio.get_running_loop()
        half = max(1, self.concurrency // 2)
        oldest = 0.0

        def finished(task: asyncio.Task) -> None:
            # Every send reports here; the loop wakes only when there is work: room to claim half a
            # window, half a window of outcomes to write, or nothing left in flight.
            nonlocal oldest
            if task.cancelled():
                return
            inflight.pop(task, None)
            if not results:
                oldest = loop.time()
            results.append(task.result())
            if len(results) >= half or self.concurrency - len(inflight) >= half or not inflight:
                self._wake.set()

        async with Sender(self.signer, self.concurrency, self.timeout) as sender:
            while not self._stopping:
                try:
                    # What this worker holds (sending, or sent with the outcome not yet written) stays
                    # within a window and a half: all a crash can ever make it send twice.
                    room = min(self.concurrency, self.concurrency + half - len(results)) - len(inflight)
                    due = None
                    # Claim in halves of the window so claims stay few while sends overlap.
                    if room >= half:
                        due = await outbox.next_due()
                        if due is not None and due <= clock.now():
                            for row in await outbox.claim(room, self.settings.push_lease_seconds):
                                task = asyncio.create_task(self._process(sender, row))
                                inflight[task] = row.id
                                task.add_done_callback(finished)
                    # Outcomes are written in batches (one transaction each), at the latest SETTLE_AFTER
                    # after the first: a crash before then means a resend, never a lost notice.
                    if results and (len(results) >= half or not inflight or loop.time() - oldest >= SETTLE_AFTER):
                        batch = results[:]
                        results.clear()
                        await self._settle(batch)
                        continue
                    if not inflight and not results:
                        if until_empty and due is None:
                            break
                        await self._idle(due)
                        continue
                    # Outcomes wait at most SETTLE_AFTER to be written; new notices wake the wait.
                    await self._pause(max(0.0, SETTLE_AFTER - (loop.time() - oldest)) if results else self.poll)
                except Exception:
                    # Rows whose outcome could not be written stay claimed and are retried after
                    # the lease: the worker keeps going rather than taking the server down.
                    log.exception("push worker: a batch failed; continuing")
                    results.clear()
                    await asyncio.sleep(min(self.poll, ERROR_PAUSE))
            await self._finish(inflight, results)
        return dict(self.counts)

    async def _finish(self, inflight: dict[asyncio.Task, int], results: list[Settled]) -> None:
        """Let the sends in flight finish (up to the grace), record them, hand back the rest."""
        unfinished = dict(inflight)
        if unfinished:
            await asyncio.wait(unfinished, timeout=self._grace)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        try:
            await self._settle(results[:])
            await outbox.release_claims([row_id for task, row_id in unfinished.items() if task.cancelled()])
        except Exception:
            log.exception("push worker: could not record the last sends; they will be retried")


async def run_standalone(settings: Settings, until_empty: bool = False) -> dict[str, int]:
    """`fieldguide push-worker`: drain the outbox until SIGTERM/SIGINT (or until it is empty)."""
    await db.open_db(settings)
    try:
        await db.ensure_current(settings)
        worker = PushWorker(settings)
        # Email goes out from wherever push notices do, when it is set up.
        mailer = MailWorker(settings) if mail_enabled(settings) else None
        loop = asyncio.get_running_loop()

        def stop() -> None:
            asyncio.ensure_future(worker.stop())
            if mailer is not None:
                asyncio.ensure_future(mailer.stop())

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop)
        print(f"Push worker started (up to {worker.concurrency} notices at once).", flush=True)
        if mailer is None:
            return await worker.run(until_empty=until_empty)
        print(f"Mail worker started (up to {mailer.concurrency} SMTP connections).", flush=True)
        pushed, mailed = await asyncio.gather(worker.run(until_empty=until_empty), mailer.run(until_empty=until_empty))
        return {**pushed, **{f"email {k}": n for k, n in mailed.items()}}
    finally:
        await db.close_db()
