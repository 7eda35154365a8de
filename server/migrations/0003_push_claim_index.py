"""The push claim query reads only the notices still to send, by next attempt time: a partial index.

`claim()` (server/push/outbox.py) selects rows with status pending or sending, due by now,
oldest first, and the idle check `next_due()` the earliest of them. Without this index the
database sorts every pending row (27 ms at 50k pending); with it the claim walks the first rows
of the index. SQLite and PostgreSQL both support partial indexes with this syntax; the queries
repeat its predicate word for word (tests/test_push_claim_plan.py checks both plans).

When a push service says a subscription is gone, `settle()` marks that endpoint's other
pending notices gone too: `push_outbox_pending_endpoint` finds them without reading every
pending row of a large fan-out. The supervisor's release page shows the push status of one
page of officers: `push_outbox_user_release` and `push_subscription_user` find their rows.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0002_release_card_origins')]

    initial = False

    operations = [
        ops.RunSQL(
            "CREATE INDEX push_outbox_due ON push_outbox (next_attempt_at, id) "
            "WHERE status IN ('pending', 'sending')",
            reverse_sql="DROP INDEX push_outbox_due",
        ),
        ops.RunSQL(
            "CREATE INDEX push_outbox_pending_endpoint ON push_outbox (endpoint) WHERE status = 'pending'",
            reverse_sql="DROP INDEX push_outbox_pending_endpoint",
        ),
        ops.RunSQL(
            "CREATE INDEX push_outbox_user_release ON push_outbox (user_id, release_id)",
            reverse_sql="DROP INDEX push_outbox_user_release",
        ),
        ops.RunSQL(
            "CREATE INDEX push_subscription_user ON push_subscription (user_id)",
            reverse_sql="DROP INDEX push_subscription_user",
        ),
    ]
