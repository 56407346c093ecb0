"""Airflow on PostgreSQL: the `--postgres` option of `hazchem airflow`, on a real server.

The local server is started from Debian's postgresql package (pipelines/services/postgres.py);
Airflow migrates its metadata database there and serializes the project's DAGs into it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.airflow_local import airflow_env
from pipelines.services import postgres as postgres_service
from pipelines.services.postgres import airflow_password
from pipelines.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.integration

DAG_IDS = ["curate_lakehouse_hourly", "maintain_lakehouse_daily", "publish_catalog_daily"]


def _airflow(settings: Settings, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | airflow_env(settings, postgres=True) | {"AIRFLOW_HOME": str(home)}
    airflow = Path(sys.executable).parent / "airflow"
    return subprocess.run(
        [str(airflow), *args], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


def _json(stdout: str) -> list:
    """The JSON list an `airflow … -o json` command printed (its log lines go to stdout too)."""
    lines = [line for line in stdout.splitlines() if line.startswith("[")]
    assert lines, stdout[-2000:]
    return json.loads(lines[-1])


def _psql(settings: Settings, sql: str) -> str:
    result = subprocess.run(
        ["psql", postgres_service.url(settings).replace("+psycopg2", ""), "-tAc", sql],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.strip()


def test_airflow_migrates_and_serializes_the_dags_on_local_postgres(postgres, tmp_path) -> None:
    """GIVEN the local PostgreSQL server WHEN Airflow's environment for `--postgres` runs
    `airflow db migrate` and `airflow dags reserialize` THEN the metadata database is on that
    server (Airflow's tables owned by the `airflow` role), `airflow dags list` shows the three
    project DAGs without import errors, and the server's `dag` table holds exactly them."""
    settings = postgres
    secret = airflow_password(settings)
    assert airflow_env(settings, postgres=True)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        f"postgresql+psycopg2://airflow:{secret}@127.0.0.1:{settings.airflow.pg_port}/airflow"
    )

    migrate = _airflow(settings, tmp_path, "db", "migrate")
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    reserialize = _airflow(settings, tmp_path, "dags", "reserialize")
    assert reserialize.returncode == 0, reserialize.stderr[-3000:]
    listed = _airflow(settings, tmp_path, "dags", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr[-3000:]
    errors = _airflow(settings, tmp_path, "dags", "list-import-errors", "-o", "json")

    assert sorted(d["dag_id"] for d in _json(listed.stdout)) == DAG_IDS
    assert errors.returncode == 0, errors.stderr[-3000:]
    assert _json(errors.stdout) == []
    assert _psql(settings, "SELECT string_agg(dag_id, ',' ORDER BY dag_id) FROM dag") == ",".join(
        DAG_IDS
    )
    assert _psql(settings, "SELECT tableowner FROM pg_tables WHERE tablename = 'dag'") == "airflow"


def test_starting_twice_reuses_the_running_server(postgres) -> None:
    """GIVEN the server runs WHEN start is called again THEN it says so and changes nothing."""
    settings = postgres
    assert postgres_service.start(settings) == (
        f"postgres: already running on 127.0.0.1:{settings.airflow.pg_port}"
    )
