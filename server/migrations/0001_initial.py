from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from server.models import Role
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Agency',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('slug', fields.CharField(unique=True, max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'agency', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A law enforcement agency running its own policy on the NASRO base.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CardVersion',
            fields=[
                ('hash', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('card_id', fields.CharField(db_index=True, max_length=100)),
                ('data', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('html', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'card_version', 'app': 'models', 'pk_attr': 'hash', 'table_description': 'One immutable version of a card, addressed by the SHA-256 of its canonical content.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BaseCard',
            fields=[
                ('card_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=100)),
                ('version', fields.ForeignKeyField('models.CardVersion', source_field='version_id', db_constraint=True, to_field='hash', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('position', fields.IntField()),
                ('loaded_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'base_card', 'app': 'models', 'pk_attr': 'card_id', 'table_description': 'The base (NASRO) card shipped in content/ with this version of the app.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('agency', fields.ForeignKeyField('models.Agency', source_field='agency_id', db_constraint=True, to_field='id', related_name='users', on_delete=OnDelete.RESTRICT)),
                ('email', fields.CharField(unique=True, max_length=254)),
                ('name', fields.CharField(max_length=200)),
                ('role', fields.CharEnumField(description='OFFICER: officer\nSUPERVISOR: supervisor\nADMIN: admin', enum_type=Role, max_length=16)),
                ('password_hash', fields.CharField(null=True, max_length=200)),
                ('active', fields.BooleanField(default=True, db_default=True)),
                ('school', fields.CharField(null=True, max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'user', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A person with one role within one agency. Never deleted, only deactivated.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Release',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('agency', fields.ForeignKeyField('models.Agency', source_field='agency_id', db_constraint=True, to_field='id', related_name='releases', on_delete=OnDelete.RESTRICT)),
                ('number', fields.IntField()),
                ('summary', fields.TextField(unique=False)),
                ('due_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('requires_ack', fields.BooleanField(default=True, db_default=True)),
                ('published_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('author', fields.ForeignKeyField('models.User', source_field='author_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('approver', fields.ForeignKeyField('models.User', source_field='approver_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('publisher', fields.ForeignKeyField('models.User', source_field='publisher_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('categories', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('flow', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('manifest_hash', fields.CharField(max_length=64)),
            ],
            options={'table': 'release', 'app': 'models', 'unique_together': (('agency', 'number'),), 'pk_attr': 'id', 'table_description': "An immutable, numbered snapshot of an agency's whole guidance."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReleaseCard',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('release', fields.ForeignKeyField('models.Release', source_field='release_id', db_constraint=True, to_field='id', related_name='cards', on_delete=OnDelete.RESTRICT)),
                ('card_id', fields.CharField(max_length=100)),
                ('position', fields.IntField()),
                ('version', fields.ForeignKeyField('models.CardVersion', source_field='version_id', db_constraint=True, to_field='hash', related_name=False, on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'release_card', 'app': 'models', 'unique_together': (('release', 'card_id'),), 'pk_attr': 'id', 'table_description': 'A card of a release, pointing at its immutable version.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Session',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.RESTRICT)),
                ('csrf_token', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('user_agent', fields.CharField(default='', max_length=300)),
            ],
            options={'table': 'session', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A server-side sign-in session. The cookie holds a token whose SHA-256 is the id.'},
            bases=['Model'],
        ),
    ]
