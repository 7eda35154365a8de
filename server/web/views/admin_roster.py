"""/admin/users roster import: the template CSV, the preview of an uploaded file, and applying it.

The file travels from the preview to "Apply" inside the preview's own form, compressed (a
roster compresses about five to one) and base64url-encoded: no server keeps it between the two
requests, so any server process can apply it, and the browser's form encoding cannot change a
byte of it (its SHA-256 in the audit entry is the file's). The admin could send any file anyway:
applying reads it afresh and re-plans inside the transaction, and refuses (showing the new
preview) when the plan is no longer the one previewed.
"""

from __future__ import annotations

import base64
import binascii
import zlib

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from server.csv_export import write_csv
from server.mail.config import mail_for
from server.models import User
from server.people import roster
from server.push.runtime import wake_senders
from server.web.views.admin_users import (
    ADMIN,
    NO_BASE_URL,
    link_base,
    link_url,
    users_page,
)
from server.web.views.common import page, require_csrf, signed_in

SHOWN = 500  # people listed per group on the preview page; the counts are always whole
CARRIED_MAX = 700_000  # characters of the carried file, so the Apply form stays under the request limit
TEMPLATE_NAME = "roster.csv"


def _carry(data: bytes) -> str:
    return base64.urlsafe_b64encode(zlib.compress(data, 9)).decode("ascii")


def _carried(text: str) -> bytes | None:
    """The file a preview form carried, or None when the field is not one we made."""
    try:
        packed = base64.urlsafe_b64decode(text.encode("ascii"))
        unpacker = zlib.decompressobj()
        data = unpacker.decompress(packed, roster.MAX_BYTES + 1)  # bounded: never inflate a bomb
    except (binascii.Error, ValueError, zlib.error, UnicodeEncodeError):
        return None
    if unpacker.unconsumed_tail:
        return data  # longer than any roster may be: planning refuses it by its size
    return data if unpacker.eof else None


async def template(request: Request) -> Response:
    """The roster CSV to fill in: its header and the agency's active people, ready to edit and upload back."""
    _, admin = await signed_in(request, ADMIN)
    people = await User.filter(agency_id=admin.agency_id, active=True)
    return Response(
        roster.template(people),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{TEMPLATE_NAME}"',
            "Cache-Control": "private, no-store",
        },
    )


def _needs_links(plan: roster.Plan) -> bool:
    return bool(plan.create) or any(c.reactivate for c in plan.update)


def _preview_page(request: Request, plan: roster.Plan, data: bytes, filename: str, message=None, status=200):
    carried = _carry(data)
    too_big = len(carried) > CARRIED_MAX
    no_links = NO_BASE_URL if _needs_links(plan) and link_base(request) is None else None
    response = page(
        request,
        "views/admin/roster_preview.html",
        {
            "plan": plan,
            "counts": plan.counts(),
            "filename": filename,
            "carried": carried,
            "digest": plan.digest(),
            "shown": SHOWN,
            "message": message,
            "no_links": no_links,
            "too_big": too_big,
            "can_apply": plan.ok and not no_links and not too_big and (plan.create or plan.update or plan.deactivate),
            "limits": {"bytes": roster.MAX_BYTES, "rows": roster.MAX_ROWS},
        },
        status_code=status,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _filename(name: str) -> str:
    # Only the file's own name, printable, for the page and the audit entry.
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if ch.isprintable())[:120] or "roster.csv"


async def preview(request: Request) -> Response:
    """Read an uploaded roster file and show what applying it would do (nothing is written)."""
    _, admin = await signed_in(request, ADMIN)
    form = await require_csrf(request, roles=ADMIN)
    upload = form.get("file")
    deactivate_missing = form.get("deactivate_missing") == "yes"
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            error = roster.RosterError("Choose the roster file (CSV) to import.")
            return await users_page(request, admin, roster_error=error, status=400)
        data = await upload.read(roster.MAX_BYTES + 1)
    finally:
        await form.close()  # the upload's temporary file, whatever was sent
    try:
        plan = await roster.plan(admin.agency_id, data, admin, deactivate_missing)
    except roster.RosterError as exc:
        return await users_page(request, admin, roster_error=exc, status=400)
    return _preview_page(request, plan, data, _filename(upload.filename), status=200 if plan.ok else 400)


async def apply(request: Request) -> Response:
    """Apply the previewed roster file in one transaction, then list the links to hand out."""
    _, admin = await signed_in(request, ADMIN)
    form = await require_csrf(request, roles=ADMIN)
    data = _carried(str(form.get("roster", "")))
    filename = _filename(str(form.get("filename", "")))
    digest = str(form.get("plan", ""))
    deactivate_missing = form.get("deactivate_missing") == "yes"
    if data is None or not digest:
        error = roster.RosterError("This import form was damaged or is incomplete. Upload the file again.")
        return await users_page(request, admin, roster_error=error, status=400)
    agency = await admin.agency
    try:
        if link_base(request) is None:
            # Refused before anything is written when new people would need a link.
            plan = await roster.plan(admin.agency_id, data, admin, deactivate_missing)
            if _needs_links(plan):
                return _preview_page(request, plan, data, filename, status=400)
        settings = request.app.state.settings
        mail = mail_for(settings, link_base(request))
        result = await roster.apply(
            agency, admin, data, deactivate_missing, settings.invitation_days, digest, filename, mail
        )
    except roster.RosterError as exc:
        return await users_page(request, admin, roster_error=exc, status=400)
    except roster.PlanChanged as exc:
        message = (
            "Nothing was written: your agency's people changed since this preview (someone edited, invited or "
            "deactivated a person). Here is what the file would do now; apply it again if it is right."
        )
        return _preview_page(request, exc.plan, data, filename, message, status=409)
    wake_senders(request.app)
    links = [(email, name, link_url(request, token)) for email, name, token in result.links]
    response = page(
        request,
        "views/admin/roster_done.html",
        {
            "plan": result.plan,
            "counts": result.plan.counts(),
            "filename": filename,
            "links": links,
            "links_csv": write_csv(("email", "name", "link"), links),
            "days": settings.invitation_days,
            "emailed": mail is not None,
        },
    )
    response.headers["Cache-Control"] = "no-store"
    return response
