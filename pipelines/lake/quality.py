"""Data quality gate of the lake: Great Expectations checkpoints over bronze and gold tables.

`run_checkpoint(settings, "bronze")` loads each bronze Delta table named in
`data_quality/checkpoints/bronze.json`, leaves out the rows already in quarantine, validates the
rest with its suite `data_quality/suites/bronze.<table>.json` (GX Core 1.x, one Checkpoint per
table), renders GX data docs under `<cache>/run/data_docs`, and quarantines the rows that fail:
they are appended, with the reasons, to `<lake>/quarantine/<table>` (bronze keeps them: it is
append-only; every reader of bronze for silver leaves them out by their Kafka position, see
`quarantined_positions`), the batch is flagged in `<lake>/quarantine/_flagged_batches`, and the
result says `publish: false` so this run publishes no gold. A quarantined row stays quarantined.

`run_checkpoint(settings, "gold", gold_schema="gold_b...", target="duckdb"|"trino")` validates
the marts of a gold schema (the gate's build schema, before it is published) on that engine (no
quarantine: gold is rebuilt by dbt).
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.lake.storage import delta_storage_options, read_delta
from pipelines.settings import PROJECT_ROOT, Settings, get_settings

DATA_QUALITY_DIR: Path = PROJECT_ROOT / "data_quality"
SUITES_DIR: Path = DATA_QUALITY_DIR / "suites"
CHECKPOINTS_DIR: Path = DATA_QUALITY_DIR / "checkpoints"
SEEDS_DIR: Path = PROJECT_ROOT / "dbt_project" / "seeds"
LAYERS = ("bronze", "gold")
DATA_DOCS_SITE = "hazchem"
FLAGGED_BATCHES_TABLE = "_flagged_batches"
REF_PREFIX = "ref__"  # suite parameter "ref__<table>__<column>": the keys of a dim or seed
MISSING_TABLE_CHECK = "table_exists"
POSITION_COLUMNS = ("_topic", "_partition", "_offset")  # a bronze row's Kafka position


# --------------------------------------------------------------------------- suites and configs


def load_suite(name: str) -> dict[str, Any]:
    """Return the suite `<layer>.<table>` as a dict; ValueError naming the known suites."""
    path = SUITES_DIR / f"{name}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in SUITES_DIR.glob("*.json")))
        raise ValueError(f"no suite {name!r} in {SUITES_DIR} (known: {known})")
    return json.loads(path.read_text(encoding="utf-8"))


def load_checkpoint_config(layer: str) -> dict[str, Any]:
    """Return `data_quality/checkpoints/<layer>.json`; ValueError for an unknown layer."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r} (expected one of {', '.join(LAYERS)})")
    return json.loads((CHECKPOINTS_DIR / f"{layer}.json").read_text(encoding="utf-8"))


def suite_parameters(suite: dict[str, Any]) -> set[str]:
    """Return the names of the `$PARAMETER` placeholders a suite uses."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$PARAMETER"), str):
                found.add(node["$PARAMETER"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(suite.get("expectations", []))
    return found


def data_docs_dir(settings: Settings) -> Path:
    """Return the folder GX data docs are built in: `<cache>/run/data_docs`."""
    return Path(settings.cache_dir) / "run" / "data_docs"


def results_dir(settings: Settings) -> Path:
    """Return the folder run summaries are kept in: `<cache>/run/quality`."""
    return Path(settings.cache_dir) / "run" / "quality"


def quarantine_path(settings: Settings, table: str) -> str:
    """Return the Delta location of a table's quarantine: `<lake>/quarantine/<table>`."""
    return f"{str(settings.lake.root).rstrip('/')}/quarantine/{table}"


def latest_results(settings: Settings) -> dict[str, dict[str, Any]]:
    """Return the latest summary per `<layer>.<table>` ({} before the first run)."""
    path = results_dir(settings) / "latest.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------- loading data


