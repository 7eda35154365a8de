"""Request logs: a real `fieldguide serve` writes one JSON line per request (id, method, route template,
status, duration, user) and no password, token, cookie, CSRF token or key anywhere in its log; an
unhandled error is logged by route, with the request's id, in-process too."""

from __future__ import annotations

import base64
import json
import logging
import re
import shutil
import subprocess
import sys
import uuid as uuid_lib
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from server import bootstrap
from server.app import create_app
from server.push.vapid import VapidSigner
from server.settings import Settings
from server.web import request_log
from server.web.views import pages

from .helpers.acks import ack_form
from .helpers.browser import free_port
from .helpers.csrf import csrf_of
from .helpers.database import TEMPLATE_DB, cli_environment
from .helpers.processes import Process
from .helpers.push_service import PushService

FIELDGUIDE = str(Path(sys.executable).parent / "fieldguide")
NEW_PASSWORD = "Tulip-Harbor-Quartz-7391"
LINK = re.compile(r"/invite/([A-Za-z0-9_-]{16,})")
REQUEST_FIELDS = {"time", "level", "logger", "message", "request_id", "method", "route", "status", "duration_ms", "user_id"}


class Seen:
    """Every response the client got (redirect hops included) and every secret it saw."""

    def __init__(self) -> None:
        self.responses: list[httpx.Response] = []
        self.secrets: dict[str, str] = {}

    async def hook(self, response: httpx.Response) -> None:
        self.responses.append(response)
        for cookie in response.headers.get_list("set-cookie"):
            name, _, rest = cookie.partition("=")
            value = rest.split(";", 1)[0]
            if value and value != '""':
                self.secrets[f"cookie {name} {len(self.secrets)}"] = value
        if response.headers.get("content-type", "").startswith("text/html"):
            await response.aread()
            for token in re.findall(r'(?:name="csrf_token" value|name="csrf-token" content)="([^"]+)"', response.text):
                self.secrets[f"csrf {token[:4]}"] = token


def serve(env: dict[str, str], url: str, stderr_path: Path) -> Process:
    """`fieldguide serve` with its log (stderr) alone in a file; the stdout banner is not a log."""
    argv = [FIELDGUIDE, "serve", "--no-demo", "--port", url.rsplit(":", 1)[1]]
    server = Process("serve", argv, env, stderr_path, url=url, starts=1)
    with open(stderr_path, "wb") as stderr:
        server.popen = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    return server


