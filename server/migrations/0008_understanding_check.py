"""The understanding check of a release, proof of reading, and practice scenarios.

Draft and release questions (a few multiple-choice questions about the changed cards), each
officer's answers (every try, bound to the question's hash), two agency settings (require the
check before acknowledging a release with major changes; require each changed card to be opened
before the attestation), on each acknowledgment the cards read and the hash of the answers,
and the practice scenarios a release (or a draft) carries.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0007_push_receipts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DraftQuestion',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('draft', fields.ForeignKeyField('models.Draft', source_field='draft_id', db_constraint=True, to_field='id', related_name='questions', on_delete=OnDelete.RESTRICT)),
                ('position', fields.IntField()),
                ('card_id', fields.CharField(max_length=100)),
                ('text', fields.TextField(unique=False)),
                ('choices', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('answer', fields.IntField()),
                ('explanation', fields.TextField(unique=False)),
                ('passage', fields.TextField(unique=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'draft_question', 'app': 'models', 'pk_attr': 'id', 'table_description': "A question of a draft's understanding check, about one card the draft changes."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReleaseQuestion',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('release', fields.ForeignKeyField('models.Release', source_field='release_id', db_constraint=True, to_field='id', related_name='questions', on_delete=OnDelete.RESTRICT)),
                ('position', fields.IntField()),
                ('card_id', fields.CharField(max_length=100)),
                ('text', fields.TextField(unique=False)),
                ('choices', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('answer', fields.IntField()),
                ('explanation', fields.TextField(unique=False)),
                ('passage', fields.TextField(unique=False)),
                ('hash', fields.CharField(max_length=64)),
            ],
            options={'table': 'release_question', 'app': 'models', 'unique_together': (('release', 'position'),), 'pk_attr': 'id', 'table_description': "A published question of a release's understanding check, immutable like its release."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CheckAnswer',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('agency', fields.ForeignKeyField('models.Agency', source_field='agency_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('release', fields.ForeignKeyField('models.Release', source_field='release_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('question', fields.ForeignKeyField('models.ReleaseQuestion', source_field='question_id', db_constraint=True, to_field='id', related_name='answers', on_delete=OnDelete.RESTRICT)),
                ('question_hash', fields.CharField(max_length=64)),
                ('uuid', fields.CharField(max_length=36)),
                ('tries', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('right_first_time', fields.BooleanField()),
                ('device_id', fields.CharField(null=True, max_length=64)),
                ('device_time', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'check_answer', 'app': 'models', 'unique_together': (('user', 'question'),), 'indexes': [Index(fields=['agency_id', 'release_id', 'question_id'])], 'pk_attr': 'id', 'table_description': "An officer's answer to one question of a release's check: every try, the last one right."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Acknowledgment',
            name='check_hash',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Acknowledgment',
            name='reading',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Agency',
            name='require_check',
            field=fields.BooleanField(default=True, db_default=True),
        ),
        ops.AddField(
            model_name='Agency',
            name='require_open',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Draft',
            name='scenarios',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Release',
            name='scenarios',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
    ]
