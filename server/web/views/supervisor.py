"""The supervisor's dashboard: acknowledgments per release, per officer, and exports for audits."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from server import clock
from server.acknowledgments.chart import completion_chart
from server.acknowledgments.check_stats import (
    check_stats,
    officer_checks,
    release_answers_csv,
)
from server.acknowledgments.checkpoints import latest_checkpoint
from server.acknowledgments.dashboard import (
    ReleaseStatus,
    completion_steps,
    count_release,
    last_arrival,
    officer_history,
    officer_page,
    release_schools,
    release_status,
    release_statuses,
)
from server.acknowledgments.evidence import evidence_zip, release_acks_csv
from server.models import Agency, Device, Release, Role, User
from server.params import parse_page_number, whole_number
from server.push.status import attach_push_status, person_alerts, release_ladders
from server.web.errors import ApiError
from server.web.views.common import page, release_for, signed_in

SUPERVISORS = {Role.SUPERVISOR, Role.ADMIN}
PAGE_SIZE = 100
SHOW = {"outstanding": "Not yet acknowledged", "acknowledged": "Acknowledged", "all": "Everyone"}


async def overview(request: Request) -> Response:
    """/supervisor: every release with acknowledged / pending / overdue counts."""
    _, user = await signed_in(request, SUPERVISORS)
    statuses = await release_statuses(user.agency_id, clock.now())
    checkpoint = await latest_checkpoint(user.agency_id)
    return page(request, "views/supervisor/overview.html", {"statuses": statuses, "checkpoint": checkpoint})


async def _status(user: User, number: int, moment) -> ReleaseStatus:
    status = await release_status(user.agency_id, number, moment)
    if status is None:
        raise ApiError(404, f"Your agency has no release {number}.")
    return status


def _count_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    return whole_number(raw) if raw is not None and len(raw) < 8 else None


async def release_detail(request: Request) -> Response:
    """/supervisor/releases/N: counts, completion chart, and the officers (by school and status)."""
    _, user = await signed_in(request, SUPERVISORS)
    moment = clock.now()
    status = await _status(user, request.path_params["number"], moment)
    context = {"status": status, **{k: _count_param(request, k) for k in ("reminded", "pushed", "emailed", "unreachable")}}
    school = request.query_params.get("school", "")[:200]
    context["check"] = await check_stats(user.agency_id, status, school)
    if not status.requires_ack:
        return page(request, "views/supervisor/release.html", context)
    show = request.query_params.get("status", "outstanding")
    if show not in SHOW:
        raise ApiError(400, "status must be outstanding, acknowledged or all.", {"status": show})
    number = parse_page_number(request.query_params.get("page", "1"))
    late = await count_release(user.agency_id, status, school)
    listed = {"outstanding": status.outstanding, "acknowledged": status.acknowledged, "all": status.expected}[show]
    first = (number - 1) * PAGE_SIZE
    rows = await officer_page(user.agency_id, status, show, school, first, PAGE_SIZE)
    await attach_push_status(rows, user.agency_id, status.id, status.number)
    if status.outstanding:
        end = moment
    else:
        end = max(status.due_at or status.published_at, await last_arrival(user.agency_id, status, school) or status.published_at)
    end = max(end, status.published_at + timedelta(days=1))
    times, counts = await completion_steps(user.agency_id, status, school, status.published_at, end)
    chart = completion_chart(times, status.expected, status.published_at, end, status.due_at, counts=counts, late=late)
    context.update(
        {
            "school": school,
            "schools": await release_schools(user.agency_id, status),
            "show": show,
            "show_choices": SHOW,
            "late": late,
            "rows": rows,
            "listed": listed,
            "first": first,
            "page_number": number,
            "pages": max(1, -(-listed // PAGE_SIZE)),
            "chart": chart,
        }
    )
    return page(request, "views/supervisor/release.html", context)


async def officer(request: Request) -> Response:
    """/supervisor/officers/ID: one officer's acknowledgments, release by release, and devices."""
    _, user = await signed_in(request, SUPERVISORS)
    person = await User.get_or_none(id=request.path_params["user_id"], agency_id=user.agency_id)
    if person is None:
        raise ApiError(404, "No such person in your agency.")
    history = await officer_history(user.agency_id, person, clock.now())
    devices = await Device.filter(user_id=person.id).order_by("-last_sync_at", "-created_at")
    last_sync_at = max((d.last_sync_at for d in devices if d.last_sync_at), default=None)
    alerts = await person_alerts(person.id)
    numbers = [h.number for h in history]
    releases = dict(await Release.filter(agency_id=user.agency_id, number__in=numbers).values_list("id", "number")) if numbers else {}
    ladders = await release_ladders(user.agency_id, person.id, releases)
    checks = await officer_checks(user.agency_id, person.id, releases)
    for number, check in checks.items():
        if check.reading:
            titles = (await release_for(request, user, number)).by_id
            for read in check.reading:
                read["title"] = titles[read["card_id"]]["title"] if read["card_id"] in titles else read["card_id"]
    return page(
        request,
        "views/supervisor/officer.html",
        {
            "person": person,
            "history": history,
            "devices": devices,
            "last_sync_at": last_sync_at,
            "alerts": alerts,
            "ladders": ladders,
            "checks": checks,
        },
    )


def _download(body, name: str, media_type: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


async def release_csv(request: Request) -> Response:
    """/supervisor/releases/N/acks.csv: every officer's status on the release, as CSV."""
    _, user = await signed_in(request, SUPERVISORS)
    moment = clock.now()
    status = await _status(user, request.path_params["number"], moment)
    agency = await Agency.get(id=user.agency_id)
    return _download(
        await release_acks_csv(user.agency_id, status, moment),
        f"{agency.slug}-release-{status.number}-acknowledgments.csv",
        "text/csv; charset=utf-8",
    )


async def release_answers(request: Request) -> Response:
    """/supervisor/releases/N/answers.csv: every officer's answers to the release's questions, one row per question."""
    _, user = await signed_in(request, SUPERVISORS)
    status = await _status(user, request.path_params["number"], clock.now())
    agency = await Agency.get(id=user.agency_id)
    return _download(
        await release_answers_csv(user.agency_id, status),
        f"{agency.slug}-release-{status.number}-answers.csv",
        "text/csv; charset=utf-8",
    )


async def release_evidence(request: Request) -> Response:
    """/supervisor/releases/N/evidence.zip: acks CSV, the ledger chain and the manifest, for audits."""
    _, user = await signed_in(request, SUPERVISORS)
    moment = clock.now()
    status = await _status(user, request.path_params["number"], moment)
    release = await release_for(request, user, status.number)
    agency = await Agency.get(id=user.agency_id)
    body = await evidence_zip(agency, status, release, f"{user.name} <{user.email}>", moment)
    return _download(body, f"{agency.slug}-release-{status.number}-evidence.zip", "application/zip")
