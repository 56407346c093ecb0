"""Local Airflow (`airflow standalone`): scheduler, dag processor, triggerer and API server in one.

`start_airflow(settings)` runs it in the foreground with AIRFLOW_HOME under
`<run dir>/airflow`, SQLite (or the local Postgres with `postgres=True`), the repository's `dags/`
folder and no example DAGs; the lead wires `hazchem airflow` to it. `airflow_env(settings)` is the
environment alone, for running other `airflow` commands against the same home.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipelines.settings import PROJECT_ROOT, Settings

DAGS_FOLDER: Path = PROJECT_ROOT / "dags"


def airflow_home(settings: Settings) -> Path:
    """Return the local AIRFLOW_HOME: `<run dir>/airflow` (`.cache/run/airflow` by default)."""
    return Path(settings.run_dir) / "airflow"


def airflow_env(settings: Settings, postgres: bool = False) -> dict[str, str]:
    """Return the environment variables of the local Airflow (added to the current ones)."""
    home = airflow_home(settings)
    if postgres:
        from pipelines.services import postgres as postgres_service

        sql_conn = settings.airflow.postgres_url or postgres_service.url(settings)
    else:
        sql_conn = f"sqlite:///{home / 'airflow.db'}"
    pythonpath = os.environ.get("PYTHONPATH", "")
    pythonpath = f"{PROJECT_ROOT}{os.pathsep}{pythonpath}" if pythonpath else str(PROJECT_ROOT)
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql_conn,
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "PYTHONPATH": f"{PROJECT_ROOT}{os.pathsep}{pythonpath}"
        if pythonpath
        else str(PROJECT_ROOT),
        "HAZCHEM_PROFILE": settings.profile,
        # `airflow standalone` starts its scheduler, API server and processor as `airflow …`
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def airflow_command(settings: Settings) -> list[str]:
    """Return the command line of `airflow standalone` with the project's interpreter."""
    airflow_bin = Path(sys.executable).parent / "airflow"
    if airflow_bin.exists():
        return [str(airflow_bin), "standalone"]
    return [sys.executable, "-m", "airflow", "standalone"]


def start_airflow(settings: Settings, postgres: bool = False) -> int:
    """Run `airflow standalone` in the foreground until Ctrl-C; return its exit code.

    The admin password is printed by Airflow at start and kept in
    `<AIRFLOW_HOME>/simple_auth_manager_passwords.json.generated`.
    """
    if postgres and not settings.airflow.postgres_url:
        from pipelines.services import postgres as postgres_service

        print(postgres_service.start(settings), flush=True)
    env = os.environ | airflow_env(settings, postgres)
    airflow_home(settings).mkdir(parents=True, exist_ok=True)
    print(
        f"airflow: home {env['AIRFLOW_HOME']}, dags {DAGS_FOLDER}, "
        f"db {'postgres' if postgres else 'sqlite'}",
        flush=True,
    )
    try:
        return subprocess.run(airflow_command(settings), env=env, cwd=PROJECT_ROOT).returncode
    except KeyboardInterrupt:
        return 130
