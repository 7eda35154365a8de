"""The push worker's statements read the partial index push_outbox_due (migration 0003) with
100,000 notices waiting and older ones sent: the claim walks the first due entries of the index
instead of sorting every waiting row, and the idle check reads one entry. Plans, not times:
benchmarks/push_claim.py prints those."""

from __future__ import annotations

import pytest

from server import db
from server.models import PushOutbox
from server.push import outbox

from .helpers.push import fill_outbox, outbox_plans

INDEX = "push_outbox_due"


@pytest.fixture
async def database(settings):
    """The test's database opened in this process."""
    await db.open_db(settings)
    yield settings
    await db.close_db()


async def test_claim_and_idle_check_read_the_partial_index_at_100k_waiting(database):
    await fill_outbox(pending=100_000, sent=10_000)
    plans = await outbox_plans()
    assert set(plans) == {"claim", "next_due"}
    for name, plan in plans.items():
        assert INDEX in plan, f"{name} does not read {INDEX}:\n{plan}"
    if database.is_sqlite:
        # No temporary B-tree: the rows come out of the index in claim order.
        assert "TEMP B-TREE" not in plans["claim"] and "TEMP B-TREE" not in plans["next_due"]
        assert f"SEARCH push_outbox USING INDEX {INDEX} (next_attempt_at<?)" in plans["claim"]
    else:
        assert "Sort" not in plans["claim"] and "Sort" not in plans["next_due"]
        assert "SKIP LOCKED" in outbox.queue_sql("postgres")["claim"]
        assert f"Index Scan using {INDEX}" in plans["claim"]
        assert f"Index Only Scan using {INDEX}" in plans["next_due"]

    # What runs is what was planned: the check finds the earliest, the claim takes the oldest due.
    oldest = await PushOutbox.filter(status="pending").order_by("next_attempt_at", "id").limit(17)
    assert await outbox.next_due() == oldest[0].next_attempt_at
    assert [row.id for row in await outbox.claim(16, 120)] == sorted(row.id for row in oldest[:16])
    assert await outbox.next_due() == oldest[16].next_attempt_at
