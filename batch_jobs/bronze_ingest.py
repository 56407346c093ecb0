"""Bronze ingestion: every Kafka topic into its append-only Delta table, exactly once.

`build()` is the pure transform from the Kafka source DataFrame to the bronze columns of
docs/lakehouse.md; `run()` attaches one Structured Streaming query per topic (Kafka source from the
earliest offset, Delta sink partitioned by `event_date`, checkpoint `<checkpoint_root>/<table>`).
Exactly-once across restarts comes from the checkpointed Kafka offsets plus the Delta sink's
idempotent commits: a micro-batch replayed after a crash carries the same (query id, batch id)
transaction and Delta skips it if it was already committed.

    python -m batch_jobs.bronze_ingest --available-now            # Airflow: drain and stop
    python -m batch_jobs.bronze_ingest --continuous --topics readings,readings.dlq
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipelines.cli_support import UserError, info
from pipelines.lake.bronze_schema import PARTITION_COLUMN, BronzeSpec, bronze_spec, table_path
from pipelines.schema_registry import SchemaRegistry
from pipelines.settings import Settings, get_settings
from pipelines.topics import load_topics

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

MS_PER_DAY = 86_400_000
DEFAULT_TRIGGER_INTERVAL = "10 seconds"
DEFAULT_MAX_OFFSETS_PER_TRIGGER = 500_000  # bounds one micro-batch's memory on a 1 GB driver
AVAILABLE_NOW_CONCURRENCY = 2  # queries draining at once in available-now mode (2 cores)
_POLL_S = 1.0
PRINCIPAL = "lake"  # its Kafka principal (pipelines/kafka_client.py)
_POLL_CONTINUOUS_S = 2.0  # one status call per query per poll; lighter with 50+ queries


class BronzeIngestFailed(RuntimeError):
    """One or more tables failed; `rows` holds what the others wrote, `failures` why per table."""

    def __init__(self, rows: dict[str, int], failures: dict[str, str]) -> None:
        listed = "; ".join(f"{table}: {why}" for table, why in failures.items())
        super().__init__(f"bronze ingest failed for {len(failures)} table(s): {listed}")
        self.rows = rows
        self.failures = failures


def build(kafka_df: DataFrame, spec: BronzeSpec) -> DataFrame:
    """Return the bronze columns (payload, Kafka metadata, event_date) of Kafka source rows."""
    from pyspark.sql import functions as F

    value = F.col("value").cast("string")
    payload = (
        F.from_json(value, spec.payload_struct()) if spec.payload else F.lit(None).cast("string")
    )
    staged = kafka_df.select(
        payload.alias("__payload"),
        F.col("topic").cast("string").alias("_topic"),
        F.col("partition").cast("int").alias("_partition"),
        F.col("offset").cast("bigint").alias("_offset"),
        F.col("timestamp").cast("timestamp").alias("_kafka_timestamp"),
        F.col("key").cast("string").alias("_key"),
        value.alias("_value"),
        F.current_timestamp().alias("_ingested_at"),
    )
    # Day numbers from epoch milliseconds, so event_date never depends on a session time zone.
    day = F.floor(F.unix_millis(F.col("_kafka_timestamp")) / MS_PER_DAY)
    if spec.event_time_field:
        event_ms = F.col("__payload").getField(spec.event_time_field)
        day = F.coalesce(F.floor(event_ms / MS_PER_DAY), day)
    return staged.select(
        *[F.col("__payload").getField(c.name).alias(c.name) for c in spec.payload],
        "_topic",
        "_partition",
        "_offset",
        "_kafka_timestamp",
        "_key",
        "_value",
        "_ingested_at",
        F.date_from_unix_date(day.cast("int")).alias(PARTITION_COLUMN),
    )


@dataclass
class _Table:
    """One topic's streaming query and what it has written so far."""

    spec: BronzeSpec
    path: str
    checkpoint: str
    start_version: int = -1
    query: StreamingQuery | None = None
    last_batch: int = -1
    error: str | None = None
    rows: int = 0
    done: bool = False
    started_at: float = field(default_factory=time.monotonic)


def resolve_specs(
    settings: Settings, topics: Iterable[str | BronzeSpec] | None = None
) -> list[BronzeSpec]:
    """Return bronze specs for topic names (declared topics) or given specs; None: every topic."""
    declared = {t.name: t for t in load_topics(settings.kafka.topics_file)}
    registry = SchemaRegistry.load()
    if topics is None:
        return [bronze_spec(t, registry) for t in declared.values()]
    specs = []
    for item in topics:
        if isinstance(item, BronzeSpec):
            specs.append(item)
        elif item in declared:
            specs.append(bronze_spec(declared[item], registry))
        else:
            raise UserError(
                f"unknown topic '{item}' (not in {settings.kafka.topics_file.name}); "
                f"known: {', '.join(declared)}"
            )
    return specs