def _bronze_table(settings: Settings, table: str) -> Any | None:
    """Return a bronze table as an Arrow table, or None when it does not exist."""
    from deltalake.exceptions import TableNotFoundError

    from pipelines.lake.bronze_schema import table_path

    try:
        return read_delta(settings, table_path(settings.lake.root, table))
    except TableNotFoundError:
        return None


class _GoldReader:
    """Reads the tables of one gold schema (and silver) on DuckDB or Trino, as pandas frames."""

    def __init__(self, settings: Settings, schema: str, target: str) -> None:
        if target not in ("duckdb", "trino"):
            raise ValueError(f"unknown target {target!r} (expected duckdb or trino)")
        self.settings, self.schema, self.target = settings, schema, target

    def _duckdb(self, sql: str, params: list[Any] | None = None) -> Any | None:
        import duckdb

        path = Path(self.settings.lake.duckdb_path)
        if not path.is_file():
            return None
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(sql, params or []).df()

    def _trino(self, sql: str) -> Any:
        from contextlib import closing

        import pandas as pd

        from pipelines.services import trino

        with closing(trino.connect(self.settings)) as conn:
            cur = conn.cursor()
            cur.execute(sql)
            rows = cur.fetchall()
            names = [d[0] for d in cur.description]
        return pd.DataFrame.from_records(rows, columns=names)

    def exists(self, schema: str, table: str) -> bool:
        """True when `schema.table` is a table or view."""
        if self.target == "duckdb":
            found = self._duckdb(
                "select count(*) as n from information_schema.tables "
                "where table_schema = ? and table_name = ?",
                [schema, table],
            )
            return found is not None and int(found["n"].iloc[0]) > 0
        catalog = self.settings.trino.catalog
        found = self._trino(
            f"select count(*) as n from {catalog}.information_schema.tables "
            f"where table_schema = '{schema}' and table_name = '{table}'"
        )
        return int(found["n"].iloc[0]) > 0

    def query(self, schema: str, table: str, columns: str = "*", where: str = "") -> Any:
        """Return `select <columns> from schema.table [where ...]` as a DataFrame."""
        sql = f'select {columns} from "{schema}"."{table}"' + (f" where {where}" if where else "")
        if self.target == "duckdb":
            return self._duckdb(sql)
        return self._trino(sql.replace(" from ", f" from {self.settings.trino.catalog}.", 1))

    def table(self, name: str) -> Any | None:
        """Return a gold table as a DataFrame, or None when absent."""
        if not self.exists(self.schema, name):
            return None
        return self.query(self.schema, name)

    def keys(self, table: str, column: str) -> list[Any]:
        """Return the distinct non-null keys of a table of the gold schema, else of silver."""
        silver = "silver" + os.environ.get("HAZCHEM_DBT__SCHEMA_SUFFIX", "")
        for schema in (self.schema, silver):
            if self.exists(schema, table):
                frame = self.query(schema, table, f'distinct "{column}"', f'"{column}" is not null')
                return sorted(frame[column].tolist())
        raise ValueError(
            f"cannot resolve {table}.{column}: no such table in {self.schema} or {silver}"
        )


def _reference_keys(reader: _GoldReader | None, table: str, column: str) -> list[Any]:
    """Return the distinct non-null keys of a seed (CSV) or of a gold/silver table."""
    seed = SEEDS_DIR / f"{table}.csv"
    if seed.is_file():
        with seed.open(encoding="utf-8", newline="") as handle:
            return sorted({row[column] for row in csv.DictReader(handle) if row.get(column)})
    if reader is None:
        raise ValueError(f"cannot resolve {table}.{column}: not a seed")
    return reader.keys(table, column)


