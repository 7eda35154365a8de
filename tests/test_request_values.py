"""One parser per kind of request value, one device-id rule, domain errors mapped in one place, one clock."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from server import clock, params
from server.errors import Conflict, DomainError, Invalid, NotFound, Refused
from server.guidance.drafts import DraftConflict
from server.guidance.review import ReviewRefused
from server.lru import LRU
from server.settings import ROOT
from server.web.errors import status_of

from .helpers.clients import client_as
from .helpers.csrf import csrf_token


def test_release_numbers_are_ascii_digits_within_bounds():
    assert params.parse_release_number("1") == 1
    assert params.parse_release_number("999999999") == 999_999_999
    assert params.parse_release_number(7) == 7  # a JSON body's number
    for bad in ("0", "1000000000", "²", "١", "-1", "1.5", " 1", "", "9" * 5000, None, True, 1.0, [1]):
        with pytest.raises(Invalid) as info:
            params.parse_release_number(bad, "have")
        assert info.value.message == "have must be a release number." and "have" in info.value.details


def test_device_ids_are_8_to_64_letters_digits_dash_or_underscore():
    assert params.parse_device_id(None) is None
    assert params.parse_device_id(str(uuid.uuid4())) is not None  # what pwa/static/db.js makes
    assert params.parse_device_id("a" * 8) == "a" * 8 and params.parse_device_id("b" * 64) == "b" * 64
    for bad in ("a" * 7, "b" * 65, "bad id!!", "abcdefgh\n", "", 12345678):
        with pytest.raises(Invalid):
            params.parse_device_id(bad)


def test_each_kind_of_domain_error_has_one_status():
    assert [status_of(e("x")) for e in (Invalid, Refused, NotFound, Conflict, DomainError)] == [400, 403, 404, 409, 400]
    assert status_of(DraftConflict("x")) == 409 and status_of(ReviewRefused("x")) == 403
    assert DraftConflict("x", {"a": 1}).details == {"a": 1} and Invalid("x").details == {}


def test_lru_keeps_the_most_recently_used():
    cache: LRU[str, int] = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3 and len(cache) == 2
    assert cache.get("b") is None


def test_the_clock_is_utc_and_importing_auth_hashes_nothing():
    assert clock.now().utcoffset().total_seconds() == 0
    script = "import server.people.auth as a; print(a._dummy_hash.cache_info().currsize)"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


async def test_unicode_digits_and_out_of_range_numbers_are_a_400_not_a_crash(officer):
    for path, field in [
        ("/api/v1/manifest?release=²", "release"),
        ("/api/v1/bundle?release=1000000000", "release"),
        ("/api/v1/sync?have=²", "have"),
        ("/api/v1/search?q=cuffs&release=0", "release"),
    ]:
        response = await officer.get(path)
        assert response.status_code == 400, path
        assert response.json() == {
            "code": 400,
            "errno": 107,
            "error": "Bad Request",
            "message": f"{field} must be a release number.",
            "details": {field: path.rpartition("=")[2]},
        }
    for path in ["/search?q=cuffs&release=²", "/changes?to=²", "/changes?from=³", "/cards/x?release=²"]:
        response = await officer.get(path)
        assert response.status_code == 400 and "must be a release number." in response.text, path
    assert (await officer.get("/api/v1/manifest?release=999999999")).status_code == 404


async def test_one_device_id_rule_for_sync_and_acks(officer):
    short = "phone-1"  # 7 characters: under the rule
    sync = await officer.get("/api/v1/sync", headers={"Fieldguide-Device": short})
    assert sync.status_code == 400 and sync.json()["details"] == {"fieldguide-device": "invalid"}
    token = await csrf_token(officer)
    ack = await officer.post(
        "/api/v1/acks", json={"uuid": str(uuid.uuid4()), "release": 1, "device_id": short}, headers={"X-CSRF-Token": token}
    )
    assert ack.status_code == 400 and ack.json()["details"] == {"device_id": "invalid"}
    fine = await officer.get("/api/v1/sync", headers={"Fieldguide-Device": str(uuid.uuid4())})
    assert fine.status_code == 200


async def test_page_numbers_take_ascii_digits_only(app):
    async with client_as(app, "admin@demo.test") as admin:
        for page in ("²", "0", "1000000"):
            response = await admin.get(f"/admin/audit?page={page}")
            assert response.status_code == 400 and "page must be a positive whole number." in response.text
        assert (await admin.get("/admin/releases?published=²")).status_code == 200
    async with client_as(app, "supervisor@demo.test") as supervisor:
        assert (await supervisor.get("/supervisor/releases/1?page=²")).status_code == 400
        assert (await supervisor.get("/supervisor/releases/1?reminded=²")).status_code == 200
