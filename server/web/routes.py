"""The app's one route table."""

from __future__ import annotations

from starlette.convertors import IntegerConvertor, register_url_convertor
from starlette.routing import Mount, Route

from server.web.static import (
    HashedStaticFiles,
    precache_list,
    service_worker,
    web_manifest,
)
from server.web.views import (
    acks,
    admin_audit,
    admin_base,
    admin_editor,
    admin_home,
    admin_questions,
    admin_review,
    admin_roster,
    admin_scenarios,
    admin_users,
    answers,
    api,
    auth,
    changes,
    health,
    invite,
    ledger,
    pages,
    practice,
    push_receipts,
    supervisor,
    sync,
)
from server.web.views import push as push_views


class PathNumber(IntegerConvertor):
    """{name:num} in a route: 1 to 9 ASCII digits, so each fits a database INTEGER (longer: no route, 404)."""

    regex = "[0-9]{1,9}"


register_url_convertor("num", PathNumber())


def routes(settings, assets) -> list:
    """Every route of the app, named."""
    return [
        # Every phone checks every few minutes: the most frequent request is matched first.
        Route("/api/v1/sync", sync.sync, name="api_sync"),
        Route("/", pages.home, name="home"),
        Route("/cards/{card_id}", pages.card, name="card"),
        Route("/search", pages.search, name="search"),
        Route("/flow", pages.flow, name="flow_start"),
        Route("/flow/{node}", pages.flow, name="flow"),
        Route("/practice", practice.practice_list, name="practice"),
        Route("/practice/{scenario_id}", practice.scenario, name="practice_scenario"),
        Route("/offline", pages.offline, name="offline"),
        Route("/shell", sync.shell, name="shell"),
        Route("/changes", changes.changes, name="changes"),
        Route("/releases/{number:num}/changes", changes.changes, name="release_changes"),
        Route("/acks", acks.acknowledge, methods=["POST"], name="acknowledge"),
        Route("/releases/{number:num}/check", answers.check_form, methods=["POST"], name="release_check"),
        Route("/admin/attestation", acks.attestation_form, methods=["GET"], name="admin_attestation"),
        Route("/admin/attestation", acks.attestation_save, methods=["POST"], name="admin_attestation_save"),
        Route("/supervisor", supervisor.overview, name="supervisor"),
        Route("/supervisor/releases/{number:num}", supervisor.release_detail, name="supervisor_release"),
        Route("/supervisor/releases/{number:num}/acks.csv", supervisor.release_csv, name="supervisor_release_csv"),
        Route(
            "/supervisor/releases/{number:num}/answers.csv", supervisor.release_answers, name="supervisor_release_answers"
        ),
        Route("/supervisor/ledger/checkpoint.json", ledger.checkpoint, name="supervisor_ledger_checkpoint"),
        Route("/ledger/public-key.pem", ledger.public_key, name="ledger_public_key"),
        Route(
            "/supervisor/releases/{number:num}/evidence.zip",
            supervisor.release_evidence,
            name="supervisor_release_evidence",
        ),
        Route("/supervisor/officers/{user_id:num}", supervisor.officer, name="supervisor_officer"),
        Route("/sign-in", auth.sign_in_form, methods=["GET"], name="sign_in_form"),
        Route("/sign-in", auth.sign_in, methods=["POST"], name="sign_in"),
        Route("/sign-out", auth.sign_out, methods=["POST"], name="sign_out"),
        Route("/invite/{token}", invite.invite_form, methods=["GET"], name="invite_form"),
        Route("/invite/{token}", invite.set_password, methods=["POST"], name="invite_set_password"),
        Route("/admin/users", admin_users.users, methods=["GET"], name="admin_users"),
        Route("/admin/users", admin_users.invite, methods=["POST"], name="admin_invite"),
        Route(
            "/admin/users/roster-template.csv", admin_roster.template, methods=["GET"], name="admin_roster_template"
        ),
        Route("/admin/users/roster", admin_roster.preview, methods=["POST"], name="admin_roster_preview"),
        Route("/admin/users/roster/apply", admin_roster.apply, methods=["POST"], name="admin_roster_apply"),
        Route("/admin/users/{user_id:num}", admin_users.user, methods=["GET"], name="admin_user"),
        Route("/admin/users/{user_id:num}", admin_users.update, methods=["POST"], name="admin_user_update"),
        Route(
            "/admin/users/{user_id:num}/deactivate",
            admin_users.deactivate,
            methods=["POST"],
            name="admin_user_deactivate",
        ),
        Route(
            "/admin/users/{user_id:num}/reactivate",
            admin_users.reactivate,
            methods=["POST"],
            name="admin_user_reactivate",
        ),
        Route("/admin/users/{user_id:num}/link", admin_users.new_link, methods=["POST"], name="admin_user_link"),
        Route("/admin/audit", admin_audit.audit_log, methods=["GET"], name="admin_audit"),
        Route("/admin", admin_home.dashboard, methods=["GET"], name="admin_home"),
        Route("/admin/releases", admin_home.releases, methods=["GET"], name="admin_releases"),
        Route("/admin/drafts", admin_review.start, methods=["POST"], name="admin_draft_start"),
        Route("/admin/drafts/{draft_id:num}", admin_review.show, methods=["GET"], name="admin_draft"),
        Route("/admin/drafts/{draft_id:num}/details", admin_review.details, methods=["POST"], name="admin_draft_details"),
        Route("/admin/drafts/{draft_id:num}/new-card", admin_editor.new_card_form, methods=["GET"], name="admin_new_card"),
        Route("/admin/drafts/{draft_id:num}/new-card", admin_editor.add, methods=["POST"], name="admin_add_card"),
        Route("/admin/drafts/{draft_id:num}/scenarios", admin_scenarios.scenarios, methods=["GET"], name="admin_scenarios"),
        Route("/admin/drafts/{draft_id:num}/scenarios", admin_scenarios.add, methods=["POST"], name="admin_scenario_add"),
        Route(
            "/admin/drafts/{draft_id:num}/scenarios/{scenario_id}",
            admin_scenarios.edit_form,
            methods=["GET"],
            name="admin_scenario",
        ),
        Route(
            "/admin/drafts/{draft_id:num}/scenarios/{scenario_id}",
            admin_scenarios.save,
            methods=["POST"],
            name="admin_scenario_save",
        ),
        Route(
            "/admin/drafts/{draft_id:num}/scenarios/{scenario_id}/remove",
            admin_scenarios.remove,
            methods=["POST"],
            name="admin_scenario_remove",
        ),
        Route(
            "/admin/drafts/{draft_id:num}/questions/new",
            admin_questions.new_form,
            methods=["GET"],
            name="admin_question_new",
        ),
        Route(
            "/admin/drafts/{draft_id:num}/questions/new", admin_questions.add, methods=["POST"], name="admin_question_add"
        ),
        Route(
            "/admin/drafts/{draft_id:num}/questions/{question_id:num}",
            admin_questions.edit_form,
            methods=["GET"],
            name="admin_question",
        ),
        Route(
            "/admin/drafts/{draft_id:num}/questions/{question_id:num}",
            admin_questions.save,
            methods=["POST"],
            name="admin_question_save",
        ),
        Route(
            "/admin/drafts/{draft_id:num}/questions/{question_id:num}/remove",
            admin_questions.remove,
            methods=["POST"],
            name="admin_question_remove",
        ),
        Route(
            "/admin/drafts/{draft_id:num}/questions/{question_id:num}/move",
            admin_questions.move,
            methods=["POST"],
            name="admin_question_move",
        ),
        Route(
            "/admin/drafts/{draft_id:num}/{step:str}",
            admin_review.step,
            methods=["POST"],
            name="admin_draft_step",
        ),
        Route("/admin/drafts/{draft_id:num}/cards/{card_id}", admin_editor.edit_form, methods=["GET"], name="admin_card"),
        Route("/admin/drafts/{draft_id:num}/cards/{card_id}", admin_editor.save, methods=["POST"], name="admin_card_save"),
        Route(
            "/admin/drafts/{draft_id:num}/cards/{card_id}/{action:str}",
            admin_editor.card_action,
            methods=["POST"],
            name="admin_card_action",
        ),
        Route("/admin/preview", admin_editor.preview, methods=["POST"], name="admin_preview"),
        Route("/admin/base-updates", admin_base.take_all, methods=["POST"], name="admin_base_take_all"),
        Route("/admin/base-updates/{card_id}", admin_base.show, methods=["GET"], name="admin_base_update"),
        Route("/admin/base-updates/{card_id}", admin_base.resolve, methods=["POST"], name="admin_base_resolve"),
        Route("/api/v1/manifest", api.manifest, name="api_manifest"),
        Route("/api/v1/bundle", api.bundle, name="api_bundle"),
        Route("/api/v1/cards/{hash}", api.card_by_hash, name="api_card"),
        Route("/api/v1/search", api.search, name="api_search"),
        Route("/api/v1/acks", acks.api_record, methods=["POST"], name="api_acks_record"),
        Route("/api/v1/acks", acks.api_list, methods=["GET"], name="api_acks"),
        Route("/api/v1/answers", answers.api_record, methods=["POST"], name="api_answers_record"),
        Route("/api/v1/push/key", push_views.push_key, name="api_push_key"),
        Route("/api/v1/push/subscriptions", push_views.subscribe, methods=["POST"], name="api_push_subscribe"),
        Route("/api/v1/push/subscriptions", push_views.unsubscribe, methods=["DELETE"], name="api_push_unsubscribe"),
        Route("/api/v1/push/receipts", push_receipts.record, methods=["POST"], name="api_push_receipts"),
        Route("/alerts", push_views.alerts, name="alerts"),
        Route("/alerts/email", push_views.email_choice, methods=["POST"], name="alerts_email"),
        Route(
            "/supervisor/releases/{number:num}/remind",
            push_views.remind_pending,
            methods=["POST"],
            name="supervisor_remind",
        ),
        Route("/api/v1/openapi.json", api.openapi, name="api_openapi"),
        Route("/healthz", health.healthz, name="healthz"),
        Route("/readyz", health.readyz, name="readyz"),
        Route("/manifest.webmanifest", web_manifest, name="web_manifest"),
        Route("/sw.js", service_worker, name="service_worker"),
        Route("/sw/assets.json", precache_list, name="service_worker_assets"),
        Route("/sw/{name:str}", service_worker, name="service_worker_part"),
        Mount(
            "/static",
            app=HashedStaticFiles(directory=settings.pwa_dir / "static", assets=assets),
            name="static",
        ),
    ]
