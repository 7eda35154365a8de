"""The supervisor's view of alerts: per officer "alerts off", "not delivered" and "delivered"
(beside the acknowledgment status), and "remind pending" sending reminders through the outbox."""

from __future__ import annotations

import re
import uuid

import pytest

from server import bootstrap
from server.acknowledgments.ledger import record_ack
from server.guidance.releases import load_release
from server.models import AuditEntry, PushOutbox, PushSubscription, Role, User

from .helpers.clients import client_as
from .helpers.csrf import csrf_of
from .helpers.push import eventually, settled
from .helpers.releases import publish_revision

pytestmark = pytest.mark.fast_push


async def _subscribe(user: User, sub: dict) -> None:
    await PushSubscription.create(
        user=user, endpoint=sub["endpoint"], p256dh=sub["keys"]["p256dh"], auth=sub["keys"]["auth"],
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1",
    )


def _row(html: str, name: str) -> str:
    """The dashboard table row of one officer."""
    match = re.search(rf"<tr[^>]*>\s*<th[^>]*>\s*<a[^>]*>{re.escape(name)}</a>.*?</tr>", html, re.S)
    assert match, name
    return match.group(0)


async def test_dashboard_tells_alerts_off_from_not_delivered_from_delivered(app, service):
    casey = await User.get(email="officer@demo.test")
    sam = await User.get(email="officer2@demo.test")
    agency = await casey.agency
    await bootstrap.create_user(agency, "officer3@demo.test", "Officer Pat Ruiz", Role.OFFICER, "fieldguide-demo", "Lincoln High School")
    working, dead = service.subscribe(), service.subscribe()
    await _subscribe(casey, working)
    await _subscribe(sam, dead)
    service.gone(dead["endpoint"])

    release = await publish_revision(summary="New restraint wording.", changes={"restraint-devices": "major"})
    await eventually(settled)

    async with client_as(app, "supervisor@demo.test") as supervisor:
        page = await supervisor.get(f"/supervisor/releases/{release.number}")
        assert page.status_code == 200
        casey_row = _row(page.text, "Officer Casey Rivera")
        assert "Pending" in casey_row and "sv-push-delivered" in casey_row and "Delivered" in casey_row
        assert "1 device with alerts on" in casey_row and "last alert delivered" in casey_row
        sam_row = _row(page.text, "Officer Sam Okafor")
        assert "sv-push-not-delivered" in sam_row and "1 failed: 410" in sam_row
        assert "0 devices with alerts on" in sam_row  # the dead subscription was removed
        pat_row = _row(page.text, "Officer Pat Ruiz")
        assert "sv-push-not-subscribed" in pat_row and "Alerts off" in pat_row

        officer_page = await supervisor.get(f"/supervisor/officers/{casey.id}")
        assert "Safari on iPhone" in officer_page.text and "Last alert delivered" in officer_page.text
        sam_page = await supervisor.get(f"/supervisor/officers/{sam.id}")
        assert "Alerts are off" in sam_page.text and "Notices not delivered" in sam_page.text
        assert f"New release {release.number}" in sam_page.text


async def test_remind_pending_reaches_only_officers_who_have_not_acknowledged(app, service):
    casey = await User.get(email="officer@demo.test")
    sam = await User.get(email="officer2@demo.test")
    casey_phone, sam_phone = service.subscribe(), service.subscribe()
    await _subscribe(casey, casey_phone)
    await _subscribe(sam, sam_phone)
    release = await publish_revision(summary="New restraint wording.", changes={"restraint-devices": "major"})
    await eventually(settled)
    view = await load_release(release)
    await record_ack(sam, view, str(uuid.uuid4()), [c["hash"] for c in view.cards])
    agency = await casey.agency
    await bootstrap.create_user(agency, "officer3@demo.test", "Officer Pat Ruiz", Role.OFFICER, "fieldguide-demo")

    async with client_as(app, "supervisor@demo.test") as supervisor:
        page = await supervisor.get(f"/supervisor/releases/{release.number}")
        assert f'action="/supervisor/releases/{release.number}/remind"' in page.text
        response = await supervisor.post(
            f"/supervisor/releases/{release.number}/remind", data={"csrf_token": csrf_of(page.text)}
        )
        assert response.status_code == 303
        assert response.headers["location"] == (
            f"/supervisor/releases/{release.number}?reminded=1&pushed=1&emailed=0&unreachable=1"
        )
        shown = await supervisor.get(response.headers["location"])
        assert "Reminder sent to 1 officer: 1 by push, 0 by email." in shown.text
        assert "1 could not be reached</strong>: no device with alerts turned on, and email is not set up" in shown.text
        refused = await supervisor.post(f"/supervisor/releases/{release.number}/remind", data={"csrf_token": "wrong"})
        assert refused.status_code == 403

    await eventually(lambda: len(service.delivered(casey_phone["endpoint"])) == 2)
    await eventually(settled)
    reminder = service.delivered(casey_phone["endpoint"])[-1]
    assert reminder.payload["kind"] == "reminder" and reminder.payload["release"] == release.number
    assert reminder.payload["title"] == f"Demo Police Department: please acknowledge release {release.number}"
    assert reminder.payload["url"] == f"/changes?to={release.number}" and reminder.topic == "guidance"
    assert len(service.delivered(sam_phone["endpoint"])) == 1  # the release notice only
    assert await PushOutbox.filter(kind="reminder").count() == 1
    entry = await AuditEntry.get(action="push.remind")
    assert entry.details == {"officers_pending": 2, "officers_reached": 1, "by_push": 1, "by_email": 0, "notices": 1}

    async with client_as(app, "officer@demo.test") as officer:
        page = await officer.get(f"/supervisor/releases/{release.number}")
        assert page.status_code == 403
        response = await officer.post(
            f"/supervisor/releases/{release.number}/remind", data={"csrf_token": csrf_of((await officer.get('/alerts')).text)}
        )
        assert response.status_code == 403
