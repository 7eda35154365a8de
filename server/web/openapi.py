"""The OpenAPI description of /api/v1/, kept next to the code it describes."""

from __future__ import annotations

from server import __version__
from server.params import DEVICE_ID_PATTERN, MAX_RELEASE

PUSH_ENDPOINT_RULES = (
    "https on the default port to a browser's push service (or a FIELDGUIDE_PUSH_EXTRA_HOSTS host); no "
    "user name, fragment, spaces, backslashes or control characters."
)


def _error():
    return {"$ref": "#/components/responses/Error"}


def openapi_schema() -> dict:
    """OpenAPI 3.1 document for the read API."""
    release_param = {
        "name": "release",
        "in": "query",
        "required": False,
        "description": "A release number of the agency; omit for the current release.",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_RELEASE},
    }
    etag_header = {"ETag": {"description": "Strong validator.", "schema": {"type": "string"}}}
    csrf_header = {
        "name": "X-CSRF-Token",
        "in": "header",
        "required": True,
        "description": "The session's CSRF token (the page's <meta name=\"csrf-token\">).",
        "schema": {"type": "string"},
    }
    subscribed = {"application/json": {"schema": {"$ref": "#/components/schemas/PushSubscribed"}}}
    checked_header = {
        "Fieldguide-Checked-At": {
            "description": "Server time of this answer (ISO 8601): when the device last checked.",
            "schema": {"type": "string", "format": "date-time"},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SRO Field Guide API",
            "version": __version__,
            "description": "Read access to the signed-in user's agency guidance. "
            "Authentication: the session cookie set by POST /sign-in.",
        },
        "paths": {
            "/api/v1/manifest": {
                "get": {
                    "summary": "The release manifest: card ids, titles and content hashes.",
                    "parameters": [release_param],
                    "responses": {
                        "200": {
                            "description": "Manifest",
                            "headers": etag_header,
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Manifest"}}},
                        },
                        "304": {"description": "If-None-Match matched the current ETag."},
                        "400": _error(),
                        "401": _error(),
                        "404": _error(),
                    },
                }
            },
            "/api/v1/bundle": {
                "get": {
                    "summary": "A whole release (manifest, card bodies, flow, search index) in one response.",
                    "parameters": [release_param],
                    "responses": {
                        "200": {"description": "Bundle", "headers": etag_header},
                        "304": {"description": "Not modified."},
                        "400": _error(),
                        "401": _error(),
                        "404": _error(),
                    },
                }
            },
            "/api/v1/cards/{hash}": {
                "get": {
                    "summary": "One card version by its SHA-256 content hash (immutable).",
                    "parameters": [
                        {
                            "name": "hash",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "Card",
                            "headers": etag_header,
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Card"}}},
                        },
                        "304": {"description": "Not modified."},
                        "400": _error(),
                        "401": _error(),
                        "404": _error(),
                    },
                }
            },
            "/api/v1/sync": {
                "get": {
                    "summary": "Delta sync: 304 when the device is current, else the manifest "
                    "and only the card bodies and page fragments the device lacks.",
                    "description": "See docs/sync.md. The device names what it holds with "
                    "If-None-Match (the manifest ETag it holds) or ?have=N, and identifies "
                    "itself with the Fieldguide-Device header so its last sync is recorded.",
                    "parameters": [
                        {
                            "name": "have",
                            "in": "query",
                            "required": False,
                            "description": "The release number the device holds (If-None-Match is preferred).",
                            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_RELEASE},
                        },
                        {
                            "name": "If-None-Match",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "Fieldguide-Device",
                            "in": "header",
                            "required": False,
                            "description": "The device's own id: 8-64 letters, digits, '-' or '_'.",
                            "schema": {"type": "string", "pattern": DEVICE_ID_PATTERN},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The current release, as a delta from the one the device holds.",
                            "headers": {**etag_header, **checked_header},
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Sync"}}},
                        },
                        "304": {
                            "description": "The device holds the current release.",
                            "headers": {**etag_header, **checked_header},
                        },
                        "400": _error(),
                        "401": _error(),
                        "404": _error(),
                    },
                }
            },
            "/api/v1/search": {
                "get": {
                    "summary": "Cards of the release for a query, best first, and whether any is a close match.",
                    "description": "Ranked with the release's search index, as the offline app ranks "
                    "(see server/search.py). When no card covers half of the query, close is false and "
                    "only the closest cards (at most 5) are listed.",
                    "parameters": [
                        {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200}},
                        release_param,
                    ],
                    "responses": {
                        "200": {
                            "description": "Results",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SearchResults"}}},
                        },
                        "400": _error(),
                        "401": _error(),
                        "404": _error(),
                    },
                }
            },
            "/api/v1/acks": {
                "post": {
                    "summary": "Record the signed-in user's acknowledgment of a release (idempotent).",
                    "description": "Exactly one acknowledgment exists per officer and release: a replay "
                    "with the same uuid, or another uuid for the same release, returns the stored one "
                    "with 200. See docs/ledger.md for the hash chain each acknowledgment joins.",
                    "parameters": [csrf_header],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AckRequest"}}},
                    },
                    "responses": {
                        "201": {
                            "description": "Recorded now.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ack"}}},
                        },
                        "200": {
                            "description": "Already recorded: the stored acknowledgment.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ack"}}},
                        },
                        "400": _error(),
                        "401": _error(),
                        "403": _error(),
                        "404": _error(),
                        "409": _error(),
                    },
                },
                "get": {
                    "summary": "The signed-in user's own acknowledgments, newest release first.",
                    "responses": {
                        "200": {
                            "description": "Acknowledgments",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["acks"],
                                        "properties": {"acks": {"type": "array", "items": {"$ref": "#/components/schemas/Ack"}}},
                                    }
                                }
                            },
                        },
                        "401": _error(),
                    },
                },
            },
            "/api/v1/answers": {
                "post": {
                    "summary": "Record the signed-in user's answers to a release's understanding check (idempotent).",
                    "description": "Every question of the release in one submission, each with the choices picked "
                    "in order, the last one right. One set of answers exists per officer and release: a replay "
                    "with the same uuid, or another uuid for an answered release, returns the recorded answers "
                    "with 200. 409 when the release has no questions; 400 names the field at fault and records "
                    "nothing. See docs/api.md.",
                    "parameters": [csrf_header],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AnswersRequest"}}},
                    },
                    "responses": {
                        "201": {
                            "description": "Recorded now.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Answers"}}},
                        },
                        "200": {
                            "description": "Already recorded: the stored answers.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Answers"}}},
                        },
                        "400": _error(),
                        "401": _error(),
                        "403": _error(),
                        "404": _error(),
                        "409": _error(),
                    },
                },
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness: 200 while the process answers (no database query, no sign-in).",
                    "responses": {
                        "200": {
                            "description": "Alive",
                            "content": {"application/json": {"schema": {
                                "type": "object", "required": ["status"], "properties": {"status": {"const": "alive"}},
                            }}},
                        },
                    },
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: the database answers and its migrations are current; the push backlog.",
                    "responses": {
                        "200": {
                            "description": "Ready",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ready"}}},
                        },
                        "503": {
                            "description": "Not ready, and why",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NotReady"}}},
                        },
                    },
                }
            },
            "/ledger/public-key.pem": {
                "get": {
                    "summary": "The public key (Ed25519, PEM) that checks the signatures of ledger rows and checkpoints.",
                    "responses": {
                        "200": {
                            "description": "The key; its key id is in the X-Key-Id header.",
                            "content": {"application/x-pem-file": {"schema": {"type": "string"}}},
                        },
                    },
                }
            },
            "/api/v1/push/key": {
                "get": {
                    "summary": "The server's VAPID application server key, for PushManager.subscribe.",
                    "responses": {
                        "200": {
                            "description": "Key",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["public_key"],
                                        "properties": {"public_key": {"type": "string", "description": "P-256 point, base64url"}},
                                    }
                                }
                            },
                        },
                        "401": _error(),
                    },
                }
            },
            "/api/v1/push/receipts": {
                "post": {
                    "summary": "Record that this device showed a notice about a release (idempotent).",
                    "description": "Sent by the service worker when it shows a notice, or later from its "
                    "offline queue. One receipt stands per officer, release and device: a replay with the "
                    "same uuid, or another uuid for the same release and device, returns the stored one with 200.",
                    "parameters": [csrf_header],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PushReceiptRequest"}}},
                    },
                    "responses": {
                        "201": {
                            "description": "Recorded now.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PushReceipt"}}},
                        },
                        "200": {
                            "description": "Already recorded: the stored receipt.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PushReceipt"}}},
                        },
                        "400": _error(),
                        "401": _error(),
                        "403": _error(),
                        "404": _error(),
                    },
                },
            },
            "/api/v1/push/subscriptions": {
                "post": {
                    "summary": "Store this device's push subscription for the signed-in user (idempotent by endpoint).",
                    "parameters": [csrf_header],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PushSubscription"}}},
                    },
                    "responses": {
                        "200": {"description": "Already stored; keys refreshed.", "content": subscribed},
                        "201": {"description": "Stored.", "content": subscribed},
                        "400": _error(),
                        "401": _error(),
                        "403": _error(),
                        "409": _error(),
                    },
                },
                "delete": {
                    "summary": "Forget one of the signed-in user's subscriptions.",
                    "parameters": [csrf_header],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["endpoint"],
                                    "properties": {"endpoint": {"type": "string"}},
                                }
                            }
                        },
                    },
                    "responses": {
                        "204": {"description": "Forgotten."},
                        "400": _error(),
                        "401": _error(),
                        "403": _error(),
                        "404": _error(),
                    },
                },
            },
        },
        "components": {
            "responses": {
                "Error": {
                    "description": "An error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            },
            "schemas": {
                "AckRequest": {
                    "type": "object",
                    "required": ["uuid", "release", "card_hashes"],
                    "properties": {
                        "uuid": {"type": "string", "format": "uuid", "description": "Made by the client: the idempotency key."},
                        "release": {"type": "integer", "minimum": 1, "maximum": MAX_RELEASE},
                        "card_hashes": {
                            "type": "array",
                            "items": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                            "minItems": 1,
                            "description": "Content hashes of the cards shown (each a card of the release; at least one).",
                        },
                        "device_time": {
                            "type": ["string", "null"],
                            "format": "date-time",
                            "description": "With a time zone; from 2000-01-01T00:00:00Z to the end of 2099 (UTC).",
                        },
                        "device_id": {"type": ["string", "null"], "pattern": DEVICE_ID_PATTERN},
                        "attestation": {
                            "type": "string",
                            "description": "The sentence shown to the officer; kept when it is a wording the agency used.",
                        },
                        "reading": {
                            "type": ["array", "null"],
                            "description": "The cards opened on the device before acknowledging, each once.",
                            "items": {
                                "type": "object",
                                "required": ["card_id", "hash", "seconds"],
                                "additionalProperties": False,
                                "properties": {
                                    "card_id": {"type": "string"},
                                    "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                    "seconds": {"type": "integer", "minimum": 0, "maximum": 86400},
                                },
                            },
                        },
                    },
                },
                "Ack": {
                    "type": "object",
                    "required": ["uuid", "release", "received_at", "card_hashes", "seq", "row_hash"],
                    "properties": {
                        "uuid": {"type": "string"},
                        "release": {"type": "integer"},
                        "received_at": {"type": "string", "format": "date-time"},
                        "device_time": {"type": ["string", "null"], "format": "date-time"},
                        "card_hashes": {"type": "array", "items": {"type": "string"}},
                        "seq": {"type": "integer", "description": "Position in the agency's ledger."},
                        "row_hash": {"type": "string"},
                    },
                },
                "AnswersRequest": {
                    "type": "object",
                    "required": ["uuid", "release", "answers"],
                    "properties": {
                        "uuid": {"type": "string", "format": "uuid", "description": "Made by the device: the idempotency key."},
                        "release": {"type": "integer", "minimum": 1, "maximum": MAX_RELEASE},
                        "answers": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 5,
                            "description": "One per question of the release, every question answered.",
                            "items": {
                                "type": "object",
                                "required": ["question", "tries"],
                                "properties": {
                                    "question": {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "The question's hash."},
                                    "tries": {
                                        "type": "array",
                                        "minItems": 1,
                                        "maxItems": 4,
                                        "items": {"type": "integer", "minimum": 0, "maximum": 3},
                                        "description": "The choices picked, in order, none twice: only the last one right.",
                                    },
                                },
                            },
                        },
                        "device_time": {
                            "type": ["string", "null"],
                            "format": "date-time",
                            "description": "With a time zone; from 2000-01-01T00:00:00Z to the end of 2099 (UTC).",
                        },
                        "device_id": {"type": ["string", "null"], "pattern": DEVICE_ID_PATTERN},
                    },
                },
                "Answers": {
                    "type": "object",
                    "required": ["uuid", "release", "received_at", "answers", "check_hash"],
                    "properties": {
                        "uuid": {"type": "string"},
                        "release": {"type": "integer"},
                        "received_at": {"type": "string", "format": "date-time"},
                        "answers": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["question", "tries", "right_first_time"],
                                "properties": {
                                    "question": {"type": "string"},
                                    "tries": {"type": "array", "items": {"type": "integer"}},
                                    "right_first_time": {"type": "boolean"},
                                },
                            },
                        },
                        "check_hash": {
                            "type": "string",
                            "description": "SHA-256 binding these answers; the acknowledgment of the release records it.",
                        },
                    },
                },
                "PushReceiptRequest": {
                    "type": "object",
                    "required": ["uuid", "release", "device_id"],
                    "properties": {
                        "uuid": {"type": "string", "format": "uuid", "description": "Made by the device: the idempotency key."},
                        "release": {"type": "integer", "minimum": 1, "maximum": MAX_RELEASE},
                        "kind": {"enum": ["release", "reminder"], "description": "The notice shown; release when left out."},
                        "device_id": {"type": "string", "pattern": DEVICE_ID_PATTERN},
                        "shown_at": {
                            "type": ["string", "null"],
                            "format": "date-time",
                            "description": "The device's time when it showed the notice, with a time zone; 2000 to 2099 (UTC).",
                        },
                    },
                },
                "PushReceipt": {
                    "type": "object",
                    "required": ["uuid", "release", "kind", "device_id", "shown_at", "received_at"],
                    "properties": {
                        "uuid": {"type": "string"},
                        "release": {"type": "integer"},
                        "kind": {"enum": ["release", "reminder"]},
                        "device_id": {"type": "string"},
                        "shown_at": {"type": ["string", "null"], "format": "date-time"},
                        "received_at": {"type": "string", "format": "date-time"},
                    },
                },
                "PushSubscription": {
                    "type": "object",
                    "required": ["endpoint", "keys"],
                    "properties": {
                        "endpoint": {"type": "string", "maxLength": 1000, "description": PUSH_ENDPOINT_RULES},
                        "expirationTime": {"type": ["number", "null"]},
                        "keys": {
                            "type": "object",
                            "required": ["p256dh", "auth"],
                            "properties": {"p256dh": {"type": "string"}, "auth": {"type": "string"}},
                        },
                        "device_id": {"type": "string", "pattern": DEVICE_ID_PATTERN},
                        "old_endpoint": {"type": "string", "description": "A subscription this one replaces."},
                    },
                },
                "Ready": {
                    "type": "object",
                    "required": ["status", "database", "migrations", "push"],
                    "properties": {
                        "status": {"const": "ready"},
                        "database": {"const": "ok"},
                        "migrations": {"const": "current"},
                        "push": {
                            "type": "object",
                            "required": ["pending", "oldest_pending_seconds"],
                            "properties": {
                                "pending": {"type": "integer", "minimum": 0, "description": "Notices not yet sent (waiting or being sent)"},
                                "oldest_pending_seconds": {
                                    "type": ["integer", "null"],
                                    "minimum": 0,
                                    "description": "Age of the oldest waiting notice (null when none waits)",
                                },
                            },
                        },
                    },
                },
                "NotReady": {
                    "type": "object",
                    "required": ["status", "reason"],
                    "properties": {
                        "status": {"const": "not ready"},
                        "reason": {"enum": ["database unreachable", "migrations behind"]},
                        "migrations_pending": {"type": "integer", "minimum": 1},
                    },
                },
                "PushSubscribed": {
                    "type": "object",
                    "required": ["endpoint", "created"],
                    "properties": {
                        "endpoint": {"type": "string"},
                        "created": {"type": "boolean"},
                        "dropped": {
                            "type": "array",
                            "description": "The person's least recently used subscriptions, dropped to stay within "
                            "FIELDGUIDE_MAX_DEVICES_PER_USER (present only when some were).",
                            "items": {
                                "type": "object",
                                "required": ["endpoint", "device"],
                                "properties": {"endpoint": {"type": "string"}, "device": {"type": "string"}},
                            },
                        },
                        "message": {"type": "string", "description": "Which devices stopped getting alerts, in words."},
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["code", "errno", "error", "message", "details"],
                    "properties": {
                        "code": {"type": "integer"},
                        "errno": {"type": "integer"},
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                        "details": {"type": "object"},
                    },
                },
                "Manifest": {
                    "type": "object",
                    "required": ["release", "etag", "cards", "categories"],
                    "properties": {
                        "release": {"type": "integer"},
                        "etag": {"type": "string"},
                        "published_at": {"type": "string", "format": "date-time"},
                        "due_at": {"type": ["string", "null"], "format": "date-time"},
                        "requires_ack": {"type": "boolean"},
                        "summary": {"type": "string"},
                        "checked_at": {"type": "string", "format": "date-time"},
                        "categories": {"type": "array", "items": {"type": "object"}},
                        "cards": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "hash", "title"],
                                "properties": {
                                    "id": {"type": "string"},
                                    "hash": {"type": "string"},
                                    "title": {"type": "string"},
                                    "category": {"type": "string"},
                                    "summary": {"type": "string"},
                                },
                            },
                        },
                    },
                },
                "Card": {
                    "type": "object",
                    "required": ["id", "hash", "title", "summary", "html"],
                    "properties": {
                        "id": {"type": "string"},
                        "hash": {"type": "string"},
                        "title": {"type": "string"},
                        "category": {"type": "string"},
                        "audience": {"type": "array", "items": {"type": "string"}},
                        "summary": {"type": "string"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "related": {"type": "array", "items": {"type": "string"}},
                        "source": {"type": "array", "items": {"type": "string"}},
                        "local_policy": {"type": "array", "items": {"type": "object"}},
                        "html": {"type": "string"},
                        "article": {
                            "type": "string",
                            "description": "The card page's article (HTML fragment), the same for every release holding this hash.",
                        },
                        "text": {"type": "string", "description": "Plain text of the body."},
                    },
                },
                "SearchResults": {
                    "type": "object",
                    "required": ["release", "query", "close", "results"],
                    "properties": {
                        "release": {"type": "integer"},
                        "query": {"type": "string", "description": "The query as used (stripped)."},
                        "close": {
                            "type": "boolean",
                            "description": "Whether some card covers at least half of the query.",
                        },
                        "results": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "title", "summary"],
                                "properties": {
                                    "id": {"type": "string"},
                                    "title": {"type": "string"},
                                    "summary": {"type": "string"},
                                },
                            },
                        },
                    },
                },
                "SearchIndex": {
                    "type": "object",
                    "description": "The release's search index, built on the server (see server/search_index.py); "
                    "postings name cards by their position in the manifest's cards.",
                    "required": ["format", "cards", "idf", "stop", "forms", "postings", "lexicon"],
                    "properties": {
                        "format": {"type": "integer"},
                        "cards": {"type": "integer"},
                        "idf": {"type": "array", "items": {"type": "integer"}},
                        "stop": {"type": "string", "description": "Stop words, space-separated."},
                        "forms": {
                            "type": "object",
                            "description": "Per term, its word forms, space-separated ('-ed': the term plus 'ed').",
                            "additionalProperties": {"type": "string"},
                        },
                        "postings": {
                            "type": "object",
                            "description": "Per term or phrase: [card, weight, card, weight, ...].",
                            "additionalProperties": {"type": "array", "items": {"type": "integer"}},
                        },
                        "lexicon": {
                            "type": "array",
                            "description": "Per lexicon entry: [its phrases' keys joined by '|', its postings].",
                            "items": {"type": "array"},
                        },
                    },
                },
                "Sync": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Manifest"},
                        {
                            "type": "object",
                            "required": [
                                "checked_at", "base", "retired", "card_bodies", "pages", "pages_kept", "search_index"
                            ],
                            "properties": {
                                "checked_at": {"type": "string", "format": "date-time"},
                                "base": {
                                    "type": ["integer", "null"],
                                    "description": "The release the delta is from; null: every card is sent.",
                                },
                                "retired": {"type": "array", "items": {"type": "string"}},
                                "card_bodies": {"type": "array", "items": {"$ref": "#/components/schemas/Card"}},
                                "pages": {
                                    "type": "object",
                                    "description": "Per path: {title, main[, card]} HTML fragments of the release "
                                    "that differ from the release the device holds (all of them when base is null).",
                                    "additionalProperties": {"type": "object"},
                                },
                                "pages_kept": {
                                    "type": "array",
                                    "items": {"type": "string"},
                                    "description": "Paths whose fragment the device keeps from the release it holds.",
                                },
                                "search_index": {
                                    "description": "The release's search index; null when it is the same as "
                                    "the held release's (the device keeps that one).",
                                    "oneOf": [{"$ref": "#/components/schemas/SearchIndex"}, {"type": "null"}],
                                },
                            },
                        },
                    ]
                },
            },
        },
    }
