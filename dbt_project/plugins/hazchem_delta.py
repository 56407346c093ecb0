"""dbt-duckdb source plugin: dbt-duckdb's `delta` plugin, reading through a native filesystem.

The stock plugin scans through deltalake's Python filesystem handler; with deltalake 1.6 and
pyarrow 16 that leaves Arrow I/O threads behind that abort the process at exit ("terminate called
without an active exception", exit 134) after an otherwise successful run. This plugin reads the
table through `pipelines.lake.storage.delta_dataset`: a native Arrow filesystem, local or S3, set
up from the same settings as every other engine (`run_dbt` exports HAZCHEM_LAKE__ROOT and
HAZCHEM_S3__*). Source meta: `delta_table_path` (required).

A bronze table (`<lake>/bronze/<table>`) is read without its quarantined rows: the rows whose Kafka
position the bronze quality gate put in `<lake>/quarantine/<table>` never reach silver or gold
(pipelines/lake/quality.py). Such a table is then read into memory once per dbt invocation.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import delta
from dbt.adapters.duckdb.utils import SourceConfig

from pipelines.lake.quality import exclude_quarantined, quarantined_positions
from pipelines.lake.storage import delta_dataset
from pipelines.settings import Settings


class Plugin(delta.Plugin):
    """Load a Delta table as an Arrow dataset (a view over it in DuckDB)."""

    def load(self, source_config: SourceConfig) -> Any:
        if "delta_table_path" not in source_config:
            raise Exception(f"source {source_config.table_name()} needs meta.delta_table_path")
        settings = Settings()
        path = str(source_config["delta_table_path"]).rstrip("/")
        dataset = delta_dataset(settings, path)
        folder, _, table = path.rpartition("/")
        if folder.rstrip("/").rsplit("/", 1)[-1] != "bronze":
            return dataset
        positions = quarantined_positions(settings, table)
        if positions is None or positions.num_rows == 0:
            return dataset
        return exclude_quarantined(dataset.to_table(), positions)
