"""The lake on S3: the `cluster` profile's shape, on the local S3-compatible server.

The lake root is an `s3://` URI. The bronze job (Spark, s3a) writes there exactly once; deltalake,
Trino and dbt on both targets read it with the same settings (`pipelines/lake/storage.py`); and,
unlike a local lake, Trino's Delta connector can change tables on S3, so a second `dbt build` on
Trino (incremental delete+insert, snapshot merge) succeeds and agrees with DuckDB's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.lake import storage
from pipelines.lake.dbt_runner import run_dbt
from pipelines.lake.maintenance import lake_counts, maintain_bronze
from pipelines.lake.reference import TABLE_COLUMNS
from pipelines.services import trino as trino_service
from pipelines.settings import PROJECT_ROOT, Settings
from tests.integration.dbt_lake import AS_OF, BATCH_3, LATE_READINGS, at, build_lake, query
from tests.integration.test_dbt_trino import (
    GOLD,
    _drop_schemas,
    _execute,
    _rows,
    _trino_query,
    _trino_rows,
)

pytestmark = pytest.mark.integration


def _s3_settings(settings: Settings, tmp: Path) -> Settings:
    """Settings whose lake root is a fresh bucket on the local S3 server (the rest under tmp)."""
    bucket = f"it-{uuid.uuid4().hex[:10]}"
    lake = settings.lake.model_copy(
        update={
            "root": f"s3://{bucket}/lake",
            "checkpoint_root": str(tmp / "checkpoints"),
            "duckdb_path": tmp / "hazchem.duckdb",
        }
    )
    local = settings.model_copy(update={"lake": lake, "cache_dir": tmp / "cache"})
    from pipelines.services.s3 import ensure_bucket

    ensure_bucket(local, local.lake.root)
    return local


def _env(settings: Settings) -> dict[str, str]:
    """The environment a child process (Airflow's BashOperator, the CLI) gets for this lake."""
    return os.environ | {
        "HAZCHEM_LAKE__ROOT": settings.lake.root,
        "HAZCHEM_LAKE__CHECKPOINT_ROOT": settings.lake.checkpoint_root,
        "HAZCHEM_S3__ENDPOINT": settings.s3.endpoint or "",
        "PYTHONPATH": str(PROJECT_ROOT),
    }


def test_bronze_on_s3_is_exactly_once_and_every_engine_reads_it(
    kafka, s3, trino, fresh_topics, tmp_path
):
    """GIVEN 400 readings and 2 bad records on a fresh topic and an s3:// lake root
    WHEN `python -m batch_jobs.bronze_ingest --available-now` runs twice
    THEN the first run writes 400 rows and 2 dead letters and the second none; deltalake reads
    one row per (partition, offset) with the produced values; the lake's counts agree and stay
    so after maintenance compacts and vacuums the tables in the bucket; Trino
    registers the tables from the bucket and counts the same; and Trino can insert into and
    delete from a table it created on S3 (which it refuses on a local lake)."""
    from pipelines.ingest import IngestProducer, RecordValidator

    settings = _s3_settings(kafka, tmp_path)
    topic = fresh_topics("readings")["readings"]
    producer = IngestProducer(
        kafka, "test", validator=RecordValidator(kafka.ingest, topics=[topic]), ledger_dir=tmp_path
    )
    now_ms = int(time.time() * 1000)
    produced = [
        {
            "enterprise_code": "E1",
            "hazard_source_code": "HS-01",
            "unit_code": "U1",
            "tag": f"PT-{i % 8}",
            "metric_code": "pressure",
            "value": round(0.25 + 0.001 * i, 3),
            "unit": "MPa",
            "quality": "good",
            "event_time_ms": now_ms - i,
        }
        for i in range(400)
    ]
    for record in produced:
        producer.submit(topic.name, record=record)
    producer.submit(topic.name, raw=b'{"tag": "PT-1", "value": ')
    producer.submit(topic.name, raw=json.dumps({"tag": "PT-2"}).encode())
    producer.flush()
    topics_file = tmp_path / "topics.yaml"
    topics_file.write_text(
        f"topics:\n  - name: {topic.name}\n    schema: telemetry/sensor_reading\n"
        "    key: [tag]\n    partitions: 4\n"
    )
    env = _env(settings) | {"HAZCHEM_KAFKA__TOPICS_FILE": str(topics_file)}
    cmd = [sys.executable, "-m", "batch_jobs.bronze_ingest", "--available-now"]
    table = topic.name.replace(".", "_")

    runs = [
        subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
        for _ in range(2)
    ]

    for result, (rows, letters) in zip(runs, ((400, 2), (0, 0)), strict=True):
        assert result.returncode == 0, result.stderr[-3000:]
        assert [json.loads(line) for line in result.stdout.splitlines()] == [
            {"table": table, "topic": topic.name, "rows_written": rows},
            {"table": table + "_dlq", "topic": topic.dlq, "rows_written": letters},
        ]
    bronze = storage.join(settings.lake.root, "bronze")
    assert storage.delta_tables(settings, bronze) == {
        table: f"{bronze}/{table}",
        table + "_dlq": f"{bronze}/{table}_dlq",
    }
    landed = storage.read_delta(settings, f"{bronze}/{table}").to_pylist()
    assert len(landed) == 400
    assert len({(r["_partition"], r["_offset"]) for r in landed}) == 400
    by_key = {(r["tag"], r["event_time_ms"]): r["value"] for r in landed}
    assert by_key == {(p["tag"], p["event_time_ms"]): p["value"] for p in produced}
    letters = storage.read_delta(settings, f"{bronze}/{table}_dlq", ["reason_code"]).to_pylist()
    assert sorted(r["reason_code"] for r in letters) == ["malformed_json", "missing_field"]
    assert lake_counts(settings)["bronze"] == {table: 400, table + "_dlq": 2}
    # maintenance (delete by retention, compact, vacuum) works on the bucket and keeps every row
    reports = {r.table: r for r in maintain_bronze(settings, vacuum_retention_hours=0)}
    assert sorted(reports) == [table, table + "_dlq"]
    for report in reports.values():
        assert report.rows_deleted == 0
        assert report.files_vacuumed == report.files_removed
    assert reports[table].files_removed > 1 and reports[table].files_added >= 1
    assert lake_counts(settings)["bronze"] == {table: 400, table + "_dlq": 2}
    assert len(storage.read_delta(settings, f"{bronze}/{table}", ["_offset"])) == 400

    suffix = f"_s3{uuid.uuid4().hex[:8]}"
    schema = f"bronze{suffix}"
    catalog = settings.trino.catalog
    try:
        added = trino_service.register_delta_tables(
            settings, schema, storage.delta_tables(settings, bronze)
        )
        assert sorted(added) == [table, table + "_dlq"]
        assert _execute(
            settings, f"SELECT count(*), count(DISTINCT tag) FROM {catalog}.{schema}.{table}"
        ) == [[400, 8]]
        _execute(
            settings,
            f"CREATE TABLE {catalog}.{schema}.per_tag AS "
            f"SELECT tag, count(*) AS n FROM {catalog}.{schema}.{table} GROUP BY tag",
        )
        _execute(settings, f"INSERT INTO {catalog}.{schema}.per_tag VALUES ('PT-X', 1)")
        _execute(settings, f"DELETE FROM {catalog}.{schema}.per_tag WHERE tag = 'PT-0'")
        assert _execute(settings, f"SELECT count(*), sum(n) FROM {catalog}.{schema}.per_tag") == [
            [8, 351]
        ]
        written = storage.delta_tables(settings, storage.join(settings.lake.root, schema))
        # Trino wrote the table into the bucket (in a folder named per_tag-<uuid>)
        assert [name.split("-")[0] for name in written] == ["per_tag"]
    finally:
        _drop_schemas(settings, suffix)


@pytest.fixture(scope="module")
def s3_dbt(trino: Settings, s3: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """The dbt fixture lake in a bucket, built twice by dbt on Trino and on DuckDB: the second
    build after a late batch of readings landed in bronze."""
    local = _s3_settings(trino, tmp_path_factory.mktemp("s3_dbt"))
    lake = build_lake(local.lake.root, storage.delta_storage_options(local))
    suffix = f"_s3{uuid.uuid4().hex[:8]}"
    catalog = local.trino.catalog
    root = local.lake.root
    trino_service.register_delta_tables(
        local, f"bronze{suffix}", storage.delta_tables(local, f"{root}/bronze")
    )
    trino_service.register_delta_tables(
        local, f"reference{suffix}", {t: f"{root}/reference/{t}" for t in TABLE_COLUMNS}
    )
    for layer in ("silver", "gold"):
        _execute(
            local,
            f"CREATE SCHEMA IF NOT EXISTS {catalog}.{layer}{suffix} "
            f"WITH (location = '{root}/{layer}{suffix}')",
        )
    args = ["build", "--vars", json.dumps({"as_of": AS_OF})]
    codes: dict[str, list[int]] = {"trino": [], "duckdb": []}
    try:
        for late in (False, True):
            if late:
                for partition in range(lake.topics["readings"].partitions):
                    lake.offsets[("readings", partition)] = 10_000  # past every offset used
                lake.append("readings", LATE_READINGS, BATCH_3)
            with pytest.MonkeyPatch.context() as env:
                env.setenv("HAZCHEM_DBT__SCHEMA_SUFFIX", suffix)
                env.setenv("HAZCHEM_DBT__SOURCE_SCHEMA_SUFFIX", suffix)
                codes["trino"].append(run_dbt(local, args, target="trino"))
            codes["duckdb"].append(run_dbt(local, args, target="duckdb"))
        yield {"settings": local, "suffix": suffix, "codes": codes}
    finally:
        _drop_schemas(local, suffix)


def test_dbt_builds_twice_on_trino_over_s3_like_duckdb(s3_dbt: dict) -> None:
    """GIVEN the fixture lake in a bucket WHEN `dbt build` runs on Trino and DuckDB, then again
    after two late readings landed THEN every build succeeds (Trino commits the incremental
    delete+insert and the snapshot merge on S3); the late readings' minute holds them; and
    every gold table is identical on both targets."""
    settings, suffix = s3_dbt["settings"], s3_dbt["suffix"]
    assert s3_dbt["codes"] == {"trino": [0, 0], "duckdb": [0, 0]}
    catalog = settings.trino.catalog
    minute = (
        "SELECT reading_count, good_count, value_min, value_max, value_avg, value_last "
        "FROM {relation} WHERE tag = 'LI-501' AND minute_start_ms = "
        f"{at(2, '08:00:00')}"
    )
    expected = [{"reading_count": 4, "good_count": 3, "value_min": 5.5, "value_max": 6.5,
                 "value_avg": 6.0, "value_last": 5.5}]  # fmt: skip
    duck_relation = "gold.fct_readings_1min"
    assert query(settings.lake.duckdb_path, minute.format(relation=duck_relation)) == expected
    trino_relation = f"{catalog}.gold{suffix}.fct_readings_1min"
    assert _trino_query(settings, minute.format(relation=trino_relation)) == expected
    for model in GOLD:
        duck = _rows(query(settings.lake.duckdb_path, f"SELECT * FROM gold.{model}"))
        trino_rows = _rows(_trino_rows(settings, f"{catalog}.gold{suffix}.{model}"))
        assert trino_rows == duck, model
