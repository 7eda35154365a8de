"""Tampering with the acknowledgment ledger in the database, kind by kind, and what verify finds.

A real database holds two agencies' chains (the demo agency's five signed rows, another
agency's three). A checkpoint of the demo chain is signed and written to a file first; then
each kind of tampering is applied with raw SQL (or to the checkpoint file), as someone with
database access would, and the ledger is verified with that checkpoint (as `fieldguide ledger
verify --checkpoint` does) and without one. Every kind must be found with the checkpoint; the
kinds found without one are listed in docs/ledger.md and checked here too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
from tortoise import connections

from server import bootstrap
from server import ledger_signing as signing
from server.acknowledgments import checkpoints
from server.acknowledgments.answers import record_answers
from server.acknowledgments.ledger import (
    GENESIS,
    ledger_rows,
    record_ack,
    row_hash,
    site_keys,
)
from server.guidance.releases import load_release
from server.models import Agency, Release, Role, User
from server.settings import ROOT

from .helpers.database import cli_environment
from .helpers.questions import publish_with_questions

OTHER = ("other-pd", "Other Police Department")


# --- the world: two agencies' chains ---------------------------------------------------------


async def _ack(user: User, release: Release, questions=()) -> None:
    view = await load_release(release)
    reading = None
    if questions:
        # Release 2: the check answered (one wrong try) and the changed card opened, both in the row's hash.
        answers = [{"question": q.hash, "tries": [(q.answer + 1) % len(q.choices), q.answer]} for q in questions]
        await record_answers(user, view, {"uuid": str(uuid.uuid4()), "answers": answers})
        reading = [{"card_id": "teacher", "hash": view.by_id["teacher"]["hash"], "seconds": 30}]
    await record_ack(user, view, str(uuid.uuid4()), [c["hash"] for c in view.cards], reading=reading)


async def build_world(settings) -> tuple[Agency, Agency]:
    """The demo agency: 5 rows over releases 1 and 2 (2 with reading and check_hash); the other agency: 3 rows."""
    demo = await Agency.get(slug="demo")
    other = await bootstrap.create_agency(settings, *OTHER)
    strangers = [
        await bootstrap.create_user(other, f"o{i}@other.test", f"Other Officer {i}", Role.OFFICER, None)
        for i in range(3)
    ]
    people = {u.email: u for u in await User.filter(agency=demo)}
    one = await Release.get(agency=demo, number=1)
    for email in ("officer@demo.test", "officer2@demo.test", "supervisor@demo.test"):
        await _ack(people[email], one)
    two, questions = await publish_with_questions(1, summary="Release 2.")
    for email in ("officer@demo.test", "officer2@demo.test"):
        await _ack(people[email], two, questions)
    theirs = await Release.get(agency=other, number=1)
    for person in strangers:
        await _ack(person, theirs)
    return demo, other


# --- raw SQL, as someone with database access would write it ----------------------------------


async def sql(query: str, *values) -> None:
    """Run one statement; "?" placeholders become $1, $2, ... on PostgreSQL."""
    conn = connections.get("default")
    if conn.capabilities.dialect != "sqlite":
        parts = query.split("?")
        query = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))
    await conn.execute_query(query, list(values))


async def rows_of(agency_id: int) -> list[dict]:
    return await ledger_rows(agency_id)


async def rehash_from(agency_id: int, position: int, renumber: bool = False, key: signing.LedgerKey | None = None) -> None:
    """Re-link and re-hash the chain from a position on (renumbering seq first); re-sign only with `key`."""
    rows = await rows_of(agency_id)
    if renumber:
        for row in rows:
            await sql("UPDATE acknowledgment SET seq = ? WHERE id = ?", -row["_id"], row["_id"])
        for i, row in enumerate(rows, start=1):
            await sql("UPDATE acknowledgment SET seq = ? WHERE id = ?", i, row["_id"])
        rows = await rows_of(agency_id)
    prev = rows[position - 2]["row_hash"] if position > 1 else GENESIS
    for row in rows[position - 1 :]:
        row["prev_hash"] = prev
        digest = row_hash(row)
        if key is None:
            await sql("UPDATE acknowledgment SET prev_hash = ?, row_hash = ? WHERE id = ?", prev, digest, row["_id"])
        else:
            await sql(
                "UPDATE acknowledgment SET prev_hash = ?, row_hash = ?, signature = ?, key_id = ? WHERE id = ?",
                prev, digest, key.sign_row(digest), key.key_id, row["_id"],
            )
        prev = digest


COLUMNS = ("agency_id, seq, user_id, release_id, uuid, card_hashes, attestation, device_time, received_at, "
           "device_id, prev_hash, row_hash, signature, key_id")


async def insert_copy(source_id: int, seq: int, user_id: int, signature=None, key_id=None) -> None:
    """A new row copied from another (times, release, text), with its own seq, person and uuid."""
    await sql(
        f"INSERT INTO acknowledgment ({COLUMNS}) SELECT agency_id, ?, ?, release_id, ?, card_hashes, attestation, "
        "device_time, received_at, device_id, prev_hash, row_hash, ?, ? FROM acknowledgment WHERE id = ?",
        seq, user_id, str(uuid.uuid4()), signature, key_id, source_id,
    )


async def demo_user(email: str) -> int:
    return (await User.get(email=email)).id


# --- the kinds of tampering -------------------------------------------------------------------
# Each takes (demo, other, rows of the demo chain, checkpoint path) and changes the database or the file.


async def edit_attestation(demo, other, rows, path):
    await sql("UPDATE acknowledgment SET attestation = ? WHERE id = ?", "I never read it.", rows[1]["_id"])


async def edit_card_hashes(demo, other, rows, path):
    await sql(f"UPDATE acknowledgment SET card_hashes = '[\"{'a' * 64}\"]' WHERE id = ?", rows[2]["_id"])


async def edit_device_time(demo, other, rows, path):
    # Row 1 was sent without a device time; now it claims one.
    await sql("UPDATE acknowledgment SET device_time = received_at WHERE id = ?", rows[0]["_id"])


async def edit_received_at(demo, other, rows, path):
    # Backdated: row 4 takes row 1's receive time.
    await sql(
        "UPDATE acknowledgment SET received_at = (SELECT received_at FROM acknowledgment WHERE id = ?) WHERE id = ?",
        rows[0]["_id"], rows[3]["_id"],
    )


async def edit_person(demo, other, rows, path):
    await sql("UPDATE acknowledgment SET user_id = ? WHERE id = ?", await demo_user("admin@demo.test"), rows[2]["_id"])


async def edit_release(demo, other, rows, path):
    # Row 3 (release 1) moved to the agency's release 2, whose number differs.
    two = await Release.get(agency=demo, number=2)
    await sql("UPDATE acknowledgment SET release_id = ? WHERE id = ?", two.id, rows[2]["_id"])


async def edit_uuid(demo, other, rows, path):
    await sql("UPDATE acknowledgment SET uuid = ? WHERE id = ?", str(uuid.uuid4()), rows[1]["_id"])


async def edit_device_id(demo, other, rows, path):
    await sql("UPDATE acknowledgment SET device_id = ? WHERE id = ?", "phone_9999", rows[1]["_id"])


async def edit_reading(demo, other, rows, path):
    # Row 4 read the changed card for an hour, not 30 seconds.
    reading = json.dumps([{**rows[3]["reading"][0], "seconds": 3600}], separators=(",", ":"))
    await sql("UPDATE acknowledgment SET reading = ? WHERE id = ?", reading, rows[3]["_id"])


async def strip_reading(demo, other, rows, path):
    await sql("UPDATE acknowledgment SET reading = NULL WHERE id = ?", rows[4]["_id"])


async def edit_check_hash(demo, other, rows, path):
    # Row 4 claims other answers (say, right first time).
    assert rows[3]["check_hash"]
    await sql("UPDATE acknowledgment SET check_hash = ? WHERE id = ?", "c" * 64, rows[3]["_id"])


async def strip_check_hash(demo, other, rows, path):
    await sql("UPDATE acknowledgment SET check_hash = NULL WHERE id = ?", rows[4]["_id"])


async def edit_row_hash(demo, other, rows, path):
    await sql("UPDATE acknowledgment SET row_hash = ? WHERE id = ?", "b" * 64, rows[4]["_id"])


async def edit_and_rehash(demo, other, rows, path):
    await sql("UPDATE acknowledgment SET attestation = ? WHERE id = ?", "I never read it.", rows[1]["_id"])
    await rehash_from(demo.id, 2)


async def rewrite_with_the_key(demo, other, rows, path):
    # Someone holding the key file rewrites row 2 and re-signs every row from there.
    await sql("UPDATE acknowledgment SET attestation = ? WHERE id = ?", "I never read it.", rows[1]["_id"])
    await rehash_from(demo.id, 2, key=signing.site_key())


async def delete_first(demo, other, rows, path):
    await sql("DELETE FROM acknowledgment WHERE id = ?", rows[0]["_id"])


async def delete_middle(demo, other, rows, path):
    await sql("DELETE FROM acknowledgment WHERE id = ?", rows[2]["_id"])


async def delete_last(demo, other, rows, path):
    await sql("DELETE FROM acknowledgment WHERE id = ?", rows[4]["_id"])


async def truncate_two(demo, other, rows, path):
    await sql("DELETE FROM acknowledgment WHERE id IN (?, ?)", rows[3]["_id"], rows[4]["_id"])


async def delete_renumber_rehash(demo, other, rows, path):
    await sql("DELETE FROM acknowledgment WHERE id = ?", rows[2]["_id"])
    await rehash_from(demo.id, 3, renumber=True)


async def delete_renumber_resign(demo, other, rows, path):
    await sql("DELETE FROM acknowledgment WHERE id = ?", rows[2]["_id"])
    await rehash_from(demo.id, 3, renumber=True, key=signing.site_key())


async def swap_order(demo, other, rows, path):
    await sql("UPDATE acknowledgment SET seq = ? WHERE id = ?", -1, rows[1]["_id"])
    await sql("UPDATE acknowledgment SET seq = ? WHERE id = ?", 2, rows[2]["_id"])
    await sql("UPDATE acknowledgment SET seq = ? WHERE id = ?", 3, rows[1]["_id"])


async def swap_order_and_rehash(demo, other, rows, path):
    await swap_order(demo, other, rows, path)
    await rehash_from(demo.id, 2)


async def forged_append(demo, other, rows, path):
    # A row with a correct hash at the end: admin "acknowledged" release 1 (no signature: no key).
    await insert_copy(rows[0]["_id"], 6, await demo_user("admin@demo.test"))
    await rehash_from(demo.id, 6)


async def forged_append_copied_signature(demo, other, rows, path):
    await insert_copy(rows[0]["_id"], 6, await demo_user("admin@demo.test"), rows[4]["signature"], rows[4]["key_id"])
    await rehash_from(demo.id, 6)


async def forged_append_own_key(demo, other, rows, path):
    # Signed, but with a key of the forger's own.
    await insert_copy(rows[0]["_id"], 6, await demo_user("admin@demo.test"))
    await rehash_from(demo.id, 6, key=signing.LedgerKey(signing.parse_private_key(signing.new_private_pem())))


async def forged_insert(demo, other, rows, path):
    for row in reversed(rows[2:]):
        await sql("UPDATE acknowledgment SET seq = ? WHERE id = ?", row["seq"] + 1, row["_id"])
    await insert_copy(rows[0]["_id"], 3, await demo_user("admin@demo.test"))
    await rehash_from(demo.id, 3)


async def duplicated_row(demo, other, rows, path):
    # Row 5 again at the end (its signature too); uuid and person differ only as the unique keys force.
    await insert_copy(rows[4]["_id"], 6, await demo_user("admin@demo.test"), rows[4]["signature"], rows[4]["key_id"])


async def release_of_another_agency(demo, other, rows, path):
    # Row 1 points at the other agency's release 1: same number, so the row's hash still matches.
    theirs = await Release.get(agency=other, number=1)
    await sql("UPDATE acknowledgment SET release_id = ? WHERE id = ?", theirs.id, rows[0]["_id"])


async def person_of_another_agency(demo, other, rows, path):
    stranger = await User.filter(agency=other).order_by("id").first()
    await sql("UPDATE acknowledgment SET user_id = ? WHERE id = ?", stranger.id, rows[4]["_id"])
    await rehash_from(demo.id, 5)


async def moved_to_another_chain(demo, other, rows, path):
    # Row 3 leaves the demo chain for the end of the other agency's, re-linked there; the demo chain is re-numbered.
    theirs = await rows_of(other.id)
    await sql("UPDATE acknowledgment SET agency_id = ?, seq = ? WHERE id = ?", other.id, len(theirs) + 1, rows[2]["_id"])
    await rehash_from(other.id, len(theirs) + 1)
    await rehash_from(demo.id, 3, renumber=True)


async def signature_stripped(demo, other, rows, path):
    await sql("UPDATE acknowledgment SET signature = NULL, key_id = NULL WHERE id = ?", rows[3]["_id"])


async def every_signature_stripped(demo, other, rows, path):
    await sql("UPDATE acknowledgment SET signature = NULL, key_id = NULL WHERE agency_id = ?", demo.id)


async def signature_altered(demo, other, rows, path):
    flipped = ("0" if rows[1]["signature"][0] != "0" else "1") + rows[1]["signature"][1:]
    await sql("UPDATE acknowledgment SET signature = ? WHERE id = ?", flipped, rows[1]["_id"])


async def key_id_altered(demo, other, rows, path):
    await sql("UPDATE acknowledgment SET key_id = ? WHERE id = ?", "0123456789abcdef", rows[1]["_id"])


async def whole_chain_rebuilt_unsigned(demo, other, rows, path):
    # Every row rewritten and re-hashed, signatures dropped: as if all were recorded before signing.
    await sql("UPDATE acknowledgment SET attestation = ?, signature = NULL, key_id = NULL WHERE agency_id = ?",
              "I never read it.", demo.id)
    await rehash_from(demo.id, 1)


async def whole_chain_rebuilt_with_the_key(demo, other, rows, path):
    await sql("UPDATE acknowledgment SET attestation = ? WHERE agency_id = ?", "I never read it.", demo.id)
    await rehash_from(demo.id, 1, key=signing.site_key())


def _edit_file(path, change) -> None:
    body = json.loads(path.read_text())
    change(body)
    path.write_text(json.dumps(body))


async def checkpoint_count_lowered(demo, other, rows, path):
    # The file says 4 rows, so that cutting row 5 would pass: its signature no longer matches.
    await delete_last(demo, other, rows, path)
    _edit_file(path, lambda b: b.update(count=4, head=rows[3]["row_hash"]))


async def checkpoint_head_edited(demo, other, rows, path):
    await rewrite_with_the_key(demo, other, rows, path)
    after = await rows_of(demo.id)
    _edit_file(path, lambda b: b.update(head=after[4]["row_hash"]))


async def checkpoint_signature_altered(demo, other, rows, path):
    await delete_last(demo, other, rows, path)
    _edit_file(path, lambda b: b.update(signature="00" + b["signature"][2:]))


async def checkpoint_of_another_agency(demo, other, rows, path):
    # Another agency's genuine checkpoint offered for this one.
    await delete_last(demo, other, rows, path)
    path.write_text(checkpoints.checkpoint_file(await checkpoints.make_checkpoint(other, "command")))


# name: (tampering, found without a checkpoint)
KINDS = {
    "edit the attestation": (edit_attestation, True),
    "edit card_hashes": (edit_card_hashes, True),
    "edit device_time": (edit_device_time, True),
    "edit received_at": (edit_received_at, True),
    "edit the person (user_id)": (edit_person, True),
    "edit the release (another number)": (edit_release, True),
    "edit the uuid": (edit_uuid, True),
    "edit device_id": (edit_device_id, True),
    "edit the reading (seconds)": (edit_reading, True),
    "strip the reading": (strip_reading, True),
    "edit check_hash": (edit_check_hash, True),
    "strip check_hash": (strip_check_hash, True),
    "edit the row_hash": (edit_row_hash, True),
    "edit, then re-hash the rest": (edit_and_rehash, True),
    "rewrite and re-sign with the key file": (rewrite_with_the_key, False),
    "delete the first row": (delete_first, True),
    "delete a middle row": (delete_middle, True),
    "delete the last row": (delete_last, False),
    "truncate the last two rows": (truncate_two, False),
    "delete, renumber and re-hash": (delete_renumber_rehash, True),
    "delete, renumber and re-sign with the key file": (delete_renumber_resign, False),
    "swap two rows' order": (swap_order, True),
    "swap two rows, then re-hash": (swap_order_and_rehash, True),
    "forged append with a correct hash": (forged_append, True),
    "forged append with a copied signature": (forged_append_copied_signature, True),
    "forged append signed with another key": (forged_append_own_key, True),
    "forged insert in the middle": (forged_insert, True),
    "duplicated row": (duplicated_row, True),
    "release of another agency, same number": (release_of_another_agency, True),
    "person of another agency, re-hashed": (person_of_another_agency, True),
    "row moved to another agency's chain": (moved_to_another_chain, True),
    "signature stripped from one row": (signature_stripped, True),
    "every signature stripped": (every_signature_stripped, False),
    "signature altered": (signature_altered, True),
    "key id altered": (key_id_altered, True),
    "whole chain rebuilt without signatures": (whole_chain_rebuilt_unsigned, False),
    "whole chain rebuilt and re-signed with the key file": (whole_chain_rebuilt_with_the_key, False),
    "checkpoint file: count lowered after a cut": (checkpoint_count_lowered, False),
    "checkpoint file: head edited after a rewrite": (checkpoint_head_edited, False),
    "checkpoint file: signature altered": (checkpoint_signature_altered, False),
    "checkpoint of another agency offered": (checkpoint_of_another_agency, False),
}


async def take_checkpoint(demo: Agency, path) -> None:
    path.write_text(checkpoints.checkpoint_file(await checkpoints.make_checkpoint(demo, "command")))


async def verdicts(demo: Agency, path) -> tuple[checkpoints.Report, checkpoints.Report]:
    """What verify reports with the checkpoint file (as the command reads it), and without one."""
    keys = site_keys()
    try:
        body = checkpoints.read_checkpoint(path.read_text())
        with_checkpoint = await checkpoints.report(demo, body, keys)
    except checkpoints.CheckpointInvalid as exc:
        with_checkpoint = checkpoints.Report(2, str(exc))
    return with_checkpoint, await checkpoints.report(demo, None, keys)


# --- the tests --------------------------------------------------------------------------------


def test_the_list_has_at_least_22_kinds():
    assert len(KINDS) >= 22


async def test_the_untouched_world_is_intact_with_and_without_its_checkpoint(app, settings, tmp_path):
    demo, other = await build_world(settings)
    path = tmp_path / "checkpoint.json"
    await take_checkpoint(demo, path)
    body = json.loads(path.read_text())
    assert body["count"] == 5 and body["unsigned"] == 0 and body["agency"] == {"id": demo.id, "slug": "demo"}
    with_checkpoint, without = await verdicts(demo, path)
    assert with_checkpoint.status == 0 and without.status == 0, (with_checkpoint, without)
    assert (await checkpoints.report(other, None, site_keys())).status == 0


@pytest.mark.parametrize("kind", list(KINDS))
async def test_every_kind_is_found_given_a_checkpoint(app, settings, tmp_path, kind):
    tamper, found_without = KINDS[kind]
    demo, other = await build_world(settings)
    path = tmp_path / "checkpoint.json"
    await take_checkpoint(demo, path)
    await tamper(demo, other, await rows_of(demo.id), path)
    with_checkpoint, without = await verdicts(demo, path)
    assert with_checkpoint.status != 0, f"{kind}: not found with the checkpoint: {with_checkpoint.message}"
    assert (without.status != 0) == found_without, f"{kind}: without a checkpoint: {without.message}"
    print(f"{kind}\n  with checkpoint: {with_checkpoint.message}\n  without: {without.message}")


def run_cli(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "ledger", *args],
        env=cli_environment(settings), cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )


async def test_the_command_finds_a_cut_and_a_forged_checkpoint(app, settings, tmp_path):
    demo, other = await build_world(settings)
    path = tmp_path / "checkpoint.json"
    made = run_cli(settings, "checkpoint", "--agency", "demo", "--out", str(path))
    assert made.returncode == 0, made.stderr
    key = run_cli(settings, "public-key")
    assert key.returncode == 0 and key.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    assert f"key id {signing.site_key().key_id}" in key.stderr
    (tmp_path / "public.pem").write_text(key.stdout)

    intact = run_cli(settings, "verify", "--agency", "demo", "--checkpoint", str(path), "--public-key", str(tmp_path / "public.pem"))
    assert intact.returncode == 0, intact.stderr
    assert "intact: 5 acknowledgment(s)" in intact.stdout and "holds the checkpoint" in intact.stdout

    rows = await rows_of(demo.id)
    await delete_last(demo, other, rows, path)
    assert run_cli(settings, "verify", "--agency", "demo").returncode == 0, "a cut end is invisible without a checkpoint"
    cut = run_cli(settings, "verify", "--agency", "demo", "--checkpoint", str(path))
    assert cut.returncode == 1 and "the checkpoint saw 5 row(s); the chain has 4" in cut.stderr

    _edit_file(path, lambda b: b.update(count=4, head=rows[3]["row_hash"]))
    forged = run_cli(settings, "verify", "--agency", "demo", "--checkpoint", str(path))
    assert forged.returncode == 3 and "signature does not verify" in forged.stderr

    path.write_text("{not json")
    assert run_cli(settings, "verify", "--agency", "demo", "--checkpoint", str(path)).returncode == 2
    other_key = tmp_path / "other.pem"
    other_key.write_text(signing.LedgerKey(signing.parse_private_key(signing.new_private_pem())).verifier.pem)
    wrong_key = run_cli(settings, "verify", "--agency", "other-pd", "--public-key", str(other_key))
    assert wrong_key.returncode == 1 and "not the site's key" in wrong_key.stderr


async def test_rows_recorded_before_signing_are_reported_not_signed_later(app, settings):
    demo, _ = await build_world(settings)
    rows = await rows_of(demo.id)
    # As the database held them before rows were signed: the first two rows carry no signature.
    for row in rows[:2]:
        await sql("UPDATE acknowledgment SET signature = NULL, key_id = NULL WHERE id = ?", row["_id"])
    report = await checkpoints.report(demo, None, site_keys())
    assert report.status == 0 and "2 row(s) recorded before rows were signed" in report.message
    assert [r["signature"] is None for r in await rows_of(demo.id)] == [True, True, False, False, False]
    checkpoint = await checkpoints.make_checkpoint(demo, "command")
    assert json.loads(checkpoint.body)["unsigned"] == 2
    assert [r["signature"] is None for r in await rows_of(demo.id)][:2] == [True, True], "never signed after the fact"


def test_tamper_summary_for_the_record():
    """The figures docs/ledger.md gives: every kind with a checkpoint, these without."""
    found_without = sum(1 for _, without in KINDS.values() if without)
    text = (ROOT / "docs" / "ledger.md").read_text()
    assert f"{len(KINDS)} of {len(KINDS)}" in text and f"{found_without} of {len(KINDS)}" in text, (
        f"docs/ledger.md should say: {len(KINDS)} of {len(KINDS)} with a checkpoint, {found_without} of {len(KINDS)} without"
    )
