"""Property-based API testing with schemathesis against the live test server (issue 5): generated
requests, valid and invalid, over the cases, grids and statistics endpoints never get a 5xx answer.

Each operation gets a bounded number of examples (``EXAMPLES`` valid, ``NEGATIVE_EXAMPLES`` invalid),
authenticated with a persona's token, against a seeded town with cases in several states. The examples
are derandomised (the same every run); ``XIJI_FUZZ_EXAMPLES=200`` runs a deeper, random exploration.
"""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from cases.choices import Status
from grids.choices import Role

from . import factories

DEEP = int(os.environ.get("XIJI_FUZZ_EXAMPLES", "0"))
EXAMPLES = DEEP or 12
NEGATIVE_EXAMPLES = DEEP // 2 or 6
PATHS = r"^/api/v1/(cases|grids|stats)/"


def _run(operation, mode, examples, base_url, headers, failures):
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, database=None, derandomize=not DEEP,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def check(case):
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} {case.query} {case.body!r} → "
                            f"{response.status_code}: {response.text[:300]}")

    check()


@pytest.mark.django_db(transaction=True)
def test_generated_requests_never_get_a_server_error(live_server):
    town = factories.build_town()
    deputy = town.user(Role.DEPUTY)
    for state in (Status.RECEIVED, Status.DISPATCHED, Status.ACCEPTED, Status.RESPONDED, Status.RESOLVED,
                  Status.CLOSED, Status.RETURNED, Status.CANCELLED):
        factories.make_case(grid=town.a1, actor=deputy, state=state)
    factories.make_case(grid=town.a1, actor=deputy, state=Status.DISPATCHED, extension_pending=True)

    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")
    operations = [result.ok() for result in schema.include(path_regex=PATHS).get_all_operations()]
    assert len(operations) >= 20  # cases (list, create, detail, events, 16 transitions), grids, stats
    failures: list[str] = []
    for role, examples, negative in ((Role.ADMIN, EXAMPLES, NEGATIVE_EXAMPLES), (Role.GRID_LEADER, 4, 2)):
        headers = {"Authorization": f"Token {town.tokens[role]}"}
        for operation in operations:
            _run(operation, GenerationMode.POSITIVE, examples, live_server.url, headers, failures)
            _run(operation, GenerationMode.NEGATIVE, negative, live_server.url, headers, failures)
    assert not failures, "\n".join(failures[:20])
