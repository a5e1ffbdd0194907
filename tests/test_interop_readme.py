"""The README's two sessions of connected systems run as written against the live test server: one 12345
work order's round trip (order in, feedback steps out to a stand-in platform through a real worker, the
platform's callback in) and an Open311 session."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cases.seeding import seed_categories, seed_sla_policies
from grids.services import seed_xiji
from tests.conftest import ROOT, worker_env
from tests.test_upstream import Standin, feedback_worker  # noqa: F401 (a fixture)

README = ROOT / "README.md"


def block(starts_with: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"```sh\n(" + re.escape(starts_with) + r".*?)```", text, re.S)
    assert match, f"README has no session starting {starts_with!r}"
    return match.group(1)


def run(script: str, live_server, **replacements) -> list[str]:
    script = script.replace("http://127.0.0.1:8000", live_server.url)
    script = script.replace("python manage.py", f"{sys.executable} {ROOT / 'manage.py'}")
    for old, new in replacements.items():
        script = script.replace(old, new)
    env = {**worker_env(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_readme_upstream_round_trip_runs_as_written(live_server, feedback_worker):  # noqa: F811
    seed_sla_policies()
    seed_xiji(demo=True)
    standin = Standin("s3cret", fail_first=0)
    try:
        lines = run(_upstream_block(), live_server, **{"http://127.0.0.1:8001/webhook": f"{standin.url}/webhook"})
        assert lines == ["True", "False", "dispatched", "accepted", "responded", "resolved",
                         "[('accept', 'delivered'), ('respond', 'delivered'), ('resolve', 'delivered')]",
                         "resolved", "upstream"]
        stats = standin.stats()
        assert [step for _, step in stats["steps"]] == ["accept", "respond", "resolve"]
        assert (stats["rejected"], stats["duplicates"]) == (0, 0)
    finally:
        standin.stop()


def _upstream_block() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"```sh\n(BASE=http://127\.0\.0\.1:8000/api/v1\n(?:(?!```).)*?add_external_system tz12345.*?)```",
                      text, re.S)
    assert match, "README has no upstream round trip"
    return match.group(1)


@pytest.mark.django_db(transaction=True)
def test_the_readme_open311_session_runs_as_written(live_server):
    seed_sla_policies()
    seed_categories()
    seed_xiji(demo=True)
    lines = run(block("O311=http://127.0.0.1:8000/open311/v2\n"), live_server)
    assert lines == ["['kind', 'title']", "open 侯各庄村委会", "1", "0",
                     '[{"code": 404, "description": "service_request_id XJ00000000-0000 not found"}]']
