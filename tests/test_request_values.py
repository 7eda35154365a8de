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
from server.web.errors import ApiError, status_of
from server.web.request_body import MAX_DEPTH, parse_json_object

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


def test_uuids_are_made_by_the_device_and_kept_in_lower_case():
    made = str(uuid.uuid4())
    assert params.parse_uuid(made.upper()) == made
    for bad in (made + "\n", " " + made, made[:-1], made.replace("-", ""), "٣" * 36, None, 7, [made]):
        with pytest.raises(Invalid) as caught:
            params.parse_uuid(bad, "key")
        assert caught.value.details == {"key": "invalid"}


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
    card = (await officer.get("/api/v1/manifest?release=1")).json()["cards"][0]["hash"]
    ack = await officer.post(
        "/api/v1/acks",
        json={"uuid": str(uuid.uuid4()), "release": 1, "card_hashes": [card], "device_id": short},
        headers={"X-CSRF-Token": token},
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


def test_one_json_body_reader_refuses_what_python_json_would_crash_on_or_let_through():
    assert parse_json_object(b'{"release": 3, "card_hashes": ["a"], "x": {"y": [1.5, null]}}')["release"] == 3
    assert parse_json_object(b'{"text": "\\"[[[[[[[[[[[[[[[[[[[[[["}')["text"].count("[") == 22  # brackets in text
    deep_but_allowed = b'{"a": ' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}"
    assert parse_json_object(deep_but_allowed)
    for raw, reason in [
        (b"", "missing"),
        (b"  ", "missing"),
        (b"null", "not an object"),
        (b"[1, 2]", "not an object"),
        (b'"text"', "not an object"),
        (b"\xff\xfe{}", "invalid utf-8"),
        (b'{"a": "\xed\xa0\x80"}', "invalid utf-8"),
        (b"{", "invalid"),
        (b'{"a": 1,}', "invalid"),
        (b"[" * 100_000 + b"]" * 100_000, "too deep"),
        (b'{"a": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}", "too deep"),
        (b'{"a": ' + b"{" * 5000, "too deep"),
        (b'{"release": ' + b"9" * 5000 + b"}", "number too long"),
        (b'{"release": -' + b"1" * 40 + b"}", "number too long"),
        (b'{"x": 0.' + b"1" * 40 + b"}", "number too long"),
        (b'{"x": 1e999}', "number out of range"),
        (b'{"x": NaN}', "not a number"),
        (b'{"x": -Infinity}', "not a number"),
        (b'{"x": "a\\u0000b"}', "invalid text"),
        (b'{"x": ["\\ud800"]}', "invalid text"),
        (b'{"\\udfff": 1}', "invalid text"),
    ]:
        with pytest.raises(ApiError) as info:
            parse_json_object(raw)
        assert (info.value.status_code, info.value.details) == (400, {"body": reason}), raw[:40]


async def test_acknowledgment_and_push_bodies_that_crashed_the_server_are_400s(officer):
    token = await csrf_token(officer)
    bodies = [
        b'{"release": ' + b"9" * 5000 + b', "uuid": "x"}',
        b'{"release": 1, "uuid": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b"[" * 50_000,
        b'{"release": NaN}',
        b"\xc3\x28",
    ]
    for path in ("/api/v1/acks", "/api/v1/push/subscriptions"):
        for body in bodies:
            response = await officer.post(
                path, content=body, headers={"X-CSRF-Token": token, "Content-Type": "application/json"}
            )
            assert response.status_code == 400, (path, body[:30], response.text)
            assert response.json()["errno"] == 107 and set(response.json()["details"]) == {"body"}
    response = await officer.request(
        "DELETE", "/api/v1/push/subscriptions", content=b'{"endpoint": 1e400}',
        headers={"X-CSRF-Token": token, "Content-Type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["details"] == {"body": "number out of range"}


def test_device_times_need_a_time_zone_and_a_believable_year():
    assert params.parse_device_time(None) is None and params.parse_device_time("") is None
    moment = params.parse_device_time("2025-03-01T14:05:09.120+02:00")
    assert moment.isoformat() == "2025-03-01T12:05:09.120000+00:00"
    assert params.parse_device_time("2000-01-01T00:00:00Z") == params.EARLIEST_DEVICE_TIME
    assert params.parse_device_time("2099-12-31T23:59:59.999Z").year == 2099
    for raw, reason in [
        ("0001-01-01T00:00:00+14:00", "out of range"),  # overflowed astimezone
        ("9999-12-31T23:59:59-14:00", "out of range"),
        ("1999-12-31T23:59:59Z", "out of range"),
        ("2100-01-01T00:00:00Z", "out of range"),
        ("2000-01-01T01:00:00+02:00", "out of range"),  # 1999 in UTC
        ("2025-03-01T14:05:09", "no time zone"),
        ("２０２５-03-01T14:05:09Z", "invalid"),
        ("yesterday", "invalid"),
        ("2025-03-01T14:05:09Z" + " " * 30, "invalid"),
        (1740837909, "invalid"),
        (["2025-03-01T14:05:09Z"], "invalid"),
    ]:
        with pytest.raises(Invalid) as info:
            params.parse_device_time(raw)
        assert info.value.details == {"device_time": reason}, raw


async def test_device_times_at_the_edge_of_the_calendar_are_a_400(officer):
    token = await csrf_token(officer)
    for edge in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        response = await officer.post(
            "/api/v1/acks",
            json={"uuid": str(uuid.uuid4()), "release": 1, "card_hashes": [], "device_time": edge},
            headers={"X-CSRF-Token": token},
        )
        assert response.status_code == 400, response.text
        assert response.json()["details"] == {"device_time": "out of range"}
