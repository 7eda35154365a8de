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
import uuid
import zipfile

import pytest

from server import ledger_signing as signing
from server.acknowledgments import checkpoints
from server.acknowledgments.ledger import (
    GENESIS,
    chain_content,
    row_hash,
    site_keys,
    verify_agency,
)
from server.models import Acknowledgment, Agency
from server.settings import ROOT

from .helpers.acks import ack_form, post_ack
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
    # A row re-hashed after editing no longer matches its signature (and breaks the next link).
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
              "received_at", "device_id", "prev_hash", "row_hash", "signature", "key_id")
    a, b = rows[1], rows[2]
    await Acknowledgment.filter(id=a.id).delete()
    await Acknowledgment.filter(id=b.id).update(**{f: getattr(a, f) for f in fields})
    await Acknowledgment.create(id=a.id, agency_id=a.agency_id, **{f: getattr(b, f) for f in fields})


TAMPERING = {
    "edit a field": (_edit, 2, "edited"),
    "edit and re-hash a row": (_edit_and_rehash, 2, "signature"),
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
    return subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


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
    return re.search(r"```python\n(.*?)```", text, re.DOTALL).group(1)


async def test_the_evidence_bundle_verifies_with_the_documented_script(officer, app, tmp_path):
    await make_chain(app)
    async with client_as(app, "supervisor@demo.test") as sup:
        response = await sup.get("/supervisor/releases/2/evidence.zip")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    files = {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()}
    assert set(files) == {
        "acks.csv", "ledger.json", "ledger.csv", "checkpoint.json", "ledger-public-key.pem", "manifest.json",
        "README.txt", "SHA256SUMS",
    }
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


async def evidence_files(app, number: int = 2) -> dict[str, bytes]:
    async with client_as(app, "supervisor@demo.test") as sup:
        response = await sup.get(f"/supervisor/releases/{number}/evidence.zip")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    return {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()}


async def test_a_formula_attestation_is_inert_in_ledger_csv_and_the_script_still_verifies(officer, app, tmp_path):
    await Agency.filter(slug="demo").update(attestation="=HYPERLINK(\"http://x\") I have read release {release}.")
    await make_chain(app)
    files = await evidence_files(app)
    cells = [cell for row in csv.reader(io.StringIO(files["ledger.csv"].decode())) for cell in row]
    assert "'=HYPERLINK(\"http://x\") I have read release 1." in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    stored = await Acknowledgment.filter(seq=1).first()
    assert stored.attestation.startswith("=HYPERLINK")

    script = tmp_path / "verify_ledger.py"
    script.write_text(documented_verifier())
    (tmp_path / "ledger.csv").write_bytes(files["ledger.csv"])
    result = run(str(script), str(tmp_path / "ledger.csv"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "intact: 4 rows" in result.stdout


def documented_shell(marker: str) -> str:
    """The ```sh block of docs/ledger.md that contains marker."""
    text = (ROOT / "docs" / "ledger.md").read_text()
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", text, re.DOTALL) if marker in b]
    assert len(blocks) == 1, marker
    return blocks[0]


async def test_the_bundles_checkpoint_and_rows_verify_with_the_documented_openssl_commands(officer, app, tmp_path):
    await make_chain(app)
    files = await evidence_files(app)
    checkpoint = json.loads(files["checkpoint.json"])
    ledger = json.loads(files["ledger.json"])
    assert checkpoint["count"] == 4 and checkpoint["head"] == ledger["head"]["row_hash"]
    assert checkpoint["key_id"] in files["README.txt"].decode()
    for name in ("checkpoint.json", "ledger-public-key.pem"):
        (tmp_path / name).write_bytes(files[name])

    def sh(script: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(["sh", "-c", script], cwd=tmp_path, env={**os.environ, **env},
                              capture_output=True, text=True, timeout=60, check=False)

    check = documented_shell("checkpoint.sig")
    good = sh(check)
    assert good.returncode == 0 and "Signature Verified Successfully" in good.stdout, good.stdout + good.stderr
    (tmp_path / "checkpoint.json").write_text(json.dumps({**checkpoint, "count": 3}))
    bad = sh(check)
    assert bad.returncode != 0 and "Signature Verification Failure" in bad.stdout + bad.stderr

    row = ledger["rows"][2]
    assert sh(documented_shell("row.sig"), ROW_HASH=row["row_hash"], SIGNATURE=row["signature"]).returncode == 0
    assert sh(documented_shell("row.sig"), ROW_HASH=ledger["rows"][1]["row_hash"], SIGNATURE=row["signature"]).returncode != 0


async def test_the_public_key_is_published_and_names_its_key_id(client, app, settings):
    answer = await client.get("/ledger/public-key.pem")
    assert answer.status_code == 200 and answer.text.startswith("-----BEGIN PUBLIC KEY-----")
    key = signing.Verifier.from_pem(answer.text)
    assert answer.headers["x-key-id"] == key.key_id == signing.site_key(settings).key_id
    assert (settings.data_dir / signing.KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert "/ledger/public-key.pem" in (await client.get("/api/v1/openapi.json")).json()["paths"]


async def test_rows_are_signed_and_supervisors_see_and_download_checkpoints(officer, app):
    agency = await make_chain(app)
    key = signing.site_key()
    for ack in await Acknowledgment.filter(agency=agency):
        assert ack.key_id == key.key_id and key.verifier.check_row(ack.row_hash, ack.signature)
    async with client_as(app, "supervisor@demo.test") as sup:
        assert "No checkpoint yet" in (await sup.get("/supervisor")).text
        download = await sup.get("/supervisor/ledger/checkpoint.json")
        assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
        body = json.loads(download.text)
        page = (await sup.get("/supervisor")).text
    assert body["count"] == 4 and body["agency"]["slug"] == "demo"
    assert checkpoints.checkpoint_signed_by(body, site_keys())
    assert body["head"] in page and body["key_id"] in page and "--checkpoint" in page
    async with client_as(app, "officer@demo.test") as one:
        assert (await one.get("/supervisor/ledger/checkpoint.json")).status_code == 403


async def test_an_acknowledgment_must_name_its_cards(officer):
    token = await csrf_token(officer)
    for body in ({"card_hashes": []}, {}):
        answer = await post_ack(officer, token, 1, **body) if body else await officer.post(
            "/api/v1/acks", json={"uuid": str(uuid.uuid4()), "release": 1}, headers={"X-CSRF-Token": token}
        )
        assert answer.status_code == 400, answer.text
        assert "card_hashes" in answer.json()["details"]
    assert await Acknowledgment.all().count() == 0
    assert (await post_ack(officer, token, 1)).status_code == 201


async def test_a_release_that_only_retires_cards_is_acknowledged_naming_the_cards_it_keeps(officer, app):
    release = await publish_revision(retire=("teacher",), changes={"teacher": "major"}, summary="Retire.")
    assert release.requires_ack
    page = (await officer.get(f"/releases/{release.number}/changes")).text
    named = ack_form(page)["card_hashes"].split()
    assert named, "the form names the cards"
    answer = await post_ack(officer, await csrf_token(officer), release.number, card_hashes=named)
    assert answer.status_code == 201, answer.text
