"""The push claim query reads only the notices still to send, by next attempt time: a partial index.

`claim()` (server/push/outbox.py) selects rows with status pending or sending, due by now,
oldest first. Without this index the database sorts every pending row (27 ms at 50k pending);
with it the claim walks the first rows of the index. SQLite and PostgreSQL both support
partial indexes with this syntax.
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
    ]
