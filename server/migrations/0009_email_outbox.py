"""Email as a channel: a durable outbox of messages, and each officer's choice about optional email.

Messages are written in the transaction that causes them (an invitation, a reset, a release
needing acknowledgment, a reminder) and sent by the mail worker with retries.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0008_understanding_check')]

    initial = False

    operations = [
        ops.CreateModel(
            name='EmailOutbox',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('agency', fields.ForeignKeyField('models.Agency', source_field='agency_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('release', fields.ForeignKeyField('models.Release', source_field='release_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('to_address', fields.CharField(max_length=254)),
                ('kind', fields.CharField(max_length=16)),
                ('subject', fields.CharField(max_length=300)),
                ('text', fields.TextField(unique=False)),
                ('html', fields.TextField(unique=False)),
                ('status', fields.CharField(default='pending', max_length=8)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(null=True, max_length=300)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'email_outbox', 'app': 'models', 'indexes': [Index(fields=['status', 'next_attempt_at']), Index(fields=['release_id', 'user_id'])], 'pk_attr': 'id', 'table_description': 'One email to one address, written in the transaction that causes it and drained by the mail worker.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='User',
            name='email_optional',
            field=fields.BooleanField(default=True, db_default=True),
        ),
    ]