def _parameters(
    settings: Settings, names: set[str], now_ms: int, reader: _GoldReader | None
) -> dict[str, Any]:
    """Return the values of the suite parameters: time bounds and reference key sets."""
    values: dict[str, Any] = {}
    for name in names:
        if name == "max_event_time_ms":
            values[name] = now_ms + settings.ingest.max_future_skew_s * 1000
        elif name.startswith(REF_PREFIX):
            table, _, column = name[len(REF_PREFIX) :].partition("__")
            values[name] = _reference_keys(reader, table, column)
        else:
            raise ValueError(f"unknown suite parameter {name!r}")
    return values


# ----------------------------------------------------------------------------------- GX context


def _context(settings: Settings) -> Any:
    """Return an ephemeral GX context whose data docs site is `<cache>/run/data_docs`."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    docs = data_docs_dir(settings)
    docs.mkdir(parents=True, exist_ok=True)
    context.add_data_docs_site(
        site_name=DATA_DOCS_SITE,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    return context


def _validate(
    context: Any,
    layer: str,
    table: str,
    frame: Any,
    suite: dict[str, Any],
    parameters: dict[str, Any],
    result_format: str,
) -> Any:
    """Run the checkpoint `<layer>.<table>` on one DataFrame; return its validation result."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    name = f"{layer}.{table}"
    try:
        source = context.data_sources.get(layer)
    except (KeyError, ValueError):
        source = context.data_sources.add_pandas(layer)
    asset = source.add_dataframe_asset(table)
    batch = asset.add_batch_definition_whole_dataframe("whole_table")
    built = gx.ExpectationSuite(
        name=name, expectations=suite["expectations"], meta=suite.get("meta")
    )
    if len(built.expectations) != len(suite["expectations"]):
        # GX logs and skips an expectation it cannot build; a quality gate must not.
        raise ValueError(f"suite {name}: some expectations are invalid (see the GX log above)")
    gx_suite = context.suites.add(built)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch, suite=gx_suite)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=name,
            validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="update_data_docs", site_names=[DATA_DOCS_SITE])],
            result_format={"result_format": result_format},
        )
    )
    result = checkpoint.run(
        batch_parameters={"dataframe": frame}, expectation_parameters=parameters
    )
    return next(iter(result.run_results.values()))


def _check_name(config: Any) -> str:
    """Return an expectation's check name (`meta.check`, else type and column)."""
    meta = config.meta or {}
    if meta.get("check"):
        return str(meta["check"])
    column = config.kwargs.get("column") or "+".join(config.kwargs.get("column_list", []))
    return f"{config.type}:{column}" if column else config.type


def _failures(validation: Any) -> tuple[dict[str, str], dict[int, list[str]]]:
    """Return the failed checks with their reasons (by check name) and, per failing row index,
    its reasons (`check: reason`; row indexes only come with the COMPLETE result format)."""
    failed: dict[str, str] = {}
    reasons: dict[int, list[str]] = defaultdict(list)
    for outcome in validation.results:
        if outcome.success:
            continue
        config = outcome.expectation_config
        check = _check_name(config)
        reason = (config.meta or {}).get("reason", check)
        failed[check] = reason
        for index in (outcome.result or {}).get("unexpected_index_list") or []:
            row = index if isinstance(index, int) else None
            if row is not None:
                reasons[row].append(f"{check}: {reason}")
    return dict(sorted(failed.items())), reasons


# ---------------------------------------------------------------------------------- quarantine


def _quarantine(
    settings: Settings,
    table: str,
    arrow: Any,
    reasons: dict[int, list[str]],
    run_id: str,
    checked_at: datetime,
) -> int:
    """Write the failing rows with their reasons to `<lake>/quarantine/<table>`; return count."""
    import pyarrow as pa
    from deltalake import write_deltalake

    rows = sorted(reasons)
    picked = arrow.take(pa.array(rows, type=pa.int64()))
    n = picked.num_rows
    picked = picked.append_column(
        "_quarantine_reasons", pa.array(["; ".join(sorted(reasons[r])) for r in rows], pa.string())
    )
    picked = picked.append_column(
        "_failed_checks",
        pa.array([json.dumps(sorted({x.split(":")[0] for x in reasons[r]})) for r in rows]),
    )
    picked = picked.append_column("_run_id", pa.array([run_id] * n, pa.string()))
    picked = picked.append_column(
        "_quarantined_at", pa.array([checked_at] * n, pa.timestamp("us", tz="UTC"))
    )
    # Sticky: a quarantined row stays out of silver and gold for good. Validation skips the rows
    # already here, so each run appends only rows it has newly found failing.
    write_deltalake(
        quarantine_path(settings, table),
        picked,
        mode="append",
        schema_mode="merge",
        storage_options=delta_storage_options(settings),
    )
    return n


