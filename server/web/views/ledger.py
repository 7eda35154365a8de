"""The ledger's public key for anyone, and signed checkpoints of the agency's ledger for supervisors."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server import ledger_signing as signing
from server.acknowledgments.checkpoints import checkpoint_file, make_checkpoint
from server.models import Agency
from server.web.views.common import signed_in
from server.web.views.supervisor import SUPERVISORS


async def public_key(request: Request) -> Response:
    """/ledger/public-key.pem: the public half of the key that signs ledger rows and checkpoints."""
    verifier = signing.site_key(request.app.state.settings).verifier
    return Response(
        verifier.pem,
        media_type="application/x-pem-file",
        headers={"Cache-Control": "public, max-age=3600", "X-Key-Id": verifier.key_id},
    )


async def checkpoint(request: Request) -> Response:
    """/supervisor/ledger/checkpoint.json: a checkpoint of the agency's ledger, signed and stored now."""
    _, user = await signed_in(request, SUPERVISORS)
    agency = await Agency.get(id=user.agency_id)
    made = await make_checkpoint(agency, "download")
    return Response(
        checkpoint_file(made),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{agency.slug}-ledger-checkpoint-{made.count}.json"',
            "Cache-Control": "no-store",
        },
    )
