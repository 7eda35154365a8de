"""Sync answers kept serialized (and gzipped) per process, so the same delta costs little the second time.

After a publish every phone of an agency asks for the same change: the answer for a device
holding release A, when the current release is B, is the same for every officer of the
agency (docs/sync.md, "What a check costs"). It is built once (offline_copy), serialized
and compressed once, and kept here by (held release id or None, current release id, current
ETag, fingerprint of the agency's part: server/web/offline_copy.py answer_fingerprint).
Releases never change, so an entry is never invalidated: a new attestation wording gives a
new fingerprint, hence a new entry, and the old one drops out of the LRU.

Only `checked_at` differs between two answers: it is the body's last member, so the kept
JSON stops just before it and each answer appends it. The gzip form is kept the same way: a
gzip header and the JSON up to there deflated and flushed to a byte boundary (deflate blocks
none of which is the last), with its CRC-32 and length. Each answer deflates its own few bytes
of tail separately (new blocks, the last one final: deflate streams join at a byte boundary)
and ends the stream with the CRC-32 and length of the whole. So the bytes a phone decodes are
exactly those JSONResponse would have sent, and GZipMiddleware, seeing Content-Encoding
already set, passes the answer through untouched.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from server.lru import LRU

# The level GZipMiddleware is given in server/app.py, so a kept answer compresses as any other.
GZIP_LEVEL = 6
CHECKED_AT = "checked_at"


def dumps(value: Any) -> bytes:
    """JSON exactly as starlette's JSONResponse renders it."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode("utf-8")


def accepts_gzip(request: Request) -> bool:
    """Whether the app's GZipMiddleware would compress this request's answer (its own test)."""
    return "gzip" in request.headers.get("accept-encoding", "")


# A gzip member's header (RFC 1952): deflate, no flags, no time, no extra flags, unknown OS.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


@dataclass(frozen=True)
class SyncAnswer:
    """One serialized sync answer, without its `checked_at`."""

    head: bytes  # the JSON body up to (not including) its last member, checked_at
    gzip_head: bytes  # GZIP_HEADER and `head` deflated, sync-flushed: no last block yet
    head_crc: int  # CRC-32 of `head`

    @classmethod
    def of(cls, body: dict) -> SyncAnswer:
        """Serialize an offline_copy body (which must not hold checked_at yet)."""
        if CHECKED_AT in body:
            raise ValueError("checked_at is added per answer")
        if not body:
            raise ValueError("an empty body has nowhere to put checked_at")
        head = dumps(body)[:-1]  # drop the closing brace: checked_at goes there
        deflate = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
        gzip_head = GZIP_HEADER + deflate.compress(head) + deflate.flush(zlib.Z_SYNC_FLUSH)
        return cls(head, gzip_head, zlib.crc32(head))

    @staticmethod
    def tail(checked_at: str) -> bytes:
        return b',"' + CHECKED_AT.encode() + b'":' + dumps(checked_at) + b"}"

    def body(self, checked_at: str) -> bytes:
        """The JSON answer, as JSONResponse({**body, "checked_at": checked_at}) renders it."""
        return self.head + self.tail(checked_at)

    def gzipped(self, checked_at: str) -> bytes:
        """body(checked_at) as one gzip stream."""
        tail = self.tail(checked_at)
        # The tail is a few dozen bytes: a small window and little memory are plenty.
        deflate = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -9, 1)
        trailer = struct.pack("<II", zlib.crc32(tail, self.head_crc), (len(self.head) + len(tail)) & 0xFFFFFFFF)
        return self.gzip_head + deflate.compress(tail) + deflate.flush() + trailer


class SyncAnswers:
    """Kept sync answers by key, least recently used dropped first.

    Each entry holds the JSON and its gzip: about 105 KB for a one-card delta of the demo
    release, 350 KB for a whole one; 32 of them stay around 11 MB per process at most.
    """

    def __init__(self, size: int = 32):
        self._items: LRU[tuple, SyncAnswer] = LRU(size)

    def get(self, key: tuple) -> SyncAnswer | None:
        return self._items.get(key)

    def put(self, key: tuple, body: dict) -> SyncAnswer:
        return self._items.put(key, SyncAnswer.of(body))

    def __len__(self) -> int:
        return len(self._items)
