import functools
from enum import StrEnum
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

# The enums as they were when this migration was written, frozen here: a migration never
# imports the app's code, so changing server.models cannot change what this one means.


class Role(StrEnum):
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class DraftStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Agency',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('slug', fields.CharField(unique=True, max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('allow_self_approval', fields.BooleanField(null=True)),
                ('attestation', fields.TextField(null=True, unique=False)),
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
            name='LoginAttempt',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('email', fields.CharField(db_index=True, max_length=254)),
                ('address', fields.CharField(db_index=True, max_length=64)),
                ('succeeded', fields.BooleanField()),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'login_attempt', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A sign-in attempt, kept to throttle guessing per account and per address.'},
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
            name='AuditEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('agency', fields.ForeignKeyField('models.Agency', source_field='agency_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('actor', fields.ForeignKeyField('models.User', source_field='actor_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('action', fields.CharField(max_length=64)),
                ('target', fields.CharField(default='', max_length=200)),
                ('hash_before', fields.CharField(null=True, max_length=64)),
                ('hash_after', fields.CharField(null=True, max_length=64)),
                ('details', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'audit_entry', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An admin action, append-only: who did what, when, to which card or release.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Device',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='devices', on_delete=OnDelete.RESTRICT)),
                ('device_id', fields.CharField(max_length=64)),
                ('user_agent', fields.CharField(default='', max_length=300)),
                ('release_number', fields.IntField(null=True)),
                ('last_sync_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'device', 'app': 'models', 'unique_together': (('user', 'device_id'),), 'pk_attr': 'id', 'table_description': "One officer's phone or browser, known by a client-made id. Records its last sync."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Invitation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('agency', fields.ForeignKeyField('models.Agency', source_field='agency_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='invitations', on_delete=OnDelete.RESTRICT)),
                ('purpose', fields.CharField(max_length=8)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'invitation', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A single-use link to set a password: for a new user (invite) or a reset.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PushSubscription',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='push_subscriptions', on_delete=OnDelete.RESTRICT)),
                ('device_id', fields.CharField(null=True, max_length=64)),
                ('endpoint', fields.CharField(unique=True, max_length=1000)),
                ('p256dh', fields.CharField(max_length=200)),
                ('auth', fields.CharField(max_length=100)),
                ('user_agent', fields.CharField(default='', max_length=300)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_failure_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_failure', fields.CharField(null=True, max_length=300)),
            ],
            options={'table': 'push_subscription', 'app': 'models', 'pk_attr': 'id', 'table_description': "A Web Push subscription of one officer's device."},
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
            name='Acknowledgment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('agency', fields.ForeignKeyField('models.Agency', source_field='agency_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('seq', fields.IntField()),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='acknowledgments', on_delete=OnDelete.RESTRICT)),
                ('release', fields.ForeignKeyField('models.Release', source_field='release_id', db_constraint=True, to_field='id', related_name='acknowledgments', on_delete=OnDelete.RESTRICT)),
                ('uuid', fields.CharField(unique=True, max_length=36)),
                ('card_hashes', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('attestation', fields.TextField(unique=False)),
                ('device_time', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('device_id', fields.CharField(null=True, max_length=64)),
                ('prev_hash', fields.CharField(max_length=64)),
                ('row_hash', fields.CharField(max_length=64)),
            ],
            options={'table': 'acknowledgment', 'app': 'models', 'unique_together': (('agency', 'seq'), ('user', 'release')), 'indexes': [Index(fields=['agency_id', 'release_id', 'user_id'])], 'pk_attr': 'id', 'table_description': "An officer's acknowledgment of a release: append-only and hash-chained per agency."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Draft',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('agency', fields.ForeignKeyField('models.Agency', source_field='agency_id', db_constraint=True, to_field='id', related_name='drafts', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharEnumField(default=DraftStatus.DRAFT, description='DRAFT: draft\nIN_REVIEW: in_review\nAPPROVED: approved\nPUBLISHED: published\nWITHDRAWN: withdrawn', enum_type=DraftStatus, max_length=16)),
                ('summary', fields.TextField(default='', unique=False)),
                ('base_release', fields.ForeignKeyField('models.Release', source_field='base_release_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('order', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('due_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('author', fields.ForeignKeyField('models.User', source_field='author_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('reviewer', fields.ForeignKeyField('models.User', source_field='reviewer_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('review_comment', fields.TextField(null=True, unique=False)),
                ('submitted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reviewed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('published_release', fields.ForeignKeyField('models.Release', source_field='published_release_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'draft', 'app': 'models', 'pk_attr': 'id', 'table_description': "An agency's proposed revision: collects card edits until it is reviewed and published."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DraftCard',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('draft', fields.ForeignKeyField('models.Draft', source_field='draft_id', db_constraint=True, to_field='id', related_name='cards', on_delete=OnDelete.RESTRICT)),
                ('card_id', fields.CharField(max_length=100)),
                ('action', fields.CharField(max_length=8)),
                ('data', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('change_class', fields.CharField(default='major', max_length=8)),
                ('base_hash', fields.CharField(null=True, max_length=64)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'draft_card', 'app': 'models', 'unique_together': (('draft', 'card_id'),), 'pk_attr': 'id', 'table_description': 'One card a draft adds, edits or retires, with its change class.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PushOutbox',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('agency', fields.ForeignKeyField('models.Agency', source_field='agency_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('subscription', fields.ForeignKeyField('models.PushSubscription', source_field='subscription_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('endpoint', fields.CharField(max_length=1000)),
                ('release', fields.ForeignKeyField('models.Release', source_field='release_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharField(max_length=16)),
                ('payload', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('topic', fields.CharField(max_length=32)),
                ('urgency', fields.CharField(default='normal', max_length=8)),
                ('ttl', fields.IntField(default=86400)),
                ('status', fields.CharField(default='pending', db_index=True, max_length=8)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(null=True, max_length=300)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'push_outbox', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One notice to one subscription, written with the release and drained by the push worker.'},
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
                ('change', fields.CharField(null=True, max_length=8)),
                ('base_hash', fields.CharField(null=True, max_length=64)),
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
