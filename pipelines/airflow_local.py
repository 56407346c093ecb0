"""Local Airflow (`airflow standalone`): scheduler, dag processor, triggerer and API server in one.

Every listener is on 127.0.0.1: the API server (`[api] host`) and the scheduler's health check
are configured so, and the scheduler's and triggerer's log servers, which Airflow binds to every
interface without a setting, are not started (`--skip-serve-logs`: on one machine the API server
reads task logs from the files). Airflow's session and JWT signing keys are the secrets
`airflow.secret-key` and `airflow.jwt-secret`, passed in the environment.

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
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "PYTHONPATH": f"{PROJECT_ROOT}{os.pathsep}{pythonpath}"
        if pythonpath
        else str(PROJECT_ROOT),
        "HAZCHEM_PROFILE": settings.profile,
        # `airflow standalone` starts its scheduler, API server and processor as `airflow …`
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def airflow_secrets(settings: Settings) -> dict[str, str]:
    """Return the environment holding Airflow's signing keys (secrets; never on a command line)."""
    from pipelines.security.secrets import get_secret

    return {
        "AIRFLOW__API__SECRET_KEY": get_secret(settings, "airflow.secret-key"),
        "AIRFLOW__API_AUTH__JWT_SECRET": get_secret(settings, "airflow.jwt-secret"),
    }


def airflow_command(settings: Settings) -> list[str]:
    """Return the command line of `airflow standalone` (loopback-only components, see the module
    docstring) with the project's interpreter."""
    return [sys.executable, "-m", "pipelines.airflow_local"]


def _run_standalone() -> None:
    """`airflow standalone`, whose scheduler and triggerer start without their log servers."""
    from airflow.cli.commands import standalone_command as standalone

    class LoopbackSubCommand(standalone.SubCommand):
        def __init__(self, parent, name: str, command: list[str], env: dict[str, str]) -> None:  # noqa: ANN001
            if command[:1] in (["scheduler"], ["triggerer"]):
                command = [*command, "--skip-serve-logs"]
            super().__init__(parent, name=name, command=command, env=env)

    standalone.SubCommand = LoopbackSubCommand
    standalone.StandaloneCommand().run()


def start_airflow(settings: Settings, postgres: bool = False) -> int:
    """Run `airflow standalone` in the foreground until Ctrl-C; return its exit code.

    The admin password is printed by Airflow at start and kept in
    `<AIRFLOW_HOME>/simple_auth_manager_passwords.json.generated`.
    """
    if postgres and not settings.airflow.postgres_url:
        from pipelines.services import postgres as postgres_service

        print(postgres_service.start(settings), flush=True)
    env = os.environ | airflow_env(settings, postgres) | airflow_secrets(settings)
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


if __name__ == "__main__":
    _run_standalone()