def key_secrets(data_dir: Path) -> dict[str, str]:
    """Every key file of the data folder (VAPID, ledger signing) as its PEM lines and its raw base64url."""
    found = {}
    for path in sorted(data_dir.glob("*.pem")):
        pem = path.read_bytes()
        for i, line in enumerate(pem.decode().splitlines()):
            if not line.startswith("-----"):
                found[f"{path.name} line {i}"] = line
        key = serialization.load_pem_private_key(pem, password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            raw = key.private_numbers().private_value.to_bytes(32, "big")
        else:
            raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        found[f"{path.name} raw"] = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return found


async def full_flow(url: str, seen: Seen, service: PushService) -> None:
    """Sign-in, an invitation used, a reset link, push keys, an acknowledgment, a sync, error pages."""
    hooks = {"response": [seen.hook]}
    async with httpx.AsyncClient(base_url=url, event_hooks=hooks, follow_redirects=True, timeout=30) as admin:
        form = await admin.get("/sign-in")
        signed = await admin.post("/sign-in", data={
            "email": "admin@demo.test", "password": bootstrap.DEMO_PASSWORD, "csrf_token": csrf_of(form.text),
        })
        assert signed.status_code == 200
        users = await admin.get("/admin/users")
        invited = await admin.post("/admin/users", data={
            "email": "logged@demo.test", "name": "Officer Logged", "role": "officer", "school": "Lincoln",
            "csrf_token": csrf_of(users.text),
        })
        assert invited.status_code == 200, invited.text
        invitation = LINK.search(invited.text).group(1)
        seen.secrets["invitation"] = invitation
        person = re.search(r'/admin/users/(\d+)', invited.text).group(1)

    async with httpx.AsyncClient(base_url=url, event_hooks=hooks, follow_redirects=True, timeout=30) as officer:
        page = await officer.get(f"/invite/{invitation}")
        done = await officer.post(f"/invite/{invitation}", data={
            "password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_of(page.text),
        })
        assert done.status_code == 200, done.text
        assert (await officer.get(f"/invite/{invitation}")).status_code >= 400  # used once only

    async with httpx.AsyncClient(base_url=url, event_hooks=hooks, follow_redirects=True, timeout=30) as admin:
        form = await admin.get("/sign-in")
        await admin.post("/sign-in", data={
            "email": "admin@demo.test", "password": bootstrap.DEMO_PASSWORD, "csrf_token": csrf_of(form.text),
        })
        person_page = await admin.get(f"/admin/users/{person}")
        reset = await admin.post(f"/admin/users/{person}/link", data={"csrf_token": csrf_of(person_page.text)})
        seen.secrets["reset"] = LINK.search(reset.text).group(1)

    async with httpx.AsyncClient(base_url=url, event_hooks=hooks, follow_redirects=True, timeout=30) as officer:
        assert (await officer.get(f"/invite/{seen.secrets['reset']}")).status_code == 200
        form = await officer.get("/sign-in")
        wrong = await officer.post("/sign-in", data={
            "email": "logged@demo.test", "password": NEW_PASSWORD + "x", "csrf_token": csrf_of(form.text),
        })
        assert wrong.status_code == 400
        signed = await officer.post("/sign-in", data={
            "email": "logged@demo.test", "password": NEW_PASSWORD, "csrf_token": csrf_of(wrong.text),
        })
        assert signed.status_code == 200
        changes = await officer.get("/changes")
        csrf = csrf_of(changes.text)
        subscription = service.subscribe()
        seen.secrets["p256dh"] = subscription["keys"]["p256dh"]
        seen.secrets["auth"] = subscription["keys"]["auth"]
        seen.secrets["endpoint token"] = subscription["endpoint"].rsplit("/", 1)[1]
        subscribed = await officer.post("/api/v1/push/subscriptions", json=subscription, headers={"X-CSRF-Token": csrf})
        assert subscribed.status_code == 201, subscribed.text
        ack = await officer.post("/api/v1/acks", headers={"X-CSRF-Token": csrf}, json={
            "uuid": str(uuid_lib.uuid4()), "release": 1, "card_hashes": ack_form(changes.text)["card_hashes"].split(),
        })
        assert ack.status_code == 201, ack.text
        assert (await officer.get("/api/v1/sync", params={"have": "1"})).status_code in (200, 304)
        assert (await officer.get("/cards/no-such-card")).status_code == 404
        assert (await officer.get("/api/v1/manifest", params={"release": "abc"})).status_code == 400
        assert (await officer.get(f"/invite/{invitation[::-1]}")).status_code >= 400
        await officer.post("/sign-out", data={"csrf_token": csrf})


class Lines(logging.Handler):
    """Keeps each record as its handler formats it, when it is written."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def request_lines(stderr: str) -> tuple[list[dict], list[dict]]:
    """Every line of the server's log parsed as JSON (all must be): (request lines, other lines)."""
    parsed = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    requests = [line for line in parsed if line["logger"] == "fieldguide.request"]
    return requests, [line for line in parsed if line["logger"] != "fieldguide.request"]


@pytest.mark.sqlite_only("one server process and its log; the database plays no part in what is logged")
async def test_a_full_run_logs_one_line_per_request_and_no_secret(backend, template_dir, tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir()
    shutil.copy(template_dir / TEMPLATE_DB, settings.data_dir / TEMPLATE_DB)
    seen = Seen()
    VapidSigner.from_settings(settings)  # the key file, as a first start makes it
    seen.secrets["demo password"] = bootstrap.DEMO_PASSWORD
    seen.secrets["new password"] = NEW_PASSWORD
    url = f"http://127.0.0.1:{free_port()}"
    env = cli_environment(settings, FIELDGUIDE_BASE_URL=url, FIELDGUIDE_PUSH_EXTRA_HOSTS="127.0.0.1")
    stderr_path = tmp_path / "stderr.log"
    service = PushService().start()
    server = serve(env, url, stderr_path)
    try:
        server.wait_ready()
        await full_flow(url, seen, service)
    finally:
        server.stop()
        service.stop()
    log = stderr_path.read_text()
    seen.secrets.update(key_secrets(settings.data_dir))
    assert "vapid_private_key.pem raw" in seen.secrets

    for name, secret in seen.secrets.items():
        assert secret not in log, f"the log holds the {name}"
    requests, others = request_lines(log)
    assert any("Uvicorn running" in line["message"] for line in others)  # uvicorn's own lines are JSON too
    assert not [line for line in others if line["logger"] == "uvicorn.access"]

    by_id = {}
    for line in requests:
        assert set(line) == REQUEST_FIELDS, line
        assert line["request_id"] not in by_id, f"two lines for request {line['request_id']}"
        by_id[line["request_id"]] = line
    assert len(seen.responses) >= 25
    for response in seen.responses:
        rid = response.headers["x-request-id"]
        line = by_id[rid]
        assert (line["method"], line["status"]) == (response.request.method, response.status_code)
        if response.request.url.path.startswith("/invite/"):
            assert line["route"] == "/invite/{token}"
        assert "?" not in line["route"] and line["duration_ms"] >= 0
    routes = {line["route"] for line in requests}
    assert {"/invite/{token}", "/api/v1/acks", "/api/v1/push/subscriptions", "/api/v1/sync", "/sign-in"} <= routes
    ack_line = next(line for line in requests if line["route"] == "/api/v1/acks")
    assert isinstance(ack_line["user_id"], int)
    assert requests[0]["user_id"] is None  # the readiness probe, signed out


async def test_an_unhandled_error_is_logged_by_route_with_the_request_id(settings, monkeypatch, caplog):
    secret = "a1b2c3d4e5f6-not-for-logs"

    async def broken(request):
        raise RuntimeError("forced failure")

    monkeypatch.setattr(pages, "card", broken)
    app = create_app(settings)
    formatted = Lines()
    formatted.setFormatter(request_log.JsonFormatter())
    logging.getLogger().addHandler(formatted)
    try:
        with caplog.at_level(logging.INFO):
            async with LifespanManager(app):
                transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
                async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                    response = await client.get(f"/cards/{secret}", headers={"X-Request-ID": "probe-0001"})
    finally:
        logging.getLogger().removeHandler(formatted)
    assert response.status_code == 500 and response.headers["x-request-id"] == "probe-0001"
    # The server's own lines (the test's HTTP client logs the URL it asked for, as clients do).
    lines = [line for line in map(json.loads, formatted.lines) if not line["logger"].startswith("httpx")]
    assert not [line for line in lines if secret in json.dumps(line)]
    failure = next(line for line in lines if line["logger"] == "fieldguide" and line["level"] == "error")
    assert failure["message"] == "Unhandled error on GET /cards/{card_id}" and failure["request_id"] == "probe-0001"
    assert "RuntimeError: forced failure" in failure["exception"]
    (request,) = [line for line in lines if line["logger"] == "fieldguide.request"]
    assert (request["route"], request["status"], request["request_id"]) == ("/cards/{card_id}", 500, "probe-0001")