def quarantined_positions(settings: Settings, table: str) -> Any | None:
    """Return the Kafka positions (`_topic`, `_partition`, `_offset`) quarantined for a bronze
    table as an Arrow table, or None when nothing of that table was ever quarantined."""
    from deltalake.exceptions import TableNotFoundError

    try:
        return read_delta(
            settings, quarantine_path(settings, table), columns=list(POSITION_COLUMNS)
        )
    except TableNotFoundError:
        return None


def exclude_quarantined(rows: Any, positions: Any | None) -> Any:
    """Return the Arrow rows of a bronze table whose Kafka position is not in `positions`."""
    if positions is None or positions.num_rows == 0 or rows.num_rows == 0:
        return rows
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = positions.select(list(POSITION_COLUMNS)).cast(rows.select(list(POSITION_COLUMNS)).schema)
    marked = keys.append_column("_quarantined", pa.array([True] * keys.num_rows))
    joined = (
        rows.append_column("_row", pa.array(range(rows.num_rows), pa.int64()))
        .join(marked, list(POSITION_COLUMNS), join_type="left outer")
        .filter(pc.is_null(pc.field("_quarantined")))
    )
    keep = pc.sort_indices(joined["_row"])
    return rows.take(joined["_row"].take(keep))


def _flag_batch(settings: Settings, record: dict[str, Any]) -> None:
    """Append one row to `<lake>/quarantine/_flagged_batches` (a failed table's batch)."""
    import pyarrow as pa
    from deltalake import write_deltalake

    schema = pa.schema(
        [
            ("run_id", pa.string()),
            ("layer", pa.string()),
            ("table_name", pa.string()),
            ("checked_at", pa.timestamp("us", tz="UTC")),
            ("rows_checked", pa.int64()),
            ("rows_quarantined", pa.int64()),
            ("failed_expectations", pa.string()),
            ("max_ingested_at", pa.timestamp("us", tz="UTC")),
            ("publish", pa.bool_()),
        ]
    )
    write_deltalake(
        quarantine_path(settings, FLAGGED_BATCHES_TABLE),
        pa.Table.from_pylist([record], schema=schema),
        mode="append",
        storage_options=delta_storage_options(settings),
    )


# ------------------------------------------------------------------------------------ the gate


