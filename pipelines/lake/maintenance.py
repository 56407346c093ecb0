"""Delta maintenance of the bronze tables: retention deletes, small-file compaction, vacuum.

`maintain_table(path, retention_days, today)` deletes rows whose `event_date` is older than the
retention, compacts small files (`optimize.compact()`) and vacuums files no longer referenced that
are older than `vacuum_retention_hours`. `maintain_bronze(settings)` does it for every table under
`<lake>/bronze`: monitoring records are kept 30 days, permit records (`work_*` tables, 作业票) one
year, audit, alarm, action and case records 180 days (等保 2.0 三级, docs/security.md), and the
tables of compacted (current-state) topics — certificates, equipment, tags, `*.current` — are never
deleted by retention: their latest state may be years old (docs/lakehouse.md).
`publish_marker(settings, run_id)` writes `<lake>/_published` after an hourly curation run (row
counts of bronze and gold) for downstream consumers.

    python -m pipelines.lake.maintenance                   # every bronze table, one JSON line each
    python -m pipelines.lake.maintenance --dry-run         # report only
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pipelines.lake.bronze_schema import PARTITION_COLUMN
from pipelines.lake.storage import (
    arrow_filesystem,
    delta_storage_options,
    delta_tables,
    is_s3,
    join,
)
from pipelines.settings import Settings, get_settings

MONITORING_RETENTION_DAYS = 30  # readings, alarms, video, positions, …: ≥ 30 days
PERMIT_RETENTION_DAYS = 366  # work permits and gas analyses (`work_*`): ≥ 1 year (leap-safe)
PERMIT_TABLE_PREFIX = "work_"
AUDIT_RETENTION_DAYS = 180  # audit, alarm, action and case records: ≥ 180 days (等保 2.0 三级)
# Bronze tables of the audit, alarm, action and case topics (their `_dlq` tables alike).
AUDIT_TABLES = frozenset(
    {
        "alarm_audit",
        "alarms",
        "alarm_actions",
        "alarm_notifications",
        "cases",
        "case_actions",
        "case_notifications",
        "security_audit",
    }
)
VACUUM_RETENTION_HOURS = 168  # unreferenced files stay a week: readers and time travel keep going
BRONZE_DIR = "bronze"
PUBLISHED_MARKER = "_published"


@dataclass(frozen=True)
class TableMaintenance:
    """What maintenance did to one Delta table."""

    table: str
    retention_days: int | None  # None: a current-state table, kept whole
    cutoff: str | None  # rows with event_date < cutoff were deleted (None: nothing is)
    rows_deleted: int
    files_removed: int  # by compaction
    files_added: int  # by compaction
    files_vacuumed: int
    dry_run: bool


def current_state_tables() -> frozenset[str]:
    """Return the bronze tables of compacted topics (latest state per key: never time-deleted)."""
    from pipelines.lake.bronze_schema import table_name
    from pipelines.topics import load_topics

    return frozenset(
        table_name(t.name) for t in load_topics() if "compact" in t.cleanup_policy and not t.is_dlq
    )


def retention_days(table: str, current_state: frozenset[str] | None = None) -> int | None:
    """Return the days a bronze table keeps its rows, or None when it is kept whole.

    Current-state tables (`current_state`, default: those of compacted topics) are kept whole;
    permit tables one year; audit, alarm, action and case tables 180 days; others 30 days.
    """
    if table in (current_state_tables() if current_state is None else current_state):
        return None
    if table.startswith(PERMIT_TABLE_PREFIX):
        return PERMIT_RETENTION_DAYS
    if table.removesuffix("_dlq") in AUDIT_TABLES:
        return AUDIT_RETENTION_DAYS
    return MONITORING_RETENTION_DAYS


def cutoff_date(today: date, days: int) -> date:
    """Return the oldest `event_date` kept when `days` of history are retained as of `today`."""
    return today - timedelta(days=days)


def maintain_table(
    path: str,
    retention: int | None,
    today: date | None = None,
    *,
    vacuum_retention_hours: int = VACUUM_RETENTION_HOURS,
    dry_run: bool = False,
    storage_options: Mapping[str, str] | None = None,
) -> TableMaintenance:
    """Delete rows older than `retention` days (None: none), compact small files and vacuum one
    Delta table."""
    from deltalake import DeltaTable

    today = today or datetime.now(UTC).date()
    cutoff = None if retention is None else cutoff_date(today, retention)
    options = dict(storage_options) if storage_options else None
    table = DeltaTable(path, storage_options=options)
    name = path.rstrip("/").rsplit("/", 1)[-1]
    shown = None if cutoff is None else cutoff.isoformat()
    if dry_run:
        old = 0 if cutoff is None else _rows_before(table, cutoff)
        vacuumable = table.vacuum(
            retention_hours=vacuum_retention_hours, dry_run=True, enforce_retention_duration=False
        )
        return TableMaintenance(name, retention, shown, old, 0, 0, len(vacuumable), True)
    deleted = 0
    if cutoff is not None and _rows_before(table, cutoff):
        predicate = f"{PARTITION_COLUMN} < '{cutoff.isoformat()}'"
        deleted = int(table.delete(predicate).get("num_deleted_rows", 0) or 0)
    metrics = table.optimize.compact()
    vacuumed = table.vacuum(
        retention_hours=vacuum_retention_hours, dry_run=False, enforce_retention_duration=False
    )
    return TableMaintenance(
        table=name,
        retention_days=retention,
        cutoff=shown,
        rows_deleted=deleted,
        files_removed=int(metrics.get("numFilesRemoved", 0) or 0),
        files_added=int(metrics.get("numFilesAdded", 0) or 0),
        files_vacuumed=len(vacuumed),
        dry_run=False,
    )


def _rows_before(table: Any, cutoff: date) -> int:
    """Return the rows with `event_date` before `cutoff`, from the Delta log's file statistics."""
    import pyarrow as pa

    actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
    column = f"partition.{PARTITION_COLUMN}"
    total = 0
    for action in actions:
        day = action.get(column)
        if day is None:
            continue
        if isinstance(day, str):
            day = date.fromisoformat(day)
        if day < cutoff:
            total += int(action.get("num_records") or 0)
    return total


