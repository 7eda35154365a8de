"""Per-release tallies of the acknowledgments that count; indexes for the dashboard's reads.

The supervisor's overview read every acknowledgment of the agency on each view; it now reads
release_tally (kept by server/tally.py in the transaction of each acknowledgment and of each
change to a person's role or active flag). This migration fills it for existing databases
with the counting rule of server/acknowledgments/dashboard.py, in SQL that reads the same on
SQLite and PostgreSQL: an acknowledgment counts when its author is an active officer created
before the release was superseded by the next release that needs an acknowledgment.

The acknowledgment index gains received_at (a release's page and chart read it from the index
alone); the roster gets an index by agency, role, active flag and join date (who counts) and
one in the order a release page lists officers (an expression index: SQL only, like 0003's).
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

FILL = """
INSERT INTO release_tally (release_id, acknowledged, late)
SELECT s.release_id, COUNT(*),
       SUM(CASE WHEN s.due_at IS NOT NULL AND a.received_at > s.due_at THEN 1 ELSE 0 END)
  FROM (SELECT r.id AS release_id, r.due_at AS due_at,
               (SELECT n.published_at FROM "release" n
                 WHERE n.agency_id = r.agency_id AND n.requires_ack AND n.number > r.number
                 ORDER BY n.number LIMIT 1) AS superseded_at
          FROM "release" r WHERE r.requires_ack) s
  JOIN acknowledgment a ON a.release_id = s.release_id
  JOIN "user" u ON u.id = a.user_id
 WHERE u.role = 'officer' AND u.active AND (s.superseded_at IS NULL OR u.created_at < s.superseded_at)
 GROUP BY s.release_id
"""


class Migration(migrations.Migration):
    dependencies = [('models', '0003_push_claim_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ReleaseTally',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('release', fields.OneToOneField('models.Release', source_field='release_id', db_constraint=True, to_field='id', related_name='tally', on_delete=OnDelete.RESTRICT)),
                ('acknowledged', fields.IntField(default=0)),
                ('late', fields.IntField(default=0)),
            ],
            options={'table': 'release_tally', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Per release, the acknowledgments that count (server/tally.py keeps it with each change).'},
            bases=['Model'],
        ),
        ops.RemoveIndex(
            model_name='Acknowledgment',
            name=None,
            fields=['agency_id', 'release_id', 'user_id'],
        ),
        ops.AddIndex(
            model_name='Acknowledgment',
            index=Index(fields=['agency_id', 'release_id', 'user_id', 'received_at']),
        ),
        ops.AddIndex(
            model_name='User',
            index=Index(fields=['agency_id', 'role', 'active', 'created_at']),
        ),
        ops.RunSQL(FILL, reverse_sql="DELETE FROM release_tally"),
        # A release page lists officers by school and name, a page at a time: in this order the
        # database walks the roster and stops at the page's end instead of sorting it all.
        ops.RunSQL(
            "CREATE INDEX user_roster_order ON \"user\" (agency_id, LOWER(COALESCE(school, '')), LOWER(name), id)",
            reverse_sql="DROP INDEX user_roster_order",
        ),
    ]
