"""# publish_catalog_daily

Daily publication of the data catalog:

1. **schema_docs** – `hazchem schemas docs --out <cache>/catalog/schema_catalog.md`: the readable
   catalog of topics, record types and fields (units, PII tags) from `schemas/`.
2. **publish_lake_catalog** – `pipelines.lake.catalog.publish_catalog(settings)`: the lake tables
   and their documentation.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Param, task
from common import DEFAULT_ARGS, HAZCHEM_CLI, REPO_ROOT, START_DATE, task_env

DEFAULT_OUT = str(REPO_ROOT / ".cache" / "catalog" / "schema_catalog.md")

with DAG(
    dag_id="publish_catalog_daily",
    description="Schema catalog (hazchem schemas docs) and the lake catalog",
    doc_md=__doc__,
    schedule="0 3 * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={"out": Param(DEFAULT_OUT, type="string", description="schema catalog file")},
    tags=["hazchem", "catalog", "docs"],
) as dag:
    schema_docs = BashOperator(
        task_id="schema_docs",
        bash_command=f"{HAZCHEM_CLI} schemas docs --out {{{{ params.out }}}}",
        cwd=str(REPO_ROOT),
        env=task_env(),
        append_env=True,
        execution_timeout=timedelta(minutes=10),
    )

    @task(task_id="publish_lake_catalog")
    def publish_lake_catalog() -> Any:
        """Publish the lake catalog (lake tables and their documentation)."""
        from pipelines.lake.catalog import publish_catalog
        from pipelines.settings import get_settings

        result = publish_catalog(get_settings())
        return result if isinstance(result, str | int | float | bool | dict | list) else str(result)

    schema_docs >> publish_lake_catalog()
