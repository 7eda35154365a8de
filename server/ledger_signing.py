"""The ledger signing key: an Ed25519 key kept across restarts that signs each ledger row and checkpoint.

Like the VAPID key (server/push/vapid.py) it comes from a setting (FIELDGUIDE_LEDGER_SIGNING_KEY:
PEM, or the raw 32-byte key in base64url) or from the data folder's ledger_signing_key.pem, made there once (mode 0600). Every process
of one site must use the same key. Its public half is published (/ledger/public-key.pem and
`fieldguide ledger public-key`) and named by a key id: the first 16 hex digits of the SHA-256 of
the raw 32-byte public key.

What is signed: for a row, b"fieldguide-ledger-row:" + its row_hash (ASCII hex); for a checkpoint,
its canonical JSON, which starts with "{" and so can never be taken for a row's message.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from server import key_files
from server.settings import Settings

KEY_FILE = "ledger_signing_key.pem"
ROW_DOMAIN = b"fieldguide-ledger-row:"


class SigningKeyError(ValueError):
    """The configured ledger signing key (or a given public key) is unusable."""


def key_id(public: ed25519.Ed25519PublicKey) -> str:
    """The key's name: the first 16 hex digits of the SHA-256 of its raw 32 bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: ed25519.Ed25519PublicKey) -> str:
    """The public key as a PEM SubjectPublicKeyInfo (what openssl's -pubin reads)."""
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def parse_private_key(text: str) -> ed25519.Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8) or its raw 32 bytes in base64url; raises SigningKeyError otherwise."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            if not re.fullmatch(r"[A-Za-z0-9_-]{43}=?", text):
                raise ValueError("a raw key is 32 bytes in base64url")
            key = ed25519.Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(text.rstrip("=") + "="))
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"FIELDGUIDE_LEDGER_SIGNING_KEY is not an Ed25519 private key ({exc}).") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SigningKeyError("The ledger signing key must be an Ed25519 private key.")
    return key


def parse_public_key(text: str) -> ed25519.Ed25519PublicKey:
    """An Ed25519 public key from PEM; raises SigningKeyError otherwise."""
    try:
        key = serialization.load_pem_public_key(text.strip().encode())
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"not a PEM public key ({exc})") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise SigningKeyError("not an Ed25519 public key")
    return key


def new_raw_key() -> str:
    """A fresh Ed25519 private key as the environment file holds it: the raw 32 bytes, base64url."""
    raw = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_private_pem() -> str:
    """A fresh Ed25519 private key as PKCS#8 PEM."""
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def load_or_create_key(settings: Settings) -> ed25519.Ed25519PrivateKey:
    """The key from the setting, else from the data folder's key file, made there once (0600)."""
    if settings.ledger_signing_key:
        return parse_private_key(settings.ledger_signing_key)
    made = key_files.read_or_create(settings.data_dir / KEY_FILE, lambda: new_private_pem().encode())
    return parse_private_key(made.decode())


@dataclass(frozen=True)
class Verifier:
    """A public key that checks ledger signatures."""

    public: ed25519.Ed25519PublicKey

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    @property
    def pem(self) -> str:
        return public_pem(self.public)

    def check(self, message: bytes, signature_hex: str | None) -> bool:
        """Whether signature_hex is this key's signature of message."""
        try:
            self.public.verify(bytes.fromhex(signature_hex or ""), message)
        except (InvalidSignature, ValueError):
            return False
        return True

    def check_row(self, row_hash: str, signature_hex: str | None) -> bool:
        """Whether signature_hex is this key's signature of a row with this row_hash."""
        return self.check(ROW_DOMAIN + row_hash.encode(), signature_hex)

    @classmethod
    def from_pem(cls, text: str) -> Verifier:
        return cls(parse_public_key(text))


@dataclass(frozen=True)
class LedgerKey:
    """The site's signing key (private) with its verifier."""

    private: ed25519.Ed25519PrivateKey

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.private.public_key())

    @property
    def key_id(self) -> str:
        return self.verifier.key_id

    def sign(self, message: bytes) -> str:
        """The Ed25519 signature of message, hex."""
        return self.private.sign(message).hex()

    def sign_row(self, row_hash: str) -> str:
        """The signature a ledger row carries: of b"fieldguide-ledger-row:" + row_hash."""
        return self.sign(ROW_DOMAIN + row_hash.encode())


# The process's key: settings are given when the database is opened (db.open_db), the key is
# read (or made) the first time something is signed or verified.
_settings: Settings | None = None
_loaded: dict[tuple, LedgerKey] = {}


def use_settings(settings: Settings) -> None:
    """Take the signing key from these settings from now on (nothing is read yet)."""
    global _settings
    _settings = settings


def site_key(settings: Settings | None = None) -> LedgerKey:
    """The site's signing key for these settings (else those given to use_settings)."""
    settings = settings or _settings
    if settings is None:
        raise RuntimeError("No settings for the ledger signing key: open the database first.")
    cache_key = (str(settings.data_dir), settings.ledger_signing_key)
    key = _loaded.get(cache_key)
    if key is None:
        key = _loaded[cache_key] = LedgerKey(load_or_create_key(settings))
    return key
