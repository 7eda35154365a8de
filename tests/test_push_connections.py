"""The push worker's kept-alive HTTP/1.1 connections (server/push/connections.py), against real
loopback servers that answer as push services may: with a length, chunked, up to the close,
closing kept connections, over TLS, slowly, or not in HTTP at all."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import tempfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server.push.connections import Connections, ProtocolError, target_of

CREATED = b"HTTP/1.1 201 Created\r\nLocation: /m/1\r\nContent-Length: 0\r\n\r\n"


class Service:
    """A loopback server: each request read whole, then `answer(request_number)` is written."""

    def __init__(self, answer, close_after=None, tls: ssl.SSLContext | None = None):
        self.answer = answer
        self.close_after = close_after  # requests per connection before the server closes it
        self.tls = tls
        self.requests: list[bytes] = []
        self.connections = 0

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader, writer):
        self.connections += 1
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                answer = self.answer(len(self.requests))
                if answer is None:  # hang: never answer
                    await asyncio.sleep(3600)
                writer.write(answer)
                await writer.drain()
                served += 1
                if answer.endswith(b"<close>") or (self.close_after and served >= self.close_after):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def url(service: Service, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{service.port}/push/abc?x=1"


async def post(pool: Connections, endpoint: str, body: bytes = b"secret", timeout: float = 5.0):
    return await pool.post(target_of(endpoint), b"TTL: 60\r\nUrgency: high\r\n", body, timeout)


async def test_a_request_is_written_whole_and_its_answer_read():
    async with Service(lambda n: CREATED) as service:
        pool = Connections(4)
        response = await post(pool, url(service), b"\x00\x01body")
        await pool.close()
    assert response.status == 201 and response.reason == "Created" and response.retry_after is None
    (request,) = service.requests
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /push/abc?x=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{service.port}".encode() in lines
    assert b"Content-Length: 6" in lines and b"TTL: 60" in lines and b"Urgency: high" in lines
    assert body == b"\x00\x01body"


async def test_connections_are_kept_and_reused_one_request_at_a_time():
    async with Service(lambda n: CREATED) as service:
        pool = Connections(3)
        answers = await asyncio.gather(*(post(pool, url(service)) for _ in range(30)))
        assert pool.open <= 3
        await pool.close()
        assert pool.open == 0
    assert [a.status for a in answers] == [201] * 30
    assert len(service.requests) == 30
    assert service.connections <= 3  # 30 notices, never more connections than the limit


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 120\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nslow \r\n5;ext=1\r\ndown!\r\n0\r\n\r\n",
        b"HTTP/1.1 429 Too Many Requests\r\nretry-after:120\r\nContent-Length: 10\r\n\r\nslow down!",
    ],
    ids=["chunked", "length"],
)
async def test_an_answer_with_a_body_ends_where_it_says_and_the_connection_is_reused(answer):
    async with Service(lambda n: answer) as service:
        pool = Connections(1)
        first = await post(pool, url(service))
        second = await post(pool, url(service))
        await pool.close()
    assert first.status == second.status == 429 and first.retry_after == "120"
    assert service.connections == 1


async def test_an_answer_that_runs_to_the_close_is_read_and_the_connection_not_kept():
    async with Service(lambda n: b"HTTP/1.1 410 Gone\r\nConnection: close\r\n\r\ngone for good<close>") as service:
        pool = Connections(2)
        first = await post(pool, url(service))
        second = await post(pool, url(service))
        await pool.close()
    assert first.status == second.status == 410
    assert service.connections == 2


async def test_a_kept_connection_the_service_closed_while_idle_is_not_reused():
    async with Service(lambda n: CREATED, close_after=1) as service:
        pool = Connections(1)
        assert (await post(pool, url(service))).status == 201
        await asyncio.sleep(0.1)  # the service closes it meanwhile
        assert (await post(pool, url(service))).status == 201
        await pool.close()
    assert service.connections == 2


async def test_an_answer_that_is_not_http_is_a_protocol_error_and_the_connection_dropped():
    async with Service(lambda n: b"SSH-2.0-OpenSSH_9.2\r\n\r\n" if n == 1 else CREATED) as service:
        pool = Connections(1)
        with pytest.raises(ProtocolError):
            await post(pool, url(service))
        assert pool.open == 0
        assert (await post(pool, url(service))).status == 201
        await pool.close()


async def test_a_service_that_never_answers_times_out_and_frees_its_slot():
    async with Service(lambda n: None if n == 1 else CREATED) as service:
        pool = Connections(1)
        with pytest.raises(TimeoutError):
            await post(pool, url(service), timeout=0.3)
        assert pool.open == 0
        assert (await post(pool, url(service))).status == 201  # the one slot was given back
        await pool.close()


async def test_no_service_listening_is_an_os_error():
    async with Service(lambda n: CREATED) as service:
        port = service.port
    pool = Connections(1)
    with pytest.raises(OSError):
        await pool.post(target_of(f"http://127.0.0.1:{port}/x"), b"", b"", 5.0)
    assert pool.open == 0


def tls_pair() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for 127.0.0.1, and a client trusting only it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)

    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)

    with tempfile.TemporaryDirectory() as folder:
        cert_file, key_file = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        cert_file.write_bytes(pem)
        key_file.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=pem.decode())
    return server, client


async def test_https_is_verified_and_kept_alive():
    server_tls, client_tls = tls_pair()
    async with Service(lambda n: CREATED, tls=server_tls) as service:
        pool = Connections(1, ssl_context=client_tls)
        assert (await post(pool, url(service, "https"))).status == 201
        assert (await post(pool, url(service, "https"))).status == 201
        await pool.close()
        assert service.connections == 1
        # The system's authorities do not know this certificate: the connection is refused.
        strict = Connections(1)
        with pytest.raises(ssl.SSLCertVerificationError):
            await post(strict, url(service, "https"))