def bronze_tables(settings: Settings) -> dict[str, str]:
    """Return {table: location} of every Delta table under `<lake root>/bronze`."""
    return delta_tables(settings, join(settings.lake.root, BRONZE_DIR))


def maintain_bronze(
    settings: Settings,
    today: date | None = None,
    *,
    tables: Sequence[str] | None = None,
    vacuum_retention_hours: int = VACUUM_RETENTION_HOURS,
    dry_run: bool = False,
) -> list[TableMaintenance]:
    """Maintain every bronze table (or the named ones) with its retention; return the reports."""
    found = bronze_tables(settings)
    names = list(found) if tables is None else list(tables)
    missing = [n for n in names if n not in found]
    if missing:
        raise ValueError(f"no bronze table(s) {', '.join(missing)} under {settings.lake.root}")
    current = current_state_tables()
    return [
        maintain_table(
            found[name],
            retention_days(name, current),
            today,
            vacuum_retention_hours=vacuum_retention_hours,
            dry_run=dry_run,
            storage_options=delta_storage_options(settings),
        )
        for name in names
    ]


def lake_counts(settings: Settings) -> dict[str, dict[str, int]]:
    """Return row counts: bronze tables (Delta log statistics) and the published gold of the
    DuckDB file (the `gold` views over the build that passed the gate)."""
    from deltalake import DeltaTable

    options = delta_storage_options(settings)
    bronze = {
        name: DeltaTable(path, storage_options=options).count()
        for name, path in bronze_tables(settings).items()
    }
    gold: dict[str, int] = {}
    duckdb_path = Path(settings.lake.duckdb_path)
    if duckdb_path.exists():
        import duckdb

        with duckdb.connect(str(duckdb_path), read_only=True) as con:
            names = con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'gold' and table_type in ('BASE TABLE', 'VIEW') order by 1"
            ).fetchall()
            for (name,) in names:
                gold[name] = int(con.execute(f'select count(*) from gold."{name}"').fetchone()[0])
    return {"bronze": bronze, "gold": gold}


def publish_marker(settings: Settings, run_id: str) -> dict[str, Any]:
    """Write `<lake>/_published` (JSON: run id, time, row counts) and return what was written."""
    marker = {
        "run_id": run_id,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "counts": lake_counts(settings),
    }
    text = json.dumps(marker, indent=2, sort_keys=True) + "\n"
    if is_s3(settings.lake.root):  # one PUT: an object appears whole
        filesystem, path = arrow_filesystem(settings, join(settings.lake.root, PUBLISHED_MARKER))
        with filesystem.open_output_stream(path) as out:
            out.write(text.encode())
        return marker
    local = Path(str(settings.lake.root)) / PUBLISHED_MARKER
    local.parent.mkdir(parents=True, exist_ok=True)
    tmp = local.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(local)
    return marker


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: maintain bronze tables; print one JSON line per table; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.lake.maintenance",
        description="Retention deletes, compaction and vacuum of the bronze Delta tables.",
    )
    parser.add_argument("--tables", help="comma-separated bronze tables (default: all)")
    parser.add_argument("--dry-run", action="store_true", help="report only, change nothing")
    parser.add_argument(
        "--vacuum-retention-hours",
        type=int,
        default=VACUUM_RETENTION_HOURS,
        help=f"keep unreferenced files this long (default: {VACUUM_RETENTION_HOURS})",
    )
    parser.add_argument("--today", help="reference date YYYY-MM-DD (default: today, UTC)")
    args = parser.parse_args(argv)
    tables = [t.strip() for t in args.tables.split(",") if t.strip()] if args.tables else None
    today = date.fromisoformat(args.today) if args.today else None
    try:
        reports = maintain_bronze(
            get_settings(),
            today,
            tables=tables,
            vacuum_retention_hours=args.vacuum_retention_hours,
            dry_run=args.dry_run,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for report in reports:
        print(json.dumps(asdict(report)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
