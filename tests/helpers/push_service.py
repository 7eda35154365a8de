"""A Web Push service stand-in on loopback that checks each request as a real push service would.

For every POST to a subscription's endpoint it checks the VAPID Authorization (RFC 8292: ES256
JWT signed by the server's public key, aud = this origin, exp within 24 h, a sub contact that is
not localhost), Content-Encoding aes128gcm, a TTL, Urgency and Topic syntax and the 4,096-byte
limit, then decrypts the body (RFC 8291) with the subscription's private key, made here.

Used in a thread by the tests (PushService().start()) and as a process by the benchmark
(`python tests/helpers/push_service.py --subscriptions N`, which prints the subscriptions as JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field

import http_ece
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
URGENCIES = {"very-low", "low", "normal", "high"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Refused(Exception):
    """A request a real push service would refuse: (status, reason)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Subscriber:
    """One browser's subscription: the keys only the browser (here: the test) holds."""

    token: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    endpoint: str

    def as_json(self) -> dict:
        """What PushSubscription.toJSON() gives the page."""
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": self.endpoint, "expirationTime": None, "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)}}


@dataclass
class Received:
    """One request the service answered."""

    endpoint: str
    status: int
    at: float
    payload: dict | None = None
    ttl: int | None = None
    urgency: str | None = None
    topic: str | None = None
    claims: dict | None = None
    error: str | None = None


