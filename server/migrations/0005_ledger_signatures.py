"""Signed ledger rows and signed checkpoints.

Each acknowledgment recorded from now on carries an Ed25519 signature of its row_hash and the
id of the site's ledger signing key; rows recorded before have none (they are never signed
after the fact). ledger_checkpoint keeps each signed checkpoint of an agency's chain (row count
and head hash) made with an evidence export, on the command line or for a supervisor.
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0004_release_tally')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LedgerCheckpoint',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('agency', fields.ForeignKeyField('models.Agency', source_field='agency_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('count', fields.IntField()),
                ('head', fields.CharField(max_length=64)),
                ('made_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('key_id', fields.CharField(max_length=16)),
                ('body', fields.TextField(unique=False)),
                ('signature', fields.CharField(max_length=128)),
                ('reason', fields.CharField(max_length=16)),
            ],
            options={'table': 'ledger_checkpoint', 'app': 'models', 'indexes': [Index(fields=['agency_id', 'made_at'])], 'pk_attr': 'id', 'table_description': "A signed statement of an agency's ledger at one moment: row count and head hash."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Acknowledgment',
            name='key_id',
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.AddField(
            model_name='Acknowledgment',
            name='signature',
            field=fields.CharField(null=True, max_length=128),
        ),
    ]
