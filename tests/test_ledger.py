"""The hash-chained acknowledgment ledger: verification, tampering, the CLI and exported chains."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import zipfile

import pytest

from server.acknowledgments.ledger import (
    GENESIS,
    chain_content,
    row_hash,
    verify_agency,
)
from server.models import Acknowledgment, Agency
from server.settings import ROOT

from .helpers.acks import post_ack
from .helpers.clients import client_as
from .helpers.csrf import csrf_token
from .helpers.database import cli_environment
from .helpers.releases import publish_revision


async def make_chain(app) -> Agency:
    """Four acknowledgments in the demo agency: two releases, three people."""
    async with client_as(app, "officer@demo.test") as one, client_as(app, "officer2@demo.test") as two:
        assert (await post_ack(one, await csrf_token(one), 1, device_time="2026-01-05T10:00:00+02:00")).status_code == 201
        assert (await post_ack(two, await csrf_token(two), 1)).status_code == 201
        await publish_revision(touch="teacher", changes={"teacher": "major"}, summary="Release {number}.")
        assert (await post_ack(one, await csrf_token(one), 2, device_id="phone_0001")).status_code == 201
    async with client_as(app, "supervisor@demo.test") as sup:
        assert (await post_ack(sup, await csrf_token(sup), 2)).status_code == 201
    return await Agency.get(slug="demo")


async def _edit(rows):
    await Acknowledgment.filter(id=rows[1].id).update(attestation="I never read release 1.")


async def _edit_and_rehash(rows):
    # Even a row re-hashed after editing breaks the link to the next row.
    row = rows[1]
    row.attestation = "I never read release 1."
    await Acknowledgment.filter(id=row.id).update(attestation=row.attestation, row_hash=row_hash(chain_content(row, 1)))


async def _delete(rows):
    await Acknowledgment.filter(id=rows[1].id).delete()


async def _swap(rows):
    await Acknowledgment.filter(id=rows[1].id).update(seq=-1)
    await Acknowledgment.filter(id=rows[2].id).update(seq=2)
    await Acknowledgment.filter(id=rows[1].id).update(seq=3)


async def _swap_contents(rows):
    # Two rows trade every field but their ids: the seq order holds, the insertion order does not.
    fields = ("seq", "user_id", "release_id", "uuid", "card_hashes", "attestation", "device_time",
              "received_at", "device_id", "prev_hash", "row_hash")
    a, b = rows[1], rows[2]
    await Acknowledgment.filter(id=a.id).delete()
    await Acknowledgment.filter(id=b.id).update(**{f: getattr(a, f) for f in fields})
    await Acknowledgment.create(id=a.id, agency_id=a.agency_id, **{f: getattr(b, f) for f in fields})


TAMPERING = {
    "edit a field": (_edit, 2, "edited"),
    "edit and re-hash a row": (_edit_and_rehash, 3, "prev_hash"),
    "delete a row": (_delete, 2, "removed"),
    "swap two rows' order": (_swap, 2, "moved"),
    "swap two rows' contents": (_swap_contents, 3, "swapped"),
}


async def test_an_intact_chain_verifies(officer, app):
    agency = await make_chain(app)
    result = await verify_agency(agency.id)
    assert result.count == 4 and result.broken is None
    rows = await Acknowledgment.filter(agency=agency).order_by("seq")
    assert rows[0].prev_hash == GENESIS
    assert [r.prev_hash for r in rows[1:]] == [r.row_hash for r in rows[:-1]]
    assert result.head == rows[-1].row_hash


async def test_an_empty_ledger_is_intact(app):
    result = await verify_agency((await Agency.get(slug="demo")).id)
    assert result.count == 0 and result.head == GENESIS and result.broken is None


@pytest.mark.parametrize("kind", list(TAMPERING))
async def test_verify_finds_the_first_broken_link(officer, app, kind):
    tamper, position, words = TAMPERING[kind]
    agency = await make_chain(app)
    await tamper(await Acknowledgment.filter(agency=agency).order_by("seq"))
    result = await verify_agency(agency.id)
    assert result.broken is not None, kind
    assert result.broken.position == position, str(result.broken)
    assert words in result.broken.problem


def run(*args, settings=None) -> subprocess.CompletedProcess:
    env = cli_environment(settings) if settings else {k: v for k, v in os.environ.items() if not k.startswith("FIELDGUIDE_")}
    return subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


async def test_the_cli_exits_0_when_intact_and_1_at_the_first_broken_row(officer, app, settings):
    await make_chain(app)
    intact = run("-m", "server.cli", "ledger", "verify", "--agency", "demo", settings=settings)
    assert intact.returncode == 0, intact.stderr
    assert "intact: 4 acknowledgment(s)" in intact.stdout
    await _delete(await Acknowledgment.all().order_by("seq"))
    broken = run("-m", "server.cli", "ledger", "verify", "--agency", "demo", settings=settings)
    assert broken.returncode == 1
    assert "BROKEN at row 2 (seq 3)" in broken.stderr
    unknown = run("-m", "server.cli", "ledger", "verify", "--agency", "nobody", settings=settings)
    assert unknown.returncode == 2


def documented_verifier() -> str:
    """The standalone script in docs/ledger.md."""
    text = (ROOT / "docs" / "ledger.md").read_text()
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


async def test_the_evidence_bundle_verifies_with_the_documented_script(officer, app, tmp_path):
    await make_chain(app)
    async with client_as(app, "supervisor@demo.test") as sup:
        response = await sup.get("/supervisor/releases/2/evidence.zip")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    files = {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()}
    assert set(files) == {"acks.csv", "ledger.json", "ledger.csv", "manifest.json", "README.txt", "SHA256SUMS"}
    for line in files["SHA256SUMS"].decode().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256(files[name]).hexdigest() == digest, name
    ledger = json.loads(files["ledger.json"])
    assert len(ledger["rows"]) == 4 and ledger["head"]["seq"] == 4
    assert ledger["head"]["row_hash"] in files["README.txt"].decode()
    manifest = json.loads(files["manifest.json"])
    assert manifest["release"] == 2 and [r["release"] for r in manifest["agency_releases"]] == [1, 2]
    acks = list(csv.DictReader(io.StringIO(files["acks.csv"].decode())))
    assert {r["email"]: r["status"] for r in acks if r["counted"] == "yes"} == {
        "officer@demo.test": "acknowledged",
        "officer2@demo.test": "pending",
    }
    assert [r["email"] for r in acks if r["counted"] == "no"] == ["supervisor@demo.test"]

    script = tmp_path / "verify_ledger.py"
    script.write_text(documented_verifier())
    for name in ("ledger.json", "ledger.csv"):
        (tmp_path / name).write_bytes(files[name])
        result = run(str(script), str(tmp_path / name))
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"intact: 4 rows, head seq 4 row_hash {ledger['head']['row_hash']}" in result.stdout

    edited = files["ledger.csv"].decode().replace("changes in release 1.", "changes in release 9.", 1)
    (tmp_path / "edited.csv").write_text(edited, newline="")
    result = run(str(script), str(tmp_path / "edited.csv"))
    assert result.returncode == 1 and "row 1" in result.stdout and "edited" in result.stdout

    del ledger["rows"][1]
    (tmp_path / "cut.json").write_text(json.dumps(ledger))
    result = run(str(script), str(tmp_path / "cut.json"))
    assert result.returncode == 1 and "row 2" in result.stdout
