"""Receipts from the phone: a release notice shown on an officer's device.

The service worker reports each notice it shows (sent at once, or queued while offline);
push_receipt keeps one row per officer, release and device, so the supervisor can tell a
notice the push service accepted from one the phone actually showed.
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0006_email_per_agency')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PushReceipt',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('agency', fields.ForeignKeyField('models.Agency', source_field='agency_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('release', fields.ForeignKeyField('models.Release', source_field='release_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('device_id', fields.CharField(max_length=64)),
                ('uuid', fields.CharField(unique=True, max_length=36)),
                ('kind', fields.CharField(max_length=16)),
                ('shown_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'push_receipt', 'app': 'models', 'unique_together': (('user', 'release', 'device_id'),), 'pk_attr': 'id', 'table_description': "A release notice shown on an officer's device, as the device's service worker reported it."},
            bases=['Model'],
        ),
    ]
