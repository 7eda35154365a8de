"""Database models: agencies, people, sessions, content-addressed cards and immutable releases."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Role(StrEnum):
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Agency(Model):
    """A law enforcement agency running its own policy on the NASRO base."""

    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "agency"


class User(Model):
    """A person with one role within one agency. Never deleted, only deactivated."""

    id = fields.IntField(primary_key=True)
    agency: fields.ForeignKeyRelation[Agency] = fields.ForeignKeyField(
        "models.Agency", related_name="users", on_delete=fields.RESTRICT
    )
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=200)
    role = fields.CharEnumField(Role, max_length=16)
    password_hash = fields.CharField(max_length=200, null=True)
    active = fields.BooleanField(default=True, db_default=True)
    school = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "user"


class Session(Model):
    """A server-side sign-in session. The cookie holds a token whose SHA-256 is the id."""

    id = fields.CharField(max_length=64, primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.RESTRICT
    )
    csrf_token = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    user_agent = fields.CharField(max_length=300, default="")

    class Meta:
        table = "session"


class CardVersion(Model):
    """One immutable version of a card, addressed by the SHA-256 of its canonical content."""

    hash = fields.CharField(max_length=64, primary_key=True)
    card_id = fields.CharField(max_length=100, db_index=True)
    data = fields.JSONField()
    html = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "card_version"


class BaseCard(Model):
    """The base (NASRO) card shipped in content/ with this version of the app."""

    card_id = fields.CharField(max_length=100, primary_key=True)
    version: fields.ForeignKeyRelation[CardVersion] = fields.ForeignKeyField(
        "models.CardVersion", related_name=False, to_field="hash", on_delete=fields.RESTRICT
    )
    position = fields.IntField()
    loaded_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "base_card"


class Release(Model):
    """An immutable, numbered snapshot of an agency's whole guidance."""

    id = fields.IntField(primary_key=True)
    agency: fields.ForeignKeyRelation[Agency] = fields.ForeignKeyField(
        "models.Agency", related_name="releases", on_delete=fields.RESTRICT
    )
    number = fields.IntField()
    summary = fields.TextField()
    due_at = fields.DatetimeField(null=True)
    requires_ack = fields.BooleanField(default=True, db_default=True)
    published_at = fields.DatetimeField(auto_now_add=True)
    author: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    approver: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    publisher: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    categories = fields.JSONField()
    flow = fields.JSONField()
    manifest_hash = fields.CharField(max_length=64)

    class Meta:
        table = "release"
        unique_together = (("agency", "number"),)


class ReleaseCard(Model):
    """A card of a release, pointing at its immutable version."""

    id = fields.IntField(primary_key=True)
    release: fields.ForeignKeyRelation[Release] = fields.ForeignKeyField(
        "models.Release", related_name="cards", on_delete=fields.RESTRICT
    )
    card_id = fields.CharField(max_length=100)
    position = fields.IntField()
    version: fields.ForeignKeyRelation[CardVersion] = fields.ForeignKeyField(
        "models.CardVersion", related_name=False, to_field="hash", on_delete=fields.RESTRICT
    )

    class Meta:
        table = "release_card"
        unique_together = (("release", "card_id"),)
