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
    # None: the default rule (self-approval only while the agency has fewer than two admins).
    allow_self_approval = fields.BooleanField(null=True)
    # None: "I have read and understand the changes in release N."
    attestation = fields.TextField(null=True)
    # The understanding check: a release with major changes and questions is answered before
    # it can be acknowledged (server/guidance/questions.py).
    require_check = fields.BooleanField(default=True, db_default=True)
    # Each changed card is opened on the device before the attestation can be ticked.
    require_open = fields.BooleanField(default=False, db_default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "agency"


class User(Model):
    """A person with one role within one agency. Never deleted, only deactivated."""

    id = fields.IntField(primary_key=True)
    agency: fields.ForeignKeyRelation[Agency] = fields.ForeignKeyField(
        "models.Agency", related_name="users", on_delete=fields.RESTRICT
    )
    # Unique within an agency only (lower-cased by server/people/accounts.check_email), so one
    # agency can neither see nor block another's use of an address; indexed for sign-in.
    email = fields.CharField(max_length=254, db_index=True)
    name = fields.CharField(max_length=200)
    role = fields.CharEnumField(Role, max_length=16)
    password_hash = fields.CharField(max_length=200, null=True)
    active = fields.BooleanField(default=True, db_default=True)
    school = fields.CharField(max_length=200, null=True)
    # Email about releases that do not require acknowledgment (the officer's choice on /alerts);
    # required-acknowledgment notices and reminders are sent whatever this says.
    email_optional = fields.BooleanField(default=True, db_default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "user"
        unique_together = (("agency", "email"),)
        # The dashboard counts an agency's active officers by when they joined (index only). Its
        # officer lists also use user_roster_order, an expression index made in migration 0004.
        indexes = (("agency_id", "role", "active", "created_at"),)


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
    # Practice scenarios built from the flow ([{id, title, situation, choices, ...}]); None before they existed.
    scenarios = fields.JSONField(null=True)
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
    # How this card changed from the previous release: added, major, minor, or None (same).
    change = fields.CharField(max_length=8, null=True)
    # The base (NASRO) version this card was last aligned with; None for a local card.
    base_hash = fields.CharField(max_length=64, null=True)
    # Which release introduced each agency-written part of the card (provenance.release_origins);
    # None for releases published before it was recorded.
    origins = fields.JSONField(null=True)

    class Meta:
        table = "release_card"
        unique_together = (("release", "card_id"),)


class Invitation(Model):
    """A single-use link to set a password: for a new user (invite) or a reset."""

    id = fields.IntField(primary_key=True)
    agency: fields.ForeignKeyRelation[Agency] = fields.ForeignKeyField(
        "models.Agency", related_name=False, on_delete=fields.RESTRICT
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="invitations", on_delete=fields.RESTRICT
    )
    purpose = fields.CharField(max_length=8)  # invite | reset
    token_hash = fields.CharField(max_length=64, unique=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "invitation"


class LoginAttempt(Model):
    """A sign-in attempt, kept to throttle guessing per account and per address."""

    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, db_index=True)
    address = fields.CharField(max_length=64, db_index=True)
    succeeded = fields.BooleanField()
    at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "login_attempt"


class DraftStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class Draft(Model):
    """An agency's proposed revision: collects card edits until it is reviewed and published."""

    id = fields.IntField(primary_key=True)
    agency: fields.ForeignKeyRelation[Agency] = fields.ForeignKeyField(
        "models.Agency", related_name="drafts", on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(DraftStatus, max_length=16, default=DraftStatus.DRAFT)
    summary = fields.TextField(default="")
    # The release this draft was started from; edits apply on top of it.
    base_release: fields.ForeignKeyRelation[Release] = fields.ForeignKeyField(
        "models.Release", related_name=False, on_delete=fields.RESTRICT
    )
    # Card ids in their new order, or None to keep the order of the base release.
    order = fields.JSONField(null=True)
    # The agency's practice scenarios as this draft leaves them, or None to keep the base release's.
    scenarios = fields.JSONField(null=True)
    due_at = fields.DatetimeField(null=True)
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.RESTRICT
    )
    reviewer: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    review_comment = fields.TextField(null=True)
    submitted_at = fields.DatetimeField(null=True)
    reviewed_at = fields.DatetimeField(null=True)
    published_release: fields.ForeignKeyNullableRelation[Release] = fields.ForeignKeyField(
        "models.Release", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "draft"


class DraftCard(Model):
    """One card a draft adds, edits or retires, with its change class."""

    id = fields.IntField(primary_key=True)
    draft: fields.ForeignKeyRelation[Draft] = fields.ForeignKeyField(
        "models.Draft", related_name="cards", on_delete=fields.RESTRICT
    )
    card_id = fields.CharField(max_length=100)
    action = fields.CharField(max_length=8)  # add | edit | retire
    data = fields.JSONField(null=True)  # whole card data for add/edit
    change_class = fields.CharField(max_length=8, default="major")  # major | minor
    # Set when this edit takes in a new base (NASRO) version of the card.
    base_hash = fields.CharField(max_length=64, null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "draft_card"
        unique_together = (("draft", "card_id"),)


class DraftQuestion(Model):
    """A question of a draft's understanding check, about one card the draft changes."""

    id = fields.IntField(primary_key=True)
    draft: fields.ForeignKeyRelation[Draft] = fields.ForeignKeyField(
        "models.Draft", related_name="questions", on_delete=fields.RESTRICT
    )
    position = fields.IntField()
    card_id = fields.CharField(max_length=100)
    text = fields.TextField()
    choices = fields.JSONField()  # 2 to 4 answer texts
    answer = fields.IntField()  # index of the right one in choices
    explanation = fields.TextField()  # one line, shown after a wrong answer
    passage = fields.TextField()  # words of the card that answer it, shown after a wrong answer
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "draft_question"


class AuditEntry(Model):
    """An admin action, append-only: who did what, when, to which card or release."""

    id = fields.IntField(primary_key=True)
    agency: fields.ForeignKeyRelation[Agency] = fields.ForeignKeyField(
        "models.Agency", related_name=False, on_delete=fields.RESTRICT
    )
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    action = fields.CharField(max_length=64)
    target = fields.CharField(max_length=200, default="")
    hash_before = fields.CharField(max_length=64, null=True)
    hash_after = fields.CharField(max_length=64, null=True)
    details = fields.JSONField(default=dict)
    at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "audit_entry"


class Device(Model):
    """One officer's phone or browser, known by a client-made id. Records its last sync."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="devices", on_delete=fields.RESTRICT
    )
    device_id = fields.CharField(max_length=64)
    user_agent = fields.CharField(max_length=300, default="")
    release_number = fields.IntField(null=True)
    last_sync_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "device"
        unique_together = (("user", "device_id"),)


class Acknowledgment(Model):
    """An officer's acknowledgment of a release: append-only and hash-chained per agency."""

    id = fields.IntField(primary_key=True)
    agency: fields.ForeignKeyRelation[Agency] = fields.ForeignKeyField(
        "models.Agency", related_name=False, on_delete=fields.RESTRICT
    )
    seq = fields.IntField()  # position in the agency's chain, from 1
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="acknowledgments", on_delete=fields.RESTRICT
    )
    release: fields.ForeignKeyRelation[Release] = fields.ForeignKeyField(
        "models.Release", related_name="acknowledgments", on_delete=fields.RESTRICT
    )
    uuid = fields.CharField(max_length=36, unique=True)
    card_hashes = fields.JSONField()
    attestation = fields.TextField()
    device_time = fields.DatetimeField(null=True)
    received_at = fields.DatetimeField()
    device_id = fields.CharField(max_length=64, null=True)
    prev_hash = fields.CharField(max_length=64)
    row_hash = fields.CharField(max_length=64)
    # Ed25519 signature of the row_hash (hex) and the id of the key that made it
    # (server/ledger_signing.py); None for rows recorded before rows were signed.
    signature = fields.CharField(max_length=128, null=True)
    key_id = fields.CharField(max_length=16, null=True)
    # Proof of reading: the changed cards opened on the device, [{card_id, hash, seconds}].
    reading = fields.JSONField(null=True)
    # SHA-256 binding the officer's check answers for this release (question hashes and tries).
    check_hash = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "acknowledgment"
        unique_together = (("agency", "seq"), ("user", "release"))
        # Covers the supervisor dashboard's reads of one release: who acknowledged (pages, counts
        # per school) and when (the completion chart), from the index alone.
        indexes = (("agency_id", "release_id", "user_id", "received_at"),)


class ReleaseQuestion(Model):
    """A published question of a release's understanding check, immutable like its release."""

    id = fields.IntField(primary_key=True)
    release: fields.ForeignKeyRelation[Release] = fields.ForeignKeyField(
        "models.Release", related_name="questions", on_delete=fields.RESTRICT
    )
    position = fields.IntField()
    card_id = fields.CharField(max_length=100)
    text = fields.TextField()
    choices = fields.JSONField()
    answer = fields.IntField()
    explanation = fields.TextField()
    passage = fields.TextField()
    # SHA-256 of the question's canonical content: answers are bound to the exact question asked.
    hash = fields.CharField(max_length=64)

    class Meta:
        table = "release_question"
        unique_together = (("release", "position"),)


class CheckAnswer(Model):
    """An officer's answer to one question of a release's check: every try, the last one right."""

    id = fields.IntField(primary_key=True)
    agency: fields.ForeignKeyRelation[Agency] = fields.ForeignKeyField(
        "models.Agency", related_name=False, on_delete=fields.RESTRICT
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.RESTRICT
    )
    release: fields.ForeignKeyRelation[Release] = fields.ForeignKeyField(
        "models.Release", related_name=False, on_delete=fields.RESTRICT
    )
    question: fields.ForeignKeyRelation[ReleaseQuestion] = fields.ForeignKeyField(
        "models.ReleaseQuestion", related_name="answers", on_delete=fields.RESTRICT
    )
    question_hash = fields.CharField(max_length=64)
    uuid = fields.CharField(max_length=36)  # the device's submission (one per release): a resend is the same
    tries = fields.JSONField()  # the choice indexes picked, in order
    right_first_time = fields.BooleanField()
    device_id = fields.CharField(max_length=64, null=True)
    device_time = fields.DatetimeField(null=True)
    received_at = fields.DatetimeField()

    class Meta:
        table = "check_answer"
        unique_together = (("user", "question"),)
        indexes = (("agency_id", "release_id", "question_id"),)


class LedgerCheckpoint(Model):
    """A signed statement of an agency's ledger at one moment: row count and head hash."""

    id = fields.IntField(primary_key=True)
    agency: fields.ForeignKeyRelation[Agency] = fields.ForeignKeyField(
        "models.Agency", related_name=False, on_delete=fields.RESTRICT
    )
    count = fields.IntField()
    head = fields.CharField(max_length=64)
    made_at = fields.DatetimeField()
    key_id = fields.CharField(max_length=16)
    # The canonical JSON that was signed, exactly, and its Ed25519 signature (hex).
    body = fields.TextField()
    signature = fields.CharField(max_length=128)
    reason = fields.CharField(max_length=16)  # export | command | download

    class Meta:
        table = "ledger_checkpoint"
        indexes = (("agency_id", "made_at"),)


class ReleaseTally(Model):
    """Per release, the acknowledgments that count (server/tally.py keeps it with each change)."""

    id = fields.IntField(primary_key=True)
    release: fields.OneToOneRelation[Release] = fields.OneToOneField(
        "models.Release", related_name="tally", on_delete=fields.RESTRICT
    )
    acknowledged = fields.IntField(default=0)
    # Of those, received after the due date.
    late = fields.IntField(default=0)

    class Meta:
        table = "release_tally"


class PushSubscription(Model):
    """A Web Push subscription of one officer's device."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="push_subscriptions", on_delete=fields.RESTRICT
    )
    device_id = fields.CharField(max_length=64, null=True)
    endpoint = fields.CharField(max_length=1000, unique=True)
    p256dh = fields.CharField(max_length=200)
    auth = fields.CharField(max_length=100)
    user_agent = fields.CharField(max_length=300, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    last_delivered_at = fields.DatetimeField(null=True)
    last_failure_at = fields.DatetimeField(null=True)
    last_failure = fields.CharField(max_length=300, null=True)

    class Meta:
        table = "push_subscription"


class PushReceipt(Model):
    """A release notice shown on an officer's device, as the device's service worker reported it."""

    id = fields.IntField(primary_key=True)
    agency: fields.ForeignKeyRelation[Agency] = fields.ForeignKeyField(
        "models.Agency", related_name=False, on_delete=fields.RESTRICT
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.RESTRICT
    )
    release: fields.ForeignKeyRelation[Release] = fields.ForeignKeyField(
        "models.Release", related_name=False, on_delete=fields.RESTRICT
    )
    device_id = fields.CharField(max_length=64)
    uuid = fields.CharField(max_length=36, unique=True)  # made by the device: a resend is the same receipt
    kind = fields.CharField(max_length=16)  # release | reminder
    shown_at = fields.DatetimeField(null=True)  # the device's clock
    received_at = fields.DatetimeField()

    class Meta:
        table = "push_receipt"
        # One receipt per device and release (the first notice shown); the supervisor's reads
        # (one page of officers for a release, one officer's history) use this index.
        unique_together = (("user", "release", "device_id"),)


class PushOutbox(Model):
    """One notice to one subscription, written with the release and drained by the push worker."""

    id = fields.IntField(primary_key=True)
    agency: fields.ForeignKeyRelation[Agency] = fields.ForeignKeyField(
        "models.Agency", related_name=False, on_delete=fields.RESTRICT
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.RESTRICT
    )
    subscription: fields.ForeignKeyNullableRelation[PushSubscription] = fields.ForeignKeyField(
        "models.PushSubscription", null=True, related_name=False, on_delete=fields.SET_NULL
    )
    endpoint = fields.CharField(max_length=1000)
    release: fields.ForeignKeyNullableRelation[Release] = fields.ForeignKeyField(
        "models.Release", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    kind = fields.CharField(max_length=16)  # release | reminder
    payload = fields.JSONField()
    topic = fields.CharField(max_length=32)
    urgency = fields.CharField(max_length=8, default="normal")
    ttl = fields.IntField(default=86400)
    status = fields.CharField(max_length=8, default="pending", db_index=True)  # pending|sent|failed|gone
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(db_index=True)
    last_error = fields.CharField(max_length=300, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "push_outbox"


class EmailOutbox(Model):
    """One email to one address, written in the transaction that causes it and drained by the mail worker."""

    id = fields.IntField(primary_key=True)
    agency: fields.ForeignKeyRelation[Agency] = fields.ForeignKeyField(
        "models.Agency", related_name=False, on_delete=fields.RESTRICT
    )
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    release: fields.ForeignKeyNullableRelation[Release] = fields.ForeignKeyField(
        "models.Release", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    to_address = fields.CharField(max_length=254)
    kind = fields.CharField(max_length=16)  # invite | reset | release | reminder
    subject = fields.CharField(max_length=300)
    text = fields.TextField()
    html = fields.TextField()
    status = fields.CharField(max_length=8, default="pending")  # pending|sent|failed|replaced
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    last_error = fields.CharField(max_length=300, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "email_outbox"
        indexes = (("status", "next_attempt_at"), ("release_id", "user_id"))
