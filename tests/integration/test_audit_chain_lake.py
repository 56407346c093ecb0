"""Tamper-evident alarm.audit in the lake: the bronze job lands the chained records from the real
broker, `hazchem audit verify --lake` passes; after one bronze row is edited (Spark SQL UPDATE on
the Delta table) it fails naming that row."""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from pipelines.kafka_client import client_config

pytestmark = pytest.mark.integration
T0 = 1_800_000_000_000


def _audit_records() -> list[dict]:
    """Real alarm.audit records: four operator actions on two tags through the alarm rules."""
    from pipelines.alarms.processor import plant_processors
    from pipelines.alarms.stream import ArrivalEvaluator, BucketState

    configs, contexts = plant_processors()
    ev, state = ArrivalEvaluator(configs, contexts, clock_lag_ms=0), BucketState()
    out = []
    for n, (tag, action) in enumerate(
        [("GD-TF10", "shelve"), ("PI-R101-OUT", "comment"), ("GD-TF10", "unshelve"),
         ("GD-TF10", "comment")]
    ):  # fmt: skip
        raw = {
            "action_id": f"a{n}-{uuid.uuid4().hex[:6]}", "tag": tag, "condition": "H",
            "action": action, "actor": "operator-3", "reason": "recalibration",
            "shelve_duration_s": 600, "comment": f"note {n}", "action_time_ms": T0 + n,
        }  # fmt: skip
        out += ev.action(state, tag, json.dumps(raw), 1)
    return [r.record for r in out if r.topic == "alarm.audit"]


def test_verify_lake_passes_on_landed_audit_and_names_an_edited_bronze_row(
    kafka, fresh_topics, tmp_path, monkeypatch
):
    """GIVEN four chained alarm.audit records on a fresh topic, landed in bronze by the bronze
    job WHEN verify --lake THEN intact (4 records, 2 keys); WHEN the `actor` of the row at offset
    2 is updated in the Delta table THEN verify --lake exits 1 naming that row and column."""
    from confluent_kafka import Producer

    from batch_jobs.bronze_ingest import run
    from pipelines.cli import app
    from pipelines.lake.bronze_schema import bronze_spec
    from pipelines.security import audit_cli
    from pipelines.services.spark import spark_session

    spec = fresh_topics("alarm.audit", partitions=1)["alarm.audit"]
    records = _audit_records()
    assert len(records) == 4
    producer = Producer(client_config(kafka, "alarms-job", log_level=0))
    for r in records:
        producer.produce(spec.name, key=r["tag"].encode(), value=json.dumps(r).encode())
    assert producer.flush(10) == 0

    lake = kafka.lake.model_copy(
        update={"root": str(tmp_path / "lake"), "checkpoint_root": str(tmp_path / "checkpoints")}
    )
    settings = kafka.model_copy(update={"lake": lake})
    monkeypatch.setattr(audit_cli, "get_settings", lambda: settings)
    spark = spark_session(settings, "test-audit-chain-lake")
    try:
        landed = run(settings, [bronze_spec(spec, table="alarm_audit")], spark=spark)
        assert landed == {"alarm_audit": 4}
        runner = CliRunner()
        verify = ["audit", "verify", "--lake", "--stream", "alarm.audit"]
        result = runner.invoke(app, verify)
        assert result.exit_code == 0, result.output
        assert result.stdout == "alarm.audit (lake): 4 records, 2 keys, chain intact\n"

        path = f"{lake.root}/bronze/alarm_audit"
        spark.sql(f"UPDATE delta.`{path}` SET actor = 'someone-else' WHERE _offset = 2")
        result = runner.invoke(app, verify)
    finally:
        spark.stop()
    assert result.exit_code == 1
    assert result.stderr == (
        "error: alarm.audit (lake): chain broken at bronze.alarm_audit row partition 0 offset 2 "
        "(key GD-TF10): column 'actor' differs from the chained record (edited)\n"
    )
