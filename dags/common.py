"""Shared defaults of every HazChem DAG: owner, retries, failure callback and repository paths.

DAG files import this module as `common` (Airflow puts the DAGs folder on `sys.path`). Paths are
built from `__file__`, so the DAGs work from any checkout and any working directory.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

DAGS_DIR: Path = Path(__file__).resolve().parent
REPO_ROOT: Path = DAGS_DIR.parent
PYTHON: str = sys.executable  # the interpreter running Airflow (the project's venv)
HAZCHEM_CLI: str = str(Path(PYTHON).parent / "hazchem")
START_DATE: datetime = datetime(2026, 1, 1)
OWNER = "hazchem-data"

log = logging.getLogger("hazchem.dags")


def on_failure(context: dict[str, Any]) -> None:
    """Log one line naming the DAG, task, run and error of a failed task instance."""
    ti = context.get("task_instance") or context.get("ti")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    run_id = getattr(ti, "run_id", context.get("run_id", "?"))
    error = " ".join(str(context.get("exception") or "see the task log").split())[:300]
    log.error("hazchem task failed: dag=%s task=%s run=%s error=%s", dag_id, task_id, run_id, error)


DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "on_failure_callback": on_failure,
}


def task_env() -> dict[str, str]:
    """Return extra environment for shell tasks: the repository importable, unbuffered output."""
    path = os.environ.get("PYTHONPATH", "")
    pythonpath = f"{REPO_ROOT}{os.pathsep}{path}" if path else str(REPO_ROOT)
    return {"PYTHONPATH": pythonpath, "PYTHONUNBUFFERED": "1"}


def python_module(module: str, *args: str) -> str:
    """Return a shell command running `python -m <module> <args>` with the project interpreter."""
    return " ".join([PYTHON, "-m", module, *args])
