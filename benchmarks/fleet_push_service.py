"""A light Web Push service stand-in for the fleet benchmark: accepts, checks and counts notices.

It answers each POST to `/push/{device}/{key}` after a push service's realistic latency
(20-50 ms by default), having checked what a real push service checks cheaply: the VAPID JWT
(ES256 signature against the application server key, aud, exp, sub; verified once per
distinct token), Content-Encoding aes128gcm, TTL, Urgency, Topic and the 4,096-byte limit. One
notice in `--decrypt-every` is decrypted (RFC 8291) with the device's private key to prove
the encryption real. The private keys are a pool made here (`--keys`): subscriptions share
them, since encryption needs a valid key, not a unique one.

It prints one JSON line, {"port", "feed_port", "keys": [{"p256dh", "auth"}]}, then serves
until stdin closes. GET /stats gives the counts; every device that the service accepted a
notice for is written, as its number on a line, to each client of the feed port (the fleet's
phones, which sync at once on a notice).

    python benchmarks/fleet_push_service.py --vapid-key KEY [--keys 300] [--latency-ms 20-50]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import sys
import time

import http_ece
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
URGENCIES = {"very-low", "low", "normal", "high"}
VAPID = re.compile(r"vapid\s+t=([^,\s]+)\s*,\s*k=([A-Za-z0-9_-]+)")


def b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """Decode unpadded base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Refused(Exception):
    """A request a real push service would refuse."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class FleetPushService:
    """Counts accepted notices per device and tells the feed's clients which devices were notified."""

    def __init__(self, vapid_key: str, keys: int, latency: tuple[float, float], decrypt_every: int):
        self.vapid_key = vapid_key
        self.latency = latency
        self.decrypt_every = max(1, decrypt_every)
        self.pool = [(ec.generate_private_key(ec.SECP256R1()), os.urandom(16)) for _ in range(keys)]
        self.tokens: dict[str, dict] = {}
        self.per_device: dict[int, int] = {}
        self.received = self.delivered = self.decrypted = 0
        self.errors: list[str] = []
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.feed: list[asyncio.StreamWriter] = []
        self.origin = ""

    def public_keys(self) -> list[dict]:
        """The pool's public halves, as a browser's subscription hands them to the page."""
        return [
            {
                "p256dh": b64url(key.public_key().public_bytes(
                    serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
                )),
                "auth": b64url(auth),
            }
            for key, auth in self.pool
        ]

    def check_vapid(self, header: str) -> None:
        """Refuse a missing or wrong VAPID Authorization (RFC 8292)."""
        match = VAPID.fullmatch(header.strip())
        if not match:
            raise Refused(401, "Authorization is not 'vapid t=..., k=...'")
        token, key = match.groups()
        if key != self.vapid_key:
            raise Refused(403, "k is not the application server key of the subscription")
        claims = self.tokens.get(token)
        if claims is None:
            try:
                head_b64, body_b64, sig_b64 = token.split(".")
                signature = unb64url(sig_b64)
                public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
                public.verify(
                    encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")),
                    f"{head_b64}.{body_b64}".encode(),
                    ec.ECDSA(hashes.SHA256()),
                )
                claims = json.loads(unb64url(body_b64))
            except (InvalidSignature, ValueError) as exc:
                raise Refused(401, f"VAPID JWT does not verify ({type(exc).__name__})") from None
            self.tokens[token] = claims
        exp = claims.get("exp")
        if claims.get("aud") != self.origin:
            raise Refused(403, f"aud {claims.get('aud')!r} is not {self.origin}")
        if not isinstance(exp, int) or not time.time() < exp <= time.time() + 86400:
            raise Refused(403, "exp is not within the next 24 hours")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https://")):
            raise Refused(403, "sub is not a mailto: or https: contact")

    def check(self, request: web.Request, body: bytes, key: int) -> None:
        """Refuse what breaks the protocol; decrypt one notice in `decrypt_every`."""
        self.check_vapid(request.headers.get("Authorization", ""))
        if request.headers.get("Content-Encoding") != "aes128gcm":
            raise Refused(400, "Content-Encoding is not aes128gcm")
        if not request.headers.get("TTL", "").isdigit():
            raise Refused(400, "TTL missing or not a number")
        if request.headers.get("Urgency", "normal") not in URGENCIES:
            raise Refused(400, "bad Urgency")
        if not TOPIC.match(request.headers.get("Topic", "x")):
            raise Refused(400, "bad Topic")
        if len(body) > 4096:
            raise Refused(413, "payload over 4096 bytes")
        if not 0 <= key < len(self.pool):
            raise Refused(404, "no such subscription")
        if self.received % self.decrypt_every == 0:
            private, auth = self.pool[key]
            try:
                json.loads(http_ece.decrypt(body, private_key=private, auth_secret=auth, version="aes128gcm"))
            except Exception as exc:  # any failure to decrypt is the sender's fault
                raise Refused(400, f"body does not decrypt ({type(exc).__name__})") from None
            self.decrypted += 1

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        device, key = int(request.match_info["device"]), int(request.match_info["key"])
        await asyncio.sleep(random.uniform(*self.latency))
        self.received += 1
        try:
            self.check(request, body, key)
        except Refused as exc:
            if len(self.errors) < 10:
                self.errors.append(f"{exc.status} {exc.reason}")
            return web.Response(status=exc.status, text=exc.reason)
        moment = time.time()
        self.first_at = self.first_at or moment
        self.last_at = moment
        self.delivered += 1
        self.per_device[device] = self.per_device.get(device, 0) + 1
        line = f"{device}\n".encode()
        for writer in self.feed:
            writer.write(line)
        return web.Response(status=201, headers={"Location": f"{self.origin}/message/{device}-{self.delivered}"})

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({
            "received": self.received,
            "delivered": self.delivered,
            "devices": len(self.per_device),
            "duplicates": self.delivered - len(self.per_device),
            "decrypted": self.decrypted,
            "errors": self.errors,
            "first_at": self.first_at,
            "last_at": self.last_at,
            "cpu_seconds": time.process_time(),
        })

    async def follow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A feed client: it hears of every accepted notice until it disconnects."""
        self.feed.append(writer)
        try:
            await reader.read()
        finally:
            self.feed.remove(writer)
            writer.close()


async def serve(args) -> None:
    low, _, high = args.latency_ms.partition("-")
    service = FleetPushService(
        args.vapid_key, args.keys, (float(low) / 1000, float(high or low) / 1000), args.decrypt_every
    )
    app = web.Application(client_max_size=64 * 1024)
    app.router.add_post("/push/{device:[0-9]+}/{key:[0-9]+}", service.handle)
    app.router.add_get("/stats", service.stats)
    # Many connections from each worker: a backlog big enough for all of them at once.
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    service.origin = f"http://127.0.0.1:{port}"
    feed = await asyncio.start_server(service.follow, "127.0.0.1", 0)
    hello = {"port": port, "feed_port": feed.sockets[0].getsockname()[1], "keys": service.public_keys()}
    print(json.dumps(hello), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    feed.close()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vapid-key", required=True, help="The application server key (base64url) notices must be signed with.")
    parser.add_argument("--keys", type=int, default=300, help="Key pairs in the pool the subscriptions share.")
    parser.add_argument("--latency-ms", default="20-50", help="How long the service takes to answer: LOW-HIGH, uniform.")
    parser.add_argument("--decrypt-every", type=int, default=100, help="Decrypt one notice in this many.")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
