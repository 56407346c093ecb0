"""# curate_lakehouse_hourly

Hourly curation of the lakehouse (docs/lakehouse.md, docs/dbt.md), one run at a time:

1. **bronze_available_now** – `python -m batch_jobs.bronze_ingest --available-now`: drains every
   Kafka topic (dead-letter topics included) into its bronze Delta table, exactly once, and stops.
   Param `topics` (comma-separated) restricts it to some topics.
2. **write_reference_tables** – `python -m pipelines.lake.reference`: the plant model as
   `<lake>/reference/<table>` Delta tables (replaced whole).
3. **dbt_build** – `python -m pipelines.lake.dbt_runner build` on DuckDB: seeds, snapshots,
   silver and gold models, data and unit tests.
4. **quality_gate** – `pipelines.lake.quality.run_checkpoint(settings, layer)` for the bronze and
   gold checkpoints (Great Expectations, `data_quality/`); fails the run (no retry) when a
   checkpoint says not to publish. Skipped with a log line if that module is absent.
5. **publish** – writes `<lake>/_published` (JSON: run id, time, bronze and gold row counts).

Settings come from the environment (`HAZCHEM_LAKE__ROOT`, …) like every other runtime.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Param, get_current_context, task
from common import DEFAULT_ARGS, REPO_ROOT, START_DATE, python_module, task_env

QUALITY_LAYERS = ("bronze", "gold")
TOPICS_FLAG = "{% if params.topics %} --topics {{ params.topics }}{% endif %}"

with DAG(
    dag_id="curate_lakehouse_hourly",
    description="Kafka -> bronze -> dbt silver/gold on DuckDB -> quality gate -> publish",
    doc_md=__doc__,
    schedule="@hourly",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=55),
    default_args=DEFAULT_ARGS,
    params={
        "topics": Param(
            "",
            type="string",
            description="comma-separated topics for bronze (empty: every declared topic)",
        )
    },
    tags=["hazchem", "lakehouse", "bronze", "dbt"],
) as dag:
    bronze = BashOperator(
        task_id="bronze_available_now",
        bash_command=python_module("batch_jobs.bronze_ingest", "--available-now") + TOPICS_FLAG,
        cwd=str(REPO_ROOT),
        env=task_env(),
        append_env=True,
        execution_timeout=timedelta(minutes=40),
    )
    reference = BashOperator(
        task_id="write_reference_tables",
        bash_command=python_module("pipelines.lake.reference"),
        cwd=str(REPO_ROOT),
        env=task_env(),
        append_env=True,
        execution_timeout=timedelta(minutes=10),
    )
    dbt_build = BashOperator(
        task_id="dbt_build",
        bash_command=python_module("pipelines.lake.dbt_runner", "build"),
        cwd=str(REPO_ROOT),
        env=task_env(),
        append_env=True,
        execution_timeout=timedelta(minutes=30),
    )

    @task(task_id="quality_gate")
    def quality_gate() -> dict[str, Any]:
        """Run the bronze and gold Great Expectations checkpoints (when the module exists)."""
        import logging

        from airflow.sdk.exceptions import AirflowFailException

        from pipelines.settings import get_settings

        try:
            from pipelines.lake.quality import run_checkpoint
        except ImportError:
            logging.getLogger(__name__).info(
                "quality gate skipped: pipelines.lake.quality is not available"
            )
            return {"skipped": True}
        results = {layer: run_checkpoint(get_settings(), layer) for layer in QUALITY_LAYERS}
        blocked = [layer for layer, result in results.items() if not result.get("publish", False)]
        if blocked:
            raise AirflowFailException(f"quality checkpoint failed for: {', '.join(blocked)}")
        return {layer: result.get("run_id") for layer, result in results.items()}

    @task(task_id="publish")
    def publish() -> dict[str, Any]:
        """Write the `_published` marker with this run's id and the lake's row counts."""
        from pipelines.lake.maintenance import publish_marker
        from pipelines.settings import get_settings

        return publish_marker(get_settings(), get_current_context()["run_id"])

    [bronze, reference] >> dbt_build >> quality_gate() >> publish()
