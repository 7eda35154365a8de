"""POST /api/v1/push/receipts: a device reports a release notice it showed."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.push.receipts import parse_receipt, receipt_body, record_receipt
from server.web.request_body import json_object
from server.web.views.common import require_csrf, signed_in

NO_STORE = {"Cache-Control": "private, no-store"}


async def record(request: Request) -> Response:
    """Record a receipt once: 201 when new, 200 with the receipt already recorded."""
    await require_csrf(request)
    _, user = await signed_in(request)
    recorded = await record_receipt(user, parse_receipt(await json_object(request)))
    return JSONResponse(receipt_body(recorded), status_code=201 if recorded.created else 200, headers=NO_STORE)