def run(
    settings: Settings,
    topics: Iterable[str | BronzeSpec] | None = None,
    available_now: bool = True,
    *,
    trigger_interval: str = DEFAULT_TRIGGER_INTERVAL,
    max_offsets_per_trigger: int = DEFAULT_MAX_OFFSETS_PER_TRIGGER,
    spark: SparkSession | None = None,
    stop_event: threading.Event | None = None,
    log: Callable[[str], None] = info,
) -> dict[str, int]:
    """Ingest topics into bronze Delta tables; return rows written per table.

    available_now=True drains what the topics hold and returns (Airflow); False keeps one
    query per topic running on a processing-time trigger until SIGTERM/SIGINT or `stop_event`.
    """
    from pipelines.services.spark import spark_session

    specs = resolve_specs(settings, topics)
    own_session = spark is None
    spark = spark or spark_session(settings, "hazchem-bronze-ingest")
    stop = stop_event or threading.Event()
    restore = _install_stop_handlers(stop) if not available_now else {}
    try:
        retained = _retained_records(settings, [spec.topic for spec in specs])
        tables = []
        for spec in specs:
            table = _Table(
                spec,
                table_path(settings.lake.root, spec.table),
                f"{str(settings.lake.checkpoint_root).rstrip('/')}/{spec.table}",
            )
            table.start_version = _ensure_table(spark, table)
            if spec.topic not in retained:
                log(f"bronze {spec.table}: topic '{spec.topic}' is not on the broker; skipped")
                table.done = True
            elif available_now and retained[spec.topic] == 0:
                table.done = True  # nothing to drain: skip the query's start-up cost
            tables.append(table)
        empty = sum(1 for s in specs if retained.get(s.topic) == 0)
        if available_now and empty:
            log(f"bronze: {empty} empty topic(s) skipped (their tables exist, 0 rows)")
        limit = AVAILABLE_NOW_CONCURRENCY if available_now else len(tables)
        _drive(spark, settings, tables, available_now, trigger_interval, max_offsets_per_trigger,
               limit, stop, log)  # fmt: skip
    finally:
        for sig, handler in restore.items():
            signal.signal(sig, handler)
        if own_session:
            spark.stop()
    rows = {t.spec.table: t.rows for t in tables}
    failures = {t.spec.table: t.error for t in tables if t.error}
    if failures:
        raise BronzeIngestFailed(rows, failures)
    return rows


def _drive(
    spark: SparkSession,
    settings: Settings,
    tables: list[_Table],
    available_now: bool,
    trigger_interval: str,
    max_offsets: int,
    limit: int,
    stop: threading.Event,
    log: Callable[[str], None],
) -> None:
    """Start queries (at most `limit` at once), report progress, and finish each table."""
    pending = [t for t in tables if not t.done]
    active: list[_Table] = []
    try:
        while (pending or active) and not stop.is_set():
            while pending and len(active) < limit:
                table = pending.pop(0)
                table.started_at = time.monotonic()
                try:
                    table.query = _start(
                        spark, settings, table, available_now, trigger_interval, max_offsets
                    )
                except Exception as exc:  # noqa: BLE001 - reported per table, others go on
                    table.error = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    table.done = True
                    log(f"bronze {table.spec.table}: FAILED to start: {table.error}")
                    continue
                active.append(table)
            stop.wait(_POLL_S if available_now else _POLL_CONTINUOUS_S)
            for table in list(active):
                running = table.query.isActive  # read first: the report then covers its end
                _report(table, log)
                if not running:
                    _finish(spark, table, log)
                    active.remove(table)
    finally:
        for table in active:  # stopped early (signal, stop_event or an error above)
            table.query.stop()
            _report(table, log)
            _finish(spark, table, log)


def _start(
    spark: SparkSession,
    settings: Settings,
    table: _Table,
    available_now: bool,
    trigger_interval: str,
    max_offsets: int,
) -> StreamingQuery:
    """Start the Kafka -> Delta query of one table."""
    from pipelines.kafka_client import spark_options

    source = (
        spark.readStream.format("kafka")
        .options(**spark_options(settings, PRINCIPAL))
        .option("subscribe", table.spec.topic)
        .option("startingOffsets", "earliest")
        .option("failOnDataLoss", "false")  # retention may delete records before we read them
        .option("maxOffsetsPerTrigger", str(max_offsets))
        .option("groupIdPrefix", "hazchem-bronze")
        # The machine is shared with Flink and Trino: be patient with a slow broker.
        .option("kafka.default.api.timeout.ms", "120000")
        .option("kafka.request.timeout.ms", "60000")
        .load()
    )
    writer = (
        build(source, table.spec)
        .writeStream.format("delta")
        .outputMode("append")
        .partitionBy(PARTITION_COLUMN)
        .option("checkpointLocation", table.checkpoint)
        .option("mergeSchema", "true")  # a new schema version adds columns
        .queryName(f"bronze_{table.spec.table}")
    )
    if available_now:
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=trigger_interval)
    return writer.start(table.path)


