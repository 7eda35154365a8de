"""What goes on the wire for a notice: the `webpush` package's encryption, read back by an
independent RFC 8291 decryption, and the headers the package leaves to the sender."""

from __future__ import annotations

import base64
import json
import time

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from server.push.vapid import VapidSigner, _parse_key, b64url
from server.push.wire import TOKEN_LIFETIME, Wire, origin_of


def _subscriber() -> tuple[ec.EllipticCurvePrivateKey, bytes, str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    auth = b"0123456789abcdef"
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return key, auth, b64url(public), b64url(auth)


def _claims(header: str, signer: VapidSigner) -> dict:
    token = header.split("t=", 1)[1].split(",", 1)[0]
    public = signer.key.public_key()
    return jwt.decode(token, public, algorithms=["ES256"], options={"verify_aud": False})


def test_the_body_decrypts_with_the_subscription_keys_and_differs_every_time():
    wire = Wire(VapidSigner(ec.generate_private_key(ec.SECP256R1()), "mailto:alerts@springfield-pd.org"))
    key, auth, p256dh, auth_b64 = _subscriber()
    data = json.dumps({"kind": "release", "release": 7, "body": "Release 7: é"}, ensure_ascii=False).encode()
    first, second = wire.encrypt(data, p256dh, auth_b64), wire.encrypt(data, p256dh, auth_b64)
    assert first != second  # a new salt and key pair per message
    for body in (first, second):
        assert http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm") == data


def test_the_audience_is_the_origin_with_a_port_only_when_the_endpoint_names_one():
    signer = VapidSigner(ec.generate_private_key(ec.SECP256R1()), "mailto:alerts@springfield-pd.org")
    wire = Wire(signer)
    fcm = wire.headers("https://fcm.googleapis.com/fcm/send/abc", 604800, "high", "guidance")
    local = wire.headers("http://127.0.0.1:8123/push/abc", 604800, "high", "guidance")
    assert _claims(fcm["Authorization"], signer)["aud"] == "https://fcm.googleapis.com"
    assert _claims(local["Authorization"], signer)["aud"] == "http://127.0.0.1:8123"
    assert origin_of("https://web.push.apple.com/QGx?x=1") == ("https", "web.push.apple.com")
    claims = _claims(fcm["Authorization"], signer)
    assert claims["sub"] == "mailto:alerts@springfield-pd.org"
    assert 0 < claims["exp"] - TOKEN_LIFETIME <= time.time() + 1
    assert fcm["Authorization"].endswith(f", k={signer.public_key}")
    assert (fcm["TTL"], fcm["Urgency"], fcm["Topic"], fcm["Content-Encoding"]) == ("604800", "high", "guidance", "aes128gcm")


def test_one_header_per_origin_and_kind_is_signed_once_and_reused():
    signer = VapidSigner(ec.generate_private_key(ec.SECP256R1()), "mailto:alerts@springfield-pd.org")
    wire = Wire(signer)
    first = wire.headers("https://fcm.googleapis.com/fcm/send/a", 86400, "normal", "guidance")
    again = wire.headers("https://fcm.googleapis.com/fcm/send/b", 86400, "normal", "guidance")
    assert again is first  # no per-notice copy
    other_kind = wire.headers("https://fcm.googleapis.com/fcm/send/c", 604800, "high", "guidance")
    assert other_kind["Authorization"] == first["Authorization"] and other_kind["TTL"] == "604800"
    mozilla = wire.headers("https://updates.push.services.mozilla.com/wpush/v2/a", 86400, "normal", "guidance")
    assert mozilla["Authorization"] != first["Authorization"]
    # A TTL of 0 (the package's default) never goes out: it drops the notice for a phone offline.
    assert wire.headers("https://fcm.googleapis.com/fcm/send/d", 0, "normal", "guidance")["TTL"] == "1"


def test_a_key_given_raw_or_as_pem_signs_the_same_identity():
    key = ec.generate_private_key(ec.SECP256R1())
    raw = base64.urlsafe_b64encode(key.private_numbers().private_value.to_bytes(32, "big")).rstrip(b"=").decode()
    for text in (raw, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode()):
        signer = VapidSigner(_parse_key(text), "mailto:alerts@springfield-pd.org")
        header = Wire(signer).headers("https://fcm.googleapis.com/fcm/send/a", 60, "normal", "guidance")
        assert _claims(header["Authorization"], VapidSigner(key, "mailto:alerts@springfield-pd.org"))["aud"]
