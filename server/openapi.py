"""The OpenAPI description of /api/v1/, kept next to the code it describes."""

from __future__ import annotations

from . import __version__


def _error():
    return {"$ref": "#/components/responses/Error"}


def openapi_schema() -> dict:
    """OpenAPI 3.1 document for the read API."""
    release_param = {
        "name": "release",
        "in": "query",
        "required": False,
        "description": "A release number of the agency; omit for the current release.",
        "schema": {"type": "integer", "minimum": 1},
    }
    etag_header = {"ETag": {"description": "Strong validator.", "schema": {"type": "string"}}}
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
                    "summary": "A whole release (manifest, card bodies, flow, search text) in one response.",
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
            "/api/v1/search": {
                "get": {
                    "summary": "Cards of the release matching a query, best first.",
                    "parameters": [
                        {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200}},
                        release_param,
                    ],
                    "responses": {"200": {"description": "Results"}, "400": _error(), "401": _error()},
                }
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
                    },
                },
            },
        },
    }
