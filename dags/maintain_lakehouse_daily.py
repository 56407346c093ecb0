"""# maintain_lakehouse_daily

Daily Delta maintenance of every bronze table under `<lake>/bronze`
(`pipelines/lake/maintenance.py`, `python -m pipelines.lake.maintenance`):

- **retention**: rows whose `event_date` is older than the retention are deleted – monitoring
  records (readings, alarms, video, positions, dead letters, …) are kept **≥ 30 days**, permit
  records (`work_*` tables: work permits, gas analyses) **≥ 1 year**;
- **compaction**: `optimize.compact()` merges the small files the hourly bronze runs leave;
- **vacuum**: unreferenced files older than 7 days are deleted (param `vacuum_retention_hours`).

Runs at 02:30 UTC, off the hourly curation's busy minutes; param `dry_run` reports only.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Param
from common import DEFAULT_ARGS, REPO_ROOT, START_DATE, python_module, task_env

with DAG(
    dag_id="maintain_lakehouse_daily",
    description="Bronze Delta tables: retention deletes, compaction, vacuum",
    doc_md=__doc__,
    schedule="30 2 * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={
        "dry_run": Param(False, type="boolean", description="report only, change nothing"),
        "vacuum_retention_hours": Param(168, type="integer", minimum=0),
    },
    tags=["hazchem", "lakehouse", "maintenance"],
) as dag:
    BashOperator(
        task_id="optimize_and_vacuum_bronze",
        bash_command=python_module(
            "pipelines.lake.maintenance",
            "--vacuum-retention-hours {{ params.vacuum_retention_hours }}",
        )
        + "{% if params.dry_run %} --dry-run{% endif %}",
        cwd=str(REPO_ROOT),
        env=task_env(),
        append_env=True,
        execution_timeout=timedelta(hours=2),
    )
