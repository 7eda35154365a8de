"""schemathesis against the real app and database: every operation of the OpenAPI description,
signed out and signed in as each role, with valid and invalid data.

No answer may be a server error or disagree with the description (status code listed, content
type, headers and body matching their schemas). Cases are drawn deterministically
(derandomize), so a run repeats exactly and a failure names a case that can be replayed.
"""

from __future__ import annotations

from collections import Counter

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import checks
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)
from schemathesis.generation.overrides import Override
from schemathesis.python import asgi

from server.app import create_app

from .helpers.csrf import csrf_of

SIGNED_OUT = "signed out"
ROLES = {SIGNED_OUT: None, "officer": "officer@demo.test", "supervisor": "supervisor@demo.test", "admin": "admin@demo.test"}
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.missing_required_header,
    checks.unsupported_method,
    checks.allow_header_conformance,
]
EXAMPLES = 60  # random cases per operation and role, after its examples and coverage cases


def _client(app, email: str | None):
    """A schemathesis ASGI session, signed in through the real form when an email is given, and its CSRF token."""
    client = asgi.get_client(app)
    client.__enter__()
    form = client.get("/sign-in")
    token = csrf_of(form.text)
    if email:
        done = client.post(
            "/sign-in",
            data={"email": email, "password": "fieldguide-demo", "csrf_token": token},
            allow_redirects=False,
        )
        assert done.status_code == 303, done.text
        token = csrf_of(client.get("/").text)
    return client, token


def _run(schema, operation, client, token: str, failures: dict[str, str], statuses: Counter) -> int:
    """Sends the cases of one operation (the schema's examples, its coverage cases at each boundary and
    each way to be invalid, then random valid and invalid data); returns how many were sent."""
    sent = 0

    def send(case):
        nonlocal sent
        sent += 1
        try:
            statuses[case.call_and_validate(session=client, checks=CHECKS).status_code] += 1
        # A failed check, or the app's own exception (re-raised after its 500): recorded, and the other cases still run.
        except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001
            kinds = [getattr(f, "title", type(f).__name__) for f in getattr(error, "exceptions", [error])]
            failures.setdefault(f"{operation.label}: {', '.join(kinds)}", str(error)[:1500])

    test = create_test(
        operation=operation,
        test_func=send,
        config=HypothesisTestConfig(
            project=schema.config,
            modes=list(HypothesisTestMode),
            settings=hypothesis.settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate],
            ),
            override=Override(headers={"X-CSRF-Token": token}),
        ),
    )
    test()
    return sent


@pytest.mark.sqlite_only(
    "what the description promises does not depend on the database, and a run takes most of a minute; "
    "tests/test_malformed_input.py sends hostile input through every route on both backends"
)
def test_every_operation_as_every_role_agrees_with_the_description(settings):
    app = create_app(settings.with_(push_worker=False))
    try:
        failures: dict[str, str] = {}  # one example per operation and kind of failure
        counts: dict[str, int] = {}
        statuses: dict[str, Counter] = {}
        for role, email in ROLES.items():
            # A fresh load per role: schemathesis sends some coverage cases once per loaded operation.
            schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
            operations = [result.ok() for result in schema.get_all_operations()]
            client, token = _client(app, email)
            statuses[role] = Counter()
            for operation in operations:
                counts[role] = counts.get(role, 0) + _run(schema, operation, client, token, failures, statuses[role])
            client.__exit__(None, None, None)
        total = sum(counts.values())
        print(f"schemathesis: {len(operations)} operations x {len(ROLES)} roles: {total} cases {counts}")
        print(f"schemathesis: statuses by role {statuses}")
        assert len(operations) >= 10 and all(n >= len(operations) * 2 for n in counts.values())
        # The sessions work: signed out, the API asks to sign in; signed in, it answers.
        assert statuses[SIGNED_OUT][401] > counts[SIGNED_OUT] / 2
        assert all(statuses[role][401] == 0 and statuses[role][200] > 0 for role in ROLES if role != SIGNED_OUT)
        assert not failures, f"{len(failures)} kinds of failure in {total} cases:\n\n" + "\n\n".join(
            f"{kind}\n{example}" for kind, example in failures.items()
        )
    finally:
        asgi.shutdown_lifespans()