@dataclass
class PushService:
    """The stand-in. `vapid_key`: the application server key (base64url) every push must be signed with."""

    vapid_key: str | None = None
    delay: float = 0.0
    decrypt_every: int = 1
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    _subscribers: dict[str, Subscriber] = field(default_factory=dict)
    _scripts: dict[str, list] = field(default_factory=dict)
    _gone: set[str] = field(default_factory=set)
    _tokens: dict[str, dict] = field(default_factory=dict)
    _connections: set = field(default_factory=set)  # the transports requests came on (keep-alive shows)
    _count: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # --- the subscriber's side -------------------------------------------------------------

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def subscribe(self) -> dict:
        """A new subscription (as the browser would hand it to the page); its keys stay here."""
        token = secrets.token_urlsafe(16)
        sub = Subscriber(token, ec.generate_private_key(ec.SECP256R1()), os.urandom(16), f"{self.origin}/push/{token}")
        with self._lock:
            self._subscribers[token] = sub
        return sub.as_json()

    def adopt(self, private_key: ec.EllipticCurvePrivateKey, auth: bytes) -> dict:
        """A subscription with keys the caller made (e.g. for a browser whose subscribe is replaced)."""
        token = secrets.token_urlsafe(16)
        sub = Subscriber(token, private_key, auth, f"{self.origin}/push/{token}")
        with self._lock:
            self._subscribers[token] = sub
        return sub.as_json()

    def script(self, endpoint: str, *answers) -> None:
        """Answer the next pushes to an endpoint with these (status or (status, headers)), then 201."""
        with self._lock:
            self._scripts.setdefault(endpoint, []).extend(answers)

    def gone(self, endpoint: str) -> None:
        """Answer 410 Gone to every push to this endpoint from now on."""
        with self._lock:
            self._gone.add(endpoint)

    def to(self, endpoint: str) -> list[Received]:
        """Every request made to an endpoint, in order."""
        with self._lock:
            return [r for r in self.received if r.endpoint == endpoint]

    def delivered(self, endpoint: str | None = None) -> list[Received]:
        """Requests answered 201 (to one endpoint, or all)."""
        with self._lock:
            return [r for r in self.received if r.status == 201 and (endpoint is None or r.endpoint == endpoint)]

    def errors(self) -> list[str]:
        """Why requests were refused for breaking the protocol (should stay empty)."""
        with self._lock:
            return [r.error for r in self.received if r.error]

    # --- the push service's checks ---------------------------------------------------------

    def _check_vapid(self, header: str) -> dict:
        match = re.fullmatch(r"vapid\s+t=([^,\s]+)\s*,\s*k=([A-Za-z0-9_-]+)", header.strip())
        if not match:
            raise Refused(401, f"Authorization is not 'vapid t=..., k=...': {header[:80]!r}")
        token, key = match.groups()
        if self.vapid_key is not None and key != self.vapid_key:
            raise Refused(403, "k is not the application server key the subscription was made with")
        claims = self._tokens.get(token)
        if claims is None:
            try:
                head_b64, body_b64, sig_b64 = token.split(".")
                head = json.loads(unb64url(head_b64))
                if head.get("alg") != "ES256":
                    raise Refused(401, f"JWT alg is {head.get('alg')!r}, not ES256")
                signature = unb64url(sig_b64)
                if len(signature) != 64:
                    raise Refused(401, "ES256 signature is not 64 bytes")
                public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
                public.verify(
                    encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")),
                    f"{head_b64}.{body_b64}".encode(),
                    ec.ECDSA(hashes.SHA256()),
                )
                claims = json.loads(unb64url(body_b64))
            except InvalidSignature:
                raise Refused(401, "VAPID JWT signature does not verify with k") from None
            except (ValueError, json.JSONDecodeError) as exc:
                raise Refused(401, f"malformed VAPID JWT ({exc})") from None
            self._tokens[token] = claims
        if claims.get("aud") != self.origin:
            raise Refused(403, f"aud {claims.get('aud')!r} is not this push service's origin {self.origin}")
        exp = claims.get("exp")
        moment = time.time()
        if not isinstance(exp, int) or exp <= moment or exp > moment + 86400:
            raise Refused(403, f"exp {exp!r} is not within the next 24 hours")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.startswith(("mailto:", "https://")):
            raise Refused(403, f"sub {sub!r} is not a mailto: or https: contact")
        if "localhost" in sub.lower():
            raise Refused(403, "sub names localhost (Apple refuses it)")
        return claims

    async def _handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        endpoint = f"{self.origin}/push/{token}"
        arrived = time.monotonic()
        self._connections.add(request.transport)
        body = await request.read()
        if self.delay:
            await asyncio.sleep(self.delay)
        with self._lock:
            sub = self._subscribers.get(token)
        record = Received(endpoint, 0, arrived)
        try:
            if sub is None:
                raise Refused(404, "no such subscription")
            record.claims = self._check_vapid(request.headers.get("Authorization", ""))
            if request.headers.get("Content-Encoding") != "aes128gcm":
                raise Refused(400, f"Content-Encoding is {request.headers.get('Content-Encoding')!r}, not aes128gcm")
            ttl = request.headers.get("TTL")
            if ttl is None or not ttl.isdigit():
                raise Refused(400, f"TTL header missing or not a number: {ttl!r}")
            record.ttl = int(ttl)
            record.urgency = request.headers.get("Urgency")
            if record.urgency is not None and record.urgency not in URGENCIES:
                raise Refused(400, f"Urgency {record.urgency!r} is not one of {sorted(URGENCIES)}")
            record.topic = request.headers.get("Topic")
            if record.topic is not None and not TOPIC.match(record.topic):
                raise Refused(400, f"Topic {record.topic!r} is not 1-32 base64url characters")
            if len(body) > 4096:
                raise Refused(413, f"payload of {len(body)} bytes is over 4096")
            self._count += 1
            if self._count % self.decrypt_every == 0 or self.decrypt_every == 1:
                try:
                    plain = http_ece.decrypt(body, private_key=sub.private_key, auth_secret=sub.auth, version="aes128gcm")
                    record.payload = json.loads(plain)
                except Exception as exc:  # any failure to decrypt is the sender's fault
                    raise Refused(400, f"body does not decrypt with the subscription's keys ({exc!r})") from None
        except Refused as exc:
            record.status, record.error = exc.status, exc.reason
            with self._lock:
                self.received.append(record)
            return web.Response(status=exc.status, text=exc.reason)
        with self._lock:
            scripted = self._scripts.get(endpoint)
            answer = scripted.pop(0) if scripted else (410 if endpoint in self._gone else 201)
        status, headers = (answer, {}) if isinstance(answer, int) else answer
        record.status = status
        with self._lock:
            self.received.append(record)
        if status == 201:
            headers = {"Location": f"{self.origin}/message/{secrets.token_urlsafe(8)}", **headers}
        return web.Response(status=status, headers=headers)

    async def _stats(self, request: web.Request) -> web.Response:
        with self._lock:
            data = {
                "received": len(self.received),
                "delivered": sum(1 for r in self.received if r.status == 201),
                "decrypted": sum(1 for r in self.received if r.payload is not None),
                "endpoints": len({r.endpoint for r in self.received if r.status == 201}),
                "errors": [r.error for r in self.received if r.error][:10],
                "cpu_seconds": time.process_time(),
                "connections": len(self._connections),
            }
        return web.json_response(data)

    # --- running -----------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_post("/push/{token}", self._handle)
        app.router.add_get("/stats", self._stats)
        return app

    async def serve(self) -> None:
        """Start listening in the current event loop."""
        self._runner = web.AppRunner(self._app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def start(self) -> PushService:
        """Serve from a background thread (its own event loop); returns once listening."""

        def main() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.serve())
            self._ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=main, name="push-service", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the push service stand-in did not start")
        return self

    def stop(self) -> None:
        """Stop the background thread."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None


def main() -> None:
    """Run as a process: print {"port", "subscriptions"} as one JSON line, serve until stdin closes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=0)
    parser.add_argument("--vapid-key", default=None)
    parser.add_argument("--decrypt-every", type=int, default=1)
    args = parser.parse_args()

    async def run() -> None:
        service = PushService(vapid_key=args.vapid_key, decrypt_every=args.decrypt_every)
        await service.serve()
        subs = [service.subscribe() for _ in range(args.subscriptions)]
        print(json.dumps({"port": service.port, "subscriptions": subs}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await service._runner.cleanup()

    asyncio.run(run())


if __name__ == "__main__":
    main()