def run_checkpoint(
    settings: Settings,
    layer: str,
    tables: list[str] | None = None,
    *,
    gold_schema: str = "gold",
    target: str = "duckdb",
) -> dict:
    """Validate `layer`'s tables; return the run summary with `publish` and per-table results.

    Per table: success, failed_expectations (check names), failed_reasons (check -> the
    suite's `meta.reason`), rows_checked, rows_quarantined, suite, statistics. `publish` is
    False when any table fails. Gold tables are read from `gold_schema` on `target`.
    """
    config = load_checkpoint_config(layer)
    reader = _GoldReader(settings, gold_schema, target) if layer == "gold" else None
    names = list(tables) if tables is not None else list(config["tables"])
    now = datetime.now(UTC)
    checked_at = now.replace(microsecond=now.microsecond // 1000 * 1000)
    now_ms = int(checked_at.timestamp() * 1000)
    run_id = f"{layer}-{checked_at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    suites = {name: load_suite(f"{layer}.{name}") for name in names}
    context = _context(settings)
    summary: dict[str, Any] = {}
    for name in names:
        started = time.perf_counter()
        suite = suites[name]
        arrow = _bronze_table(settings, name) if layer == "bronze" else None
        if arrow is not None and config.get("quarantine"):
            arrow = exclude_quarantined(arrow, quarantined_positions(settings, name))
        frame = (
            (arrow.to_pandas() if arrow is not None else None)
            if layer == "bronze"
            else reader.table(name)
        )
        entry: dict[str, Any] = {"suite": f"{layer}.{name}", "checked_at": checked_at.isoformat()}
        if reader is not None:
            entry["schema"] = gold_schema
        if frame is None:
            entry.update(
                success=False,
                failed_expectations=[MISSING_TABLE_CHECK],
                failed_reasons={
                    MISSING_TABLE_CHECK: f"no table {gold_schema if reader else layer}.{name}"
                },
                rows_checked=0,
                rows_quarantined=0,
                statistics={},
            )
        else:
            frame = frame.reset_index(drop=True)
            parameters = _parameters(settings, suite_parameters(suite), now_ms, reader)
            validation = _validate(
                context, layer, name, frame, suite, parameters, config["result_format"]
            )
            failed, reasons = _failures(validation)
            quarantined = 0
            if layer == "bronze" and config.get("quarantine"):
                if reasons:
                    quarantined = _quarantine(settings, name, arrow, reasons, run_id, checked_at)
            entry.update(
                success=bool(validation.success),
                failed_expectations=list(failed),
                failed_reasons=failed,
                rows_checked=len(frame),
                rows_quarantined=quarantined,
                statistics=dict(validation.statistics),
            )
            if not validation.success and layer == "bronze":
                ingested = frame["_ingested_at"].max() if "_ingested_at" in frame else None
                _flag_batch(
                    settings,
                    {
                        "run_id": run_id,
                        "layer": layer,
                        "table_name": name,
                        "checked_at": checked_at,
                        "rows_checked": len(frame),
                        "rows_quarantined": quarantined,
                        "failed_expectations": ",".join(failed),
                        "max_ingested_at": None if ingested is None else ingested.to_pydatetime(),
                        "publish": False,
                    },
                )
        entry["seconds"] = round(time.perf_counter() - started, 3)
        summary[name] = entry
    success = all(entry["success"] for entry in summary.values())
    result = {
        "run_id": run_id,
        "layer": layer,
        "checked_at": checked_at.isoformat(),
        "success": success,
        "publish": success,
        "data_docs": str(data_docs_dir(settings) / "index.html"),
        "tables": summary,
    }
    _save(settings, result)
    return result


def _save(settings: Settings, result: dict[str, Any]) -> None:
    """Keep the run under `<cache>/run/quality/runs/` and merge it into `latest.json`."""
    folder = results_dir(settings)
    (folder / "runs").mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, ensure_ascii=False, default=str)
    (folder / "runs" / f"{result['run_id']}.json").write_text(text, encoding="utf-8")
    latest = latest_results(settings)
    for table, entry in result["tables"].items():
        latest[f"{result['layer']}.{table}"] = {**entry, "run_id": result["run_id"]}
    (folder / "latest.json").write_text(
        json.dumps(latest, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m pipelines.lake.quality <layer> [table ...]`; exit 1 when publish is false."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in LAYERS:
        print(f"usage: python -m pipelines.lake.quality {{{'|'.join(LAYERS)}}} [table ...]")
        return 2
    result = run_checkpoint(get_settings(), args[0], args[1:] or None)
    for table, entry in result["tables"].items():
        state = "ok" if entry["success"] else "FAILED " + ", ".join(entry["failed_expectations"])
        print(f"{args[0]}.{table}: {entry['rows_checked']} rows, {state}")
    print(f"publish: {str(result['publish']).lower()}; data docs: {result['data_docs']}")
    return 0 if result["publish"] else 1


if __name__ == "__main__":
    sys.exit(main())
