"""Property-based API testing with schemathesis against the live test server (issues 5 and 19.5).

Every operation of the OpenAPI document gets generated requests, valid and invalid, as an administrator and
as a grid leader, and every answer must keep the document's word: no 5xx, a status code the operation
documents, a documented content type, and a body that validates against the documented schema for that
status (enums, nullability, ``format: date-time`` …). The category model is trained (the session's
``category_model``), so category suggestion answers rather than 503.

Each operation gets a bounded number of examples (``EXAMPLES`` valid, ``NEGATIVE_EXAMPLES`` invalid for the
administrator; fewer for the grid leader), against a seeded town with cases in several states. The examples
are derandomised (the same every run); ``XIJI_FUZZ_EXAMPLES=200`` runs a deeper, random exploration.
"""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from cases.choices import Status
from grids.choices import Role

from . import factories

DEEP = int(os.environ.get("XIJI_FUZZ_EXAMPLES", "0"))
EXAMPLES = DEEP or 12
NEGATIVE_EXAMPLES = DEEP // 2 or 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _run(operation, mode, examples, base_url, headers, failures):
    seen: set[str] = set()

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, database=None, derandomize=not DEEP,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def check(case):
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as exc:  # one entry per check that failed
            message = str(exc)
            if message not in seen:
                seen.add(message)
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}):\n{message[:1500]}")

    try:
        check()
    except Unsatisfiable:
        # Negative mode: the operation takes nothing that can be made invalid (no parameters, no body).
        if mode is not GenerationMode.NEGATIVE:
            raise


@pytest.mark.django_db(transaction=True)
def test_every_operation_answers_as_its_schema_says(live_server, category_model):
    town = factories.build_town()
    deputy = town.user(Role.DEPUTY)
    for state in (Status.RECEIVED, Status.DISPATCHED, Status.ACCEPTED, Status.RESPONDED, Status.RESOLVED,
                  Status.CLOSED, Status.RETURNED, Status.CANCELLED):
        factories.make_case(grid=town.a1, actor=deputy, state=state)
    factories.make_case(grid=town.a1, actor=deputy, state=Status.DISPATCHED, extension_pending=True)

    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {operation.path for operation in operations}
    # Every part of the API is exercised: cases and their transitions, the desk, text, registry, stats, reps.
    for path in ("/api/v1/cases/{id}/dispatch/", "/api/v1/queues/intake/", "/api/v1/categories/suggest/",
                 "/api/v1/hotspots/", "/api/v1/grids/", "/api/v1/stats/rates/", "/api/v1/visits/",
                 "/api/v1/demands/", "/api/v1/attachments/{id}/file/"):
        assert path in paths
    assert len(operations) >= 100
    failures: list[str] = []
    for role, examples, negative in ((Role.ADMIN, EXAMPLES, NEGATIVE_EXAMPLES), (Role.GRID_LEADER, 4, 2)):
        headers = {"Authorization": f"Token {town.tokens[role]}"}
        for operation in operations:
            _run(operation, GenerationMode.POSITIVE, examples, live_server.url, headers, failures)
            _run(operation, GenerationMode.NEGATIVE, negative, live_server.url, headers, failures)
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures[:15])
