"""Bronze ingestion with real Spark, Delta and Kafka: exact columns, and exactly-once across a kill.

These tests also prove the jar pairing of infra/spark/pom.xml: pyspark 4.2.0 with the Delta jar
io.delta:delta-spark_4.2_2.13:4.4.0 driven through the Python delta-spark 4.4.1 API.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.lake.bronze_schema import BronzeColumn, BronzeSpec, bronze_spec
from pipelines.settings import PROJECT_ROOT
from pipelines.topics import TopicSpec

pytestmark = pytest.mark.integration

UTC = dt.UTC
DAY_MS = 86_400_000
METADATA = ["_topic", "_partition", "_offset", "_kafka_timestamp", "_key", "_value", "_ingested_at"]
READING_FIELDS = [
    "enterprise_code",
    "hazard_source_code",
    "unit_code",
    "tag",
    "metric_code",
    "value",
    "unit",
    "quality",
    "event_time_ms",
]
ENVELOPE_FIELDS = [
    "source_topic",
    "reason_code",
    "reason",
    "source",
    "key",
    "original_b64",
    "original_text",
    "original_size_bytes",
    "received_at_ms",
]


@pytest.fixture(scope="module")
def spark(settings):
    """One local Spark session (Kafka + Delta jars) for the module, stopped afterwards."""
    from pipelines.services.spark import spark_session

    session = spark_session(settings, "test-bronze-ingest")
    yield session
    session.stop()


@pytest.fixture
def lake_settings(settings, tmp_path):
    """Settings whose lake root and checkpoint root are fresh folders of this test."""
    lake = settings.lake.model_copy(
        update={"root": str(tmp_path / "lake"), "checkpoint_root": str(tmp_path / "checkpoints")}
    )
    return settings.model_copy(update={"lake": lake})


def _kafka_row(value: str | None, offset: int, ts_ms: int, key: str | None = "K", partition=0):
    return (
        key.encode() if key is not None else None,
        value.encode() if value is not None else None,
        "t.readings",
        partition,
        offset,
        dt.datetime.fromtimestamp(ts_ms / 1000, tz=UTC),
        0,
    )


def _kafka_df(spark, rows):
    from pyspark.sql import types as T

    schema = T.StructType(
        [
            T.StructField("key", T.BinaryType()),
            T.StructField("value", T.BinaryType()),
            T.StructField("topic", T.StringType()),
            T.StructField("partition", T.IntegerType()),
            T.StructField("offset", T.LongType()),
            T.StructField("timestamp", T.TimestampType()),
            T.StructField("timestampType", T.IntegerType()),
        ]
    )
    return spark.createDataFrame(rows, schema)


def _reading(i: int, now_ms: int) -> dict:
    """Return reading i: 20 tags, 3 event days, some null values and hazard sources."""
    return {
        "enterprise_code": "E1",
        "hazard_source_code": None if i % 5 == 0 else f"HS-{i % 3}",
        "unit_code": "U1",
        "tag": f"PT-{i % 20}",
        "metric_code": "pressure",
        "value": None if i % 7 == 0 else round(0.001 * i + 0.25, 3),
        "unit": "MPa",
        "quality": "bad" if i % 7 == 0 else "good",
        "event_time_ms": now_ms - (i % 3) * DAY_MS - i,
    }


def _bad_payloads(round_no: int, now_ms: int) -> list[bytes]:
    good = json.dumps(_reading(0, now_ms) | {"tag": f"PT-BAD-{round_no}"}).encode()
    return [
        good[:-3],  # malformed_json
        good.replace(b'"unit": "MPa"', b'"unit": 7'),  # wrong_type
        json.dumps({"tag": f"PT-{round_no}"}).encode(),  # missing_field
    ]


def _end_offsets(settings, topic: str) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    from pipelines.kafka_client import READER_GROUP, client_config

    consumer = Consumer(
        client_config(settings, "cli", **{"group.id": f"{READER_GROUP}t", "log_level": 0})
    )
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in meta.partitions
        }
    finally:
        consumer.close()


def _read_delta(path: str) -> tuple[list[str], list[dict]]:
    """Return (column names, rows) of a Delta table read with the `deltalake` package."""
    from deltalake import DeltaTable

    table = DeltaTable(path).to_pyarrow_table()
    return table.column_names, table.to_pylist()


def _delta_txn_versions(table_dir: Path) -> list[int]:
    """Return the streaming batch ids committed to a Delta table (its `txn` actions)."""
    versions = []
    for commit in sorted((table_dir / "_delta_log").glob("*.json")):
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "txn" in action:
                versions.append(int(action["txn"]["version"]))
    return versions


def test_python_delta_4_4_1_drives_the_delta_4_4_0_jar(spark, settings, tmp_path):
    """GIVEN the Python delta-spark 4.4.1 API on the jars of infra/spark/pom.xml
    WHEN a table is created, appended to, merged into and its history read through that API
    THEN every call works, the commits name Delta-Lake/4.4.0 on Spark 4.2.0, and no fetched jar
    duplicates an artifact pyspark already ships."""
    import importlib.metadata
    import re

    import pyspark
    from delta.tables import DeltaTable

    from pipelines.services.spark import expected_jars

    path = str(tmp_path / "pairing")
    DeltaTable.createIfNotExists(spark).location(path).addColumn("id", "BIGINT").addColumn(
        "name", "STRING"
    ).execute()
    spark.createDataFrame([(1, "a"), (2, "b")], "id bigint, name string").write.format(
        "delta"
    ).mode("append").save(path)
    table = DeltaTable.forPath(spark, path)
    table.alias("t").merge(
        spark.createDataFrame([(2, "B"), (3, "c")], "id bigint, name string").alias("s"),
        "t.id = s.id",
    ).whenMatchedUpdateAll().whenNotMatchedInsertAll().execute()

    assert sorted(tuple(r) for r in table.toDF().collect()) == [(1, "a"), (2, "B"), (3, "c")]
    history = table.history().orderBy("version").collect()
    assert [h.operation for h in history] == ["CREATE TABLE", "WRITE", "MERGE"]
    assert {h.engineInfo for h in history} == {"Apache-Spark/4.2.0 Delta-Lake/4.4.0"}
    assert importlib.metadata.version("delta-spark") == "4.4.1"
    assert pyspark.__version__ == "4.2.0"
    bundled = {
        re.sub(r"-[0-9][^-]*(-[0-9]+)?\.jar$", "", jar.name)
        for jar in (Path(pyspark.__file__).parent / "jars").glob("*.jar")
    }
    fetched = {re.sub(r"-[0-9][^-]*(-[0-9]+)?\.jar$", "", name) for name in expected_jars()}
    assert fetched & bundled == set()
    assert sorted(p.name for p in settings.lake.spark_jars_dir.glob("*.jar")) == sorted(
        expected_jars()
    )


def test_build_maps_kafka_rows_to_the_bronze_columns_exactly(spark):
    """GIVEN Kafka source rows: a full reading, one with nulls and a missing field, one with an
    integer value and an event day before its Kafka day, and a non-JSON value
    WHEN build() runs in batch THEN each bronze row holds the typed fields, the exact metadata and
    the UTC event_date (Kafka day when there is no event time)."""
    from batch_jobs.bronze_ingest import build

    spec = bronze_spec(
        TopicSpec("t.readings", "telemetry/sensor_reading", ("tag",), 1, 1), table="readings"
    )
    kafka_ts = 1_800_000_000_000  # 2027-01-15T08:00:00Z
    full = _reading(1, kafka_ts)
    sparse = {k: v for k, v in _reading(5, kafka_ts).items() if k != "unit"}
    integral = _reading(2, kafka_ts) | {"value": 2, "event_time_ms": kafka_ts - 9 * 3_600_000}
    values = [json.dumps(full), json.dumps(sparse), json.dumps(integral), "not json"]
    rows = [_kafka_row(v, i, kafka_ts + i, partition=1) for i, v in enumerate(values)]
    rows[3] = _kafka_row("not json", 3, kafka_ts - DAY_MS, key=None, partition=1)
    # PySpark returns timestamps as naive datetimes in the Python process's local time zone.
    before = dt.datetime.now() - dt.timedelta(seconds=1)

    out = build(_kafka_df(spark, rows), spec).orderBy("_offset").collect()

    assert out[0].__fields__ == READING_FIELDS + METADATA + ["event_date"]
    got = [r.asDict() for r in out]
    for row in got:
        assert row.pop("_ingested_at") >= before
    kafka_dt = dt.datetime.fromtimestamp(kafka_ts / 1000)
    assert got[0] == full | {
        "_topic": "t.readings",
        "_partition": 1,
        "_offset": 0,
        "_kafka_timestamp": kafka_dt,
        "_key": "K",
        "_value": values[0],
        "event_date": dt.date(2027, 1, 14),  # event time is one day and 1 ms before Kafka's
    }
    assert got[1]["unit"] is None
    assert got[1]["hazard_source_code"] is None
    assert got[1]["value"] == 0.255
    assert (got[2]["value"], got[2]["event_date"]) == (2.0, dt.date(2027, 1, 14))
    assert isinstance(got[2]["value"], float)
    assert {k: v for k, v in got[3].items() if k in READING_FIELDS} == dict.fromkeys(READING_FIELDS)
    assert (got[3]["_key"], got[3]["_value"]) == (None, "not json")
    assert got[3]["event_date"] == dt.date(2027, 1, 14)  # from the Kafka timestamp


def test_build_keeps_objects_and_arrays_as_json_text_and_dates_by_kafka_time(spark):
    """GIVEN a spec with object, array and integer columns and no event-time field
    WHEN build() runs THEN objects/arrays become their JSON text and event_date is the Kafka
    timestamp's UTC date, even one minute before midnight UTC."""
    from batch_jobs.bronze_ingest import build

    spec = BronzeSpec(
        topic="t.misc",
        table="misc",
        record_type=None,
        schema_version=None,
        payload=(
            BronzeColumn("obj", "string"),
            BronzeColumn("arr", "string"),
            BronzeColumn("n", "bigint"),
        ),  # fmt: skip
        event_time_field=None,
    )
    late = int(dt.datetime(2027, 3, 1, 23, 59, tzinfo=UTC).timestamp() * 1000)
    value = '{"obj": {"a": 1, "b": [true, null]}, "arr": ["x", {"y": 2.5}], "n": 7}'

    (row,) = build(_kafka_df(spark, [_kafka_row(value, 0, late)]), spec).collect()

    assert (row.obj, row.arr, row.n) == ('{"a":1,"b":[true,null]}', '["x",{"y":2.5}]', 7)
    assert row.event_date == dt.date(2027, 3, 1)


