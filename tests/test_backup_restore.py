"""Backup and restore with pg_dump / pg_restore on a real PostgreSQL, checked by ``check_restore`` (18.5)."""
import subprocess
import sys

import pytest
from django.db import connection

from cases.choices import Status
from cases.heartbeat import run_sweep
from cases.selectors import refresh_daily_stats
from grids.choices import Role
from tests.conftest import ROOT, worker_env

from . import factories


def pg_args(settings_dict) -> list[str]:
    args = []
    if settings_dict.get("HOST"):
        args += ["-h", settings_dict["HOST"]]
    if settings_dict.get("PORT"):
        args += ["-p", str(settings_dict["PORT"])]
    args += ["-U", settings_dict.get("USER") or "postgres"]
    return args


def manage(*args, db_name: str):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=worker_env(XIJI_DB_NAME=db_name),
                          capture_output=True, text=True, timeout=300)


@pytest.mark.django_db(transaction=True)
def test_a_restored_database_passes_the_check_and_a_damaged_one_fails(tmp_path):
    town = factories.build_town()
    dora = town.user(Role.DISPATCHER)
    for state in (Status.RECEIVED, Status.DISPATCHED, Status.RESOLVED, Status.CLOSED, Status.RETURNED,
                  Status.CANCELLED):
        factories.make_case(grid=town.a1, actor=dora, state=state)
    run_sweep()
    refresh_daily_stats()
    source = connection.settings_dict["NAME"]
    restored = f"{source}_restored"
    base = pg_args(connection.settings_dict)
    counts = tmp_path / "counts.json"
    before = manage("check_restore", "--write-counts", str(counts), db_name=source)
    assert before.returncode == 0, before.stderr[-2000:]
    dump = tmp_path / "xiji.dump"
    subprocess.run(["pg_dump", *base, "--format=custom", "--file", str(dump), source], check=True, timeout=300)
    subprocess.run(["dropdb", *base, "--if-exists", restored], check=True)
    subprocess.run(["createdb", *base, restored], check=True)
    try:
        subprocess.run(["pg_restore", *base, "--no-owner", "--dbname", restored, str(dump)], check=True,
                       timeout=300)
        ok = manage("check_restore", "--expect", str(counts), db_name=restored)
        assert ok.returncode == 0, ok.stderr[-2000:]
        assert "event chains intact; statistics equal to a direct count" in ok.stdout
        # Damage: lose one event in the middle of a chain, and one row of a table.
        subprocess.run(["psql", *base, "-d", restored, "-q", "-c",
                        "DELETE FROM cases_caseevent WHERE id = (SELECT id FROM cases_caseevent "
                        "WHERE action = 'accepted' ORDER BY id LIMIT 1)"], check=True)
        bad = manage("check_restore", "--expect", str(counts), db_name=restored)
        assert bad.returncode != 0
        assert "cases.CaseEvent:" in bad.stderr and "starts from 'dispatched'" not in bad.stderr.split("\n")[0]
        assert "but the previous event left 'dispatched'" in bad.stderr
    finally:
        subprocess.run(["dropdb", *base, "--if-exists", restored], check=False)
