"""dbt-duckdb source plugin: dbt-duckdb's `delta` plugin, reading local files natively.

The stock plugin scans through deltalake's Python filesystem handler; with deltalake 1.6 and
pyarrow 16 that leaves Arrow I/O threads behind that abort the process at exit ("terminate called
without an active exception", exit 134) after an otherwise successful run. For a local lake root
this plugin hands deltalake a native Arrow filesystem rooted at the table; object-store URIs keep
deltalake's own handler. Source meta: `delta_table_path` (required), `storage_options`.
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow.dataset as pa_ds
import pyarrow.fs as pa_fs
from dbt.adapters.duckdb.plugins import delta
from dbt.adapters.duckdb.utils import SourceConfig
from deltalake import DeltaTable


def _local_path(uri: str) -> str | None:
    """Return the absolute local path of a table location, or None for an object-store URI."""
    if uri.startswith("file://"):
        return uri[len("file://") :]
    if "://" in uri:
        return None
    return os.path.abspath(uri)


class Plugin(delta.Plugin):
    """Load a Delta table as an Arrow dataset (a view over it in DuckDB)."""

    def load(self, source_config: SourceConfig) -> Any:
        if "delta_table_path" not in source_config:
            raise Exception(f"source {source_config.table_name()} needs meta.delta_table_path")
        uri = str(source_config["delta_table_path"])
        storage_options = source_config.get("storage_options", None)
        table = DeltaTable(uri, storage_options=storage_options)
        local = _local_path(uri)
        filesystem = pa_fs.SubTreeFileSystem(local, pa_fs.LocalFileSystem()) if local else None
        # Spark may write INT96 timestamps; read them as the microseconds Delta declares.
        options = pa_ds.ParquetReadOptions(coerce_int96_timestamp_unit="us")
        return table.to_pyarrow_dataset(filesystem=filesystem, parquet_read_options=options)
