"""Invitation and reset links point only at the configured address, never at a forged Host."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager

import httpx
from asgi_lifespan import LifespanManager

from server.app import create_app
from server.cli import main
from server.models import Invitation, User

from .helpers.clients import sign_in
from .helpers.csrf import csrf_of

LINK = re.compile(r'value="(https?://[^"]+)/invite/[A-Za-z0-9_-]+"')
NO_LINKS = "Links cannot be made here"


@asynccontextmanager
async def admin_of(settings, **changes):
    """The admin signed in over https (Secure cookies) on an app with these settings changed."""
    app = create_app(settings.with_(secure_cookies=True, **changes))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            assert (await sign_in(c, "admin@demo.test")).status_code == 303
            yield c


async def _invite(admin: httpx.AsyncClient, email: str, host: str | None = None) -> httpx.Response:
    headers = {"Host": host} if host else {}
    page = await admin.get("/admin/users", headers=headers)
    data = {"csrf_token": csrf_of(page.text), "email": email, "name": "New Person", "role": "officer"}
    return await admin.post("/admin/users", data=data, headers=headers)


async def test_a_forged_host_gets_no_link_and_loses_nothing(settings):
    async with admin_of(settings, allowed_hosts="guide.example.org") as admin:
        listing = await admin.get("/admin/users", headers={"Host": "evil.example"})
        assert listing.status_code == 200 and NO_LINKS in listing.text and "FIELDGUIDE_BASE_URL" in listing.text
        for host in ("evil.example", "guide.example.org@evil.example", "guide.example.org.evil.example"):
            refused = await _invite(admin, "forged@demo.test", host)
            assert refused.status_code == 400 and NO_LINKS in refused.text, host
            assert 'value="forged@demo.test"' in refused.text  # what was typed is kept
        assert not await User.exists(email="forged@demo.test")

        person = await User.get(email="officer@demo.test")
        page = await admin.get(f"/admin/users/{person.id}", headers={"Host": "evil.example"})
        assert NO_LINKS in page.text
        reset = await admin.post(
            f"/admin/users/{person.id}/link", data={"csrf_token": csrf_of(page.text)}, headers={"Host": "evil.example"}
        )
        assert reset.status_code == 400 and NO_LINKS in reset.text
        assert not await Invitation.exists(user_id=person.id)

        # A listed host (any case, with a port) and this machine give their own address.
        made = await _invite(admin, "listed@demo.test", "Guide.Example.org:8443")
        assert made.status_code == 200 and LINK.search(made.text).group(1) == "https://guide.example.org:8443"
        local = await _invite(admin, "local@demo.test", "127.0.0.1:8000")
        assert local.status_code == 200 and LINK.search(local.text).group(1) == "https://127.0.0.1:8000"
        assert NO_LINKS not in (await admin.get("/admin/users", headers={"Host": "guide.example.org"})).text


async def test_the_base_url_wins_over_any_host(settings):
    async with admin_of(settings, base_url="https://guide.example.org/") as admin:
        made = await _invite(admin, "based@demo.test", "evil.example")
        assert made.status_code == 200 and LINK.search(made.text).group(1) == "https://guide.example.org"


async def test_plain_http_development_uses_the_request_address(settings):
    app = create_app(settings)  # cookies not Secure: a development setup
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as admin:
            assert (await sign_in(admin, "admin@demo.test")).status_code == 303
            made = await _invite(admin, "dev@demo.test")
            assert made.status_code == 200 and LINK.search(made.text).group(1) == "http://testserver"


def test_check_config_reads_allowed_hosts(monkeypatch, capsys, tmp_path):
    def check(**env: str) -> list[str]:
        monkeypatch.setenv("FIELDGUIDE_DATA_DIR", str(tmp_path))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        main(["check-config", "--production"])
        return capsys.readouterr().out.splitlines()

    lines = check(FIELDGUIDE_ALLOWED_HOSTS="https://guide.example.org/, guide.example.org")
    assert [line for line in lines if line.startswith("ERROR") and "'https://guide.example.org/'" in line]
    assert not [line for line in lines if "'guide.example.org'" in line]
    # With allowed hosts, an unset base URL is no longer an error.
    assert not [line for line in lines if "FIELDGUIDE_BASE_URL is unset" in line]
    lines = check(FIELDGUIDE_ALLOWED_HOSTS="guide.example.org, [2001:db8::1]")
    assert not [line for line in lines if "FIELDGUIDE_ALLOWED_HOSTS" in line]
    monkeypatch.delenv("FIELDGUIDE_ALLOWED_HOSTS")
    assert [line for line in check() if line.startswith("ERROR") and "FIELDGUIDE_BASE_URL is unset" in line]
