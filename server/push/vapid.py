"""The server's VAPID identity: a P-256 key kept across restarts and a mailto: contact.

The headers signed with it are made in server/push/wire.py.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from server import key_files
from server.settings import Settings

KEY_FILE = "vapid_private_key.pem"
_MAILTO = re.compile(r"^mailto:[^@\s]+@([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)$")


class VapidError(ValueError):
    """The configured VAPID key or subject is unusable."""


def b64url(data: bytes) -> str:
    """Unpadded base64url, as Web Push writes keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Decode unpadded (or padded) base64url; raises ValueError on bad input."""
    text = text.strip()
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))


def check_subject(subject: str) -> str:
    """The contact subject if push services will take it; raises VapidError otherwise.

    A mailto: address: the `webpush` package writes the JWT's `sub` as mailto: + the address.
    """
    subject = subject.strip()
    if not subject.startswith("mailto:"):
        raise VapidError("FIELDGUIDE_VAPID_SUBJECT must be a mailto: address (e.g. mailto:alerts@your.domain).")
    match = _MAILTO.match(subject)
    host = match.group(1).lower() if match else ""
    # Apple's push service answers BadJwtToken for a localhost contact.
    if not host or "." not in host or host == "localhost" or host.endswith((".localhost", ".local")):
        raise VapidError(
            f"FIELDGUIDE_VAPID_SUBJECT {subject!r} needs a real domain (push services refuse localhost)."
        )
    return subject


def _parse_key(text: str) -> ec.EllipticCurvePrivateKey:
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            raw = b64url_decode(text)
            if len(raw) != 32:
                raise ValueError("a raw VAPID key is 32 bytes")
            key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except ValueError as exc:
        raise VapidError(f"FIELDGUIDE_VAPID_PRIVATE_KEY is not a P-256 private key ({exc}).") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise VapidError("The VAPID key must be an EC P-256 private key.")
    return key


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_or_create_key(settings: Settings) -> ec.EllipticCurvePrivateKey:
    """The key from the environment, else from the data folder's key file, made there once (0600)."""
    if settings.vapid_private_key:
        return _parse_key(settings.vapid_private_key)
    made = key_files.read_or_create(
        settings.data_dir / KEY_FILE, lambda: _pem(ec.generate_private_key(ec.SECP256R1()))
    )
    return _parse_key(made.decode())


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    """The application server key the browser subscribes with (uncompressed point, base64url)."""
    raw = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(raw)


@dataclass
class VapidSigner:
    """The server's VAPID identity: its P-256 key and its mailto: contact (checked on creation)."""

    key: ec.EllipticCurvePrivateKey
    subject: str

    def __post_init__(self) -> None:
        self.subject = check_subject(self.subject)

    @classmethod
    def from_settings(cls, settings: Settings) -> "VapidSigner":
        """The signer for these settings (making the key file on first use)."""
        return cls(load_or_create_key(settings), settings.vapid_subject)

    @property
    def public_key(self) -> str:
        """The application server key, base64url."""
        return public_key_b64(self.key)