def _report(table: _Table, log: Callable[[str], None]) -> None:
    """Log the latest completed micro-batch if it is new and read rows (a progress line)."""
    progress = table.query.lastProgress
    if progress is None or progress.batchId <= table.last_batch:
        return
    table.last_batch = progress.batchId
    if progress.numInputRows:
        rate = progress.processedRowsPerSecond or 0.0
        log(
            f"bronze {table.spec.table}: batch {progress.batchId} "
            f"+{progress.numInputRows} rows ({rate:,.0f} rows/s)"
        )


def _finish(spark: SparkSession, table: _Table, log: Callable[[str], None]) -> None:
    """Record the rows the table gained (from the Delta log) and the query's error, if any."""
    if table.done:
        return
    table.done = True
    exc = table.query.exception() if table.query is not None else None
    if exc is not None:
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        table.error = lines[0]
        log(f"bronze {table.spec.table}: FAILED: {table.error}")
    table.rows = _rows_written(spark, table.path, table.start_version)
    elapsed = time.monotonic() - table.started_at
    log(f"bronze {table.spec.table}: {table.rows} rows written in {elapsed:.1f}s")


def _ensure_table(spark: SparkSession, table: _Table) -> int:
    """Create the (empty, partitioned) Delta table when missing; return its current version."""
    from delta.tables import DeltaTable

    if not DeltaTable.isDeltaTable(spark, table.path):
        (
            DeltaTable.createIfNotExists(spark)
            .location(table.path)
            .addColumns(table.spec.table_struct())
            .partitionedBy(PARTITION_COLUMN)
            .execute()
        )
    return int(DeltaTable.forPath(spark, table.path).history(1).first()["version"])


def _rows_written(spark: SparkSession, path: str, after_version: int) -> int:
    """Return the rows appended by streaming commits newer than `after_version`."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    history = DeltaTable.forPath(spark, path).history()
    total = (
        history.where(F.col("version") > after_version)
        .where(F.col("operation") == "STREAMING UPDATE")
        .select(F.sum(F.col("operationMetrics").getItem("numOutputRows").cast("bigint")))
        .first()[0]
    )
    return int(total or 0)


def _retained_records(settings: Settings, topics: list[str]) -> dict[str, int]:
    """Return the records each topic retains; topics missing on the broker are left out."""
    from pipelines.kafka_stats import topic_record_counts

    try:
        return topic_record_counts(settings, topics, principal=PRINCIPAL)
    except Exception as exc:  # noqa: BLE001 - any failure means the broker is unreachable
        raise UserError(
            f"Kafka at {settings.kafka.bootstrap_servers} is not reachable: {exc}"
        ) from None


def _install_stop_handlers(stop: threading.Event) -> dict[int, object]:
    """Make SIGTERM/SIGINT stop the continuous queries cleanly; return the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    return previous


def bronze_ingest_main(argv: Sequence[str] | None = None) -> int:
    """CLI entry: ingest topics into bronze; print one JSON line per table; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="hazchem lake bronze",
        description="Ingest Kafka topics into the bronze Delta tables (exactly once).",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--available-now",
        dest="available_now",
        action="store_true",
        default=True,
        help="drain what the topics hold now, then stop (default; for Airflow)",
    )
    mode.add_argument(
        "--continuous",
        dest="available_now",
        action="store_false",
        help="keep running on a processing-time trigger until SIGTERM/Ctrl-C",
    )
    parser.add_argument(
        "--topics", help="comma-separated topic names (default: every declared topic incl. dlq)"
    )
    parser.add_argument(
        "--trigger-interval",
        default=DEFAULT_TRIGGER_INTERVAL,
        help=f"micro-batch interval in continuous mode (default: {DEFAULT_TRIGGER_INTERVAL})",
    )
    parser.add_argument(
        "--max-offsets-per-trigger",
        type=int,
        default=DEFAULT_MAX_OFFSETS_PER_TRIGGER,
        help=f"records per micro-batch (default: {DEFAULT_MAX_OFFSETS_PER_TRIGGER})",
    )
    args = parser.parse_args(argv)
    topics = [t.strip() for t in args.topics.split(",") if t.strip()] if args.topics else None
    settings = get_settings()
    try:
        specs = resolve_specs(settings, topics)
        rows = run(
            settings,
            specs,
            available_now=args.available_now,
            trigger_interval=args.trigger_interval,
            max_offsets_per_trigger=args.max_offsets_per_trigger,
        )
    except BronzeIngestFailed as exc:
        _print_rows(specs, exc.rows)
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except UserError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    _print_rows(specs, rows)
    return 0


def _print_rows(specs: list[BronzeSpec], rows: dict[str, int]) -> None:
    """Print one JSON line per table: table, topic and rows written."""
    for spec in specs:
        line = {"table": spec.table, "topic": spec.topic, "rows_written": rows.get(spec.table, 0)}
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    sys.exit(bronze_ingest_main())
