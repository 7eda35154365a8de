"""The mail worker: drains the email outbox over a few SMTP connections, in the server or beside the push worker."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from server import outbox_queue
from server.backoff import retry_time
from server.mail import outbox
from server.mail.config import check_from, parse_smtp_url
from server.mail.outbox import Claimed, Settled
from server.mail.sender import Answer, Connection
from server.settings import Settings

log = logging.getLogger("fieldguide.mail")
PER_CONNECTION = 5  # emails one connection sends per claim, in turn
NAP = 0.05
ERROR_PAUSE = 2.0


class MailWorker:
    """Claims due emails, sends them over at most `mail_concurrency` connections and records each outcome."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.server = parse_smtp_url(settings.smtp_url)
        self.sender = check_from(settings.mail_from)
        self.concurrency = max(1, settings.mail_concurrency)
        self.poll = max(0.01, settings.push_poll_ms / 1000)
        self.lease = settings.push_lease_seconds
        # Every email a connection takes must be settled well inside the lease, or another worker
        # could take it meanwhile: each SMTP step gets a share of half the lease.
        self.timeout = max(1.0, min(30.0, self.lease / (2 * (PER_CONNECTION + 1))))
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        # One connection per lane, kept while batches keep coming and closed when the queue is idle.
        self._connections = [Connection(self.server, self.sender, self.timeout) for _ in range(self.concurrency)]
        self.counts = {"sent": 0, "retry": 0, "failed": 0}

    def wake(self) -> None:
        """Look for emails now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        """Run in the background of the current event loop."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="mail-worker")

    async def stop(self) -> None:
        """Stop taking emails, let the batch in flight finish, then return."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _idle(self, due: datetime | None) -> None:
        """Sleep until woken, the next email is due (a retry, a lease running out) or the poll."""
        await outbox_queue.pause(self._wake, outbox_queue.idle_timeout(self.poll, due, NAP))

    def _after(self, row: Claimed, answer: Answer) -> Settled:
        """The outcome of one try: a retry becomes failed once the email has had its max attempts."""
        if answer.outcome != "retry":
            return Settled(row, answer.outcome, answer.reason or None)
        if row.attempts >= self.settings.mail_max_attempts:
            return Settled(row, "failed", f"gave up after {row.attempts} tries: {answer.reason}")
        return Settled(row, "retry", answer.reason, retry_time(row.attempts, self.settings.mail_retry_base_ms / 1000, None))

    async def _lane(self, connection: Connection, rows: list[Claimed]) -> list[Settled]:
        """Send some emails in turn over one connection."""
        results = []
        for i, row in enumerate(rows):
            if row.attempts > self.settings.mail_max_attempts:
                # Claimed again after tries whose outcome was never written (a worker that died mid-send).
                results.append(Settled(row, "failed", f"gave up after {row.attempts - 1} tries: no outcome recorded"))
                continue
            if row.active is False:
                # Deactivated since the email was written: its link no longer works, its news is not theirs.
                results.append(Settled(row, "failed", "not sent: the account was deactivated"))
                continue
            try:
                answer = await connection.send(row)
            except Exception as exc:  # a bug costs one try of one email, not the batch
                log.exception("mail worker: email %s", row.id)
                answer = Answer("retry", f"internal error ({type(exc).__name__})")
            results.append(self._after(row, answer))
            if answer.outcome == "retry" and not connection.connected:
                # The server is down or refusing: the rest of this lane waits for the backoff too,
                # rather than each trying (and timing out) in turn.
                results += [self._after(r, answer) for r in rows[i + 1:]]
                break
        return results

    async def close_connections(self) -> None:
        """Say goodbye to the SMTP server on every kept connection."""
        await asyncio.gather(*(c.quit() for c in self._connections))

    async def run_once(self) -> int:
        """Claim one batch, send it, record the outcomes; returns how many were claimed."""
        rows = await outbox.claim(self.concurrency * PER_CONNECTION, self.lease)
        if not rows:
            return 0
        lanes = [(self._connections[i], rows[i::self.concurrency]) for i in range(self.concurrency)]
        done = await asyncio.gather(*(self._lane(c, lane) for c, lane in lanes if lane))
        results = [s for lane in done for s in lane]
        await outbox.settle(results)
        for r in results:
            self.counts[r.outcome] += 1
            if r.outcome != "sent":
                # The row id, not the address: the supervisor's ladder shows whose it was.
                log.warning("mail worker: email %s %s: %s", r.row.id,
                            "to be retried" if r.outcome == "retry" else "failed", r.reason)
        return len(rows)

    async def run(self, until_empty: bool = False) -> dict[str, int]:
        """The worker loop; with until_empty it returns once no email is left to send (even later)."""
        try:
            while not self._stopping:
                try:
                    if await self.run_once():
                        continue
                    await self.close_connections()  # nothing due now: no connection held open idle
                    due = await outbox.next_due()
                    if until_empty and due is None:
                        break
                    await self._idle(due)
                except Exception:
                    # Claimed rows whose outcome could not be written are retried after the lease.
                    log.exception("mail worker: a batch failed; continuing")
                    await asyncio.sleep(min(self.poll, ERROR_PAUSE))
        finally:
            await self.close_connections()
        return dict(self.counts)
