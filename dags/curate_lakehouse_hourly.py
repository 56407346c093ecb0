"""# curate_lakehouse_hourly

Hourly curation of the lakehouse (docs/lakehouse.md, docs/dbt.md), one run at a time:

1. **bronze_available_now** – `python -m batch_jobs.bronze_ingest --available-now`: drains every
   Kafka topic (dead-letter topics included) into its bronze Delta table, exactly once, and stops.
   Param `topics` (comma-separated) restricts it to some topics.
2. **write_reference_tables** – `python -m pipelines.lake.reference`: the plant model as
   `<lake>/reference/<table>` Delta tables (replaced whole).
3. **gate_and_publish** – `pipelines.lake.publish.curate(settings, run_id=...)`, the same path as
   `hazchem lake curate` and the demo: the bronze Great Expectations gate (failing rows are
   quarantined), `dbt build` on DuckDB with the marts in a fresh build schema (seeds,
   snapshots, silver, data and unit tests), the gold Great Expectations suites on that schema,
   and only then the publish: the `gold` views swapped to the new build in one transaction and
   `<lake>/_published` written. A failed check fails the run at once (no retry), names the check
   (dbt test, or the GX expectation and table) and leaves the last good gold in place.

Settings come from the environment (`HAZCHEM_LAKE__ROOT`, …) like every other runtime.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Param, get_current_context, task
from common import DEFAULT_ARGS, REPO_ROOT, START_DATE, python_module, task_env

TOPICS_FLAG = "{% if params.topics %} --topics {{ params.topics }}{% endif %}"

with DAG(
    dag_id="curate_lakehouse_hourly",
    description="Kafka -> bronze -> gate -> dbt build (staged) -> gate -> publish gold",
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
            # it is rendered into the bronze command line: topic names only, nothing a shell reads
            pattern=r"^[a-z0-9._-]*(,[a-z0-9._-]+)*$",
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

    @task(task_id="gate_and_publish", execution_timeout=timedelta(minutes=40))
    def gate_and_publish() -> dict[str, Any]:
        """Gate bronze, build gold into a build schema, gate it, then publish it."""
        from airflow.sdk.exceptions import AirflowFailException

        from pipelines.lake.publish import GateFailed, curate
        from pipelines.settings import get_settings

        try:
            result = curate(get_settings(), run_id=get_current_context()["run_id"])
        except GateFailed as exc:  # bad data: retrying cannot help, and must not publish
            raise AirflowFailException(str(exc)) from exc
        return {k: v for k, v in result.items() if k != "marker"}

    [bronze, reference] >> gate_and_publish()
