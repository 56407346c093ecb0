"""# publish_catalog_daily

Daily publication of the data catalog:

1. **schema_docs** – `pipelines.schema_registry.write_catalog(out)` (what `hazchem schemas docs`
   runs): the readable catalog of topics, record types and fields (units, PII tags) from
   `schemas/`, into the param `out` (a `.md` path; no shell sees it).
2. **publish_lake_catalog** – `pipelines.lake.catalog.publish_catalog(settings)`: the lake tables
   and their documentation.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task
from common import DEFAULT_ARGS, REPO_ROOT, START_DATE

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
    params={
        "out": Param(
            DEFAULT_OUT,
            type="string",
            # a path of letters, digits and ._/- ending in .md, no `..`
            pattern=r"^(?!.*\.\.)[A-Za-z0-9_./-]+\.md$",
            description="schema catalog file (.md)",
        )
    },
    tags=["hazchem", "catalog", "docs"],
) as dag:

    @task(task_id="schema_docs", execution_timeout=timedelta(minutes=10))
    def schema_docs() -> str:
        """Write the schema catalog to the (validated) `out` param, relative to the repository."""
        from pipelines.schema_registry import write_catalog

        return write_catalog(REPO_ROOT / Path(get_current_context()["params"]["out"]))

    @task(task_id="publish_lake_catalog")
    def publish_lake_catalog() -> Any:
        """Publish the lake catalog (lake tables and their documentation)."""
        from pipelines.lake.catalog import publish_catalog
        from pipelines.settings import get_settings

        result = publish_catalog(get_settings())
        return result if isinstance(result, str | int | float | bool | dict | list) else str(result)

    schema_docs() >> publish_lake_catalog()