def test_bronze_is_exactly_once_across_a_kill_and_restart(
    kafka, fresh_topics, spark, lake_settings, tmp_path
):
    """GIVEN 3,000 readings and 3 bad records on fresh topics, ingested available-now, then 6,000
    readings and 3 bad records more
    WHEN the continuous job is SIGKILLed mid-stream, its last Delta-committed batch is made to look
    uncommitted in the checkpoint (the crash window between Delta commit and checkpoint commit),
    and the job is restarted available-now
    THEN bronze/readings holds exactly the topic's records: one row per (partition, offset), every
    offset 0..end-1, typed columns equal to what was produced, and bronze/readings_dlq holds the 6
    dead letters with the envelope's columns."""
    from batch_jobs.bronze_ingest import run
    from pipelines.ingest import IngestProducer, RecordValidator

    topic = fresh_topics("readings")["readings"]
    dlq_topic = TopicSpec(topic.dlq, "ingest/dead_letter", ("source_topic",), 4, 1, is_dlq=True)
    specs = [bronze_spec(topic, table="readings"), bronze_spec(dlq_topic, table="readings_dlq")]
    settings = lake_settings
    validator = RecordValidator(kafka.ingest, topics=[topic])
    producer = IngestProducer(kafka, source="test", validator=validator, ledger_dir=tmp_path)
    now_ms = int(time.time() * 1000)
    n, m = 3_000, 6_000
    produced = [_reading(i, now_ms) for i in range(n + m)]
    bad = _bad_payloads(1, now_ms) + _bad_payloads(2, now_ms)
    for record in produced[:n]:
        producer.submit(topic.name, record=record)
    for raw in bad[:3]:
        producer.submit(topic.name, raw=raw)
    producer.flush()

    first = run(settings, specs, available_now=True, spark=spark, max_offsets_per_trigger=1_000)
    assert first == {"readings": n, "readings_dlq": 3}

    for record in produced[n:]:
        producer.submit(topic.name, record=record)
    for raw in bad[3:]:
        producer.submit(topic.name, raw=raw)
    producer.flush()
    assert producer.counts.accepted[topic.name] == n + m

    table_dir = Path(settings.lake.root) / "bronze" / "readings"
    committed_before_kill = len(_delta_txn_versions(table_dir))
    script = (
        "from batch_jobs.bronze_ingest import run\n"
        "from pipelines.lake.bronze_schema import bronze_spec\n"
        "from pipelines.settings import get_settings\n"
        "from pipelines.topics import TopicSpec\n"
        f"t = TopicSpec({topic.name!r}, 'telemetry/sensor_reading', ('tag',), 4, 1)\n"
        f"d = TopicSpec({topic.dlq!r}, 'ingest/dead_letter', ('source_topic',), 4, 1)\n"
        "specs = [bronze_spec(t, table='readings'), bronze_spec(d, table='readings_dlq')]\n"
        "run(get_settings(), specs, available_now=False, trigger_interval='1 second',\n"
        "    max_offsets_per_trigger=400)\n"
    )
    env = os.environ | {
        "HAZCHEM_LAKE__ROOT": settings.lake.root,
        "HAZCHEM_LAKE__CHECKPOINT_ROOT": settings.lake.checkpoint_root,
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    log = (tmp_path / "continuous.log").open("w")
    job = subprocess.Popen(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log,
        start_new_session=True,  # its own process group: the JVM dies with it
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while len(_delta_txn_versions(table_dir)) < committed_before_kill + 2:
            assert job.poll() is None, (tmp_path / "continuous.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "continuous job committed no batch in 180 s"
            time.sleep(0.2)
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    _, at_kill = _read_delta(str(table_dir))
    assert n < len(at_kill) < n + m, "the kill must land mid-stream"

    # Roll the checkpoint back to "crashed after the Delta commit of the last batch, before the
    # checkpoint commit": the restart must replay that batch and Delta must skip it.
    last_batch = max(_delta_txn_versions(table_dir))
    checkpoint = Path(settings.lake.checkpoint_root) / "readings"
    for kind in ("commits", "offsets"):
        for entry in (checkpoint / kind).iterdir():
            if entry.name.isdigit() and (
                int(entry.name) > last_batch
                or (kind == "commits" and int(entry.name) == last_batch)
            ):
                entry.unlink()
                (entry.parent / f".{entry.name}.crc").unlink(missing_ok=True)
    assert (checkpoint / "offsets" / str(last_batch)).exists()
    assert not (checkpoint / "commits" / str(last_batch)).exists()

    rest = run(settings, specs, available_now=True, spark=spark, max_offsets_per_trigger=5_000)

    ends = _end_offsets(kafka, topic.name)
    assert sum(ends.values()) == n + m
    assert rest["readings"] == n + m - len(at_kill)
    columns, rows = _read_delta(str(table_dir))
    assert columns == READING_FIELDS + METADATA + ["event_date"]
    assert len(rows) == n + m
    positions = {(r["_partition"], r["_offset"]) for r in rows}
    assert len(positions) == len(rows)
    assert positions == {(p, o) for p, end in ends.items() for o in range(end)}
    by_key = {(r["tag"], r["event_time_ms"]): r for r in rows}
    assert len(by_key) == n + m
    for record in produced[::97]:
        row = by_key[(record["tag"], record["event_time_ms"])]
        assert {k: row[k] for k in READING_FIELDS} == record
        assert json.loads(row["_value"]) == record
        assert row["_key"] == record["tag"]
        assert row["_topic"] == topic.name
        day = dt.datetime.fromtimestamp(record["event_time_ms"] / 1000, tz=UTC).date()
        assert row["event_date"] == day
    assert len({r["event_date"] for r in rows}) == 3  # partitioned over three event days
    # The rolled-back batch was executed again (its commit marker is back) but Delta skipped it:
    # no batch id appears twice among the table's transactions.
    assert (checkpoint / "commits" / str(last_batch)).exists()
    txns = _delta_txn_versions(table_dir)
    assert len(txns) == len(set(txns))

    dlq_columns, letters = _read_delta(f"{settings.lake.root}/bronze/readings_dlq")
    assert dlq_columns == ENVELOPE_FIELDS + METADATA + ["event_date"]
    assert sum(_end_offsets(kafka, topic.dlq).values()) == 6
    assert len(letters) == 6
    assert len({(r["_partition"], r["_offset"]) for r in letters}) == 6
    assert sorted(base64.b64decode(r["original_b64"]) for r in letters) == sorted(bad)
    assert sorted(r["reason_code"] for r in letters) == sorted(
        ["malformed_json", "wrong_type", "missing_field"] * 2
    )
    for letter in letters:
        assert letter["source_topic"] == topic.name
        assert letter["source"] == "test"
        assert letter["original_size_bytes"] == len(base64.b64decode(letter["original_b64"]))
        assert json.loads(letter["_value"])["reason"] == letter["reason"]
        assert letter["event_date"] == letter["_kafka_timestamp"].date()


def test_cli_prints_one_json_line_per_declared_table(kafka, fresh_topics, tmp_path):
    """GIVEN a topics file declaring one fresh topic (so also its dlq) holding 5 readings
    WHEN `python -m batch_jobs.bronze_ingest --available-now` runs THEN it exits 0 and prints one
    JSON line per table with the rows written, and a second run writes none."""
    from pipelines.ingest import IngestProducer, RecordValidator

    topic = fresh_topics("readings")["readings"]
    producer = IngestProducer(
        kafka, "test", validator=RecordValidator(kafka.ingest, topics=[topic]), ledger_dir=tmp_path
    )
    now_ms = int(time.time() * 1000)
    for i in range(5):
        producer.submit(topic.name, record=_reading(i, now_ms))
    producer.flush()
    topics_file = tmp_path / "topics.yaml"
    topics_file.write_text(
        f"topics:\n  - name: {topic.name}\n    schema: telemetry/sensor_reading\n"
        "    key: [tag]\n    partitions: 4\n"
    )
    env = os.environ | {
        "HAZCHEM_LAKE__ROOT": str(tmp_path / "lake"),
        "HAZCHEM_LAKE__CHECKPOINT_ROOT": str(tmp_path / "ckpt"),
        "HAZCHEM_KAFKA__TOPICS_FILE": str(topics_file),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    cmd = [sys.executable, "-m", "batch_jobs.bronze_ingest", "--available-now"]
    table = topic.name.replace(".", "_")

    runs = [
        subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
        for _ in range(2)
    ]

    for result, expected in zip(runs, (5, 0), strict=True):
        assert result.returncode == 0, result.stderr[-2000:]
        assert [json.loads(line) for line in result.stdout.splitlines()] == [
            {"table": table, "topic": topic.name, "rows_written": expected},
            {"table": table + "_dlq", "topic": topic.dlq, "rows_written": 0},
        ]
    assert f"bronze {table}: 5 rows written" in runs[0].stderr


def test_cli_unknown_topic_is_a_one_line_error(settings):
    """GIVEN an undeclared topic WHEN the CLI runs THEN exit code 2 and one `error:` line."""
    result = subprocess.run(
        [sys.executable, "-m", "batch_jobs.bronze_ingest", "--topics", "readings,nope"],
        cwd=PROJECT_ROOT,
        env=os.environ | {"PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: unknown topic 'nope' (not in topics.yaml); known: readings,")
