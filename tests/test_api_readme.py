"""The README's API session (curl) runs as written against the live test server with the demo logins."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cases.seeding import seed_sla_policies
from grids.services import seed_xiji

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_session() -> str:
    """The shell block of the README's API section that starts with ``BASE=…``."""
    text = README.read_text(encoding="utf-8")
    match = re.search(r"```sh\n(BASE=http://127\.0\.0\.1:8000/api/v1\n.*?)```", text, re.S)
    assert match, "README has no API curl session"
    return match.group(1)


@pytest.mark.django_db(transaction=True)
def test_the_readme_curl_session_walks_a_case_to_closed(live_server):
    seed_sla_policies()
    seed_xiji(demo=True)
    script = readme_session().replace("http://127.0.0.1:8000", live_server.url)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:8] == ["dispatched", "accepted", "responded", "resolved", "satisfied", "closed", "138****5678",
                         "['created', 'dispatched', 'accepted', 'responded', 'resolved', 'callback', 'closed']"]
    assert '"code":"permission_denied"' in lines[8]
    assert '"code":"transition_not_allowed"' in lines[9]
    assert lines[10].lstrip("\ufeff").startswith("key,label,received,")
    assert lines[11].startswith("110112110222,大灰店村,1,1,1,1,1,0,")
